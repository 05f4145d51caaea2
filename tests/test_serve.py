"""`acorntui serve`: the console in a browser through textual-serve, on localhost."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_trust_serve import Serve

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.timeout(120)
def test_serve_runs_the_console_over_a_websocket(tmp_path, sqlite_db, sqlite_url):
    aiohttp = pytest.importorskip("aiohttp")
    server = Serve(["--db", sqlite_url], dict(os.environ, PYTHONPATH=str(ROOT)))
    port = server.port
    try:
        token = server.token()

        async def drive() -> tuple[str, str]:
            async with aiohttp.ClientSession() as http:
                page = ""
                for _ in range(100):
                    try:
                        async with http.get(f"http://127.0.0.1:{port}/?token={token}") as resp:
                            page = await resp.text()
                            break
                    except aiohttp.ClientConnectionError:
                        await asyncio.sleep(0.2)
                seen = b""
                async with http.ws_connect(f"ws://127.0.0.1:{port}/ws/{token}"
                                           "?width=100&height=30") as ws:
                    deadline = time.monotonic() + 60
                    while time.monotonic() < deadline and b"palette" not in seen:
                        try:
                            msg = await ws.receive(timeout=5)
                        except TimeoutError:
                            continue
                        if msg.type == aiohttp.WSMsgType.BINARY:
                            seen += msg.data
                        elif msg.type == aiohttp.WSMsgType.TEXT:
                            seen += msg.data.encode()
                        elif msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                            break
                    await ws.send_json(["stdin", "q"])
                return page, seen.decode("utf-8", "replace")

        page, screen = asyncio.run(drive())
        assert "textual.js" in page and f"127.0.0.1:{port}" in page
        # the console itself ran and painted its screen into the browser's terminal
        text = re.sub(r"\x1b\[[0-9;?$]*[A-Za-z]|\x1b\][^\x07]*\x07", "", screen)
        assert "palette" in text, text[-2000:]
        assert "Help" in text or "History" in text, text[-2000:]
    finally:
        server.stop()


def test_serve_warns_when_not_on_localhost(sqlite_url):
    out = subprocess.run([sys.executable, "-m", "acorntui", "serve", "--help"], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0 and "--host" in out.stdout and "127.0.0.1" in out.stdout
