#!/usr/bin/env bash
# The shell way for a whole fleet: render-one.sh per customer × environment,
# JOBS at a time (xargs -P, so it gets the same cores as fleetform).
#   render-shell.sh FLEET_DIR PAIRS_FILE OUT_DIR JOBS
# PAIRS_FILE has "slug env" lines (bench/gen.py writes pairs.txt: every
# active customer × enabled environment, as the registry says).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
fleet=$1 pairs=$2 out=$3 jobs=$4
pairs="$(cd "$(dirname "$pairs")" && pwd)/$(basename "$pairs")"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
cd "$fleet"
xargs -P "$jobs" -n 2 bash "$here/render-one.sh" "$out" <"$pairs"
