-- wrk script: CRM get by id (GET /api/v3/contacts/{id}) of a random one of the BENCH_CRM_CONTACTS
-- seeded contacts (ids 1..BENCH_CRM_CONTACTS).
dofile(os.getenv("BENCH_DIR") .. "/wrk_common.lua")
local contacts = tonumber(env("BENCH_CRM_CONTACTS"))
wrk.method = "GET"

request = function()
  return wrk.format(nil, "/api/v3/contacts/" .. math.random(1, contacts))
end
