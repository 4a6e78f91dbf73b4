#include "errors/error.h"

#include <utility>

namespace billing::errors {

Error::Error(Reason reason, std::string message, std::string field)
    : std::runtime_error(std::move(message)), reason_(reason), field_(std::move(field)) {}

Error InvalidField(const std::string& field, const std::string& problem) {
  return Error(Reason::kInvalidField, field + " " + problem, field);
}

}  // namespace billing::errors
