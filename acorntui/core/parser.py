"""Parse an rsync log (``stats.out``) into a completion code and a list of failing files.

Pure: imports only the standard library.  The rules (see DESIGN.md, "Parsing a stats.out"):

* the LAST completion line (``rsync error: ... (code N) at ...`` or ``rsync warning: ...``)
  gives the code;
* with no completion line, the code is 0 when the last non-blank line is rsync's
  ``total size is ...  speedup is ...`` line (or the ``--log-file`` trailer ``sent X bytes
  received Y bytes  total size Z``), otherwise -2 (reason ``incomplete``);
* a log holding several runs (``>>``, or a script running rsync once per share) keeps
  every run's file errors; an ok-ish last run never hides an earlier run's failing code,
  and a run begun after the last completion line that never ended makes it -2 (see
  :func:`_final_code`);
* a stats file older than ``max_age_hours`` is -2 (reason ``stale``);
* every per-file error line is collected as a :class:`FileError`.

Shapes it reads: rsync 2.6.x-3.4.x stdout/stderr logs (with or without the 3.2+ ``[sender]``
role prefix, any strerror language), ``--log-file`` logs (``YYYY/MM/DD hh:mm:ss [pid] `` on
every line), daemon ``@ERROR:`` lines, ``--progress``/``--info=progress2`` CR lines, -vvv
debug output (``_exit_cleanup(code=0 ...)`` after the summary), openrsync's
``file.c:N: error: path: open: ...`` lines, CR-only line ends, UTF-16 and trailing NULs.

How it reads (logs can be hundreds of MB; see bench/parse.py):

The file is read in binary blocks of 1 MiB.  Every line that can matter to the result is one
of rsync's messages, and every such message except two contains a colon (``rsync: ...``,
``rsync error: ...``, ``file has vanished: ...``, ``ERROR: x failed verification``,
``cannot delete non-empty directory: x``, ``Number of files: ...``).  The plain file-name
lines of a verbose listing (``/cygdrive/E/...``) carry none, so the scanner only looks for
``:`` bytes with ``bytes.find`` (memchr speed), and only the lines holding one are checked
for marker words, decoded and matched.  The two colon-less lines are the summary lines
``sent X bytes  received Y bytes  Z bytes/sec`` and ``total size is T  speedup is S``,
which rsync prints at the very end: they are looked for in the last MiB or so of the log
(kept as a rolling tail), together with the last non-blank line.  Line numbers come from
counting newlines between hits; the SHA-256 of the raw bytes runs in a helper thread for
big files (hashlib releases the GIL), so it overlaps the scan.

Encodings: a UTF-16 log (BOM ``FF FE`` / ``FE FF``, or a BOM-less one recognised by its
NUL pattern) is transcoded to UTF-8 block by block; a UTF-8 BOM is dropped.  Each line
that is examined is decoded as UTF-8; a line that is not valid UTF-8 (a name in a legacy
Windows code page such as cp1252/cp850) is decoded with ``errors="backslashreplace"``:
nothing is lost, the undecodable bytes stay visible as ``\\xf6``, and the same raw
bytes always give the same text (so exceptions keep matching).  We do not guess a code
page, because guessing wrong would silently turn a name into a different name.
rsync's own ``\\#ooo`` escapes of control characters are kept verbatim.

The parser never raises on any input: a line it fails to interpret ends up in
``unrecognised_errors``.  Only :func:`parse_file` raises :class:`ParseError`, for a
missing, directory, non-regular or unreadable file.
"""

from __future__ import annotations

import codecs
import errno
import hashlib
import io
import os
import queue
import re
import stat
import threading
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any, BinaryIO

__all__ = [
    "KINDS",
    "MAX_TAIL_BYTES",
    "MAX_TAIL_LINES",
    "MAX_WHY_LINES",
    "FileError",
    "LogLine",
    "ParseError",
    "ParseResult",
    "TransferStats",
    "file_kind",
    "why_kind",
    "not_regular_error",
    "open_regular",
    "parse_bytes",
    "parse_file",
    "parse_number",
    "parse_stream",
]

KINDS = (
    "open_failed",
    "read_error",
    "opendir_failed",
    "link_stat_failed",
    "readlink_failed",
    "vanished",
    "mkdir_failed",
    "set_times_failed",
    "delete_failed",
    "rename_failed",
    "mkstemp_failed",
    "delete_nonempty_dir",
    "chdir_failed",
    "write_failed",
    "verification_failed",
    "symlink_no_referent",
    "set_attrs_failed",
    "other",
)

CODE_INCOMPLETE = -2
MAX_UNRECOGNISED = 100
# File errors kept per log: the rest are counted (ParseResult.failure_count) but not kept, so a
# log of a million error lines costs what a log of a thousand does (see DESIGN.md, "Failures
# beyond the cap": the ones not kept can never be excepted).
MAX_FAILURES = 1000
MAX_CODES_KEPT = 100  # completion codes listed in codes_seen (the verdict does not need more)
# What a reader needs to see why (stored with each result): rsync's error and warning lines,
# the first and the last MAX_WHY_LINES // 2 of them (the first say what went wrong first, the
# last hold the completion line of a fatal code), each cut at WHY_LINE_CAP characters; and the
# last MAX_TAIL_LINES lines of the log, at most MAX_TAIL_BYTES of UTF-8 in all.
MAX_WHY_LINES = 50
WHY_LINE_CAP = 300
MAX_TAIL_LINES = 40
MAX_TAIL_BYTES = 8 * 1024
_TAIL_LINE_CAP = 400

_BLOCK = 1 << 20  # read size
_MAX_LINE = 4 << 20  # a "line" longer than this is cut (memory bound for newline-less input)
_TAIL_BYTES = 1 << 20  # at least this much of the end of the log is kept for the summary lines
_LAST_LINE_CAP = 64 * 1024  # a last line longer than this cannot be rsync's summary line
# Only this much of a line is matched against the rules: rsync formats a message into a buffer
# of a few KiB (BIGPATHBUFLEN), \#ooo escapes at most quadruple it, and it starts a new line
# before an error (ending a progress line). Past it a line is progress output or garbage, and
# matching dozens of rules against megabytes of colons cost seconds per line.
_CLASSIFY_CAP = 64 * 1024
_HASH_THREAD_AFTER = 8 << 20  # hash in a helper thread once this many bytes were read
_BLANK = b" \t\r\n\x00\x0b\x0c"


class ParseError(Exception):
    """The stats file could not be read (missing, a directory, unreadable)."""


@dataclass
class FileError:
    path: str
    message: str
    line: int
    kind: str


@dataclass
class LogLine:
    """One of rsync's error or warning lines: its line number, ``error`` or ``warning``, and
    its text (cut at :data:`WHY_LINE_CAP` characters)."""

    line: int
    kind: str
    text: str


@dataclass
class TransferStats:
    sent_bytes: int | None = None
    received_bytes: int | None = None
    bytes_per_sec: float | None = None
    total_size: int | None = None
    speedup: float | None = None
    files_total: int | None = None
    files_transferred: int | None = None


