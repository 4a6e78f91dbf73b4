#!/usr/bin/env bash
# The README's second command: install what is missing, build, start a
# throwaway PostgreSQL, run the whole suite (ctest labels unit, integration,
# e2e, deploy, plus buf lint), stop PostgreSQL, then fuzz briefly. Extra arguments go to ctest, e.g.
#   bash scripts/test.sh -L unit        bash scripts/test.sh -R invoice
# The whole suite (no arguments) ends by running it again under ASan + UBSan:
# SANITIZE=1 alone does only that, with clang in build-asan/ (no fuzzing:
# the fuzz targets have their own sanitizer build). SANITIZE=0 skips both
# sanitizer passes (ASan and the TSan one below).
# SANITIZE=thread builds the tree under TSan in build-tsan/ and runs every
# test of our code there, the soak included. SANITIZE=concurrency is CI's
# TSan pass: it builds only the services, the emulator and the binaries that
# hold the concurrency tests, and runs those tests (TSAN_CONCURRENCY_FILTER).
# The whole suite (no arguments) ends with it, after the ASan pass.
set -euo pipefail
cd "$(dirname "$0")/.."

# The sanitizer builds need clang: a build directory configured with another
# compiler is deleted, so the next configure starts afresh.
fresh_unless_clang() {
  if [ -f "$1/CMakeCache.txt" ] && ! grep -q '^CMAKE_CXX_COMPILER:.*clang' "$1/CMakeCache.txt"; then
    rm -rf "$1"
  fi
}

CTEST_EXTRA=()
case "${SANITIZE:-}" in
  "" | 0 | 1 | thread | concurrency) ;;
  *) echo "SANITIZE must be 1 (only the ASan + UBSan pass), thread (only TSan, every test), concurrency (only TSan, the concurrency tests), 0 (skip the sanitizer passes) or unset" >&2; exit 2 ;;
esac
if [ "${SANITIZE:-}" = 1 ]; then
  export BUILD_DIR=build-asan BILLING_CMAKE_ARGS="-DBILLING_SANITIZE=ON" FUZZ_SECONDS=0
  export CC=clang CXX=clang++
  # A build-asan/ configured with gcc by an older test.sh is started afresh.
  fresh_unless_clang build-asan
  # The deploy tests check the shipped binaries' packaging (ldd), which the
  # sanitizer runtimes change. The soak and the benchmark measure the
  # release build: under ASan they only run slower.
  CTEST_EXTRA=(-LE deploy -E "soak_e2e_test|bench_smoke")
  # Any report fails the test that triggered it. Leaks are not checked: the
  # services exit through gRPC's and protobuf's static singletons.
  export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
fi
if [ "${SANITIZE:-}" = thread ] || [ "${SANITIZE:-}" = concurrency ]; then
  export BUILD_DIR=build-tsan BILLING_CMAKE_ARGS="-DBILLING_TSAN=ON" FUZZ_SECONDS=0
  export CC=clang CXX=clang++
  fresh_unless_clang build-tsan
  # Every test that runs code (the services run instrumented under the e2e
  # tests and the soak, two replicas each there). The deploy checks, buf
  # and the benchmark run none of ours.
  CTEST_EXTRA=(-LE deploy -E "bench_smoke|buf_lint")
  # Any report fails the test that triggered it. The suppressions name
  # only races inside Debian's uninstrumented libraries (tsan.supp says why).
  export TSAN_OPTIONS="halt_on_error=1:abort_on_error=1:second_deadlock_stack=1:history_size=4:ignore_noninstrumented_modules=1:suppressions=$PWD/scripts/tsan.supp"
fi
if [ "${SANITIZE:-}" = concurrency ]; then
  # The ctest entries that hold concurrency tests: concurrent calls and
  # retries on one key, replicas sharing a database (processes or
  # dispatchers), concurrent migrators, redelivered events. Their names say
  # so, and the filter picks them by name; a new one named that way joins.
  TSAN_CONCURRENCY_TESTS=(db_integration_test invoice_integration_test notify_integration_test platform_e2e_test
    invoice_e2e_test notify_e2e_test payments_e2e_test pay_flow_e2e_test)
  export GTEST_FILTER=${TSAN_CONCURRENCY_FILTER:-'*Concurrent*:*Replica*:*Twice*:*TwoProcesses*'}
  # The targets go after any flags of the caller's (-j1, -k0).
  export NINJA_FLAGS="${NINJA_FLAGS:-} invoice payments notify stripe-emulator ${TSAN_CONCURRENCY_TESTS[*]}"
  CTEST_EXTRA=(-R "^($(IFS='|'; echo "${TSAN_CONCURRENCY_TESTS[*]}"))\$")
fi
BUILD_DIR=${BUILD_DIR:-build}

bash scripts/setup.sh
bash scripts/build.sh

source scripts/lib/pg.sh
PGDIR=$(pg_dir_for "$PWD/.local/test-pg")
pg_stop "$PGDIR"
rm -rf "$PGDIR"
PORT=$(free_port)
# Speed over durability for tests; the benchmarks run their own cluster.
pg_start "$PGDIR" "$PORT" fsync=off synchronous_commit=off full_page_writes=off max_connections=300
trap 'pg_stop "$PGDIR"' EXIT
export TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:$PORT/postgres"

start=$(date +%s)
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "${CTEST_JOBS:-2}" "${CTEST_EXTRA[@]}" "$@"
echo "test suite passed in $(( $(date +%s) - start )) s"

# The whole suite (no ctest filter) also runs each libFuzzer target briefly
# under ASan + UBSan (scripts/fuzz.sh; FUZZ_SECONDS=0 skips, more fuzzes longer).
if [ $# -eq 0 ] && [ "${FUZZ_SECONDS:-30}" != 0 ]; then
  start=$(date +%s)
  bash scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
  echo "fuzzing passed in $(( $(date +%s) - start )) s"
fi

# ... and then the suite again under ASan + UBSan, on a PostgreSQL of its own.
if [ $# -eq 0 ] && [ -z "${SANITIZE:-}" ]; then
  pg_stop "$PGDIR"
  trap - EXIT
  start=$(date +%s)
  SANITIZE=1 bash scripts/test.sh
  echo "the ASan + UBSan build and suite passed in $(( $(date +%s) - start )) s"
  start=$(date +%s)
  SANITIZE=concurrency bash scripts/test.sh
  echo "the TSan build and concurrency tests passed in $(( $(date +%s) - start )) s"
fi
