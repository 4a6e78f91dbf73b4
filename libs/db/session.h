#pragma once

#include <libpq-fe.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>

#include <cstddef>
#include <exception>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "clock/clock.h"

// Prepared statements kept per pooled connection.
//
// SOCI sends a one-off statement with PQexecParams and a rowset as PREPARE,
// EXECUTE and DEALLOCATE, so PostgreSQL parses and plans every statement
// every time: with pg_stat_statements' track_planning on, planning was half
// of the services' statement time (docs/benchmarks.md). Session::Run
// prepares a statement on its connection the first time it is run there and
// executes the prepared statement after that. The SQL constants stay as they
// are (SOCI's `:name` placeholders), so a statement reads the same through
// either path, and values go as text, as SOCI sends them, so the server
// infers the same parameter types.
namespace billing::db {

// The `:name` placeholders of `query` rewritten to `$1..$n`: `::` is a cast,
// and nothing inside single quotes is a placeholder, as with SOCI. Unlike
// SOCI, a name used twice is one parameter, so the server gives it one type
// (from its first use): write `CAST(:x AS UUID)` where a repeated name meets
// columns of different types.
struct Placeholders {
  std::string text;
  std::vector<std::string> names;
};
Placeholders TranslatePlaceholders(std::string_view query);

// PostgreSQL refused one of this connection's prepared statements: a
// schema change altered what it returns (SQLSTATE 0A000 from the plan
// cache), or the server no longer has it (26000, after a DISCARD ALL by a
// pooler). The transaction is aborted with nothing applied, and the session
// has already forgotten every statement, so running it again is safe and
// prepares afresh (db::Classify: Failure::kStalePlan).
class StalePlanError : public soci::postgresql_soci_error {
 public:
  using soci::postgresql_soci_error::postgresql_soci_error;
};

// One bound value, by the name of its placeholder. Text values are not
// copied: the caller's string must outlive the Run call (arguments written
// inline in the call always do). A NUL byte in a text value is refused
// (libpq would cut the value at it).
class Arg {
 public:
  Arg(std::string_view name, const std::string& value) : name_(name), text_(value.c_str()), size_(value.size()) {}
  Arg(std::string_view name, const char* value) : name_(name), text_(value), size_(std::string_view(value).size()) {}
  template <typename Int, typename = std::enable_if_t<std::is_integral_v<Int> && !std::is_same_v<Int, bool>>>
  Arg(std::string_view name, Int value) : name_(name), owned_(std::to_string(value)) {}
  // An empty optional is SQL NULL.
  template <typename T>
  Arg(std::string_view name, const std::optional<T>& value) : name_(name) {
    if (value) *this = Arg(name, *value);
  }
  // A temporary string would be gone before the statement runs.
  Arg(std::string_view name, std::string&& value) = delete;
  // A time as int64 Unix microseconds, the storage layer's convention.
  Arg(std::string_view name, clock::Time value) : Arg(name, clock::ToUnixMicros(value)) {}
  Arg(std::string_view name, bool value) = delete;  // say 1 or 0 (or TRUE/FALSE in the SQL)

  std::string_view name() const { return name_; }
  // NUL-terminated text, or nullptr for NULL.
  const char* text() const { return owned_ ? owned_->c_str() : text_; }
  std::size_t size() const { return owned_ ? owned_->size() : size_; }

 private:
  std::string_view name_;
  const char* text_ = nullptr;
  std::size_t size_ = 0;
  std::optional<std::string> owned_;
};

// A statement's answer. Moves only; frees the libpq result.
class Result {
 public:
  explicit Result(PGresult* result) : result_(result, &PQclear) {}
  int Rows() const { return PQntuples(result_.get()); }
  bool Empty() const { return Rows() == 0; }
  // Rows an INSERT, UPDATE or DELETE changed (0 for other statements).
  long long Affected() const;
  const PGresult* get() const { return result_.get(); }

 private:
  std::unique_ptr<PGresult, decltype(&PQclear)> result_;
};

// Reads one row of a Result column by column, with the interface of
// RowReader and JsonRowReader (row_reader.h), so the storage layer's row
// readers take it unchanged. A value of the wrong shape is db::Corrupt.
class ResultRowReader {
 public:
  ResultRowReader(const Result& result, int row) : result_(result.get()), row_(row) {}
  bool NextIsNull() const { return PQgetisnull(result_, row_, column_) != 0; }
  std::string Str();
  long long Int();
  int Int32();
  bool Bool();
  clock::Time TimeAt() { return clock::FromUnixMicros(Int()); }
  std::optional<clock::Time> OptTime();

 private:
  const char* Next(bool null_allowed);
  const PGresult* result_;
  int row_;
  int column_ = 0;
};

// A pooled connection: a SOCI session (all of SOCI still works on it) that
// also runs statements prepared once per connection. The cache lives and
// dies with the connection: a broken connection is dropped by the pool, and
// its replacement prepares afresh.
class Session : public soci::session {
 public:
  explicit Session(const std::string& conninfo);

  // kReuse: prepared once per connection; after five runs PostgreSQL may
  // keep one generic plan for every value. kPerCall: planned for each
  // call's values (PQexecParams), for statements whose best plan depends on
  // them, such as the list queries' optional filters (`:x = '' OR col = :x`),
  // where a generic plan could not use the filter's index.
  enum class Planning { kReuse, kPerCall };

  // Runs `query` (an SQL constant with `:name` placeholders) with `args`,
  // one per placeholder. Errors are thrown as SOCI's
  // (soci::postgresql_soci_error with the SQLSTATE, or StalePlanError), so
  // Pool's retries and db::Classify treat both paths alike. A missing,
  // unknown or repeated argument name is a programming error
  // (std::logic_error); a NUL byte in a value is refused
  // (std::invalid_argument: PostgreSQL's text cannot hold one, and SOCI cut
  // the value there without a word).
  Result Run(const char* query, std::initializer_list<Arg> args = {}, Planning planning = Planning::kReuse);

  // How many statements this connection has prepared (for tests).
  std::size_t PreparedCount() const;

 private:
  struct Statement {
    Placeholders sql;
    std::string name;  // empty until prepared on this connection
  };
  PGconn* Conn();
  Statement& Translated(const char* query);
  void Prepare(Statement& statement);

  // By the query's text, not its address: the same text from two constants
  // is one statement, and a text built at run time cannot alias another.
  std::unordered_map<std::string, Statement> statements_;
  // Names are never reused on a connection: a statement forgotten after
  // StalePlanError may still exist on the server under its old name.
  std::size_t statements_named_ = 0;
};

}  // namespace billing::db