@dataclass
class ParseResult:
    path: str
    customer: str | None
    server: str | None
    code: int
    reason: str | None
    failures: list[FileError] = field(default_factory=list)
    stats: TransferStats = field(default_factory=TransferStats)
    rsync_version: str | None = None
    codes_seen: list[int] = field(default_factory=list)
    unrecognised_errors: list[str] = field(default_factory=list)
    encoding: str = "utf-8"
    mtime: float = 0.0
    size: int = 0
    sha256: str = ""
    lines: int = 0
    failure_count: int = 0  # every file error in the log; ``failures`` holds the first ones
    # why: rsync's error/warning lines (first and last ones, see MAX_WHY_LINES) and how many
    # there were; the last lines of the log (MAX_TAIL_LINES, MAX_TAIL_BYTES)
    why_lines: list[LogLine] = field(default_factory=list)
    why_count: int = 0
    tail_lines: list[str] = field(default_factory=list)

    @property
    def failures_not_kept(self) -> int:
        """File errors past :data:`MAX_FAILURES`: counted, not listed."""
        return max(0, self.failure_count - len(self.failures))

    def to_dict(self) -> dict[str, Any]:
        """The ``parse --json`` shape (DESIGN.md) without ``status``/``excepted``."""
        s = self.stats
        return {
            "customer": self.customer,
            "server": self.server,
            "code": self.code,
            "reason": self.reason,
            "failures": [
                {"path": f.path, "message": f.message, "line": f.line, "kind": f.kind}
                for f in self.failures
            ],
            "stats": {
                "sent_bytes": s.sent_bytes,
                "received_bytes": s.received_bytes,
                "bytes_per_sec": s.bytes_per_sec,
                "total_size": s.total_size,
                "speedup": s.speedup,
            },
            "rsync_version": self.rsync_version,
        }

    def as_full_dict(self) -> dict[str, Any]:
        """Every field (for debugging and the benchmark)."""
        return asdict(self)


# --------------------------------------------------------------------------- numbers

