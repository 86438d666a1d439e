-- wrk script: CRM telephone add (POST /api/v3/contacts/{id}/telephones) to the BENCH_TEL_CONTACTS
-- contacts seeded for it (ids BENCH_TEL_FIRST..), round robin across all wrk threads, so a point of
-- n requests adds ceil(n / BENCH_TEL_CONTACTS) telephones to each; run.sh deletes them before every
-- point, and the collection maximum (20) is never reached while n <= 20 * BENCH_TEL_CONTACTS.
dofile(os.getenv("BENCH_DIR") .. "/wrk_common.lua")
local first = tonumber(env("BENCH_TEL_FIRST"))
local count = tonumber(env("BENCH_TEL_CONTACTS"))
local threads = tonumber(env("BENCH_WRK_THREADS"))
local sent = 0
wrk.method = "POST"
wrk.body = '{"number":"+31 20 123 4567","type":"WORK"}'
wrk.headers["Content-Type"] = "application/json"

request = function()
  local id = first + ((tid or 0) + threads * sent) % count
  sent = sent + 1
  return wrk.format(nil, "/api/v3/contacts/" .. id .. "/telephones")
end
