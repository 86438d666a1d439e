-- wrk script: SU set (POST /SUAPI/jservice/bdc/property/contact/set) of the three-contact set on a
-- random one of the BENCH_PROPERTIES properties; property bp<i> is mapped to booking listing bk<i>.
-- A different set every request, as in put.lua (the first contact's name carries a random number),
-- so every request is a real replace. SU sends the key bare in Authorization, with an app-id.
dofile(os.getenv("BENCH_DIR") .. "/wrk_common.lua")
local properties = tonumber(env("BENCH_PROPERTIES"))
local contacts = assert(read_file("contact_set.json"):match("^%s*{(.*)}%s*$")) -- "contacts":[...]
local head, tail = split_set(contacts)
wrk.method = "POST"
wrk.headers["Authorization"] = env("BENCH_KEY")
wrk.headers["app-id"] = "bench"
wrk.headers["Content-Type"] = "application/json"

request = function()
  local p = math.random(1, properties)
  local body = '{"hotel_id":"bp' .. p .. '","channel_hotel_id":"bk' .. p .. '",' .. head .. set_variant() .. tail .. "}"
  return wrk.format(nil, "/SUAPI/jservice/bdc/property/contact/set", nil, body)
end
