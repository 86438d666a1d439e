-- wrk script: customers GET (/api/v1/customers/{id}/contacts) of a random seeded customer.
dofile(os.getenv("BENCH_DIR") .. "/wrk_common.lua")
local customers = tonumber(env("BENCH_CUSTOMERS"))
wrk.method = "GET"

request = function()
  return wrk.format(nil, "/api/v1/customers/cust" .. math.random(1, customers) .. "/contacts")
end
