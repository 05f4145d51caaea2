"""Issue 12, point 2: in team mode MariaDB itself enforces the people roles.

The attacker is a CSR with a shell and their own MariaDB account. Through PyMySQL they try to
add an exception, rewrite a FAILED result to OK, make themselves a TSR and write an audit row in
a TSR's name; through the CLI they try the same with USER/LOGNAME set to a TSR3's login. The
database refuses each write, the CLI says "needs a TSR" (exit 3), and the audit row stores the
real account.

Runs against the real server on 127.0.0.1:3306 (root, empty password) in a database and
accounts made for this test and dropped afterwards. ACORN_REQUIRE_INTEGRATION=1 makes a missing
server a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import MARIADB_HOST, MARIADB_PORT, MARIADB_USER, _mariadb_available, skip_or_fail

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.mariadb


def acorn(url: str, *args: str, login: str = "nobody", password: str | None = None,
          ) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), ACORN_DB=url, USER=login, LOGNAME=login,
               ACORN_CONFIG="/nonexistent/acorn.toml")
    env.pop("ACORN_ACCOUNT_PASSWORD", None)
    if password is not None:
        env["ACORN_ACCOUNT_PASSWORD"] = password
    return subprocess.run([sys.executable, "-m", "acorntui", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


class Team:
    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        self.db = f"acorn_team_{tag}"
        self.logins = {k: f"{k}_{tag}" for k in ("boss", "carol", "tom", "mal", "nightly")}
        self.passwords = {k: f"pw/{uuid.uuid4().hex[:8]}@#" for k in self.logins}

    def url(self, who: str | None = None) -> str:
        if who is None:
            return f"mysql://{MARIADB_USER}@{MARIADB_HOST}:{MARIADB_PORT}/{self.db}"
        return (f"mysql://{self.logins[who]}:{self.passwords[who]}@{MARIADB_HOST}:"
                f"{MARIADB_PORT}/{self.db}")

    def connect(self, who: str | None = None):
        import pymysql

        if who is None:
            return pymysql.connect(host=MARIADB_HOST, port=MARIADB_PORT, user=MARIADB_USER,
                                   database=self.db, autocommit=True)
        return pymysql.connect(host=MARIADB_HOST, port=MARIADB_PORT, user=self.logins[who],
                               password=self.passwords[who], database=self.db,
                               autocommit=True)


@pytest.fixture(scope="module")
def team():
    why = _mariadb_available()
    if why:
        skip_or_fail(why)
    import pymysql

    t = Team()
    root = pymysql.connect(host=MARIADB_HOST, port=MARIADB_PORT, user=MARIADB_USER,
                           autocommit=True)
    try:
        p = acorn(t.url(), "init-db")
        assert p.returncode == 0, p.stderr
        p = acorn(t.url(), "grants", "--apply")
        assert p.returncode == 0, p.stdout + p.stderr
        # the admin (first user, a TSR3) creates the boss's account; the boss creates the rest
        p = acorn(t.url(), "tsr", "add", t.logins["boss"], "--level", "3", "--create-account",
                  password=t.passwords["boss"])
        assert p.returncode == 0, p.stdout + p.stderr
        assert "default role acorn_tsr3" in p.stdout
        for who, argv in (("carol", ["csr", "add"]), ("tom", ["tsr", "add", "--level", "2"]),
                          ("mal", ["csr", "add"])):
            p = acorn(t.url("boss"), *argv[:2], t.logins[who], *argv[2:], "--create-account",
                      password=t.passwords[who])
            assert p.returncode == 0, (who, p.stdout, p.stderr)
        with root.cursor() as cur:
            # the nightly job's service account, set up by hand as the README says
            cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s",
                        (t.logins["nightly"], t.passwords["nightly"]))
            cur.execute("GRANT acorn_ingest TO %s@'%%'", (t.logins["nightly"],))
            cur.execute("SET DEFAULT ROLE acorn_ingest FOR %s@'%%'", (t.logins["nightly"],))
            cur.execute(f"USE `{t.db}`")
            cur.execute("INSERT INTO customers (name, display_name, email, active, notes, "
                        "created) VALUES ('acme', 'Acme', '', 1, '', NOW())")
            cur.execute("INSERT INTO servers (customer_id, name, description, os, role, "
                        "custbak, active, registered, snooze_reason, shares, excludes, "
                        "key_path, mirror_path, report_host, created) VALUES "
                        "(LAST_INSERT_ID(), 'fs1', '', '', '', '', 1, 1, '', '', '', '', '', "
                        "'', NOW())")
            cur.execute("INSERT INTO results (server_id, night, code, status, reason, log_path,"
                        " log_sha256, parsed_at, error_count, excepted_count, rsync_version, "
                        "ack_note, ack_by) VALUES (LAST_INSERT_ID(), CURDATE(), 23, 'failed', "
                        "'16 file errors', '', '', NOW(), 16, 0, '', '', '')")
        yield t
    finally:
        with root.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{t.db}`")
            for login in t.logins.values():
                cur.execute("DROP USER IF EXISTS %s@'%%'", (login,))
            # grants on a dropped database stay on the (shared, global) roles: remove them
            for table in ("db", "tables_priv", "columns_priv"):
                cur.execute(f"DELETE FROM mysql.{table} WHERE Db = %s", (t.db,))
            cur.execute("FLUSH PRIVILEGES")
        root.close()


def count(team: Team, sql: str) -> int:
    conn = team.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchone()[0]
    finally:
        conn.close()


def test_csr_account_cannot_write_a_tsrs_rows_with_raw_sql(team):
    import pymysql

    conn = team.connect("carol")
    refused = []
    try:
        with conn.cursor() as cur:
            for sql in (
                "INSERT INTO exceptions (scope, server_id, customer_id, path_pattern, "
                "message_pattern, reason, method, created_by, created_at, active) VALUES "
                "('global', NULL, NULL, '*', '', 'mine', '', 'tom', NOW(), 1)",
                "UPDATE results SET status = 'ok', code = 0, reason = ''",
                "UPDATE failures SET excepted = 1",
                "DELETE FROM results",
                f"INSERT INTO tsrs (name, login, email, level, active) VALUES "
                f"('me', '{team.logins['carol']}', '', 3, 1)",
                f"UPDATE csrs SET active = 0 WHERE login = '{team.logins['carol']}'",
                "UPDATE servers SET snoozed_until = '2099-01-01'",
                "DROP TRIGGER acorn_updates_login_from_account",
            ):
                with pytest.raises(pymysql.err.OperationalError) as err:
                    cur.execute(sql)
                refused.append(err.value.args[0])
            with pytest.raises(pymysql.err.MySQLError):
                cur.execute("SET ROLE acorn_tsr")
            # reading is allowed
            cur.execute("SELECT status FROM results")
            assert cur.fetchall() == (("failed",),)
    finally:
        conn.close()
    assert set(refused) <= {1142, 1143}, refused
    assert count(team, "SELECT COUNT(*) FROM exceptions") == 0
    assert count(team, "SELECT COUNT(*) FROM results WHERE status = 'failed'") == 1


def test_a_forged_audit_login_stores_the_real_account(team):
    conn = team.connect("carol")
    try:
        with conn.cursor() as cur:
            cur.execute("INSERT INTO updates (at, login, action, table_name, details, `before`, "
                        "`after`) VALUES (NOW(), %s, 'exception.add', 'exceptions', "
                        "'forged in the boss''s name', '', '')", (team.logins["boss"],))
            rid = cur.lastrowid
    finally:
        conn.close()
    root = team.connect()
    try:
        with root.cursor() as cur:
            cur.execute("SELECT login FROM updates WHERE id = %s", (rid,))
            assert cur.fetchone()[0] == team.logins["carol"]
    finally:
        root.close()


def test_cli_identity_is_the_account_and_refusals_say_needs_a_tsr(team):
    before = count(team, "SELECT COUNT(*) FROM exceptions")
    # USER/LOGNAME claim the boss; the account is carol's
    p = acorn(team.url("carol"), "whoami", login=team.logins["boss"])
    assert p.returncode == 0 and p.stdout.startswith(f"{team.logins['carol']}: CSR"), p.stdout
    p = acorn(team.url("carol"), "exception", "add", "*/Outlook/*.pst", "--server", "acme/fs1",
              "--reason", "mine", login=team.logins["boss"])
    assert p.returncode == 3, p.stdout + p.stderr
    assert "needs a TSR" in p.stderr
    p = acorn(team.url("carol"), "tsr", "add", "x_" + team.logins["carol"], "--level", "3",
              login=team.logins["boss"])
    assert p.returncode == 3 and "needs a TSR3" in p.stderr, p.stderr
    # mal's row says TSR2 but the account still has the CSR role: the database refuses
    mal_row_says_tsr(team)
    p = acorn(team.url("mal"), "exception", "add", "*/Outlook/*.pst", "--server", "acme/fs1",
              "--reason", "mine")
    assert p.returncode == 3, p.stdout + p.stderr
    assert "refused: the database refused INSERT on exceptions" in p.stderr
    assert f"account {team.logins['mal']}" in p.stderr and "needs a TSR" in p.stderr
    assert "Traceback" not in p.stderr
    assert count(team, "SELECT COUNT(*) FROM exceptions") == before
    # a TSR's own account may: the exception is added and the audit names the TSR
    p = acorn(team.url("tom"), "exception", "add", "*/Outlook/*.pst", "--server", "acme/fs1",
              "--reason", "backed up by the PST export", login=team.logins["boss"])
    assert p.returncode == 0, p.stdout + p.stderr
    assert count(team, "SELECT COUNT(*) FROM exceptions") == before + 1
    conn = team.connect()
    with conn.cursor() as cur:
        cur.execute("SELECT login, action FROM updates ORDER BY id DESC LIMIT 1")
        assert cur.fetchone() == (team.logins["tom"], "exception.add")
    conn.close()


def test_grants_prints_the_sql_and_refuses_sqlite(team, tmp_path):
    p = acorn(team.url(), "grants")
    assert p.returncode == 0
    for words in ("CREATE ROLE IF NOT EXISTS acorn_csr", "acorn_tsr3", "acorn_ingest",
                  f"GRANT SELECT ON `{team.db}`.* TO acorn_csr", "CREATE TRIGGER",
                  "BEFORE INSERT ON", "SUBSTRING_INDEX(USER(), '@', 1)"):
        assert words in p.stdout, words
    p = acorn(f"sqlite:///{tmp_path / 'a.db'}", "grants")
    assert p.returncode == 2 and "SQLite" in p.stderr
    # --create-account without a password and without a terminal: refused before any row
    p = acorn(team.url("boss"), "csr", "add", "nopw_" + team.logins["carol"],
              "--create-account")
    assert p.returncode == 2 and "ACORN_ACCOUNT_PASSWORD" in p.stderr
    assert count(team, f"SELECT COUNT(*) FROM csrs WHERE login = 'nopw_{team.logins['carol']}'"
                 ) == 0


def test_the_nightly_service_account_ingests_and_nothing_more(team, tmp_path):
    import pymysql
    from test_reliability_ingest import NOW, make_spool

    me = team.logins["nightly"]
    p = acorn(team.url("nightly"), "whoami", login=team.logins["boss"])
    assert p.returncode == 0 and p.stdout.startswith(f"{me}: the nightly job's service account")
    spool = make_spool(tmp_path / "spool", 6)
    p = acorn(team.url("nightly"), "ingest", "--now", NOW, str(spool))
    assert p.returncode == 0, p.stdout + p.stderr
    assert count(team, "SELECT COUNT(*) FROM results r JOIN servers s ON s.id = r.server_id "
                       "WHERE s.name LIKE 'srv%'") == 6
    assert count(team, f"SELECT COUNT(*) FROM updates WHERE action = 'server.auto_add' "
                       f"AND login = '{me}'") == 6
    p = acorn(team.url("nightly"), "exception", "add", "*/x/*.pst", "--global", "--reason", "r")
    assert p.returncode == 3 and "needs a TSR" in p.stderr, p.stderr
    conn = team.connect("nightly")
    try:
        with conn.cursor() as cur:
            for sql in ("INSERT INTO exceptions (scope, path_pattern, message_pattern, reason, "
                        "method, created_by, created_at, active) VALUES ('global', '*', '', "
                        "'', '', '', NOW(), 1)",
                        "UPDATE tsrs SET level = 3", "DELETE FROM updates"):
                with pytest.raises(pymysql.err.OperationalError) as err:
                    cur.execute(sql)
                assert err.value.args[0] == 1142
    finally:
        conn.close()


def test_a_csr_cannot_ingest_a_forged_ok_log(team, tmp_path):
    """Finding 2 in team mode: the CSR's account may not record results, whatever the CLI's
    own checks; the FAILED night stays FAILED."""
    from test_reliability_ingest import NOW, make_spool

    spool = make_spool(tmp_path / "spool", 1)
    forged = next(spool.rglob("*.out"))
    target = tmp_path / "forged" / "acme" / "fs1.out"
    target.parent.mkdir(parents=True)
    target.write_bytes(forged.read_bytes())
    os.utime(target, (forged.stat().st_atime, forged.stat().st_mtime))
    before = results_of_fs1(team)
    p = acorn(team.url("carol"), "ingest", "--now", NOW, str(target.parent.parent),
              login=team.logins["boss"])
    assert p.returncode == 3, p.stdout + p.stderr
    # the service layer refuses first now (Ingestor checks the account's role, a CSR); the
    # database's own refusal of the same writes is what the raw-SQL test above proves
    assert "carol" in p.stderr and "may not ingest logs: that needs a TSR" in p.stderr
    assert results_of_fs1(team) == before and "ok" not in {s for _n, s in before}


def results_of_fs1(team: Team) -> list[tuple]:
    conn = team.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT r.night, r.status FROM results r JOIN servers s "
                        "ON s.id = r.server_id WHERE s.name = 'fs1' ORDER BY r.night")
            return list(cur.fetchall())
    finally:
        conn.close()


def test_services_raise_the_refusal_the_console_shows_as_not_allowed(team):
    """The console runs the same service functions in its workers and shows PermissionDenied
    as "Not allowed" (screens/widgets.py), not as "Database unavailable"."""
    from acorntui import db as dbpkg
    from acorntui.services import triage
    from acorntui.services.roles import PermissionDenied, current_user

    mal_row_says_tsr(team)
    database = dbpkg.connect(team.url("mal"))
    try:
        user = current_user()
        assert (user.login, user.role) == (team.logins["mal"], "tsr")  # the row says TSR2
        rid = database.execute_sql("SELECT MIN(id) FROM results").fetchone()[0]
        with pytest.raises(PermissionDenied, match="needs a TSR") as err:
            triage.acknowledge(user, rid, "on it")
        assert "the database refused UPDATE on results" in str(err.value)
    finally:
        database.close()
    assert count(team, f"SELECT COUNT(*) FROM results WHERE ack_by = '{team.logins['mal']}'") == 0


def mal_row_says_tsr(team: Team) -> None:
    """A TSR2 row for mal, whose account keeps the CSR role (a level raised in the table only)."""
    root = team.connect()
    try:
        with root.cursor() as cur:
            cur.execute("INSERT IGNORE INTO tsrs (name, login, email, level, active) VALUES "
                        "(%s, %s, '', 2, 1)", (team.logins["mal"], team.logins["mal"]))
    finally:
        root.close()


def test_an_older_schema_names_the_upgrade_and_loses_nothing(team):
    """A console upgraded before the database: a person's account (no ALTER, no TRIGGER)
    gets one line naming both schema versions and `init-db`, nothing changes, and once the
    administrator has run `init-db` the same command works, the night's result still there."""
    from acorntui.db.schema import REV_TRIGGER, SCHEMA_VERSION

    admin = team.connect()
    results = count(team, "SELECT COUNT(*) FROM results")
    try:
        with admin.cursor() as cur:
            cur.execute(f"DROP TRIGGER `{REV_TRIGGER}`")
            cur.execute("ALTER TABLE results DROP COLUMN rev")
            cur.execute("UPDATE acorn_schema_version SET version = %s WHERE version = %s",
                        (SCHEMA_VERSION - 1, SCHEMA_VERSION))
        p = acorn(team.url("carol"), "customer", "list", login=team.logins["carol"])
        assert p.returncode == 1, p.stdout + p.stderr
        assert p.stderr.strip().endswith(
            f"has schema version {SCHEMA_VERSION - 1} and this acorntui needs {SCHEMA_VERSION}"
            "; upgrading it failed (this account may not change the schema): run `acorntui "
            "init-db` once as the database's administrator"), p.stderr
        assert team.passwords["carol"] not in p.stderr
        assert count(team, "SELECT COUNT(*) FROM results") == results >= 1
        p = acorn(team.url(), "init-db")
        assert p.returncode == 0, p.stderr
        assert f"migrated schema to version {SCHEMA_VERSION}" in p.stdout
        p = acorn(team.url("carol"), "customer", "list", login=team.logins["carol"])
        assert p.returncode == 0 and "acme" in p.stdout, p.stdout + p.stderr
        # the trigger is back: a TSR's acknowledgement raises the row's change count
        assert count(team, "SELECT COUNT(*) FROM results") == results
        first = count(team, "SELECT MIN(id) FROM results")
        assert count(team, f"SELECT rev FROM results WHERE id = {first}") == 0
        with admin.cursor() as cur:
            cur.execute(f"UPDATE results SET ack_note = CONCAT(ack_note, '') WHERE id = {first}")
            cur.execute(f"UPDATE results SET anomaly = anomaly WHERE id = {first}")
        assert count(team, f"SELECT rev FROM results WHERE id = {first}") == 2
    finally:
        admin.close()
