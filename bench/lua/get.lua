-- GET a path for wrk with an API key, counting response statuses.
--
--   wrk -t2 -c32 -d10s --latency -s bench/lua/get.lua http://127.0.0.1:PORT -- PATH API_KEY
--
-- Prints "status NNN: count" lines at the end (parsed by bench/_common.py).

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   path, key = args[1], args[2]
   statuses = {}
end

function request()
   return wrk.format("GET", path, { ["x-api-key"] = key })
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
