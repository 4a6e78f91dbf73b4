#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace billing::stripe_emulator {

// A body or query string that cannot be decoded.
class FormError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Decodes application/x-www-form-urlencoded text the way Stripe reads it:
// `a=1` (scalar), `a[b]=1` (object), `a[]=1&a[]=2` (array, appended),
// `a[0][b]=1` (indexed array of objects). Brackets may be literal or
// percent-encoded; `+` is a space. Every leaf is a string: endpoints convert
// and validate types themselves, as Stripe does.
nlohmann::json ParseForm(std::string_view body);

// Percent-decoding with '+' as space; throws FormError on a bad escape.
std::string UrlDecode(std::string_view s);

// The inverse, for tests and the webhook tooling: a flat list of
// (key, value) pairs with brackets kept literal.
std::string UrlEncode(std::string_view s);

}  // namespace billing::stripe_emulator
