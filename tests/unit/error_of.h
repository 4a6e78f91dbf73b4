#pragma once

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "errors/error.h"

namespace billing::testing {

// The reason and field of the errors::Error that f throws; a test failure
// (and kInternal) when it throws nothing.
template <typename F>
std::pair<errors::Reason, std::string> ErrorOf(F&& f) {
  try {
    f();
  } catch (const errors::Error& e) {
    return {e.reason(), e.field()};
  }
  ADD_FAILURE() << "no error thrown";
  return {errors::Reason::kInternal, ""};
}

}  // namespace billing::testing
