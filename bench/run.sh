#!/usr/bin/env bash
# Benchmarks: fleetform side by side with what users would use instead.
#
#   bash bench/run.sh [--quick] [--validate-only | --providers-only | --impact-only | --records-only | --relay-only | --github-only | --causes-only | --memory-only]
#   bash bench/run.sh --smoke [--results FILE]
#
# Builds the static release binary, installs the peers (check-jsonschema and
# python-yq from PyPI into bench/.venv, ajv-cli and ajv-formats from npm into
# bench/node_modules; jq, GNU time and hyperfine from Debian when missing),
# generates synthetic fleets under bench/.work, runs every case and writes
# bench/results.md (also printed). --quick uses smaller fleets (minutes, not
# half an hour). --validate-only runs case 1 alone (10,000 files take a few
# minutes, mostly check-jsonschema's) and rewrites its section and its goal
# rows. --providers-only runs case 7 alone (a fleet plan with a
# 150 MB provider from a packed mirror) and rewrites its section;
# --impact-only runs case 8 alone (`fleetform impact` on 10,000 customers);
# --records-only runs case 9 alone (10,000, 100,000 and 1,000,000 records
# read from moto's S3, which tests/install-moto.sh installs;
# BENCH_RECORDS_SIZES=10000,100000 picks the sizes; BENCH_MACHINE=TEXT says
# in its method lines what else the machine ran; BENCH_BASELINE=BIN runs an
# older fleetform binary alongside, shown as BENCH_BASELINE_LABEL).
# --relay-only runs case 10 alone (the dispatch relay under load).
# --causes-only runs case 12 alone (a drift merge of 2,000 drifted pairs in
# 5 causes, no Terraform, and the same merge's issues against the fake
# GitHub at GitHub's limits across runs: bench/drift_causes.py; it also runs
# on its own: python3 bench/drift_causes.py --fleetform BIN --work DIR
# --results FILE [--no-github]).
# --memory-only measures fleetform's peak memory in cases 2, 3, 4, 8, 9 and
# 12, one run each at the size of its section (bench/memory.py), and
# rewrites the "Peak memory per case" section; memory does not depend on
# the machine's load, so it runs apart from the timed cases.
# --github-only runs case 11 alone (a fleet drift's and a sync's GitHub
# traffic across runs against the fake GitHub's limits on a scaled clock,
# with and without the request scheduler, plans by a stand-in terraform;
# bench/github.py; BENCH_GITHUB_CUSTOMERS (2000), BENCH_GITHUB_REPOS (1000),
# BENCH_GITHUB_WRITES_PER_HOUR (500) and BENCH_GITHUB_TIME_SCALE (5) set the
# fleet, the repos, the write budget per run and the clock's factor).
# Needs cargo, terraform, git, python3 (3.9+), node and npm.
#
# --smoke checks that the bench still runs, in a minute or two (tests/check.sh
# runs it, so CI catches a bench that rotted): case 6 (the request budgets)
# and case 1 on 50 generated files for fleetform alone (no peers, nothing
# installed: cargo, terraform and python3 only), and case 11 on 3 customers
# and 3 repos, and bench/test_goals.py (a goal is judged only at the size it
# is set at: a run at another size writes it "not run"),
# all writing to a temporary
# folder; the results go to FILE (default: a temporary file, printed), never
# to bench/results.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bench=bench

quick=()
validate_only=
providers_only=
impact_only=
relay_only=
records_only=
github_only=
causes_only=
memory_only=
smoke=
smoke_results=
expect_results=
for arg in "$@"; do
  if [ -n "$expect_results" ]; then
    smoke_results="$arg"
    expect_results=
    continue
  fi
  case "$arg" in
    --quick) quick=(--quick) ;;
    --smoke) smoke=1 ;;
    --results) expect_results=1 ;;
    --validate-only) validate_only=1 ;;
    --providers-only) providers_only=1 ;;
    --impact-only) impact_only=1 ;;
    --relay-only) relay_only=1 ;;
    --records-only) records_only=1 ;;
    --github-only) github_only=1 ;;
    --causes-only) causes_only=1 ;;
    --memory-only) memory_only=1 ;;
    -h | --help)
      sed -n '2,46p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "error: unknown argument $arg (bash bench/run.sh [--quick] [--validate-only | --providers-only | --impact-only | --records-only | --relay-only | --github-only | --causes-only | --memory-only] | --smoke [--results FILE])" >&2
      exit 2
      ;;
  esac
