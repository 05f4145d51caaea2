"""Database URL -> peewee Database, bound to the models' proxy.

URLs: ``sqlite:///relative/or/abs.db`` (``sqlite:////abs/path.db`` also works) and
``mysql://user:pass@host:port/dbname`` (PyMySQL, utf8mb4). ``mariadb://`` is an alias.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from peewee import Database, MySQLDatabase, OperationalError, SqliteDatabase

from .models import database_proxy


class DatabaseUnavailable(Exception):
    """The database could not be reached or opened. The message masks passwords."""


class BadDatabaseURL(ValueError):
    pass


@dataclass(frozen=True)
class DBURL:
    backend: str  # "sqlite" or "mysql"
    path: str = ""  # sqlite
    user: str = ""
    password: str = ""
    host: str = "127.0.0.1"
    port: int = 3306
    name: str = ""
    raw: str = ""

    @property
    def masked(self) -> str:
        return mask_url(self.raw)


# The password runs to the LAST '@' of the netloc, as urlsplit reads it: an unencoded '@'
# inside a password was otherwise half shown (tests/test_secrets.py).
_PW_RE = re.compile(r"(?P<head>^[a-z+]+://[^:/@]*:)(?P<pw>[^/?#]*)(?P<tail>@[^@/?#]*)", re.I)


def mask_url(url: str) -> str:
    """Replace the password of a URL by ``***`` (for messages and ``config show``)."""
    return _PW_RE.sub(lambda m: m.group("head") + "***" + m.group("tail"), url or "")


def parse_url(url: str) -> DBURL:
    if not url or "://" not in url:
        raise BadDatabaseURL(
            f"database URL {mask_url(url)!r} is not of the form sqlite:///path.db or "
            "mysql://user:pass@host:port/dbname"
        )
    scheme = url.split("://", 1)[0].lower()
    if scheme == "sqlite":
        path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else ""
        if not path:
            raise BadDatabaseURL(f"database URL {url!r}: sqlite needs a file path (sqlite:///x.db)")
        if path == ":memory:":
            raise BadDatabaseURL(
                "sqlite :memory: is not supported: every thread would see its own empty database"
            )
        return DBURL("sqlite", path=os.path.expanduser(unquote(path)), raw=url)
    if scheme in ("mysql", "mariadb", "mysql+pymysql"):
        parts = urlsplit(url)
        name = parts.path.lstrip("/")
        if not name:
            raise BadDatabaseURL(f"database URL {mask_url(url)!r} names no database")
        try:
            port = parts.port or 3306
        except ValueError as exc:
            raise BadDatabaseURL(f"database URL {mask_url(url)!r}: bad port") from exc
        return DBURL(
            "mysql",
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            host=parts.hostname or "127.0.0.1",
            port=port,
            name=unquote(name),
            raw=url,
        )
    raise BadDatabaseURL(f"database URL {mask_url(url)!r}: unknown scheme {scheme!r}")


def make_database(url: str | DBURL) -> Database:
    u = parse_url(url) if isinstance(url, str) else url
    if u.backend == "sqlite":
        return SqliteDatabase(
            u.path,
            pragmas={
                "journal_mode": "wal",
                "foreign_keys": 1,
                "synchronous": "normal",
                "busy_timeout": 15000,
                "cache_size": -32000,
            },
            timeout=15,
            # BEGIN IMMEDIATE: a deferred transaction that reads and then writes while
            # another process commits gets SQLITE_BUSY at once in WAL mode (busy_timeout
            # does not apply to a stale snapshot); taking the write lock up front makes it
            # wait like any writer (tests/test_reliability_ingest.py, concurrent ingests)
            lock_type="IMMEDIATE",
        )
    params = parse_qs(urlsplit(u.raw).query)
    connect_timeout = int(params.get("connect_timeout", ["5"])[0])
    return MySQLDatabase(
        u.name,
        user=u.user,
        password=u.password,
        host=u.host,
        port=u.port,
        charset="utf8mb4",
        connect_timeout=connect_timeout,
        read_timeout=int(params.get("read_timeout", ["60"])[0]),
        write_timeout=int(params.get("write_timeout", ["60"])[0]),
    )


def ensure_mysql_database(u: DBURL) -> None:
    """CREATE DATABASE IF NOT EXISTS (utf8mb4) for init-db on a fresh server."""
    import pymysql

    try:
        conn = pymysql.connect(
            host=u.host, port=u.port, user=u.user, password=u.password,
            charset="utf8mb4", connect_timeout=5,
        )
    except pymysql.MySQLError as exc:
        raise DatabaseUnavailable(f"cannot connect to {u.masked}: {error_text(exc)}") from None
    try:
        with conn.cursor() as cur:
            name = u.name.replace("`", "``")
            cur.execute(
                f"CREATE DATABASE IF NOT EXISTS `{name}` "
                "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
    except pymysql.MySQLError as exc:
        raise DatabaseUnavailable(
            f"cannot create database on {u.masked}: {error_text(exc)}"
        ) from None
    finally:
        conn.close()


def error_text(exc: BaseException, *, name_class: bool = False) -> str:
    """A driver error as one readable line, URLs masked: ``(2003) Can't connect ...``
    rather than the args tuple, and pymysql's empty ``InterfaceError(0, '')`` (the socket is
    gone) said in words (prefixed by the error's class with ``name_class``)."""
    args = getattr(exc, "args", ())
    if len(args) >= 2 and isinstance(args[0], int):
        text = f"({args[0]}) {args[1]}" if str(args[1]).strip() else ""
    else:
        text = str(exc)
    if not text.strip():
        text = "the connection to the database server was lost"
        if name_class:
            text = f"{exc.__class__.__name__}: {text}"
    return " ".join(mask_url(w) for w in text.split())


def create_sqlite_file(path: str | os.PathLike, *, folder_mode: int = 0o750,
                       file_mode: int = 0o640) -> bool:
    """Create an empty SQLite file, and its folder, when missing (an empty file is a valid
    database). The folder is made ``folder_mode`` and the file ``file_mode`` (less what the
    umask takes away): results, notes and logins are not for every account on the machine;
    SQLite gives its -wal and -shm files the database file's mode.

    Returns True when it created the file. Raises DatabaseUnavailable when it cannot.
    """
    p = Path(path).expanduser()
    try:
        p.parent.mkdir(mode=folder_mode, parents=True, exist_ok=True)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, file_mode)
    except FileExistsError:
        return False
    except OSError as exc:
        raise DatabaseUnavailable(
            f"cannot create the database {p}: {exc.strerror or exc}"
            + (f" ({exc.filename})" if exc.filename and str(exc.filename) != str(p) else "")
        ) from None
    os.close(fd)
    return True


def connect(url: str, *, create_mysql_db: bool = False) -> Database:
    """Initialise the proxy from ``url`` and open a connection to check it works.

    Raises DatabaseUnavailable with one clear line (URL with password masked, what failed).
    """
    u = parse_url(url)
    if u.backend == "sqlite":
        parent = Path(u.path).expanduser().resolve().parent
        if not parent.is_dir():
            raise DatabaseUnavailable(
                f"cannot open {u.masked}: folder {parent} does not exist"
            )
    elif create_mysql_db:
        ensure_mysql_database(u)
    db = make_database(u)
    database_proxy.initialize(db)
    try:
        db.connect(reuse_if_open=True)
    except OperationalError as exc:
        inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
        raise DatabaseUnavailable(f"cannot connect to {u.masked}: {error_text(inner)}") from None
    except Exception as exc:  # pymysql.err.* and sqlite3 errors
        raise DatabaseUnavailable(f"cannot connect to {u.masked}: {error_text(exc)}") from None
    return db


def close() -> None:
    db = database_proxy.obj
    if db is not None and not db.is_closed():
        db.close()


def is_mysql(db: Database | None = None) -> bool:
    db = db or database_proxy.obj
    return isinstance(db, MySQLDatabase)
