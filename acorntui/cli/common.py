"""What every command module shares: printing to stderr and driver errors in one line."""

from __future__ import annotations

import sys

from acorntui.errors import UsageError

__all__ = ["UsageError", "db_error_text", "eprint"]


def eprint(*parts: object) -> None:
    print(*parts, file=sys.stderr)


def db_error_text(exc: BaseException) -> str:
    """``(2013) Lost connection ...`` from a driver error, on one line, URLs masked."""
    from acorntui.db.connection import error_text

    return error_text(exc, name_class=True)
