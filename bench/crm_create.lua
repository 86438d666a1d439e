-- wrk script: CRM create (POST /api/v3/contacts) of a contact with one e-mail, telephone and address,
-- the shape of the seeded contacts (bench/crm_contact.json); its e-mail is not one the list filters.
dofile(os.getenv("BENCH_DIR") .. "/wrk_common.lua")
wrk.method = "POST"
wrk.path = "/api/v3/contacts"
wrk.body = read_file("crm_contact.json"):gsub("@EMAIL@", "new.guest@bench.example")
wrk.headers["Content-Type"] = "application/json"
