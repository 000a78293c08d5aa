#!/usr/bin/env bash
# Prove that binder/ builds an environment that serves JupyterLab and runs a chapter notebook
# with the stored outputs. Nothing here speaks the kernel protocol itself: pip, venv, Jupyter's
# own commands, nbclient (through `jupyter nbconvert --execute`) and nbval do the work.
#
# Usage: tools/binder_check.sh [NOTEBOOK.ipynb]   (default: chapters/01-signal-propagation/01-chain-rule.ipynb)
#
# BINDER_CHECK_WITH chooses how the environment is built:
#   venv (default)  what repo2docker does, without Docker:
#     1. binder/requirements.txt and requirements.txt agree with code/pyproject.toml
#        (tools/deps.py --check);
#     2. a fresh `python3.11 -m venv` (binder/runtime.txt) gets exactly
#        `pip install -r binder/requirements.txt`, then `pip check`;
#     3. binder/postBuild runs from the repository root with that venv first on PATH;
#     then the steps of `current` below, with that venv; the temporary folder with the venv
#     (~3 GB) is removed at the end, which takes minutes on some disks (not with CI=true).
#   repo2docker     where `jupyter-repo2docker` and a running Docker daemon exist: build the
#                   image exactly as mybinder.org does (`jupyter-repo2docker --no-run`), then run
#                   this script inside it with BINDER_CHECK_WITH=current (steps 4-6; the image
#                   has no nbval, so step 7 is skipped there). Opt-in, and a failure when either
#                   tool is missing.
#   current         the environment whose `python` is first on PATH (inside the image):
#     4. torch is the CPU build and godeep is the repository's code/ (postBuild's install);
#     5. `jupyter lab` starts headless on 127.0.0.1 with a token: `jupyter server list` shows
#        it, and its REST API answers over plain HTTP (GET /api, /api/kernelspecs, the notebook
#        under /api/contents, the /lab page; a kernel is started with POST /api/kernels,
#        restarted with POST /api/kernels/<id>/restart, which the server answers once the
#        restarted kernel has replied to a kernel_info_request, and deleted); then
#        `jupyter server stop`;
#     6. `jupyter nbconvert --execute` (nbclient) runs NOTEBOOK on the environment's python3
#        kernel; no cell may error, except those tagged raises-exception. A split source
#        (CONTRIBUTING.md) stands for its two derived notebooks, the ones Binder's launch
#        buttons open: each is run;
#     7. strict nbval (tests/nbval-sanitize.cfg) re-runs NOTEBOOK (a split source: its derived
#        notebooks) on that environment's kernel
#        (`--nbval-kernel-name`) and compares every output with the stored one. nbval is not
#        part of Binder's environment, so it is run by a Python that has it: NBVAL_PYTHON, or
#        the repository's .venv (`make setup`). Without one the step is skipped with a notice,
#        and with CI=true that is a failure.
#
# Env:   BINDER_CHECK_OFFLINE_TORCH=1  drop the --extra-index-url line first (for machines
#                                      whose pip config already serves the torch CPU wheel)
#        PYTHON=python3.11             the interpreter for the venv (runtime.txt says 3.11)
#        NBVAL_PYTHON=path/to/python   the Python that runs nbval (step 7)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
NOTEBOOK=${1:-chapters/01-signal-propagation/01-chain-rule.ipynb}
if [ $# -gt 1 ] || [ ! -f "$NOTEBOOK" ] || [ "${NOTEBOOK##*.}" != ipynb ]; then
    echo "usage: $0 [NOTEBOOK.ipynb]  (run from the repository root)" >&2
    exit 2
fi
NOTEBOOK=$(realpath "$NOTEBOOK")
RELATIVE=${NOTEBOOK#"$ROOT"/}
WITH=${BINDER_CHECK_WITH:-venv}
case "$WITH" in
venv | repo2docker | current) ;;
*)
    echo "BINDER_CHECK_WITH must be venv, repo2docker or current, not '$WITH'" >&2
    exit 2
    ;;
