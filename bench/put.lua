-- wrk script: PUT the three-contact set to a random one of the BENCH_PROPERTIES properties.
local f = assert(io.open(os.getenv("BENCH_DIR") .. "/contact_set.json"))
local body = f:read("*a")
f:close()
local properties = tonumber(os.getenv("BENCH_PROPERTIES"))
wrk.method = "PUT"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY")

request = function()
  return wrk.format(nil, "/contacts-api/properties/bp" .. math.random(1, properties) .. "/contacts")
end
