#pragma once

#include <map>
#include <mutex>

#include "domain/ports.h"

namespace billing::notify::testing {

// An in-memory NotificationStore for domain unit tests; one lock stands in
// for the database's transactions.
class FakeNotificationStore final : public domain::NotificationStore {
 public:
  std::optional<domain::Notification> InsertOrGet(const domain::Notification& n) override;
  std::optional<domain::Notification> Find(const std::string& id) override;
  std::optional<domain::Notification> FindByRequest(const std::string& caller, const std::string& request_id) override;
  std::vector<domain::DeliveryAttempt> Attempts(const std::string& id) override;
  std::vector<domain::Notification> List(const domain::ListFilter& filter,
                                         const std::optional<domain::ListCursor>& after, int limit) override;
  std::optional<domain::Notification> Claim(domain::Time now, domain::Time lease_until,
                                            const std::string& claim_token) override;
  bool Record(const std::string& notification_id, const std::string& claim_token,
              const domain::DeliveryOutcome& outcome) override;
  int64_t QueueDepth() override;

  // The next this many Record calls fail as if the database were down.
  int record_outages = 0;

 private:
  // The row (caller, request_id) created; mu_ must be held.
  std::optional<domain::Notification> ByRequestLocked(const std::string& caller, const std::string& request_id) const;

  std::mutex mu_;
  std::map<std::string, domain::Notification> rows_;
  std::map<std::string, std::vector<domain::DeliveryAttempt>> attempts_;
  std::map<std::string, std::string> claims_;  // notification id -> claim token
};

}  // namespace billing::notify::testing
