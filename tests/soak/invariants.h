#pragma once

#include <string>
#include <vector>

#include "soak/soak_system.h"
#include "soak/traffic.h"

// The invariant checker the fault suite runs after every scenario, over
// everything the run did so far. Each invariant reads the services'
// databases, the emulator's ledger and the sinks directly: none trusts the
// services' own answers.
namespace billing::testing::soak {

struct InvariantResult {
  std::string name;
  bool held = false;
  std::string detail;  // figures when held, what broke when not
};

// Waits (up to `timeout`) until nothing is in flight anywhere: no payment
// attempt or payment pending, every outbox drained, every notification
// sent or failed. Returns the seconds it took, or a negative number when
// the system was still busy at the timeout.
double WaitUntilSettled(System& system, std::chrono::seconds timeout);
// What is still in flight, for the report ("" when nothing).
std::string InFlight(System& system);

// `notify_killed`: a notify replica was SIGKILLed since the run began, so
// an email may legitimately have gone out twice (a dispatcher that dies
// between the relay's acceptance and its commit; delivery is at least once
// in that window, docs/architecture.md).
std::vector<InvariantResult> CheckInvariants(System& system, Acknowledged& acks, bool notify_killed);

// The invariants' names and what each means, in report order.
std::vector<std::pair<std::string, std::string>> InvariantDescriptions();

}  // namespace billing::testing::soak
