#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The calibration bench: scores scikit-learn's digits out of fold (make_scores.py, Debian's
# python3-sklearn), then runs bench_schemes over them. Usage: bench/calibration/run.sh [BUILD_DIR] [--quick]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
shift || true
command -v /usr/bin/python3 >/dev/null || { echo "needs /usr/bin/python3" >&2; exit 2; }
/usr/bin/python3 -c "import sklearn" 2>/dev/null ||
  { echo "needs Debian's python3-sklearn: apt-get install -y python3-sklearn" >&2; exit 2; }
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
/usr/bin/python3 "$here/make_scores.py" "$data"
"$build/bench_schemes" "$data" "$@"
