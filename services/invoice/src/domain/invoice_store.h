#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "domain/model.h"

namespace billing::invoice::domain {

// One database transaction's view of the invoice service's data. Lock*
// methods take a row lock held until the transaction ends. Implementations:
// storage/pg_invoice_store (PostgreSQL) and, for unit tests, an in-memory
// fake.
class InvoiceTx {
 public:
  virtual ~InvoiceTx() = default;

  // Claims (caller, request_id) for this transaction. Returns nullopt when
  // the key is new (now held by this transaction), or the record of the
  // request that already used it. Concurrent claims of one key serialize: the
  // second waits for the first transaction and then sees its record.
  virtual std::optional<IdempotencyRecord> ClaimIdempotencyKey(const std::string& caller,
                                                               const std::string& request_id,
                                                               const std::string& method,
                                                               const std::string& fingerprint,
                                                               Time now) = 0;
  // Records the resource a claimed key produced.
  virtual void CompleteIdempotencyKey(const std::string& caller, const std::string& request_id,
                                      const std::string& resource_id) = 0;

  virtual std::optional<Booking> LockBooking(const std::string& booking_id) = 0;
  virtual std::optional<Booking> FindBooking(const std::string& booking_id) = 0;
  virtual void InsertBooking(const Booking& booking) = 0;
  // Writes the booking system's fields; paid_minor and created_at stay.
  virtual void UpdateBooking(const Booking& booking) = 0;
  virtual bool BookingHasInvoicesOrPayments(const std::string& booking_id) = 0;

  virtual void InsertInvoice(const Invoice& invoice) = 0;
  virtual std::optional<Invoice> FindInvoice(const std::string& invoice_id) = 0;
  virtual std::optional<Invoice> FindInvoiceByToken(const std::string& token) = 0;

  virtual std::vector<CustomerPayment> ListPayments(const std::string& booking_id) = 0;

  // Appends to the invoice's log with the next sequence number (the caller
  // holds the invoice's row lock, or just created it).
  virtual void AppendEvent(const InvoiceEvent& event) = 0;
};

class InvoiceStore {
 public:
  virtual ~InvoiceStore() = default;
  // Runs fn in one transaction: committed if fn returns, rolled back if it
  // throws. fn may be run again after a transient database failure, so it
  // must not have side effects outside the transaction.
  virtual void InTransaction(const std::function<void(InvoiceTx&)>& fn) = 0;
};

}  // namespace billing::invoice::domain
