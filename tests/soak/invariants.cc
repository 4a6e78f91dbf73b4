#include "soak/invariants.h"

#include <map>
#include <set>
#include <thread>

#include "support/postgres.h"

namespace billing::testing::soak {
namespace {

// What each database still has in flight; all zero once settled.
struct Pending {
  const char* what;
  bool invoice_db;  // else payments or notify
  const char* db;
  const char* sql;
};
constexpr Pending kPending[] = {
    {"pay attempts in progress", true, "invoice",
     "SELECT count(*) FROM pay_attempts WHERE status IN ('STARTED', 'REQUIRES_ACTION', 'PROCESSING')"},
    {"invoices pointing at a pending attempt", true, "invoice",
     "SELECT count(*) FROM invoices WHERE pending_attempt_id IS NOT NULL"},
    {"cancels/refunds owed to payments", true, "invoice",
     "SELECT count(*) FROM payment_actions WHERE state = 'PENDING'"},
    {"invoice notifications not yet sent", true, "invoice",
     "SELECT count(*) FROM invoice_notifications WHERE state IN ('PENDING', 'QUEUED')"},
    {"payments not final", false, "payments",
     "SELECT count(*) FROM payments WHERE status IN ('PENDING', 'REQUIRES_ACTION', 'PROCESSING')"},
    {"refunds pending", false, "payments", "SELECT count(*) FROM refunds WHERE status = 'PENDING'"},
    {"payment events not delivered to invoice", false, "payments",
     "SELECT count(*) FROM payment_events_outbox WHERE state = 'PENDING'"},
    {"notifications queued", false, "notify", "SELECT count(*) FROM notifications WHERE status = 'QUEUED'"},
};

std::string DbUrl(System& s, const std::string& db) {
  if (db == "invoice") return s.invoice_db();
  if (db == "payments") return s.payments_db();
  return s.notify_db();
}

// The notification id in each received mail's Message-ID
// (<notification id@sender domain>, services/notify/src/clients/mime.cc).
std::map<std::string, int> MailsByNotification(System& s) {
  std::map<std::string, int> out;
  for (const auto& m : s.smtp().Messages()) {
    const std::string eml = ReadFile(m.eml_path);
    const auto at = eml.find("\nMessage-ID: <");
    if (at == std::string::npos) {
      ++out["(no Message-ID)"];
      continue;
    }
    const auto start = at + 14;
    ++out[eml.substr(start, eml.find('@', start) - start)];
  }
  return out;
}

std::string SqlList(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& v : values) out += (out.empty() ? "'" : ",'") + v + "'";
  return out;
}

InvariantResult Balances(System& s) {
  const long long wrong = QueryInt(s.invoice_db(),
                                   "SELECT count(*) FROM bookings b WHERE b.paid_minor <> "
                                   "(SELECT COALESCE(sum(p.amount_minor), 0) FROM customer_payments p "
                                   "WHERE p.booking_id = b.booking_id)");
  const long long over = QueryInt(s.invoice_db(), "SELECT count(*) FROM bookings WHERE paid_minor > total_minor");
  const long long bookings = QueryInt(s.invoice_db(), "SELECT count(*) FROM bookings");
  return {"balances", wrong == 0 && over == 0,
          wrong == 0 && over == 0 ? std::to_string(bookings) + " bookings"
                                  : std::to_string(wrong) + " bookings whose paid amount is not their payments' sum, " +
                                        std::to_string(over) + " paid over their total"};
}

InvariantResult LedgerMatches(System& s) {
  const auto ledger = s.Emulator("GET", "/_emulator/ledger").Json();
  const long long captured = ledger["summary"]["captured"].value("usd", 0LL);
  const long long refunded = ledger["summary"]["refunded"].value("usd", 0LL);
  const long long recorded =
      QueryInt(s.invoice_db(), "SELECT COALESCE(sum(amount_minor), 0) FROM customer_payments WHERE source = 'INVOICE'");
  const long long payments_net = QueryInt(
      s.payments_db(), "SELECT COALESCE(sum(amount_received_minor - amount_refunded_minor), 0) FROM payments");
  const bool held = captured - refunded == recorded && recorded == payments_net;
  return {"ledger", held,
          "Stripe kept " + std::to_string(captured - refunded) + " (captured " + std::to_string(captured) +
              ", refunded " + std::to_string(refunded) + "); invoice recorded " + std::to_string(recorded) +
              "; payments recorded " + std::to_string(payments_net)};
}

InvariantResult ChargedOnce(System& s) {
  // Money kept for one invoice by more than one payment would be a double
  // charge (a second capture must have been refunded).
  const long long twice = QueryInt(s.payments_db(),
                                   "SELECT count(*) FROM (SELECT invoice_id FROM payments "
                                   "WHERE amount_received_minor - amount_refunded_minor > 0 "
                                   "GROUP BY invoice_id HAVING count(*) > 1) t");
  const long long refunded_extra =
      QueryInt(s.payments_db(), "SELECT count(*) FROM payments WHERE amount_refunded_minor > 0");
  const long long paid = QueryInt(s.invoice_db(), "SELECT count(*) FROM invoices WHERE status = 'PAID'");
  return {"charged once", twice == 0,
          twice == 0 ? std::to_string(paid) + " invoices paid; " + std::to_string(refunded_extra) +
                           " unwanted captures refunded"
                     : std::to_string(twice) + " invoices charged more than once"};
}

InvariantResult NothingLost(System& s, Acknowledged& acks) {
  std::vector<std::string> invoices;
  std::vector<std::pair<std::string, std::string>> paid;
  {
    std::lock_guard lock(acks.mu);
    invoices = acks.invoices;
    paid = acks.paid;
  }
  long long missing = 0;
  for (std::size_t i = 0; i < invoices.size(); i += 500) {
    const std::vector<std::string> chunk(invoices.begin() + static_cast<long>(i),
                                         invoices.begin() + static_cast<long>(std::min(invoices.size(), i + 500)));
    missing += static_cast<long long>(chunk.size()) -
               QueryInt(s.invoice_db(), "SELECT count(*) FROM invoices WHERE invoice_id IN (" + SqlList(chunk) + ")");
  }
  // Each acknowledged payment is exactly one recorded payment of its
  // invoice; 500 pairs per query, so thousands take a few round trips.
  long long unpaid = 0;
  for (std::size_t i = 0; i < paid.size(); i += 500) {
    std::string values;
    const std::size_t end = std::min(paid.size(), i + 500);
    for (std::size_t k = i; k < end; ++k) {
      values += (values.empty() ? "('" : ",('") + paid[k].first + "','" + paid[k].second + "')";
    }
    unpaid += static_cast<long long>(end - i) -
              QueryInt(s.invoice_db(),
                       "SELECT count(*) FROM (VALUES " + values + ") AS v(invoice_id, intent) WHERE (SELECT count(*) "
                       "FROM customer_payments c WHERE c.invoice_id = CAST(v.invoice_id AS UUID) AND c.payment_intent_id = "
                       "v.intent) = 1");
  }
  return {"nothing lost", missing == 0 && unpaid == 0,
          std::to_string(invoices.size()) + " acknowledged invoices, " + std::to_string(paid.size()) +
              " acknowledged payments" +
              (missing + unpaid == 0
                   ? std::string(", all present")
                   : "; missing: " + std::to_string(missing) + " invoices, " + std::to_string(unpaid) + " payments")};
}

InvariantResult SentOnce(System& s, bool notify_killed) {
  const auto mails = MailsByNotification(s);
  long long twice = 0;
  for (const auto& [id, n] : mails) twice += n > 1 ? 1 : 0;
  const long long email_sent =
      QueryInt(s.notify_db(), "SELECT count(*) FROM notifications WHERE status = 'SENT' AND channel = 'EMAIL'");
  const long long sms_sent =
      QueryInt(s.notify_db(), "SELECT count(*) FROM notifications WHERE status = 'SENT' AND channel = 'SMS'");
  const long long failed = QueryInt(s.notify_db(), "SELECT count(*) FROM notifications WHERE status = 'FAILED'");
  const long long sms_received = static_cast<long long>(s.sms().Messages().size());
  const long long invoice_sent =
      QueryInt(s.invoice_db(), "SELECT count(*) FROM invoice_notifications WHERE state = 'SENT'");
  // Every notification notify marked SENT arrived (and arrived once);
  // none gave up; invoice knows each of its notifications went out.
  const bool exact = static_cast<long long>(mails.size()) == email_sent && sms_received >= sms_sent && failed == 0 &&
                     invoice_sent == email_sent + sms_sent;
  const bool once = twice == 0 && sms_received == sms_sent;
  std::string detail = std::to_string(email_sent) + " emails and " + std::to_string(sms_sent) + " SMS sent, " +
                       std::to_string(mails.size()) + " distinct emails and " + std::to_string(sms_received) +
                       " SMS received, " + std::to_string(failed) + " failed, invoice counts " +
                       std::to_string(invoice_sent);
  if (!once) {
    detail += "; " + std::to_string(twice) + " emails and " + std::to_string(sms_received - sms_sent) +
              " SMS delivered twice" +
              (notify_killed ? " after a notify replica was killed mid-send (the documented at-least-once window)"
                             : " with no notify replica killed");
  }
  return {"sent once", exact && (once || notify_killed), detail};
}

InvariantResult NoSecretsInLogs(System& s) {
  const std::string logs = s.Logs();
  std::vector<std::string> found;
  for (const char* secret : {kStripeKey, kWebhookSecret, "_secret_", "sms-token-Secret-7c1f", "4242424242424242"}) {
    if (logs.find(secret) != std::string::npos) found.emplace_back(secret);
  }
  std::string names;
  for (const auto& f : found) names += (names.empty() ? "" : ", ") + f.substr(0, 6) + "...";
  return {"no secrets in logs", found.empty(),
          found.empty() ? std::to_string(logs.size() / 1024) + " KiB of logs scanned" : "found: " + names};
}

}  // namespace

