"""Each role's allowed and refused actions, through the domain layer and the CLI."""

from __future__ import annotations

import datetime as dt

import pytest
from test_manage import run

from acorntui.db.models import Csr, Customer, Result, Server, Tsr, Update
from acorntui.services import exceptions as exception_rules
from acorntui.services import manage, roles
from acorntui.services import triage as actions
from acorntui.services.exceptions import ExceptionInput
from acorntui.services.roles import PermissionDenied, lookup


@pytest.fixture
def sqlite_url(shared_sqlite_url):
    """The database file every OS user of these tests may write (they act as real users)."""
    return shared_sqlite_url


@pytest.fixture
def people(sqlite_db):
    Tsr.create(login="boss", name="Boss", level=3)
    Tsr.create(login="tom", name="Tom", level=1)
    Csr.create(login="carol", name="Carol")
    c = Customer.create(name="acme")
    s = Server.create(customer=c, name="fs1")
    r = Result.create(server=s, night=dt.date.today(), code=23, status="failed", error_count=1)
    return s, r


# action -> what each role may do: (csr, tsr1, tsr3, read-only)
MATRIX = {
    "note": (True, True, True, False),
    "ack": (False, True, True, False),
    "exception": (False, True, True, False),
    "reparse": (False, True, True, False),
    "manage": (False, False, True, False),
}


@pytest.mark.parametrize("action", sorted(MATRIX))
def test_permission_matrix(people, action):
    for login, allowed in zip(("carol", "tom", "boss", "zed"), MATRIX[action], strict=True):
        assert lookup(login).can(action) is allowed, (login, action)
        assert lookup(login).can("read")


def _attempts(server, result):
    return {
        "note": lambda u: actions.add_note(u, server.id, "called the customer"),
        "ack": lambda u: actions.acknowledge(u, result.id, "looking at it"),
        "exception": lambda u: exception_rules.add_exception(
            u, ExceptionInput(scope="server", server_id=server.id,
                              path_pattern=f"*/{u.login}.pst")),
        "manage": lambda u: manage.add_customer(u, name=f"cust-{u.login}"),
    }


@pytest.mark.parametrize("login", ["carol", "tom", "boss", "zed"])
def test_domain_enforces_roles_and_audits_what_is_allowed(people, login):
    server, result = people
    user = lookup(login)
    for action, attempt in _attempts(server, result).items():
        before = Update.select().count()
        if user.can(action):
            attempt(user)
            assert Update.select().count() == before + 1, action
            assert Update.select().order_by(Update.id.desc()).first().login == login
        else:
            with pytest.raises(PermissionDenied) as ei:
                attempt(user)
            assert roles.NEEDED[action] in str(ei.value)
            assert Update.select().count() == before, action


def test_refusal_texts_say_who_and_what_is_needed(people):
    with pytest.raises(PermissionDenied) as ei:
        lookup("carol").require("exception")
    assert str(ei.value).startswith("carol (CSR) may not add or change exceptions: that needs "
                                    "a TSR.")
    with pytest.raises(PermissionDenied) as ei:
        lookup("zed").require("note")
    assert "`acorntui csr add zed`" in str(ei.value)
    with pytest.raises(PermissionDenied) as ei:
        lookup("tom").require("manage")
    assert "that needs a TSR3" in str(ei.value) and "TSR1" in str(ei.value)


def test_inactive_rep_is_read_only(people):
    manage.remove_csr(lookup("boss"), "carol")  # no history: deleted
    assert lookup("carol").role == roles.READ_ONLY
    actions.add_note(lookup("tom"), people[0].id, "x")
    manage.remove_tsr(lookup("boss"), "tom")  # has acted: deactivated
    assert Tsr.get(Tsr.login == "tom").active is False
    assert lookup("tom").role == roles.READ_ONLY


def test_first_user_becomes_tsr3_once(sqlite_db):
    assert roles.claim_first_user("first") == "first"
    assert lookup("first").role == roles.TSR3
    assert roles.claim_first_user("second") is None
    assert lookup("second").role == roles.READ_ONLY


def test_cli_whoami_and_refusal(sqlite_db, sqlite_url):
    p = run(sqlite_url, "anna", "init-db")
    assert "anna is the first user" in p.stdout
    p = run(sqlite_url, "anna", "whoami")
    assert p.stdout.startswith("anna: TSR3")
    p = run(sqlite_url, "anna", "csr", "add", "carol")
    assert p.returncode == 0
    p = run(sqlite_url, "carol", "whoami", "--format", "json")
    assert '"role": "csr"' in p.stdout
    p = run(sqlite_url, "zed", "whoami")
    assert "read-only" in p.stdout and "`acorntui tsr add zed --level 1`" in p.stdout
    p = run(sqlite_url, "anna", "customer", "add", "acme")
    p = run(sqlite_url, "anna", "server", "add", "acme/fs1")
    # the done-when: a CSR browses but is refused an exception, with the role named
    p = run(sqlite_url, "carol", "server", "list")
    assert p.returncode == 0 and "fs1" in p.stdout
    p = run(sqlite_url, "carol", "exception", "add", "*/x.pst", "--server", "acme/fs1")
    assert p.returncode == 3
    assert "carol (CSR) may not add or change exceptions: that needs a TSR" in p.stderr
