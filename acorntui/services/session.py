"""The database session as the console sees it, so the screens never import ``acorntui.db``:
which exceptions mean "the database is not answering", one readable line for them, and closing
the connection a worker thread opened (peewee opens one per thread).
"""

from __future__ import annotations

from peewee import InterfaceError, OperationalError

from acorntui.db.connection import DatabaseUnavailable, error_text, mask_url
from acorntui.db.models import database_proxy


def _db_errors() -> tuple[type[BaseException], ...]:
    errs: list[type[BaseException]] = [OperationalError, InterfaceError, DatabaseUnavailable]
    try:
        import pymysql

        errs.append(pymysql.err.OperationalError)
    except ImportError:
        pass
    return tuple(errs)


# what an unreachable, stopped or locked database raises (a banner, not a crash)
DB_ERRORS: tuple[type[BaseException], ...] = _db_errors()


def close_thread_connection() -> None:
    """Close this thread's connection, if it opened one (each worker thread has its own)."""
    db = database_proxy.obj
    if db is not None and not db.is_closed():
        try:
            db.close()
        except Exception:  # noqa: BLE001 - a connection that is already gone
            pass


__all__ = ["DB_ERRORS", "DatabaseUnavailable", "close_thread_connection", "error_text",
           "mask_url"]
