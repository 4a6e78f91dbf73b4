#pragma once

#include <nlohmann/json.hpp>
#include <soci/soci.h>

#include <optional>
#include <string>

#include "clock/clock.h"
#include "errors/error.h"

// Reading stored rows back into domain types: columns in SELECT order, times
// as int64 Unix microseconds (see each service's storage/sql.h).
namespace billing::db {

class RowReader {
 public:
  explicit RowReader(const soci::row& row) : row_(row) {}
  bool NextIsNull() const { return row_.get_indicator(i_) == soci::i_null; }
  std::string Str() { return row_.get<std::string>(i_++); }
  long long Int() { return row_.get<long long>(i_++); }
  int Int32() { return row_.get<int>(i_++); }
  bool Bool() { return row_.get<int>(i_++) != 0; }
  clock::Time TimeAt() { return clock::FromUnixMicros(Int()); }
  std::optional<clock::Time> OptTime() {
    const std::size_t i = i_++;
    if (row_.get_indicator(i) == soci::i_null) return std::nullopt;
    return clock::FromUnixMicros(row_.get<long long>(i));
  }

 private:
  const soci::row& row_;
  std::size_t i_ = 0;
};

// The same reading over a row that SQL aggregated into JSON
// (json_build_array of the same columns, in the same order): lets one
// statement return child rows, with the row readers written once for both.
class JsonRowReader {
 public:
  explicit JsonRowReader(const nlohmann::json& row) : row_(row) {}
  std::string Str() { return row_.at(i_++).get<std::string>(); }
  long long Int() { return row_.at(i_++).get<long long>(); }
  int Int32() { return row_.at(i_++).get<int>(); }
  bool Bool() { return Int() != 0; }
  clock::Time TimeAt() { return clock::FromUnixMicros(Int()); }
  std::optional<clock::Time> OptTime() {
    const auto& v = row_.at(i_++);
    if (v.is_null()) return std::nullopt;
    return clock::FromUnixMicros(v.get<long long>());
  }

 private:
  const nlohmann::json& row_;
  std::size_t i_ = 0;
};

// A stored value the code cannot read (an enum name it does not know): the
// database and the binary disagree, which no caller can fix. INTERNAL, with
// what was unreadable (never the row's data).
[[noreturn]] inline void Corrupt(const std::string& what) {
  throw errors::Error(errors::Reason::kInternal, "stored data is inconsistent: " + what);
}

template <typename T>
T Parsed(std::optional<T> value, const char* what) {
  if (!value) Corrupt(what);
  return *value;
}

}  // namespace billing::db
