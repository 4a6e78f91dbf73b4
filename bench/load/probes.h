#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace billing::bench {

// What /proc says about a process at one instant.
struct ProcessSample {
  double cpu_seconds = 0;  // user + system, since the process started
  int64_t rss_kb = 0;      // VmRSS
  int64_t peak_rss_kb = 0; // VmHWM: the high-water mark of RSS
};

std::optional<ProcessSample> SampleProcess(int pid);

// CPU seconds of a process plus its live children: PostgreSQL's postmaster
// and its backends, whose time is otherwise counted only once they exit.
double TreeCpuSeconds(int pid);

// The cluster's next transaction id. Only transactions that write get one,
// so the difference between two readings counts write transactions (commits
// that reach the WAL, plus the rare abort) across every database.
// Throws std::runtime_error when the database cannot be asked.
int64_t NextTransactionId(const std::string& database_url);

// Regular files whose names end in suffix, directly under dir (0 if none).
int64_t CountFiles(const std::string& dir, const std::string& suffix);

}  // namespace billing::bench
