#!/usr/bin/env bash
# The libFuzzer targets (tests/fuzz) under ASan + UBSan, each for a while:
#   bash scripts/fuzz.sh          # 45 s per target
#   bash scripts/fuzz.sh 600      # the long run
# test.sh runs it briefly (FUZZ_SECONDS, 30 s in CI). Seeds are read from
# tests/fuzz/corpus/<target>; new inputs go to build-fuzz/corpus/<target>, and
# a crashing input to build-fuzz/artifacts/, whose path is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
PER_TARGET=${1:-${FUZZ_SECONDS:-45}}
BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
TARGETS=(webhook_fuzz form_fuzz validation_fuzz template_fuzz)

if [ ! -f "$BUILD/build.ninja" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DBILLING_BUILD_TESTS=OFF -DBILLING_FUZZ=ON >/dev/null
fi
ninja -C "$BUILD" "${TARGETS[@]}"

mkdir -p "$BUILD/artifacts"
for t in "${TARGETS[@]}"; do
  mkdir -p "$BUILD/corpus/$t"
  log="$BUILD/$t.log"
  if ! "$BUILD/tests/fuzz/$t" -max_total_time="$PER_TARGET" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -print_final_stats=1 -artifact_prefix="$BUILD/artifacts/$t-" \
      "$BUILD/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1; then
    echo "fuzz: $t FAILED; the input is in $BUILD/artifacts/ (replay: $BUILD/tests/fuzz/$t <file>)" >&2
    grep -v '^#[0-9]' "$log" | tail -40 >&2
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  echo "fuzz: $t ok, ${runs:-?} inputs in ${PER_TARGET} s, corpus $(ls "$BUILD/corpus/$t" | wc -l) files"
done
