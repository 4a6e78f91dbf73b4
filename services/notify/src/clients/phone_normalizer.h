#pragma once

#include <string>

#include "domain/ports.h"

namespace billing::notify::clients {

// libphonenumber: parses numbers as people type them ("+1 415-555-0123",
// "(415) 555-0123" with region US) and formats valid ones as E.164.
class LibPhoneNumberNormalizer final : public domain::PhoneNormalizer {
 public:
  // default_region: ISO 3166-1 alpha-2, used for numbers without "+".
  explicit LibPhoneNumberNormalizer(std::string default_region);
  std::optional<std::string> ToE164(const std::string& raw) const override;
  bool CanReceiveSms(const std::string& e164) const override;
  // True when libphonenumber knows the region code.
  static bool IsKnownRegion(const std::string& region);

 private:
  std::string default_region_;
};

}  // namespace billing::notify::clients
