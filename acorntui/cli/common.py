"""What every command module shares: printing to stderr, driver errors in one line, and the
``--now`` / ``--night`` values several commands take."""

from __future__ import annotations

import datetime as dt
import sys

from acorntui.errors import UsageError

__all__ = ["UsageError", "db_error_text", "eprint", "parse_date", "parse_now"]


def eprint(*parts: object) -> None:
    print(*parts, file=sys.stderr)


def db_error_text(exc: BaseException) -> str:
    """``(2013) Lost connection ...`` from a driver error, on one line, URLs masked."""
    from acorntui.db.connection import error_text

    return error_text(exc, name_class=True)


def parse_now(text: str | None) -> dt.datetime | None:
    """``--now ISO`` (parse, ingest, nightly)."""
    if not text:
        return None
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--now: {text!r} is not an ISO date/time (2026-11-26T07:00)") from None
    return t


def parse_date(text: str | None, opt: str = "--night") -> dt.date | None:
    """``--night DATE`` (ingest, reparse)."""
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{opt}: {text!r} is not a date (YYYY-MM-DD)") from None
