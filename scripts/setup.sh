#!/usr/bin/env bash
# Installs what the build, the tests and the local run need: Debian 12
# packages (only those missing) and the npm tools pinned in package-lock.json.
# Safe to run again. Needs root or sudo for apt.
set -euo pipefail
cd "$(dirname "$0")/.."

# The build's packages are shared with the Dockerfiles' build stages.
mapfile -t PACKAGES < <(sed -e 's/#.*//' deploy/docker/build-packages.txt | tr -s ' \t' '\n' | sed '/^$/d')
PACKAGES+=(
  # tests
  libgtest-dev libgmock-dev
  # run and test: PostgreSQL server binaries, openssl for test certificates,
  # runuser (util-linux) to run PostgreSQL as its own user when we are root
  postgresql-15 openssl util-linux ca-certificates curl
  # test: a real SMTP server (tests/tools/smtp_sink.py)
  python3 python3-aiosmtpd
  # fuzzing (scripts/fuzz.sh): clang with libFuzzer and the sanitizers
  clang libclang-rt-14-dev
)
command -v npm >/dev/null 2>&1 || PACKAGES+=(nodejs npm)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=()
  [ "$(id -u)" -eq 0 ] || SUDO=(sudo)
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Node tools: buf (proto lint, gRPC calls) and the deploy tests' yaml and
# kubernetes-models, all pinned in package-lock.json.
npm_ok=true
[ -x node_modules/.bin/buf ] && node_modules/.bin/buf --version >/dev/null 2>&1 || npm_ok=false
for m in yaml kubernetes-models @kubernetes-models/cert-manager @kubernetes-models/prometheus-operator; do
  [ -f "node_modules/$m/package.json" ] || npm_ok=false
done
if ! $npm_ok; then
  echo "setup: installing npm tools (buf, yaml, kubernetes-models)"
  # npm install, not npm ci: npm 11 writes lockfiles without the other
  # platforms' optional buf binaries, which npm ci then rejects.
  npm install --no-save --no-audit --no-fund --loglevel=error
fi

# kubectl renders deploy/k8s (kustomize v5 features: components, patches).
# This machine kind ships it; Debian's own kubernetes-client (1.20) is too old
# to render the overlays, so there is no Debian fallback to install.
if ! kubectl kustomize --help >/dev/null 2>&1; then
  echo "setup: WARNING: no kubectl with kustomize on PATH; the deploy_k8s_test will fail" >&2
  echo "setup: install kubectl >= 1.27 (it embeds kustomize v5)" >&2
fi
