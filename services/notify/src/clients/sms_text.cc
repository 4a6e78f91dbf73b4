#include "clients/sms_text.h"

#include <cstdint>
#include <string_view>
#include <vector>

namespace billing::notify::clients {
namespace {

// The GSM 03.38 basic character set and its extension table (two septets
// each), as UTF-8.
constexpr std::string_view kBasic[] = {
    "@", "£", "$", "¥", "è", "é", "ù", "ì", "ò", "Ç", "\n", "Ø", "ø", "\r", "Å", "å", "Δ", "_", "Φ", "Γ",
    "Λ", "Ω", "Π", "Ψ", "Σ", "Θ", "Ξ", "Æ", "æ", "ß", "É", " ", "!", "\"", "#", "¤", "%", "&", "'", "(",
    ")", "*", "+", ",", "-", ".", "/", ":", ";", "<", "=", ">", "?", "¡", "Ä", "Ö", "Ñ", "Ü", "§", "¿",
    "ä", "ö", "ñ", "ü", "à"};
constexpr std::string_view kExtension[] = {"^", "{", "}", "\\", "[", "~", "]", "|", "€", "\f"};

int GsmSeptets(std::string_view ch) {
  if (ch.size() == 1 && ((ch[0] >= 'A' && ch[0] <= 'Z') || (ch[0] >= 'a' && ch[0] <= 'z') ||
                         (ch[0] >= '0' && ch[0] <= '9'))) {
    return 1;
  }
  for (auto b : kBasic) {
    if (b == ch) return 1;
  }
  for (auto e : kExtension) {
    if (e == ch) return 2;
  }
  return 0;
}

}  // namespace

SmsSize MeasureSms(const std::string& utf8) {
  SmsSize size;
  // Units per character in both encodings; which one applies is known only
  // at the end (one non-GSM character makes the whole message UCS-2).
  std::vector<int> septets;
  std::vector<int> utf16;
  std::size_t i = 0;
  while (i < utf8.size()) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    const std::size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
    const std::string_view ch(utf8.data() + i, std::min(len, utf8.size() - i));
    const int s = GsmSeptets(ch);
    if (s == 0) size.gsm7 = false;
    septets.push_back(s);
    utf16.push_back(len == 4 ? 2 : 1);
    i += len;
  }
  const std::vector<int>& units = size.gsm7 ? septets : utf16;
  for (int u : units) size.units += u;
  const int single = size.gsm7 ? 160 : 70;
  const int multi = size.gsm7 ? 153 : 67;
  if (size.units <= single) {
    size.segments = 1;
    return size;
  }
  // A character never straddles two segments: an escaped GSM character (two
  // septets) or a surrogate pair that does not fit starts the next one.
  size.segments = 1;
  int used = 0;
  for (int u : units) {
    if (used + u > multi) {
      ++size.segments;
      used = 0;
    }
    used += u;
  }
  return size;
}

}  // namespace billing::notify::clients
