-- wrk script: PUT the three-contact set to a random one of the BENCH_PROPERTIES properties.
dofile(os.getenv("BENCH_DIR") .. "/wrk_common.lua")
local properties = tonumber(env("BENCH_PROPERTIES"))
wrk.method = "PUT"
wrk.body = read_file("contact_set.json")
wrk.headers["Content-Type"] = "application/json"

request = function()
  return wrk.format(nil, "/contacts-api/properties/bp" .. math.random(1, properties) .. "/contacts")
end
