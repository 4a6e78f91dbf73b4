#pragma once

#include <string>

#include "domain/model.h"

// Where payment outcomes go: the invoice service's PaymentEventService.
namespace billing::payments::domain {

enum class DeliveryResult {
  kApplied,    // the invoice service took it (or had it already)
  kTransient,  // down, deadline, not serving: retry later
  kRejected,   // refused for good (a request it can never accept)
};

struct SinkAnswer {
  DeliveryResult result = DeliveryResult::kApplied;
  std::string error{};  // for logs; never secrets
};

class PaymentEventSink {
 public:
  virtual ~PaymentEventSink() = default;
  virtual SinkAnswer Deliver(const PaymentEvent& event) = 0;
};

}  // namespace billing::payments::domain
