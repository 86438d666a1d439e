-- wrk script: a change-feed page (GET /api/v1/changes?limit=100, read scope): the tenant's first 100
-- events in feed order, no cursor. run.sh checks before the first point that the page is full (the
-- seeding writes some 9 000 events; more are written when it wrote too few).
dofile(os.getenv("BENCH_DIR") .. "/wrk_common.lua")
wrk.method = "GET"
wrk.path = "/api/v1/changes?limit=100"
