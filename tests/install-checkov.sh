#!/usr/bin/env bash
# Installs checkov (PyPI `checkov`) for tests/gates/tools.rs, which runs it on
# a real plan JSON as a policy tool gate. checkov pins many packages of its
# own, so it gets a virtualenv of its own inside the repo's .venv
# (gitignored), .venv/checkov, and a link at .venv/bin/checkov where the
# tests look for it. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

CHECKOV_VERSION=3.3.30

python="${PYTHON:-python3}"
command -v "$python" >/dev/null 2>&1 || { echo "error: $python is not installed; checkov comes from PyPI" >&2; exit 1; }

mkdir -p .venv/bin
if [ ! -x .venv/checkov/bin/python ]; then
  "$python" -m venv .venv/checkov
fi
if [ "$(.venv/checkov/bin/checkov --version 2>/dev/null)" != "$CHECKOV_VERSION" ]; then
  .venv/checkov/bin/python -m pip install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"
fi
ln -sf ../checkov/bin/checkov .venv/bin/checkov
echo "checkov $(.venv/bin/checkov --version)"
