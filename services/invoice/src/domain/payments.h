#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "domain/model.h"

// The payments service, as the pay flow needs it. Production:
// clients/grpc_payments; unit tests fake it.
namespace billing::invoice::domain {

// A payment as the payments service reports it.
struct PaymentView {
  std::string payment_id{};
  std::string payment_intent_id{};
  AttemptStatus status = AttemptStatus::kStarted;  // PENDING there is STARTED here
  std::string client_secret{};                     // for REQUIRES_ACTION; never stored
  Money amount_received{};
  std::string failure_code{};  // the decline code when there is one
  std::string failure_message{};
  std::string attempt_id{};  // from the payment's metadata
};

struct CreatePaymentRequest {
  std::string request_id{};  // derived from the attempt: a retry replays
  std::string invoice_id{};
  std::string attempt_id{};
  std::string booking_id{};
  Money amount{};
  PayMethod method = PayMethod::kPaymentMethod;
  std::string method_id{};
  std::string return_url{};
  std::string description{};
};

class Payments {
 public:
  enum class Failure {
    kUnavailable,  // no answer, or payments could not reach Stripe: the outcome is unknown
    kInProgress,   // the same request is still running there (ABORTED)
    kRejected,     // refused for good (Stripe refused it, or the request itself)
    kConflict,     // the payment's state does not allow it (already succeeded, nothing to refund)
  };
  class Error : public std::runtime_error {
   public:
    Error(Failure failure, const std::string& message) : std::runtime_error(message), failure_(failure) {}
    Failure failure() const { return failure_; }

   private:
    Failure failure_;
  };

  virtual ~Payments() = default;
  // Each throws Error.
  virtual PaymentView Create(const CreatePaymentRequest& request) = 0;
  // After 3-D Secure: the payment of this PaymentIntent, as Stripe has it.
  virtual PaymentView Confirm(const std::string& request_id, const std::string& invoice_id,
                              const std::string& payment_intent_id) = 0;
  // Refreshed from Stripe; nullopt when payments does not know it.
  virtual std::optional<PaymentView> Get(const std::string& payment_id) = 0;
  virtual std::vector<PaymentView> ListForInvoice(const std::string& invoice_id) = 0;
  virtual void Cancel(const std::string& request_id, const std::string& payment_id) = 0;
  virtual void Refund(const std::string& request_id, const std::string& payment_id) = 0;
};

}  // namespace billing::invoice::domain
