#include "load/probes.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <libpq-fe.h>

namespace billing::bench {

namespace {

// (parent pid, user + system seconds) from /proc/PID/stat.
std::optional<std::pair<int, double>> ParentAndCpu(const std::string& stat_path) {
  std::ifstream stat(stat_path);
  std::string line;
  if (!std::getline(stat, line)) return std::nullopt;
  const auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 2));
  std::vector<std::string> fields;
  for (std::string f; rest >> f;) fields.push_back(f);
  if (fields.size() < 13) return std::nullopt;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  return std::make_pair(std::stoi(fields[1]), (std::stod(fields[11]) + std::stod(fields[12])) / ticks);
}

}  // namespace

std::optional<ProcessSample> SampleProcess(int pid) {
  const std::string base = "/proc/" + std::to_string(pid);
  const auto pc = ParentAndCpu(base + "/stat");
  if (!pc) return std::nullopt;
  ProcessSample sample;
  sample.cpu_seconds = pc->second;
  std::string line;
  std::ifstream status(base + "/status");
  while (std::getline(status, line)) {
    const auto read_kb = [&](const char* key, int64_t* out) {
      if (line.rfind(key, 0) == 0) *out = std::stoll(line.substr(std::string(key).size()));
    };
    read_kb("VmRSS:", &sample.rss_kb);
    read_kb("VmHWM:", &sample.peak_rss_kb);
  }
  return sample;
}


double TreeCpuSeconds(int pid) {
  double total = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto pc = ParentAndCpu(it->path().string() + "/stat");
    if (pc && (std::stoi(name) == pid || pc->first == pid)) total += pc->second;
  }
  return total;
}

int64_t NextTransactionId(const std::string& database_url) {
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(database_url.c_str()), &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) throw std::runtime_error("cannot connect to the database");
  std::unique_ptr<PGresult, decltype(&PQclear)> res(
      PQexec(conn.get(), "SELECT pg_snapshot_xmax(pg_current_snapshot())::text"), &PQclear);
  if (PQresultStatus(res.get()) != PGRES_TUPLES_OK || PQntuples(res.get()) != 1) {
    throw std::runtime_error("cannot read the next transaction id");
  }
  return std::stoll(PQgetvalue(res.get(), 0, 0));
}

int64_t CountFiles(const std::string& dir, const std::string& suffix) {
  std::error_code ec;
  int64_t n = 0;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename().string();
    if (name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) ++n;
  }
  return n;
}

}  // namespace billing::bench
