#!/usr/bin/env bash
# Installs PyNaCl (PyPI), Python's binding of libsodium, into the repo's
# .venv (gitignored): tests/doctor/fix_secrets.rs opens the secrets
# `doctor --fix` seals to a GitHub environment's public key with it, an
# implementation independent of the crate fleetform seals them with.
# Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

PYNACL_VERSION=1.5.0

python="${PYTHON:-python3}"
command -v "$python" >/dev/null 2>&1 || { echo "error: $python is not installed; PyNaCl comes from PyPI" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
if ! .venv/bin/python -c "import nacl, sys; sys.exit(0 if nacl.__version__ == '$PYNACL_VERSION' else 1)" 2>/dev/null; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "pynacl==$PYNACL_VERSION"
fi
.venv/bin/python -c "import nacl; print('pynacl', nacl.__version__)"
