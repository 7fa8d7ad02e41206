-- POST /api/orders for wrk: rotates API keys and makes every referenceId unique.
--
--   wrk -t2 -c32 -d10s --latency -s bench/lua/orders.lua http://127.0.0.1:PORT \
--       -- KEYS_FILE SKU FACE_VALUE RUN_TOKEN
--
-- KEYS_FILE holds one API key a line (one key: one hot wallet; 100 keys: 100 wallets).
-- referenceId = RUN_TOKEN-<thread>-<counter>, unique across threads and runs.
-- Prints "status NNN: count" lines at the end (parsed by bench/_common.py).

local threads = {}

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

function init(args)
   keys = {}
   local f = assert(io.open(args[1], "r"))
   for line in f:lines() do
      if #line > 0 then keys[#keys + 1] = line end
   end
   f:close()
   sku, face, token = args[2], args[3], args[4]
   counter = 0
   statuses = {}
   prefix = string.format('{"sku":"%s","faceValue":"%s","quantity":1,"referenceId":"%s-%d-', sku, face, token, tid)
end

function request()
   counter = counter + 1
   local key = keys[(counter + tid) % #keys + 1]
   local body = prefix .. counter .. '"}'
   return wrk.format("POST", "/api/orders",
      { ["Content-Type"] = "application/json", ["x-api-key"] = key }, body)
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
   local total = {}
   for _, thread in ipairs(threads) do
      local s = thread:get("statuses")
      for code, n in pairs(s) do total[code] = (total[code] or 0) + n end
   end
   for code, n in pairs(total) do io.write(string.format("status %d: %d\n", code, n)) end
end