esac
PYTHON=${PYTHON:-python3.11}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/binder-check.XXXXXX")
SERVER_PID=

cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID"
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    # minutes for the venv's ~3 GB in ~70,000 files where the disk discards on delete; CI's
    # machine is thrown away after the run, so there (CI=true) the folder is left in place
    if [ "${CI:-}" = "true" ]; then
        printf '\n== [%4ds] CI=true: %s left for the discarded machine\n' "$SECONDS" "$WORK"
        return
    fi
    local start=$SECONDS
    rm -rf "$WORK"
    printf '\n== [%4ds] removed %s in %d s\n' "$SECONDS" "$WORK" "$((SECONDS - start))"
}
trap cleanup EXIT

step() { printf '\n== [%4ds] %s\n' "$SECONDS" "$*"; }

# As `make` exports them: the stored outputs were made with progress bars and widgets off.
export GODEEP_PROGRESS=${GODEEP_PROGRESS:-0} GODEEP_INTERACTIVE=${GODEEP_INTERACTIVE:-0} \
       TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2} TF_ENABLE_ONEDNN_OPTS=${TF_ENABLE_ONEDNN_OPTS:-0} \
       PYDEVD_DISABLE_FILE_VALIDATION=1
# godeep must come from postBuild's install, not from a PYTHONPATH left by the caller.
unset PYTHONPATH
# Jupyter paths inside $WORK: no user config, kernels or runtime files leak in.
export JUPYTER_CONFIG_DIR="$WORK/jupyter/config" JUPYTER_DATA_DIR="$WORK/jupyter/data" \
       JUPYTER_RUNTIME_DIR="$WORK/jupyter/runtime"

case "$WITH" in
venv)
    step "1. binder/requirements.txt and requirements.txt agree with code/pyproject.toml"
    "$PYTHON" "$ROOT/tools/deps.py" --check

    step "2. fresh venv ($("$PYTHON" --version)) from binder/requirements.txt"
    "$PYTHON" -m venv "$WORK/venv"
    REQUIREMENTS="$ROOT/binder/requirements.txt"
    if [ "${BINDER_CHECK_OFFLINE_TORCH:-0}" = 1 ]; then
        grep -v '^--extra-index-url' "$REQUIREMENTS" > "$WORK/requirements.txt"
        REQUIREMENTS="$WORK/requirements.txt"
        echo "(BINDER_CHECK_OFFLINE_TORCH=1: --extra-index-url dropped)"
    fi
    # -qq: errors only (this machine's pip config adds noisy warnings); versions are listed below
    "$WORK/venv/bin/pip" install -qq --disable-pip-version-check -r "$REQUIREMENTS"
    "$WORK/venv/bin/pip" check --disable-pip-version-check
    "$WORK/venv/bin/pip" list --disable-pip-version-check 2>/dev/null \
        | grep -Ei '^(torch|tensorflow[-_]cpu|numpy|jupyterlab|jupyter[-_]server|nbclient|ipykernel) '

    step "3. binder/postBuild from the repository root"
    (cd "$ROOT" && PATH="$WORK/venv/bin:$PATH" ./binder/postBuild)
    export PATH="$WORK/venv/bin:$PATH"
    ;;
repo2docker)
    command -v jupyter-repo2docker >/dev/null \
        || { echo "BINDER_CHECK_WITH=repo2docker: jupyter-repo2docker is not installed" >&2; exit 1; }
    docker info >/dev/null 2>&1 \
        || { echo "BINDER_CHECK_WITH=repo2docker: no Docker daemon answers (docker info)" >&2; exit 1; }
    IMAGE="godeep-binder-check:$(date +%s)"
    step "1. jupyter-repo2docker --no-run: the image mybinder.org would build ($IMAGE)"
    jupyter-repo2docker --no-run --image-name "$IMAGE" "$ROOT"
    step "2. this check inside the image (BINDER_CHECK_WITH=current)"
    status=0
    # CI is not passed on: nbval is no part of the image, so step 7 is skipped there (a notice)
    docker run --rm -e BINDER_CHECK_WITH=current "$IMAGE" \
        bash tools/binder_check.sh "$RELATIVE" || status=$?
    docker image rm "$IMAGE" >/dev/null || true
    exit "$status"
    ;;
