"""Pull every ``<customer>/<server>.out`` from the report servers over SSH into the spool.

How the pull is made fast (figures in DESIGN.md "Performance notes"):

- Where the account may run commands, one ``find -printf`` lists the whole tree (~0.2 s for
  10,000 files) and one ``tar`` stream over an exec channel carries every changed file. The
  stream is compressed with ``zstd -1`` when both ends have zstd (logs are text: the
  compressed stream is a fraction of the data, and paramiko's per-packet cost is what limits
  it), else ``gzip -1``, else not at all. Measured: 10,000 logs of 285 MB, uncompressed tar
  5.6 s, gzip 3.4 s, zstd 1.7 s, ``rsync -a`` 1.9 s.
- Where it may not (``ForceCommand internal-sftp``, exec refused, a non-POSIX shell), the
  listing comes from SFTP ``readdir`` and the files from SFTP with many requests in flight on
  one channel (open, reads and close of the next files issued before the answers of the
  previous ones arrive). paramiko offers that only through ``SFTPClient._async_request`` /
  ``_read_response``; :class:`_SftpPipe` is the one place that touches them.

Safety: names from the remote listing are validated before anything is written (no ``..``,
no ``/``, no control characters, no leading dot); a symlink is followed only when its target
resolves inside ``remote_dir``; every file lands under a temporary name and is renamed into
place once complete, with the remote mtime set, so an interrupted pull never replaces the
last good copy with half a file. Durability (:class:`Spool`): a report server's files are
written under temporary names, their data is made durable in one go (``syncfs`` on Linux, else
``fsync`` of each from a small thread pool), only then renamed into place, then the folders
that changed are fsynced, so a power loss or kernel crash never leaves a renamed spool file
empty or partial. Host keys are checked against the system, the user's and
acorntui's own known_hosts; unknown or changed keys are refused (``--trust-new-host``
records an unknown one, never a changed one).
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import errno
import getpass
import hashlib
import itertools
import os
import posixpath
import shlex
import shutil
import stat
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import paramiko
from paramiko.sftp import (
    CMD_CLOSE,
    CMD_DATA,
    CMD_HANDLE,
    CMD_OPEN,
    CMD_READ,
    CMD_STATUS,
    SFTP_EOF,
    SFTP_FLAG_READ,
    SFTP_NO_SUCH_FILE,
    SFTP_OK,
    SFTP_PERMISSION_DENIED,
    int64,
)

from acorntui.config import Config, ReportServer, config_dir
from acorntui.core.refs import split_rel
from acorntui.core.textsafe import visible_controls

CONNECT_TIMEOUT = 15.0  # TCP connect and SSH banner
AUTH_TIMEOUT = 20.0
TRANSFER_TIMEOUT = 60.0  # no byte for this long on an open channel = the pull failed
WINDOW_SIZE = 64 * 1024 * 1024
MAX_PACKET = 32768
SFTP_FILES_IN_FLIGHT = 64
SFTP_READ_SIZE = 32768
SFTP_BYTES_IN_FLIGHT = 16 * 1024 * 1024
SYNC_THREADS = 8  # fsync of each temp file where syncfs is not available
COMMIT_BATCH_BYTES = 64 * 1024 * 1024  # staged this much: sync and rename it while the pull goes on
COMMIT_BATCH_FILES = 2000
LIST_MARKER = b"ACORN-LIST-1"
SYSTEM_KNOWN_HOSTS = ("/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2")


class FetchError(Exception):
    """A report server could not be pulled; the message says why and what to do."""


class HostKeyError(FetchError):
    pass


class AuthError(FetchError):
    pass


# -- names -----------------------------------------------------------------------------------

def unsafe_name(name: str) -> str | None:
    """Why a customer or server name from a remote listing may not become a local path."""
    if not name:
        return "empty name"
    if name in (".", ".."):
        return "a dot name"
    if name.startswith("."):
        return "starts with a dot"
    if "/" in name or "\\" in name:
        return "contains a slash"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        return "contains control characters"
    if any(0xDC80 <= ord(ch) <= 0xDCFF for ch in name):
        return "is not valid UTF-8"
    if len(name.encode()) > 200:
        return "too long"
    return None


def check_rel(rel: str) -> str | None:
    cs = split_rel(rel)
    if cs is None:
        return "not <customer>/<server>.out"
    for part in cs:
        why = unsafe_name(part)
        if why:
            return why
    return None


_SHOWN_WHITESPACE = {9: "\\t", 10: "\\n", 13: "\\r"}


def printable(name: str) -> str:
    """A name as it may be shown in a terminal: control, bidi and other invisible characters
    made visible (:func:`acorntui.core.textsafe.visible_controls`), a newline as ``\\n``."""
    return visible_controls(name.translate(_SHOWN_WHITESPACE))


# -- reports ---------------------------------------------------------------------------------

@dataclass
class RemoteFile:
    rel: str  # customer/server.out
    size: int
    mtime: int
    path: str = ""  # absolute remote path to read (the real path for a followed symlink)


@dataclass
class ServerPull:
    """What happened on one report server."""

    name: str
    host: str
    method: str = ""  # exec+zstd | exec+gzip | exec | sftp
    error: str = ""  # the whole report server failed (connect, host key, auth, listing)
    listed: int = 0
    fetched: list[str] = field(default_factory=list)
    unchanged: int = 0
    bytes: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # rel -> reason
    skipped: list[str] = field(default_factory=list)  # unsafe names, shown printable
    changed: list[str] = field(default_factory=list)  # fetched while still being written
    remote: set[str] = field(default_factory=set)  # every valid rel listed
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.error and not self.failed

    @property
    def todo(self) -> int:
        """Files listed that the spool did not already have."""
        return self.listed - self.unchanged

    def summary(self) -> str:
        if self.error:
            return f"{self.name}: FAILED: {visible_controls(self.error)}"
        parts = [f"{self.name}: {self.listed} logs listed", f"{len(self.fetched)} fetched "
                 f"({_mb(self.bytes)})", f"{self.unchanged} unchanged"]
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        if self.skipped:
            parts.append(f"{len(self.skipped)} unsafe names skipped")
        return ", ".join(parts) + f" [{self.method}, {self.seconds:.1f} s]"


@dataclass
class PullReport:
    spool: Path
    servers: list[ServerPull] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.servers)

    @property
    def down(self) -> list[ServerPull]:
        return [s for s in self.servers if s.error]

    @property
    def failed_files(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for s in self.servers:
            out.update(s.failed)
        return out

    @property
    def fetched(self) -> int:
        return sum(len(s.fetched) for s in self.servers)

    @property
    def bytes(self) -> int:
        return sum(s.bytes for s in self.servers)

    def problems(self) -> list[str]:
        """One line per problem, safe for a terminal: remote names and the server's own error
        texts (SFTP status, tar's stderr) have their control characters made visible."""
        lines = []
        for s in self.servers:
            if s.error:
                lines.append(f"{s.name}: {visible_controls(s.error)}")
            for rel, why in sorted(s.failed.items()):
                lines.append(f"{s.name}: {printable(rel)}: {visible_controls(why)}")
            for name in s.skipped:
                lines.append(f"{s.name}: skipped unsafe name {visible_controls(name)}")
            for rel in s.changed:
                lines.append(f"{s.name}: {printable(rel)}: changed while it was read (still "
                             f"being written?); the copy may be cut short, the next pull "
                             f"gets the rest")
        return lines


Progress = Callable[[ServerPull, str], None]  # (pull, event) event: listed | file | bytes


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


# -- connecting ------------------------------------------------------------------------------

def own_known_hosts(rs: ReportServer) -> Path:
    return Path(rs.known_hosts).expanduser() if rs.known_hosts else config_dir() / "known_hosts"


def fingerprint(key: paramiko.PKey) -> str:
    digest = hashlib.sha256(key.asbytes()).digest()
    return f"{key.get_name()} SHA256:{base64.b64encode(digest).decode().rstrip('=')}"


class _HostKeyPolicy(paramiko.MissingHostKeyPolicy):
    """Refuse unknown keys (or record them when trusting); never accept a changed key."""

    def __init__(self, own_file: Path, trust_new: bool, notify: Callable[[str], None]):
        self.own_file = own_file
        self.trust_new = trust_new
        self.notify = notify

    def missing_host_key(self, client, hostname, key):
        known = client.get_host_keys().lookup(hostname) or \
            client._system_host_keys.lookup(hostname)
        if known:
            # the host is known, but under another key type: treat as a changed key
            old = ", ".join(fingerprint(k) for k in known.values())
            raise HostKeyError(_changed_message(hostname, fingerprint(key), old, self.own_file))
        fp = fingerprint(key)
        if not self.trust_new:
            raise HostKeyError(
                f"host key for {hostname} is unknown ({fp}). Compare it with the report "
                f"server's own key (on it: ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), then run "
                f"`acorntui fetch --trust-new-host` to record it in {self.own_file}"
            )
        self.own_file.parent.mkdir(parents=True, exist_ok=True)
        line = f"{hostname} {key.get_name()} {key.get_base64()}\n"
        fd = os.open(self.own_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as f:
            f.write(line)
        client.get_host_keys().add(hostname, key.get_name(), key)
        self.notify(f"recorded new host key for {hostname}: {fp} in {self.own_file}")


def _changed_message(hostname: str, got: str, expected: str, own_file: Path) -> str:
    return (
        f"HOST KEY CHANGED for {hostname}: it offered {got}, known_hosts has {expected}. "
        f"Refusing to connect: this is what an impostor would look like. If the server was "
        f"reinstalled and its admin confirms the new key, remove the old entry "
        f"(ssh-keygen -R '{hostname}' -f {own_file}, or from ~/.ssh/known_hosts) and run "
        f"`acorntui fetch --trust-new-host`"
    )


@dataclass
class _Target:
    hostname: str
    port: int
    user: str
    key_files: list[str]
    known_hosts: list[str]
    label: str


def _resolve_target(rs: ReportServer) -> _Target:
    """Our config first, then ``~/.ssh/config`` (Host entries: HostName, Port, User...)."""
    found: dict = {}
    ssh_config = Path(rs.extra.get("ssh_config", "~/.ssh/config")).expanduser()
    if ssh_config.is_file():
        try:
            found = paramiko.SSHConfig.from_path(str(ssh_config)).lookup(rs.host)
        except Exception as exc:  # noqa: BLE001 - a broken ssh config is named, not fatal
            raise FetchError(f"cannot read {ssh_config}: {exc}") from None
    port = rs.port or int(found.get("port", 22))
    user = rs.user or found.get("user") or getpass.getuser()
    keys = [rs.key_file] if rs.key_file else list(found.get("identityfile", []))
    keys = [os.path.expanduser(k) for k in keys]
    for k in keys:
        if rs.key_file and not os.path.isfile(k):
            raise AuthError(f"key_file {k} does not exist")
    known = [os.path.expanduser(k) for k in str(found.get("userknownhostsfile", "")).split()]
    hostname = found.get("hostname", rs.host)
    return _Target(hostname, port, user, [k for k in keys if os.path.isfile(k)], known,
                   f"{user}@{hostname}:{port}")


def connect(rs: ReportServer, *, trust_new_host: bool = False,
            client_factory: Callable[[], paramiko.SSHClient] | None = None,
            notify: Callable[[str], None] | None = None) -> paramiko.SSHClient:
    """An authenticated SSHClient for a report server, or FetchError saying why not."""
    t = _resolve_target(rs)
    own = own_known_hosts(rs)
    client = (client_factory or paramiko.SSHClient)()
    try:
        for f in [*SYSTEM_KNOWN_HOSTS, os.path.expanduser("~/.ssh/known_hosts"), *t.known_hosts]:
            if os.path.isfile(f):
                with contextlib.suppress(OSError, paramiko.SSHException):
                    client.load_system_host_keys(f)
        if own.is_file():
            try:
                client.load_host_keys(str(own))
            except (OSError, paramiko.SSHException) as exc:
                raise HostKeyError(f"cannot read known_hosts file {own}: {exc}") from None
        client.set_missing_host_key_policy(_HostKeyPolicy(own, trust_new_host, notify or print))
        client.connect(
            t.hostname, t.port, username=t.user,
            key_filename=t.key_files or None,  # type: ignore[arg-type]  # paramiko takes a list
            allow_agent=not t.key_files, look_for_keys=False, timeout=CONNECT_TIMEOUT,
            banner_timeout=CONNECT_TIMEOUT, auth_timeout=AUTH_TIMEOUT,
            channel_timeout=CONNECT_TIMEOUT,
        )
        tr = client.get_transport()
        if tr is not None:
            tr.set_keepalive(15)
        return client
    except FetchError:
        client.close()
        raise
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise HostKeyError(_changed_message(
            exc.hostname, fingerprint(exc.key), fingerprint(exc.expected_key), own)) from None
    except paramiko.AuthenticationException as exc:
        client.close()
        how = f"key {', '.join(t.key_files)}" if t.key_files else "ssh-agent keys"
        raise AuthError(f"authentication refused by {t.label} with {how} ({exc}); check "
                        f"the user and that the public key is in its authorized_keys") from None
    except TimeoutError as exc:
        client.close()
        raise FetchError(f"cannot connect to {t.label}: timed out ({exc or 'no answer'})") \
            from None
    except paramiko.ssh_exception.NoValidConnectionsError as exc:
        client.close()
        why = "; ".join(sorted({(getattr(e, "strerror", None) or str(e))
                                for e in exc.errors.values()}))
        raise FetchError(f"cannot connect to {t.label}: {why or exc}") from None
    except (OSError, paramiko.SSHException, EOFError) as exc:
        client.close()
        msg = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise FetchError(f"cannot connect to {t.label}: {msg or exc.__class__.__name__}") \
            from None


# -- the spool -------------------------------------------------------------------------------

def _load_syncfs() -> Callable[[int], int] | None:
    """libc ``syncfs(fd)`` (Linux): one call makes every file of a filesystem durable."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


_SYNCFS = _load_syncfs()


def _fsync_path(path: Path, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    """Writes complete, durable files only.

    A transfer writes each file under a temporary name in its folder (:meth:`open_temp`) and
    hands it over complete with :meth:`stage` (or removes it with :meth:`discard` when it
    broke: the last good copy stays). Staged files are committed in batches (every
    COMMIT_BATCH_BYTES / COMMIT_BATCH_FILES, in a background thread while the transfer goes on,
    and the rest at :meth:`commit_staged`, once per report server): (1) the data of every file
    of the batch is made durable (:meth:`sync_data`), (2) only then is each renamed into place;
    (3) :meth:`commit_staged` fsyncs the folders whose entries changed. A crash at any point
    leaves every spool name with either its last good copy or the complete new one, never an
    empty or partial file; a temp file left behind is removed by :meth:`clean_partials` at
    the next pull.
    """

    def __init__(self, root: Path):
        self.root = Path(root)
        made_root = not self.root.is_dir()
        self.root.mkdir(parents=True, exist_ok=True)
        self._made: set[str] = set()
        self._staged: list[tuple[Path, str]] = []
        self._staged_bytes = 0
        self._new_dirs: set[Path] = {self.root} if made_root else set()
        self._changed: set[Path] = set()  # folders with a rename not yet fsynced
        self._failed: dict[str, str] = {}
        self._worker: threading.Thread | None = None
        self._seq = itertools.count()

    def path(self, rel: str) -> Path:
        if check_rel(rel):
            raise ValueError(f"unsafe spool name {rel!r}")
        return self.root / rel

    def unchanged(self, f: RemoteFile) -> bool:
        try:
            st = os.stat(self.root / f.rel)
        except OSError:
            return False
        return st.st_size == f.size and int(st.st_mtime) == f.mtime

    def open_temp(self, rel: str):
        final = self.path(rel)
        cust = rel.split("/", 1)[0]
        if cust not in self._made:
            try:
                final.parent.mkdir()
                self._new_dirs.add(final.parent)
            except FileExistsError:
                pass
            self._made.add(cust)
        tmp = final.with_name(f".{final.name}.{os.getpid()}.{next(self._seq)}.part")
        return tmp, open(tmp, "wb")

    def stage(self, tmp: Path, rel: str, mtime: int, size: int = 0) -> None:
        """A complete temp file (closed): set its mtime; it goes in with its batch."""
        os.utime(tmp, (mtime, mtime))
        self._staged.append((tmp, rel))
        self._staged_bytes += size
        if self._staged_bytes >= COMMIT_BATCH_BYTES or len(self._staged) >= COMMIT_BATCH_FILES:
            self._wait()  # one batch in the background at a time: they go in in order
            batch, self._staged, self._staged_bytes = self._staged, [], 0
            self._worker = threading.Thread(target=self._commit_batch, args=(batch,),
                                            name="acorn-spool-commit", daemon=True)
            self._worker.start()

    def _wait(self) -> None:
        if self._worker is not None:
            self._worker.join()
            self._worker = None

    @staticmethod
    def discard(tmp: Path) -> None:
        with contextlib.suppress(OSError):
            os.unlink(tmp)

    def sync_data(self, paths: list[Path]) -> dict[Path, str]:
        """Make the data of ``paths`` durable; {path: reason} for those that could not be.

        ``syncfs`` of the spool's filesystem where there is one (one call; its cost does not
        grow with the number of files), else, or when it reports an error, ``fsync`` of each
        file from SYNC_THREADS threads (the error then names the file it belongs to).
        """
        if _SYNCFS is not None:
            fd = os.open(self.root, os.O_RDONLY)
            try:
                if _SYNCFS(fd) == 0:
                    return {}
            finally:
                os.close(fd)
        bad: dict[Path, str] = {}

        def one(p: Path) -> None:
            try:
                _fsync_path(p)
            except OSError as exc:
                bad[p] = exc.strerror or str(exc)

        with ThreadPoolExecutor(min(SYNC_THREADS, len(paths)) or 1,
                                thread_name_prefix="acorn-fsync") as ex:
            list(ex.map(one, paths))
        return bad

    def sync_dirs(self, dirs: Iterable[Path]) -> None:
        """fsync folders whose entries changed (a no-op where folders cannot be opened)."""
        if os.name == "nt":
            return
        for d in sorted(set(dirs), key=lambda p: len(p.parts), reverse=True):
            try:
                _fsync_path(d, directory=True)
            except OSError as exc:
                if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
                    raise

    def _commit_batch(self, batch: list[tuple[Path, str]]) -> None:
        """(1) sync the batch's data, (2) rename what is durable; failures to ``_failed``."""
        try:
            bad = self.sync_data([tmp for tmp, _ in batch])
        except OSError as exc:
            bad = {tmp: exc.strerror or str(exc) for tmp, _ in batch}
        for tmp, rel in batch:
            if tmp in bad:
                self.discard(tmp)
                self._failed[rel] = f"not saved: cannot make it durable: {bad[tmp]}"
                continue
            final = self.path(rel)
            try:
                os.replace(tmp, final)
            except OSError as exc:
                self.discard(tmp)
                self._failed[rel] = f"not saved: {exc.strerror or exc}"
                continue
            self._failed.pop(rel, None)
            self._changed.add(final.parent)

    def commit_staged(self) -> dict[str, str]:
        """Durably put every staged file in place (see the class) and fsync the folders that
        changed; {rel: reason} for files that could not be (temp removed, last good copy
        kept). Raises OSError only when a folder cannot be synced."""
        self._wait()
        batch, self._staged, self._staged_bytes = self._staged, [], 0
        if batch:
            self._commit_batch(batch)
        failed, self._failed = self._failed, {}
        changed, self._changed = self._changed, set()
        new_dirs, self._new_dirs = self._new_dirs, set()
        self.sync_dirs(changed | {d.parent for d in new_dirs})
        return failed

    def clean_partials(self) -> None:
        """Temp files left by a pull that was killed (never by one that failed: it cleans)."""
        for d in self.root.iterdir():
            if d.is_dir():
                for f in d.glob(".*.part"):
                    with contextlib.suppress(OSError):
                        f.unlink()


# -- listing ---------------------------------------------------------------------------------

def _exec(client: paramiko.SSHClient, command: str) -> paramiko.Channel:
    tr = client.get_transport()
    if tr is None or not tr.is_active():
        raise FetchError("connection lost")
    ch = tr.open_session(window_size=WINDOW_SIZE, max_packet_size=MAX_PACKET,
                         timeout=CONNECT_TIMEOUT)
    ch.settimeout(TRANSFER_TIMEOUT)
    ch.exec_command(command)
    return ch


def _read_all(ch: paramiko.Channel) -> bytes:
    buf = bytearray()
    while True:
        data = ch.recv(1 << 20)
        if not data:
            return bytes(buf)
        buf += data


class ExecUnavailable(Exception):
    pass


def list_exec(client: paramiko.SSHClient, remote_dir: str
              ) -> tuple[list[tuple[str, str, int, int]], set[str]]:
    """(entries (rel, type, size, mtime), compressors the server has) via find."""
    cmd = (
        f"cd -- {shlex.quote(remote_dir)} || exit 97; printf '{LIST_MARKER.decode()}\\0'; "
        "for c in zstd gzip; do command -v $c >/dev/null 2>&1 && printf '%s ' $c; done; "
        "printf '\\0'; find . -mindepth 1 -maxdepth 2 -printf '%d/%y/%s/%T@/%P\\0'"
    )
    try:
        ch = _exec(client, cmd)
    except paramiko.ChannelException as exc:
        raise ExecUnavailable(f"exec refused: {exc}") from None
    except paramiko.SSHException as exc:
        if "connection lost" in str(exc).lower():
            raise
        raise ExecUnavailable(f"exec refused: {exc}") from None
    try:
        ch.shutdown_write()
        out = _read_all(ch)
        err = ch.makefile_stderr("rb").read().decode(errors="replace")
        status = ch.recv_exit_status()
    finally:
        ch.close()
    if not out.startswith(LIST_MARKER + b"\0"):
        if status == 97:
            raise FetchError(f"remote_dir {remote_dir} is not readable: {err.strip()}")
        raise ExecUnavailable(f"no shell (exit {status}): {err.strip()[:200]}")
    parts = out.split(b"\0")
    tools = set(parts[1].decode(errors="replace").split())
    entries = []
    for raw in parts[2:]:
        if not raw:
            continue
        fields = raw.split(b"/", 4)
        if len(fields) != 5:
            continue
        depth, kind, size, mtime, rel = fields
        entries.append((os.fsdecode(rel), f"{depth.decode()}{kind.decode()}", int(size),
                        int(float(mtime))))
    return entries, tools


def _inside(root_real: str, path: str) -> bool:
    return path == root_real or path.startswith(root_real.rstrip("/") + "/")


class _Lister:
    """Turns a raw listing into validated RemoteFiles; resolves symlinks via SFTP."""

    def __init__(self, client: paramiko.SSHClient, remote_dir: str, pull: ServerPull):
        self.client = client
        self.remote_dir = remote_dir.rstrip("/") or "/"
        self.pull = pull
        self._sftp: paramiko.SFTPClient | None = None
        self._root_real: str | None = None

    def sftp(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            tr = self.client.get_transport()
            if tr is None:
                raise FetchError("connection lost")
            self._sftp = paramiko.SFTPClient.from_transport(
                tr, window_size=WINDOW_SIZE, max_packet_size=MAX_PACKET)
            if self._sftp is None:
                raise FetchError("the SFTP subsystem is not available")
            self._sftp.get_channel().settimeout(TRANSFER_TIMEOUT)  # type: ignore[union-attr]
        return self._sftp

    def root_real(self) -> str:
        if self._root_real is None:
            self._root_real = self.sftp().normalize(self.remote_dir)
        return self._root_real

    def close(self) -> None:
        if self._sftp is not None:
            with contextlib.suppress(Exception):
                self._sftp.close()

    def resolve(self, rel: str) -> str | None:
        """Real path of a symlinked entry if inside remote_dir, else None (reported)."""
        try:
            real = self.sftp().normalize(posixpath.join(self.remote_dir, rel))
        except OSError as exc:
            self.pull.skipped.append(f"{printable(rel)} (dangling symlink: {exc})")
            return None
        if not _inside(self.root_real(), real):
            self.pull.skipped.append(f"{printable(rel)} (symlink pointing outside "
                                     f"{self.remote_dir})")
            return None
        return real

    def accept(self, rel: str) -> bool:
        why = check_rel(rel)
        if why:
            if rel.endswith(".out") or "/" not in rel:
                self.pull.skipped.append(f"{printable(rel)} ({why})")
            return False
        return True

    def from_exec(self, entries: list[tuple[str, str, int, int]]) -> list[RemoteFile]:
        files: list[RemoteFile] = []
        for rel, kind, size, mtime in entries:
            if kind in ("1d", "1l"):  # a customer folder (1l: a symlink to one)
                why = unsafe_name(rel)
                if why:
                    self.pull.skipped.append(f"{printable(rel)}/ ({why})")
                elif kind == "1l":
                    real = self.resolve(rel)
                    if real is not None:
                        files.extend(self._list_dir_sftp(rel, real))
                continue
            if not kind.startswith("2") or not rel.endswith(".out"):
                continue
            if not self.accept(rel):
                continue
            if kind == "2f":
                files.append(RemoteFile(rel, size, mtime, posixpath.join(self.remote_dir, rel)))
            elif kind == "2l":
                f = self._follow(rel)
                if f is not None:
                    files.append(f)
        return files

    def _follow(self, rel: str) -> RemoteFile | None:
        real = self.resolve(rel)
        if real is None:
            return None
        try:
            a = self.sftp().stat(real)
        except OSError as exc:
            self.pull.failed[rel] = f"cannot stat: {exc}"
            return None
        if not stat.S_ISREG(a.st_mode or 0):
            return None
        return RemoteFile(rel, a.st_size or 0, int(a.st_mtime or 0), real)

    def _list_dir_sftp(self, cust: str, real_dir: str) -> list[RemoteFile]:
        out: list[RemoteFile] = []
        try:
            attrs = self.sftp().listdir_attr(real_dir)
        except OSError as exc:
            self.pull.skipped.append(f"{printable(cust)}/ (cannot list: {exc})")
            return out
        for a in attrs:
            rel = f"{cust}/{a.filename}"
            if not a.filename.endswith(".out") or not self.accept(rel):
                continue
            mode = a.st_mode or 0
            if stat.S_ISLNK(mode):
                f = self._follow(rel)
                if f is not None:
                    out.append(f)
            elif stat.S_ISREG(mode):
                out.append(RemoteFile(rel, a.st_size or 0, int(a.st_mtime or 0),
                                      posixpath.join(real_dir, a.filename)))
        return out

    def via_sftp(self) -> list[RemoteFile]:
        files: list[RemoteFile] = []
        try:
            top = self.sftp().listdir_attr(self.remote_dir)
        except OSError as exc:
            raise FetchError(f"remote_dir {self.remote_dir} is not readable: {exc}") from None
        for a in sorted(top, key=lambda a: a.filename):
            name = a.filename
            mode = a.st_mode or 0
            if not (stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
                continue
            why = unsafe_name(name)
            if why:
                self.pull.skipped.append(f"{printable(name)}/ ({why})")
                continue
            path = posixpath.join(self.remote_dir, name)
            if stat.S_ISLNK(mode):
                real = self.resolve(name)
                if real is None:
                    continue
                path = real
            files.extend(self._list_dir_sftp(name, path))
        return files


# -- transfer: tar over exec -----------------------------------------------------------------

def _local_has(tool: str) -> bool:
    return shutil.which(tool) is not None


def pull_tar(client: paramiko.SSHClient, remote_dir: str, files: list[RemoteFile],
             spool: Spool, pull: ServerPull, compress: str,
             progress: Progress | None) -> None:
    """One tar stream for every file in ``files`` (paths relative to remote_dir)."""
    wanted = {f.rel: f for f in files}
    pipe = {"zstd": " | zstd -1 -q -c", "gzip": " | gzip -1 -c", "none": ""}[compress]
    # -h: symlinks in the list were checked to stay inside remote_dir; --no-recursion: a name
    # is a file, never a folder's whole content
    cmd = (f"cd -- {shlex.quote(remote_dir)} && "
           f"tar -c -h -f - --no-recursion --null -T -{pipe}")
    ch = _exec(client, cmd)
    names = b"".join(os.fsencode(f.rel) + b"\0" for f in files)
    send_error: list[BaseException] = []

    def send() -> None:
        try:
            ch.sendall(names)
            ch.shutdown_write()
        except Exception as exc:  # noqa: BLE001 - reported after the stream
            send_error.append(exc)

    sender = threading.Thread(target=send, name="acorn-tar-names", daemon=True)
    sender.start()
    unzip: subprocess.Popen | None = None
    feeder: threading.Thread | None = None
    feed_error: list[BaseException] = []
    try:
        if compress == "zstd":
            unzip = subprocess.Popen(["zstd", "-d", "-q", "-c"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

            def feed() -> None:
                assert unzip is not None and unzip.stdin is not None
                try:
                    while True:
                        data = ch.recv(1 << 20)
                        if not data:
                            break
                        unzip.stdin.write(data)
                except Exception as exc:  # noqa: BLE001 - the stream ends short; seen below
                    feed_error.append(exc)
                finally:
                    with contextlib.suppress(OSError):
                        unzip.stdin.close()

            feeder = threading.Thread(target=feed, name="acorn-tar-feed", daemon=True)
            feeder.start()
            stream = unzip.stdout
            mode = "r|"
        else:
            stream = ch.makefile("rb", 1 << 20)  # type: ignore[assignment]
            mode = "r|gz" if compress == "gzip" else "r|"
        _read_tar(stream, mode, wanted, spool, pull, progress)
        ch.recv_exit_status()
        _tar_errors(ch.makefile_stderr("rb").read().decode(errors="replace"), wanted, pull)
    except (tarfile.TarError, EOFError, OSError, paramiko.SSHException) as exc:
        reason = _stream_error(feed_error, exc)
        got = set(pull.fetched)
        for rel in wanted:
            if rel not in pull.failed and rel not in got:
                pull.failed[rel] = f"transfer interrupted: {reason}"
        pull.error = pull.error or f"transfer interrupted after {len(pull.fetched)} of " \
                                   f"{len(files)} files: {reason}"
    finally:
        if unzip is not None:
            with contextlib.suppress(Exception):
                unzip.kill()
                unzip.wait(5)
        ch.close()
        sender.join(5)
        if feeder is not None:
            feeder.join(5)
    done = set(pull.fetched)
    for rel in wanted:
        if rel not in done and rel not in pull.failed:
            pull.failed[rel] = "not received (the server's tar did not send it)"


def _stream_error(feed_error: list[BaseException], exc: BaseException) -> str:
    e = feed_error[0] if feed_error else exc
    text = str(e) or e.__class__.__name__
    if isinstance(e, TimeoutError):
        return f"no data for {TRANSFER_TIMEOUT:.0f} s"
    if "unexpected end of data" in text or isinstance(e, EOFError):
        return "connection lost"
    return text


def _tar_errors(stderr: str, wanted: dict[str, RemoteFile], pull: ServerPull) -> None:
    """``tar: cust/srv.out: Cannot open: Permission denied`` -> that file's reason."""
    got = set(pull.fetched)
    for line in stderr.splitlines():
        if not line.startswith("tar: "):
            continue
        body = line[5:]
        for rel in wanted:
            if not body.startswith(rel + ": "):
                continue
            what = body[len(rel) + 2:].strip()
            if rel not in got:
                pull.failed[rel] = what
            elif "changed as we read it" in what and rel not in pull.changed:
                pull.changed.append(rel)


def _read_tar(stream, mode: str, wanted: dict[str, RemoteFile], spool: Spool,
              pull: ServerPull, progress: Progress | None) -> None:
    # default bufsize: _Stream re-slices its buffer on every read, a big one costs O(n^2)
    tf = tarfile.open(fileobj=stream, mode=mode)  # type: ignore[call-overload]
    for member in tf:
        rel = member.name
        if rel not in wanted or not member.isfile():
            continue  # never write a name we did not ask for
        src = tf.extractfile(member)
        if src is None:
            continue
        tmp, out = spool.open_temp(rel)
        try:
            with out:
                left = member.size
                while left > 0:
                    chunk = src.read(min(left, 1 << 20))
                    if not chunk:
                        raise EOFError("unexpected end of data")
                    out.write(chunk)
                    left -= len(chunk)
                    pull.bytes += len(chunk)
                    if progress and member.size > 1 << 20:
                        progress(pull, "bytes")
            spool.stage(tmp, rel, int(member.mtime), member.size)
        except BaseException:
            spool.discard(tmp)
            raise
        pull.fetched.append(rel)
        if progress:
            progress(pull, "file")


# -- transfer: pipelined SFTP ----------------------------------------------------------------

class _SftpPipe:
    """Many SFTP requests in flight on one channel (paramiko's private request API)."""

    def __init__(self, sftp: paramiko.SFTPClient):
        self.sftp = sftp
        self.answers: dict[int, tuple[int, paramiko.Message]] = {}

    def _async_response(self, t, msg, num):  # called by paramiko's _read_response
        self.answers[num] = (t, msg)

    def send(self, t: int, *args) -> int:
        return self.sftp._async_request(self, t, *args)  # type: ignore[attr-defined]

    def pump(self) -> None:
        self.sftp._read_response()  # type: ignore[attr-defined]


def _status_text(msg: paramiko.Message) -> tuple[int, str]:
    code = msg.get_int()
    text = msg.get_text()
    if code == SFTP_PERMISSION_DENIED:
        text = "permission denied"
    elif code == SFTP_NO_SUCH_FILE:
        text = "no such file (removed during the pull)"
    return code, text


class _Job:
    __slots__ = ("f", "handle", "chunks", "pending", "failed", "next_off", "limit", "eof")

    def __init__(self, f: RemoteFile):
        self.f = f
        self.handle: bytes | None = None
        self.chunks: dict[int, bytes] = {}
        self.pending: set[int] = set()
        self.failed = ""
        self.next_off = 0
        self.limit = f.size  # reads start at offsets <= limit; the one at size meets EOF
        self.eof = False

    @property
    def done(self) -> bool:
        return not self.pending and (self.eof or bool(self.failed) or self.next_off > self.limit)


# one pipelined loop over the SFTP answers, kept whole: the in-flight accounting reads in one place
def pull_sftp(sftp: paramiko.SFTPClient, files: list[RemoteFile], spool: Spool,  # noqa: C901
              pull: ServerPull, progress: Progress | None) -> None:
    """Every file of ``files`` with up to SFTP_FILES_IN_FLIGHT open at once and up to
    SFTP_BYTES_IN_FLIGHT of reads outstanding; each written whole, then renamed into place."""
    pipe = _SftpPipe(sftp)
    queue = list(reversed(files))
    requests: dict[int, tuple[str, _Job, int]] = {}  # num -> (kind, job, offset)
    hungry: list[_Job] = []
    in_flight = 0
    active = 0

    def top_up(job: _Job) -> None:
        nonlocal in_flight
        while (not job.eof and not job.failed and job.next_off <= job.limit
               and in_flight < SFTP_BYTES_IN_FLIGHT):
            n = pipe.send(CMD_READ, job.handle, int64(job.next_off), SFTP_READ_SIZE)
            requests[n] = ("read", job, job.next_off)
            job.pending.add(n)
            job.next_off += SFTP_READ_SIZE
            in_flight += SFTP_READ_SIZE
        if not job.done and job.next_off <= job.limit and not job.eof and not job.failed:
            hungry.append(job)

    def finish(job: _Job) -> None:
        nonlocal active
        active -= 1
        if job.handle is not None:
            requests[pipe.send(CMD_CLOSE, job.handle)] = ("close", job, 0)
        if job.failed:
            pull.failed[job.f.rel] = job.failed
            return
        data = b"".join(job.chunks[o] for o in sorted(job.chunks))
        if len(data) != job.f.size:
            pull.changed.append(job.f.rel)  # grew (or shrank) since the listing
        tmp, out = spool.open_temp(job.f.rel)
        try:
            with out:
                out.write(data)
            spool.stage(tmp, job.f.rel, job.f.mtime, len(data))
        except BaseException:
            spool.discard(tmp)
            raise
        pull.fetched.append(job.f.rel)
        if progress:
            progress(pull, "file")

    while queue or requests:
        while queue and active < SFTP_FILES_IN_FLIGHT and in_flight < SFTP_BYTES_IN_FLIGHT:
            f = queue.pop()
            active += 1
            n = pipe.send(CMD_OPEN, f.path, SFTP_FLAG_READ, paramiko.SFTPAttributes())
            requests[n] = ("open", _Job(f), 0)
        while not pipe.answers:
            pipe.pump()
        for num in list(pipe.answers):
            t, msg = pipe.answers.pop(num)
            kind, job, off = requests.pop(num, ("", None, 0))
            if job is None or kind == "close":
                continue
            if kind == "open":
                if t == CMD_HANDLE:
                    job.handle = msg.get_binary()
                    top_up(job)
                    continue
                job.failed = _status_text(msg)[1] if t == CMD_STATUS else "open failed"
                finish(job)
                continue
            job.pending.discard(num)
            in_flight -= SFTP_READ_SIZE
            if t == CMD_DATA:
                data = msg.get_binary()
                job.chunks[off] = data
                pull.bytes += len(data)
                if progress and job.f.size > 1 << 20:
                    progress(pull, "bytes")
                if off + SFTP_READ_SIZE > job.limit and len(data) == SFTP_READ_SIZE:
                    job.limit = off + SFTP_READ_SIZE  # the file grew since the listing
            elif t == CMD_STATUS:
                code, text = _status_text(msg)
                if code == SFTP_EOF:
                    job.eof = True
                elif code != SFTP_OK:
                    job.failed = job.failed or text
            if job.done:
                finish(job)
            else:
                top_up(job)
        while hungry and in_flight < SFTP_BYTES_IN_FLIGHT:
            job = hungry.pop(0)
            if not job.done:
                top_up(job)


# -- one report server -----------------------------------------------------------------------

def pull_report_server(rs: ReportServer, spool: Spool, *, trust_new_host: bool = False,
                       client_factory: Callable[[], paramiko.SSHClient] | None = None,
                       progress: Progress | None = None,
                       only: set[str] | None = None,
                       notify: Callable[[str], None] | None = None) -> ServerPull:
    """List, compare and fetch one report server. Never raises for SSH trouble: the
    ServerPull carries ``error`` (whole server) and ``failed`` (single files)."""
    pull = ServerPull(rs.name, rs.host)
    started = time.monotonic()
    method = str(rs.extra.get("method", "auto"))  # auto | exec | sftp
    compress = str(rs.extra.get("compress", "auto"))  # auto | zstd | gzip | none
    client = None
    lister = None
    try:
        client = connect(rs, trust_new_host=trust_new_host, client_factory=client_factory,
                         notify=notify)
        lister = _Lister(client, rs.remote_dir, pull)
        files: list[RemoteFile] | None = None
        tools: set[str] = set()
        if method in ("auto", "exec"):
            try:
                entries, tools = list_exec(client, rs.remote_dir)
                files = lister.from_exec(entries)
                pull.method = "exec"
            except ExecUnavailable as exc:
                if method == "exec":
                    raise FetchError(f"cannot run commands on {rs.host}: {exc}") from None
        if files is None:
            files = lister.via_sftp()
            pull.method = "sftp"
        if only is not None:
            files = [f for f in files if f.rel in only]
        pull.remote = {f.rel for f in files}
        pull.listed = len(files)
        todo = [f for f in files if not spool.unchanged(f)]
        pull.unchanged = len(files) - len(todo)
        if progress:
            progress(pull, "listed")
        if not todo:
            return pull
        if pull.method == "exec":
            simple: list[RemoteFile] = []
            followed: list[RemoteFile] = []  # reached through a symlink: read by real path
            for f in todo:
                direct = f.path == posixpath.join(lister.remote_dir, f.rel)
                (simple if direct else followed).append(f)
            kind = _pick_compression(compress, tools)
            pull.method = f"exec+{kind}" if kind != "none" else "exec"
            pull_tar(client, rs.remote_dir, simple, spool, pull, kind, progress)
            if followed and not pull.error:
                pull_sftp(lister.sftp(), followed, spool, pull, progress)
        else:
            pull_sftp(lister.sftp(), todo, spool, pull, progress)
    except FetchError as exc:
        pull.error = str(exc)
    except (OSError, EOFError, paramiko.SSHException) as exc:
        reason = _stream_error([], exc)
        pull.error = f"transfer interrupted after {len(pull.fetched)} files: {reason}"
    finally:
        if lister is not None:
            lister.close()
        if client is not None:
            client.close()
        _commit(spool, pull)
        pull.seconds = time.monotonic() - started
    return pull


def _commit(spool: Spool, pull: ServerPull) -> None:
    """Put the files this pull received in place, durably; a file that cannot be keeps its
    last good copy and is named in ``pull.failed``."""
    try:
        failed = spool.commit_staged()
    except OSError as exc:  # a folder fsync: the files are in place, durability unsure
        pull.error = pull.error or f"the spool folder could not be synced to disk: " \
                                   f"{exc.strerror or exc}"
        return
    if failed:
        pull.failed.update(failed)
        pull.fetched = [rel for rel in pull.fetched if rel not in failed]


def _pick_compression(wanted: str, remote_tools: set[str]) -> str:
    if wanted != "auto":
        return wanted
    if "zstd" in remote_tools and _local_has("zstd"):
        return "zstd"
    if "gzip" in remote_tools:
        return "gzip"
    return "none"


def pull(cfg: Config, *, trust_new_host: bool = False,
         client_factory: Callable[[], paramiko.SSHClient] | None = None,
         progress: Progress | None = None, only: Iterable[str] | None = None,
         servers: Iterable[str] | None = None,
         notify: Callable[[str], None] | None = None) -> PullReport:
    """Pull every configured report server into ``cfg.spool_dir``.

    ``only``: restrict to these ``customer/server.out`` names; ``servers``: to these report
    server names.
    """
    spool = Spool(cfg.spool_dir)
    spool.clean_partials()
    report = PullReport(spool.root)
    wanted = set(only) if only is not None else None
    names = set(servers) if servers is not None else None
    for rs in cfg.report_servers:
        if names is not None and rs.name not in names:
            continue
        report.servers.append(pull_report_server(
            rs, spool, trust_new_host=trust_new_host, client_factory=client_factory,
            progress=progress, only=wanted, notify=notify))
    return report


def fetch_one(cfg: Config, customer: str, server: str, *,
              client_factory: Callable[[], paramiko.SSHClient] | None = None,
              ) -> tuple[Path | None, PullReport]:
    """Fetch one server's log (from whichever report server has it) into the spool."""
    rel = f"{customer}/{server}.out"
    why = check_rel(rel)
    if why:
        raise FetchError(f"{printable(customer)}/{printable(server)}: {why}")
    report = pull(cfg, client_factory=client_factory, only={rel})
    path = Path(cfg.spool_dir) / rel
    for s in report.servers:
        if rel in s.remote and rel not in s.failed and path.is_file():
            return path, report
    return None, report
