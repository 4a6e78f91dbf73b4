#include "errors/error.h"

#include <utility>

namespace billing::errors {

Error::Error(Reason reason, std::string message, std::string field)
    : std::runtime_error(std::move(message)), reason_(reason), field_(std::move(field)) {}

std::optional<Reason> ParseReason(std::string_view name) {
  for (int i = 0; i <= static_cast<int>(Reason::kInternal); ++i) {
    const auto reason = static_cast<Reason>(i);
    if (Name(reason) == name) return reason;
  }
  return std::nullopt;
}

Error InvalidField(const std::string& field, const std::string& problem) {
  return Error(Reason::kInvalidField, field + " " + problem, field);
}

}  // namespace billing::errors
