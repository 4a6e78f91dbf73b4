#!/usr/bin/env bash
# The benchmark command (README): boots PostgreSQL with fsync on, the Stripe
# emulator at zero latency and the three services with file transports;
# measures the ceilings (pgbench -S / -N, an empty health Check) and the
# scenarios in the same run; prints a markdown table and writes it into
# docs/benchmarks.md with the machine's description.
#
#   bash bench/run.sh                 the full run (about 3 minutes on 2 cores)
#   BENCH_QUICK=1 bash bench/run.sh   a smoke run with short phases (the suite's bench_smoke)
# Knobs: BENCH_DURATION_MS, BENCH_WARMUP_MS, BENCH_CONCURRENCY, BENCH_PAY_REQUESTS,
# BENCH_OUTPUT (default docs/benchmarks.md), BENCH_SKIP_BUILD=1.
# For profiling (no report is written):
#   BENCH_SCENARIOS="health get-invoice"  only these scenarios, their results as JSON lines
#   BENCH_PG_STATEMENTS=1                 pg_stat_statements on (planning tracked too); after
#                                         each scenario its costliest statements, from the
#                                         scenario's start until the databases went quiet, are
#                                         printed and kept in $BENCH_STATE_DIR/statements-<scenario>.txt
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
if [ -n "${BENCH_QUICK:-}" ]; then
  DURATION_MS=${BENCH_DURATION_MS:-1500} WARMUP_MS=${BENCH_WARMUP_MS:-300} PAY_REQUESTS=${BENCH_PAY_REQUESTS:-100}
else
  DURATION_MS=${BENCH_DURATION_MS:-10000} WARMUP_MS=${BENCH_WARMUP_MS:-2000} PAY_REQUESTS=${BENCH_PAY_REQUESTS:-2000}
fi
CONCURRENCY=${BENCH_CONCURRENCY:-16}
OUTPUT=${BENCH_OUTPUT:-$ROOT/docs/benchmarks.md}
BUILD=${BUILD_DIR:-$ROOT/build}

if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
  bash scripts/setup.sh
  bash scripts/build.sh
fi
BENCH=$BUILD/bench/billing-bench

