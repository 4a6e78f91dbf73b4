// notify's templates rendered with hostile values (markup, Mustache tags,
// header-breaking newlines, invalid UTF-8) for every kind and channel, then
// built into the email that leaves: no crash, no exception, caller text never
// becomes markup in the HTML part, and the message's header block is exactly
// the headers we write (a newline in a name or subject never starts a new
// header; the API refuses such text anyway, this is the second line).
#include <cstdlib>

#include "fuzz_input.h"
#include "src/clients/mime.h"
#include "src/clients/template_renderer.h"

using namespace billing::notify;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const clients::TemplateRenderer renderer(std::getenv("BILLING_NOTIFY_TEMPLATE_DIR")
                                                      ? std::getenv("BILLING_NOTIFY_TEMPLATE_DIR")
                                                      : BILLING_NOTIFY_TEMPLATE_DIR);
  billing::fuzz::FuzzInput in(data, size);
  domain::SendCommand cmd;
  cmd.recipient_name = in.Next();
  cmd.business_name = in.Next();
  cmd.booking.activity_name = in.Next();
  cmd.booking.confirmation_code = in.Next();
  cmd.booking.date = in.Next();
  cmd.pay_url = "https://pay.example.com/i/" + in.Next();
  cmd.payment_reference = in.Next();
  cmd.invoice_id = "inv-1";
  cmd.amount = billing::money::Money{.amount_minor = 12345, .currency = "USD"};
  cmd.balance_remaining = billing::money::Money{.amount_minor = 100, .currency = "USD"};
  cmd.due_at = billing::clock::FromUnixMicros(1'700'000'000'000'000);
  cmd.paid_at = cmd.due_at;
  const std::string marker = "<b>fuzz" + std::to_string(size) + "</b>";
  cmd.recipient_name += marker;

  for (const auto kind : {domain::Kind::kInvoiceLink, domain::Kind::kReceipt, domain::Kind::kBookingConfirmation,
                          domain::Kind::kPaymentReminder}) {
    for (const auto channel : {domain::Channel::kEmail, domain::Channel::kSms}) {
      cmd.kind = kind;
      cmd.channel = channel;
      domain::Content c;
      try {
        c = renderer.Render(cmd);
      } catch (...) {
        FUZZ_CHECK(false && "Render threw");
      }
      FUZZ_CHECK(c.html.find(marker) == std::string::npos);  // escaped, never markup
      if (channel != domain::Channel::kEmail) continue;
      domain::OutgoingMessage m{.notification_id = "n-1", .channel = channel, .to = "ann@example.com",
                                .to_name = cmd.recipient_name, .from_name = cmd.business_name, .content = c,
                                .created_at = *cmd.due_at};
      const std::string mail = clients::BuildEmail(m, "billing@example.com");
      const std::string headers = mail.substr(0, mail.find("\r\n\r\n"));
      int named = 0;
      std::size_t start = 0;
      while (start <= headers.size()) {
        const auto end = std::min(headers.find("\r\n", start), headers.size());
        const std::string line = headers.substr(start, end - start);
        FUZZ_CHECK(line.find('\r') == std::string::npos && line.find('\n') == std::string::npos);
        if (!line.empty() && line[0] != ' ' && line[0] != '\t') {
          ++named;
          static const char* kOurs[] = {"Date:", "Message-ID:", "From:", "To:", "Subject:", "MIME-Version:",
                                        "Content-Type:"};
          bool ours = false;
          for (const char* h : kOurs) ours = ours || line.rfind(h, 0) == 0;
          FUZZ_CHECK(ours);
        }
        start = end + 2;
      }
      FUZZ_CHECK(named == 7);
    }
  }
  return 0;
}
