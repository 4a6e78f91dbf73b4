#include "clients/sms_text.h"

#include <cstdint>
#include <string_view>

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
  int septets = 0;
  int utf16 = 0;
  std::size_t i = 0;
  while (i < utf8.size()) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    const std::size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
    const std::string_view ch(utf8.data() + i, std::min(len, utf8.size() - i));
    const int s = GsmSeptets(ch);
    if (s == 0) size.gsm7 = false;
    septets += s;
    utf16 += len == 4 ? 2 : 1;
    i += len;
  }
  size.units = size.gsm7 ? septets : utf16;
  const int single = size.gsm7 ? 160 : 70;
  const int multi = size.gsm7 ? 153 : 67;
  size.segments = size.units == 0 ? 1 : size.units <= single ? 1 : (size.units + multi - 1) / multi;
  return size;
}

}  // namespace billing::notify::clients
