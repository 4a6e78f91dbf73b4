#include "db/session.h"

#include <soci/postgresql/soci-postgresql.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <stdexcept>

#include "db/row_reader.h"

namespace billing::db {
namespace {

bool IsNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

// A prepared statement the server refuses for this session's sake, not the
// statement's: its plan cache rejected it after a schema change (0A000
// raised by RevalidateCachedQuery; the function name, unlike the message,
// does not depend on the server's language), or the statement is gone
// (26000).
bool IsStalePlan(const PGresult* result) {
  if (result == nullptr) return false;
  const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  if (state == nullptr) return false;
  if (std::strcmp(state, "26000") == 0) return true;
  const char* function = PQresultErrorField(result, PG_DIAG_SOURCE_FUNCTION);
  return std::strcmp(state, "0A000") == 0 && function != nullptr &&
         std::strcmp(function, "RevalidateCachedQuery") == 0;
}

// Throws what SOCI would for the same failure: postgresql_soci_error with
// the SQLSTATE when the server sent one (Classify reads it), else a plain
// soci_error (Classify then looks at the connection). `what` names the
// statement, never its values.
[[noreturn]] void ThrowFailure(PGconn* conn, const PGresult* result, const std::string& what, bool stale) {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string message = what;
  const char* detail = result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(conn);
  if (detail != nullptr && *detail != '\0') message += std::string(" ") + detail;
  if (state != nullptr && std::strlen(state) == 5) {
    if (stale) throw StalePlanError(message, state);
    throw soci::postgresql_soci_error(message, state);
  }
  throw soci::soci_error(message);
}

}  // namespace

Placeholders TranslatePlaceholders(std::string_view query) {
  Placeholders out;
  out.text.reserve(query.size());
  bool quoted = false;
  for (std::size_t i = 0; i < query.size();) {
    const char c = query[i];
    if (c == '\'') quoted = !quoted;
    if (quoted || c != ':') {
      out.text += c;
      ++i;
      continue;
    }
    if (i + 1 < query.size() && query[i + 1] == ':') {  // a cast
      out.text += "::";
      i += 2;
      continue;
    }
    std::size_t end = i + 1;
    while (end < query.size() && IsNameChar(query[end])) ++end;
    if (end == i + 1) {  // a lone colon
      out.text += c;
      ++i;
      continue;
    }
    const std::string name(query.substr(i + 1, end - i - 1));
    auto it = std::find(out.names.begin(), out.names.end(), name);
    if (it == out.names.end()) it = out.names.insert(out.names.end(), name);
    out.text += "$" + std::to_string(it - out.names.begin() + 1);
    i = end;
  }
  return out;
}

long long Result::Affected() const {
  const char* n = PQcmdTuples(result_.get());
  long long value = 0;
  std::from_chars(n, n + std::strlen(n), value);
  return value;
}

const char* ResultRowReader::Next(bool null_allowed) {
  const int column = column_++;
  if (column >= PQnfields(result_)) Corrupt("a row has fewer columns than its reader");
  if (PQgetisnull(result_, row_, column) != 0) {
    if (!null_allowed) Corrupt("NULL in column " + std::to_string(column + 1) + " (" + PQfname(result_, column) + ")");
    return nullptr;
  }
  return PQgetvalue(result_, row_, column);
}

std::string ResultRowReader::Str() {
  const int column = column_;
  const char* value = Next(false);
  return std::string(value, static_cast<std::size_t>(PQgetlength(result_, row_, column)));
}

long long ResultRowReader::Int() {
  const int column = column_;
  const char* value = Next(false);
  const std::size_t size = static_cast<std::size_t>(PQgetlength(result_, row_, column));
  long long out = 0;
  const auto [end, error] = std::from_chars(value, value + size, out);
  if (error != std::errc() || end != value + size) {
    Corrupt("column " + std::to_string(column + 1) + " (" + PQfname(result_, column) + ") is not an integer");
  }
  return out;
}

int ResultRowReader::Int32() {
  const long long value = Int();
  if (value < INT32_MIN || value > INT32_MAX) Corrupt("a 32-bit column is out of range");
  return static_cast<int>(value);
}

bool ResultRowReader::Bool() {
  // A boolean column comes as t/f in text (SOCI read it as an integer);
  // other flags are integer columns.
  if (!NextIsNull()) {
    const std::string_view value = PQgetvalue(result_, row_, column_);
    if (value == "t" || value == "f") {
      ++column_;
      return value == "t";
    }
  }
  return Int() != 0;
}

std::optional<clock::Time> ResultRowReader::OptTime() {
  if (NextIsNull()) {
    ++column_;
    return std::nullopt;
  }
  return TimeAt();
}

Session::Session(const std::string& conninfo) : soci::session(soci::postgresql, conninfo) {}

PGconn* Session::Conn() {
  auto* backend = static_cast<soci::postgresql_session_backend*>(get_backend());
  if (backend == nullptr || backend->conn_ == nullptr) throw soci::soci_error("the session is not connected");
  return backend->conn_;
}

std::size_t Session::PreparedCount() const {
  std::size_t n = 0;
  for (const auto& [query, statement] : statements_) n += statement.name.empty() ? 0 : 1;
  return n;
}

Session::Statement& Session::Translated(const char* query) {
  if (auto it = statements_.find(query); it != statements_.end()) return it->second;
  return statements_.emplace(query, Statement{TranslatePlaceholders(query), {}}).first->second;
}

void Session::Prepare(Statement& statement) {
  if (!statement.name.empty()) return;
  PGconn* conn = Conn();
  // Named apart from SOCI's own statements ("st_1", ...).
  std::string name = "billing_" + std::to_string(++statements_named_);
  const Result result(PQprepare(conn, name.c_str(), statement.sql.text.c_str(),
                                static_cast<int>(statement.sql.names.size()), nullptr));
  if (result.get() == nullptr || PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
    ThrowFailure(conn, result.get(), "cannot prepare statement " + name + ":", false);
  }
  // A prepared statement belongs to the session, not to the transaction: a
  // later rollback keeps it, so it is named here only once the server has it.
  statement.name = std::move(name);
}

Result Session::Run(const char* query, std::initializer_list<Arg> args, Planning planning) {
  Statement& statement = Translated(query);
  const std::vector<std::string>& params = statement.sql.names;
  const std::size_t n = params.size();
  std::vector<const char*> values(n, nullptr);
  std::vector<bool> given(n, false);
  for (const Arg& arg : args) {
    const auto it = std::find(params.begin(), params.end(), arg.name());
    if (it == params.end()) throw std::logic_error("the statement has no placeholder :" + std::string(arg.name()));
    const auto index = static_cast<std::size_t>(it - params.begin());
    if (given[index]) throw std::logic_error("two values for :" + std::string(arg.name()));
    if (arg.text() != nullptr && std::strlen(arg.text()) != arg.size()) {
      throw std::invalid_argument("the value of :" + std::string(arg.name()) + " holds a NUL byte");
    }
    values[index] = arg.text();
    given[index] = true;
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (!given[i]) throw std::logic_error("no value for :" + params[i]);
  }
  PGconn* conn = Conn();
  if (planning == Planning::kPerCall) {
    Result result(PQexecParams(conn, statement.sql.text.c_str(), static_cast<int>(n), nullptr, values.data(), nullptr,
                               nullptr, 0));
    const ExecStatusType status = result.get() == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(result.get());
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
      ThrowFailure(conn, result.get(), "statement failed:", false);
    }
    return result;
  }
  Prepare(statement);
  Result result(PQexecPrepared(conn, statement.name.c_str(), static_cast<int>(n), values.data(), nullptr, nullptr, 0));
  const ExecStatusType status = result.get() == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(result.get());
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    const std::string what = "statement " + statement.name + " failed:";
    const bool stale = IsStalePlan(result.get());
    // A schema change outdates every statement over the changed table at
    // once: forget them all, so one retry prepares each afresh. The old
    // ones stay on the server under names never used again.
    if (stale) statements_.clear();  // `statement` dangles from here
    ThrowFailure(conn, result.get(), what, stale);
  }
  return result;
}

}  // namespace billing::db
