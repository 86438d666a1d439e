-- wrk script: GET the contact set of a random one of the BENCH_PROPERTIES properties.
dofile(os.getenv("BENCH_DIR") .. "/wrk_common.lua")
local properties = tonumber(env("BENCH_PROPERTIES"))
wrk.method = "GET"

request = function()
  return wrk.format(nil, "/contacts-api/properties/bp" .. math.random(1, properties) .. "/contacts")
end
