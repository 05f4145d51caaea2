"""Trust: no forged identity, no forged green (issue 12, points 1-6 and 10).

Run as an attacker would: real OS users (created with useradd; the tests need root, or skip
through conftest.skip_or_fail) sharing one SQLite file that each of them may write (single-host
mode), `runuser -u <login> --` with USER and LOGNAME set to someone else.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import act_as, os_user
from test_console import asynctest, grid_ready, make_app, static_text
from test_ingest import write_log

from acorntui.cli.main import main
from acorntui.config import load_config
from acorntui.core.status import destination_broken, literal_run, pattern_problem
from acorntui.db.models import Csr, Customer, Exception_, Result, Server, Tsr, Update
from acorntui.services import exceptions as exception_rules
from acorntui.services.exceptions import ExceptionInput, ExceptionInputError
from acorntui.services.ingest import Ingestor, record_fetch_failed
from acorntui.services.roles import PermissionDenied, claim_first_user, current_login, lookup

ROOT = Path(__file__).resolve().parent.parent
TSR3, TSR1, CSR = "boss", "tom", "carol"  # OS users made by conftest.os_user
NOW = dt.datetime(2026, 11, 26, 7, 0)
NIGHT = dt.date(2026, 11, 25)
LOG_TIME = dt.datetime(2026, 11, 26, 2, 0)


@pytest.fixture
def sqlite_url(shared_sqlite_url):
    """The database file every OS user of these tests may write."""
    return shared_sqlite_url


@pytest.fixture
def shared(sqlite_url) -> Path:
    """The folder of that database: every OS user may read and write it."""
    return Path(sqlite_url.removeprefix("sqlite:///")).parent


@pytest.fixture
def team(sqlite_db):
    Tsr.create(login=TSR3, name="Boss", level=3)
    Tsr.create(login=TSR1, name="Tom", level=1)
    Csr.create(login=CSR, name="Carol")


def as_user(login: str, db_url: str, *argv: str, forged: str = TSR3, config: str = "",
            ) -> subprocess.CompletedProcess:
    """`acorntui *argv` as the OS user ``login``, with USER and LOGNAME forged to ``forged``."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "ACORN_DB": db_url,
           "ACORN_CONFIG": config or "/nonexistent/acorn.toml"}
    return subprocess.run([*os_user(login), "env", f"USER={forged}", f"LOGNAME={forged}",
                           sys.executable, "-m", "acorntui", *argv], env=env, text=True,
                          capture_output=True, timeout=120, cwd="/")


def kernel_login() -> str:
    return pwd.getpwuid(os.geteuid()).pw_name


# -- 1. identity from the kernel ------------------------------------------------------------------

