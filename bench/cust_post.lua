-- wrk script: customers POST (/api/v1/customers/{id}/contacts) replacing the billing contact of a
-- random one of the BENCH_CUSTOMERS seeded customers (cust<i>, each with billing and service).
dofile(os.getenv("BENCH_DIR") .. "/wrk_common.lua")
local customers = tonumber(env("BENCH_CUSTOMERS"))
wrk.method = "POST"
wrk.body = read_file("customer_billing.json")
wrk.headers["Content-Type"] = "application/json"

request = function()
  return wrk.format(nil, "/api/v1/customers/cust" .. math.random(1, customers) .. "/contacts")
end
