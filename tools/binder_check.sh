#!/usr/bin/env bash
# Prove the Binder files (binder/) the closest way possible without Docker:
#   1. binder/requirements.txt is what code/pyproject.toml gives (tools/deps.py --check);
#   2. a fresh virtual environment gets exactly `pip install -r binder/requirements.txt`;
#   3. binder/postBuild runs from the repository root with that environment's pip on PATH
#      (as repo2docker does: `RUN ./binder/postBuild` in the repository folder);
#   4. `jupyter lab` starts headless on 127.0.0.1 with a random token and a free port;
#   5. NOTEBOOK runs cell by cell through that server's kernel (tools/run_via_server.py);
#   6. the server stops and the temporary folder is removed.
#
# Usage: tools/binder_check.sh chapters/01-signal-propagation/01-xxx.ipynb
# Env:   BINDER_CHECK_OFFLINE_TORCH=1  drop the --extra-index-url line first (for machines
#                                      whose pip config already serves the torch CPU wheel)
#        PYTHON=python3.11             the interpreter for the venv (runtime.txt says 3.11)
set -euo pipefail

if [ $# -ne 1 ] || [ ! -f "$1" ]; then
    echo "usage: $0 NOTEBOOK.ipynb" >&2
    exit 2
fi
NOTEBOOK=$(realpath "$1")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3.11}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/binder-check.XXXXXX")
SERVER_PID=

cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID"
        wait "$SERVER_PID" 2>/dev/null || true
        echo "server stopped"
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

step() { printf '\n== [%4ds] %s\n' "$SECONDS" "$*"; }

# Jupyter paths inside $WORK: no user config, kernels or runtime files leak in.
export JUPYTER_CONFIG_DIR="$WORK/jupyter/config" JUPYTER_DATA_DIR="$WORK/jupyter/data" \
       JUPYTER_RUNTIME_DIR="$WORK/jupyter/runtime"

step "binder/requirements.txt is generated from code/pyproject.toml"
"$PYTHON" "$ROOT/tools/deps.py" --check

step "fresh venv ($("$PYTHON" --version)) from binder/requirements.txt"
"$PYTHON" -m venv "$WORK/venv"
REQUIREMENTS="$ROOT/binder/requirements.txt"
if [ "${BINDER_CHECK_OFFLINE_TORCH:-0}" = 1 ]; then
    grep -v '^--extra-index-url' "$REQUIREMENTS" > "$WORK/requirements.txt"
    REQUIREMENTS="$WORK/requirements.txt"
    echo "(BINDER_CHECK_OFFLINE_TORCH=1: --extra-index-url dropped)"
fi
# -qq: errors only (this machine's pip config adds noisy warnings); versions are listed below
"$WORK/venv/bin/pip" install -qq --disable-pip-version-check -r "$REQUIREMENTS"
"$WORK/venv/bin/pip" list --disable-pip-version-check 2>/dev/null \
    | grep -Ei '^(torch|tensorflow[-_]cpu|jupyterlab|jupyter-book|numpy|nbval) '


step "binder/postBuild from the repository root"
(cd "$ROOT" && PATH="$WORK/venv/bin:$PATH" ./binder/postBuild)
"$WORK/venv/bin/python" -c 'import torch, godeep; print("torch", torch.__version__, "| godeep at", godeep.__file__)'

step "jupyter lab, headless on 127.0.0.1"
PORT=$("$WORK/venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
TOKEN=$("$WORK/venv/bin/python" -c 'import secrets; print(secrets.token_hex(24))')
URL="http://127.0.0.1:$PORT"
AS_ROOT=()
if [ "$(id -u)" = 0 ]; then AS_ROOT=(--allow-root); fi  # Binder runs as jovyan; root here
"$WORK/venv/bin/jupyter" lab --no-browser --port "$PORT" --ServerApp.port_retries=0 \
    --ServerApp.ip=127.0.0.1 --ServerApp.token="$TOKEN" \
    --ServerApp.root_dir="$(dirname "$NOTEBOOK")" "${AS_ROOT[@]}" > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
"$WORK/venv/bin/python" - "$URL" "$TOKEN" <<'EOF' || { cat "$WORK/server.log"; exit 1; }
import json, sys, time, urllib.request
url, token = sys.argv[1:]
for _ in range(120):
    try:
        request = urllib.request.Request(f"{url}/api/status", headers={"Authorization": f"token {token}"})
        print("server up:", json.load(urllib.request.urlopen(request, timeout=2)))
        break
    except OSError:
        time.sleep(0.5)
else:
    sys.exit(f"no answer from {url}/api/status in 60 s")
EOF

step "execute $NOTEBOOK through the server's kernel"
"$WORK/venv/bin/python" "$ROOT/tools/run_via_server.py" --url "$URL" --token "$TOKEN" "$NOTEBOOK"

step "binder check passed"