@pytest.mark.parametrize("target", [CSR, "mallory"])
def test_forged_user_and_logname_do_not_make_a_csr_a_tsr3(team, sqlite_url, target):
    p = as_user(CSR, sqlite_url, "tsr", "add", target, "--level", "3")
    assert p.returncode == 3, (p.stdout, p.stderr)
    assert f"{CSR} (CSR) may not manage" in p.stderr and "needs a TSR3" in p.stderr
    assert not Tsr.select().where(Tsr.login == target).exists()
    assert not Update.select().where(Update.action == "tsr.add").exists()
    p = as_user(CSR, sqlite_url, "whoami", "--format", "json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["login"] == CSR


def test_audit_rows_name_the_real_user_not_the_forged_one(team, sqlite_url):
    Server.create(customer=Customer.create(name="acme"), name="fs1")
    p = as_user(TSR1, sqlite_url, "exception", "add", "*/Mail/outlook.pst", "--server",
                "acme/fs1", "--reason", "exported nightly")
    assert p.returncode == 0, p.stderr
    row = Update.get(Update.action == "exception.add")
    assert row.login == TSR1
    assert Exception_.get().created_by == TSR1


def test_current_login_ignores_the_environment(monkeypatch):
    monkeypatch.setenv("USER", "boss")
    monkeypatch.setenv("LOGNAME", "boss")
    monkeypatch.setenv("LNAME", "boss")
    monkeypatch.setenv("USERNAME", "boss")
    assert current_login() == kernel_login()


@asynctest
async def test_console_shows_the_kernel_login(team, monkeypatch):
    monkeypatch.setenv("USER", TSR3)
    monkeypatch.setenv("LOGNAME", TSR3)
    me = kernel_login()
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await grid_ready(pilot)
        assert app.user.login == me and app.user.role == "read-only"
        top = static_text(screen, "#topbar")
        assert f"you: {me} (" in top and f"you: {TSR3}" not in top


# -- 2. ingest, fetch, nightly and reparse need their role ----------------------------------------

FAILED_LOG = (
    'rsync: send_files failed to open "/cygdrive/E/shares/Mail/outlook.pst": Permission denied '
    "(13)\r\nsent 1,234 bytes  received 56 bytes  2,580.00 bytes/sec\r\n"
    "total size is 9,999  speedup is 7.75\r\n"
    "rsync error: some files could not be transferred (code 23) at main.c(1039) [sender=3.0.9]\r\n"
)
FORGED_OK_LOG = ("sent 1,234 bytes  received 56 bytes  2,580.00 bytes/sec\r\n"
                 "total size is 9,999  speedup is 7.75\r\n")


def _failed_night(spool: Path) -> Result:
    write_log(spool, "acme", "fs1", FAILED_LOG, LOG_TIME)
    out = Ingestor(now=NOW, user=lookup(TSR3)).ingest_paths([spool])
    assert [o.status for o in out.outcomes] == ["failed"]
    return Result.get()


def test_csr_cannot_turn_a_failed_night_ok_with_a_forged_log(team, sqlite_url, shared):
    _failed_night(shared / "spool")
    forged = write_log(shared / "forged", "acme", "fs1", FORGED_OK_LOG,
                       LOG_TIME + dt.timedelta(minutes=5))
    for login in (CSR, "zed"):  # a CSR, and a login that is nobody
        p = as_user(login, sqlite_url, "ingest", "--now", NOW.isoformat(), str(forged))
        assert p.returncode == 3, (login, p.stdout, p.stderr)
        assert f"{login} (" in p.stderr and "may not ingest logs: that needs a TSR" in p.stderr
    assert Result.get().status == "failed"
    # a TSR may: the same command as tom records it (the role is what counts, not the log)
    p = as_user(TSR1, sqlite_url, "ingest", "--now", NOW.isoformat(), str(forged))
    assert p.returncode == 0, p.stderr
    assert Result.get().status == "ok"


def test_csr_is_refused_by_fetch_nightly_and_reparse(team, sqlite_url, shared):
    _failed_night(shared / "spool")
    audit_rows = Update.select().count()
    cfg = shared / "config.toml"
    cfg.write_text(f'[spool]\ndir = "{shared / "spool"}"\n\n[[report_servers]]\n'
                   'name = "r1"\nhost = "127.0.0.1"\nport = 1\n')
    cfg.chmod(0o644)
    for argv in (("fetch",), ("nightly", "--now", NOW.isoformat(), "--no-mail"),
                 ("reparse", "acme/fs1")):
        p = as_user(CSR, sqlite_url, *argv, config=str(cfg))
        assert p.returncode == 3, (argv, p.stdout, p.stderr)
        assert "needs a TSR" in p.stderr, argv
        assert "127.0.0.1" not in p.stdout + p.stderr, argv  # refused before any connection
    assert Result.get().status == "failed"
    assert Update.select().count() == audit_rows


def test_the_service_layer_refuses_a_csr_whatever_the_caller(team, tmp_path):
    from acorntui.jobs.nightly import run_fetch, run_nightly
    from acorntui.jobs.reparse import reparse_server

    cfg = load_config(None)
    cfg.spool_dir = tmp_path / "spool"
    carol = lookup(CSR)
    calls = {
        "Ingestor": lambda: Ingestor(user=carol),
        "record_fetch_failed": lambda: record_fetch_failed("acme", "fs1", NIGHT, "x",
                                                           user=carol),
        "run_nightly": lambda: run_nightly(cfg, user=carol, send_mail=False),
        "run_fetch": lambda: run_fetch(cfg, user=carol),
        "reparse_server": lambda: reparse_server(cfg, "acme", "fs1", user=carol),
    }
    for name, call in calls.items():
        with pytest.raises(PermissionDenied, match="needs a TSR"):
            call()
        assert Result.select().count() == 0, name
    # the kernel login, when it is nobody on a database with people: refused too
    assert lookup(kernel_login()).role == "read-only"
    with pytest.raises(PermissionDenied, match="may not ingest logs"):
        Ingestor()


def test_first_user_on_an_empty_database_is_claimed_by_ingest(sqlite_db, tmp_path):
    write_log(tmp_path / "spool", "acme", "fs1", FORGED_OK_LOG, LOG_TIME)
    assert Ingestor(now=NOW).ingest_paths([tmp_path / "spool"]).outcomes[0].status == "ok"
    me = Tsr.get()
    assert (me.login, me.level) == (kernel_login(), 3)
    assert claim_first_user("someone-else") is None  # only on a database with no people


def test_nightly_account_as_a_tsr_row(team, tmp_path, monkeypatch):
    """docs/nightly-job.md: the job's OS account is a TSR row; then nightly records."""
    from acorntui.jobs.nightly import run_nightly

    act_as(monkeypatch, "acorn")  # the job's account, as the kernel would report it
    cfg = load_config(None)
    cfg.spool_dir = tmp_path / "spool"
    write_log(cfg.spool_dir, "acme", "fs1", FORGED_OK_LOG, LOG_TIME)
    with pytest.raises(PermissionDenied, match="acorn .*may not ingest logs"):
        run_nightly(cfg, now=NOW, send_mail=False)
    Tsr.create(login="acorn", name="nightly job", level=1)
    run = run_nightly(cfg, now=NOW, send_mail=False)
    assert run.batch.outcomes[0].status == "ok"
    assert {u.login for u in Update.select().where(Update.action.startswith("customer"))} \
        == {"acorn"}


# -- 4. no green from a catch-all exception --------------------------------------------------------

CATCH_ALL = ["?*", "*?", "***", "*/**", "[!x]*", "*.?", "[abcdef]*", "??", "*/*/*", "\\\\*",
             "*", "**", "/*", "*/*", "a*b*c", "*/ab", "ab*cd", "a[bc]"]
NAMED = ["*.pst", "*/Mail/*", "E:\\shares\\QB\\*", "*/outlook.pst", "/cygdrive/e/shares/*",
         "*.db"]


@pytest.mark.parametrize("pattern", CATCH_ALL)
def test_catch_all_patterns_are_refused_with_the_rule_named(team, pattern):
    with pytest.raises(ExceptionInputError, match="at least 3 characters in a row that are not "
                       "wildcards .* instead of matching every file"):
        exception_rules.add_exception(lookup(TSR3), ExceptionInput(scope="global",
                                                                   path_pattern=pattern))
    assert Exception_.select().count() == 0


def test_the_refusal_says_what_a_pattern_needs():
    assert pattern_problem("*/ab") == (
        "must hold at least 3 characters in a row that are not wildcards (* ? [ ]) or "
        "separators (/ \\), so that it names the file or folder it covers instead of matching "
        "every file")


@pytest.mark.parametrize("pattern", NAMED)
def test_patterns_that_name_something_are_accepted(pattern):
    assert pattern_problem(pattern) is None and literal_run(pattern) >= 3


def test_cli_refuses_a_global_question_star_with_exit_2(team, sqlite_url):
    p = as_user(TSR3, sqlite_url, "exception", "add", "?*", "--global", "--reason", "all")
    assert p.returncode == 2, p.stderr
    assert "path pattern '?*': must hold at least 3 characters in a row" in p.stderr
    assert Exception_.select().count() == 0


def _log_23(paths: list[str], broken: str) -> str:
    lines = [f'rsync: send_files failed to open "{p}": Permission denied (13)'
             for p in paths[:-1]]
    lines.append(f'rsync: write failed on "{paths[-1]}": {broken}')
    return "\r\n".join(lines) + (
        "\r\nsent 1,234 bytes  received 56 bytes  2,580.00 bytes/sec\r\n"
        "total size is 9,999  speedup is 7.75\r\n"
        "rsync error: some files could not be transferred (code 23) at main.c(1039) "
        "[sender=3.0.9]\r\n")


PATHS = [f"/cygdrive/E/shares/dept{i:02d}/file{i}.doc" for i in range(16)]


def test_stored_catch_all_from_an_older_database_covers_nothing(team, tmp_path):
    Exception_.create(scope="global", path_pattern="?*", reason="older version let it in")
    p = write_log(tmp_path, "acme", "fs1", _log_23(PATHS, "Permission denied (13)"), LOG_TIME)
    out = Ingestor(now=NOW, user=lookup(TSR3)).ingest_file(p)
    assert (out.status, out.reason) == ("failed", "16 file errors not excepted")


def test_a_stored_catch_all_does_not_hide_the_valid_rules_after_it(team, tmp_path):
    # the catch-all is skipped, not the end of the search: a real rule still covers its files
    Exception_.create(scope="global", path_pattern="?*", reason="older version let it in")
    Exception_.create(scope="global", path_pattern="/cygdrive/E/shares/*",
                      reason="the shares are backed up by the NAS snapshot")
    p = write_log(tmp_path, "acme", "fs1", _log_23(PATHS, "Permission denied (13)"), LOG_TIME)
    out = Ingestor(now=NOW, user=lookup(TSR3)).ingest_file(p)
    assert out.status != "failed"
    assert Result.get().excepted_count == 16


@pytest.mark.parametrize("broken", [
    "No space left on device (28)", "Disk quota exceeded (122)", "Read-only file system (30)",
    "Input/output error (5)", "Cannot allocate memory (12)",
])
def test_destination_broken_errors_are_never_excepted(team, tmp_path, broken):
    """16 errors, one of them a broken destination, every path covered by a valid exception:
    the night stays FAILED (before: a global `?*` or any covering exception made it OK*)."""
    user = lookup(TSR3)
    exception_rules.add_exception(user, ExceptionInput(scope="global",
                                                       path_pattern="/cygdrive/E/shares/*"))
    p = write_log(tmp_path, "acme", "fs1", _log_23(PATHS, broken), LOG_TIME)
    out = Ingestor(now=NOW, user=user).ingest_file(p)
    assert (out.status, out.reason) == ("failed", "1 file error not excepted")
    r = Result.get()
    assert (r.error_count, r.excepted_count) == (16, 15)
    # adding a narrower exception for that very file changes nothing either
    exception_rules.add_exception(user, ExceptionInput(
        scope="global", path_pattern=PATHS[-1], reason="try to hide it"), all_nights=True)
    assert Result.get().status == "failed"


def test_global_question_star_no_longer_hides_a_full_disk(team, tmp_path):
    """The finding itself: a stored global `?*` and a code-23 log with 16 errors including
    `No space left on device` gave OK*."""
    Exception_.create(scope="global", path_pattern="?*")
    p = write_log(tmp_path, "acme", "fs1", _log_23(PATHS, "No space left on device (28)"),
                  LOG_TIME)
    out = Ingestor(now=NOW, user=lookup(TSR3)).ingest_file(p)
    assert out.status == "failed"


def test_rsync_out_of_memory_keeps_the_night_failed(team, tmp_path):
    text = _log_23(PATHS[:2], "Permission denied (13)").replace(
        "\r\nsent", "\r\nERROR: out of memory in receive_sums [sender]\r\nsent")
    exception_rules.add_exception(lookup(TSR3), ExceptionInput(
        scope="global", path_pattern="/cygdrive/E/shares/*"))
    p = write_log(tmp_path, "acme", "fs1", text, LOG_TIME)
    out = Ingestor(now=NOW, user=lookup(TSR3)).ingest_file(p)
    assert out.status == "failed" and "unrecognised" in out.reason
    assert destination_broken("ERROR: out of memory in receive_sums [sender]")
    assert not destination_broken('rsync: send_files failed to open "/x (5)/y": Permission '
                                  "denied (13)")


# -- 5. a login longer than the column -------------------------------------------------------------

def test_login_longer_than_the_column_is_refused_by_name(any_db, db_url, tmp_path, monkeypatch,
                                                         capsys):
    """Before: on MariaDB every ingest failed ("1 unreadable"); now it is refused, named."""
    long_login = "svc-" + "x" * 66
    act_as(monkeypatch, long_login)  # what the kernel would report for such an account
    write_log(tmp_path / "spool", "acme", "fs1", FORGED_OK_LOG, LOG_TIME)
    rc = main(["--db", db_url, "ingest", "--now", NOW.isoformat(), str(tmp_path / "spool")])
    err = capsys.readouterr().err
    assert rc == 3, err
    assert f"login '{long_login}' is 70 characters long" in err and "at most 64" in err
    assert "unreadable" not in err
    assert Result.select().count() == 0 and Tsr.select().count() == 0
