"""Issue 12: the nightly job's own account. `acorntui service add LOGIN` makes an ingest-only
service account: it may ingest, fetch, run `nightly` and re-parse, and is refused (exit 3, the
role named) acknowledgements, exceptions, snoozes and management. On SQLite through real OS
users (as tests/test_trust.py), and in team mode on MariaDB, where its account gets the
acorn_ingest role and the database refuses it the same writes."""

from __future__ import annotations

import os
import subprocess
import sys
from urllib.parse import quote

import pytest
from conftest import MARIADB_HOST, MARIADB_PORT
from test_ingest import CLEAN_309, write_log
from test_trust import CSR, LOG_TIME, NOW, TSR3, as_user, shared, sqlite_url, team  # noqa: F401
from test_trust_mariadb import ROOT, Team, count
from test_trust_mariadb import acorn as team_acorn
from test_trust_mariadb import team as mariadb_team  # noqa: F401

from acorntui.db.models import Customer, Exception_, Result, Server, Tsr, Update
from acorntui.services import triage
from acorntui.services.roles import PermissionDenied, lookup

SVC = "nightjob"  # an OS user made by conftest.os_user

REFUSED = [  # (argv, the words of the refusal)
    (("exception", "add", "*/Mail/outlook.pst", "--server", "acme/fs1", "--reason", "mine"),
     "may not add or change exceptions: that needs a TSR"),
    (("customer", "snooze", "acme", "--until", "2099-01-01", "--reason", "quiet"),
     "may not snooze servers: that needs a TSR"),
    (("tsr", "add", "mallory", "--level", "3"),
     "may not manage customers, servers and reps: that needs a TSR3"),
    (("service", "add", "other"), "that needs a TSR3"),
]


def test_service_account_on_sqlite(team, sqlite_url, shared):  # noqa: F811
    spool = shared / "spool"
    write_log(spool, "acme", "fs1", CLEAN_309, LOG_TIME)
    # a CSR may not make one; a TSR3 may
    p = as_user(CSR, sqlite_url, "service", "add", SVC)
    assert p.returncode == 3 and "needs a TSR3" in p.stderr, p.stderr
    p = as_user(TSR3, sqlite_url, "service", "add", SVC, "--name", "nightly job")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(f"added service account {SVC}: may ingest")
    assert Tsr.get(Tsr.login == SVC).level == 0
    p = as_user(TSR3, sqlite_url, "service", "list")
    assert SVC in p.stdout and "nightly job" in p.stdout
    p = as_user(TSR3, sqlite_url, "tsr", "list", "--format", "json")
    assert '"role": "service"' in p.stdout
    # whoami, forged USER/LOGNAME (a TSR3's) notwithstanding
    p = as_user(SVC, sqlite_url, "whoami")
    assert p.stdout.startswith(f"{SVC}: the nightly job's service account (ingest only)")
    assert p.stdout.rstrip().endswith("may read everything, re-parse results, ingest logs.")
    # it ingests, and runs the nightly job (no report server: the spool as it is)
    p = as_user(SVC, sqlite_url, "ingest", "--now", NOW.isoformat(), str(spool))
    assert p.returncode == 0, p.stdout + p.stderr
    assert Result.get().status == "ok"
    assert Update.get(Update.action == "server.auto_add").login == SVC
    cfg = shared / "svc.toml"
    cfg.write_text(f'[spool]\ndir = "{spool}"\n')
    cfg.chmod(0o644)
    p = as_user(SVC, sqlite_url, "nightly", "--now", NOW.isoformat(), "--no-mail",
                config=str(cfg))
    assert "refused" not in p.stderr and "may not" not in p.stderr, p.stdout + p.stderr
    assert "ingest" in p.stdout, p.stdout
    # and is refused what a person does, its role named, exit 3
    rows = Update.select().count()
    for argv, words in REFUSED:
        p = as_user(SVC, sqlite_url, *argv)
        assert p.returncode == 3, (argv, p.stdout, p.stderr)
        assert f"{SVC} (the nightly job's service account (ingest only)) may not" in p.stderr
        assert words in p.stderr, (argv, p.stderr)
    assert Update.select().count() == rows and not Exception_.select().exists()
    assert not Tsr.select().where(Tsr.login.in_(["mallory", "other"])).exists()
    # acknowledging (the console's action) is refused in the service layer it calls
    with pytest.raises(PermissionDenied, match="may not acknowledge results: that needs a TSR"):
        triage.acknowledge(lookup(SVC), Result.get().id, "seen")
    assert Result.get().ack_by == ""


