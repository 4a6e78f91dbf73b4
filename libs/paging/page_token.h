#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "clock/clock.h"

// Keyset pagination tokens for newest-first lists.
namespace billing::paging {

// The last row of a page: the list continues strictly after it.
struct Position {
  clock::Time created_at{};
  std::string id{};  // a UUID
};

// Opaque to clients: "<tag>." + base64url("<micros>:<id>:<digest>"). The
// digest binds the token to the filter it was issued for, so a token from
// another list (or a hand-made one) is refused instead of paging somewhere
// unexpected. `filter_key` is any string that identifies the filter.
std::string EncodeToken(std::string_view tag, const Position& last, std::string_view filter_key);

// nullopt for ""; INVALID_FIELD "page_token" for anything EncodeToken did not
// issue with the same tag and filter.
std::optional<Position> DecodeToken(std::string_view tag, const std::string& token, std::string_view filter_key);

}  // namespace billing::paging
