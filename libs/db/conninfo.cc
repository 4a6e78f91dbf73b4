#include "db/conninfo.h"

#include <libpq-fe.h>

#include <memory>
#include <stdexcept>

namespace billing::db {
namespace {

// libpq's quoting for key=value strings: single quotes, with \ and '
// escaped.
std::string Quote(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\\' || c == '\'') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

}  // namespace

std::string ToKeyValueConninfo(const std::string& url, const std::map<std::string, std::string>& extra) {
  char* error = nullptr;
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(PQconninfoParse(url.c_str(), &error),
                                                                       &PQconninfoFree);
  if (!options) {
    if (error != nullptr) PQfreemem(error);
    throw std::invalid_argument("the database connection string cannot be parsed");
  }
  std::map<std::string, std::string> values = extra;
  for (PQconninfoOption* o = options.get(); o->keyword != nullptr; ++o) {
    if (o->val != nullptr) values[o->keyword] = o->val;
  }
  std::string out;
  for (const auto& [k, v] : values) {
    if (!out.empty()) out.push_back(' ');
    out += k + "=" + Quote(v);
  }
  return out;
}

}  // namespace billing::db
