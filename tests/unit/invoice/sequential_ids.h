#pragma once

#include <string>

#include "ids/ids.h"

namespace billing::invoice::testing {

// Deterministic ids (UUID-shaped) and tokens for domain unit tests.
class SequentialIds final : public ids::IdGenerator {
 public:
  std::string NewId() override { return "00000000-0000-4000-8000-" + Pad(++n_); }
  std::string NewSecretToken() override { return "token" + std::to_string(++t_); }

 private:
  static std::string Pad(int n) {
    std::string s = std::to_string(n);
    return std::string(12 - s.size(), '0') + s;
  }
  int n_ = 0;
  int t_ = 0;
};

}  // namespace billing::invoice::testing
