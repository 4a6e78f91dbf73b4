#include "paging/page_token.h"

#include "crypto/crypto.h"
#include "errors/error.h"
#include "ids/ids.h"
#include "validation/validation.h"

namespace billing::paging {
namespace {

std::string Digest(std::string_view filter_key) { return crypto::Sha256Hex(filter_key).substr(0, 16); }

}  // namespace

std::string EncodeToken(std::string_view tag, const Position& last, std::string_view filter_key) {
  return std::string(tag) + "." +
         ids::Base64UrlEncode(std::to_string(clock::ToUnixMicros(last.created_at)) + ":" + last.id + ":" +
                              Digest(filter_key));
}

std::optional<Position> DecodeToken(std::string_view tag, const std::string& token, std::string_view filter_key) {
  if (token.empty()) return std::nullopt;
  const auto bad = [] { return errors::InvalidField("page_token", "is not a token from a previous page of this list"); };
  const std::string prefix = std::string(tag) + ".";
  std::string raw;
  if (token.size() > 512 || token.rfind(prefix, 0) != 0 || !ids::Base64UrlDecode(token.substr(prefix.size()), &raw)) {
    throw bad();
  }
  const auto a = raw.find(':');
  const auto b = raw.rfind(':');
  if (a == std::string::npos || b == a) throw bad();
  const std::string micros = raw.substr(0, a);
  const std::string id = raw.substr(a + 1, b - a - 1);
  if (raw.substr(b + 1) != Digest(filter_key) || !validation::IsUuid(id) || micros.empty() || micros.size() > 18 ||
      micros.find_first_not_of("0123456789") != std::string::npos) {
    throw bad();
  }
  return Position{clock::FromUnixMicros(std::stoll(micros)), id};
}

}  // namespace billing::paging