current) ;;
esac

BIN=$(dirname "$(command -v python)")
step "4. the environment: $BIN"
python - "$ROOT" <<'EOF'
import sys
from pathlib import Path

import godeep
import torch

root = Path(sys.argv[1]).resolve()
print(f"python {sys.version.split()[0]} | torch {torch.__version__} | godeep at {godeep.__file__}")
if torch.version.cuda is not None:
    sys.exit(f"torch {torch.__version__} is a CUDA build ({torch.version.cuda}): binder/ must give the CPU wheel")
if root / "code" not in Path(godeep.__file__).resolve().parents:
    sys.exit(f"godeep is not the repository's code/ ({root / 'code'}): did binder/postBuild run?")
EOF

step "5. jupyter lab, headless on 127.0.0.1"
PORT=$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
TOKEN=$(python -c 'import secrets; print(secrets.token_hex(24))')
AS_ROOT=()
if [ "$(id -u)" = 0 ]; then AS_ROOT=(--allow-root); fi  # Binder runs as jovyan; root here
"$BIN/jupyter" lab --no-browser --port "$PORT" --ServerApp.port_retries=0 --ServerApp.ip=127.0.0.1 \
    --IdentityProvider.token="$TOKEN" --ServerApp.root_dir="$ROOT" "${AS_ROOT[@]}" \
    > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
python - "$BIN/jupyter" "$PORT" "$TOKEN" "$RELATIVE" <<'EOF' || { echo "--- server log"; cat "$WORK/server.log"; exit 1; }
"""Wait for `jupyter server list` to show the server, then check its REST API (plain HTTP)."""
import json, subprocess, sys, time, urllib.parse, urllib.request

jupyter, port, token, notebook = sys.argv[1:]
deadline = time.monotonic() + 120
while True:
    listed = subprocess.run([jupyter, "server", "list", "--json"], capture_output=True, text=True)
    servers = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
    mine = [s for s in servers if s.get("port") == int(port)]
    if mine:
        break
    if time.monotonic() > deadline:
        sys.exit(f"`jupyter server list` did not show a server on port {port} within 120 s")
    time.sleep(1)
url = mine[0]["url"].rstrip("/")
print(f"jupyter server list: {url} (jupyter_server {mine[0]['version']}, root {mine[0]['root_dir']})")


