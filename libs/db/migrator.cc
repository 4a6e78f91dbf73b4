#include "db/migrator.h"

#include <soci/postgresql/soci-postgresql.h>

#include <algorithm>
#include <map>
#include <memory>

#include "crypto/crypto.h"
#include "logging/log.h"

namespace billing::db {
namespace {

constexpr char kCreateTable[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version BIGINT PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " checksum TEXT NOT NULL,"
    " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())";
constexpr char kLock[] = "SELECT pg_advisory_lock(hashtextextended($1, 0))";
constexpr char kUnlock[] = "SELECT pg_advisory_unlock(hashtextextended($1, 0))";
constexpr char kSelectApplied[] = "SELECT version, checksum FROM schema_migrations";
constexpr char kInsertApplied[] =
    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1::bigint, $2, $3)";
constexpr char kTableExists[] = "SELECT to_regclass('schema_migrations') IS NOT NULL";

using Result = std::unique_ptr<PGresult, decltype(&PQclear)>;

PGconn* Conn(soci::session& session) {
  return static_cast<soci::postgresql_session_backend*>(session.get_backend())->conn_;
}

// Runs SQL through libpq directly: migrations hold several statements, which
// only the simple query protocol (PQexec) accepts.
Result Exec(PGconn* conn, const std::string& sql, const std::vector<std::string>& params = {}) {
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p.c_str());
  PGresult* raw = params.empty()
                      ? PQexec(conn, sql.c_str())
                      : PQexecParams(conn, sql.c_str(), static_cast<int>(values.size()), nullptr,
                                     values.data(), nullptr, nullptr, 0);
  Result result(raw, &PQclear);
  const auto status = PQresultStatus(raw);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    if (PQstatus(conn) != CONNECTION_OK) throw MigrationConnectionError(PQerrorMessage(conn));
    throw MigrationError(PQerrorMessage(conn));
  }
  return result;
}

std::map<int64_t, std::string> Applied(PGconn* conn) {
  std::map<int64_t, std::string> out;
  auto result = Exec(conn, kSelectApplied);
  for (int i = 0; i < PQntuples(result.get()); ++i) {
    out[std::stoll(PQgetvalue(result.get(), i, 0))] = PQgetvalue(result.get(), i, 1);
  }
  return out;
}

}  // namespace

MigrationResult ApplyMigrations(soci::session& session, const std::vector<Migration>& migrations,
                                const std::string& lock_name) {
  PGconn* conn = Conn(session);
  std::vector<Migration> ordered = migrations;
  std::sort(ordered.begin(), ordered.end(),
            [](const Migration& a, const Migration& b) { return a.version < b.version; });
  for (std::size_t i = 1; i < ordered.size(); ++i) {
    if (ordered[i].version == ordered[i - 1].version) {
      throw MigrationError("two migrations share version " + std::to_string(ordered[i].version));
    }
  }

  // libpq prints NOTICEs ("relation already exists, skipping") are noise.
  Exec(conn, "SET client_min_messages = warning");
  Exec(conn, "SET statement_timeout = 0");
  Exec(conn, kLock, {lock_name});
  MigrationResult result;
  try {
    Exec(conn, kCreateTable);
    const auto applied = Applied(conn);
    for (const auto& m : ordered) {
      const std::string checksum = crypto::Sha256Hex(m.sql);
      if (auto it = applied.find(m.version); it != applied.end()) {
        if (it->second != checksum) {
          throw MigrationError("migration " + std::string(m.name) +
                               " was changed after it was applied (checksum mismatch)");
        }
        ++result.present;
        continue;
      }
      Exec(conn, "BEGIN");
      try {
        Exec(conn, std::string(m.sql));
        Exec(conn, kInsertApplied, {std::to_string(m.version), std::string(m.name), checksum});
        Exec(conn, "COMMIT");
      } catch (const MigrationConnectionError&) {
        throw;
      } catch (const MigrationError& e) {
        PQclear(PQexec(conn, "ROLLBACK"));
        throw MigrationError("migration " + std::string(m.name) + " failed: " + e.what());
      }
      logging::Info("migration applied", {{"version", m.version}, {"name", std::string(m.name)}});
      ++result.applied;
    }
    for (const auto& [version, sum] : applied) {
      const bool known = std::any_of(ordered.begin(), ordered.end(),
                                     [v = version](const Migration& m) { return m.version == v; });
      if (!known) {
        // A newer binary migrated first (a rolling deploy); this one keeps
        // working against the wider schema.
        logging::Warn("database has a migration this binary does not know", {{"version", version}});
      }
    }
  } catch (...) {
    PQclear(PQexec(conn, "SELECT pg_advisory_unlock_all()"));
    throw;
  }
  Exec(conn, kUnlock, {lock_name});
  return result;
}

bool MigrationsApplied(soci::session& session, const std::vector<Migration>& migrations) {
  PGconn* conn = Conn(session);
  auto exists = Exec(conn, kTableExists);
  if (std::string(PQgetvalue(exists.get(), 0, 0)) != "t") return false;
  const auto applied = Applied(conn);
  return std::all_of(migrations.begin(), migrations.end(),
                     [&](const Migration& m) { return applied.count(m.version) > 0; });
}

}  // namespace billing::db
