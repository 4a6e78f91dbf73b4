#include "load/stats.h"

#include <algorithm>
#include <cmath>

namespace billing::bench {

int64_t NearestRank(const std::vector<int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto n = static_cast<double>(sorted.size());
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * n));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

LatencySummary Summarize(std::vector<int64_t> latencies_ns) {
  LatencySummary s;
  if (latencies_ns.empty()) return s;
  std::sort(latencies_ns.begin(), latencies_ns.end());
  const auto ms = [](int64_t ns) { return static_cast<double>(ns) / 1e6; };
  s.count = static_cast<int64_t>(latencies_ns.size());
  s.p50_ms = ms(NearestRank(latencies_ns, 50));
  s.p90_ms = ms(NearestRank(latencies_ns, 90));
  s.p99_ms = ms(NearestRank(latencies_ns, 99));
  s.max_ms = ms(latencies_ns.back());
  return s;
}

}  // namespace billing::bench