std::string InFlight(System& s) {
  std::string out;
  for (const auto& p : kPending) {
    const long long n = QueryInt(DbUrl(s, p.db), p.sql);
    if (n > 0) out += (out.empty() ? "" : ", ") + std::to_string(n) + " " + p.what;
  }
  return out;
}

double WaitUntilSettled(System& system, std::chrono::seconds timeout) {
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < timeout) {
    try {
      if (InFlight(system).empty()) {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      }
    } catch (const std::exception&) {
      // The database is still coming back.
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return -1;
}

std::vector<InvariantResult> CheckInvariants(System& system, Acknowledged& acks, bool notify_killed) {
  const std::string in_flight = InFlight(system);
  return {Balances(system),
          LedgerMatches(system),
          ChargedOnce(system),
          NothingLost(system, acks),
          SentOnce(system, notify_killed),
          {"nothing stuck", in_flight.empty(), in_flight.empty() ? "no attempt, payment or outbox row pending" : in_flight},
          NoSecretsInLogs(system)};
}

std::vector<std::pair<std::string, std::string>> InvariantDescriptions() {
  return {
      {"balances", "every booking's paid amount equals the sum of its recorded payments and never exceeds its total"},
      {"ledger",
       "the money the Stripe emulator kept (captured minus refunded) equals invoice's recorded card payments and "
       "payments' own records"},
      {"charged once", "no invoice kept money from more than one payment"},
      {"nothing lost",
       "every invoice whose CreateInvoice answered OK exists, and every PayInvoice answered SUCCEEDED is a recorded "
       "payment of that invoice"},
      {"sent once",
       "every notification marked SENT arrived exactly once (email by Message-ID, SMS by count), none FAILED, and "
       "invoice saw each one sent"},
      {"nothing stuck",
       "once faults stop, no pay attempt, payment, refund or outbox row stays pending past the sweepers' periods"},
      {"no secrets in logs", "no log line of any process carries the Stripe key, webhook secret, SMS token, a "
                             "client secret or a card number"},
  };
}

}  // namespace billing::testing::soak
