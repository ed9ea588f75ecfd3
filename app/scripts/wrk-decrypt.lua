-- wrk script: GET /decrypt with a JSON body, exactly like the lab's curl.
-- Args (after --): key id, name prefix, threads and names per thread used
-- when pre-encrypting with wrk-encrypt.lua. Every request uses the right key.
local key, prefix, threads, names
local headers = { ["Content-Type"] = "application/json" }

function init(args)
  key, prefix = args[1], args[2]
  threads, names = tonumber(args[3]), tonumber(args[4])
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end

function request()
  local name = string.format("%s%d-%d", prefix, math.random(0, threads - 1), math.random(0, names - 1))
  return wrk.format("GET", "/decrypt", headers,
    string.format('{"Name":"%s","Key":"%s"}', name, key))
end
