"""Database URL -> peewee Database, bound to the models' proxy.

URLs: ``sqlite:///relative/or/abs.db`` (``sqlite:////abs/path.db`` also works) and
``mysql://user:pass@host:port/dbname`` (PyMySQL, utf8mb4). ``mariadb://`` is an alias.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, unquote_to_bytes, urlsplit

from peewee import (
    Database,
    MySQLDatabase,
    OperationalError,
    ProgrammingError,
    SqliteDatabase,
)

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


_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://(.*)$", re.S)
_URL_IN_TEXT_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
_HOST_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*(?=[:/?#]|$)")
_KNOWN_SCHEMES = ("sqlite", "mysql", "mariadb", "mysql+pymysql")


def _split(url: str) -> tuple[str, str, str | None, str] | None:
    """``scheme://user:password@rest`` -> (scheme, user, password or None, rest), or None.

    The user part runs to the LAST ``@`` of the URL, so an unencoded ``/``, ``#``, ``?``, ``@``,
    ``:``, ``%`` or space inside a password stays inside it (urlsplit alone would end the
    netloc at the first ``/``, ``?`` or ``#`` and show the rest as the path). sqlite URLs carry
    no credentials: their ``@`` belongs to the path.
    """
    m = _SCHEME_RE.match(url or "")
    if not m:
        return None
    scheme, rest = m.group(1), m.group(2)
    if scheme.lower() == "sqlite" or "@" not in rest:
        return scheme, "", None, rest
    userinfo, _, hostpart = rest.rpartition("@")
    user, colon, password = userinfo.partition(":")
    return scheme, user, (password if colon else None), hostpart


def _host_of(scheme: str, hostpart: str) -> tuple[str, int | None] | None:
    """(host, port) of ``hostpart`` read by urlsplit, or None when it does not parse."""
    if any(c.isspace() or not c.isprintable() for c in hostpart):
        return None
    try:
        parts = urlsplit(f"{scheme}://{hostpart}")
        return parts.hostname or "", parts.port
    except ValueError:
        return None


def mask_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (for messages and ``config show``).

    Any character may be in the password, percent-encoded or not. A URL that does not parse is
    never echoed: only its scheme (and its host when that much is readable) is named.
    """
    if not url:
        return ""
    parts = _split(url)
    if parts is None:
        # no "://": whatever precedes a ':' may be a password; name only a scheme we know
        scheme = url.split(":", 1)[0].lower()
        known = scheme if scheme in _KNOWN_SCHEMES else ""
        return f"<malformed {known + ' ' if known else ''}URL, not shown>"
    scheme, user, password, hostpart = parts
    if scheme.lower() == "sqlite":
        return url
    hp = _host_of(scheme, hostpart)
    if hp is None:
        m = _HOST_RE.match(hostpart) if password is not None else None
        where = f" for host {m.group(0)}" if m else ""
        return f"<malformed {scheme} URL{where}, not shown>"
    host, _port = hp
    if any(c.isspace() or not c.isprintable() or c in "/?#" for c in user):
        return f"<malformed {scheme} URL for host {host or '?'}, not shown>"
    if password is None:
        return url
    return f"{scheme}://{user}:***@{hostpart}"


def _unquote_lenient(text: str) -> str:
    """Percent-decode a password, or keep it literal when the decoding is not valid UTF-8
    (an unencoded ``%`` followed by two hex digits; ``%25`` is the certain spelling)."""
    try:
        return unquote_to_bytes(text).decode("utf-8")
    except UnicodeDecodeError:
        return text


def mask_urls_in(text: str) -> str:
    """Every ``scheme://...`` word of a free text masked with :func:`mask_url`."""
    return _URL_IN_TEXT_RE.sub(lambda m: mask_url(m.group(0)), text or "")


def parse_url(url: str) -> DBURL:
    parts = _split(url)
    if parts is None:
        raise BadDatabaseURL(
            f"database URL {mask_url(url)} is not of the form sqlite:///path.db or "
            "mysql://user:pass@host:port/dbname"
        )
    scheme = parts[0].lower()
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
        _scheme, user, password, hostpart = parts
        shown = mask_url(url)
        if _host_of(scheme, hostpart) is None or shown.startswith("<"):
            raise BadDatabaseURL(f"database URL {shown}: cannot be read (host, port or user); "
                                 "percent-encode unusual characters")
        hp = urlsplit(f"{scheme}://{hostpart}")
        name = hp.path.lstrip("/")
        if not name:
            raise BadDatabaseURL(f"database URL {shown} names no database")
        return DBURL(
            "mysql",
            user=unquote(user),
            password=_unquote_lenient(password or ""),
            host=hp.hostname or "127.0.0.1",
            port=hp.port or 3306,
            name=unquote(name),
            raw=url,
        )
    raise BadDatabaseURL(f"database URL {mask_url(url)}: unknown scheme {scheme!r}")


# Set by the role layer (acorntui.services.roles): turns a MariaDB privilege refusal into its
# own "needs a TSR" error, so the CLI and the console show a refused write as a refusal, not as
# a database failure. The db layer knows no roles; it only calls the hook.
_refusal_translator: Callable[[BaseException], BaseException | None] | None = None


def set_refusal_translator(fn: Callable[[BaseException], BaseException | None] | None) -> None:
    global _refusal_translator
    _refusal_translator = fn


class _MySQLDatabase(MySQLDatabase):  # type: ignore[misc]  # peewee is Any to mypy: pyproject.toml
    def execute_sql(self, sql: str, params: Any = None) -> Any:
        try:
            return super().execute_sql(sql, params)
        except (OperationalError, ProgrammingError) as exc:
            if driver_errno(exc) in (1142, 1143, 1227) and _refusal_translator is not None:
                translated = _refusal_translator(exc)
                if translated is not None:
                    raise translated from None
            raise


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
    parts = _split(u.raw)
    params = parse_qs(urlsplit(f"mysql://{parts[3]}").query if parts else "")
    connect_timeout = int(params.get("connect_timeout", ["5"])[0])
    return _MySQLDatabase(
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
    except Exception as exc:  # pymysql errors, and a password the driver cannot encode
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


def driver_errno(exc: BaseException) -> int | None:
    """The server's error number (1142, 1396...) of a driver error, wrapped by peewee or not."""
    seen = [exc, getattr(exc, "__cause__", None), getattr(exc, "__context__", None)]
    seen += [a for a in getattr(exc, "args", ()) if isinstance(a, BaseException)]
    for e in seen:
        args = getattr(e, "args", ())
        if e is not None and args and isinstance(args[0], int):
            return args[0]
    return None


def error_text(exc: BaseException, *, name_class: bool = False) -> str:
    """A driver error as one readable line, URLs masked: ``(2003) Can't connect ...``
    rather than the args tuple, and pymysql's empty ``InterfaceError(0, '')`` (the socket is
    gone) said in words (prefixed by the error's class with ``name_class``)."""
    args = exc.args
    if len(args) >= 2 and isinstance(args[0], int):
        text = f"({args[0]}) {args[1]}" if str(args[1]).strip() else ""
    else:
        text = str(exc)
    if not text.strip():
        text = "the connection to the database server was lost"
        if name_class:
            text = f"{exc.__class__.__name__}: {text}"
    return " ".join(mask_urls_in(text).split())


# Single-host mode: whoever can write the SQLite file can change any result, role or audit row,
# so a new file is readable by the owner's group (0640) in a folder others cannot enter (0750).
SQLITE_FILE_MODE = 0o640
SQLITE_DIR_MODE = 0o750
_warned: set[str] = set()


def make_private_dir(path: str | os.PathLike[str], mode: int = SQLITE_DIR_MODE) -> Path:
    """Create ``path`` and its missing parents ``mode`` (0750) whatever the umask: the data
    folder holds results, logs from customer servers and mail copies, not for every account on
    the machine. Whoever creates it first (the database, fetch's spool, the mail outbox, the
    demo) gets the same mode; a folder that exists keeps its own."""
    target = Path(path).expanduser().absolute()
    missing = []
    folder = target
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=mode)
        except FileExistsError:  # a concurrent run made it: its mode stands
            continue
        os.chmod(d, mode)  # mkdir's mode is cut by the umask
    return target


def create_sqlite_file(path: str | os.PathLike[str], *, folder_mode: int = SQLITE_DIR_MODE,
                       file_mode: int = SQLITE_FILE_MODE) -> bool:
    """Create an empty SQLite file (an empty file is a valid database) and its missing folders,
    the folders ``folder_mode`` (0750) and the file ``file_mode`` (0640) whatever the umask:
    results, notes and logins are not for every account on the machine, and whoever can write
    the file can change anything. SQLite gives its -wal and -shm files the file's mode. An
    existing file or folder keeps its mode. The one place that decides these modes: `init-db`
    and the default database's first use call it.

    Returns True when it created the file. Raises DatabaseUnavailable when it cannot.
    """
    target = Path(path).expanduser()
    try:
        make_private_dir(target.parent, folder_mode)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, file_mode)
    except FileExistsError:
        return False
    except OSError as exc:
        raise DatabaseUnavailable(
            f"cannot create the database {target}: {exc.strerror or exc}"
            + (f" ({exc.filename})" if exc.filename and str(exc.filename) != str(target)
               else "")
        ) from None
    try:
        os.fchmod(fd, file_mode)
    finally:
        os.close(fd)
    return True


