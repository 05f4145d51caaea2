"""Issue 12, finding 8: `acorntui serve` keeps the database password and the console to itself.

- the banner and every session's process arguments (what `ps` shows any user) hold no password;
- the page and the websocket answer 403 without the per-run token, on loopback too;
- the banner says whose identity the served console uses.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree(pid: int) -> list[int]:
    """pid and its descendants, from /proc."""
    kids: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


class Serve:
    """`acorntui serve` in a subprocess; its stderr collected line by line."""

    def __init__(self, args: list[str], env: dict):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "acorntui", *args, "serve", "--port", str(self.port)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def token(self, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(r"\?token=([A-Za-z0-9_-]+)", "".join(self.lines))
            if m:  # the banner comes at start-up, just before the port listens
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    return m.group(1)
                except OSError:
                    pass
            assert self.proc.poll() is None, "".join(self.lines)
            time.sleep(0.1)
        raise AssertionError("no token in the banner: " + "".join(self.lines))

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.mark.timeout(180)
def test_serve_needs_its_token_and_hides_the_password(tmp_path):
    aiohttp = pytest.importorskip("aiohttp")
    a, b = f"Qa{uuid.uuid4().hex[:9]}", f"{uuid.uuid4().hex[:9]}Zk"
    secrets = [a, b]
    cfg = tmp_path / "acorn.toml"
    # a closed port: each session's console opens and says the database is unreachable
    cfg.write_text(f'[database]\nurl = "mysql://acorn:{a}/#?@{b}@127.0.0.1:1/backup"\n',
                   encoding="utf-8")
    cfg.chmod(0o600)
    env = dict(os.environ, ACORN_CONFIG=str(cfg), PYTHONPATH=str(ROOT))
    env.pop("ACORN_DB", None)
    server = Serve([], env)
    try:
        token = server.token()
        base = f"http://127.0.0.1:{server.port}"
        cmdlines: list[bytes] = []

        async def drive() -> dict:
            seen: dict = {}
            async with aiohttp.ClientSession() as http:
                for q in ("", "?token=", "?token=wrong"):
                    async with http.get(f"{base}/{q}") as resp:
                        seen[f"page{q}"] = resp.status
                async with http.get(f"{base}/?token={token}") as resp:
                    seen["page_ok"] = resp.status
                    seen["page_text"] = await resp.text()
                for path in ("/ws?width=80&height=24", "/ws/wrong?width=80&height=24"):
                    try:
                        async with http.ws_connect(f"ws://127.0.0.1:{server.port}{path}"):
                            seen[path] = 101
                    except aiohttp.WSServerHandshakeError as exc:
                        seen[path] = exc.status
                screen = b""
                async with http.ws_connect(f"ws://127.0.0.1:{server.port}/ws/{token}"
                                           "?width=100&height=30") as ws:
                    deadline = time.monotonic() + 60
                    while time.monotonic() < deadline and b"ctrl+r" not in screen:
                        for pid in tree(server.proc.pid):
                            try:
                                cmdlines.append(Path(f"/proc/{pid}/cmdline").read_bytes())
                            except OSError:
                                pass
                        try:
                            msg = await ws.receive(timeout=2)
                        except TimeoutError:
                            continue
                        if msg.type == aiohttp.WSMsgType.BINARY:
                            screen += msg.data
                        elif msg.type == aiohttp.WSMsgType.TEXT:
                            screen += msg.data.encode()
                        elif msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                            break
                    await ws.send_json(["stdin", "\x11"])
                seen["screen"] = screen
            return seen

        seen = asyncio.run(drive())
        assert seen["page"] == 403 and seen["page?token="] == 403
        assert seen["page?token=wrong"] == 403
        assert seen["page_ok"] == 200 and f"/ws/{token}" in seen["page_text"]
        assert seen["/ws?width=80&height=24"] == 403
        assert seen["/ws/wrong?width=80&height=24"] == 403
        # the session ran: its console painted the unreachable-database message
        assert b"ctrl+r" in seen["screen"], seen["screen"][-2000:]
        consoles = [c for c in cmdlines if b"acorntui" in c and b"console" in c]
        assert consoles, cmdlines
        assert [c for c in cmdlines if any(s.encode() in c for s in secrets)] == []
        banner = "".join(server.lines)
        assert [s for s in secrets if s in banner] == [], banner
        assert banner.count(token) == 1, banner
        me = pwd.getpwuid(os.geteuid()).pw_name
        assert f"as OS user {me} (uid {os.geteuid()})" in banner, banner
    finally:
        server.stop()
    assert [s for s in secrets if s in "".join(server.lines)] == []
