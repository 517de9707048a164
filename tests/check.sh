#!/usr/bin/env bash
# Runs every test and check of the project. This is the README's test
# command and what CI runs (through .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v terraform >/dev/null 2>&1; then
  echo "error: terraform is not on PATH; the tests run real terraform." >&2
  echo "hint: install terraform >= 1.5 (https://developer.hashicorp.com/terraform/install) and run again" >&2
  exit 1
fi

# Terraform must never read a user's CLI config or phone home in tests.
tfrc="$(mktemp)"
trap 'rm -f "$tfrc"' EXIT
export TF_CLI_CONFIG_FILE="$tfrc" TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo test"
cargo test --locked --all-targets
