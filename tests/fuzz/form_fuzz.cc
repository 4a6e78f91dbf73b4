// The form encoding between payments (the encoder, as Stripe's wire format)
// and the emulator (the decoder, as Stripe reads it): decoding any bytes
// never crashes (a bad body is a FormError, nothing else), and whatever
// payments encodes decodes to exactly the fields it meant.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "fuzz_input.h"
#include "src/clients/stripe_json.h"
#include "src/form.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  billing::fuzz::FuzzInput in(data, size);
  const std::string body = in.Next();
  try {
    (void)billing::stripe_emulator::ParseForm(body);
  } catch (const billing::stripe_emulator::FormError&) {
    // refused with a reason: fine
  } catch (...) {
    FUZZ_CHECK(false && "ParseForm threw something other than FormError");
  }

  // Round trip: plain keys (no brackets) with any values.
  std::vector<std::pair<std::string, std::string>> fields;
  nlohmann::json want = nlohmann::json::object();
  while (!in.empty() && fields.size() < 16) {
    std::string key = in.Next();
    const std::string value = in.Next();
    std::erase_if(key, [](char c) { return c == '[' || c == ']'; });
    if (key.empty() || want.contains(key)) continue;
    fields.emplace_back(key, value);
    want[key] = value;
  }
  const std::string encoded = billing::payments::clients::FormEncode(fields);
  nlohmann::json got;
  try {
    got = billing::stripe_emulator::ParseForm(encoded);
  } catch (const std::exception& e) {
    fprintf(stderr, "encoded: %s\nrefused: %s\n", encoded.c_str(), e.what());
    FUZZ_CHECK(false && "payments' encoding was refused by the decoder");
  }
  FUZZ_CHECK(got == want);
  return 0;
}
