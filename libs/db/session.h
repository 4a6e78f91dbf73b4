#pragma once

#include <libpq-fe.h>
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

// The `:name` placeholders of `query` rewritten to `$1..$n` (a name used
// twice is one parameter), by SOCI's rules: `::` is a cast, and nothing
// inside single quotes is a placeholder.
struct Placeholders {
  std::string text;
  std::vector<std::string> names;
};
Placeholders TranslatePlaceholders(std::string_view query);

// True for PostgreSQL's refusal of a prepared statement whose result
// columns a schema change altered (see Session::Run).
bool IsStalePlan(const std::exception& e);

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

  // Runs `query` (an SQL constant with `:name` placeholders) with `args`,
  // one per placeholder, as this connection's prepared statement. Errors
  // are thrown as SOCI's (soci::postgresql_soci_error with the SQLSTATE), so
  // Pool's retries and db::Classify treat both paths alike. A missing or
  // unknown argument name is a programming error (std::logic_error).
  //
  // A migration run by another replica can change what a prepared
  // statement returns; PostgreSQL then refuses it ("cached plan must not
  // change result type"). Run forgets the statement, so it is prepared
  // afresh next time, and Classify calls the failure kStalePlan, which the
  // pool retries like a serialization failure.
  Result Run(const char* query, std::initializer_list<Arg> args = {});

  // How many statements this connection has prepared (for tests and the
  // benchmark's notes).
  std::size_t PreparedCount() const { return prepared_.size(); }

 private:
  struct Prepared {
    std::string name;
    std::vector<std::string> params;
  };
  PGconn* Conn();
  const Prepared& Prepare(const char* query);

  // By the query's text, not its address: the same text from two constants
  // is one statement, and a text built at run time cannot alias another.
  std::unordered_map<std::string, Prepared> prepared_;
  // Names are never reused on a connection: a statement forgotten after a
  // schema change may still exist on the server under its old name.
  std::size_t statements_named_ = 0;
};

}  // namespace billing::db