# rsync's -h: one -h gives units of 1000 (3.0 and 3.1+ man pages), -hh units of 1024.  A
# single suffix letter does not say which, so we take 1000; human numbers are rounded to
# 2 decimals by rsync anyway (do_big_num: "%.2f%c").
_UNITS = {"K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_GROUPED = re.compile(r"\d{1,3}(?:([,.'\u00a0\u202f])\d{3})(?:\1\d{3})*\Z")


def _to_decimal(body: str) -> float | None:
    """A number that may hold a decimal separator ('.' or ',') and grouping."""
    if not body:
        return None
    if body.isdigit():
        return float(body)
    seps = [c for c in body if not c.isdigit()]
    if any(c not in ",.'\u00a0\u202f" for c in seps):
        return None
    if not body[0].isdigit() or not body[-1].isdigit():
        return None
    kinds = set(seps)
    if len(kinds) >= 2:
        # both kinds: the last separator is the decimal mark, the others group
        dec = body[max(body.rfind(","), body.rfind("."))]
        if seps.count(dec) != 1:
            return None
        intpart, frac = body.rsplit(dec, 1)
        intpart = "".join(c for c in intpart if c.isdigit())
        return float(f"{intpart}.{frac}")
    sep = seps[0]
    if len(seps) > 1:
        return float(body.replace(sep, "")) if _GROUPED.match(body) else None
    intpart, frac = body.split(sep)
    if sep in "'\u00a0\u202f":
        return float(intpart + frac) if len(frac) == 3 else None
    if sep == "," and len(frac) == 3:
        return float(intpart + frac)  # "1,234": grouped thousands
    return float(f"{intpart}.{frac}")  # "12.22", "1,68" (decimal comma), "1.234"


def parse_number(text: str, *, decimal: bool = False) -> int | float | None:
    """Parse a number as rsync prints it; ``None`` when it is not one.

    Handles plain ``23990367``, grouped ``23,990,367`` / ``23.990.367`` (rsync 3.1+ groups by
    the locale), human ``22.88M`` / ``1,23K`` (units of 1000, see ``_UNITS``) and decimals
    ``1176127.02`` / ``1,176,127.02`` / ``1.176.127,02`` / ``speedup is 1,68``.

    ``decimal=False`` (byte and file counts) returns an int: a ``,`` or ``.`` followed by
    groups of exactly 3 digits is a thousands separator.  ``decimal=True`` (rates, speedup)
    returns a float: rsync prints those with two decimals, so a single ``,`` followed by
    exactly 2 digits is a decimal comma, while ``1,234`` is still grouped thousands.
    """
    if not isinstance(text, str):
        return None
    s = text.strip()
    if not s or len(s) > 64 or not _NUMBER_CHARS.issuperset(s):
        return None
    try:
        return _parse_number(s, decimal)
    except (ValueError, OverflowError):
        return None


_NUMBER_CHARS = frozenset("0123456789,.'\u00a0\u202fKMGTPEkmgtpe")


def _parse_number(s: str, decimal: bool) -> int | float | None:
    mult = 1
    if s[-1].upper() in _UNITS and len(s) > 1:
        mult = _UNITS[s[-1].upper()]
        s = s[:-1]
        # with a unit, one separator is the decimal mark ("22.88M", "22,88M")
        if s.count(",") + s.count(".") == 1 and s[-1:].isdigit() and s[:1].isdigit():
            s = s.replace(",", ".")
            try:
                value = float(s) * mult
            except ValueError:
                return None
            return value if decimal else int(round(value))
    if not decimal and s.isdigit():
        return int(s) * mult
    if not decimal and _GROUPED.match(s):
        return int(re.sub(r"\D", "", s)) * mult
    number = _to_decimal(s)
    if number is None:
        return None
    number *= mult
    return number if decimal else int(round(number))


# --------------------------------------------------------------------------- line rules

# A completion line (log.c log_exit): "rsync error: <name> (code N) at <file>(<line>) [who=ver]".
# 2.6.0-2.6.8 had no [who=ver] tag; some reimplementations print "at file:line".
_CODE_RE = re.compile(
    r"rsync (?P<sev>error|warning): (?P<name>.*?)\s*\(code (?P<code>-?\d{1,12})\)"
    r"(?:\s+at\s+\S+?(?:\(\d+\)|:\d+))?"
    r"(?:\s*\[(?P<who>[A-Za-z]+)(?:=(?P<ver>[^\]\s]*))?\])?"
)
_VERSION_TAG_RE = re.compile(
    r"\[(?:sender|receiver|generator|client|server|daemon)=(?P<ver>[0-9][^\]\s]*)\]",
    re.IGNORECASE,
)
_ROLE_PREFIX_RE = re.compile(r"\[(?P<role>[A-Za-z]+)\]\s+")

_SENT_RE = re.compile(
    r"(?:^|\s)(?:sent|wrote)\s+(?P<sent>\S+)\s+bytes\s+(?:received|read)\s+(?P<recv>\S+)\s+bytes"
    r"\s+(?P<rate>\S+)\s+bytes/sec"
)
_TOTAL_RE = re.compile(r"(?:^|\s)total size is\s+(?P<total>\S+)\s+speedup is\s+(?P<speedup>\S+)")
# log.c log_exit(): the --log-file trailer of a run ("sent %s bytes  received %s bytes  total
# size %s"); written for code 0 (and by the sender before its error line, 3.1+)
_LOGFILE_SENT_RE = re.compile(
    r"(?:^|\s)sent\s+(?P<sent>\S+)\s+bytes\s+received\s+(?P<recv>\S+)\s+bytes\s+"
    r"total size\s+(?P<total>\S+)\s*$"
)
_SUMMARY_LAST_RE = re.compile(
    rb"total size is \S+ +speedup is \S+|"
    rb"(?:^|\s)sent \S+ bytes +received \S+ bytes +total size \S+\s*$"
)
# log.c logit(): "%s [%d] " (timestring, pid) before every line of a --log-file
_LOGFILE_PREFIX_RE = re.compile(rb"^\d{4}/\d\d/\d\d[ -]\d\d:\d\d:\d\d \[\d+\] ")
_LOGFILE_PREFIX_TEXT_RE = re.compile(_LOGFILE_PREFIX_RE.pattern.decode())
# cleanup.c at -vvv: "[sender] _exit_cleanup(code=0, file=main.c, line=1207): about to call
# exit(0)" comes after the summary of a clean run: not "more log"
_EXIT_DEBUG_RE = re.compile(
    rb"(?:^|\s|\] )_exit_cleanup\(code=0, file=[^,]*, line=\d+\): "
    rb"(?:entered|about to call exit\(0\))$"
)
# the first lines of a run (flist.c / main.c): a later run of rsync appended to the log
# (searched anywhere in the line: wrapper scripts put their own timestamps in front)
_RUN_START_RE = re.compile(
    rb"(?:(?:sending|receiving) incremental file list|building file list|"
    rb"receiving file list|sending file list)"
)
# "(in <module>)" after a quoted name, on a daemon (log.c full_fname)
_IN_MODULE_RE = re.compile(r'" \(in [^()"]*\)')
_NOT_TRANSFERRED_RE = re.compile(rb"\((?:DRY RUN|BATCH ONLY)\)")
_STATS_LINE_RES = (
    (re.compile(r"^Number of files:\s*(?P<n>\S+)"), "files_total"),
    (re.compile(r"^Number of (?:regular )?files transferred:\s*(?P<n>\S+)"), "files_transferred"),
    (re.compile(r"^Total file size:\s*(?P<n>\S+)"), "total_size_fallback"),
    (re.compile(r"^Total bytes sent:\s*(?P<n>\S+)"), "sent_fallback"),
    (re.compile(r"^Total bytes received:\s*(?P<n>\S+)"), "received_fallback"),
)

# Per-file error messages, from rsync's sources (sender.c, flist.c, generator.c,
# receiver.c, delete.c, rsync.c, main.c, util1.c, xattrs.c) for 2.6.x to 3.4.x.  rsyserr()
# prints "rsync: [who] <msg>: <strerror> (<errno>)" (3.2+; "rsync: <msg>: ..." before),
# names come from full_fname() as "\"<name>\"" (plus " (in <module>)" on a daemon).
# rsync does not escape quotes inside names, so quoted paths are matched greedily: the
# path runs to the LAST closing quote that is followed by the message's fixed text.
_FILE_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(rx), kind)
    for rx, kind in (
        (r'send_files failed to open "(?P<p>.*)": ', "open_failed"),
        (r'send_files failed to open "(?P<p>.*)"', "open_failed"),
        (r"send_files failed to open (?P<p>.+?): ", "open_failed"),
        (r'failed to open "(?P<p>.*)", continuing', "open_failed"),
        (r'read errors mapping "(?P<p>.*)": ', "read_error"),
        (r'read errors mapping "(?P<p>.*)"', "read_error"),
        (r'opendir "(?P<p>.*)" failed', "opendir_failed"),
        (r"opendir (?P<p>.+?) failed: ", "opendir_failed"),
        (r'readlink_stat\("(?P<p>.*)"\) failed', "readlink_failed"),
        (r'readlink "(?P<p>.*)" failed', "readlink_failed"),
        (r'(?<![A-Za-z_])link_stat "(?P<p>.*)" failed', "link_stat_failed"),
        (r"(?<![A-Za-z_])link_stat (?P<p>.+?) failed: ", "link_stat_failed"),
        (r'(?:file|directory) has vanished: "(?P<p>.*)"', "vanished"),
        (r"(?:file|directory) has vanished: (?P<p>.+)$", "vanished"),
        (r'mkdir "(?P<p>.*)" failed', "mkdir_failed"),
        (r'failed to set times on "(?P<p>.*)"(?=: |\s*$)', "set_times_failed"),
        # rsync.c set_file_attrs(): "%s %s failed" (chown/chgrp), "failed to set
        # permissions on %s"; xattrs/acls of the same family
        (r'(?<![A-Za-z_])(?:chown|chgrp) "(?P<p>.*)" failed', "set_attrs_failed"),
        (r'failed to set permissions on "(?P<p>.*)"(?=: |\s*$)', "set_attrs_failed"),
        # acls.c: "set_acl: sys_acl_set_file(%s, %s)" / "get_acl: sys_acl_get_file(%s, %s)"
        (r"sys_acl_set_file\((?P<p>.+), ACL_TYPE_[A-Z]+\)", "set_attrs_failed"),
        (r"sys_acl_get_file\((?P<p>.+), ACL_TYPE_[A-Z]+\)", "other"),
        (r"delete_file: [a-z_]+\((?P<p>.*)\) failed", "delete_failed"),
        (r'delete_one: [a-z_]+ "(?P<p>.*)" failed', "delete_failed"),
        (r"delete_one: [a-z_]+ (?P<p>.+?) failed", "delete_failed"),
        (r"cannot delete mount point: (?P<p>.+)$", "delete_failed"),
        (r"sender failed to remove (?P<p>.+?)(?:: [^:]*\(\d+\))?$", "delete_failed"),
        (r'rename "(?P<p>.*)" -> "', "rename_failed"),
        (r'mkstemp "(?P<p>.*)" failed', "mkstemp_failed"),
        (r"cannot delete non-empty directory: (?P<p>.+)$", "delete_nonempty_dir"),
        (r'(?:change_dir|chdir)(?:#\d+)? "(?P<p>.*)" failed', "chdir_failed"),
        (r'(?:write|close|fsync|ftruncate) failed on "(?P<p>.*)"(?=: |\s*$)', "write_failed"),
        (r"ERROR: (?P<p>.+) failed verification -- update", "verification_failed"),
        (r'symlink has no referent: "(?P<p>.*)"', "symlink_no_referent"),
        (r"symlink has no referent: (?P<p>.+)$", "symlink_no_referent"),
        (
            r"could not make way for (?:new|backup) "
            r"(?:regular file|directory|symlink|device file|special file): (?P<p>.+)$",
            "other",
        ),
        (r"skipping overly long name: (?P<p>.+)$", "other"),
        (r"cannot convert filename: (?P<p>.+?) \(", "other"),
        (r"skipping file with bogus \(zero\) st_mode: (?P<p>.+)$", "other"),
        (r'l?setxattr\("(?P<p>.*?)","', "set_attrs_failed"),
        (r'[a-z_]*xattr\("(?P<p>.*?)","', "other"),
        (r'(?:symlink|link|keep_backup failed:) "(?P<p>.*)" [-=]> ', "other"),
    )
)

# receiver.c: rprintf(FERROR_XFER, "ERROR: %s failed verification -- update %s%s.\n", fname,
# ...): the name comes right after "ERROR: ", so a "rsync: " later on the line is part of the
# name, not the start of an rsync: message
_VERIFY_FAILED_RE = re.compile(r"ERROR: (?P<p>.+) failed verification -- update")

# "rsync: ..." messages that carry quotes but are not about a file being backed up, and
# the usual connection/protocol errors: never a FileError, always unrecognised_errors.
_NOT_A_FILE_RE = re.compile(
    r"^(?:connection unexpectedly closed|read error|write error|writefd_unbuffered|"
    r"safe_read|safe_write|error writing|server sent|unable to (?:open|stat) config|"
    r"Failed to exec|failed to connect|did not see server greeting|getaddrinfo|"
    r"io timeout|unexpected tag|error in socket|Badly formed|Unknown [Pp]arameter|"
    r"IGNORING unknown|failed to open (?:ex|in)clude file|failed to open files-from|"
    r"failed to open log-file|failed to open lock file|failed to open pid|pipe|fork|"
    r"--|on remote machine|Unknown module|iconv_open|msg checking|"
    r"failed to (?:read|write) (?:from|to) proxy|change_notify|"
    r"(?:recv|send)_(?:files|file_list|file_entry)?:? *(?:protocol|multiplex))"
)
# openrsync (macOS 15+ /usr/bin/rsync; OpenBSD): log.c rsync_err() prints
# "<file.c>:<line>: error: <path>: <syscall>: <strerror>" (newer builds "rsync: error: ..."),
# unquoted; the path runs to the last ": <syscall>".
_OPENRSYNC_KINDS = {
    "open": "open_failed", "openat": "open_failed", "mmap": "read_error", "read": "read_error",
    "opendir": "opendir_failed", "fdopendir": "opendir_failed", "lstat": "link_stat_failed",
    "stat": "link_stat_failed", "fstatat": "link_stat_failed", "readlink": "readlink_failed",
    "mkdir": "mkdir_failed", "mkdirat": "mkdir_failed", "mkstemp": "mkstemp_failed",
    "mkstempat": "mkstemp_failed", "rename": "rename_failed", "renameat": "rename_failed",
    "unlink": "delete_failed", "unlinkat": "delete_failed", "write": "write_failed",
    "futimens": "set_times_failed", "utimensat": "set_times_failed",
    "fchown": "set_attrs_failed", "fchownat": "set_attrs_failed", "fchmod": "set_attrs_failed",
    "fchmodat": "set_attrs_failed",
}
_OPENRSYNC_RE = re.compile(
    r"^(?:[a-z_]+\.c:\d+|(?:open)?rsync(?:\(\d+\))?): error: (?P<p>.+): "
    r"(?P<op>" + "|".join(sorted(_OPENRSYNC_KINDS, key=len, reverse=True)) + r")(?=: |$)"
)
# quoted path of an rsync: message we have no specific rule for ("other")
_GENERIC_QUOTED_RE = re.compile(r'"(?P<p>.*)"(?=: | failed|\)|,| ->| \(in |\s*$)')

# Bytes that make a colon-bearing line worth decoding.
_CANDIDATE_RE = re.compile(
    rb"rsync|vanished|referent|cannot |verification|make way|Number of|Total |skipping|"
    rb"ERROR|ssh|IO error|Connection|remote host|Write failed|Permission denied|exiting|"
    # --log-file lines carry a "YYYY/MM/DD hh:mm:ss [pid] " prefix, so the summary
    # lines have a colon there and are seen by the main scan
    rb"total size|bytes/sec|: error: "
)
# Error-ish lines that are not file errors: kept in unrecognised_errors.
_ERRORISH_RE = re.compile(
    r"rsync(?::| error| warning|\(\d+\): (?:error|warning))|@ERROR|^ERROR|^ssh[:_]|"
    r"IO error encountered|-- exiting|"
    r"^Connection (?:closed|reset|timed out|refused)|^Read from remote host|^Write failed|"
    r"^Killed by signal|^packet_write_wait|^client_loop|^Host key verification failed|"
    r"Permission denied \(publickey"
)
# Colon-less lines looked for in the tail of the log only.
_TAIL_MARKERS = (b"bytes/sec", b"total size is", b"IO error encountered", b"-- exiting")

# rsync's own message shapes (log.c, rsync.h): log_exit() prints "rsync error: <name> (code N)"
# (FERROR) for every code but RERR_VANISHED, which is "rsync warning: ..." (FWARNING);
# rsyserr() and rprintf(FERROR, ...) messages start "rsync: " (3.2+: "rsync: [sender] ");
# "file has vanished: " is an FWARNING; a daemon refuses with "@ERROR: "; openrsync prints
# "rsync: error: " / "<file.c>:<n>: error: ". ssh's own failures come on the same stderr.
# (anchored at the start of the line, after a wrapper's timestamp or a "[role] " tag: a file
# name in a verbose listing can hold "rsync: " too)
_WHY_START = r"(?:^|(?<=[\s\]]))"
_WHY_WARNING_RE = re.compile(
    _WHY_START + r"(?:rsync warning: |(?:file|directory) has vanished: |WARNING: "
    r"|rsync\(\d+\): warning: )")
_WHY_ERROR_RE = re.compile(
    _WHY_START + r"(?:rsync error: |rsync: |@ERROR|ERROR: |(?:open)?rsync(?:\(\d+\))?: error: )"
    r"|^[a-z_]+\.c:\d+: error: |IO error encountered -- |-- exiting$|^ssh[:_]"
    r"|^Connection (?:closed|reset|timed out|refused)|^Read from remote host|^Write failed"
    r"|^Killed by signal|^packet_write_wait|^client_loop|^Host key verification failed"
    r"|Permission denied \(publickey")


def why_kind(text: str) -> str | None:
    """``error``, ``warning`` or None: is this (decoded, --log-file prefix removed) line one
    of rsync's (or ssh's) error or warning messages?"""
    if _WHY_WARNING_RE.search(text):
        return "warning"
    if _WHY_ERROR_RE.search(text):
        return "error"
    return None


def _decode(raw: bytes) -> tuple[str, bool]:
    """UTF-8, else UTF-8 with the invalid bytes shown as ``\\xNN`` (True = fallback used)."""
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return raw.decode("utf-8", "backslashreplace"), True


def _unquote(path: str) -> str:
    if len(path) >= 2 and path[0] == '"' and path[-1] == '"':
        return path[1:-1]
    return path


# --------------------------------------------------------------------------- hashing


class _Hasher:
    """SHA-256 of the raw bytes; moves to a helper thread for big inputs.

    hashlib releases the GIL on large buffers, so on a 2-core machine the hash runs
    alongside the scan instead of adding to it.  Updates stay in order: once the thread
    exists every update goes through its queue.
    """

    def __init__(self) -> None:
        self._h = hashlib.sha256()
        self._q: queue.Queue[bytes | None] | None = None
        self._t: threading.Thread | None = None
        self.total = 0

    def update(self, data: bytes) -> None:
        self.total += len(data)
        if self._q is not None:
            self._q.put(data)
            return
        self._h.update(data)
        if self.total >= _HASH_THREAD_AFTER:
            self._q = queue.Queue(maxsize=3)  # bounds memory: 3 blocks in flight
            self._t = threading.Thread(target=self._run, name="stats-sha256", daemon=True)
            self._t.start()

    def _run(self) -> None:
        q = self._q
        assert q is not None
        while True:
            data = q.get()
            if data is None:
                return
            self._h.update(data)

    def close(self) -> None:
        if self._q is not None and self._t is not None:
            self._q.put(None)
            self._t.join()
            self._q = None
            self._t = None

    def hexdigest(self) -> str:
        self.close()
        return self._h.hexdigest()


# --------------------------------------------------------------------------- the scanner


def _identity(path: str) -> tuple[str | None, str | None]:
    """``<...>/<customer>/<server>.out`` -> (customer, server)."""
    if not path or path.startswith("<"):
        return None, None
    p = PurePath(path)
    server = p.stem or None
    customer = p.parent.name or None
    return customer, server


class _Scanner:
    def __init__(self) -> None:
        self.nl = 0  # newlines before the current position
        self.failures: list[FileError] = []  # the first MAX_FAILURES
        self.failure_count = 0
        self.real_failure_line = 0  # last file error that is not information only
        self.codes: list[int] = []  # the first MAX_CODES_KEPT completion codes (codes_seen)
        self.code_count = 0
        self.last_code = 0  # the last completion line's code and line
        self.last_code_line = 0
        self.earlier_bad_code: int | None = None  # latest failing code before the last one
        self.last_run_start = 0  # last line that starts a run ("... file list")
        self.last_too_long = False  # the last non-blank line was longer than _MAX_LINE
        self.last_error_line = 0  # last line holding an error (file error or not)
        self.version: str | None = None
        self.unrecognised: list[tuple[int, str]] = []
        self.stats = TransferStats()
        self._fallback: dict[str, int | None] = {}
        self._logfile: dict[str, int | None] = {}
        self.fallback_decoding = False
        self.last_line = b""
        self._last_ref: tuple[bytes, int, int, int] | None = None
        self.tail: deque[tuple[bytes, int, int, int]] = deque()
        self._tail_size = 0
        self._tail_cut = False  # the kept tail no longer starts at the start of the log
        self._seen_lines: set[int] = set()
        half = MAX_WHY_LINES // 2
        self.why_head: list[LogLine] = []  # the first error/warning lines
        self.why_last: deque[LogLine] = deque(maxlen=MAX_WHY_LINES - half)  # and the last ones
        self.why_count = 0

    # -- regions -------------------------------------------------------------------------
    def region(self, buf: bytes, start: int, end: int) -> None:
        """Scan ``buf[start:end]`` (whole lines, except for a cut over-long line)."""
        if start >= end:
            return
        first_nl = self.nl
        find = buf.find
        rfind = buf.rfind
        count = buf.count
        cand = _CANDIDATE_RE.search
        counted = start
        nl = self.nl
        # run starts only matter after a completion line (see _final_code), and a
        # multi-byte find over every byte would cost as much as the whole scan
        starts_from = start if self.code_count else -1
        pos = find(b":", start, end)
        while pos >= 0:
            i = rfind(b"\n", start, pos)
            ls = start if i < 0 else i + 1
            le = find(b"\n", pos, end)
            if le < 0:
                le = end
            line = buf[ls : min(le, ls + _CLASSIFY_CAP)]
            if cand(line):
                nl += count(b"\n", counted, ls)
                counted = ls
                self._line(line, nl + 1)
                if starts_from < 0 and self.code_count:
                    starts_from = le
            pos = find(b":", le, end)
        self.nl = nl + count(b"\n", counted, end)
        if starts_from >= 0:
            self._run_starts(buf, starts_from, end, first_nl + count(b"\n", start, starts_from))
        self._remember(buf, start, end, first_nl)

    def _run_starts(self, buf: bytes, start: int, end: int, first_nl: int) -> None:
        """Lines in ``buf[start:end]`` (``first_nl`` newlines before it) that begin a run."""
        pos = buf.find(b"file list", start, end)
        if pos < 0:
            return
        counted, nl = start, first_nl
        while pos >= 0:
            i = buf.rfind(b"\n", start, pos)
            ls = start if i < 0 else i + 1
            le = buf.find(b"\n", pos, end)
            if le < 0:
                le = end
            if _RUN_START_RE.search(buf, ls, le):
                nl += buf.count(b"\n", counted, ls)
                counted = ls
                self.last_run_start = nl + 1
            pos = buf.find(b"file list", le, end)

    def over_long(self, head: bytes) -> None:
        """A line longer than ``_MAX_LINE``: its head is scanned, the rest is not read.

        Such a line is not one rsync wrote (its messages are a few KiB at most), so it can
        never be the summary line, whatever it ends with, and nothing before it can be
        "the last line" either: the tail kept for that is dropped.
        """
        lineno = self.nl + 1
        self.region(head, 0, len(head))
        self.tail.clear()
        self._tail_size = 0
        self._tail_cut = True
        self.last_too_long = True
        self._unrecognise(lineno, f"line {lineno}: longer than {_MAX_LINE >> 20} MiB: only its "
                          "start was read; not an rsync message")

    def _remember(self, buf: bytes, start: int, end: int, first_nl: int) -> None:
        # rolling tail for the colon-less summary lines
        self.tail.append((buf, start, end, first_nl))
        self._tail_size += end - start
        while len(self.tail) > 1 and self._tail_size - (self.tail[0][2] - self.tail[0][1]) >= (
            _TAIL_BYTES
        ):
            b, s, e, _ = self.tail.popleft()
            self._tail_size -= e - s
            self._tail_cut = True
        # last non-blank line (trailing NULs of a crashed writer are blank)
        e = end
        while True:
            lo = max(start, e - 4096)
            seg = buf[lo:e].rstrip(_BLANK)
            if seg:
                e = lo + len(seg)
                break
            if lo == start:
                return
            e = lo
        i = buf.rfind(b"\n", start, e)
        ls = start if i < 0 else i + 1
        self.last_too_long = False
        self.last_line = buf[ls : min(e, ls + _LAST_LINE_CAP + 1)]
        self._last_ref = (buf, start, ls, first_nl)

    def effective_last(self) -> tuple[bytes, int]:
        """The last line that says something, without a --log-file prefix, and its number.

        Blank lines, NULs and -vvv's ``_exit_cleanup(code=0 ...)`` debug lines after the
        summary are skipped.
        """
        if self._last_ref is None or self.last_too_long:
            return b"", 0
        buf, start, ls, first_nl = self._last_ref
        lineno = first_nl + buf.count(b"\n", start, ls) + 1
        line = _LOGFILE_PREFIX_RE.sub(b"", self.last_line.strip(_BLANK))
        if not _EXIT_DEBUG_RE.search(line):
            return line, lineno
        # walk back through the kept tail, line by line (a few lines at most)
        seg = b"".join(b[s:e] for b, s, e, _ in self.tail)
        cut = seg.rfind(self.last_line)
        lines = seg[: cut if cut >= 0 else len(seg)].split(b"\n")
        # lines[-1] is the (empty) start of the last line; lines[0] may be a cut line
        for k in range(len(lines) - 2, 0 if self._tail_cut else -1, -1):
            line = _LOGFILE_PREFIX_RE.sub(b"", lines[k].strip(_BLANK))
            if line and not _EXIT_DEBUG_RE.search(line):
                return line[: _LAST_LINE_CAP + 1], lineno - (len(lines) - 1 - k)
        return b"", 0

    def finish_tail(self) -> None:
        hits: list[tuple[int, bytes]] = []
        for buf, start, end, first_nl in self.tail:
            found: set[int] = set()
            for marker in _TAIL_MARKERS:
                pos = buf.find(marker, start, end)
                while pos >= 0:
                    i = buf.rfind(b"\n", start, pos)
                    found.add(start if i < 0 else i + 1)
                    # one hit per line is enough: go on after the line's end (searching
                    # from pos + 1 made a long line full of markers quadratic)
                    le = buf.find(b"\n", pos, end)
                    pos = -1 if le < 0 else buf.find(marker, le + 1, end)
            counted, nl = start, first_nl
            for ls in sorted(found):
                le = buf.find(b"\n", ls, end)
                if le < 0:
                    le = end
                line = buf[ls : min(le, ls + _CLASSIFY_CAP)]
                nl += buf.count(b"\n", counted, ls)
                counted = ls
                if b":" not in line:  # colon lines were handled by the main scan
                    hits.append((nl + 1, line))
        for lineno, line in hits:
            self._line(line, lineno)

    # -- one line --------------------------------------------------------------------------
    def _line(self, raw: bytes, lineno: int) -> None:
        try:
            self._classify(raw, lineno)
        except Exception as exc:  # never let one line break the parse
            self._unrecognise(lineno, f"line {lineno}: parser could not interpret it ({exc!r})")

    def _why(self, lineno: int, kind: str, text: str) -> None:
        self.why_count += 1
        line = LogLine(lineno, kind, text[:WHY_LINE_CAP])
        if len(self.why_head) < MAX_WHY_LINES // 2:
            self.why_head.append(line)
        else:
            self.why_last.append(line)

    def why_lines(self) -> list[LogLine]:
        """The kept error/warning lines in log order (the tail markers are classified after
        the main scan, so their lines arrive out of order)."""
        seen: set[int] = set()
        out = []
        for ln in sorted([*self.why_head, *self.why_last], key=lambda x: x.line):
            if ln.line not in seen:
                seen.add(ln.line)
                out.append(ln)
        return out

    def tail_lines(self) -> list[str]:
        """The last :data:`MAX_TAIL_LINES` lines of the log, at most :data:`MAX_TAIL_BYTES`,
        taken from the rolling tail kept for the summary lines (never the whole log).
        A progress line overwritten with CRs shows what a terminal would: its last part."""
        want = MAX_TAIL_LINES * _TAIL_LINE_CAP * 4
        parts: list[bytes] = []
        got = 0
        complete = not self._tail_cut
        for k in range(len(self.tail) - 1, -1, -1):
            buf, start, end, _ = self.tail[k]
            take = min(end - start, want - got)
            parts.append(buf[end - take : end])
            got += take
            if got >= want:
                complete = complete and k == 0 and take == end - start
                break
        raw = b"".join(reversed(parts))
        lines = raw.split(b"\n")
        if lines and lines[-1].strip(_BLANK) == b"":
            lines.pop()
        if not complete and len(lines) > 1:
            lines = lines[1:]  # the first piece may start mid-line
        out: list[str] = []
        size = 0
        for b in reversed(lines[-MAX_TAIL_LINES * 4 :]):
            if b"\r" in b:
                pieces = [x for x in b.split(b"\r") if x.strip(_BLANK)]
                b = pieces[-1] if pieces else b""
            text = _decode(b[: _TAIL_LINE_CAP * 4])[0].rstrip("\x00 \t")[:_TAIL_LINE_CAP]
            if not out and not text.strip():
                continue  # blank lines (or NULs) at the very end
            n = len(text.encode("utf-8", "backslashreplace")) + 1
            if len(out) >= MAX_TAIL_LINES or size + n > MAX_TAIL_BYTES:
                break
            out.append(text)
            size += n
        out.reverse()
        return out

    def _unrecognise(self, lineno: int, text: str) -> None:
        if "rsync" in text or "@ERROR" in text:  # rsync's own (not ssh's "Killed by signal")
            self.last_error_line = max(self.last_error_line, lineno)
        if len(self.unrecognised) < MAX_UNRECOGNISED:
            self.unrecognised.append((lineno, text))

    def _classify(self, raw: bytes, lineno: int) -> None:
        text, fallback = _decode(raw)
        if fallback:
            self.fallback_decoding = True
        if "\r" in text:  # CRLF, or progress output overwriting the line: never part of a name
            text = text.replace("\r", "")
        text = text.strip(" \t\n\x00\x0b\x0c")
        if not text:
            return
        if text[4:5] == "/" and text[:1].isdigit():  # --log-file "YYYY/MM/DD hh:mm:ss [pid] "
            text = _LOGFILE_PREFIX_TEXT_RE.sub("", text, count=1)
            if not text:
                return

        kind = why_kind(text)
        if kind is not None:
            self._why(lineno, kind, text)

        if "rsync" in text and self._rsync_line(text, lineno):
            return

        if self._stats_line(text):
            return

        fe = self._file_error(text, lineno)
        if fe is not None:
            self.failure_count += 1
            if len(self.failures) < MAX_FAILURES:
                self.failures.append(fe)
            if fe.kind not in _INFO_ONLY_KINDS:
                self.real_failure_line = max(self.real_failure_line, lineno)
            self.last_error_line = max(self.last_error_line, lineno)
            return

        if _ERRORISH_RE.search(text):
            self._unrecognise(lineno, text)

    def _rsync_line(self, text: str, lineno: int) -> bool:
        """Version tags and a ``(code N)`` line; True when the line held a code."""
        for tag in _VERSION_TAG_RE.finditer(text):
            self.version = tag.group("ver")
        m = _CODE_RE.search(text)
        if not m:
            return False
        code = int(m.group("code"))
        if 0 < code <= 255:
            if self.code_count and self.last_code not in _OK_CODES:
                self.earlier_bad_code = self.last_code
            self.code_count += 1
            self.last_code, self.last_code_line = code, lineno
            if len(self.codes) < MAX_CODES_KEPT:
                self.codes.append(code)
            if m.group("ver"):
                self.version = m.group("ver")
        else:  # rsync never prints "(code 0)": not a completion line we trust
            self._unrecognise(lineno, text)
        return True

    def _stats_line(self, text: str) -> bool:
        st = self.stats
        m = _SENT_RE.search(text)
        if m:
            st.sent_bytes = parse_number(m.group("sent"))  # type: ignore[assignment]
            st.received_bytes = parse_number(m.group("recv"))  # type: ignore[assignment]
            st.bytes_per_sec = parse_number(m.group("rate"), decimal=True)
            return True
        m = _TOTAL_RE.search(text)
        if m:
            st.total_size = parse_number(m.group("total"))  # type: ignore[assignment]
            st.speedup = parse_number(m.group("speedup"), decimal=True)
            return True
        m = _LOGFILE_SENT_RE.search(text)
        if m:  # --log-file trailer: below the stdout summary, above --stats
            self._logfile["sent"] = parse_number(m.group("sent"))  # type: ignore[assignment]
            self._logfile["recv"] = parse_number(m.group("recv"))  # type: ignore[assignment]
            self._logfile["total"] = parse_number(m.group("total"))  # type: ignore[assignment]
            return True
        if text[:1] in ("N", "T"):
            for rx, name in _STATS_LINE_RES:
                m = rx.match(text)
                if m:
                    value = parse_number(m.group("n").rstrip(","))
                    if name == "files_total":
                        st.files_total = value  # type: ignore[assignment]
                    elif name == "files_transferred":
                        st.files_transferred = value  # type: ignore[assignment]
                    else:
                        self._fallback[name] = value  # type: ignore[assignment]
                    return True
        return False

    def _file_error(self, text: str, lineno: int) -> FileError | None:
        # rsync 3.2's "[sender] " after "rsync: " stays in the message (a reader sees which
        # side failed) but not in the text the rules read
        i = text.find("rsync: ")
        j = text.find("ERROR: ")
        if 0 <= j < i:
            m = _VERIFY_FAILED_RE.match(text, j)
            if m and m.group("p").strip():
                return FileError(_unquote(m.group("p").strip()), text[j:], lineno,
                                 "verification_failed")
        if i >= 0:
            body = text[i + 7 :]
            m = _ROLE_PREFIX_RE.match(body)
            if m:
                body = body[m.end() :]
            if '" (in ' in body:  # a daemon's "name" (in module): the name ends at its quote
                body = _IN_MODULE_RE.sub('"', body)
            msg_start: int | None = i
        else:
            body = text
            msg_start = None

        for rx, kind in _FILE_RULES:
            m = rx.search(body)
            if m:
                path = _unquote(m.group("p").strip())
                if not path:
                    continue
                start = msg_start if msg_start is not None else m.start()
                return FileError(path, text[start:], lineno, kind)

        m = _OPENRSYNC_RE.match(text)
        if m:
            return FileError(m.group("p"), text, lineno, _OPENRSYNC_KINDS[m.group("op")])

        if msg_start is not None and '"' in body and not _NOT_A_FILE_RE.match(body):
            m = _GENERIC_QUOTED_RE.search(body)
            if m and m.group("p"):
                return FileError(m.group("p"), text[msg_start:], lineno, "other")
        return None

    # -- the end -----------------------------------------------------------------------
    def apply_fallbacks(self) -> None:
        st, fb, lf = self.stats, self._fallback, self._logfile
        if st.sent_bytes is None:
            st.sent_bytes = lf.get("sent")
        if st.received_bytes is None:
            st.received_bytes = lf.get("recv")
        if st.total_size is None:
            st.total_size = lf.get("total")
        if st.sent_bytes is None:
            st.sent_bytes = fb.get("sent_fallback")
        if st.received_bytes is None:
            st.received_bytes = fb.get("received_fallback")
        if st.total_size is None:
            st.total_size = fb.get("total_size_fallback")


class _Transcoder:
    """Streaming UTF-16 -> UTF-8 (bad code units become visible ``\\xNN``)."""

    def __init__(self, encoding: str) -> None:
        self._dec = codecs.getincrementaldecoder(encoding)(errors="backslashreplace")

    def __call__(self, data: bytes, final: bool = False) -> bytes:
        return self._dec.decode(data, final).encode("utf-8", "backslashreplace")


def _sniff(head: bytes) -> tuple[str, int]:
    """Return (encoding, BOM length) from the first bytes of the log."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", 3
    if head.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le", 2
    if head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be", 2
    sample = head[:512]
    if len(sample) >= 16:
        even, odd = sample[0::2], sample[1::2]
        if odd.count(0) >= 0.9 * len(odd) and even.count(0) <= 0.1 * len(even):
            return "utf-16-le", 0
        if even.count(0) >= 0.9 * len(even) and odd.count(0) <= 0.1 * len(odd):
            return "utf-16-be", 0
    return "utf-8", 0


def _read_exactly(stream: BinaryIO, n: int) -> bytes:
    data = stream.read(n)
    if data is None:
        data = b""
    if 0 < len(data) < 4:  # short read from a pipe: make sure the BOM is complete
        more = stream.read(4 - len(data))
        if more:
            data += more
    return data


# the block / carry / skipping state of the line splitter stays in one loop, read in one place
def parse_stream(stream: BinaryIO, *, path: str = "<stream>") -> ParseResult:  # noqa: C901
    """Parse a binary stream holding an rsync log.  Never raises on its content.

    No age rule (that needs the file's mtime: see :func:`parse_file`).  Errors reading the
    stream itself (``OSError``) propagate; :func:`parse_file` turns them into ParseError.
    """
    sc = _Scanner()
    hasher = _Hasher()
    try:
        first = _read_exactly(stream, _BLOCK)
        hasher.update(first)
        encoding, bom = _sniff(first)
        transcode = _Transcoder(encoding) if encoding.startswith("utf-16") else None
        block: bytes = first[bom:]
        # old Mac text conversion: CR-only line ends (progress lines use lone CRs too, but
        # a real log always has LFs in its first MiB)
        cr_only = transcode is None and b"\n" not in block and b"\r" in block
        carry = b""
        skipping = False  # inside a line longer than _MAX_LINE
        while True:
            if transcode is not None:
                block = transcode(block)
            elif cr_only:
                block = block.replace(b"\r", b"\n")
            start = 0
            if block and skipping:  # the rest of an over-long line: not read, up to its end
                nl = block.find(b"\n")
                if nl < 0:
                    block = b""
                else:
                    sc.nl += 1
                    skipping = False
                    start = nl + 1
            if block:
                nl = block.find(b"\n", start)
                if carry:
                    if nl < 0:
                        carry += block[start:]
                        if len(carry) > _MAX_LINE:
                            sc.over_long(carry)
                            carry, skipping = b"", True
                        block = b""
                    else:
                        head = carry + block[start : nl + 1]
                        sc.region(head, 0, len(head))
                        start = nl + 1
                        carry = b""
                if block:
                    last = block.rfind(b"\n")
                    if last >= start:
                        sc.region(block, start, last + 1)
                        carry = block[last + 1 :]
                    else:
                        carry = block[start:]
                        if len(carry) > _MAX_LINE:
                            sc.over_long(carry)
                            carry, skipping = b"", True
            raw = stream.read(_BLOCK)
            if not raw:
                break
            hasher.update(raw)
            block = raw
        if transcode is not None:
            carry += transcode(b"", final=True)
        partial_last = bool(carry) or skipping
        if carry:
            sc.region(carry, 0, len(carry))
        sc.finish_tail()
        tail_lines = sc.tail_lines()
        sha = hasher.hexdigest()
    finally:
        hasher.close()

    sc.apply_fallbacks()
    code, reason = _final_code(sc)

    customer, server = _identity(path)
    encoding_used = encoding + ("+backslashreplace" if sc.fallback_decoding else "")
    sc.unrecognised.sort(key=lambda t: t[0])
    return ParseResult(
        path=path,
        customer=customer,
        server=server,
        code=code,
        reason=reason,
        failures=sc.failures,
        failure_count=sc.failure_count,
        stats=sc.stats,
        rsync_version=sc.version,
        codes_seen=sc.codes,
        unrecognised_errors=[t for _, t in sc.unrecognised],
        encoding=encoding_used,
        mtime=0.0,
        size=hasher.total,
        sha256=sha,
        lines=sc.nl + (1 if partial_last else 0),
        why_lines=sc.why_lines(),
        why_count=sc.why_count,
        tail_lines=tail_lines,
    )


_OK_CODES = (0, 24)


# rsync prints these as information and still exits 0 (delete.c: FINFO)
_INFO_ONLY_KINDS = frozenset({"delete_nonempty_dir"})


def _final_code(sc: _Scanner) -> tuple[int, str | None]:
    """The completion code of the log (DESIGN.md rules 4-5, for logs of one or more runs).

    * The last completion line gives the code (the remote side's line comes before the
      local one's, which is the exit status of the rsync that wrote the log).
    * Several runs in one log (a ``>>`` redirect, a script running rsync once per share):
      every run's file errors are kept, and an ok-ish last line (24) never hides an earlier
      failing completion line (one run never ends in 24 after a failing line of its own: a
      remote 23 or 12 makes the local exit 23 or 12 too): a wrong "ok" loses data, a wrong
      "failed" only costs a look.  A clean last run without a completion line does not
      hide it either (the last completion line still counts).
    * A run that started, or an error that came, after the last completion line without
      a summary after it: that run did not finish, so an ok-ish code becomes -2.
    * No completion line: 0 when the last line that says something is rsync's summary
      (``total size is ...`` or the --log-file trailer ``sent ... total size N``), except
      for a dry run or a log that reported errors (not a perfect completion); otherwise -2.
    """
    last, last_no = sc.effective_last()
    summary_last = len(last) <= _LAST_LINE_CAP and bool(_SUMMARY_LAST_RE.search(last))
    if sc.code_count:
        code, at = sc.last_code, sc.last_code_line
        if code in _OK_CODES:
            if sc.earlier_bad_code is not None:
                return sc.earlier_bad_code, None  # an earlier run failed
            activity = max(sc.last_error_line, sc.last_run_start if sc.last_run_start > at else 0)
            if activity > at and not (summary_last and last_no > activity):
                sc._unrecognise(activity, "a run after the last completion line did not finish")
                return CODE_INCOMPLETE, "incomplete"
        return code, None
    if summary_last:
        if _NOT_TRANSFERRED_RE.search(last):
            # "(DRY RUN)" / "(BATCH ONLY)": rsync exited 0 but backed nothing up.
            sc._unrecognise(sc.nl + 1, "dry run or batch-only run: nothing was transferred")
            return CODE_INCOMPLETE, "incomplete"
        if sc.real_failure_line:
            # The write-up: "check for perfect completions". rsync that met an error always
            # ends with a completion line; errors and a summary but no code line is not a
            # perfect completion (a lost stderr, a wrapper, openrsync), so never ok.
            sc._unrecognise(sc.real_failure_line,
                            "file errors but no completion line: not a perfect completion")
            return CODE_INCOMPLETE, "incomplete"
        return 0, None
    return CODE_INCOMPLETE, "incomplete"


def parse_bytes(data: bytes, *, path: str = "<bytes>") -> ParseResult:
    """Parse an in-memory log (tests, fuzzing).  No age rule; ``mtime`` is 0."""
    return parse_stream(io.BytesIO(bytes(data)), path=path)


def parse_file(
    path: str | os.PathLike[str],
    *,
    now: datetime | None = None,
    max_age_hours: float = 24,
    future_tolerance_hours: float = 2,
    dir_fd: int | None = None,
) -> ParseResult:
    """Parse one ``stats.out``; customer and server come from ``<customer>/<server>.out``.

    A file whose mtime is more than ``max_age_hours`` before ``now`` (default: the current
    UTC time) gets code -2 and reason ``"stale"``; its failures and stats are still
    collected.  ``max_age_hours=0`` disables the rule.  A file whose mtime is later than
    ``now + future_tolerance_hours`` gets code -2 and reason ``"future"``: a clock that runs
    ahead must not make an old log pass for tonight's (0: any mtime after ``now``).
    Raises :class:`ParseError` when the file is missing, a directory, not a regular file, or
    unreadable.

    Only a regular file is read (see :func:`open_regular`): a symlink (``x.out ->
    /etc/shadow``), a FIFO, a device or a folder is refused, also when it was swapped in
    after a type check.  With ``dir_fd`` (an open folder), the file is opened by its last
    name relative to that folder, so a folder swapped for a symlink cannot redirect the read.
    """
    spath = os.fspath(path)
    try:
        fd, st = open_regular(spath, dir_fd=dir_fd)
        with open(fd, "rb", buffering=0) as fh:
            result = parse_stream(fh, path=spath)
    except OSError as exc:
        raise ParseError(f"cannot read stats file: {spath}: {exc.strerror or exc}") from exc
    result.mtime = st.st_mtime
    when = now if now is not None else datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if st.st_mtime - when.timestamp() > max(future_tolerance_hours, 0) * 3600:
        result.code = CODE_INCOMPLETE
        result.reason = "future"
    elif max_age_hours and max_age_hours > 0:
        if when.timestamp() - st.st_mtime > max_age_hours * 3600:
            result.code = CODE_INCOMPLETE
            result.reason = "stale"
    return result


_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
               | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0))


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words (for "not a regular file (a FIFO)")."""
    for test, name in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a directory"),
                       (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def open_regular(path: str, *, dir_fd: int | None = None) -> tuple[int, os.stat_result]:
    """Open a regular file for reading without following a symlink or blocking on a FIFO.

    ``lstat`` first, so a symlink, FIFO or device is never opened at all (opening a tape or
    a terminal can have effects); then ``open`` with ``O_NOFOLLOW | O_NONBLOCK`` and
    ``fstat`` on what was opened, so a file swapped for something else between the two
    calls is refused too (a FIFO opened ``O_NONBLOCK`` returns at once, it does not wait
    for a writer).  Returns (fd, fstat); raises :class:`ParseError` naming the path and what
    it is, or ``OSError``.
    """
    name = os.path.basename(path) if dir_fd is not None else path
    before = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    if not stat.S_ISREG(before.st_mode):
        raise ParseError(not_regular_error(path, before.st_mode))
    try:
        fd = os.open(name, _OPEN_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a symlink swapped in after lstat
            raise ParseError(f"cannot read stats file: {path}: not a regular file "
                             "(a symbolic link)") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ParseError(not_regular_error(path, st.st_mode))
        if (st.st_dev, st.st_ino) != (before.st_dev, before.st_ino):
            raise ParseError(f"cannot read stats file: {path}: it was replaced while opening it")
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def not_regular_error(path: str, mode: int) -> str:
    """The refusal for a path that is not a regular file, naming it and what it is."""
    if stat.S_ISDIR(mode):
        return f"cannot read stats file: {path}: Is a directory"
    return f"cannot read stats file: {path}: not a regular file ({file_kind(mode)})"