source scripts/lib/pg.sh
STATE=${BENCH_STATE_DIR:-$ROOT/.local/bench}
rm -rf "$STATE"
mkdir -p "$STATE/outbox"
PGDIR=$(pg_dir_for "$STATE-pg")
pg_stop "$PGDIR"
rm -rf "$PGDIR"
PG_PORT=$(free_port)
PIDS=()
cleanup() {
  ((${#PIDS[@]})) && kill -TERM "${PIDS[@]}" 2>/dev/null && wait "${PIDS[@]}" 2>/dev/null
  pg_stop "$PGDIR"
}
trap cleanup EXIT

# Durable settings (fsync, synchronous_commit and full_page_writes are on by
# default); only the connection limit is raised.
echo "==> PostgreSQL (fsync on) on 127.0.0.1:$PG_PORT"
PG_SETTINGS=(max_connections=200)
if [ -n "${BENCH_PG_STATEMENTS:-}" ]; then
  PG_SETTINGS+=(shared_preload_libraries=pg_stat_statements pg_stat_statements.track_planning=on)
fi
pg_start "$PGDIR" "$PG_PORT" "${PG_SETTINGS[@]}"
PSQL=(psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1)
for db in invoice payments notify pgbench; do "${PSQL[@]}" -d postgres -c "CREATE DATABASE $db"; done
if [ -n "${BENCH_PG_STATEMENTS:-}" ]; then "${PSQL[@]}" -d postgres -c "CREATE EXTENSION pg_stat_statements"; fi
url() { echo "postgresql://postgres@127.0.0.1:$PG_PORT/$1"; }

# pgbench's own figure: tps over the run, without connection set-up.
pgbench_tps() {
  pgbench -h 127.0.0.1 -p "$PG_PORT" -U postgres -n -c 8 -j 2 -T "$(( (DURATION_MS + 999) / 1000 ))" "$@" pgbench 2>&1 |
    tee -a "$STATE/pgbench.log" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | tail -n 1
}
echo "==> ceilings: pgbench -S and -N (8 clients)"
pgbench -h 127.0.0.1 -p "$PG_PORT" -U postgres -i -q -s 10 pgbench >"$STATE/pgbench.log" 2>&1
PGBENCH_S=$(pgbench_tps -S)
PGBENCH_N=$(pgbench_tps -N)
echo "    pgbench -S: $PGBENCH_S tps, -N: $PGBENCH_N tps"

port() { free_port; }
STRIPE_ADDR=127.0.0.1:$(port)
INVOICE_ADDR=127.0.0.1:$(port) EVENTS_ADDR=127.0.0.1:$(port)
PAYMENTS_ADDR=127.0.0.1:$(port) WEBHOOK_ADDR=127.0.0.1:$(port)
NOTIFY_ADDR=127.0.0.1:$(port)

LISTEN_ADDRESS=$STRIPE_ADDR "$BUILD/tools/stripe-emulator/stripe-emulator" >"$STATE/stripe-emulator.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do curl -sf "http://$STRIPE_ADDR/_emulator/health" >/dev/null && break; sleep 0.05; done
curl -sf -X POST "http://$STRIPE_ADDR/_emulator/webhook_endpoints" -H 'Content-Type: application/json' \
  -d '{"url":"http://'"$WEBHOOK_ADDR"'/stripe/webhook","secrets":["whsec_bench"],"enabled_events":["*"]}' >/dev/null

# The production-like environment of each service.
invoice_env=(PAY_LINK_BASE_URL=https://pay.example.com/i "BUSINESS_NAME=Sunset Kayaks"
             NOTIFY_ADDRESS="$NOTIFY_ADDR" PAYMENTS_ADDRESS="$PAYMENTS_ADDR"
             PAYMENT_EVENTS_LISTEN_ADDRESS="$EVENTS_ADDR" GRPC_LISTEN_ADDRESS="$INVOICE_ADDR")
payments_env=(STRIPE_API_BASE="http://$STRIPE_ADDR" STRIPE_SECRET_KEY=sk_test_bench
              STRIPE_WEBHOOK_SECRETS=whsec_bench DEFAULT_RETURN_URL=https://pay.example.com/return
              WEBHOOK_LISTEN_ADDRESS="$WEBHOOK_ADDR" INVOICE_ADDRESS="$EVENTS_ADDR" GRPC_LISTEN_ADDRESS="$PAYMENTS_ADDR")
notify_env=(FILE_OUTBOX_DIR="$STATE/outbox" DEFAULT_REGION=US EMAIL_FROM_ADDRESS=billing@sunsetkayaks.example
            GRPC_LISTEN_ADDRESS="$NOTIFY_ADDR")
addr_of() { case $1 in invoice) echo "$INVOICE_ADDR" ;; payments) echo "$PAYMENTS_ADDR" ;; notify) echo "$NOTIFY_ADDR" ;; esac; }

# Migrations first, so that start-up is timed against a database that is
# reachable and current, as on any restart but the first.
declare -A PID STARTUP_MS IDLE_KB
for svc in invoice payments notify; do
  DATABASE_URL=$(url "$svc") "$BUILD/services/$svc/$svc" --migrate-only >>"$STATE/migrate.log" 2>&1
done
echo "==> starting the services (time from exec to SERVING)"
for svc in notify payments invoice; do
  metrics_addr=127.0.0.1:$(port) db_url=$(url "$svc")
  declare -n svc_env="${svc}_env"
  t0=$(date +%s%N)
  env DATABASE_URL="$db_url" METRICS_LISTEN_ADDRESS="$metrics_addr" "${svc_env[@]}" \
    "$BUILD/services/$svc/$svc" >"$STATE/$svc.log" 2>&1 &
  unset -n svc_env
  PID[$svc]=$!
  PIDS+=($!)
  STARTUP_MS[$svc]=$("$BENCH" serving-time --target "$(addr_of "$svc")" --since-ns "$t0")
  echo "    $svc: ${STARTUP_MS[$svc]} ms"
