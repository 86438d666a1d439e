-- Shared by the wrk scripts (loaded with dofile): the environment run.sh exports, and a random seed
-- per wrk thread (unseeded, every thread would draw the same ids in the same order).
function env(name)
  local value = os.getenv(name)
  assert(value, name .. " is not set")
  return value
end

function read_file(name)
  local f = assert(io.open(env("BENCH_DIR") .. "/" .. name))
  local s = f:read("*a")
  f:close()
  return s
end

local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
end

wrk.headers["Authorization"] = "Bearer " .. env("BENCH_KEY")
