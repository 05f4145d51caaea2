"""Status of a result, and matching file errors against exceptions. Pure: no DB, no Textual.

Rules (DESIGN.md "Status of a result"):
- code 0 or 24: ok;
- code 23: ok_with_exceptions only when every file error matches an active exception,
  otherwise failed; a 23 with no file error recognised is failed ("unrecognised errors");
- code -2: incomplete (reason missing, stale, future or incomplete);
- any other code: failed.

No exception can turn a night green wholesale: a path pattern needs a literal run of at least
:data:`MIN_LITERAL_RUN` characters (:func:`pattern_problem`; a stored rule that breaks it never
matches), and an error that means the whole destination is broken (disk full, quota, read-only,
I/O error, out of memory: :func:`destination_broken`) is never covered.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from dataclasses import dataclass
from functools import lru_cache

# Status values, everywhere (database, JSON, reports).
OK = "ok"
OK_WITH_EXCEPTIONS = "ok_with_exceptions"
FAILED = "failed"
INCOMPLETE = "incomplete"
FETCH_FAILED = "fetch_failed"
STATUSES = (OK, OK_WITH_EXCEPTIONS, FAILED, INCOMPLETE, FETCH_FAILED)
GOOD_STATUSES = (OK, OK_WITH_EXCEPTIONS)

# Reasons that go with INCOMPLETE (and FETCH_FAILED carries "fetch failed: ..." text).
REASON_MISSING = "missing"
REASON_STALE = "stale"
REASON_INCOMPLETE = "incomplete"
REASON_FUTURE = "future"  # the log is dated later than now + tolerance: a clock runs ahead

# reasons in words, where the code word would not tell a reader what happened
REASON_WORDS = {REASON_FUTURE: "clock ahead"}

SCOPE_SERVER = "server"
SCOPE_CUSTOMER = "customer"
SCOPE_GLOBAL = "global"
SCOPES = (SCOPE_SERVER, SCOPE_CUSTOMER, SCOPE_GLOBAL)

# A path pattern must hold this many characters in a row that are neither wildcards nor path
# separators: `?*`, `*?`, `***`, `*/**` or `[!x]*` would otherwise except every file.
MIN_LITERAL_RUN = 3
_NOT_LITERAL = "*?[]/\\"
_BRACKET = re.compile(r"\[!?\]?[^\]]*\]")  # a [...] class matches one character, not its letters


def literal_run(pattern: str) -> int:
    """The longest run of characters of ``pattern`` that are neither wildcards (``* ? [ ]``,
    a ``[...]`` class counting as a wildcard) nor separators (``/ \\``)."""
    text = _BRACKET.sub("?", pattern)
    best = run = 0
    for ch in text:
        run = 0 if ch in _NOT_LITERAL else run + 1
        best = max(best, run)
    return best


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` may not be an exception's path pattern, or None."""
    if literal_run(pattern) < MIN_LITERAL_RUN:
        return (f"must hold at least {MIN_LITERAL_RUN} characters in a row that are not "
                "wildcards (* ? [ ]) or separators (/ \\), so that it names the file or "
                "folder it covers instead of matching every file")
    return None


# Errors that mean the whole destination (or the machine) is broken, not one file: disk full
# (ENOSPC 28), quota (EDQUOT 122), read-only file system (EROFS 30), I/O error (EIO 5), out of
# memory (ENOMEM 12, rsync's own "ERROR: out of memory in ..."). An exception names a file that
# is backed up another way; it can never vouch for these.
_DESTINATION_BROKEN = re.compile(
    r"No space left on device|Disk quota exceeded|Read-only file system|Input/output error"
    r"|Cannot allocate memory|out of memory|\((?:28|122|30|5|12)\)\s*$",
    re.IGNORECASE,
)


def destination_broken(message: str) -> bool:
    """Whether an error line says the destination as a whole is broken (never excepted)."""
    return bool(_DESTINATION_BROKEN.search(message or ""))


@lru_cache(maxsize=4096)
def _pattern_allowed(pattern: str) -> bool:
    return pattern_problem(pattern) is None


SCOPE_RANK = {SCOPE_SERVER: 0, SCOPE_CUSTOMER: 1, SCOPE_GLOBAL: 2}


