"""The audit trail: one row per change with who, when, before and after; `acorntui audit`."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from test_manage import run

from acorntui.db.models import Customer, Result, Server, Tsr, Update
from acorntui.services import manage
from acorntui.services import triage as actions
from acorntui.services.roles import lookup


@pytest.fixture
def sqlite_url(shared_sqlite_url):
    """The database file every OS user of these tests may write (they act as real users)."""
    return shared_sqlite_url


def _setup(sqlite_url):
    Tsr.create(login="boss", name="Boss", level=3)
    for argv in (("tsr", "add", "tom", "--level", "1"), ("customer", "add", "acme"),
                 ("server", "add", "acme/fs1"), ("server", "add", "acme/fs2")):
        assert run(sqlite_url, "boss", *argv).returncode == 0


def test_every_cli_change_leaves_exactly_one_audit_row(sqlite_db, sqlite_url):
    _setup(sqlite_url)
    s = Server.get(Server.name == "fs1")
    Result.create(server=s, night=dt.date.today(), code=23, status="failed", error_count=1)
    steps = [
        ("tom", ("exception", "add", "*/Outlook/*.pst", "--server", "acme/fs1",
                 "--method", "NTBackup"), "exception.add"),
        ("tom", ("exception", "edit", "1", "--reason", "backed up nightly by NTBackup"),
         "exception.edit"),
        ("tom", ("exception", "disable", "1"), "exception.disable"),
        ("tom", ("exception", "remove", "1", "--yes"), "exception.delete"),
        ("boss", ("customer", "edit", "acme", "--display-name", "Acme Ltd"), "customer.edit"),
        ("boss", ("server", "edit", "acme/fs2", "--os", "Debian 12"), "server.edit"),
        ("boss", ("tsr", "edit", "tom", "--level", "2"), "tsr.edit"),
        ("boss", ("server", "remove", "acme/fs2"), "server.delete"),
    ]
    for login, argv, action in steps:
        before = Update.select().count()
        p = run(sqlite_url, login, *argv)
        assert p.returncode == 0, (argv, p.stderr)
        new = list(Update.select().where(Update.id > 0).order_by(Update.id)[before:])
        assert [(u.action, u.login) for u in new] == [(action, login)], argv
        assert new[0].at is not None
        if action.endswith(".edit"):
            assert new[0].before and new[0].after
    edit = Update.get(Update.action == "exception.edit")
    assert json.loads(edit.before)["reason"] == ""
    assert json.loads(edit.after)["reason"] == "backed up nightly by NTBackup"
    tedit = Update.get(Update.action == "tsr.edit")
    assert json.loads(tedit.before) == {"level": 1} and json.loads(tedit.after) == {"level": 2}


def test_audit_command_filters_and_formats(sqlite_db, sqlite_url):
    _setup(sqlite_url)
    tom = lookup("tom")
    s1 = manage.get_server("acme/fs1")
    actions.add_note(tom, s1.id, "customer says the NAS was off")
    old = Update.create(login="ghost", action="note", details="ancient",
                        at=dt.datetime(2020, 1, 1))
    p = run(sqlite_url, "tom", "audit")
    assert p.returncode == 0
    lines = p.stdout.splitlines()
    assert "tom" in lines[0] and "note" in lines[0] and "acme/fs1" in lines[0]
    assert "NAS was off" in lines[0]
    p = run(sqlite_url, "tom", "audit", "--server", "acme/fs1", "--format", "json")
    rows = json.loads(p.stdout)
    assert [r["action"] for r in rows] == ["note", "server.add"]
    assert rows[1]["after"]["name"] == "fs1" and rows[1]["login"] == "boss"
    p = run(sqlite_url, "tom", "audit", "--login", "boss", "--action", "server",
            "--format", "json")
    assert sorted(r["action"] for r in json.loads(p.stdout)) == ["server.add", "server.add"]
    p = run(sqlite_url, "tom", "audit", "--since", "2021-01-01", "--format", "json")
    assert old.id not in [r["id"] for r in json.loads(p.stdout)]
    p = run(sqlite_url, "tom", "audit", "--limit", "2", "--format", "json")
    assert len(json.loads(p.stdout)) == 2
    p = run(sqlite_url, "tom", "audit", "--since", "yesterday")
    assert p.returncode == 2 and "since:" in p.stderr
    # untrusted text is shown literally: an escape sequence in a note cannot reach the terminal
    actions.add_note(tom, s1.id, "evil \x1b[2J note")
    rows_before = Update.select().count()
    p = run(sqlite_url, "tom", "audit", "--limit", "1")
    assert "\x1b" not in p.stdout and "evil" in p.stdout
    # reading the trail changes nothing: no audit row for the reads, nothing else touched
    assert Update.select().count() == rows_before
    assert [c.name for c in Customer.select()] == ["acme"]


def test_audit_rows_text_filter_and_server_label(sqlite_db, sqlite_url):
    _setup(sqlite_url)
    rows = manage.audit_rows(text="fs2")
    assert [r["action"] for r in rows] == ["server.add"] and rows[0]["server"] == "acme/fs2"
    assert manage.audit_rows(action="tsr", login="boss")[0]["action"] == "tsr.add"


def _refuse_audit_rows(action: str) -> None:
    """A real SQLite trigger that makes storing this audit row fail, inside the change's own
    transaction: the change is written first, the audit insert then aborts."""
    from acorntui.db.models import database_proxy

    database_proxy.obj.execute_sql(
        "CREATE TRIGGER refuse_audit BEFORE INSERT ON updates "
        f"WHEN NEW.action = '{action}' BEGIN SELECT RAISE(ABORT, 'audit store refused'); END")


def test_a_change_whose_audit_row_fails_is_not_stored(sqlite_db, sqlite_url):
    from peewee import IntegrityError

    from acorntui.db.models import Exception_
    from acorntui.services import exceptions as er

    _setup(sqlite_url)
    boss, tom = lookup("boss"), lookup("tom")
    rows_before = Update.select().count()
    shown = Customer.get(Customer.name == "acme").display_name
    assert shown != "Acme Ltd"
    _refuse_audit_rows("customer.edit")
    with pytest.raises(IntegrityError, match="audit store refused"):
        manage.edit_customer(boss, "acme", display_name="Acme Ltd")
    # neither the change nor its audit row: the customer is as it was
    assert Customer.get(Customer.name == "acme").display_name == shown
    assert Update.select().count() == rows_before

    sqlite_db.execute_sql("DROP TRIGGER refuse_audit")
    _refuse_audit_rows("exception.add")
    with pytest.raises(IntegrityError, match="audit store refused"):
        er.add_exception(tom, er.ExceptionInput(scope="global", path_pattern="*.pst"))
    assert Exception_.select().count() == 0
    assert Update.select().count() == rows_before

    # the same through the command line: exit 1, the reason said, nothing stored
    sqlite_db.execute_sql("DROP TRIGGER refuse_audit")
    _refuse_audit_rows("customer.edit")
    p = run(sqlite_url, "boss", "customer", "edit", "acme", "--display-name", "Acme Ltd")
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert "audit store refused" in p.stderr
    assert Customer.get(Customer.name == "acme").display_name == shown
    assert Update.select().count() == rows_before

    # once the audit can be stored again, the same edit goes through with its one row
    sqlite_db.execute_sql("DROP TRIGGER refuse_audit")
    manage.edit_customer(boss, "acme", display_name="Acme Ltd")
    assert Customer.get(Customer.name == "acme").display_name == "Acme Ltd"
    assert [u.action for u in Update.select().where(Update.id > 0)
            .order_by(Update.id)][rows_before:] == ["customer.edit"]
