#pragma once

#include <chrono>
#include <exception>
#include <functional>
#include <stop_token>
#include <string>

#include "clock/clock.h"
#include "domain/event_sink.h"
#include "domain/payment_service.h"

// The payments service's background work. Every worker claims its rows with
// leases (FOR UPDATE SKIP LOCKED underneath), so any number of replicas can
// run them at once without doing the same job twice.
namespace billing::payments::domain {

// Called for a row a worker could not finish (logged by main); the row is
// retried later.
using WorkerErrorHandler = std::function<void(const std::string& what, const std::string& id, const std::exception&)>;

// Resolves what calls left behind: PENDING payments whose answer was lost,
// unfinished 3-D Secure past its timeout, PROCESSING payments, abandoned
// PaymentIntents still to cancel, and refunds still to send to Stripe.
class Sweeper {
 public:
  struct Options {
    // Payments (and refunds) handled per pass, each claimed on its own.
    int batch_size = 20;
    // Longer than one payment's Stripe calls take, retries included.
    std::chrono::milliseconds lease{std::chrono::seconds(120)};
  };
  Sweeper(PaymentService& service, const clock::Clock& clock, Options options, WorkerErrorHandler on_error);
  // One pass; returns how many payments and refunds it handled.
  int SweepOnce(std::stop_token stop = {});

 private:
  PaymentService& service_;
  const clock::Clock& clock_;
  Options options_;
  WorkerErrorHandler on_error_;
};

// Delivers queued payment outcomes to the invoice service, with exponential
// backoff for as long as it takes (a refused event is marked and logged).
class EventDispatcher {
 public:
  struct Options {
    int batch_size = 20;
    std::chrono::milliseconds lease{std::chrono::seconds(30)};
    std::chrono::milliseconds first_backoff{std::chrono::seconds(1)};
    std::chrono::milliseconds max_backoff{std::chrono::minutes(5)};
  };
  EventDispatcher(PaymentStore& store, PaymentEventSink& sink, const clock::Clock& clock, Options options,
                  WorkerErrorHandler on_error);
  // One pass; returns how many events the invoice service took.
  int DispatchOnce(std::stop_token stop = {});
  std::chrono::milliseconds Backoff(int attempts) const;

 private:
  PaymentStore& store_;
  PaymentEventSink& sink_;
  const clock::Clock& clock_;
  Options options_;
  WorkerErrorHandler on_error_;
};

}  // namespace billing::payments::domain
