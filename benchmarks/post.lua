-- wrk script: POST one V2 JSON infer request (body from env WRK_BODY_FILE) and print a JSON summary.
local f = assert(io.open(os.getenv("WRK_BODY_FILE"), "r"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "non2xx": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
