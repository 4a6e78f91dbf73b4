#include "api_error.h"

namespace billing::stripe_emulator {

std::string DocUrl(const std::string& code) {
  std::string slug = code;
  for (char& c : slug) {
    if (c == '_') c = '-';
  }
  return "https://stripe.com/docs/error-codes/" + slug;
}

ApiError InvalidRequest(const std::string& message, const std::string& param, const std::string& code) {
  ApiError e;
  e.status = 400;
  e.error = {{"type", "invalid_request_error"}, {"message", message}};
  if (!param.empty()) e.error["param"] = param;
  if (!code.empty()) {
    e.error["code"] = code;
    e.error["doc_url"] = DocUrl(code);
  }
  return e;
}

ApiError MissingParam(const std::string& param) {
  return InvalidRequest("Missing required param: " + param + ".", param, "parameter_missing");
}

ApiError UnknownParam(const std::string& param) {
  return InvalidRequest("Received unknown parameter: " + param, param, "parameter_unknown");
}

ApiError InvalidInteger(const std::string& param, const std::string& value) {
  return InvalidRequest("Invalid integer: " + value, param, "parameter_invalid_integer");
}

ApiError InvalidBoolean(const std::string& param, const std::string& value) {
  return InvalidRequest("Invalid boolean: " + value, param, "parameter_invalid_boolean");
}

ApiError NotFound(const std::string& kind, const std::string& id, const std::string& param) {
  ApiError e = InvalidRequest("No such " + kind + ": '" + id + "'", param, "resource_missing");
  e.status = 404;
  return e;
}

ApiError UnexpectedState(const std::string& message) {
  ApiError e = InvalidRequest(message, "", "payment_intent_unexpected_state");
  e.executed = true;
  return e;
}

}  // namespace billing::stripe_emulator
