"""The spool: where pulled logs land, as complete and durable files only.

A transfer writes each file under a temporary name in its folder (:meth:`Spool.create`,
:meth:`Spool.write`) and hands it over complete with :meth:`Spool.stage` (or removes it with
:meth:`Spool.discard` when it broke: the last good copy stays). Staged files are committed in
batches by one background thread while the transfer goes on, the rest at
:meth:`Spool.commit_staged`, once per report server:

1. the data of every file of the batch is made durable (:meth:`Spool.sync_data`: ``syncfs`` on
   Linux, one call whatever the number of files, else ``fsync`` of each from a thread pool);
2. only then is each renamed into place;
3. :meth:`Spool.commit_staged` fsyncs the folders whose entries changed.

A crash at any point leaves every spool name with either its last good copy or the complete
new one, never an empty or partial file; a temp file left behind is removed by
:meth:`Spool.clean_partials` at the next pull.

Files are handled by file descriptor and plain ``str`` paths (no file objects, no ``Path`` per
file): a first pull writes thousands of small files and the per-file Python work adds up.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import itertools
import os
import queue
import sys
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from acorntui.fetch.model import RemoteFile
from acorntui.fetch.names import check_rel

__all__ = ["Spool", "TempFile"]

SYNC_THREADS = 8  # fsync of each temp file where syncfs is not available
COMMIT_BATCH_BYTES = 16 * 1024 * 1024  # staged this much: sync and rename it while the pull goes on
COMMIT_BATCH_FILES = 1000
_UTIME_FD = os.utime in os.supports_fd
_O_TEMP = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | \
    getattr(os, "O_BINARY", 0)


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


def _fsync_path(path: str | Path, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class TempFile:
    """A spool file being written: open descriptor, temporary and final path."""

    __slots__ = ("fd", "path", "final", "rel", "size")

    def __init__(self, fd: int, path: str, final: str, rel: str):
        self.fd = fd
        self.path = path
        self.final = final
        self.rel = rel
        self.size = 0


_Batch = list[tuple[str, str, str]]  # (temp path, final path, rel)


class Spool:
    """Writes complete, durable files only (see the module)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        made_root = not self.root.is_dir()
        from acorntui.config import make_private_dir

        make_private_dir(self.root)  # often the user data folder's spool: 0750 (see there)
        self._root = str(self.root)
        self._made: set[str] = set()
        self._batch: _Batch = []
        self._batch_bytes = 0
        self._new_dirs: set[str] = {self._root} if made_root else set()
        self._changed: set[str] = set()  # folders with a rename not yet fsynced
        self._failed: dict[str, str] = {}
        self._queue: queue.SimpleQueue[_Batch | None] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self._worker_error: BaseException | None = None
        self._tag = f".{os.getpid()}."
        self._seq = itertools.count()

    def path(self, rel: str) -> Path:
        if check_rel(rel):
            raise ValueError(f"unsafe spool name {rel!r}")
        return self.root / rel

    def unchanged(self, f: RemoteFile) -> bool:
        try:
            st = os.stat(f"{self._root}/{f.rel}")
        except OSError:
            return False
        return st.st_size == f.size and int(st.st_mtime) == f.mtime

    # -- writing one file ------------------------------------------------------------------
    def create(self, rel: str) -> TempFile:
        """A new temp file next to where ``rel`` goes, open for writing."""
        if check_rel(rel):
            raise ValueError(f"unsafe spool name {rel!r}")
        cust, name = rel.split("/", 1)
        folder = f"{self._root}/{cust}"
        if cust not in self._made:
            try:
                os.mkdir(folder)
                self._new_dirs.add(folder)
            except FileExistsError:
                pass
            self._made.add(cust)
        tmp = f"{folder}/.{name}{self._tag}{next(self._seq)}.part"
        return TempFile(os.open(tmp, _O_TEMP, 0o666), tmp, f"{folder}/{name}", rel)

    @staticmethod
    def write(tmp: TempFile, data) -> None:
        """Append ``data`` (bytes or a memoryview) to the temp file."""
        n = os.write(tmp.fd, data)
        while n < len(data):  # a short write (a signal, a nearly full disk): the rest
            n += os.write(tmp.fd, data[n:])
        tmp.size += n

    def stage(self, tmp: TempFile, mtime: int) -> None:
        """A complete temp file: set its mtime and close it; it goes in with its batch."""
        try:
            os.utime(tmp.fd if _UTIME_FD else tmp.path, (mtime, mtime))
        finally:
            os.close(tmp.fd)
            tmp.fd = -1
        self._batch.append((tmp.path, tmp.final, tmp.rel))
        self._batch_bytes += tmp.size
        if self._batch_bytes >= COMMIT_BATCH_BYTES or len(self._batch) >= COMMIT_BATCH_FILES:
            self._send_batch()

    def save(self, rel: str, data: bytes, mtime: int) -> None:
        """A whole file at once: written under a temp name and staged."""
        tmp = self.create(rel)
        try:
            self.write(tmp, data)
            self.stage(tmp, mtime)
        except BaseException:
            self.discard(tmp)
            raise

    @staticmethod
    def discard(tmp: TempFile) -> None:
        """Remove a temp file that will not be used (a broken transfer)."""
        if tmp.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(tmp.fd)
            tmp.fd = -1
        with contextlib.suppress(OSError):
            os.unlink(tmp.path)

    # -- committing ----------------------------------------------------------------------
    def _send_batch(self) -> None:
        batch, self._batch, self._batch_bytes = self._batch, [], 0
        if not batch:
            return
        self._queue.put(batch)  # never blocks the transfer; batches go in in order
        if self._worker is None:
            self._worker = threading.Thread(target=self._work, name="acorn-spool-commit",
                                            daemon=True)
            self._worker.start()

    def _work(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            # batches that queued up while the last one synced go in together: one sync
            done = False
            with contextlib.suppress(queue.Empty):
                while True:
                    more = self._queue.get_nowait()
                    if more is None:
                        done = True
                        break
                    batch += more
            try:
                self._commit_batch(batch)
            except BaseException as exc:  # noqa: BLE001 - raised again by commit_staged
                self._worker_error = exc
                for _tmp, _final, rel in batch:
                    self._failed.setdefault(rel, f"not saved: {exc}")
            if done:
                return

    def sync_data(self, paths: list[str]) -> dict[str, str]:
        """Make the data of ``paths`` durable; {path: reason} for those that could not be.

        ``syncfs`` of the spool's filesystem where there is one (one call; its cost does not
        grow with the number of files), else, or when it reports an error, ``fsync`` of each
        file from SYNC_THREADS threads (the error then names the file it belongs to).
        """
        if _SYNCFS is not None:
            fd = os.open(self._root, os.O_RDONLY)
            try:
                if _SYNCFS(fd) == 0:
                    return {}
            finally:
                os.close(fd)
        bad: dict[str, str] = {}

        def one(p: str) -> None:
            try:
                _fsync_path(p)
            except OSError as exc:
                bad[p] = exc.strerror or str(exc)

        with ThreadPoolExecutor(min(SYNC_THREADS, len(paths)) or 1,
                                thread_name_prefix="acorn-fsync") as ex:
            list(ex.map(one, paths))
        return bad

    def sync_dirs(self, dirs: Iterable[Path]) -> None:
        """Make the entries of folders that changed durable: one ``syncfs`` where there is one
        (it commits the filesystem's journal, renames included, with one disk cache flush,
        where an fsync per folder may flush the disk cache once per folder), else an fsync
        of each folder (a no-op where folders cannot be opened)."""
        dirs = set(dirs)
        if not dirs or os.name == "nt":
            return
        if _SYNCFS is not None:
            fd = os.open(self._root, os.O_RDONLY)
            try:
                if _SYNCFS(fd) == 0:
                    return
            finally:
                os.close(fd)
        for d in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
            try:
                _fsync_path(d, directory=True)
            except OSError as exc:
                if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
                    raise

    def _commit_batch(self, batch: _Batch) -> None:
        """(1) sync the batch's data, (2) rename what is durable; failures to ``_failed``."""
        try:
            bad = self.sync_data([tmp for tmp, _, _ in batch])
        except OSError as exc:
            bad = {tmp: exc.strerror or str(exc) for tmp, _, _ in batch}
        for tmp, final, rel in batch:
            if tmp in bad:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                self._failed[rel] = f"not saved: cannot make it durable: {bad[tmp]}"
                continue
            try:
                os.replace(tmp, final)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                self._failed[rel] = f"not saved: {exc.strerror or exc}"
                continue
            self._failed.pop(rel, None)
            self._changed.add(final.rpartition("/")[0])

    def commit_staged(self) -> dict[str, str]:
        """Durably put every staged file in place (see the module) and fsync the folders that
        changed; {rel: reason} for files that could not be (temp removed, last good copy
        kept). Raises OSError only when a folder cannot be synced."""
        if self._worker is not None:
            self._send_batch()
            self._queue.put(None)
            self._worker.join()
            self._worker = None
        else:
            batch, self._batch, self._batch_bytes = self._batch, [], 0
            if batch:
                self._commit_batch(batch)
        error, self._worker_error = self._worker_error, None
        failed, self._failed = self._failed, {}
        changed, self._changed = self._changed, set()
        new_dirs, self._new_dirs = self._new_dirs, set()
        if error is not None and not isinstance(error, Exception):
            raise error  # KeyboardInterrupt and the like
        self.sync_dirs({Path(d) for d in changed} | {Path(d).parent for d in new_dirs})
        return failed

    def clean_partials(self) -> None:
        """Temp files left by a pull that was killed (never by one that failed: it cleans)."""
        for d in self.root.iterdir():
            if d.is_dir():
                for f in d.glob(".*.part"):
                    with contextlib.suppress(OSError):
                        f.unlink()
