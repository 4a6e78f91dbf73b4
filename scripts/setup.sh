#!/usr/bin/env bash
# Installs what the build, the tests and the local run need: Debian 12
# packages (only those missing) and the npm tools pinned in package-lock.json.
# Safe to run again. Needs root or sudo for apt.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  # build
  cmake ninja-build g++ pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto
  libsoci-dev libpq-dev libboost-dev prometheus-cpp-dev libspdlog-dev libfmt-dev
  libcurl4-openssl-dev nlohmann-json3-dev libssl-dev libcpp-httplib-dev
  libgtest-dev libgmock-dev
  # notify: Mustache templates, phone numbers
  libmstch-dev libphonenumber-dev
  # run and test: PostgreSQL server binaries, openssl for test certificates,
  # runuser (util-linux) to run PostgreSQL as its own user when we are root
  postgresql-15 openssl util-linux ca-certificates curl
  # test: a real SMTP server (tests/tools/smtp_sink.py)
  python3 python3-aiosmtpd
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

if [ ! -x node_modules/.bin/buf ] || ! node_modules/.bin/buf --version >/dev/null 2>&1; then
  echo "setup: installing npm tools (buf)"
  # npm install, not npm ci: npm 11 writes lockfiles without the other
  # platforms' optional buf binaries, which npm ci then rejects.
  npm install --no-save --no-audit --no-fund --loglevel=error
fi
