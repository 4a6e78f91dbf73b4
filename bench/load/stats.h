#pragma once

#include <cstdint>
#include <vector>

namespace billing::bench {

// Latency percentiles of one measured phase, in milliseconds.
struct LatencySummary {
  int64_t count = 0;
  double p50_ms = 0;
  double p90_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
};

// Nearest-rank percentiles (the smallest sample with at least p% of the
// samples at or below it), so p99 of 100 samples is the 99th, never an
// interpolation between two. Sorts its argument.
LatencySummary Summarize(std::vector<int64_t> latencies_ns);

// The nearest-rank p-th percentile (0 < p <= 100) of sorted samples.
int64_t NearestRank(const std::vector<int64_t>& sorted, double p);

}  // namespace billing::bench
