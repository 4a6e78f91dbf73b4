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
  std::vector<domain::DeliveryAttempt> Attempts(const std::string& notification_id) override;
  std::vector<domain::Notification> List(const domain::ListFilter& filter,
                                         const std::optional<domain::ListCursor>& after, int limit) override;
  bool DeliverNext(domain::Time now,
                   const std::function<domain::DeliveryOutcome(const domain::Notification&)>& deliver) override;
  int64_t QueueDepth() override;

 private:
  db::Pool& pool_;
};

}  // namespace billing::notify::storage
