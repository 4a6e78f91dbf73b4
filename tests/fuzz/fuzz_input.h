#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

// Splits a fuzzer's bytes into fields: each field ends at a NUL byte (or at
// the end of the input). Simple enough that seed corpora are plain files.
namespace billing::fuzz {

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, std::size_t size) : rest_(reinterpret_cast<const char*>(data), size) {}

  std::string Next() {
    const auto nul = rest_.find('\0');
    std::string field(rest_.substr(0, nul));
    rest_ = nul == std::string_view::npos ? std::string_view() : rest_.substr(nul + 1);
    return field;
  }
  int64_t NextInt() {
    int64_t v = 0;
    for (char c : Next().substr(0, 8)) v = (v << 8) | static_cast<unsigned char>(c);
    return v;
  }
  bool empty() const { return rest_.empty(); }

 private:
  std::string_view rest_;
};

// A property that must hold; abort() so libFuzzer records the input.
#define FUZZ_CHECK(cond)                                                    \
  do {                                                                      \
    if (!(cond)) {                                                          \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                    \
    }                                                                       \
  } while (0)

}  // namespace billing::fuzz