def test_a_service_account_is_no_tsr_to_assign(team, sqlite_url):  # noqa: F811
    from acorntui.services import manage

    boss = lookup(TSR3)
    manage.add_service(boss, login=SVC)
    c = Customer.create(name="acme")
    with pytest.raises(manage.ManageInputError, match="service account, not a TSR"):
        manage.add_server(boss, customer=c.name, name="fs1", tsr=SVC)
    assert not Server.select().exists()


def test_service_account_in_team_mode(mariadb_team: Team, tmp_path):  # noqa: F811
    """`service add --create-account` gives the account the acorn_ingest role; it ingests and
    the CLI and the database refuse it a TSR's writes."""
    import pymysql
    from test_reliability_ingest import NOW as RNOW
    from test_reliability_ingest import make_spool

    t = mariadb_team
    svc, pw = "svc_" + t.logins["boss"].split("_")[1], "pw/svc#1@x"
    url = f"mysql://{svc}:{quote(pw, safe='')}@{MARIADB_HOST}:{MARIADB_PORT}/{t.db}"
    root = t.connect()
    try:
        p = team_acorn(t.url("boss"), "service", "add", svc, "--create-account", password=pw)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "default role acorn_ingest" in p.stdout
        p = team_acorn(url, "whoami", login=t.logins["boss"])
        assert p.stdout.startswith(f"{svc}: the nightly job's service account"), p.stdout
        spool = make_spool(tmp_path / "spool", 3)
        p = team_acorn(url, "ingest", "--now", RNOW, str(spool))
        assert p.returncode == 0, p.stdout + p.stderr
        assert count(t, f"SELECT COUNT(*) FROM updates WHERE login = '{svc}' "
                        "AND action = 'server.auto_add'") == 3
        # and runs the nightly job (no report server: the spool as it is), without refusal
        cfg = tmp_path / "svc.toml"
        cfg.write_text(f'[spool]\ndir = "{spool}"\n')
        env = dict(os.environ, PYTHONPATH=str(ROOT), ACORN_DB=url, ACORN_CONFIG=str(cfg))
        p = subprocess.run([sys.executable, "-m", "acorntui", "nightly", "--now", RNOW,
                            "--no-mail"], env=env, capture_output=True, text=True, timeout=120,
                           cwd=ROOT)
        assert "refused" not in p.stderr and "may not" not in p.stderr, p.stdout + p.stderr
        assert "ingest" in p.stdout and "Traceback" not in p.stderr, p.stdout + p.stderr
        for argv, words in REFUSED[:3]:
            p = team_acorn(url, *argv)
            assert p.returncode == 3, (argv, p.stdout, p.stderr)
            assert words in p.stderr and svc in p.stderr, (argv, p.stderr)
        # raw SQL through its own account: no acknowledgement, no exception, no rep
        conn = pymysql.connect(host=MARIADB_HOST, port=MARIADB_PORT, user=svc, password=pw,
                               database=t.db, autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute("UPDATE results SET anomaly = NULL WHERE 1 = 0")  # its own column
                for sql in ("UPDATE results SET ack_by = 'x', ack_note = 'forged'",
                            "INSERT INTO exceptions (scope, path_pattern, message_pattern, "
                            "reason, method, created_by, created_at, active) VALUES "
                            "('global', '*', '', '', '', '', NOW(), 1)",
                            "UPDATE tsrs SET level = 3"):
                    with pytest.raises(pymysql.err.OperationalError) as err:
                        cur.execute(sql)
                    assert err.value.args[0] in (1142, 1143), sql
        finally:
            conn.close()
        assert count(t, "SELECT COUNT(*) FROM results WHERE ack_by = 'x'") == 0
    finally:
        with root.cursor() as cur:
            cur.execute("DROP USER IF EXISTS %s@'%%'", (svc,))
        root.close()
