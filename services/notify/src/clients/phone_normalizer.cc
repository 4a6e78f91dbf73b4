#include "clients/phone_normalizer.h"

#include <phonenumbers/phonenumberutil.h>

#include <set>

namespace billing::notify::clients {

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

LibPhoneNumberNormalizer::LibPhoneNumberNormalizer(std::string default_region)
    : default_region_(std::move(default_region)) {}

std::optional<std::string> LibPhoneNumberNormalizer::ToE164(const std::string& raw) const {
  if (raw.size() > 64) return std::nullopt;
  const PhoneNumberUtil* util = PhoneNumberUtil::GetInstance();
  PhoneNumber number;
  if (util->Parse(raw, default_region_, &number) != PhoneNumberUtil::NO_PARSING_ERROR) return std::nullopt;
  if (!util->IsValidNumber(number)) return std::nullopt;
  std::string out;
  util->Format(number, PhoneNumberUtil::E164, &out);
  return out;
}

bool LibPhoneNumberNormalizer::CanReceiveSms(const std::string& e164) const {
  const PhoneNumberUtil* util = PhoneNumberUtil::GetInstance();
  PhoneNumber number;
  if (util->Parse(e164, default_region_, &number) != PhoneNumberUtil::NO_PARSING_ERROR) return false;
  switch (util->GetNumberType(number)) {
    case PhoneNumberUtil::MOBILE:
    case PhoneNumberUtil::FIXED_LINE_OR_MOBILE:
    case PhoneNumberUtil::VOIP:
    case PhoneNumberUtil::PERSONAL_NUMBER:
    case PhoneNumberUtil::UNKNOWN:  // the plan does not say; let the provider decide
      return true;
    default:
      return false;
  }
}

bool LibPhoneNumberNormalizer::IsKnownRegion(const std::string& region) {
  std::set<std::string> regions;
  PhoneNumberUtil::GetInstance()->GetSupportedRegions(&regions);
  return regions.count(region) > 0;
}

}  // namespace billing::notify::clients
