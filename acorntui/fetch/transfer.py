"""Moving the listed files into the spool: one tar stream over an exec channel, or pipelined
SFTP where the account may not run commands (and for files reached through a symlink).

How the tar stream is made fast (figures in DESIGN.md "Performance notes"):

- One ``tar`` over an exec channel carries every changed file, compressed with ``zstd -1``
  when both ends have zstd (logs are text: the compressed stream is a fraction of the data,
  and paramiko's per-packet cost is what limits it), else ``gzip -1``, else not at all.
- Receiving and unpacking overlap: paramiko's transport thread decrypts into the channel's
  buffer, a feeder thread moves it into a local ``zstd -d`` process, and the pulling thread
  reads the unpacked stream in blocks of up to 1 MiB and slices the tar headers and member
  data out of them itself (:class:`_TarStream`): no small reads per member as ``tarfile``
  makes, and each member's data goes to its temp file in one ``write`` by descriptor.

Trust: the server's tar never follows a symlink (no ``-h``), and only regular-file members are
accepted: a listed file that became a symlink, hard link, device or folder by the time tar
reached it is refused and named for that file, and nothing of it is written. The SFTP path
checks the same with ``lstat`` of the path against ``fstat`` of the opened handle.

The SFTP path keeps many requests in flight on one channel (open, stat, reads and close of the
next files issued before the answers of the previous ones arrive). paramiko offers that only
through ``SFTPClient._async_request`` / ``_read_response``; :class:`_SftpPipe` is the one
place that touches them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import posixpath
import shlex
import shutil
import stat
import subprocess
import threading
import zlib
from collections.abc import Callable, Iterator

import paramiko
from paramiko.sftp import (
    CMD_ATTRS,
    CMD_CLOSE,
    CMD_DATA,
    CMD_FSTAT,
    CMD_HANDLE,
    CMD_LSTAT,
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

from acorntui.fetch.model import Progress, RemoteFile, ServerPull
from acorntui.fetch.spool import Spool
from acorntui.fetch.ssh import TRANSFER_TIMEOUT, exec_channel

__all__ = ["pick_compression", "pull_sftp", "pull_tar", "stream_error"]

SFTP_FILES_IN_FLIGHT = 64
SFTP_READ_SIZE = 32768
SFTP_BYTES_IN_FLIGHT = 16 * 1024 * 1024
READ_BLOCK = 1 << 20  # the unpacked tar stream is read in blocks of up to this much
PIPE_SIZE = 1 << 20  # asked for the pipes to and from the local zstd (Linux; best effort)
BIG_FILE = 1 << 20  # members above this report "bytes" progress as they are written


def _local_has(tool: str) -> bool:
    return shutil.which(tool) is not None


def pick_compression(wanted: str, remote_tools: set[str]) -> str:
    if wanted != "auto":
        return wanted
    if "zstd" in remote_tools and _local_has("zstd"):
        return "zstd"
    if "gzip" in remote_tools:
        return "gzip"
    return "none"


def stream_error(feed_error: list[BaseException], exc: BaseException) -> str:
    """Why a stream ended early, in words (the feeder's own error first)."""
    e = feed_error[0] if feed_error else exc
    text = str(e) or e.__class__.__name__
    if isinstance(e, TimeoutError):
        return f"no data for {TRANSFER_TIMEOUT:.0f} s"
    if "unexpected end of data" in text or isinstance(e, EOFError):
        return "connection lost"
    return text


def _refusal(what: str) -> str:
    return (f"refused: it is {what} on the report server now, not a regular file (it was "
            f"one when listed); nothing of it was saved")


# -- transfer: tar over exec -----------------------------------------------------------------

class TarStreamError(Exception):
    """The tar stream is not a tar stream (a corrupt header)."""


_BLOCK = 512
_ZERO_BLOCK = bytes(_BLOCK)
_REGULAR = (b"0", b"\0", b"7")  # 7: contiguous file, a regular file everywhere else
_NOT_REGULAR = {b"1": "a hard link", b"2": "a symbolic link", b"3": "a character device",
                b"4": "a block device", b"5": "a folder", b"6": "a FIFO"}
_POSIX_MAGIC = b"ustar\x0000"


def _number(field: bytes) -> int:
    """A tar header number: octal text, or base-256 when the first byte has its top bit."""
    if field[:1] and field[0] & 0x80:
        if field[0] == 0xFF:
            raise TarStreamError("negative number in a tar header")
        return int.from_bytes(field[1:], "big")
    text = field.split(b"\0", 1)[0].strip()
    try:
        return int(text, 8) if text else 0
    except ValueError:
        raise TarStreamError(f"bad number {text[:20]!r} in a tar header") from None


def _checksum_ok(hdr: bytes) -> bool:
    stored = _number(hdr[148:156])
    unsigned = sum(hdr) - sum(hdr[148:156]) + 8 * 32
    if stored == unsigned:
        return True
    signed = unsigned - 256 * sum(1 for b in hdr[:148] + hdr[156:] if b > 127)
    return stored == signed


def _pax(data: bytes) -> dict[bytes, bytes]:
    """Records ``"<len> <key>=<value>\\n"`` of a pax extended header."""
    out: dict[bytes, bytes] = {}
    pos = 0
    while pos < len(data) and data[pos:pos + 1] != b"\0":
        space = data.find(b" ", pos)
        try:
            length = int(data[pos:space])
        except ValueError:
            raise TarStreamError("bad pax header") from None
        if space < 0 or length <= 0:
            raise TarStreamError("bad pax header")
        key, _, value = data[space + 1:pos + length - 1].partition(b"=")
        out[key] = value
        pos += length
    return out


class _TarStream:
    """A tar stream read in big blocks from ``read()`` (returns b"" at the end); headers and
    member data are sliced out of the blocks."""

    def __init__(self, read: Callable[[], bytes]):
        self.read = read
        self.buf = b""
        self.pos = 0

    def fill(self, n: int) -> bool:
        """At least ``n`` bytes buffered; False when the stream ends first."""
        while len(self.buf) - self.pos < n:
            data = self.read()
            if not data:
                return False
            rest = self.buf[self.pos:]
            self.buf = rest + data if rest else data
            self.pos = 0
        return True

    def take(self, n: int) -> bytes:
        if not self.fill(n):
            raise EOFError("unexpected end of data")
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out

    def chunks(self, n: int) -> Iterator[memoryview]:
        """The next ``n`` bytes as views of the blocks they arrive in."""
        while n:
            if self.pos >= len(self.buf):
                self.buf = self.read()
                self.pos = 0
                if not self.buf:
                    raise EOFError("unexpected end of data")
            k = min(n, len(self.buf) - self.pos)
            yield memoryview(self.buf)[self.pos:self.pos + k]
            self.pos += k
            n -= k

    def skip(self, n: int) -> None:
        if n <= len(self.buf) - self.pos:
            self.pos += n
            return
        for _ in self.chunks(n):
            pass

    def drain(self) -> None:
        """Read to the end (tar pads its output; the remote ends only when it is read)."""
        self.buf, self.pos = b"", 0
        while self.read():
            pass


# one pass over the members, kept whole: the header fields, long names and pax records are
# read in stream order and apply to the member that follows
def _read_members(s: _TarStream, wanted: dict[str, RemoteFile], spool: Spool,  # noqa: C901
                  pull: ServerPull, progress: Progress | None, got: set[str],
                  prefix: str = "") -> None:
    """The members of one archive, up to its end-of-archive block. A member ``name`` is the
    spool's ``prefix + name`` (``prefix``: ``"<customer>/"`` when tar ran in that folder)."""
    long_name: bytes | None = None
    pax: dict[bytes, bytes] = {}
    while True:
        hdr = s.take(_BLOCK)
        if hdr == _ZERO_BLOCK:
            return  # the end-of-archive blocks
        if not _checksum_ok(hdr):
            raise TarStreamError("bad tar header checksum (the stream is corrupt)")
        kind = hdr[156:157]
        size = _number(hdr[124:136])
        padded = (size + _BLOCK - 1) & ~(_BLOCK - 1)
        if kind in (b"L", b"K", b"x", b"g"):  # GNU long name/link, pax header: for the next
            data = s.take(padded)[:size]
            if kind == b"L":
                long_name = data.split(b"\0", 1)[0]
            elif kind == b"x":
                pax = _pax(data)
            continue
        name = long_name
        if name is None:
            name = hdr[:100].split(b"\0", 1)[0]
            if hdr[257:265] == _POSIX_MAGIC and hdr[345]:
                name = hdr[345:500].split(b"\0", 1)[0] + b"/" + name
        mtime = _number(hdr[136:148])
        if pax:
            name = pax.get(b"path", name)
            if b"size" in pax:
                size = int(pax[b"size"])
                padded = (size + _BLOCK - 1) & ~(_BLOCK - 1)
            if b"mtime" in pax:
                mtime = int(float(pax[b"mtime"]))
            pax = {}
        long_name = None
        rel = prefix + os.fsdecode(name.rstrip(b"/"))  # a folder member ends in a slash
        if rel not in wanted or rel in got:  # never write a name we did not ask for
            s.skip(padded)
            continue
        got.add(rel)
        if kind not in _REGULAR:
            pull.failed[rel] = _refusal(_NOT_REGULAR.get(kind, f"of tar type {kind!r}"))
            s.skip(padded)
            continue
        tmp = spool.create(rel)
        try:
            big = progress is not None and size > BIG_FILE
            for chunk in s.chunks(size):
                spool.write(tmp, chunk)
                pull.bytes += len(chunk)
                if big and progress is not None:
                    progress(pull, "bytes")
            spool.stage(tmp, mtime)
        except BaseException:
            spool.discard(tmp)
            raise
        s.skip(padded - size)
        pull.fetched.append(rel)
        if progress:
            progress(pull, "file")


def read_tar(read: Callable[[], bytes], wanted: dict[str, RemoteFile], spool: Spool,
             pull: ServerPull, progress: Progress | None) -> None:
    """Every regular-file member of the stream that is in ``wanted`` into the spool (staged);
    a wanted name that arrives as anything else is refused and named in ``pull.failed``."""
    s = _TarStream(read)
    _read_members(s, wanted, spool, pull, progress, set())
    s.drain()


# -- one tar per customer folder, run inside it ------------------------------------------------
#
# tar opens ``acme/fs1.out`` by walking the path: had ``acme`` become a symlink to a folder
# outside the reports folder by then, tar would read through it, and no member type would
# show it. So the remote script enters each customer folder with ``cd -P`` and checks that the
# folder it is in is the one listed (its physical path is <reports>/<customer>: a symlink to
# elsewhere, or to another customer, leads somewhere else), then runs tar there on bare file
# names. The shell's working folder is held by the kernel: swapping the name afterwards cannot
# move tar. The stream is, per folder, a marker block and then that folder's archive (or
# nothing when the folder was refused), and an end marker.

DIR_MARKER = b"ACORN-DIR "
END_MARKER = b"ACORN-END"
NAMES_PER_TAR = 1000  # file names on one tar command line

_TAR_SCRIPT_HEAD = r"""top=$(pwd -P) || exit 95
pre=$top; [ "$pre" = / ] && pre=
d() {
  k=$1; c=$2; shift 2
  printf '%-511s\n' "ACORN-DIR $k"; echo "ACORN-DIR $k" >&2
  if cd -P -- "./$c" 2>/dev/null && [ "$PWD" = "$pre/$c" ]; then
    tar -c -f - --hard-dereference --no-recursion -- "$@"
  else
    echo "ACORN-REFUSED $k" >&2
  fi
  cd -P -- "$top" && [ "$PWD" = "$top" ] || exit 96
}
"""


def _marker(text: bytes) -> bytes:
    return text.ljust(_BLOCK - 1) + b"\n"


def tar_groups(files: list[RemoteFile]) -> list[tuple[str, list[str]]]:
    """(customer folder, file names in it), at most NAMES_PER_TAR names a group."""
    by: dict[str, list[str]] = {}
    for f in files:
        cust, name = f.rel.split("/", 1)
        by.setdefault(cust, []).append(name)
    out = []
    for cust, names in by.items():
        for i in range(0, len(names), NAMES_PER_TAR):
            out.append((cust, names[i:i + NAMES_PER_TAR]))
    return out


def tar_script(groups: list[tuple[str, list[str]]]) -> bytes:
    lines = [_TAR_SCRIPT_HEAD]
    for k, (cust, names) in enumerate(groups):
        lines.append(f"d {k} {shlex.quote(cust)} " + " ".join(shlex.quote(n) for n in names)
                     + "\n")
    lines.append(f"printf '%-511s\\n' {END_MARKER.decode()}\n")
    return "".join(lines).encode()


def read_tar_folders(read: Callable[[], bytes], groups: list[tuple[str, list[str]]],
                     wanted: dict[str, RemoteFile], spool: Spool, pull: ServerPull,
                     progress: Progress | None) -> set[int]:
    """The stream of :func:`tar_script`: each group's members under ``<customer>/``. Returns
    the groups whose folder sent nothing (refused, or tar could not run there)."""
    s = _TarStream(read)
    got: set[str] = set()
    empty: set[int] = set()
    for k, (cust, _names) in enumerate(groups):
        if s.take(_BLOCK) != _marker(DIR_MARKER + str(k).encode()):
            raise TarStreamError("the stream lost its place between folders")
        if _peek_marker(s):
            empty.add(k)
            continue
        _read_members(s, wanted, spool, pull, progress, got, prefix=cust + "/")
        while not _peek_marker(s):  # the archive's zero padding
            if s.take(_BLOCK) != _ZERO_BLOCK:
                raise TarStreamError("data after the end of a folder's archive")
    if s.take(_BLOCK) != _marker(END_MARKER):
        raise TarStreamError("the stream did not end as the script does")
    s.drain()
    return empty


def _peek_marker(s: _TarStream) -> bool:
    if not s.fill(_BLOCK):
        raise EOFError("unexpected end of data")
    # a marker line, never a tar header: those end in zero padding (fields stop at 500)
    return s.buf[s.pos:s.pos + 6] == b"ACORN-" and s.buf[s.pos + 511:s.pos + 512] == b"\n"


def _grow_pipe(f) -> None:
    if hasattr(fcntl, "F_SETPIPE_SZ"):
        with contextlib.suppress(OSError):
            fcntl.fcntl(f.fileno(), fcntl.F_SETPIPE_SZ, PIPE_SIZE)


# the stream's set-up, reading and clean-up kept together: every exit closes the channel,
# the local zstd and the threads
def pull_tar(client: paramiko.SSHClient, remote_dir: str, files: list[RemoteFile],  # noqa: C901
             spool: Spool, pull: ServerPull, compress: str,
             progress: Progress | None) -> None:
    """One stream for every file in ``files`` (paths relative to remote_dir): a tar per
    customer folder, run inside it once it is checked to be the folder listed
    (:func:`tar_script`), all through one compressor."""
    wanted = {f.rel: f for f in files}
    groups = tar_groups(files)
    pipe = {"zstd": " | zstd -1 -q -c", "gzip": " | gzip -1 -c", "none": ""}[compress]
    # no -h: a listed file that is a symlink by now arrives as one and is refused;
    # --hard-dereference: two listed names of one file each arrive whole, not as a link;
    # --no-recursion: a name is a file, never a folder's whole content. The script comes on
    # stdin (no command-line length limit); tar reads no stdin
    cmd = f"cd -- {shlex.quote(remote_dir)} && sh -s{pipe}"
    ch = exec_channel(client, cmd)
    names = tar_script(groups)
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
            assert unzip.stdin is not None and unzip.stdout is not None
            _grow_pipe(unzip.stdin)
            _grow_pipe(unzip.stdout)
            zin, zout = unzip.stdin, unzip.stdout.fileno()

            def feed() -> None:
                try:
                    while True:
                        data = ch.recv(READ_BLOCK)
                        if not data:
                            break
                        zin.write(data)
                except Exception as exc:  # noqa: BLE001 - the stream ends short; seen below
                    feed_error.append(exc)
                finally:
                    with contextlib.suppress(OSError):
                        zin.close()

            feeder = threading.Thread(target=feed, name="acorn-tar-feed", daemon=True)
            feeder.start()

            def read() -> bytes:
                return os.read(zout, READ_BLOCK)
        elif compress == "gzip":
            gunzip = zlib.decompressobj(16 + zlib.MAX_WBITS)

            def read() -> bytes:
                while True:
                    data = ch.recv(READ_BLOCK)
                    if not data:
                        return gunzip.flush()
                    out = gunzip.decompress(data)
                    if out:
                        return out
        else:
            def read() -> bytes:
                return ch.recv(READ_BLOCK)
        empty = read_tar_folders(read, groups, wanted, spool, pull, progress)
        ch.recv_exit_status()
        _tar_errors(ch.makefile_stderr("rb").read().decode(errors="replace"), groups, empty,
                    pull)
    except (TarStreamError, zlib.error, EOFError, OSError, paramiko.SSHException) as exc:
        reason = stream_error(feed_error, exc)
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
            with contextlib.suppress(Exception):
                unzip.stdout.close()  # type: ignore[union-attr]
        ch.close()
        sender.join(5)
        if feeder is not None:
            feeder.join(5)
    done = set(pull.fetched)
    for rel in wanted:
        if rel not in done and rel not in pull.failed:
            pull.failed[rel] = "not received (the server's tar did not send it)"


def folder_refusal(cust: str) -> str:
    return (f"refused: its folder {cust}/ on the report server is not the folder that was "
            "listed (a symbolic link to elsewhere, or swapped for another folder); nothing "
            "from it was saved")


def _tar_errors(stderr: str, groups: list[tuple[str, list[str]]], empty: set[int],
                pull: ServerPull) -> None:
    """The script's stderr, in sections per group (``ACORN-DIR k``): a refused folder names
    each of its files; ``tar: srv.out: Cannot open: Permission denied`` -> that file's
    reason."""
    got = set(pull.fetched)
    cust, k = "", -1
    names: set[str] = set()
    for line in stderr.splitlines():
        if line.startswith("ACORN-DIR "):
            word = line[len("ACORN-DIR "):].strip()
            k = int(word) if word.isdigit() and int(word) < len(groups) else -1
            cust, names = (groups[k][0], set(groups[k][1])) if k >= 0 else ("", set())
            continue
        if line.startswith("ACORN-REFUSED ") and k in empty:
            for name in names:
                pull.failed.setdefault(f"{cust}/{name}", folder_refusal(cust))
            continue
        if not line.startswith("tar: ") or not cust:
            continue
        body = line[5:]
        for name in names:
            if not body.startswith(name + ": "):
                continue
            rel, what = f"{cust}/{name}", body[len(name) + 2:].strip()
            if rel not in got:
                pull.failed.setdefault(rel, what)
            elif "changed as we read it" in what and rel not in pull.changed:
                pull.changed.append(rel)


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


def _attrs(t: int, msg: paramiko.Message) -> paramiko.SFTPAttributes | str:
    if t == CMD_ATTRS:
        return paramiko.SFTPAttributes._from_msg(msg)  # type: ignore[attr-defined]
    return _status_text(msg)[1] if t == CMD_STATUS else "stat failed"


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def opened_file_problem(path_attrs: paramiko.SFTPAttributes,
                        handle_attrs: paramiko.SFTPAttributes) -> str:
    """Why the file an SFTP handle has open is not the regular file at the listed path ("" if
    it is). ``handle_attrs`` (fstat of the handle) was asked before ``path_attrs`` (lstat of
    the path): a log being appended to may have grown in between, never shrunk."""
    lmode, fmode = path_attrs.st_mode or 0, handle_attrs.st_mode or 0
    if not stat.S_ISREG(lmode):
        return _refusal(_kind(lmode))
    if not stat.S_ISREG(fmode):
        return _refusal(_kind(fmode))
    same_owner = (path_attrs.st_uid, path_attrs.st_gid, lmode) == \
        (handle_attrs.st_uid, handle_attrs.st_gid, fmode)
    newer = (path_attrs.st_size or 0) >= (handle_attrs.st_size or 0) and \
        (path_attrs.st_mtime or 0) >= (handle_attrs.st_mtime or 0)
    if not (same_owner and newer):
        return ("refused: the file opened is not the one now at that path (swapped for "
                "another file or a symlink while it was opened); nothing of it was saved")
    return ""


def listed_file_problem(f: RemoteFile, handle_attrs: paramiko.SFTPAttributes) -> str:
    """Why the file an SFTP handle has open cannot be the log that was listed ("" if it can
    be): a log is only ever appended to, so between the listing and the open it may grow and
    get newer, never shrink or get older. SFTP gives no inode to bind the handle to the
    folder it was listed in; this catches a file reached through a folder swapped for a
    symlink (and back) between the folder's lstats, unless that file is at least as big and
    as new as the listed log, with the same owner and mode (docs/reliability.md)."""
    size, mtime = handle_attrs.st_size, handle_attrs.st_mtime
    if size is None or mtime is None or size < f.size or mtime < f.mtime:
        return ("refused: the file opened is smaller or older than the one listed (swapped "
                "for another file or a symlink, or its folder was); nothing of it was saved")
    return ""


def folder_problem(rel: str, before: paramiko.SFTPAttributes | None,
                   after: paramiko.SFTPAttributes | None) -> str:
    """Why the folder a file was opened through is not a real folder (lstat just before the
    open and after it), "" if it is both times, the same one by owner and mode."""
    cust = rel.split("/", 1)[0]
    for a in (before, after):
        if a is None or not stat.S_ISDIR(a.st_mode or 0):
            return folder_refusal(cust)
    assert before is not None and after is not None
    if (before.st_uid, before.st_gid, before.st_mode) != (after.st_uid, after.st_gid,
                                                         after.st_mode):
        return folder_refusal(cust)
    return ""


class _Job:
    __slots__ = ("f", "handle", "chunks", "pending", "failed", "next_off", "limit", "eof",
                 "fstat", "lstat", "dir_before", "dir_after", "finished")

    def __init__(self, f: RemoteFile):
        self.f = f
        self.handle: bytes | None = None
        self.chunks: dict[int, bytes] = {}
        self.pending: set[int] = set()
        self.failed = ""
        self.next_off = 0
        self.limit = f.size  # reads start at offsets <= limit (the size, from fstat once in)
        self.eof = False
        self.fstat: paramiko.SFTPAttributes | None = None  # of the open handle
        self.lstat: paramiko.SFTPAttributes | None = None  # of the path, after the open
        # lstat of the folder the path goes through, just before the open and after it
        self.dir_before: paramiko.SFTPAttributes | None = None
        self.dir_after: paramiko.SFTPAttributes | None = None
        self.finished = False

    @property
    def done(self) -> bool:
        return not self.pending and (self.eof or bool(self.failed) or self.next_off > self.limit)


# one pipelined loop over the SFTP answers, kept whole: the in-flight accounting reads in one place
def pull_sftp(sftp: paramiko.SFTPClient, files: list[RemoteFile], spool: Spool,  # noqa: C901
              pull: ServerPull, progress: Progress | None) -> None:
    """Every file of ``files`` with up to SFTP_FILES_IN_FLIGHT open at once and up to
    SFTP_BYTES_IN_FLIGHT of reads outstanding; each written whole, then renamed into place.
    Each open handle is checked against the path (:func:`opened_file_problem`) before any of
    its data is written."""
    pipe = _SftpPipe(sftp)
    queue = list(reversed(files))
    requests: dict[int, tuple[str, _Job, int]] = {}  # num -> (kind, job, offset)
    hungry: list[_Job] = []
    in_flight = 0
    active = 0

    def top_up(job: _Job) -> None:
        nonlocal in_flight
        if job.handle is None:  # not open yet (its folder's lstat answered first)
            return
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
        job.finished = True
        if job.handle is not None:
            requests[pipe.send(CMD_CLOSE, job.handle)] = ("close", job, 0)
        if not job.failed and job.handle is not None:
            if job.fstat is None or job.lstat is None:
                job.failed = "could not check what was opened; nothing of it was saved"
            else:
                job.failed = (folder_problem(job.f.rel, job.dir_before, job.dir_after)
                              or opened_file_problem(job.lstat, job.fstat)
                              or listed_file_problem(job.f, job.fstat))
        if job.failed:
            pull.failed[job.f.rel] = job.failed
            return
        data = b"".join(job.chunks[o] for o in sorted(job.chunks))
        if len(data) != job.f.size:
            pull.changed.append(job.f.rel)  # grew (or shrank) since the listing
        spool.save(job.f.rel, data, job.f.mtime)
        pull.fetched.append(job.f.rel)
        if progress:
            progress(pull, "file")

    while queue or requests:
        while queue and active < SFTP_FILES_IN_FLIGHT and in_flight < SFTP_BYTES_IN_FLIGHT:
            f = queue.pop()
            active += 1
            job = _Job(f)
            # the folder, then the file: a folder swapped for a symlink shows in one of the
            # folder's lstats (before and after the open), the file read through it in the
            # file's (:func:`folder_problem`, :func:`opened_file_problem`)
            n = pipe.send(CMD_LSTAT, posixpath.dirname(f.path))
            requests[n] = ("dir_before", job, 0)
            job.pending.add(n)
            n = pipe.send(CMD_OPEN, f.path, SFTP_FLAG_READ, paramiko.SFTPAttributes())
            requests[n] = ("open", job, 0)
            job.pending.add(n)
        while not pipe.answers:
            pipe.pump()
        for num in list(pipe.answers):
            t, msg = pipe.answers.pop(num)
            kind, got_job, off = requests.pop(num, ("", None, 0))
            if got_job is None or kind == "close" or got_job.finished:
                continue
            job = got_job
            if kind == "open":
                job.pending.discard(num)
                if t == CMD_HANDLE:
                    job.handle = msg.get_binary()
                    # what the handle has open, then what the path is now: answered before
                    # the reads sent next, so both are in when the last read is
                    for what, n in (("fstat", pipe.send(CMD_FSTAT, job.handle)),
                                    ("lstat", pipe.send(CMD_LSTAT, job.f.path)),
                                    ("dir_after", pipe.send(CMD_LSTAT,
                                                            posixpath.dirname(job.f.path)))):
                        requests[n] = (what, job, 0)
                        job.pending.add(n)
                    top_up(job)
                    continue
                job.failed = job.failed or (_status_text(msg)[1] if t == CMD_STATUS
                                            else "open failed")
                finish(job)
                continue
            job.pending.discard(num)
            if kind in ("dir_before", "dir_after"):
                seen = _attrs(t, msg)
                if isinstance(seen, str):
                    job.failed = job.failed or folder_refusal(job.f.rel.split("/", 1)[0])
                elif kind == "dir_before":
                    job.dir_before = seen
                else:
                    job.dir_after = seen
            elif kind in ("fstat", "lstat"):
                got = _attrs(t, msg)
                if isinstance(got, str):
                    job.failed = job.failed or got
                elif kind == "fstat":
                    job.fstat = got
                    if got.st_size is not None:
                        # read what the file holds now; a log still being appended to would
                        # otherwise keep the reads going (the next pull gets the rest)
                        job.limit = got.st_size
                else:
                    job.lstat = got
            else:
                in_flight -= SFTP_READ_SIZE
                if t == CMD_DATA:
                    data = msg.get_binary()
                    job.chunks[off] = data
                    pull.bytes += len(data)
                    if progress and job.f.size > BIG_FILE:
                        progress(pull, "bytes")
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
