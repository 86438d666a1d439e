-- wrk script: CRM list filtered by e-mail (GET /api/v3/contacts?emailAddress=...), the address of a
-- random one of the BENCH_CRM_CONTACTS seeded contacts (guest<i>@bench.example: one match).
dofile(os.getenv("BENCH_DIR") .. "/wrk_common.lua")
local contacts = tonumber(env("BENCH_CRM_CONTACTS"))
wrk.method = "GET"

request = function()
  return wrk.format(nil, "/api/v3/contacts?emailAddress=guest" .. math.random(1, contacts) .. "%40bench.example")
end
