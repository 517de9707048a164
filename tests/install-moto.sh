#!/usr/bin/env bash
# Installs moto's S3 server (PyPI `moto[server]`) into the repo's .venv
# (gitignored) for the tests that need S3 (tests/support/moto.rs starts it
# on 127.0.0.1 through tests/support/moto_server.py, which handles one
# request at a time) and for the bench's case 9. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_VERSION=5.2.5

python="${PYTHON:-python3}"
command -v "$python" >/dev/null 2>&1 || { echo "error: $python is not installed; moto comes from PyPI" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
if ! .venv/bin/python -c "import moto, sys; sys.exit(0 if moto.__version__ == '$MOTO_VERSION' else 1)" 2>/dev/null ||
  [ ! -x .venv/bin/moto_server ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi
.venv/bin/python -c "import moto; print('moto', moto.__version__)"
