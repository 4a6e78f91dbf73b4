#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>

// Enums stored as text: one constexpr table per enum maps each value to its
// stored name, and these two look-ups go either way.
namespace billing::enums {

template <typename E, std::size_t N>
using Table = std::array<std::pair<E, std::string_view>, N>;

template <typename E, std::size_t N>
std::optional<E> Parse(const Table<E, N>& table, std::string_view s) {
  for (const auto& [value, name] : table) {
    if (name == s) return value;
  }
  return std::nullopt;
}

// "" for a value missing from the table (a table is unit-tested complete).
template <typename E, std::size_t N>
std::string_view Name(const Table<E, N>& table, E e) {
  for (const auto& [value, name] : table) {
    if (value == e) return name;
  }
  return "";
}

}  // namespace billing::enums
