#pragma once

#include <optional>
#include <stdexcept>
#include <string>

#include "domain/model.h"

namespace billing::invoice::domain {

// The notify service, as the invoice service needs it.
class Notifier {
 public:
  struct Accepted {
    std::string notification_id;
    NotificationState state = NotificationState::kQueued;
    std::string failure_reason;
    std::optional<Time> sent_at;
  };

  // Thrown by Notifier calls. Transient failures (unreachable, deadline,
  // overloaded) are retried; permanent ones (the request itself is refused)
  // are not.
  class Error : public std::runtime_error {
   public:
    Error(bool permanent, const std::string& message) : std::runtime_error(message), permanent_(permanent) {}
    bool permanent() const { return permanent_; }

   private:
    bool permanent_;
  };

  virtual ~Notifier() = default;
  // Hands one notification to notify. request_id makes a repeated call
  // return the first result instead of sending again.
  virtual Accepted Send(const std::string& request_id, const NotificationRequest& request) = 0;
  // The current delivery state of an accepted notification; nullopt if
  // notify does not know it.
  virtual std::optional<Accepted> Status(const std::string& notification_id) = 0;
  // The same for the notification a Send with `request_id` created; nullopt
  // if no such Send reached notify. Lets a retry learn whether an earlier
  // attempt, whose answer was lost, was taken.
  virtual std::optional<Accepted> StatusByRequest(const std::string& request_id) = 0;
};

}  // namespace billing::invoice::domain
