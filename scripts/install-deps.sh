#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian packages hitl needs to build and run (no argument) or also to test
# (argument "test": the browser tests' chromium and Node.js), when any is missing.
# Quick when everything is there: it asks dpkg only, and runs apt-get only for what is missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config ca-certificates
  libmicrohttpd-dev libjansson-dev libsqlite3-dev libsodium-dev libcurl4-openssl-dev libcmocka-dev
  libjs-chart.js
)
if [[ "${1:-}" == test ]]; then
  packages+=(chromium)
  # Node.js runs the browser tests: Debian's, unless a node with npm is installed already.
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then packages+=(nodejs npm); fi
fi

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
