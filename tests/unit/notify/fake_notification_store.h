#pragma once

#include <map>
#include <mutex>

#include "domain/ports.h"

namespace billing::notify::testing {

// An in-memory NotificationStore for domain unit tests; one lock stands in
// for the database's row locks.
class FakeNotificationStore final : public domain::NotificationStore {
 public:
  std::optional<domain::Notification> InsertOrGet(const domain::Notification& n) override;
  std::optional<domain::Notification> Find(const std::string& id) override;
  std::vector<domain::DeliveryAttempt> Attempts(const std::string& id) override;
  std::vector<domain::Notification> List(const domain::ListFilter& filter,
                                         const std::optional<domain::ListCursor>& after, int limit) override;
  bool DeliverNext(domain::Time now,
                   const std::function<domain::DeliveryOutcome(const domain::Notification&)>& deliver) override;
  int64_t QueueDepth() override;

 private:
  std::mutex mu_;
  std::map<std::string, domain::Notification> rows_;
  std::map<std::string, std::vector<domain::DeliveryAttempt>> attempts_;
};

}  // namespace billing::notify::testing
