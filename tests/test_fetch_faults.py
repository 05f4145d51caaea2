"""SSH faults during ``acorntui fetch`` (issue #8), against a real OpenSSH sshd, with both
transfer methods (the exec tar stream and pipelined SFTP).

One report server holds good logs plus every trouble at once: a file deleted between the
listing and the read, a file that grows while it is read, a file its reader may not open
(mode 000, the sshd login an unprivileged user made for the test), a symlink pointing outside
the reports folder, names with ``..`` and a newline. The pull must go on for the rest, name
each case (PullReport problems and ``acorntui fetch`` output), and write nothing outside the
spool: the whole tmp tree is listed before and after, and a sentinel folder sits next to the
spool. Separately, the report server vanishes (sshd and every child SIGKILLed) in the middle
of a large pull: the last good copies stay, no partial file is left, the next pull completes.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from sshd import (
    CLEAN_LOG,
    FAILED_LOG,
    SshServer,
    _home,  # noqa: F401
    start_server,
)
from sshd import make_cfg as loopback_cfg

from acorntui import fetch

ROOT = Path(__file__).resolve().parent.parent
HOUR = 3600
GOOD = {f"cust{i:02d}/srv{i}.out": (f"log {i}\n" + (FAILED_LOG if i % 3 else CLEAN_LOG))
        for i in range(12)}


@pytest.fixture(scope="module")
def login_user():
    """A throwaway unprivileged account for the sshd login (mode 000 means nothing to root)."""
    if os.geteuid() != 0 or shutil.which("useradd") is None:
        from conftest import skip_or_fail

        skip_or_fail("needs root and useradd to make an unprivileged login")
    name = f"acf{uuid.uuid4().hex[:8]}"
    # -p '*': no password, but not locked (sshd without PAM refuses a locked '!' account)
    subprocess.run(["useradd", "-M", "-d", "/nonexistent", "-s", "/bin/sh", "-p", "*", name],
                   check=True)
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)
        assert name not in {p.pw_name for p in pwd.getpwall()}


@pytest.fixture
def server(login_user):
    """An sshd whose tree the unprivileged user can read (outside pytest's 0700 tmp)."""
    base = Path(f"/tmp/acorn-faults-{uuid.uuid4().hex[:8]}")
    base.mkdir(mode=0o755)
    os.chmod(base, 0o755)
    srv = start_server(base / "sshd")
    try:
        os.chmod(srv.base, 0o755)
        os.chmod(srv.authorized_keys, 0o644)
        srv.user = login_user
        yield srv
    finally:
        srv.stop()
        shutil.rmtree(base, ignore_errors=True)


def make_cfg(tmp_path: Path, srv: SshServer, method: str):
    return loopback_cfg(tmp_path, srv, extra=f'method = "{method}"\ncompress = "none"')


def tree(root: Path, skip: tuple[Path, ...]) -> dict[str, tuple[int, int, int]]:
    """Every path under root (not under skip): (mode, size, mtime_ns)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        if any(d == s or s in d.parents for s in skip):
            dirnames[:] = []
            continue
        for name in dirnames + filenames:
            if d / name in skip:
                continue
            st = os.lstat(d / name)
            out[str(d / name)] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return out


def spool_files(spool: Path) -> dict[str, bytes]:
    return {str(p.relative_to(spool)): p.read_bytes() for p in spool.rglob("*") if p.is_file()}


def sentinel(tmp_path: Path) -> Path:
    """A folder next to the spool, with a file each an escaping name could reach."""
    s = tmp_path / "sentinel"
    s.mkdir()
    for name in ("secret.out", "line.out", "srv.out"):
        (s / name).write_text("sentinel\n")
    return s


class Grower:
    """Appends to a remote file from a thread until stopped: a log still being written."""

    def __init__(self, path: Path):
        self.path, self.stop_ = path, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        n = 0
        while not self.stop_.is_set():
            with open(self.path, "ab") as f:
                f.write(f"line {n} still being written\n".encode() * 2000)
            n += 1
            time.sleep(0.002)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_.set()
        self.thread.join(5)


@pytest.mark.parametrize("method", ["exec", "sftp"])
def test_every_file_fault_is_named_and_the_rest_is_pulled(tmp_path, server, method):
    now = time.time()
    for i, (rel, text) in enumerate(GOOD.items()):
        server.add_file(rel, text, mtime=now - HOUR - i)
    outside = server.base.parent / "outside"
    outside.mkdir()
    (outside / "secret.out").write_text("root password\n")
    server.add_file("acme/gone.out", CLEAN_LOG)
    grows = server.add_file("acme/grows.out", "begin\n" + "x" * 2_000_000)
    grows_start = grows.read_bytes()
    locked = server.add_file("acme/locked.out", CLEAN_LOG)
    os.chmod(locked, 0)
    os.symlink(outside / "secret.out", server.root / "acme" / "evil.out")
    os.symlink(outside, server.root / "escape")  # a customer folder pointing out
    server.add_file("acme/new\nline.out", CLEAN_LOG)
    server.add_file("acme/..out", CLEAN_LOG)
    server.add_file("...", CLEAN_LOG)
    (server.root / "..dots").mkdir()
    server.add_file("..dots/srv.out", CLEAN_LOG)
    server.add_file("acme/srv..out", CLEAN_LOG)  # odd but safe: fetched
    cfg = make_cfg(tmp_path, server, method)
    sent = sentinel(tmp_path)
    before = tree(tmp_path, skip=(cfg.spool_dir,))
    before_sentinel = spool_files(sent)

    def at(pull, event):
        if event == "listed":
            (server.root / "acme" / "gone.out").unlink()

    with Grower(grows):
        report = fetch.pull(cfg, progress=at)
    s = report.servers[0]
    assert not s.error, s.error
    assert s.method.startswith(method)
    got = spool_files(cfg.spool_dir)
    for rel, text in GOOD.items():
        assert got[rel] == text.encode(), rel
    assert got["acme/srv..out"] == CLEAN_LOG.encode()
    # the growing log: a consistent prefix of what the writer wrote, never garbage
    final = grows.read_bytes()
    assert got["acme/grows.out"].startswith(grows_start)
    assert final.startswith(got["acme/grows.out"])
    assert set(got) == set(GOOD) | {"acme/srv..out", "acme/grows.out"}
    assert not list(cfg.spool_dir.rglob(".*"))  # no partial file, no dot name
    assert "acme/grows.out" in s.changed

    problems = "\n".join(report.problems())
    expect = {
        "acme/gone.out": ("no such file", "cannot stat", "removed"),
        "acme/locked.out": ("permission denied",),
        "acme/evil.out": ("symlink pointing outside",),
        "escape (": ("symlink pointing outside",),
        "acme/new\\nline.out": ("control characters",),
        "acme/..out": ("a dot name", "starts with a dot"),
        "..dots/": ("starts with a dot",),
        "acme/grows.out": ("changed while it was read",),
    }
    for name, words in expect.items():
        lines = [ln for ln in problems.splitlines()
                 if ln.startswith("loopback: ") and name in ln]
        assert lines, f"{name} not reported:\n{problems}"
        assert any(w in ln.lower() for ln in lines for w in words), (name, lines)
    assert not report.ok

    # nothing written outside the spool; the sentinel untouched
    after = tree(tmp_path, skip=(cfg.spool_dir,))
    assert after == before
    assert spool_files(sent) == before_sentinel
    assert (outside / "secret.out").read_text() == "root password\n"
    assert sorted(os.listdir(outside)) == ["secret.out"]

    # the same through the command line: each case named, exit 1
    (server.root / "acme" / "gone.out").write_text(CLEAN_LOG)
    run = subprocess.run([sys.executable, "-m", "acorntui", "--config", str(cfg.path),
                          "fetch"], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    err_lines = run.stderr.splitlines()
    for name in ("acme/locked.out", "acme/evil.out", "escape (", "acme/new\\nline.out",
                 "acme/..out", "..dots/"):
        assert any(ln.startswith("acorntui: loopback: ") and name in ln for ln in err_lines), \
            (name, run.stderr)
    assert "permission denied" in run.stderr.lower()
    assert all(ln.startswith("acorntui: loopback: ") for ln in err_lines), run.stderr
    assert "loopback: " in run.stdout and "failed" in run.stdout
    assert (cfg.spool_dir / "acme/gone.out").read_text() == CLEAN_LOG
    assert (cfg.spool_dir / "acme/grows.out").read_bytes() == final  # the rest, now
    assert tree(tmp_path, skip=(cfg.spool_dir,)) == before


@pytest.mark.parametrize("method", ["exec", "sftp"])
def test_report_server_vanishes_mid_pull(tmp_path, method):
    srv = start_server(tmp_path / "sshd")
    try:
        now = time.time()
        old_big = b"old big\n" + CLEAN_LOG.encode()
        srv.add_file("acme/big.out", old_big, mtime=now - 2 * HOUR)
        for rel, text in GOOD.items():
            srv.add_file(rel, "old\n" + text, mtime=now - 2 * HOUR)
        cfg = make_cfg(tmp_path, srv, method)
        assert fetch.pull(cfg).ok
        sent = sentinel(tmp_path)
        new_big = os.urandom(30_000_000)
        srv.add_file("acme/big.out", new_big, mtime=now - 60)
        for rel, text in GOOD.items():
            srv.add_file(rel, "new\n" + text, mtime=now - 60)
        before = tree(tmp_path, skip=(cfg.spool_dir, srv.base))
        killed: list[int] = []

        def vanish(pull, event):
            if event == "bytes" and pull.bytes > 2_000_000 and not killed:
                pids = srv.session_pids()
                os.kill(srv.proc.pid, signal.SIGKILL)  # the listener first: no reconnect
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                killed.append(len(pids))

        started = time.monotonic()
        report = fetch.pull(cfg, progress=vanish)
        took = time.monotonic() - started
        s = report.servers[0]
        assert killed and killed[0] > 0
        assert s.error and ("interrupted" in s.error or "connection" in s.error.lower()), s.error
        assert took < 30, took  # noticed at once, not after the transfer timeout
        assert not report.ok and any(s.error in p for p in report.problems())
        assert (cfg.spool_dir / "acme/big.out").read_bytes() == old_big
        for rel, text in GOOD.items():
            assert (cfg.spool_dir / rel).read_text() in ("old\n" + text, "new\n" + text)
        assert not list(cfg.spool_dir.rglob(".*"))
        assert tree(tmp_path, skip=(cfg.spool_dir, srv.base)) == before
        assert all(p.read_text() == "sentinel\n" for p in sent.iterdir())

        srv.proc.wait(5)
        srv.proc = None
        srv.start()
        again = fetch.pull(cfg)
        assert again.ok, again.problems()
        assert (cfg.spool_dir / "acme/big.out").read_bytes() == new_big
        for rel, text in GOOD.items():
            assert (cfg.spool_dir / rel).read_text() == "new\n" + text
    finally:
        srv.stop()
