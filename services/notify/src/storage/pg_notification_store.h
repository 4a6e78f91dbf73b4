#pragma once

#include "db/pool.h"
#include "domain/ports.h"

namespace billing::notify::storage {

// Notifications and delivery attempts on PostgreSQL (schema: migrations/).
class PgNotificationStore final : public domain::NotificationStore {
 public:
  explicit PgNotificationStore(db::Pool& pool) : pool_(pool) {}

  std::optional<domain::Notification> InsertOrGet(const domain::Notification& n) override;
  std::optional<domain::Notification> Find(const std::string& notification_id) override;
  std::optional<domain::Notification> FindByRequest(const std::string& caller, const std::string& request_id) override;
  std::vector<domain::DeliveryAttempt> Attempts(const std::string& notification_id) override;
  std::vector<domain::Notification> List(const domain::ListFilter& filter,
                                         const std::optional<domain::ListCursor>& after, int limit) override;
  std::optional<domain::Notification> Claim(domain::Time now, domain::Time lease_until,
                                            const std::string& claim_token) override;
  bool Record(const std::string& notification_id, const std::string& claim_token,
              const domain::DeliveryOutcome& outcome) override;
  int64_t QueueDepth() override;

 private:
  db::Pool& pool_;
};

}  // namespace billing::notify::storage
