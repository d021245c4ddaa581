#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment .venv with the pinned versions of
# requirements-lock.txt and the package itself in editable mode. Idempotent: does nothing when
# the environment is already up to date with the lock file and pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
stamp=.venv/.hetconv-edu-stamp
want=$(cat requirements-lock.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
"$PYTHON" - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"hetconv_edu needs Python 3.11 or newer; {sys.executable} is {sys.version.split()[0]}")
PY
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
echo "Installing the pinned environment into .venv (first time: a few minutes) ..."
.venv/bin/python -m pip install --quiet --requirement requirements-lock.txt
.venv/bin/python -m pip install --quiet --no-deps --editable .
echo "$want" > "$stamp"
