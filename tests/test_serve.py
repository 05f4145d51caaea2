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
from conftest import skip_or_fail
from test_trust_serve import Serve

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.timeout(120)
def test_serve_runs_the_console_over_a_websocket(tmp_path, sqlite_db, sqlite_url):
    try:
        import aiohttp
    except ImportError:
        skip_or_fail("aiohttp (textual-serve's web server) is not installed")
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


def _output_until(proc: subprocess.Popen, marker: str, timeout: float = 60) -> str:
    """What serve printed (stdout and stderr) up to the line that contains ``marker``."""
    deadline = time.monotonic() + timeout
    os.set_blocking(proc.stdout.fileno(), False)
    buf = b""
    while time.monotonic() < deadline:
        chunk = proc.stdout.read()
        if chunk:
            buf += chunk
            text = buf.decode("utf-8", "replace")
            if marker in text:
                return text
        elif proc.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"no {marker!r} from serve (exit {proc.poll()}): {buf!r}")


def _serve(sqlite_url: str, host: str, port: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "acorntui", "--db", sqlite_url, "serve",
                             "--host", host, "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.mark.timeout(120)
def test_serve_warns_when_not_on_localhost(sqlite_db, sqlite_url):
    """Bound to every address, serve says that anyone who reaches it (and has the link) gets
    the console; on loopback it does not. Only 127.0.0.1 is ever connected to."""
    warning = ("Listening on 0.0.0.0: anyone who can reach it and has the link can use the "
               "console with your rights.")
    port = free_port()
    proc = _serve(sqlite_url, "0.0.0.0", port)
    try:
        out = _output_until(proc, "Press Ctrl+C to stop.")
        assert warning in out, out
        assert f"acorntui serve: open http://0.0.0.0:{port}/?token=" in out, out
        # it really listens (on every address, so on loopback too) while it warns
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "serve never accepted a connection"
                time.sleep(0.2)
        assert proc.poll() is None
    finally:
        _stop(proc)

    port = free_port()
    proc = _serve(sqlite_url, "127.0.0.1", port)
    try:
        out = _output_until(proc, "Press Ctrl+C to stop.")
        assert "anyone who can reach it" not in out, out
        assert f"acorntui serve: open http://127.0.0.1:{port}/?token=" in out, out
    finally:
        _stop(proc)
