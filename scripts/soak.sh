#!/usr/bin/env bash
# The long fault suite and soak (issue 10): two replicas of every service,
# mixed traffic, faults on a schedule (PostgreSQL restarts, every Stripe
# fault mode, SIGKILLs of any replica, SMTP and SMS outages, webhook storms,
# a slow Stripe), the invariant checker after each scenario. Writes the
# scenario table into docs/reliability.md between the soak markers.
#   bash scripts/soak.sh            # 300 s of traffic (the default)
#   bash scripts/soak.sh 900 --workers 4 --seed 7
# CI runs a short version as the ctest entry soak_e2e_test.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_OF_TRAFFIC=${1:-300}
shift || true
BUILD_DIR=${BUILD_DIR:-build}

bash scripts/setup.sh
bash scripts/build.sh

report=$(mktemp)
trap 'rm -f "$report"' EXIT
status=0
"$BUILD_DIR/tests/billing-soak" --duration "$SECONDS_OF_TRAFFIC" --report "$report" \
  --caption "Last run: \`bash scripts/soak.sh $SECONDS_OF_TRAFFIC${*:+ $*}\` on $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1))." \
  "$@" || status=$?

# Replace what lies between the markers; the rest of the page is kept by hand.
python3 - "$report" docs/reliability.md <<'EOF'
import sys
report, page = open(sys.argv[1]).read(), sys.argv[2]
text = open(page).read()
begin, end = "<!-- soak:begin -->", "<!-- soak:end -->"
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
open(page, "w").write(head + begin + "\n" + report.rstrip() + "\n" + end + tail)
EOF
echo "soak: exit $status; docs/reliability.md updated"
exit "$status"