done
if [ -n "$expect_results" ] || { [ -n "$smoke_results" ] && [ -z "$smoke" ]; }; then
  echo "error: --results FILE goes with --smoke (bash bench/run.sh --smoke --results FILE)" >&2
  exit 2
fi

die() {
  echo "error: $*" >&2
  exit 1
}
say() { echo "==> $*" >&2; }
# The release builds measured here are rustc's alone: tests/check.sh runs
# the smoke with clippy's driver as cargo's workspace wrapper (for its
# `cargo test`, which then finds the test step's build fresh); for a
# release build it would compile fleetform again, linted, beside the one
# the release ships.
release_cargo() { env -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS cargo "$@"; }

# --- tools this script cannot install --------------------------------------
command -v cargo >/dev/null || die "cargo is not installed (https://rustup.rs)"
command -v terraform >/dev/null || die "terraform is not on PATH; case 3 plans with real terraform (>= 1.5)"
command -v python3 >/dev/null || die "python3 is not installed; the driver and the PyPI peers need it"

# --- --smoke: case 6 and one small timed case, nothing installed -------------
if [ -n "$smoke" ]; then
  scratch="$(mktemp -d)"
  trap 'rm -rf "$scratch"' EXIT
  results="${smoke_results:-$scratch/results.md}"
  say "smoke: the goal rows claim only the sizes run (bench/test_goals.py)"
  python3 "$bench/test_goals.py" ||
    die "bench/test_goals.py failed: a goal row judges a size the run did not measure"
  say "smoke: building the static release binary"
  release_cargo build --locked --release --target x86_64-unknown-linux-musl --target-dir target/static ||
    die "cargo build of the static binary failed (it needs musl-gcc: apt-get install -y musl-tools; and rustup target add x86_64-unknown-linux-musl)"
  bin=target/static/x86_64-unknown-linux-musl/release/fleetform
  : >"$scratch/terraformrc"
  export TF_CLI_CONFIG_FILE="$scratch/terraformrc" TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
  say "smoke: case 6, request counts (cargo test --workspace --test integration budgets::, the test step's build)"
  FLEETFORM_BENCH_OUT="$scratch/budgets.json" cargo test --locked --workspace --test integration budgets:: -- --nocapture ||
    die "tests/github/budgets.rs failed: a command is over its request budget or the loop broke"
  say "smoke: case 1 on a small fleet, fleetform alone"
  python3 "$bench/bench.py" --smoke --fleetform "$bin" --work "$scratch/work" \
    --budgets "$scratch/budgets.json" --results "$results" ||
    die "bench/bench.py --smoke failed: the bench driver or the fleet generator rotted"
  say "smoke: case 11 on 3 customers and 3 repos"
  python3 "$bench/github.py" --smoke --results "$results" >/dev/null ||
    die "bench/github.py --smoke failed: the GitHub traffic harness (tests/bench/github.rs) rotted"
  [ -n "$smoke_results" ] || cat "$results"
  exit 0
fi

# --- case 11: GitHub traffic under the limits (fake GitHub, debug build) ------
github_case() {
  say "case 11: a fleet drift's and a sync's GitHub traffic across runs, with and without the scheduler"
  tfrc="$(mktemp)"
  TF_CLI_CONFIG_FILE="$tfrc" TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1 \
    python3 "$bench/github.py" --results "$bench/results.md" --customers "${BENCH_GITHUB_CUSTOMERS:-2000}" \
    --repos "${BENCH_GITHUB_REPOS:-1000}" --writes-per-hour "${BENCH_GITHUB_WRITES_PER_HOUR:-500}" \
    --time-scale "${BENCH_GITHUB_TIME_SCALE:-5}" ||
    die "bench/github.py failed"
  rm -f "$tfrc"
}
if [ -n "$github_only" ]; then
  github_case
  exit 0
fi
command -v git >/dev/null || die "git is not installed; case 8 reads a fleet at two commits"
command -v node >/dev/null && command -v npm >/dev/null ||
  die "node and npm are not installed; ajv-cli (a peer) runs on Node.js (apt-get install nodejs npm)"

