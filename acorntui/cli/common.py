"""What every command module shares: printing to stdout/stderr, driver errors in one line, and
the ``--now`` / ``--night`` values several commands take.

Text that may hold untrusted names goes out through :func:`say` (stdout) or :func:`eprint`
(stderr), which make control and bidi characters visible (acorntui.core.textsafe), and JSON
through :func:`json_text`: customer and server names come from folder and file names, and a
name such as ``ESC]0;pwned BEL`` must not set the terminal title.
"""

from __future__ import annotations

import datetime as dt
import sys

from acorntui.core.textsafe import json_text, visible_controls
from acorntui.errors import UsageError

__all__ = ["UsageError", "db_error_text", "eprint", "json_text", "parse_date", "parse_now", "say"]


def say(*parts: object) -> None:
    """print() to stdout with control and bidi characters shown as escapes."""
    print(*(visible_controls(str(p)) for p in parts))


def eprint(*parts: object) -> None:
    """print() to stderr, escaped like :func:`say`."""
    print(*(visible_controls(str(p)) for p in parts), file=sys.stderr)


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