def call(method, path, body=None, expect=200):
    request = urllib.request.Request(
        url + path, method=method, data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        if response.status != expect:
            sys.exit(f"{method} {path}: HTTP {response.status}, expected {expect}")
        data = response.read()
    return json.loads(data) if data and path.startswith("/api") else data.decode()


print("GET /api:", call("GET", "/api"))
specs = call("GET", "/api/kernelspecs")
argv = specs["kernelspecs"][specs["default"]]["spec"]["argv"]
print(f"GET /api/kernelspecs: default {specs['default']!r}, argv {argv[:3]}")
model = call("GET", "/api/contents/" + urllib.parse.quote(notebook) + "?content=0")
print(f"GET /api/contents/{notebook}: {model['type']}, {model['size']} bytes")
if model["type"] != "notebook":
    sys.exit(f"the server does not see {notebook} as a notebook")
page = call("GET", "/lab")
if "JupyterLab" not in page and "jupyter-config-data" not in page:
    sys.exit("GET /lab did not return the JupyterLab page")
print(f"GET /lab: the JupyterLab page ({len(page)} characters)")
kernel = call("POST", "/api/kernels", {"name": specs["default"]}, expect=201)
print(f"POST /api/kernels: kernel {kernel['name']} {kernel['execution_state']}")
# The server answers a restart only once the restarted kernel has replied to the
# kernel_info_request it sends (jupyter_server's restart_kernel; no reply within
# kernel_info_timeout is an HTTP 500 here). The execution_state that GET reports is not waited
# for: the server learns it from IOPub status messages, and on a fast machine the restarted
# kernel's first ones can arrive before the server's IOPub socket has reconnected, which
# leaves "starting" there for good (CI saw that: a 120 s wait for "idle" timed out).
call("POST", f"/api/kernels/{kernel['id']}/restart")
kernel = call("GET", f"/api/kernels/{kernel['id']}")
if kernel["execution_state"] == "dead":
    sys.exit(f"kernel {kernel['id']} is dead after its restart")
print(
    "POST /api/kernels/<id>/restart: the restarted kernel answered its kernel_info_request "
    f"(GET reports it {kernel['execution_state']})"
)
call("DELETE", f"/api/kernels/{kernel['id']}", expect=204)
print("DELETE /api/kernels/<id>: kernel shut down")
EOF
"$BIN/jupyter" server stop "$PORT"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=

# a split source stands for its derived notebooks (tools/nb.py nbval-paths), paths from $ROOT
read -r -a RUNS <<< "$(cd "$ROOT" && python tools/nb.py nbval-paths "$RELATIVE")"
step "6. ${RUNS[*]} executed by nbclient (jupyter nbconvert --execute) on this environment's kernel"
for RUN in "${RUNS[@]}"; do
    "$BIN/jupyter" nbconvert --to notebook --execute --ExecutePreprocessor.timeout=600 \
        --ExecutePreprocessor.kernel_name=python3 --output-dir "$WORK/executed" "$ROOT/$RUN"
    python - "$WORK/executed/$(basename "$RUN")" <<'EOF'
"""Every code cell ran; errors only where a cell is tagged raises-exception."""
import sys

import nbformat

nb = nbformat.read(sys.argv[1], as_version=4)
cells = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
unrun = [i for i, c in enumerate(cells) if c.execution_count is None]
errors = [
    (i, o.get("ename"), o.get("evalue"))
    for i, c in enumerate(cells)
    for o in c.outputs
    if o.output_type == "error" and "raises-exception" not in c.metadata.get("tags", [])
]
print(f"{len(cells)} code cells, {len(cells) - len(unrun)} executed, {len(errors)} unexpected errors")
if unrun or errors:
    sys.exit(f"not executed: {unrun}; errors: {errors}")
EOF
done

step "7. strict nbval of ${RUNS[*]} on this environment's kernel"
NBVAL_PYTHON=${NBVAL_PYTHON:-$ROOT/.venv/bin/python}
if [ -x "$NBVAL_PYTHON" ] && "$NBVAL_PYTHON" -c "import nbval" 2>/dev/null; then
    # the environment's python as a named kernel; nbval, run by NBVAL_PYTHON, starts that one
    python -m ipykernel install --user --name binder-check --display-name "binder-check" >/dev/null
    "$NBVAL_PYTHON" - "$BIN/python" <<'EOF'
"""The kernel nbval will start, as NBVAL_PYTHON's jupyter_client finds it, is this environment's."""
import os, sys

from jupyter_client.kernelspec import KernelSpecManager

spec = KernelSpecManager().get_kernel_spec("binder-check")
print(f"kernel binder-check for nbval ({sys.executable}): {spec.argv[:3]}")
if not os.path.samefile(spec.argv[0], sys.argv[1]):
    sys.exit(f"kernel binder-check runs {spec.argv[0]}, not {sys.argv[1]}")
EOF
    (cd "$ROOT" && "$NBVAL_PYTHON" -m pytest "${RUNS[@]}" --nbval --nbval-kernel-name binder-check \
        --nbval-sanitize-with tests/nbval-sanitize.cfg --nbval-cell-timeout 600 \
        -p no:cacheprovider -p no:xdist -q)
elif [ "${CI:-}" = true ] || [ "${CI:-}" = 1 ]; then
    echo "no Python with nbval (NBVAL_PYTHON=$NBVAL_PYTHON): outputs not compared; a failure with CI=true" >&2
    exit 1
else
    echo "SKIPPED: no Python with nbval (set NBVAL_PYTHON, or run \`make setup\` for .venv): outputs not compared"
fi

step "binder check passed ($WITH)"
