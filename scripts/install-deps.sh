#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian packages hitl needs to build and run (no argument), and also to test
# ("test": the browser tests' chromium and Node.js, and PostgreSQL) or to fuzz ("fuzz": clang and
# libFuzzer), when any is missing.
# Quick when everything is there: it asks dpkg only, and runs apt-get only for what is missing.
# Usage: install-deps.sh [fuzz]   (fuzz: also clang and its libFuzzer runtime, for `make fuzz`)
set -euo pipefail

packages=(
  build-essential cmake pkg-config ca-certificates
  libmicrohttpd-dev libjansson-dev libsqlite3-dev libsodium-dev libcurl4-openssl-dev libcmocka-dev
  libpq-dev
  libpcre2-dev
  libjs-chart.js
)
case "${1:-}" in
  "") ;;
  test)
    packages+=(chromium openssl) # openssl: tests/api/test_tls.c makes its certificate.
    # The store tests also run against a throwaway PostgreSQL (scripts/pg-test-server.sh).
    packages+=(postgresql)
    # Node.js runs the browser tests: Debian's, unless a node with npm is installed already.
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then packages+=(nodejs npm); fi
    # Python 3 runs the Python client's tests (tests/python), when none is installed already.
    if ! command -v python3 >/dev/null; then packages+=(python3); fi
    ;;
  fuzz) packages+=(clang libclang-rt-14-dev) ;;
  *) echo "usage: $0 [test|fuzz]" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

echo "hitl: installing missing packages: ${missing[*]}"
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "hitl: run as root or install sudo" >&2; exit 1; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
