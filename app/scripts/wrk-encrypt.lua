-- wrk script: POST /encrypt with the lab's JSON body.
-- Args (after --): name prefix, distinct names per thread. Thread t sends
-- Names <prefix><t>-0 .. <prefix><t>-(n-1) in turn, so a run of enough
-- requests stores every one of them (bench.sh uses that to pre-encrypt).
local thread_count = 0

function setup(thread)
  thread:set("tid", thread_count)
  thread_count = thread_count + 1
end

local prefix, names, counter = "bench-", 10000, 0
local text = string.rep("x", 64)
local headers = { ["Content-Type"] = "application/json" }

function init(args)
  prefix = args[1] or prefix
  names = tonumber(args[2] or names)
end

function request()
  local name = string.format("%s%d-%d", prefix, tid, counter % names)
  counter = counter + 1
  return wrk.format("POST", "/encrypt", headers,
    string.format('{"Name":"%s","Text":"%s"}', name, text))
end
