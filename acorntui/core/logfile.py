"""Reading a big log a window at a time: a sparse index of line offsets, built in one pass,
then any run of lines read by seeking. Pure: standard library only.

The console's log viewer (screens/logview.py) pages through a spool file of hundreds of MB
without holding it: :func:`build_index` reads the file once in 1 MiB blocks and keeps the
byte offset of every :data:`STEP`-th line start (a 10-million-line log costs 100,000 offsets);
:meth:`LogIndex.read` seeks to the checkpoint at or before the first line wanted and reads
forward only as far as the window needs. A line longer than :data:`LINE_CAP` bytes is cut
(its length is said), so one 300 MB line costs one capped read. Every open goes through
:func:`acorntui.core.parser.open_regular`: no symlink is followed, no FIFO waited on.
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from acorntui.core.parser import open_regular

__all__ = ["LINE_CAP", "STEP", "LogIndex", "build_index", "decode_line"]

STEP = 100  # a checkpoint every STEP lines
LINE_CAP = 4096  # bytes of a line that are read and shown
_BLOCK = 1 << 20


def decode_line(raw: bytes) -> str:
    """A log line as text: UTF-8 (invalid bytes shown as ``\\xNN``), CR progress reduced to
    what a terminal would show (the last part), no line end."""
    raw = raw.rstrip(b"\r\n")
    if b"\r" in raw:
        parts = [p for p in raw.split(b"\r") if p.strip()]
        raw = parts[-1] if parts else b""
    return raw.decode("utf-8", "backslashreplace")


@dataclass
class LogIndex:
    """Checkpoints of one file: ``offsets[k]`` is where line ``k * STEP`` starts (0-based)."""

    path: str
    size: int
    lines: int
    offsets: array[int] = field(default_factory=lambda: array("q"))
    mtime: float = 0.0

    def read(self, first: int, count: int) -> list[str]:
        """Lines ``first .. first + count - 1`` (0-based), each cut at :data:`LINE_CAP`."""
        first = max(0, min(first, self.lines))
        count = max(0, min(count, self.lines - first))
        if not count:
            return []
        k = first // STEP
        fd, _ = open_regular(self.path)
        out: list[str] = []
        with open(fd, "rb") as fh:
            fh.seek(self.offsets[k])
            for _ in range(first - k * STEP):
                if _read_line(fh) is None:
                    return out
            for _ in range(count):
                raw = _read_line(fh)
                if raw is None:
                    break
                out.append(decode_line(raw))
        return out

    def search(self, term: str, start: int, forward: bool = True,
               stop: Callable[[], bool] | None = None) -> int | None:
        """The next line (0-based) after ``start`` (before it, ``forward=False``) that holds
        ``term`` (case-insensitive), wrapping around; None when no line does.

        Reads the file line by line from the start (never whole); ``stop()`` true ends it.
        """
        needle = term.lower().encode("utf-8", "backslashreplace")
        if not needle:
            return None
        first_hit: int | None = None
        before: int | None = None  # the last hit before start
        last_hit: int | None = None
        fd, _ = open_regular(self.path)
        with open(fd, "rb") as fh:
            n = 0
            while (raw := _read_line(fh)) is not None:
                if stop is not None and n % 10000 == 0 and stop():
                    return None
                if needle in raw.lower():
                    if forward and n > start:
                        return n
                    if first_hit is None:
                        first_hit = n
                    if n < start:
                        before = n
                    last_hit = n
                n += 1
        if forward:
            return first_hit
        return before if before is not None else last_hit


def _read_line(fh: BinaryIO) -> bytes | None:
    """The next line, cut at LINE_CAP bytes (the rest of a longer line is read past, in
    bounded pieces, not kept); None at the end of the file."""
    data = fh.readline(LINE_CAP)
    if not data:
        return None
    if not data.endswith(b"\n"):
        while True:
            more = fh.readline(_BLOCK)
            if not more or more.endswith(b"\n"):
                break
    return data


def build_index(path: str | os.PathLike[str], stop: Callable[[], bool] | None = None
                ) -> LogIndex:
    """Read ``path`` once and note where every :data:`STEP`-th line starts.

    Memory: one 1 MiB block and 8 bytes per STEP lines. ``stop()`` true ends the read early
    (the index then covers what was read)."""
    spath = os.fspath(path)
    fd, st = open_regular(spath)
    offsets = array("q", [0])
    lines = 0
    pos = 0
    last_byte = b"\n"
    with open(fd, "rb", buffering=0) as fh:
        while True:
            if stop is not None and stop():
                break
            block = fh.read(_BLOCK)
            if not block:
                break
            start = 0
            while True:
                nl = block.find(b"\n", start)
                if nl < 0:
                    break
                lines += 1
                if lines % STEP == 0:
                    offsets.append(pos + nl + 1)
                start = nl + 1
            pos += len(block)
            last_byte = block[-1:]
    if last_byte != b"\n":
        lines += 1  # a last line without a newline
    if lines and offsets[-1] >= pos and len(offsets) > 1:
        offsets.pop()  # a checkpoint at the very end starts no line
    return LogIndex(spath, pos, lines, offsets, st.st_mtime)