@dataclass(frozen=True)
class ExceptionRule:
    id: int
    scope: str
    server_id: int | None
    customer_id: int | None
    path_pattern: str
    message_pattern: str = ""
    expires_at: dt.date | None = None
    active: bool = True

    def in_force(self, on: dt.date) -> bool:
        return self.active and (self.expires_at is None or self.expires_at >= on)

    def applies_to(self, customer_id: int | None, server_id: int | None) -> bool:
        if self.scope == SCOPE_SERVER:
            return self.server_id is not None and self.server_id == server_id
        if self.scope == SCOPE_CUSTOMER:
            return self.customer_id is not None and self.customer_id == customer_id
        return self.scope == SCOPE_GLOBAL

    @property
    def specificity(self) -> tuple[int, int]:
        """Lower sorts first: narrower scope, then more literal characters in the pattern."""
        literal = len(re.sub(r"[*?\[\]]", "", self.path_pattern))
        return (SCOPE_RANK.get(self.scope, 9), -literal)


def normalise_path(path: str) -> str:
    """Compare Windows-style: case-insensitive, backslashes as slashes."""
    return path.replace("\\", "/").casefold()


@lru_cache(maxsize=4096)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(normalise_path(pattern)), re.DOTALL)


def pattern_matches(pattern: str, text: str) -> bool:
    """Case-insensitive glob match. `*` also crosses `/` (fnmatch semantics).

    A pattern without a leading `*` or `/` is matched at any depth below a slash too, so
    `Mail/outlook.pst` covers `/cygdrive/E/shares/Mail/outlook.pst`.
    """
    if not pattern:
        return False
    t = normalise_path(text)
    if _compile(pattern).fullmatch(t):
        return True
    p = normalise_path(pattern)
    if not p.startswith(("*", "/")):
        return _compile("*/" + p).fullmatch(t) is not None
    return False


def match_exception(
    rules: list[ExceptionRule],
    customer_id: int | None,
    server_id: int | None,
    path: str,
    message: str = "",
    on: dt.date | None = None,
) -> ExceptionRule | None:
    """The most specific in-force rule that covers this file error, or None."""
    if not path:  # an error line that names no file: nothing can vouch for it
        return None
    if destination_broken(message):  # disk full, read-only, I/O error...: never excepted
        return None
    best: ExceptionRule | None = None
    for r in rules:
        if on is not None and not r.in_force(on):
            continue
        if not r.active or not r.applies_to(customer_id, server_id):
            continue
        if not _pattern_allowed(r.path_pattern):  # a catch-all stored by an older version
            continue
        if not pattern_matches(r.path_pattern, path):
            continue
        if r.message_pattern and not _compile(r.message_pattern).fullmatch(
            normalise_path(message)
        ) and r.message_pattern.casefold() not in message.casefold():
            continue
        if best is None or r.specificity < best.specificity:
            best = r
    return best


# Lines rsync prints after file errors that are consequences, not errors of their own.
_BENIGN_NOTE = re.compile(
    r"IO error encountered -- skipping file deletion|^\*\*\* Skipping any contents"
)


def blocking_notes(code: int, unrecognised: list[str]) -> list[str]:
    """Error lines of a code-23 log that name no file we recognised. No exception can
    cover them (an exception names a file), so they keep the result from being ok: a 23
    may have been caused by exactly that line."""
    if code != 23:
        return []
    return [t for t in unrecognised if not _BENIGN_NOTE.search(t)]


def compute_status(code: int, reason: str, error_count: int, excepted_count: int,
                   unrecognised: int = 0) -> tuple[str, str]:
    """(status, reason) from the completion code and the file errors' exception state.

    ``error_count`` includes the ``unrecognised`` error lines (stored as failures without a
    path), which no exception can cover.
    """
    if code == -2:
        return INCOMPLETE, reason or REASON_INCOMPLETE
    if code in (0, 24):
        return OK, ""
    if code == 23:
        files = error_count - unrecognised
        if files <= 0:
            return FAILED, "unrecognised errors"
        if excepted_count >= files and not unrecognised:
            return OK_WITH_EXCEPTIONS, ""
        n = files - excepted_count
        parts = []
        if n > 0:
            parts.append(f"{n} file error{'s' if n != 1 else ''} not excepted")
        if unrecognised:
            plural = "s" if unrecognised != 1 else ""
            parts.append(f"{unrecognised} unrecognised error line{plural}")
        return FAILED, ", ".join(parts)
    return FAILED, reason or ""