# --- Debian packages: jq (under python-yq), GNU time, hyperfine -------------
missing=()
command -v jq >/dev/null || missing+=(jq)
[ -x /usr/bin/time ] || missing+=(time)
command -v hyperfine >/dev/null || missing+=(hyperfine)
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]} (Debian packages)"
  if ! command -v apt-get >/dev/null; then
    die "${missing[*]} missing and no apt-get here; install them and run again"
  fi
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  { "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null; } ||
    die "could not install ${missing[*]} with apt-get; install them and run again"
fi

# --- PyPI peers in bench/.venv ----------------------------------------------
venv="$bench/.venv"
if ! "$venv/bin/python" -c 'import sys' 2>/dev/null; then
  say "creating $venv"
  python3 -m venv "$venv" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
fi
if ! cmp -s "$bench/requirements.txt" "$venv/.installed" 2>/dev/null; then
  say "installing check-jsonschema and yq from PyPI into $venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$bench/requirements.txt" ||
    die "pip could not install bench/requirements.txt (check-jsonschema, yq) from PyPI"
  cp "$bench/requirements.txt" "$venv/.installed"
fi
"$venv/bin/check-jsonschema" --version >/dev/null || die "check-jsonschema is not runnable in $venv"
"$venv/bin/yq" --version >/dev/null || die "yq is not runnable in $venv"

# --- npm peers in bench/node_modules ----------------------------------------
# npm's own copy of the lock file (node_modules/.package-lock.json) never
# equals bench/package-lock.json (it leaves the root package out), so the
# lock file installed from is kept beside it and compared instead: a run
# reinstalls only when the lock file changed.
if ! cmp -s "$bench/package-lock.json" "$bench/node_modules/.installed-from" 2>/dev/null ||
  [ ! -x "$bench/node_modules/.bin/ajv" ]; then
  say "installing ajv-cli and ajv-formats from npm into $bench/node_modules"
  (cd "$bench" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
    die "npm ci could not install ajv-cli and ajv-formats (bench/package-lock.json)"
  cp "$bench/package-lock.json" "$bench/node_modules/.installed-from"
fi
[ -x "$bench/node_modules/.bin/ajv" ] || die "ajv-cli is missing from $bench/node_modules"

# The shell peers call `yq`: use python-yq from the venv, whatever else is
# on PATH (mikefarah's yq has another syntax).
export PATH="$PWD/$venv/bin:$PATH"

# --- fleetform: the static release binary users download --------------------
say "building the static release binary"
release_cargo build --release --target x86_64-unknown-linux-musl --target-dir target/static ||
  die "cargo build of the static binary failed (it needs musl-gcc: apt-get install -y musl-tools; and rustup target add x86_64-unknown-linux-musl)"
bin=target/static/x86_64-unknown-linux-musl/release/fleetform
"$bin" --version >/dev/null || die "$bin does not run"

# --- Terraform stays offline and quiet ---------------------------------------
work="$bench/.work"
mkdir -p "$work"
: >"$work/terraformrc"
export TF_CLI_CONFIG_FILE="$PWD/$work/terraformrc" TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1

# --- case 9: records read from moto's S3 --------------------------------------
records_case() {
  say "case 9: records read from S3 (moto), ${BENCH_RECORDS_SIZES:-10000,100000,1000000} of them"
  bash tests/install-moto.sh >/dev/null || die "tests/install-moto.sh could not install moto (PyPI moto[server])"
  baseline=()
  if [ -n "${BENCH_BASELINE:-}" ]; then
    [ -x "$BENCH_BASELINE" ] || die "BENCH_BASELINE=$BENCH_BASELINE is not an executable"
    baseline=(--baseline "$BENCH_BASELINE" --baseline-label "${BENCH_BASELINE_LABEL:-$BENCH_BASELINE}")
  fi
  label="$(git rev-parse --short HEAD 2>/dev/null || echo "this checkout")$(git diff --quiet HEAD 2>/dev/null || echo " + changes") (static release build)"
  sizes=()
  if [ -n "${BENCH_RECORDS_SIZES:-}" ]; then
    sizes=(--sizes "$BENCH_RECORDS_SIZES")
  fi
  machine=()
  if [ -n "${BENCH_MACHINE:-}" ]; then
    machine=(--machine "$BENCH_MACHINE")
  fi
  "$venv/bin/python" "$bench/records.py" --fleetform "$bin" --label "$label" "${baseline[@]}" \
    --moto .venv/bin/moto_server --work "$work" --results "$bench/results.md" "${quick[@]}" "${sizes[@]}" "${machine[@]}"
}
if [ -n "$records_only" ]; then
  records_case
  exit 0
fi

# Case 12 needs no Terraform run and no provider.
causes_case() {
  say "case 12: drift by cause, 2,000 drifted pairs in 5 causes"
  python3 "$bench/drift_causes.py" --fleetform "$bin" --work "$work" --results "$bench/results.md" ||
    die "bench/drift_causes.py failed (or missed its goal)"
}
if [ -n "$causes_only" ]; then
  causes_case
  exit 0
fi

memory_case() {
  say "peak memory of cases 2, 3, 4, 8, 9 and 12"
  bash tests/install-moto.sh >/dev/null || die "tests/install-moto.sh could not install moto (PyPI moto[server])"
  "$venv/bin/python" "$bench/memory.py" --fleetform "$bin" --work "$work" --tfrc "$PWD/$work/terraformrc" \
    --moto .venv/bin/moto_server --results "$bench/results.md" ||
    die "bench/memory.py failed"
}
if [ -n "$memory_only" ]; then
  memory_case
  exit 0
fi

# Case 1 alone: its section and goal rows, the rest of results.md kept.
if [ -n "$validate_only" ]; then
  say "case 1 only: schema validation of 100, 1,000 and 10,000 files"
  "$venv/bin/python" "$bench/bench.py" --validate-only --fleetform "$bin" --venv "$venv" \
    --node-modules "$bench/node_modules" --work "$work" --tfrc "$PWD/$work/terraformrc" \
    --results "$bench/results.md"
  exit 0
fi

# Case 8 needs no provider: it runs before the provider is built.
if [ -n "$impact_only" ]; then
  say "case 8 only: the impact of a manager change"
  "$venv/bin/python" "$bench/impact.py" --fleetform "$bin" --work "$work" \
    --results "$bench/results.md" "${quick[@]}"
  exit 0
fi

# --- the test cloud provider for case 7 (release build; needs protoc) ---------
command -v protoc >/dev/null || die "protoc is not installed; case 7 builds the fakecloud provider (apt-get install protobuf-compiler)"
say "building the fakecloud provider (release)"
release_cargo build --release -p fakecloud --target-dir target/bench-provider ||
  die "cargo build of crates/fakecloud failed"
provider=target/bench-provider/release/terraform-provider-fakecloud

if [ -n "$relay_only" ]; then
  say "case 10 only: the dispatch relay under load"
  "$venv/bin/python" "$bench/relay.py" --fleetform "$bin" --results "$bench/results.md" "${quick[@]}"
  exit 0
fi

if [ -n "$providers_only" ]; then
  say "case 7 only: a fleet plan with a heavy provider"
  "$venv/bin/python" "$bench/providers.py" --fleetform "$bin" --provider "$provider" \
    --work "$work" --results "$bench/results.md" "${quick[@]}"
  exit 0
fi

# --- case 6: API requests per command (fake GitHub) ---------------------------
say "case 6: request counts (cargo test --test integration budgets::)"
rm -f "$work/budgets.json"
FLEETFORM_BENCH_OUT="$PWD/$work/budgets.json" cargo test --workspace --test integration budgets:: -- --nocapture ||
  die "tests/github/budgets.rs failed: a command is over its request budget or the loop broke"

# --- cases 1-5 ---------------------------------------------------------------
say "running the cases${quick:+ (quick)}"
"$venv/bin/python" "$bench/bench.py" \
  --fleetform "$bin" \
  --venv "$venv" \
  --node-modules "$bench/node_modules" \
  --work "$work" \
  --tfrc "$PWD/$work/terraformrc" \
  --budgets "$work/budgets.json" \
  --results "$bench/results.md" \
  "${quick[@]}"
say "case 7: a fleet plan with a heavy provider"
"$venv/bin/python" "$bench/providers.py" --fleetform "$bin" --provider "$provider" \
  --work "$work" --results "$bench/results.md" "${quick[@]}"
say "case 8: the impact of a manager change"
"$venv/bin/python" "$bench/impact.py" --fleetform "$bin" --work "$work" \
  --results "$bench/results.md" "${quick[@]}"
records_case
causes_case
memory_case
say "case 10: the dispatch relay under load"
"$venv/bin/python" "$bench/relay.py" --fleetform "$bin" --results "$bench/results.md" "${quick[@]}"
github_case
say "results: bench/results.md"
