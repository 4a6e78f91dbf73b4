#pragma once

#include <memory>
#include <string>
#include <vector>

// A PostgreSQL server for tests.
//
// When TEST_DATABASE_URL is set (a URI to an admin database of a running
// server, e.g. postgresql://postgres@127.0.0.1:5432/postgres), that server is
// used. Otherwise the first use starts a throwaway cluster (initdb + pg_ctl on
// a free port, in a temporary folder, fsync off) that lives until the test
// process exits. Either way each TestDatabase is a fresh, empty database.
namespace billing::testing {

class PostgresServer {
 public:
  // The process-wide server; started on first use.
  static PostgresServer& Get();
  // A cluster of the caller's own, whatever TEST_DATABASE_URL says (for
  // tests that stop and restart PostgreSQL under a running service).
  static std::unique_ptr<PostgresServer> StartOwned();

  // URI of database `name` on this server.
  std::string UrlFor(const std::string& name) const;
  std::string AdminUrl() const { return UrlFor(admin_db_); }
  int port() const { return port_; }
  // True when this process started (and so may stop/restart) the server.
  bool owned() const { return !data_dir_.empty(); }

  // Stops and starts an owned cluster on the same port (fault tests).
  // Throws when the server is not owned.
  void Stop();
  void Start();

  ~PostgresServer();

 private:
  explicit PostgresServer(bool force_owned);
  void InitOwned();
  std::string base_;  // "postgresql://postgres@127.0.0.1:PORT"
  std::string admin_db_ = "postgres";
  std::string query_;  // "?..." kept from TEST_DATABASE_URL
  std::string data_dir_;
  std::string bin_dir_;
  int port_ = 0;
};

// A fresh database, dropped when the object goes away.
class TestDatabase {
 public:
  explicit TestDatabase(const std::string& prefix = "t");
  TestDatabase(PostgresServer& server, const std::string& prefix);
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& name() const { return name_; }
  std::string url() const { return server_.UrlFor(name_); }

 private:
  PostgresServer& server_;
  std::string name_;
};

// Runs one SQL statement against url (test setup and assertions).
void ExecSql(const std::string& url, const std::string& sql);
// Runs a query returning one BIGINT.
long long QueryInt(const std::string& url, const std::string& sql);

// The most rows any node of `query`'s plan handled (kept plus filtered
// out), run once with EXPLAIN ANALYZE and rolled back. `query` is an SQL
// constant with :name placeholders; `values` are given in the order of the
// names' first use. Statistics are analysed first; kPerCall plans for these
// values (as db::Session::Planning::kPerCall runs it), kGeneric makes the
// plan for any value that kReuse statements keep after five runs. For tests
// that a claim reads about its limit however long its queue.
enum class PlanFor { kPerCall, kGeneric };
long long MostRowsInPlan(const std::string& url, const char* query, const std::vector<std::string>& values,
                         PlanFor plan = PlanFor::kPerCall);

}  // namespace billing::testing
