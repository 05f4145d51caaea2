"""A real OpenSSH sshd on a loopback port, for the fetch tests and the fetch benchmark.

Throwaway host and user keys live in a temporary folder; the served tree is a
``/reports``-style folder (``<customer>/<server>.out``) under it. sshd runs in the
foreground (``-D -e``) as a child of the test process, logging to ``sshd.log``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

CLEAN_LOG = (
    "building file list ... done\n"
    "Documents/report.docx\n"
    "\n"
    "sent 1,234 bytes  received 56 bytes  2,580.00 bytes/sec\n"
    "total size is 9,999  speedup is 7.75\n"
)

FAILED_LOG = (
    "building file list ... done\n"
    'rsync: [sender] send_files failed to open "/data/x.pst": Permission denied (13)\n'
    "\n"
    "sent 1,234 bytes  received 56 bytes  2,580.00 bytes/sec\n"
    "total size is 9,999  speedup is 7.75\n"
    "rsync error: some files/attrs were not transferred (see previous errors) (code 23) "
    "at main.c(1338) [sender=3.2.7]\n"
)


def find_sshd() -> str | None:
    for cand in (shutil.which("sshd"), "/usr/sbin/sshd", "/usr/local/sbin/sshd"):
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return os.path.abspath(cand)
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path, kind: str = "ed25519") -> None:
    for p in (path, path.with_name(path.name + ".pub")):
        if p.exists():
            p.unlink()
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "acorn-test", "-f", str(path)],
                   check=True, stdout=subprocess.DEVNULL)


class SshServer:
    """One sshd: ``start()``, ``stop()``, ``add_file()``, ``kill_sessions()``..."""

    def __init__(self, base: Path, *, binary: str, sftp_only: bool = False,
                 extra_config: str = ""):
        self.base = Path(base)
        self.base.mkdir(parents=True, exist_ok=True)
        self.binary = binary
        self.sftp_only = sftp_only
        self.extra_config = extra_config
        self.root = self.base / "reports"
        self.root.mkdir(exist_ok=True)
        self.host_key = self.base / "ssh_host_ed25519_key"
        self.client_key = self.base / "id_ed25519"
        self.authorized_keys = self.base / "authorized_keys"
        self.log_path = self.base / "sshd.log"
        self.pid_file = self.base / "sshd.pid"
        self.config_path = self.base / "sshd_config"
        self.user = "root"
        self.port = 0
        self.proc: subprocess.Popen | None = None
        _keygen(self.host_key)
        _keygen(self.client_key)
        shutil.copy(self.client_key.with_name("id_ed25519.pub"), self.authorized_keys)
        os.chmod(self.authorized_keys, 0o600)

    # -- lifecycle ---------------------------------------------------------------------
    def _write_config(self) -> None:
        sftp = "/usr/lib/openssh/sftp-server"
        lines = [
            f"Port {self.port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {self.host_key}",
            f"PidFile {self.pid_file}",
            f"AuthorizedKeysFile {self.authorized_keys}",
            "PermitRootLogin prohibit-password",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes",
            "StrictModes no",
            "UsePAM no",
            "UseDNS no",
            "LogLevel INFO",
            "MaxStartups 50",
            "MaxSessions 20",
            f"Subsystem sftp {sftp if os.path.exists(sftp) else 'internal-sftp'}",
        ]
        if self.sftp_only:
            lines.append("ForceCommand internal-sftp")
        if self.extra_config:
            lines.append(self.extra_config)
        self.config_path.write_text("\n".join(lines) + "\n")

    def start(self, port: int | None = None) -> SshServer:
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)
        self.port = port or self.port or free_port()
        self._write_config()
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(
                [self.binary, "-D", "-e", "-f", str(self.config_path)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        finally:
            log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited ({self.proc.returncode}): "
                                   f"{self.log_path.read_text(errors='replace')[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.settimeout(2)
                    if s.recv(4).startswith(b"SSH-"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"sshd did not start on port {self.port}")

    def stop(self) -> None:
        if self.proc is None:
            return
        self.kill_sessions()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def session_pids(self) -> list[int]:
        """Every process below the listening sshd (the per-connection children)."""
        if self.proc is None:
            return []
        parents: dict[int, int] = {}
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/stat", "rb") as f:
                    data = f.read()
            except OSError:
                continue
            rest = data[data.rfind(b")") + 2:].split()
            parents[int(d)] = int(rest[1])
        found: list[int] = []
        frontier = [self.proc.pid]
        while frontier:
            p = frontier.pop()
            kids = [c for c, pp in parents.items() if pp == p]
            found.extend(kids)
            frontier.extend(kids)
        return found

    def kill_sessions(self) -> int:
        """Cut every open connection (SIGKILL the session processes), keep the listener."""
        pids = self.session_pids()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return len(pids)

    # -- keys --------------------------------------------------------------------------
    def host_key_line(self) -> str:
        kind, b64 = self.host_key.with_name(self.host_key.name + ".pub").read_text().split()[:2]
        return f"[127.0.0.1]:{self.port} {kind} {b64}\n"

    def write_known_hosts(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.host_key_line())
        return path

    def new_host_key(self) -> None:
        """Give the server a different host key (as a reinstall or an impostor would)."""
        _keygen(self.host_key)
        if self.proc is not None:
            self.restart()

    # -- the served tree ---------------------------------------------------------------
    def add_file(self, rel: str, content: bytes | str, *, mtime: float | None = None) -> Path:
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content.encode() if isinstance(content, str) else content)
        if mtime is not None:
            os.utime(p, (mtime, mtime))
        return p

    def report_server_toml(self, *, name: str = "loopback", known_hosts: Path | None = None,
                           key_file: Path | None = None, extra: str = "") -> str:
        lines = [
            "[[report_servers]]",
            f'name = "{name}"',
            'host = "127.0.0.1"',
            f"port = {self.port}",
            f'user = "{self.user}"',
            f'key_file = "{key_file or self.client_key}"',
            f'remote_dir = "{self.root}"',
        ]
        if known_hosts is not None:
            lines.append(f'known_hosts = "{known_hosts}"')
        if extra:
            lines.append(extra)
        return "\n".join(lines) + "\n"


def write_config(path: Path, *, spool: Path, servers: list[str], extra: str = "") -> Path:
    """A config.toml with a spool dir and the given [[report_servers]] blocks."""
    body = f'[spool]\ndir = "{spool}"\n\n[parse]\nmax_age_hours = 24\n\n' + "\n".join(servers)
    path.write_text(body + ("\n" + extra if extra else ""))
    return path


def make_cfg(tmp_path: Path, server: SshServer, *, extra: str = "", trusted: bool = True,
             name: str = "c.toml", **kw):
    """A loaded Config (spool ``tmp_path/spool``) with ``server`` as its one report server,
    its host key in ``tmp_path/acorn_known_hosts`` unless not ``trusted``."""
    from acorntui.config import load_config

    kh = tmp_path / "acorn_known_hosts"
    if trusted:
        server.write_known_hosts(kh)
    path = write_config(tmp_path / name, spool=tmp_path / "spool",
                        servers=[server.report_server_toml(known_hosts=kh, extra=extra, **kw)])
    return load_config(path)


def start_server(base: Path, **kw) -> SshServer:
    binary = find_sshd()
    if binary is None:
        from conftest import skip_or_fail

        skip_or_fail("sshd (openssh-server) is not installed")
    if os.geteuid() != 0:
        from conftest import skip_or_fail

        skip_or_fail("the sshd fixture runs sshd as root")
    return SshServer(base, binary=binary, **kw).start()


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    """No real ~/.ssh (config, known_hosts) or ssh-agent leaks into a test. Autouse in the
    modules that import it."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return home


@pytest.fixture
def sshd(tmp_path):
    """A started loopback sshd serving ``tmp_path/sshd/reports``; stopped afterwards."""
    server = start_server(tmp_path / "sshd")
    try:
        yield server
    finally:
        server.stop()
