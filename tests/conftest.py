"""Shared fixtures: real databases (SQLite file in tmp_path, MariaDB when present).

ACORN_REQUIRE_INTEGRATION=1 (set by .ci/run) turns skips for missing services into failures.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from sshd import sshd  # noqa: E402, F401  (the real-sshd fixture, for every test module)

REQUIRE = os.environ.get("ACORN_REQUIRE_INTEGRATION") == "1"
MARIADB_HOST = os.environ.get("ACORN_TEST_MYSQL_HOST", "127.0.0.1")
MARIADB_PORT = int(os.environ.get("ACORN_TEST_MYSQL_PORT", "3306"))
MARIADB_USER = os.environ.get("ACORN_TEST_MYSQL_USER", "root")


def skip_or_fail(reason: str):
    """Skip for a missing service/binary, or fail when integration is required."""
    if REQUIRE:
        pytest.fail(f"ACORN_REQUIRE_INTEGRATION=1 but {reason}")
    pytest.skip(reason)


def need_binary(name: str) -> str:
    path = shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}")
                                  else None)
    if not path:
        skip_or_fail(f"{name} is not installed")
    return path


_AS_USER: dict[str, list[str]] = {}


def os_user(login: str) -> list[str]:
    """The argv prefix that runs a command as the real OS user ``login`` (created when absent).

    acorntui takes the login from the kernel, so acting as someone else needs a real account:
    tests do it as root with useradd and ``runuser -u LOGIN --`` (what an attacker with a shell
    runs); elsewhere they skip (or fail in CI). When this interpreter lives where others cannot
    reach it (a pyenv under /root, mode 0700), the command runs through setpriv as that user
    with one extra capability, CAP_DAC_READ_SEARCH: it may read and traverse anything, never
    write where the user could not; the login the kernel reports is the same."""
    if pwd.getpwuid(os.geteuid()).pw_name == login:
        return []
    if login in _AS_USER:
        return _AS_USER[login]
    if os.geteuid() != 0:
        skip_or_fail(f"acting as the OS user {login!r} needs root (useradd, runuser)")
    try:
        pwd.getpwnam(login)
    except KeyError:
        p = subprocess.run(["useradd", "--no-create-home", "--no-user-group", "--shell",
                            "/usr/sbin/nologin", login], capture_output=True, text=True)
        if p.returncode not in (0, 9):  # 9: created meanwhile by a parallel run
            skip_or_fail(f"useradd {login} failed: {p.stderr.strip()}")
    prefix = [need_binary("runuser"), "-u", login, "--"]
    probe = [sys.executable, "-c", "import acorntui.cli.main"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if subprocess.run([*prefix, *probe], env=env, capture_output=True).returncode != 0:
        prefix = [need_binary("setpriv"), "--reuid", login, "--regid",
                  str(pwd.getpwnam(login).pw_gid), "--init-groups",
                  "--inh-caps", "+dac_read_search", "--ambient-caps", "+dac_read_search", "--"]
        p = subprocess.run([*prefix, *probe], env=env, capture_output=True, text=True)
        if p.returncode != 0:
            skip_or_fail(f"cannot run acorntui as the OS user {login}: {p.stderr.strip()}")
    _AS_USER[login] = prefix
    return prefix


def act_as(monkeypatch, login: str) -> None:
    """In-process tests only: the services see ``login`` as the kernel login. (The product
    reads the login from the kernel; a subprocess acts as someone else through os_user.)"""
    from acorntui.services import roles

    monkeypatch.setattr(roles, "current_login", lambda: login)


@contextlib.contextmanager
def acting_as(login: str):
    """:func:`act_as` for code outside a test's monkeypatch (session-scoped fixtures)."""
    with pytest.MonkeyPatch.context() as mp:
        act_as(mp, login)
        yield


@pytest.fixture
def shared_sqlite_url():
    """A SQLite file that every local user may write (single-host mode, several OS logins)."""
    d = Path(tempfile.mkdtemp(prefix="acorn-shared-"))
    d.chmod(0o1777)
    db = d / "acorn.db"
    db.touch()
    db.chmod(0o666)  # SQLite gives its journal files the database file's mode
    yield f"sqlite:///{db}"
    shutil.rmtree(d, ignore_errors=True)


def _mariadb_available() -> str | None:
    try:
        import pymysql

        conn = pymysql.connect(host=MARIADB_HOST, port=MARIADB_PORT, user=MARIADB_USER,
                               connect_timeout=3)
        conn.close()
        return None
    except Exception as exc:  # noqa: BLE001
        return f"MariaDB not reachable on {MARIADB_HOST}:{MARIADB_PORT}: {exc}"


@pytest.fixture(scope="session")
def mariadb_server_url():
    """A fresh MariaDB database for the test session, dropped afterwards."""
    why = _mariadb_available()
    if why:
        skip_or_fail(why)
    import pymysql

    name = f"acorn_test_{uuid.uuid4().hex[:10]}"
    conn = pymysql.connect(host=MARIADB_HOST, port=MARIADB_PORT, user=MARIADB_USER)
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    conn.close()
    yield f"mysql://{MARIADB_USER}@{MARIADB_HOST}:{MARIADB_PORT}/{name}"
    conn = pymysql.connect(host=MARIADB_HOST, port=MARIADB_PORT, user=MARIADB_USER)
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    conn.close()


def _fresh_mysql(url: str) -> None:
    """Empty every table (fast reset between tests on the session database)."""
    from acorntui.db.models import ALL_MODELS, SchemaVersion, database_proxy

    db = database_proxy.obj
    db.execute_sql("SET FOREIGN_KEY_CHECKS=0")
    for m in ALL_MODELS + [SchemaVersion]:
        if db.table_exists(m._meta.table_name):
            db.execute_sql(f"DELETE FROM `{m._meta.table_name}`")
    db.execute_sql("SET FOREIGN_KEY_CHECKS=1")


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'acorn.db'}"


@pytest.fixture
def sqlite_db(sqlite_url):
    """An initialised SQLite database file, bound to the models' proxy."""
    from acorntui import db as dbpkg

    database = dbpkg.connect(sqlite_url)
    dbpkg.init_schema(database)
    yield database
    database.close()


@pytest.fixture
def mariadb_db(mariadb_server_url):
    from acorntui import db as dbpkg

    database = dbpkg.connect(mariadb_server_url)
    dbpkg.init_schema(database)
    _fresh_mysql(mariadb_server_url)
    dbpkg.init_schema(database)
    yield database
    database.close()


@pytest.fixture(params=["sqlite", "mariadb"])
def any_db(request):
    """The same test on SQLite and on MariaDB."""
    return request.getfixturevalue(f"{request.param}_db")


@pytest.fixture
def db_url(any_db):
    """URL of the database `any_db` opened (for CLI subprocess tests)."""
    from acorntui.db.connection import is_mysql

    if is_mysql(any_db):
        from acorntui.db.models import database_proxy

        o = database_proxy.obj
        return f"mysql://{o.connect_params['user']}@{o.connect_params['host']}:" \
               f"{o.connect_params['port']}/{o.database}"
    return f"sqlite:///{any_db.database}"


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    """Never touch the user's real config, data dir or database from a test."""
    monkeypatch.setenv("ACORN_CONFIG", str(tmp_path / "no-such-config.toml"))
    monkeypatch.delenv("ACORN_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