done
sleep 2
rss_kb() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"; }
for svc in invoice payments notify; do IDLE_KB[$svc]=$(rss_kb "${PID[$svc]}"); done
PID_SPEC="invoice=${PID[invoice]},payments=${PID[payments]},notify=${PID[notify]}"

RESULTS=$STATE/results.jsonl
: >"$RESULTS"
SCENARIOS=" ${BENCH_SCENARIOS:-health get-invoice create-invoice pay-invoice send-invoice-link} "
run() {  # run <scenario> <target> [extra billing-bench options]
  local scenario=$1 target=$2; shift 2
  [[ $SCENARIOS == *" $scenario "* ]] || return 0
  echo "==> $scenario"
  if [ -n "${BENCH_PG_STATEMENTS:-}" ]; then "${PSQL[@]}" -d postgres -c "SELECT pg_stat_statements_reset()" >/dev/null; fi
  "$BENCH" load --scenario "$scenario" --target "$target" --concurrency "$CONCURRENCY" \
    --duration-ms "$DURATION_MS" --warmup-ms "$WARMUP_MS" --pids "$PID_SPEC" --pg-url "$(url postgres)" \
    --pg-pid "$(head -n 1 "$PGDIR/postmaster.pid")" "$@" \
    | tee -a "$RESULTS"
  if [ -n "${BENCH_PG_STATEMENTS:-}" ]; then
    "${PSQL[@]}" -d postgres -P pager=off -c "SELECT d.datname AS db, s.calls, round(s.total_exec_time) AS exec_ms,
        round(s.total_plan_time) AS plan_ms, s.rows, left(regexp_replace(s.query, '\\s+', ' ', 'g'), 100) AS statement
      FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
      ORDER BY s.total_exec_time + s.total_plan_time DESC LIMIT 25" >"$STATE/statements-$scenario.txt"
    head -n 14 "$STATE/statements-$scenario.txt"
  fi
}
run health "$INVOICE_ADDR"
run get-invoice "$INVOICE_ADDR"
run create-invoice "$INVOICE_ADDR"
run pay-invoice "$INVOICE_ADDR" --requests "$PAY_REQUESTS" --warmup-requests "$(( PAY_REQUESTS / 20 ))"
run send-invoice-link "$NOTIFY_ADDR" --outbox-dir "$STATE/outbox"

if [ -n "${BENCH_SCENARIOS:-}" ]; then
  echo "BENCH_SCENARIOS: results in $RESULTS; docs/benchmarks.md is written by full runs only"
  exit 0
fi
peak_kb() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"; }
{
  echo "{\"pgbench_select_tps\": $PGBENCH_S, \"pgbench_update_tps\": $PGBENCH_N, \"concurrency\": $CONCURRENCY,"
  echo " \"duration_ms\": $DURATION_MS, \"quick\": $([ -n "${BENCH_QUICK:-}" ] && echo true || echo false),"
  echo " \"cpus\": $(nproc), \"cpu_model\": \"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)\","
  echo " \"mem_mb\": $(( $(sed -n 's/^MemTotal:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/meminfo) / 1024 )),"
  echo " \"kernel\": \"$(uname -r)\", \"postgres\": \"$("$(pg_bindir)/postgres" --version | sed "s/^postgres (PostgreSQL) \([0-9.]*\).*/\1/")\","
  echo " \"commit\": \"$(git rev-parse --short HEAD 2>/dev/null || echo unknown)\", \"date\": \"$(date -u +%Y-%m-%d)\","
  echo " \"services\": {"
  sep=""
  for svc in invoice payments notify; do
    echo "  $sep\"$svc\": {\"startup_ms\": ${STARTUP_MS[$svc]}, \"idle_rss_kb\": ${IDLE_KB[$svc]}, \"peak_rss_kb\": $(peak_kb "${PID[$svc]}")}"
    sep=","
  done
  echo " }}"
} >"$STATE/machine.json"
node bench/report.mjs "$STATE/machine.json" "$RESULTS" "$OUTPUT"
