-- wrk script: PUT the three-contact set to a random one of the BENCH_PROPERTIES properties, a
-- different set every request: the first contact's name is "Sarah Jansen <n>" with a random
-- 18-digit n (wrk_common.lua's set_variant), so the fingerprint never equals the stored set's and
-- every request is a real replace (an identical set would store nothing).
dofile(os.getenv("BENCH_DIR") .. "/wrk_common.lua")
local properties = tonumber(env("BENCH_PROPERTIES"))
local head, tail = split_set(read_file("contact_set.json"))
wrk.method = "PUT"
wrk.headers["Content-Type"] = "application/json"

request = function()
  local path = "/contacts-api/properties/bp" .. math.random(1, properties) .. "/contacts"
  return wrk.format(nil, path, nil, head .. set_variant() .. tail)
end
