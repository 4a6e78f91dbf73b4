#include "support/postgres.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include <nlohmann/json.hpp>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>

#include "db/conninfo.h"
#include "db/session.h"
#include "support/process.h"

namespace billing::testing {
namespace {

std::vector<std::string> AsOwner(std::vector<std::string> argv) {
  if (geteuid() != 0) return argv;
  std::vector<std::string> out = {"runuser", "-u", "postgres", "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

std::string FindBinDir() {
  std::string best;
  for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql")) {
    const auto bin = entry.path() / "bin";
    if (std::filesystem::exists(bin / "initdb") && bin.string() > best) best = bin.string();
  }
  if (best.empty()) throw std::runtime_error("no PostgreSQL server binaries under /usr/lib/postgresql");
  return best;
}

void Check(const CommandResult& r, const std::string& what) {
  if (r.exit_code != 0) throw std::runtime_error(what + " failed: " + r.output);
}

}  // namespace

PostgresServer& PostgresServer::Get() {
  static PostgresServer server(false);
  return server;
}

std::unique_ptr<PostgresServer> PostgresServer::StartOwned() {
  return std::unique_ptr<PostgresServer>(new PostgresServer(true));
}

PostgresServer::PostgresServer(bool force_owned) {
  const char* url = std::getenv("TEST_DATABASE_URL");
  if (!force_owned && url != nullptr && *url != '\0') {
    // postgresql://user@host:port/db?params
    std::string u = url;
    const auto q = u.find('?');
    if (q != std::string::npos) {
      query_ = u.substr(q);
      u = u.substr(0, q);
    }
    const auto slash = u.rfind('/');
    if (slash == std::string::npos || slash < u.find("://") + 3) {
      throw std::runtime_error("TEST_DATABASE_URL must be a URI ending in /<database>");
    }
    base_ = u.substr(0, slash);
    admin_db_ = u.substr(slash + 1);
    return;
  }
  InitOwned();
}

void PostgresServer::InitOwned() {
  bin_dir_ = FindBinDir();
  data_dir_ = MakeTempDir("billing-test-pg");
  if (geteuid() == 0) Check(RunCommand({"chown", "postgres:postgres", data_dir_}), "chown");
  Check(RunCommand(AsOwner({bin_dir_ + "/initdb", "-D", data_dir_, "--auth=trust", "-U", "postgres",
                            "-E", "UTF8"})),
        "initdb");
  Start();
}

void PostgresServer::Start() {
  if (!owned()) throw std::runtime_error("the test PostgreSQL server is not ours to start");
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (port_ == 0 || attempt > 0) port_ = FreePort();
    // Tests want speed over durability; benchmarks use their own cluster.
    const std::string opts = "-c listen_addresses=127.0.0.1 -c port=" + std::to_string(port_) +
                             " -c unix_socket_directories=" + data_dir_ +
                             " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                             " -c max_connections=300";
    const auto r = RunCommand(AsOwner({bin_dir_ + "/pg_ctl", "-D", data_dir_, "-w", "-t", "60", "-l",
                                       data_dir_ + "/server.log", "-o", opts, "start"}));
    if (r.exit_code == 0) {
      base_ = "postgresql://postgres@127.0.0.1:" + std::to_string(port_);
      return;
    }
  }
  throw std::runtime_error("could not start PostgreSQL in " + data_dir_);
}

void PostgresServer::Stop() {
  if (!owned()) throw std::runtime_error("the test PostgreSQL server is not ours to stop");
  RunCommand(AsOwner({bin_dir_ + "/pg_ctl", "-D", data_dir_, "-w", "-m", "fast", "stop"}));
}

PostgresServer::~PostgresServer() {
  if (owned()) {
    RunCommand(AsOwner({bin_dir_ + "/pg_ctl", "-D", data_dir_, "-w", "-m", "immediate", "stop"}));
    std::error_code ec;
    std::filesystem::remove_all(data_dir_, ec);
  }
}

std::string PostgresServer::UrlFor(const std::string& name) const { return base_ + "/" + name + query_; }

TestDatabase::TestDatabase(const std::string& prefix) : TestDatabase(PostgresServer::Get(), prefix) {}

TestDatabase::TestDatabase(PostgresServer& server, const std::string& prefix) : server_(server) {
  static std::atomic<int> counter{0};
  name_ = prefix + "_" + std::to_string(getpid()) + "_" + std::to_string(counter++);
  ExecSql(server_.AdminUrl(), "CREATE DATABASE " + name_);
}

TestDatabase::~TestDatabase() {
  try {
    ExecSql(server_.AdminUrl(), "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (...) {
    // Best effort: a leftover database in a throwaway cluster is harmless.
  }
}

void ExecSql(const std::string& url, const std::string& sql) {
  soci::session session(soci::postgresql, db::ToKeyValueConninfo(url));
  session << "SET client_min_messages = warning";
  session << sql;
}

long long QueryInt(const std::string& url, const std::string& sql) {
  soci::session session(soci::postgresql, db::ToKeyValueConninfo(url));
  long long value = 0;
  session << sql, soci::into(value);
  return value;
}

long long MostRowsInPlan(const std::string& url, const char* query, const std::vector<std::string>& values,
                         PlanFor plan) {
  const db::Placeholders p = db::TranslatePlaceholders(query);
  if (p.names.size() != values.size()) throw std::invalid_argument("MostRowsInPlan: one value per placeholder");
  soci::session sql(soci::postgresql, db::ToKeyValueConninfo(url));
  sql << "ANALYZE";
  sql << (plan == PlanFor::kGeneric ? "SET plan_cache_mode = force_generic_plan"
                                    : "SET plan_cache_mode = force_custom_plan");
  sql << "PREPARE most_rows_in_plan AS " + p.text;
  std::string execute = "EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE most_rows_in_plan(";
  for (std::size_t i = 0; i < values.size(); ++i) execute += (i ? ", '" : "'") + values[i] + "'";
  execute += ")";
  std::string plan_text;
  sql << "BEGIN";
  sql << execute, soci::into(plan_text);
  sql << "ROLLBACK";
  long long most = 0;
  std::vector<nlohmann::json> nodes{nlohmann::json::parse(plan_text).at(0).at("Plan")};
  while (!nodes.empty()) {
    const nlohmann::json node = nodes.back();
    nodes.pop_back();
    most = std::max(most, node.value("Actual Rows", 0LL) + node.value("Rows Removed by Filter", 0LL));
    for (const auto& child : node.value("Plans", nlohmann::json::array())) nodes.push_back(child);
  }
  return most;
}

}  // namespace billing::testing
