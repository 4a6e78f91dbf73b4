#include "load/stats.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

namespace billing::bench {
namespace {

TEST(NearestRankTest, PicksASampleNeverAnInterpolation) {
  std::vector<int64_t> v(100);
  std::iota(v.begin(), v.end(), 1);  // 1..100
  EXPECT_EQ(NearestRank(v, 50), 50);
  EXPECT_EQ(NearestRank(v, 99), 99);
  EXPECT_EQ(NearestRank(v, 100), 100);
  EXPECT_EQ(NearestRank(v, 0.1), 1);
  EXPECT_EQ(NearestRank({7}, 99), 7);
  EXPECT_EQ(NearestRank({}, 50), 0);
  // 3 samples: p50 is the 2nd, p90 and p99 the 3rd.
  EXPECT_EQ(NearestRank({10, 20, 30}, 50), 20);
  EXPECT_EQ(NearestRank({10, 20, 30}, 90), 30);
}

TEST(SummarizeTest, SortsAndReportsMilliseconds) {
  // Unsorted nanoseconds: 1 ms x 98, then one 5 ms and one 40 ms outlier.
  std::vector<int64_t> v(98, 1'000'000);
  v.insert(v.begin() + 10, 40'000'000);
  v.insert(v.begin() + 3, 5'000'000);
  const auto s = Summarize(v);
  EXPECT_EQ(s.count, 100);
  EXPECT_DOUBLE_EQ(s.p50_ms, 1.0);
  EXPECT_DOUBLE_EQ(s.p90_ms, 1.0);
  EXPECT_DOUBLE_EQ(s.p99_ms, 5.0);
  EXPECT_DOUBLE_EQ(s.max_ms, 40.0);
  EXPECT_EQ(Summarize({}).count, 0);
}

}  // namespace
}  // namespace billing::bench
