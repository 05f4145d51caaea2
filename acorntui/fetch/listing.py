"""Listing a report server's ``<customer>/<server>.out`` files, with their size and mtime.

Where the account may run commands, one ``find -printf`` lists the whole tree (~0.2 s for
10,000 files) and says which compressors the server has; where it may not (``ForceCommand
internal-sftp``, exec refused, a non-POSIX shell), the listing comes from SFTP
``listdir_attr``. Names are validated before anything is written (:mod:`.names`: no ``..``,
no ``/``, no control characters, no leading dot); a symlink is followed only when its target
resolves inside ``remote_dir``, and such a file is then read by its real path.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import shlex
import stat

import paramiko

from acorntui.fetch.model import FetchError, RemoteFile, ServerPull
from acorntui.fetch.names import check_rel, printable, unsafe_name
from acorntui.fetch.ssh import exec_channel, open_sftp, read_all

__all__ = ["ExecUnavailable", "Lister", "list_exec"]

LIST_MARKER = b"ACORN-LIST-1"


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
        ch = exec_channel(client, cmd)
    except paramiko.ChannelException as exc:
        raise ExecUnavailable(f"exec refused: {exc}") from None
    except paramiko.SSHException as exc:
        if "connection lost" in str(exc).lower():
            raise
        raise ExecUnavailable(f"exec refused: {exc}") from None
    try:
        ch.shutdown_write()
        out = read_all(ch)
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


class Lister:
    """Turns a raw listing into validated RemoteFiles; resolves symlinks via SFTP (the one SFTP
    session of the pull: the transfer reuses it for files reached through a symlink)."""

    def __init__(self, client: paramiko.SSHClient, remote_dir: str, pull: ServerPull):
        self.client = client
        self.remote_dir = remote_dir.rstrip("/") or "/"
        self.pull = pull
        self._sftp: paramiko.SFTPClient | None = None
        self._root_real: str | None = None

    def sftp(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            self._sftp = open_sftp(self.client)
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
            # the folder itself, just before it is listed: a folder swapped for a symlink
            # since the top listing is refused and named, not listed through the link
            top = self.sftp().lstat(real_dir)
            if not stat.S_ISDIR(top.st_mode or 0):
                self.pull.skipped.append(f"{printable(cust)}/ (refused: not a folder now but "
                                         "a symbolic link or other file; nothing listed in it)")
                return out
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
