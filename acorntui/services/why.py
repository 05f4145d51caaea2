"""Why a night went the way it did, in words: what the console's history shows as "Why" and
the log viewer shows as the stored tail. No Textual.

Ingest stores with each result rsync's error and warning lines (``results.why_lines``), the
last lines of the log (``log_tail``), its mtime and size, and for a failed fetch the whole
error of our pull (``fetch_error``). :func:`night_why` reads them for one result and
:func:`why_words` turns them into a headline and the lines that back it up:

* fetch_failed: the fetch error;
* missing: "no log arrived";
* stale: "log is 31 h old" (the log's mtime against the end of the backup night);
* future: "clock ahead" (the log is dated after the night);
* cut off (-2, incomplete): "log stops mid-transfer", with its last lines;
* a failing code other than 23 (12, 30, ...): rsync's error lines.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from acorntui.core.nights import night_end
from acorntui.core.status import (
    FAILED,
    FETCH_FAILED,
    GOOD_STATUSES,
    INCOMPLETE,
    REASON_FUTURE,
    REASON_INCOMPLETE,
    REASON_MISSING,
    REASON_STALE,
)
from acorntui.db.models import ErrorCode, Failure, Result

__all__ = ["FailurePage", "NightWhy", "WhyLine", "WhyWords", "failure_page", "log_target",
           "night_why", "why_words"]

TAIL_SHOWN = 8  # last lines shown under "log stops mid-transfer"
ERRORS_SHOWN = 6  # rsync error lines shown for a fatal code


@dataclass
class WhyLine:
    line: int
    kind: str  # error | warning
    text: str


@dataclass
class NightWhy:
    """What is stored about why one result is what it is."""

    result_id: int
    night: dt.date
    status: str
    code: int | None
    reason: str
    jargon: str = ""
    fetch_error: str = ""
    log_path: str = ""
    log_mtime: dt.datetime | None = None
    log_size: int | None = None
    why_count: int = 0
    why_lines: list[WhyLine] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)


def _why_lines(text: str | None) -> tuple[int, list[WhyLine]]:
    if not text:
        return 0, []
    try:
        data = json.loads(text)
        lines = [WhyLine(int(n), str(k), str(t)) for n, k, t in data.get("lines", [])]
        return int(data.get("count", len(lines))), lines
    except (ValueError, TypeError, AttributeError):
        return 0, []


def night_why(result_id: int) -> NightWhy:
    """The stored why of one result (raises if the result is gone)."""
    r = (Result.select(Result.id, Result.night, Result.status, Result.code, Result.reason,
                       Result.fetch_error, Result.log_path, Result.log_mtime, Result.log_size,
                       Result.why_lines, Result.log_tail)
         .where(Result.id == result_id).get())
    jargon = ""
    if r.code is not None:
        jargon = ErrorCode.select(ErrorCode.jargon).where(ErrorCode.code == r.code).scalar() or ""
    count, lines = _why_lines(r.why_lines)
    night = r.night if isinstance(r.night, dt.date) else dt.date.fromisoformat(str(r.night))
    return NightWhy(r.id, night, r.status, r.code, r.reason or "", jargon,
                    r.fetch_error or "", r.log_path or "", r.log_mtime, r.log_size, count,
                    lines, (r.log_tail or "").split("\n") if r.log_tail else [])


def log_target(result_id: int) -> tuple[NightWhy, bool]:
    """A result's stored why, and whether it is its server's latest night (then the log
    viewer reads the whole spool file at ``log_path``; else the stored tail)."""
    from peewee import fn

    w = night_why(result_id)
    sid = Result.select(Result.server).where(Result.id == result_id).scalar()
    newest = Result.select(fn.MAX(Result.night)).where(Result.server == sid).scalar()
    if newest is not None and not isinstance(newest, dt.date):
        newest = dt.date.fromisoformat(str(newest)[:10])
    return w, newest == w.night


@dataclass
class WhyWords:
    headline: str  # "" when the night needs no why (ok)
    lines: list[WhyLine] = field(default_factory=list)  # rsync's lines that back it up
    tail: list[str] = field(default_factory=list)  # the log's last lines, when they tell it
    more: int = 0  # error lines not shown


def _hours(delta: dt.timedelta) -> str:
    h = delta.total_seconds() / 3600
    if h >= 72:
        return f"{h / 24:.0f} days"
    return f"{h:.0f} h"


def why_words(w: NightWhy, cutoff_hours: float = 12.0) -> WhyWords:  # noqa: C901
    """The headline of why, in words, and the lines that back it up."""
    if w.status == FETCH_FAILED:
        error = w.fetch_error or w.reason.removeprefix("fetch failed: ")
        return WhyWords(f"could not fetch the log from the report server: {error}")
    if w.status == INCOMPLETE or (w.code == -2 and w.status not in GOOD_STATUSES):
        reason = w.reason or REASON_INCOMPLETE
        if reason == REASON_MISSING:
            return WhyWords("no log arrived for this night")
        if reason == REASON_STALE:
            if w.log_mtime is None:
                return WhyWords("the newest log is too old (stale)")
            age = night_end(w.night, cutoff_hours) - w.log_mtime
            return WhyWords(f"log is {_hours(age)} old: written {w.log_mtime:%Y-%m-%d %H:%M}, "
                            "no new log for this night (stale)")
        if reason == REASON_FUTURE:
            if w.log_mtime is None:
                return WhyWords("clock ahead: the log is dated in the future")
            ahead = w.log_mtime - night_end(w.night, cutoff_hours)
            when = f"{w.log_mtime:%Y-%m-%d %H:%M}"
            return WhyWords(f"clock ahead: the log is dated {when}"
                            + (f", {_hours(ahead)} after the night ended"
                               if ahead.total_seconds() > 0 else ", later than it was read"))
        errors = [x for x in w.why_lines if x.kind == "error"]
        return WhyWords("log stops mid-transfer: rsync wrote no completion code",
                        lines=errors[-ERRORS_SHOWN:], tail=w.tail[-TAIL_SHOWN:])
    if w.status == FAILED and w.code not in (23, None):
        shown = w.why_lines[-ERRORS_SHOWN:]
        head = f"rsync stopped with code {w.code}" + (f": {w.jargon}" if w.jargon else "")
        if not shown:
            return WhyWords(head + " (no rsync error lines stored; r re-parses the log)",
                            tail=w.tail[-TAIL_SHOWN:])
        return WhyWords(head, lines=shown, more=max(0, w.why_count - len(shown)))
    if w.status == FAILED:  # 23: the file errors are listed below
        return WhyWords("some files could not be backed up (listed below)")
    return WhyWords("")


# -- the file errors of a night, a page at a time ----------------------------------------------

@dataclass
class FailurePage:
    """Stored file errors ``offset..offset+len(rows)`` of a result, and how many are stored
    (at most the parser's 1,000; results.error_count holds the true count)."""

    rows: list
    offset: int
    stored: int


def failure_page(result_id: int, offset: int = 0, limit: int = 200) -> FailurePage:
    """One page of a result's file errors, each with the exception that covered it."""
    from acorntui.services.queries import failure_views

    stored = Failure.select().where(Failure.result == result_id).count()
    return FailurePage(failure_views(result_id, offset=offset, limit=limit), offset, stored)