def writable_by_others(path: str | os.PathLike[str]) -> str | None:
    """Why other users can write the SQLite file (``o+w``, or ``g+w`` for a group that is not the
    owner's own), or None."""
    import pwd
    import stat

    try:
        st = os.stat(path)
    except OSError:
        return None
    if st.st_mode & stat.S_IWOTH:
        return f"mode {stat.S_IMODE(st.st_mode):04o}: every user can write it"
    if st.st_mode & stat.S_IWGRP:
        try:
            own_gid = pwd.getpwuid(st.st_uid).pw_gid
        except KeyError:
            own_gid = None
        if st.st_gid != own_gid:
            import grp

            try:
                group = grp.getgrgid(st.st_gid).gr_name
            except KeyError:
                group = str(st.st_gid)
            return (f"mode {stat.S_IMODE(st.st_mode):04o}: group {group} (not its owner's "
                    "group) can write it")
    return None


def _warn_if_writable(path: str) -> None:
    why = writable_by_others(path)
    if why and path not in _warned:
        _warned.add(path)
        print(f"acorntui: warning: database file {path} can be changed by other users ({why}); "
              f"whoever can write it can change any result, role or audit row. "
              f"Run: chmod 640 {path}", file=sys.stderr)


def connect(url: str, *, create_mysql_db: bool = False) -> Database:
    """Initialise the proxy from ``url`` and open a connection to check it works.

    A SQLite file other users can write draws a warning on stderr (once per file).
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
    if u.backend == "sqlite":
        _warn_if_writable(u.path)
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
