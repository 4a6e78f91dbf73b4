#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "soak/soak_system.h"

// Mixed traffic against invoice's proxy, as the booking system and the
// payment page make it: bookings created and changed, invoices created
// (email and SMS), read by token, resent, and paid with succeeding and
// declined cards, sometimes by two payers at once. Each worker retries a
// call that ends UNAVAILABLE or DEADLINE_EXCEEDED with the same request id,
// as a well-behaved client does, and the final code is tallied.
namespace billing::testing::soak {

// Final codes per (operation, code name), for one scenario.
using CodeTally = std::map<std::string, std::map<std::string, long>>;

// What the system acknowledged: it must still hold all of it at the end.
struct Acknowledged {
  std::mutex mu;
  std::vector<std::string> invoices;                       // CreateInvoice answered OK
  std::vector<std::pair<std::string, std::string>> paid;   // (invoice, PaymentIntent) answered SUCCEEDED
};

class Traffic {
 public:
  Traffic(System& system, Acknowledged& acks, unsigned seed, int workers);
  // Runs the workers for `duration` and returns the tally of final codes.
  CodeTally Run(const std::string& scenario, std::chrono::milliseconds duration);

 private:
  System& system_;
  Acknowledged& acks_;
  unsigned seed_;
  int workers_;
  int runs_ = 0;
};

// gRPC status code names ("OK", "UNAVAILABLE", ...).
std::string CodeName(int code);
// Codes a correct system never answers to this traffic, faults or not.
bool Unexpected(const std::string& code_name);

}  // namespace billing::testing::soak
