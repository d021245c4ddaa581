#!/usr/bin/env bash
# Serve one notebook as a code-free app with Voilà: the code cells are hidden and run once, the
# page shows their widgets, and everything a student does goes through widget callbacks.
#
#   scripts/app.sh NOTEBOOK [voila options]     (what `make app NB=NOTEBOOK` runs)
#
# NOTEBOOK: a notebook of notebooks/, with or without .ipynb (01_kernel_explorer). What is
# served is its student copy (`python -m hetconv_edu student-notebooks`, written afresh into
# build/app/): Voilà shows every output, so a worked solution would be on the page. Listens on
# $HOST (default 127.0.0.1: this machine only), port $PORT (default 8866), and opens no
# browser. To serve a room, HOST=0.0.0.0 (`make app NB=... HOST=0.0.0.0`): a random token is
# made and the URL to share (this machine's address, token included) is printed first; each
# student who opens it gets a kernel of their own. Uses the package's Voilà template
# (share/jupyter/voila/templates/hetconv), which loads nothing from the internet. $PYTHON picks
# the interpreter (.venv's). POOL=N (default 0: off) keeps N kernels that have already run the
# notebook (Voilà's pre-heated kernels): a student who opens the page takes one, and the pool
# refills; each costs a kernel's memory while it waits (benchmarks/class_serving.py --preheat).
set -euo pipefail
cd "$(dirname "$0")/.."
refuse() {
    echo "$1; choose one of (scripts/app.sh NOTEBOOK [voila options]):" >&2
    for nb in notebooks/*.ipynb; do echo "  $(basename "$nb" .ipynb)" >&2; done
    exit 2
}
[ $# -ge 1 ] && [ -n "$1" ] || refuse "no notebook given"
name=$(basename "${1%.ipynb}")
shift
[ -f "notebooks/$name.ipynb" ] || refuse "no notebook notebooks/$name.ipynb"
PYTHON=${PYTHON:-$PWD/.venv/bin/python}
export JUPYTER_PATH="$PWD/share/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
"$PYTHON" -m hetconv_edu student-notebooks build/app >/dev/null
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8866}
extra=()
POOL=${POOL:-0}
[[ "$POOL" =~ ^[0-9]+$ ]] || { echo "POOL must be a whole number of kernels, got '$POOL'" >&2; exit 2; }
if [ "$POOL" -gt 0 ]; then
    extra+=(--preheat_kernel=True --pool_size="$POOL")
fi
case "$HOST" in
127.0.0.1 | localhost | ::1) ;;
*)
    token=$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(18))')
    address=$(hostname -I 2>/dev/null | awk '{print $1}')
    echo "Serving $name to the room. Give the students this address (token included):"
    echo "    http://${address:-$(hostname)}:$PORT/?token=$token"
    extra+=(--token="$token")
    ;;
esac
cd build/app
exec "$PYTHON" -m voila "$name.ipynb" --template=hetconv --no-browser \
    --Voila.ip="$HOST" --port="$PORT" "${extra[@]}" "$@"
