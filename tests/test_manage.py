"""Management through the domain layer and the CLI: validation, removal rules, audit rows."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import os_user

from acorntui.db.models import Customer, Result, Server, Tsr, Update
from acorntui.services import manage
from acorntui.services.manage import ManageInputError
from acorntui.services.roles import PermissionDenied, lookup


@pytest.fixture
def boss(any_db):
    Tsr.create(login="boss", name="Boss", level=3)
    return lookup("boss")


def _audit(action):
    return list(Update.select().where(Update.action == action))


def test_add_edit_customer_and_server_each_leave_one_audit_row(boss):
    manage.add_csr(boss, login="carol", name="Carol")
    manage.add_tsr(boss, login="tom", level=2)
    manage.add_customer(boss, name="acme", email="it@acme.example", csr="carol")
    s = manage.add_server(boss, customer="acme", name="fs1", os="Windows 2008", tsr="tom",
                          shares=["E:\\shares"], excludes="*.mp3\n*.tmp")
    assert manage.server_dict(s)["excludes"] == ["*.mp3", "*.tmp"]
    manage.edit_server(boss, "ACME/FS1", role="file", custbak="custbak3")
    for action in ("csr.add", "tsr.add", "customer.add", "server.add", "server.edit"):
        rows = _audit(action)
        assert len(rows) == 1, action
        assert rows[0].login == "boss"
    edit = _audit("server.edit")[0]
    assert json.loads(edit.before) == {"role": "", "custbak": ""}
    assert json.loads(edit.after) == {"role": "file", "custbak": "custbak3"}
    assert edit.server_id == s.id
    listed = manage.list_servers()
    assert [(r["customer"], r["name"], r["tsr"], r["csr"]) for r in listed] == [
        ("acme", "fs1", "tom", "carol")]
    # an edit that changes nothing writes nothing
    manage.edit_server(boss, "acme/fs1", role="file")
    assert len(_audit("server.edit")) == 1


@pytest.mark.parametrize("name,why", [
    ("", "must not be empty"), (".", "not usable"), ("..", "not usable"),
    ("a/b", "not usable"), ("-x", "not usable"), ("a b", "not usable"),
    ("CON", "reserved"), ("lpt1.txt", "reserved"), ("x" * 101, "not usable"),
    ("abc.", "ends with"),
])
def test_bad_customer_names_are_refused_naming_the_field(boss, name, why):
    with pytest.raises(ManageInputError) as ei:
        manage.add_customer(boss, name=name)
    assert ei.value.field == "name"
    assert why in str(ei.value)
    assert Customer.select().count() == 0
    assert Update.select().where(Update.action == "customer.add").count() == 0


def test_other_validation_errors_name_the_field(boss):
    with pytest.raises(ManageInputError, match="^email: 'nope' is not an e-mail"):
        manage.add_customer(boss, name="acme", email="nope")
    manage.add_customer(boss, name="acme")
    with pytest.raises(ManageInputError, match="^name: a customer named 'acme' exists"):
        manage.add_customer(boss, name="ACME")
    with pytest.raises(ManageInputError, match="^level: 4 is not a TSR level"):
        manage.add_tsr(boss, login="x", level=4)
    with pytest.raises(ManageInputError, match="^csr: no CSR with login 'ghost'"):
        manage.edit_customer(boss, "acme", csr="ghost")
    with pytest.raises(ManageInputError, match="^customer: no customer named 'nobody'"):
        manage.add_server(boss, customer="nobody", name="fs1")
    with pytest.raises(ManageInputError, match="^report_host:"):
        manage.add_server(boss, customer="acme", name="fs1", report_host="a b")
    with pytest.raises(ManageInputError, match="^shares:.*control"):
        manage.add_server(boss, customer="acme", name="fs1", shares=["E:\\a\x1b[31m"])
    with pytest.raises(ManageInputError, match="^login: boss is already a TSR"):
        manage.add_csr(boss, login="boss")


def test_remove_with_history_deactivates_and_purge_deletes(boss):
    manage.add_customer(boss, name="acme")
    s = manage.add_server(boss, customer="acme", name="fs1")
    manage.add_server(boss, customer="acme", name="fresh")
    Result.create(server=s, night="2025-01-01", code=0, status="ok")
    # no history: deleted
    r = manage.remove_server(boss, "acme/fresh")
    assert r.what == "deleted"
    assert Server.get_or_none(Server.name == "fresh") is None
    # history: deactivated, history kept
    r = manage.remove_server(boss, "acme/fs1")
    assert r.what == "deactivated" and "--purge" in str(r)
    assert Server.get_by_id(s.id).active is False
    assert Result.select().count() == 1
    r = manage.remove_customer(boss, "acme")
    assert r.what == "deactivated"
    assert Customer.get(Customer.name == "acme").active is False
    # purge: gone, and the audit trail keeps the before snapshot
    r = manage.remove_customer(boss, "acme", purge=True)
    assert r.what == "purged" and r.results == 1
    assert Customer.select().count() == 0 and Result.select().count() == 0
    purge = _audit("customer.purge")
    assert len(purge) == 1 and json.loads(purge[0].before)["name"] == "acme"
    assert len(_audit("server.deactivate")) == 1 and len(_audit("server.delete")) == 1


def test_unregistered_server_from_a_log_is_registered_by_add(boss):
    c = manage.add_customer(boss, name="acme")
    Server.create(customer=c, name="fs9", registered=False)
    s = manage.add_server(boss, customer="acme", name="fs9", os="Debian 12")
    assert s.registered is True and s.os == "Debian 12"
    assert len(_audit("server.register")) == 1
    with pytest.raises(ManageInputError, match="acme/fs9 exists"):
        manage.add_server(boss, customer="acme", name="fs9")


def test_last_tsr3_cannot_be_removed_or_demoted(boss):
    with pytest.raises(ManageInputError, match="last active TSR3"):
        manage.edit_tsr(boss, "boss", level=2)
    with pytest.raises(ManageInputError, match="last active TSR3"):
        manage.remove_tsr(boss, "boss")
    manage.add_tsr(boss, login="deputy", level=3)
    manage.edit_tsr(boss, "boss", level=2)
    assert lookup("boss").role == "tsr"


@pytest.mark.parametrize("login,role", [("carol", "csr"), ("tom", "tsr"), ("zed", "read-only")])
def test_only_a_tsr3_manages(boss, login, role):
    manage.add_csr(boss, login="carol")
    manage.add_tsr(boss, login="tom", level=2)
    user = lookup(login)
    assert user.role == role
    before = Update.select().count()
    for call in (lambda: manage.add_customer(user, name="acme2"),
                 lambda: manage.add_tsr(user, login="x"),
                 lambda: manage.remove_csr(user, "carol")):
        with pytest.raises(PermissionDenied, match="that needs a TSR3"):
            call()
    assert Update.select().count() == before
    assert manage.list_customers() == []  # reading is allowed


# -- the CLI (a real subprocess run as the real OS user `login`) -------------------------------

@pytest.fixture
def sqlite_url(shared_sqlite_url):
    """The database file every OS user of these tests may write."""
    return shared_sqlite_url


def run(db_url, login, *argv, stdin=None):
    """`acorntui *argv` as the OS user ``login``: the login comes from the kernel, so USER and
    LOGNAME are set to someone else on purpose (they must not count)."""
    env = {"PATH": "/usr/bin:/bin", "USER": "root", "LOGNAME": "root", "ACORN_DB": db_url,
           "ACORN_CONFIG": "/nonexistent/acorn.toml", "PYTHONPATH": str(_root())}
    return subprocess.run([*os_user(login), sys.executable, "-m", "acorntui", *argv], env=env,
                          text=True, capture_output=True, input=stdin, timeout=60)


def _root():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent


def test_cli_management_roundtrip(sqlite_db, sqlite_url):
    Tsr.create(login="boss", name="Boss", level=3)
    ok = [
        ("csr", "add", "carol", "--name", "Carol C", "--email", "carol@example.com"),
        ("tsr", "add", "--login", "tom", "--level", "2"),
        ("customer", "add", "acme", "--display-name", "Acme Ltd", "--csr", "carol"),
        ("server", "add", "acme/fs1", "--os", "Windows 2008", "--tsr", "tom",
         "--share", "E:\\shares", "--exclude", "*.mp3", "--key-path", "e:\\atc\\id.txt",
         "--report-host", "acorn@reports.example.com"),
        ("server", "edit", "acme/fs1", "--role", "exchange", "--active", "no"),
    ]
    for argv in ok:
        p = run(sqlite_url, "boss", *argv)
        assert p.returncode == 0, (argv, p.stderr)
    p = run(sqlite_url, "boss", "server", "list", "--format", "json")
    rows = json.loads(p.stdout)
    assert rows[0]["customer"] == "acme" and rows[0]["role"] == "exchange"
    assert rows[0]["active"] is False and rows[0]["tsr"] == "tom" and rows[0]["csr"] == "carol"
    p = run(sqlite_url, "boss", "customer", "list")
    assert "acme" in p.stdout and "Acme Ltd" in p.stdout and "carol" in p.stdout
    p = run(sqlite_url, "boss", "tsr", "list", "--format", "json")
    assert {r["login"]: r["role"] for r in json.loads(p.stdout)} == {"boss": "TSR3",
                                                                    "tom": "TSR2"}
    # bad input: exit 2, the field named
    p = run(sqlite_url, "boss", "customer", "add", "a/b")
    assert p.returncode == 2 and "name:" in p.stderr
    p = run(sqlite_url, "boss", "csr", "add", "dave", "--email", "not-an-address")
    assert p.returncode == 2 and "email:" in p.stderr
    # refused: exit 3, the role named
    p = run(sqlite_url, "carol", "customer", "add", "other")
    assert p.returncode == 3 and "needs a TSR3" in p.stderr
    # purge needs confirmation
    p = run(sqlite_url, "boss", "server", "remove", "acme/fs1", "--purge")
    assert p.returncode == 2 and "--yes" in p.stderr
    assert Server.select().count() == 1
    p = run(sqlite_url, "boss", "server", "remove", "acme/fs1", "--purge", "--yes")
    assert p.returncode == 0 and "deleted acme/fs1" in p.stdout
    assert Server.select().count() == 0
