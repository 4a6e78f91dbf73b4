#!/usr/bin/env bash
# The README's first command: set up this machine, build, start a local
# PostgreSQL (under .local/), the three services, and walk one invoice from
# booking to creation, printing each call. The services keep running for
# grpcurl / buf curl; `bash scripts/run-local.sh stop` stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
STATE=$ROOT/.local/run
PG_PORT=${LOCAL_PG_PORT:-55432}
INVOICE_ADDR=127.0.0.1:${INVOICE_PORT:-50051}
# Payments reports outcomes to a port of invoice's own, as in Kubernetes.
INVOICE_EVENTS_ADDR=127.0.0.1:${INVOICE_EVENTS_PORT:-50061}
PAYMENTS_ADDR=127.0.0.1:${PAYMENTS_PORT:-50052}
NOTIFY_ADDR=127.0.0.1:${NOTIFY_PORT:-50053}
STRIPE_ADDR=127.0.0.1:${STRIPE_EMULATOR_PORT:-12111}
source scripts/lib/pg.sh
PGDIR=$(pg_dir_for "$ROOT/.local/pg")

stop_services() {
  local pids=()
  for svc in invoice payments notify stripe-emulator; do
    if [ -f "$STATE/$svc.pid" ]; then
      pids+=("$(cat "$STATE/$svc.pid")")
      rm -f "$STATE/$svc.pid"
    fi
  done
  ((${#pids[@]})) || return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  # Wait for them to let go of their ports before anything restarts.
  for _ in $(seq 1 150); do
    kill -0 "${pids[@]}" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "${pids[@]}" 2>/dev/null || true
}

if [ "${1:-}" = "stop" ]; then
  stop_services
  pg_stop "$PGDIR"
  echo "stopped the services and PostgreSQL"
  exit 0
fi

bash scripts/setup.sh
bash scripts/build.sh
mkdir -p "$STATE"
stop_services

echo "==> PostgreSQL on 127.0.0.1:$PG_PORT (data in $PGDIR)"
if ! pg_running "$PGDIR"; then
  pg_start "$PGDIR" "$PG_PORT"
fi
PSQL=(psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1)
for db in invoice payments notify; do
  if [ -z "$("${PSQL[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
    "${PSQL[@]}" -c "CREATE DATABASE $db"
  fi
done

echo "==> Stripe emulator on $STRIPE_ADDR (in place of api.stripe.com)"
LISTEN_ADDRESS="$STRIPE_ADDR" "$ROOT/build/tools/stripe-emulator/stripe-emulator" >"$STATE/stripe-emulator.log" 2>&1 &
echo $! >"$STATE/stripe-emulator.pid"
for _ in $(seq 1 50); do
  curl -sf "http://$STRIPE_ADDR/_emulator/health" >/dev/null && break
  sleep 0.1
done
curl -sf "http://$STRIPE_ADDR/_emulator/health" >/dev/null || { echo "the Stripe emulator did not start; see $STATE/stripe-emulator.log" >&2; exit 1; }

start_service() {
  local svc=$1 addr=$2 metrics=$3; shift 3
  env DATABASE_URL="postgresql://postgres@127.0.0.1:$PG_PORT/$svc" \
      GRPC_LISTEN_ADDRESS="$addr" METRICS_LISTEN_ADDRESS="127.0.0.1:$metrics" "$@" \
      "$ROOT/build/services/$svc/$svc" >"$STATE/$svc.log" 2>&1 &
  echo $! >"$STATE/$svc.pid"
}
echo "==> starting invoice ($INVOICE_ADDR), payments ($PAYMENTS_ADDR), notify ($NOTIFY_ADDR); logs in $STATE"
start_service invoice "$INVOICE_ADDR" 9461 PAY_LINK_BASE_URL="${PAY_LINK_BASE_URL:-http://localhost:8080/pay}" \
  BUSINESS_NAME="${BUSINESS_NAME:-Sunset Kayaks}" NOTIFY_ADDRESS="$NOTIFY_ADDR" PAYMENTS_ADDRESS="$PAYMENTS_ADDR" \
  PAYMENT_EVENTS_LISTEN_ADDRESS="$INVOICE_EVENTS_ADDR"
WEBHOOK_ADDR=127.0.0.1:${PAYMENTS_WEBHOOK_PORT:-8462}
start_service payments "$PAYMENTS_ADDR" 9462 STRIPE_API_BASE="http://$STRIPE_ADDR" STRIPE_SECRET_KEY=sk_test_local \
  STRIPE_WEBHOOK_SECRETS=whsec_local_demo DEFAULT_RETURN_URL="http://localhost:8080/pay/return" \
  WEBHOOK_LISTEN_ADDRESS="$WEBHOOK_ADDR" INVOICE_ADDRESS="$INVOICE_EVENTS_ADDR"
# The emulator signs its webhooks with the secret payments checks.
curl -sf -X POST "http://$STRIPE_ADDR/_emulator/webhook_endpoints" -H 'Content-Type: application/json' \
  -d '{"url":"http://'"$WEBHOOK_ADDR"'/stripe/webhook","secrets":["whsec_local_demo"],"enabled_events":["*"]}' >/dev/null
# The file transport: each message the customer would receive lands in
# $OUTBOX (an .eml, or an .sms.txt). Point EMAIL_TRANSPORT / SMS_TRANSPORT at
# smtp / twilio (see the README) to send for real.
OUTBOX=$STATE/outbox
rm -rf "$OUTBOX"
start_service notify "$NOTIFY_ADDR" 9463 FILE_OUTBOX_DIR="$OUTBOX" DEFAULT_REGION=US \
  EMAIL_FROM_ADDRESS="billing@sunsetkayaks.example" DISPATCH_POLL_INTERVAL_MS=100

BUF=(node_modules/.bin/buf curl --protocol grpc --http2-prior-knowledge)
for addr in "$INVOICE_ADDR" "$PAYMENTS_ADDR" "$NOTIFY_ADDR"; do
  for _ in $(seq 1 100); do
    if "${BUF[@]}" "http://$addr/grpc.health.v1.Health/Check" -d '{}' 2>/dev/null | grep -q '"SERVING"'; then
      continue 2
    fi
    sleep 0.2
  done
  echo "service at $addr did not become SERVING; see $STATE/*.log" >&2
  exit 1
done
echo "    all three SERVING"

call() {
  local method=$1 body=$2
  echo
  echo "==> $method"
  echo "    $body"
  "${BUF[@]}" "http://$INVOICE_ADDR/billing.invoice.v1.InvoiceService/$method" -d "$body" | tee "$STATE/last.json"
}

RUN=$(date +%s)
BOOKING="demo-$RUN"
field() {  # field <json file> <js expression on v>
  node -e 'const v = JSON.parse(require("fs").readFileSync(process.argv[1])); console.log(eval(process.argv[2]))' "$1" "$2"
}

call UpsertBooking '{"request_id":"demo-booking-'"$RUN"'","booking":{"booking_id":"'"$BOOKING"'","status":"BOOKING_STATUS_PENDING","customer":{"name":"Ann Lee","email":"ann@example.com","phone":"+14155550123"},"total":{"amount_minor":25000,"currency_code":"USD"},"activity_name":"Sunset kayak tour","start_local":"2026-12-01T17:00","end_local":"2026-12-01T19:30","time_zone":"America/Denver","confirmation_code":"K7Q2-PX"}}'
call CreateInvoice '{"request_id":"demo-invoice-'"$RUN"'","booking_id":"'"$BOOKING"'","amount":{"amount_minor":10000,"currency_code":"USD"},"confirm_on_pay":true,"send_type":"CHANNEL_EMAIL","line_items":[{"name":"Adult ticket","quantity":2,"unit_amount":{"amount_minor":12500,"currency_code":"USD"}}],"days_until_due":7}'
INVOICE_ID=$(field "$STATE/last.json" v.invoice.invoiceId)
call GetInvoice '{"invoice_id":"'"$INVOICE_ID"'"}'
cp "$STATE/last.json" "$STATE/invoice.json"
call ResendInvoice '{"request_id":"demo-resend-'"$RUN"'","invoice_id":"'"$INVOICE_ID"'","send_type":"CHANNEL_SMS"}'
call CreateInvoice '{"request_id":"demo-second-'"$RUN"'","booking_id":"'"$BOOKING"'","amount":{"amount_minor":15000,"currency_code":"USD"},"send_type":"CHANNEL_EMAIL"}'
SECOND_ID=$(field "$STATE/last.json" v.invoice.invoiceId)
call ListInvoices '{"booking_id":"'"$BOOKING"'","page_size":10}'
call CloseInvoice '{"request_id":"demo-close-'"$RUN"'","invoice_id":"'"$SECOND_ID"'","reason":"replaced by a new quote"}'
call ListInvoiceEvents '{"invoice_id":"'"$INVOICE_ID"'"}'
node -e '
  const v = JSON.parse(require("fs").readFileSync(process.argv[1]));
  const due = v.dueNow, b = v.booking;
  const cents = (due.amountMinor || "0").padStart(3, "0");  // USD: two decimals, no floats
  console.log(`\nInvoice ${v.invoice.invoiceId} is ${v.invoice.status.replace("INVOICE_STATUS_", "")}: ` +
              `${due.currencyCode} ${cents.slice(0, -2)}.${cents.slice(-2)} due now for ` +
              `"${b.activityName}" on ${b.date} ${b.start}-${b.end}.`);
  console.log(`Pay link: ${v.invoice.payUrl}`);' "$STATE/invoice.json"
echo "A second invoice ($SECOND_ID) was created, listed and closed; the first was resent by SMS."

echo
echo "==> notify delivered the first invoice's link by email and by SMS (files in $OUTBOX):"
# Asked of notify itself: the invoice's notifications and their states.
sent_ids() {
  "${BUF[@]}" "http://$NOTIFY_ADDR/billing.notify.v1.NotifyService/ListNotifications" \
    -d '{"invoice_id":"'"$INVOICE_ID"'"}' >"$STATE/notifications.json" 2>/dev/null || return 0
  node -e 'const v = JSON.parse(require("fs").readFileSync(process.argv[1]));
    for (const n of v.notifications || []) if (n.status === "NOTIFICATION_STATUS_SENT") console.log(n.notificationId);' \
    "$STATE/notifications.json"
}
for _ in $(seq 1 100); do
  [ "$(sent_ids | grep -c .)" -ge 2 ] && break
  sleep 0.1
done
ids=$(sent_ids)
[ "$(echo "$ids" | grep -c .)" -ge 2 ] || { echo "notify did not deliver the link; see $STATE/notify.log" >&2; exit 1; }
delivered=$(for id in $ids; do ls "$OUTBOX/$id".*; done)
for f in $delivered; do
  echo
  echo "--- $f"
  case $f in
    *.sms.txt) cat "$f" ;;
    # Decoded as a mail client would show it: headers and the text part.
    *.eml) python3 -c '
import sys
from email import policy
from email.parser import BytesParser
m = BytesParser(policy=policy.default).parse(open(sys.argv[1], "rb"))
for h in ("From", "To", "Subject", "Message-ID"):
    print("%s: %s" % (h, m[h]))
print()
print(m.get_body(preferencelist=("plain",)).get_content().rstrip())
print("(+ an HTML part)")' "$f" ;;
  esac
done

token_of() {  # the token is the pay link's last path segment
  field "$1" 'v.invoice.payUrl.split("/").pop()'
}
outcome() {
  node -e '
    const v = JSON.parse(require("fs").readFileSync(process.argv[1]));
    const o = (v.outcome || "").replace("PAY_OUTCOME_", "");
    let line = `\n${process.argv[2]}: ${o}, PaymentIntent ${v.paymentIntentId}, invoice ${v.invoice.status.replace("INVOICE_STATUS_", "")}`;
    if (v.confirmationCode) line += `, confirmation code ${v.confirmationCode}`;
    if (v.failureMessage) line += ` (${v.failureMessage})`;
    console.log(line + ".");' "$1" "$2"
}

echo
echo "==> the customer pays the first invoice on the payment page (a card that needs no 3-D Secure)"
TOKEN=$(token_of "$STATE/invoice.json")
call PayInvoice '{"request_id":"demo-pay-'"$RUN"'","token":"'"$TOKEN"'","payment_method_id":"pm_card_visa"}'
cp "$STATE/last.json" "$STATE/pay1.json"
outcome "$STATE/pay1.json" "Paid"
[ "$(field "$STATE/pay1.json" v.outcome)" = PAY_OUTCOME_SUCCEEDED ] || { echo "the payment did not succeed; see $STATE/*.log" >&2; exit 1; }
call GetBooking '{"booking_id":"'"$BOOKING"'"}'
node -e '
  const b = JSON.parse(require("fs").readFileSync(process.argv[1])).booking;
  const m = (x) => { const c = (x.amountMinor || "0").padStart(3, "0"); return `${x.currencyCode} ${c.slice(0, -2)}.${c.slice(-2)}`; };
  console.log(`\nBooking ${b.bookingId}: ${b.status.replace("BOOKING_STATUS_", "")} (confirmed on pay), paid ${m(b.paid)}, balance ${m(b.balance)}.`);' \
  "$STATE/last.json"

echo
echo "==> a second booking, paid in full with a card that needs 3-D Secure"
BOOKING2="demo-3ds-$RUN"
call UpsertBooking '{"request_id":"demo-booking2-'"$RUN"'","booking":{"booking_id":"'"$BOOKING2"'","status":"BOOKING_STATUS_PENDING","customer":{"name":"Raj Patel","email":"raj@example.com","phone":"+14155550199"},"total":{"amount_minor":18000,"currency_code":"USD"},"activity_name":"Canyon e-bike rental","start_local":"2026-12-03T09:00","end_local":"2026-12-03T13:00","time_zone":"America/Denver","confirmation_code":"M3B8-ZT","required_agreement_ids":["waiver-2026"]}}'
call CreateInvoice '{"request_id":"demo-invoice2-'"$RUN"'","booking_id":"'"$BOOKING2"'","amount":{"amount_minor":18000,"currency_code":"USD"},"confirm_on_pay":true,"send_type":"CHANNEL_EMAIL"}'
TOKEN2=$(token_of "$STATE/last.json")
INVOICE2_ID=$(field "$STATE/last.json" v.invoice.invoiceId)
call PayInvoice '{"request_id":"demo-pay2-'"$RUN"'","token":"'"$TOKEN2"'","payment_method_id":"pm_card_threeDSecure2Required","accepted_agreement_ids":["waiver-2026"]}' >/dev/null
cp "$STATE/last.json" "$STATE/pay2.json"
outcome "$STATE/pay2.json" "First answer"
PI2=$(field "$STATE/pay2.json" v.paymentIntentId)
[ "$(field "$STATE/pay2.json" v.outcome)" = PAY_OUTCOME_REQUIRES_ACTION ] || { echo "expected 3-D Secure; see $STATE/*.log" >&2; exit 1; }
echo "(the answer's clientSecret goes to Stripe.js; it is not printed here)"
echo
echo "==> the customer completes 3-D Secure (the emulator's stand-in for the bank's page)"
curl -sf -X POST "http://$STRIPE_ADDR/_emulator/payment_intents/$PI2/authenticate" -H 'Content-Type: application/json' \
  -d '{"outcome":"succeed"}' | node -e 'const p = JSON.parse(require("fs").readFileSync(0)); console.log(`    ${p.id}: ${p.status}`);'
call PayInvoice '{"request_id":"demo-pay2-done-'"$RUN"'","token":"'"$TOKEN2"'","handled_payment_intent_id":"'"$PI2"'"}'
outcome "$STATE/last.json" "After 3-D Secure"
[ "$(field "$STATE/last.json" v.outcome)" = PAY_OUTCOME_SUCCEEDED ] || { echo "the 3-D Secure payment did not succeed; see $STATE/*.log" >&2; exit 1; }

echo
echo "==> receipts and confirmations reach the customers (files in $OUTBOX):"
receipts() {  # sent receipts and confirmations, as notify reports them
  for inv in "$INVOICE_ID" "$INVOICE2_ID"; do
    "${BUF[@]}" "http://$NOTIFY_ADDR/billing.notify.v1.NotifyService/ListNotifications" -d '{"invoice_id":"'"$inv"'"}' \
      >"$STATE/notifications-$inv.json" 2>/dev/null || continue
    node -e '
      const v = JSON.parse(require("fs").readFileSync(process.argv[1]));
      for (const n of v.notifications || [])
        if (n.status === "NOTIFICATION_STATUS_SENT" && /RECEIPT|CONFIRMATION/.test(n.kind))
          console.log(`  ${n.recipient}: "${n.subject}" (${n.providerMessageId.replace("file:", "")})`);' \
      "$STATE/notifications-$inv.json"
  done
}
for _ in $(seq 1 100); do
  [ "$(receipts | grep -c .)" -ge 4 ] && break
  sleep 0.1
done
receipts
echo
echo "Stripe's side (the emulator's ledger):"
curl -s "http://$STRIPE_ADDR/_emulator/ledger" | node -e '
  const l = JSON.parse(require("fs").readFileSync(0)).summary;
  console.log("  PaymentIntents by status:", JSON.stringify(l.payment_intents_by_status), " captured:", JSON.stringify(l.captured));'

cat <<TXT

The services and the Stripe emulator (http://$STRIPE_ADDR) keep running. Try:
  node_modules/.bin/buf curl --protocol grpc --http2-prior-knowledge --list-services http://$INVOICE_ADDR
  node_modules/.bin/buf curl --protocol grpc --http2-prior-knowledge http://$NOTIFY_ADDR/billing.notify.v1.NotifyService/ListNotifications -d '{"invoice_id":"$INVOICE_ID"}'
  node_modules/.bin/buf curl --protocol grpc --http2-prior-knowledge http://$PAYMENTS_ADDR/billing.payments.v1.PaymentService/ListPayments -d '{"invoice_id":"$INVOICE_ID"}'
  curl -s 127.0.0.1:9461/metrics | grep grpc_server_handled_total
  curl -s http://$STRIPE_ADDR/_emulator/ledger
Stop everything with:
  bash scripts/run-local.sh stop
TXT
