"""A new user's first commands, run as a real subprocess with an empty HOME: the default
database is created (folder 0750, file 0640) by the first command that needs it, `codes` needs
none, `whoami` names the real fix for every state it can be in, and a role refusal exits 3 from
every command."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
from conftest import MARIADB_HOST, MARIADB_PORT, MARIADB_USER, _mariadb_available, skip_or_fail
from test_manage import run as run_as

ME = pwd.getpwuid(os.geteuid()).pw_name


def acorn(home: Path, *argv: str, **env: str) -> subprocess.CompletedProcess:
    """`acorntui *argv` as a new user would run it: HOME and PATH only, umask 022."""
    clean = {"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **env}
    return subprocess.run([sys.executable, "-m", "acorntui", *argv], env=clean, cwd=home,
                          capture_output=True, text=True, timeout=120,
                          preexec_fn=lambda: os.umask(0o022))


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _fix_command(text: str) -> list[str]:
    """The `acorntui ...` commands a message tells the user to run."""
    return re.findall(r"`(acorntui [^`]+)`", text)


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    h.mkdir()
    return h


def test_codes_needs_no_database(home):
    p = acorn(home, "codes", "23")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("Code 23: Partial transfer due to error")
    assert "Resolution:" in p.stdout and p.stderr == ""
    p = acorn(home, "codes")
    assert p.returncode == 0 and "\n   24  Partial transfer due to vanished" in p.stdout
    assert not (home / ".local").exists(), "codes created something"


def test_first_command_creates_the_default_database(home):
    data = home / ".local" / "share" / "acorntui"
    db = data / "acorntui.db"
    p = acorn(home, "customer", "list")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["NAME  DISPLAY NAME  CSR  SERVERS  ACTIVE  EMAIL", "(none)"]
    assert p.stderr.splitlines() == [
        f"acorntui: created the database {db}; {ME} is its first user, a TSR3"]
    assert _mode(data) == 0o750 and _mode(db) == 0o640
    for extra in data.iterdir():  # SQLite's -wal/-shm, when left, get the file's mode
        assert _mode(extra) == 0o640, extra
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM errors").fetchone()[0] >= 23
    # the second run says nothing more, and the user who created it manages
    p = acorn(home, "customer", "add", "acme")
    assert p.returncode == 0 and p.stderr == "" and p.stdout == "added customer acme\n"
    p = acorn(home, "whoami")
    assert p.stdout.startswith(f"{ME}: TSR3;")
    p = acorn(home, "init-db")
    assert p.returncode == 0 and p.stdout.startswith(
        f"schema already up to date in sqlite:///{db} ")


def test_init_db_on_a_fresh_account(home):
    db = home / ".local" / "share" / "acorntui" / "acorntui.db"
    p = acorn(home, "init-db")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(f"created 11 tables in sqlite:///{db}: ")
    assert f"{ME} is the first user and was made a TSR3 (full rights)" in p.stdout
    assert _mode(db.parent) == 0o750 and _mode(db) == 0o640


def test_init_db_with_db_after_the_command(home):
    p = acorn(home, "init-db", "--db", "sqlite:///x.db")  # relative to the working directory
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("created 11 tables in sqlite:///x.db: ")
    assert (home / "x.db").is_file() and not (home / ".local").exists()


def test_whoami_before_any_database_names_init_db_and_creates_nothing(home):
    p = acorn(home, "whoami")
    assert p.returncode == 0, p.stderr
    db = home / ".local" / "share" / "acorntui" / "acorntui.db"
    assert p.stdout.startswith(f"{ME}: no database yet ({db} does not exist).\n")
    assert _fix_command(p.stdout) == ["acorntui init-db"]
    assert not db.exists()
    assert acorn(home, "init-db").returncode == 0  # the fix, as printed
    assert acorn(home, "whoami").stdout.startswith(f"{ME}: TSR3;")


def test_whoami_on_a_missing_or_empty_sqlite_file(home, tmp_path):
    missing = tmp_path / "new.db"
    p = acorn(home, "whoami", "--db", f"sqlite:///{missing}")
    assert p.returncode == 0 and f"no database at {missing} (URL from --db)" in p.stdout
    fix = _fix_command(p.stdout)[0]
    assert fix == f"acorntui init-db --db sqlite:///{missing}"
    assert not missing.exists()
    assert acorn(home, *fix.split()[1:]).returncode == 0
    assert acorn(home, "whoami", "--db", f"sqlite:///{missing}").stdout.startswith(f"{ME}: TSR3")

    nofolder = tmp_path / "typo" / "x.db"
    p = acorn(home, "whoami", "--db", f"sqlite:///{nofolder}")
    assert f"the folder {nofolder.parent} does not exist" in p.stdout
    assert "Check the URL" in p.stdout and not nofolder.parent.exists()

    empty = tmp_path / "empty.db"
    empty.touch()
    p = acorn(home, "whoami", ACORN_DB=f"sqlite:///{empty}")
    assert p.stdout.startswith(f"{ME}: sqlite:///{empty} has no acorntui tables yet.\n")
    assert _fix_command(p.stdout) == ["acorntui init-db"]  # ACORN_DB stays set: no --db
    with sqlite3.connect(empty) as con:  # opening it set WAL mode; no table was created
        assert con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0


def test_whoami_on_a_database_nobody_is_registered_in(sqlite_db, sqlite_url, home):
    p = acorn(home, "whoami", "--format", "json", ACORN_DB=sqlite_url)
    assert p.returncode == 0
    assert '"database": "ok"' in p.stdout and '"role": "read-only"' in p.stdout
    p = acorn(home, "whoami", ACORN_DB=sqlite_url)
    assert p.stdout.startswith(f"{ME}: nobody is registered as a CSR or TSR yet")
    assert _fix_command(p.stdout) == ["acorntui init-db"]
    assert acorn(home, "init-db", ACORN_DB=sqlite_url).returncode == 0
    assert acorn(home, "whoami", ACORN_DB=sqlite_url).stdout.startswith(f"{ME}: TSR3;")


@pytest.fixture
def shared_url():
    """A SQLite file every local account may write (the CLI runs as several logins)."""
    d = Path(tempfile.mkdtemp(prefix="acorn-first-run-"))
    d.chmod(0o1777)
    db = d / "acorn.db"
    db.touch()
    db.chmod(0o666)
    url = f"sqlite:///{db}"
    yield url
    shutil.rmtree(d, ignore_errors=True)


def test_whoami_names_who_can_add_you_and_the_exact_command(shared_url):
    assert run_as(shared_url, "boss", "init-db").returncode == 0  # boss: the first TSR3
    p = run_as(shared_url, ME, "whoami")
    assert p.returncode == 0
    assert p.stdout.startswith(f"{ME}: not a registered CSR or TSR, so read-only access.\n")
    assert "A TSR3 (boss) can add you" in p.stdout
    add = _fix_command(p.stdout)[0]
    assert add == f"acorntui tsr add {ME} --level 1"
    p = run_as(shared_url, "boss", *add.split()[1:])  # what the TSR3 runs
    assert p.returncode == 0, p.stderr
    assert run_as(shared_url, ME, "whoami").stdout.startswith(f"{ME}: TSR1;")

    con = sqlite3.connect(shared_url[len("sqlite:///"):])
    with con:
        con.execute("UPDATE tsrs SET active = 0 WHERE login = ?", (ME,))
    con.close()
    p = run_as(shared_url, ME, "whoami")
    assert p.stdout.startswith(f"{ME}: your TSR entry is deactivated, so read-only access.")
    again = _fix_command(p.stdout)[0]
    assert again == f"acorntui tsr edit {ME} --active yes"
    assert run_as(shared_url, "boss", *again.split()[1:]).returncode == 0
    assert run_as(shared_url, ME, "whoami").stdout.startswith(f"{ME}: TSR1;")


def test_role_refusal_exits_3_from_every_command(shared_url):
    assert run_as(shared_url, "boss", "init-db").returncode == 0
    for argv in (["csr", "add", "carol"], ["customer", "add", "acme"],
                 ["server", "add", "acme/fs1"]):
        assert run_as(shared_url, "boss", *argv).returncode == 0
    for argv, needs in ((["exception", "add", "*/x.pst", "--server", "acme/fs1"], "a TSR"),
                        (["reparse", "acme/fs1"], "a TSR"),
                        (["customer", "add", "other"], "a TSR3"),
                        (["server", "edit", "acme/fs1", "--os", "Debian 12"], "a TSR3"),
                        (["tsr", "add", "carol", "--level", "3"], "a TSR3")):
        p = run_as(shared_url, "carol", *argv)
        assert p.returncode == 3, (argv, p.stderr)
        # the shared file is world-writable on purpose, which draws the warning that names it
        lines = [x for x in p.stderr.splitlines()
                 if not x.startswith("acorntui: warning: database file ")]
        assert lines[0].startswith("acorntui: refused: carol (CSR) may not "), p.stderr
        assert f"that needs {needs}" in p.stderr
        assert "Traceback" not in p.stderr


def test_whoami_when_the_database_server_cannot_be_reached(home):
    p = acorn(home, "whoami", "--db", "mysql://acorn@127.0.0.1:1/backup_serverlist")
    assert p.returncode == 1 and p.stdout == ""
    assert p.stderr.startswith(f"acorntui: {ME}: cannot tell your role: cannot connect to "
                               "mysql://acorn@127.0.0.1:1/backup_serverlist")
    assert "that the database server is running" in p.stderr


def test_codes_uses_a_reachable_database_and_falls_back_to_the_shipped_table(sqlite_db,
                                                                             sqlite_url, home):
    from acorntui.db.models import ErrorCode

    ErrorCode.update(jargon="Our own wording for 24").where(ErrorCode.code == 24).execute()
    p = acorn(home, "codes", "24", "--db", sqlite_url)
    assert p.returncode == 0 and p.stdout.startswith("Code 24: Our own wording for 24\n")
    p = acorn(home, "codes", "24", "--db", "mysql://acorn@127.0.0.1:1/x")
    assert p.returncode == 0
    assert p.stdout.startswith("Code 24: Partial transfer due to vanished source files\n")
    assert "showing the code table acorntui ships" in p.stderr


def test_whoami_on_a_mariadb_database_that_does_not_exist_yet(home):
    why = _mariadb_available()
    if why:
        skip_or_fail(why)
    import pymysql

    name = f"acorn_first_{uuid.uuid4().hex[:8]}"
    url = f"mysql://{MARIADB_USER}@{MARIADB_HOST}:{MARIADB_PORT}/{name}"
    try:
        p = acorn(home, "whoami", "--db", url)
        assert p.returncode == 0, p.stderr
        assert p.stdout.startswith(f"{ME}: no database {name} on {MARIADB_HOST}:{MARIADB_PORT}")
        fix = _fix_command(p.stdout)[0]
        assert fix == f"acorntui init-db --db {url}"
        assert acorn(home, *fix.split()[1:]).returncode == 0
        assert acorn(home, "whoami", "--db", url).stdout.startswith(f"{ME}: TSR3;")
    finally:
        conn = pymysql.connect(host=MARIADB_HOST, port=MARIADB_PORT, user=MARIADB_USER)
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


def test_demo_first_makes_the_data_folder_0750_too(home):
    data = home / ".local" / "share" / "acorntui"
    p = acorn(home, "demo", "--no-tui", "--servers", "3", "--days", "2")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == f"sqlite:///{data / 'demo.db'}" and _mode(data) == 0o750
    p = acorn(home, "customer", "list")  # the demo is not the user's database
    assert p.stderr.startswith(f"acorntui: created the database {data / 'acorntui.db'};")
    assert _mode(data / "acorntui.db") == 0o640


def _closed_port() -> int:
    import socket

    with socket.socket() as s:  # bound then closed: nothing listens there
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("spool_in_config", [False, True])
def test_fetch_makes_the_data_folder_0750(home, tmp_path, spool_in_config):
    """The first command to create the data folder is not always init-db: fetch makes the spool
    (default: inside the user data folder, or the config's [spool] dir) before it connects."""
    cfg = home / "acorn.toml"
    spool = home / "var" / "acorn" / "spool" if spool_in_config else (
        home / ".local" / "share" / "acorntui" / "spool")
    cfg.write_text((f'[spool]\ndir = "{spool}"\n' if spool_in_config else "")
                   + f'[[report_servers]]\nname = "r1"\nhost = "127.0.0.1"\n'
                     f'port = {_closed_port()}\nuser = "nobody"\n')
    p = acorn(home, "fetch", "--db", f"sqlite:///{tmp_path / 'elsewhere.db'}",
              ACORN_CONFIG=str(cfg))
    assert p.returncode != 0  # nothing listens: the pull fails, after making the spool
    assert spool.is_dir(), p.stderr
    made = [spool, spool.parent] + ([spool.parent.parent] if spool_in_config else [])
    for d in made:
        assert _mode(d) == 0o750, (d, oct(_mode(d)))


def test_mail_outbox_makes_the_data_folder_0750(home, tmp_path):
    """A daily report that cannot be sent is kept in the outbox, inside the user data folder:
    the first such run creates that folder 0750."""
    db = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    cfg = home / "acorn.toml"
    cfg.write_text(f'[mail]\nhost = "127.0.0.1"\nport = {_closed_port()}\nsecurity = "none"\n'
                   'from = "acorn@example.com"\nto = ["tsr@example.com"]\ntimeout = 5\n')
    assert acorn(home, "init-db", "--db", db, ACORN_CONFIG=str(cfg)).returncode == 0
    from test_ingest import FAIL_309, write_log

    log = write_log(tmp_path / "logs", "acme", "fs1", FAIL_309)
    p = acorn(home, "ingest", "--db", db, str(log), ACORN_CONFIG=str(cfg))
    assert p.returncode == 0, p.stderr
    data = home / ".local" / "share" / "acorntui"
    assert not data.exists()
    p = acorn(home, "report", "failures", "--email", "--db", db, ACORN_CONFIG=str(cfg))
    assert p.returncode != 0 and "kept in" in p.stdout + p.stderr, p.stdout + p.stderr
    outbox = data / "outbox"
    assert list(outbox.glob("*.eml")), p.stderr
    assert _mode(data) == 0o750 and _mode(outbox) == 0o750
