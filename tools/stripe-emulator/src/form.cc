#include "form.h"

#include <vector>

namespace billing::stripe_emulator {
namespace {

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "a[b][0][]" -> {"a", "b", "0", ""}.
std::vector<std::string> SplitKey(const std::string& key) {
  std::vector<std::string> parts;
  const auto open = key.find('[');
  parts.push_back(key.substr(0, open));
  if (parts[0].empty()) throw FormError("Invalid parameter name: " + key);
  std::size_t pos = open;
  while (pos != std::string::npos && pos < key.size()) {
    if (key[pos] != '[') throw FormError("Invalid parameter name: " + key);
    const auto close = key.find(']', pos);
    if (close == std::string::npos) throw FormError("Invalid parameter name: " + key);
    parts.push_back(key.substr(pos + 1, close - pos - 1));
    pos = close + 1;
  }
  return parts;
}

bool IsIndex(const std::string& s) {
  if (s.empty() || s.size() > 6) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

void Insert(nlohmann::json& node, const std::vector<std::string>& parts, std::size_t i,
            const std::string& value, const std::string& key) {
  const std::string& part = parts[i];
  const bool last = i + 1 == parts.size();
  // The top-level name is always a key ("1=x" is {"1": "x"}); only the
  // bracketed parts after it can be array positions. (Found by form_fuzz.)
  if (i > 0 && (part.empty() || IsIndex(part))) {
    // Array position: "" appends, "N" addresses element N.
    if (node.is_null()) node = nlohmann::json::array();
    if (!node.is_array()) throw FormError("Invalid array: " + key);
    std::size_t index = node.size();
    if (!part.empty()) {
      index = std::stoul(part);
      if (index > node.size()) throw FormError("Invalid array index: " + key);
    }
    if (index == node.size()) node.push_back(nullptr);
    if (last) {
      node[index] = value;
    } else {
      Insert(node[index], parts, i + 1, value, key);
    }
    return;
  }
  if (node.is_null()) node = nlohmann::json::object();
  if (!node.is_object()) throw FormError("Invalid hash: " + key);
  if (last) {
    node[part] = value;
  } else {
    Insert(node[part], parts, i + 1, value, key);
  }
}

}  // namespace

std::string UrlDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%') {
      const int hi = i + 1 < s.size() ? Hex(s[i + 1]) : -1;
      const int lo = i + 2 < s.size() ? Hex(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) throw FormError("Invalid percent-encoding");
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string UrlEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~' || c == '[' || c == ']') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

nlohmann::json ParseForm(std::string_view body) {
  nlohmann::json root = nlohmann::json::object();
  std::size_t start = 0;
  while (start <= body.size()) {
    auto end = body.find('&', start);
    if (end == std::string_view::npos) end = body.size();
    const std::string_view pair = body.substr(start, end - start);
    if (!pair.empty()) {
      const auto eq = pair.find('=');
      const std::string key = UrlDecode(pair.substr(0, eq));
      const std::string value = eq == std::string_view::npos ? "" : UrlDecode(pair.substr(eq + 1));
      Insert(root, SplitKey(key), 0, value, key);
    }
    start = end + 1;
  }
  return root;
}

}  // namespace billing::stripe_emulator
