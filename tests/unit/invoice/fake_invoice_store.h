#pragma once

#include <map>
#include <mutex>
#include <vector>

#include "domain/invoice_store.h"

namespace billing::invoice::testing {

// An in-memory InvoiceStore for domain unit tests. Transactions run one at a
// time on a copy of the data that replaces the original only if the function
// returns, so a throwing function leaves no trace (as a rollback would).
class FakeInvoiceStore final : public domain::InvoiceStore {
 public:
  struct Data {
    std::map<std::pair<std::string, std::string>, domain::IdempotencyRecord> keys;
    std::map<std::string, domain::Booking> bookings;
    std::map<std::string, domain::Invoice> invoices;
    std::vector<domain::CustomerPayment> payments;
    std::vector<domain::InvoiceEvent> events;
  };

  void InTransaction(const std::function<void(domain::InvoiceTx&)>& fn) override;

  // A copy of the committed data, for assertions.
  Data Snapshot() const;
  int transactions() const { return transactions_; }

 private:
  mutable std::mutex mu_;
  Data data_;
  int transactions_ = 0;
};

}  // namespace billing::invoice::testing
