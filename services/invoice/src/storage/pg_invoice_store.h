#pragma once

#include "db/pool.h"
#include "domain/invoice_store.h"

namespace billing::invoice::storage {

// The invoice service's data on PostgreSQL (schema: migrations/).
class PgInvoiceStore final : public domain::InvoiceStore {
 public:
  explicit PgInvoiceStore(db::Pool& pool) : pool_(pool) {}
  void InTransaction(const std::function<void(domain::InvoiceTx&)>& fn) override;

 private:
  db::Pool& pool_;
};

}  // namespace billing::invoice::storage
