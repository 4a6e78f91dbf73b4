#include "unit/notify/fake_notification_store.h"

#include <algorithm>

#include "errors/error.h"

namespace billing::notify::testing {

using domain::Notification;

std::optional<Notification> FakeNotificationStore::ByRequestLocked(const std::string& caller,
                                                                  const std::string& request_id) const {
  for (const auto& [id, row] : rows_) {
    if (row.caller == caller && row.request_id == request_id) return row;
  }
  return std::nullopt;
}

std::optional<Notification> FakeNotificationStore::InsertOrGet(const Notification& n) {
  std::lock_guard lock(mu_);
  if (auto existing = ByRequestLocked(n.caller, n.request_id)) return existing;
  rows_[n.notification_id] = n;
  return std::nullopt;
}

std::optional<Notification> FakeNotificationStore::Find(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = rows_.find(id);
  if (it == rows_.end()) return std::nullopt;
  return it->second;
}

std::optional<Notification> FakeNotificationStore::FindByRequest(const std::string& caller,
                                                                const std::string& request_id) {
  std::lock_guard lock(mu_);
  return ByRequestLocked(caller, request_id);
}

std::vector<domain::DeliveryAttempt> FakeNotificationStore::Attempts(const std::string& id) {
  std::lock_guard lock(mu_);
  return attempts_[id];
}

std::vector<Notification> FakeNotificationStore::List(const domain::ListFilter& f,
                                                      const std::optional<domain::ListCursor>& after, int limit) {
  std::lock_guard lock(mu_);
  std::vector<Notification> out;
  for (const auto& [id, n] : rows_) {
    if (!f.invoice_id.empty() && n.invoice_id != f.invoice_id) continue;
    if (!f.booking_id.empty() && n.booking_id != f.booking_id) continue;
    if (!f.recipient.empty() && n.recipient != f.recipient) continue;
    if (f.status && n.status != *f.status) continue;
    if (after && std::tie(n.created_at, n.notification_id) >= std::tie(after->created_at, after->notification_id)) continue;
    out.push_back(n);
  }
  std::sort(out.begin(), out.end(), [](const Notification& a, const Notification& b) {
    return std::tie(a.created_at, a.notification_id) > std::tie(b.created_at, b.notification_id);
  });
  if (static_cast<int>(out.size()) > limit) out.resize(static_cast<std::size_t>(limit));
  return out;
}

std::optional<Notification> FakeNotificationStore::Claim(domain::Time now, domain::Time lease_until,
                                                         const std::string& claim_token) {
  std::lock_guard lock(mu_);
  Notification* due = nullptr;
  for (auto& [id, n] : rows_) {
    if (n.status == domain::Status::kQueued && n.next_attempt_at <= now &&
        (due == nullptr || n.next_attempt_at < due->next_attempt_at)) {
      due = &n;
    }
  }
  if (due == nullptr) return std::nullopt;
  ++due->attempts;
  due->next_attempt_at = lease_until;
  claims_[due->notification_id] = claim_token;
  return *due;
}

bool FakeNotificationStore::Record(const std::string& notification_id, const std::string& claim_token,
                                   const domain::DeliveryOutcome& out) {
  std::lock_guard lock(mu_);
  if (record_outages > 0) {
    --record_outages;
    throw errors::Error(errors::Reason::kDatabaseUnavailable, "the database is unreachable; retry later");
  }
  auto& attempts = attempts_[notification_id];
  if (std::none_of(attempts.begin(), attempts.end(),
                   [&](const auto& a) { return a.attempt_number == out.attempt.attempt_number; })) {
    attempts.push_back(out.attempt);
  }
  if (claims_[notification_id] != claim_token) return false;
  claims_.erase(notification_id);
  Notification& n = rows_.at(notification_id);
  n.status = out.status;
  n.next_attempt_at = out.next_attempt_at == domain::Time{} ? out.attempt.started_at : out.next_attempt_at;
  n.provider_message_id = out.provider_message_id;
  n.failure_reason = out.failure_reason;
  n.sent_at = out.sent_at;
  return true;
}

int64_t FakeNotificationStore::QueueDepth() {
  std::lock_guard lock(mu_);
  return std::count_if(rows_.begin(), rows_.end(),
                       [](const auto& kv) { return kv.second.status == domain::Status::kQueued; });
}

}  // namespace billing::notify::testing
