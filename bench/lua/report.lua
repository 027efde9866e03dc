-- wrk: one summary line the benchmark reads back (shared by every script here).
function done(summary, latency, requests)
  io.write(string.format('RESULT {"requests": %d, "seconds": %f, "p50_us": %d, "p99_us": %d, '
    .. '"non_3xx": %d, "errors": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    summary.errors.status, summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout))
end
