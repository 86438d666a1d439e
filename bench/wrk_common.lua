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

-- The contact-set body around the first contact's name ("Sarah Jansen"), for a set that differs on
-- every request: head .. set_variant() .. tail.
SET_NAME = "Sarah Jansen"
function split_set(body)
  local from, to = body:find(SET_NAME, 1, true)
  assert(from, "no " .. SET_NAME .. " in the contact set")
  return body:sub(1, to), body:sub(to + 1)
end

-- " <n>": a random 18-digit number (two draws: Lua numbers are doubles), so two requests of a run
-- practically never send the same set to one property.
function set_variant()
  return " " .. math.random(100000000, 999999999) .. math.random(100000000, 999999999)
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
