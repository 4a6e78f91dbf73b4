#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <soci/soci.h>

namespace billing::db {

// One schema change: services/<svc>/migrations/NNNN_name.sql, compiled into
// the binary (cmake/EmbedMigrations.cmake).
struct Migration {
  int64_t version;
  std::string_view name;
  std::string_view sql;
};

struct MigrationResult {
  int applied = 0;  // run by this call
  int present = 0;  // already applied before
};

// A migration could not be applied, or an applied one no longer matches the
// file it came from. Start-up treats it as fatal.
class MigrationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The database connection failed while migrating: nothing half-applied
// (each migration is one transaction); worth retrying.
class MigrationConnectionError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Applies the migrations that are not yet recorded in schema_migrations, in
// version order, each in its own transaction together with its record.
//
// A session-level advisory lock (keyed by lock_name) is held throughout, so
// replicas that start together apply each migration exactly once: the others
// wait, then find it recorded. A recorded migration whose SQL changed
// (checksum mismatch) is an error rather than silently skipped. Migrations
// run without the session's statement timeout: waiting for the lock, or a
// long index build, is not a failure.
MigrationResult ApplyMigrations(soci::session& session, const std::vector<Migration>& migrations,
                                const std::string& lock_name);

// True when every migration is recorded (cheap; used by readiness checks).
bool MigrationsApplied(soci::session& session, const std::vector<Migration>& migrations);

}  // namespace billing::db
