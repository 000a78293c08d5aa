#!/usr/bin/env python3
"""Execute a notebook's code cells through a running Jupyter server, as JupyterLab would.

    python tools/run_via_server.py --url http://127.0.0.1:8888 --token TOKEN NOTEBOOK

Starts a kernel with POST /api/kernels, opens the websocket /api/kernels/<id>/channels,
sends one execute_request per code cell in order, prints a one-line summary per cell and
deletes the kernel. Exits 1 at the first cell whose reply is an error (cells tagged
`raises-exception` may error). Only stdlib and tornado, which jupyter_server depends on.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import sys
import time
import uuid

from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect

SESSION = uuid.uuid4().hex


def code_cells(path: str) -> list[tuple[int, str, list[str]]]:
    """(index, source, tags) of each non-empty code cell of the notebook at `path`."""
    with open(path, encoding="utf-8") as file:
        cells = json.load(file)["cells"]
    found = []
    for index, cell in enumerate(cells):
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        if cell["cell_type"] == "code" and source.strip():
            found.append((index, source, cell.get("metadata", {}).get("tags", [])))
    return found


def execute_request(code: str) -> dict:
    """A Jupyter messaging protocol execute_request for the shell channel."""
    return {
        "header": {
            "msg_id": uuid.uuid4().hex,
            "msg_type": "execute_request",
            "username": "binder-check",
            "session": SESSION,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "version": "5.3",
        },
        "parent_header": {},
        "metadata": {},
        "content": {"code": code, "silent": False, "store_history": True,
                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
        "channel": "shell",
        "buffers": [],
    }


async def execute(ws, code: str, timeout: float) -> tuple[dict, list[str], list[str]]:
    """Run one cell; return its execute_reply content, its outputs as text lines (stdout,
    results, errors) and its stderr lines."""
    request = execute_request(code)
    msg_id = request["header"]["msg_id"]
    await ws.write_message(json.dumps(request))
    reply, idle, texts, stderr = None, False, [], []
    while reply is None or not idle:
        raw = await asyncio.wait_for(ws.read_message(), timeout)
        if raw is None:
            raise RuntimeError("the kernel websocket closed")
        if isinstance(raw, bytes):  # binary frames carry buffers, never replies
            continue
        msg = json.loads(raw)
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "execute_reply":
            reply = content
        elif kind == "status":
            idle = content["execution_state"] == "idle"
        elif kind == "stream":
            (texts if content["name"] == "stdout" else stderr).extend(content["text"].splitlines())
        elif kind in ("execute_result", "display_data"):
            data = content["data"]
            texts += data["text/plain"].splitlines() if "text/plain" in data else [", ".join(data)]
        elif kind == "error":
            texts.append(f"{content['ename']}: {content['evalue']}")
    return reply, texts, stderr


async def run(url: str, token: str, notebook: str, timeout: float) -> int:
    """Execute every code cell of `notebook` in a new kernel of the server at `url`."""
    headers = {"Authorization": f"token {token}"}
    http = AsyncHTTPClient()
    response = await http.fetch(f"{url}/api/kernels", method="POST", headers=headers,
                                body=json.dumps({"name": "python3"}))
    kernel_id = json.loads(response.body)["id"]
    print(f"kernel {kernel_id} started", flush=True)
    failed = 0
    ws = None
    try:
        ws_url = "ws" + url[len("http"):] + f"/api/kernels/{kernel_id}/channels"
        ws = await websocket_connect(HTTPRequest(ws_url, headers=headers))
        for index, source, tags in code_cells(notebook):
            start = time.perf_counter()
            reply, texts, stderr = await execute(ws, source, timeout)
            status = reply["status"]
            first = texts[0][:80] if texts else ""
            if stderr:
                first += f"  (+{len(stderr)} stderr lines)"
            print(f"cell {index:3d} {status:5s} {time.perf_counter() - start:7.2f} s  {first}",
                  flush=True)
            if status != "ok" and "raises-exception" not in tags:
                print("\n".join(stderr + texts), file=sys.stderr)
                failed = 1
                break
    finally:
        if ws is not None:
            ws.close()
        await http.fetch(f"{url}/api/kernels/{kernel_id}", method="DELETE", headers=headers)
        print(f"kernel {kernel_id} deleted", flush=True)
    return failed


def main() -> int:
    """Parse arguments and run the notebook."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook")
    parser.add_argument("--url", required=True, help="server base URL, e.g. http://127.0.0.1:8888")
    parser.add_argument("--token", required=True)
    parser.add_argument("--timeout", type=float, default=600, help="seconds per message")
    args = parser.parse_args()
    return asyncio.run(run(args.url.rstrip("/"), args.token, args.notebook, args.timeout))


if __name__ == "__main__":
    sys.exit(main())
