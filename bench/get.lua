-- wrk script: GET the contact set of a random one of the BENCH_PROPERTIES properties.
local properties = tonumber(os.getenv("BENCH_PROPERTIES"))
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY")

request = function()
  return wrk.format(nil, "/contacts-api/properties/bp" .. math.random(1, properties) .. "/contacts")
end
