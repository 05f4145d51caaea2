"""Backup nights: which night a moment belongs to. One rule for ingest, nightly and reparse.

The backup night of a moment is the date of (moment - cutoff hours), 12 h by default: a log
written at 02:00 belongs to the night before, one written at 13:00 to that day's night.
"""

from __future__ import annotations

import datetime as dt


def night_of(moment: dt.datetime, cutoff_hours: float = 12.0) -> dt.date:
    """The backup night a moment belongs to: the date of (moment - cutoff)."""
    return (moment - dt.timedelta(hours=cutoff_hours)).date()


def night_end(night: dt.date, cutoff_hours: float = 12.0) -> dt.datetime:
    """The end of a backup night: the first moment :func:`night_of` gives the next night."""
    return dt.datetime.combine(night + dt.timedelta(days=1), dt.time()) + dt.timedelta(
        hours=cutoff_hours)


def current_night(now: dt.datetime | None = None, cutoff_hours: float = 12.0) -> dt.date:
    return night_of(now or now_local(), cutoff_hours)


def now_local() -> dt.datetime:
    """Naive local time: nights are judged on the console host's clock."""
    return dt.datetime.now()


def local_from_epoch(ts: float) -> dt.datetime:
    """A file's mtime as naive local time, whole seconds."""
    return dt.datetime.fromtimestamp(ts).replace(microsecond=0)
