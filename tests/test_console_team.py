"""Issue 13 points 2, 6 and 10, issue 15's customer window from the console: a team working at
the same time.

- Two consoles: the console polls while another process (the CLI, as another person would
  run it) changes the same database (a SQLite file, and MariaDB); the change shows within the
  poll interval, in place, marked with who made it, and the cursor and scroll stay put.
- Bulk actions: marked rows acknowledged, noted or snoozed in one transaction.
- `Z`: a customer's maintenance window from the grid.
"""

from __future__ import annotations

import datetime as dt
import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import act_as
from test_console import asynctest, grid_ready, make_app, static_text, wait_for

ROOT = Path(__file__).resolve().parent.parent
NIGHT = dt.date.today() - dt.timedelta(days=1)
ME = "tester"  # the console's user (in-process); the CLI runs as the kernel login
CLI_LOGIN = pwd.getpwuid(os.geteuid()).pw_name
POLL = 0.4  # seconds: the test's poll interval (the console's default is 30)


def build_night(n_servers: int = 40) -> None:
    """Customers acme (n servers) and beta (3), every server FAILED on NIGHT with one locked
    file; the console's user and the CLI's login are TSR3s."""
    from acorntui.db.models import Customer, Failure, Result, Server, Tsr

    Tsr.create(name="Tester", login=ME, level=3)
    if CLI_LOGIN != ME:
        Tsr.create(name="CLI", login=CLI_LOGIN, level=3)
    for cname, count in (("acme", n_servers), ("beta", 3)):
        cust = Customer.create(name=cname)
        for i in range(count):
            name = f"fs{i:02d}"
            s = Server.create(customer=cust, name=name, custbak="custbak01")
            r = Result.create(server=s, night=NIGHT, code=23, status="failed", error_count=1,
                              excepted_count=0)
            path = f"/cygdrive/E/data/{cname}-{name}/mail.pst"
            Failure.create(result=r, path=path, line=3, kind="open",
                           message=f'rsync: send_files failed to open "{path}": Permission '
                           "denied (13)")


def cli(url: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), ACORN_DB=url)
    return subprocess.run([sys.executable, "-m", "acorntui", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


OTHER_CONSOLE = """
import datetime as dt, sys
from acorntui import db
from acorntui.db.models import Customer, Result, Server
from acorntui.services import triage
from acorntui.services.roles import current_user

db.connect(sys.argv[1])
user = current_user()
def server(name):
    return Server.get((Server.name == name) & (Server.customer == Customer.get(name="acme")))
r = Result.get(Result.server == server("fs10"))
triage.acknowledge(user, r.id, "disk replaced, watching")
r11 = Result.get(Result.server == server("fs11"))
triage.add_note(user, r11.server_id, "customer called", result_id=r11.id)
triage.snooze(user, server("fs12").id, dt.date.today() + dt.timedelta(days=2), "new NAS")
"""


def other_console(url: str) -> subprocess.CompletedProcess:
    """What a teammate's console does on a key press: the same service calls, in another
    process (there is no CLI command for an acknowledgement)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", OTHER_CONSOLE, url], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def row_of(screen, customer: str, server: str):
    return next(r for r in screen.grid.rows if (r.customer, r.server) == (customer, server))


# -- two consoles on one database ----------------------------------------------------------------


@asynctest
async def test_another_process_changes_show_in_place_with_who(db_url, monkeypatch):
    """While the console is open (cursor on a row far down, the grid scrolled), another
    process adds an exception, snoozes a customer, edits a server, acknowledges, notes and
    snoozes a server. Each shows within the poll interval: the rows change where they are,
    marked, the detail line names who changed them, and the cursor and scroll position do not
    move."""
    act_as(monkeypatch, ME)
    build_night()
    app = make_app(poll_seconds=POLL)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await grid_ready(pilot)
        assert len(screen.grid.rows) == 43
        assert all(r.status == "failed" for r in screen.grid.rows)
        order = [r.server_id for r in screen.grid.rows]
        await pilot.press("end")
        for _ in range(5):
            await pilot.press("up")
        await pilot.pause()
        cursor, scroll = screen.grid.cursor_row, screen.grid.scroll_y
        assert scroll > 0  # scrolled: the test would see a jump back to the top
        looked_at = screen.grid.current

        # 1. an exception added by the CLI turns that server OK* here
        target = row_of(screen, "acme", "fs03")
        p = cli(db_url, "exception", "add", "*/acme-fs03/mail.pst", "--server", "acme/fs03",
                "--reason", "backed up by the PST export")
        assert p.returncode == 0, p.stderr
        await wait_for(pilot, lambda: row_of(screen, "acme", "fs03").status
                       == "ok_with_exceptions", timeout=POLL * 10)
        assert (screen.grid.cursor_row, screen.grid.scroll_y) == (cursor, scroll)
        assert screen.grid.current.server_id == looked_at.server_id
        assert [r.server_id for r in screen.grid.rows] == order  # nothing moved
        mark = screen.changed[target.server_id]
        assert (mark.login, mark.action) == (CLI_LOGIN, "exception.add")
        assert screen.row_gutter(row_of(screen, "acme", "fs03")).plain == " Δ"
        screen.grid.move_to_key(target.server_id)
        await pilot.pause()
        assert f"changed by {CLI_LOGIN} (exception.add)" in static_text(screen, "#detail")
        screen.grid.cursor_row = cursor
        await pilot.pause()
        scroll = screen.grid.scroll_y  # moving to fs03 and back scrolled

        # 2. a customer's maintenance window: every beta server shows snoozed
        until = (dt.date.today() + dt.timedelta(days=3)).isoformat()
        p = cli(db_url, "customer", "snooze", "beta", "--until", until, "--reason",
                "office move")
        assert p.returncode == 0, p.stderr
        await wait_for(pilot, lambda: all(r.snoozed for r in screen.grid.rows
                                          if r.customer == "beta"), timeout=POLL * 10)
        beta = [r.server_id for r in screen.grid.rows if r.customer == "beta"]
        assert all(screen.changed[sid].action == "customer.snooze" for sid in beta)
        assert not any(r.snoozed for r in screen.grid.rows if r.customer == "acme")

        # 3. management: a server's custbak changed
        p = cli(db_url, "server", "edit", "acme/fs07", "--custbak", "custbak09")
        assert p.returncode == 0, p.stderr
        await wait_for(pilot, lambda: row_of(screen, "acme", "fs07").custbak == "custbak09",
                       timeout=POLL * 10)
        assert screen.changed[row_of(screen, "acme", "fs07").server_id].login == CLI_LOGIN
        assert (screen.grid.cursor_row, screen.grid.scroll_y) == (cursor, scroll)
        assert [r.server_id for r in screen.grid.rows] == order

        # 4. acknowledgement, note and snooze made by a teammate's console
        p = other_console(db_url)
        assert p.returncode == 0, p.stderr
        await wait_for(pilot, lambda: row_of(screen, "acme", "fs10").ack_note
                       == "disk replaced, watching" and row_of(screen, "acme", "fs12").snoozed,
                       timeout=POLL * 10)
        fs11 = row_of(screen, "acme", "fs11").server_id
        await wait_for(pilot, lambda: fs11 in screen.remarks, timeout=POLL * 10)
        assert screen.remarks[fs11].text == "customer called"
        for name, action in (("fs10", "result.ack"), ("fs11", "note"),
                             ("fs12", "server.snooze")):
            mark = screen.changed[row_of(screen, "acme", name).server_id]
            assert (mark.login, mark.action) == (CLI_LOGIN, action)
        assert (screen.grid.cursor_row, screen.grid.scroll_y) == (cursor, scroll)
        assert [r.server_id for r in screen.grid.rows] == order

        # the marks go after CHANGE_MARK_SECONDS
        screen.CHANGE_MARK_SECONDS = 0.0
        screen._expire_marks()
        assert screen.changed == {}
        assert screen.row_gutter(row_of(screen, "acme", "fs03")).plain == "  "


@asynctest
async def test_a_new_result_without_an_audit_row_still_arrives(sqlite_db, sqlite_url,
                                                               monkeypatch):
    """Ingest writes no audit row for a new result: the night's count and parse time still
    tell the poll."""
    from acorntui.db.models import Customer, Result, Server

    act_as(monkeypatch, ME)
    build_night(5)
    app = make_app(poll_seconds=POLL)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await grid_ready(pilot)
        # as ingest does for a server first seen in a log: a server row and its result
        late = Server.create(customer=Customer.get(Customer.name == "acme"), name="late",
                             registered=False)
        Result.create(server=late, night=NIGHT, code=0, status="ok")
        await wait_for(pilot, lambda: any(r.server == "late" for r in screen.grid.rows),
                       timeout=POLL * 10)
        assert row_of(screen, "acme", "late").status == "ok"
        # a log of another server arrives (no audit row): the row changes in place
        other = row_of(screen, "acme", "fs01")
        Result.update(status="ok", code=0, parsed_at=dt.datetime.now() + dt.timedelta(
            seconds=5)).where(Result.id == other.result_id).execute()
        await wait_for(pilot, lambda: row_of(screen, "acme", "fs01").status == "ok",
                       timeout=POLL * 10)
        assert screen.changed[other.server_id].action == "new log"
        assert screen.changed[late.id].action == "new log"


@asynctest
async def test_an_exception_expiring_at_ingest_turns_the_open_row_failed(sqlite_db, monkeypatch):
    """An exception that expires is dropped by the next ingest's re-evaluation, which writes
    no audit row and no new parse time: the open console still turns the row from OK* back
    to FAILED within the poll (the trigger-kept ``results.rev`` moved)."""
    from acorntui.db.models import Customer, Exception_, Failure, Result, Server
    from acorntui.services.ingest import reevaluate, reevaluate_expired

    act_as(monkeypatch, ME)
    build_night(3)
    today = dt.date.today()
    s = Server.get((Server.name == "fs01") & (Server.customer == Customer.get(name="acme")))
    path = Failure.select().join(Result).where(Result.server == s).get().path
    Exception_.create(scope="server", server=s, path_pattern=path, reason="NTBackup",
                      expires_at=today - dt.timedelta(days=1))
    assert reevaluate(server_ids=[s.id], today=today - dt.timedelta(days=2)) == 1
    app = make_app(poll_seconds=POLL)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await grid_ready(pilot)
        assert row_of(screen, "acme", "fs01").status == "ok_with_exceptions"
        before = Result.get(Result.server == s)
        assert reevaluate_expired(today) == 1
        after = Result.get(Result.server == s)
        assert (after.parsed_at, after.status) == (before.parsed_at, "failed")
        await wait_for(pilot, lambda: row_of(screen, "acme", "fs01").status == "failed",
                       timeout=POLL * 10)
        assert s.id in screen.changed


def test_signature_moves_when_a_row_changes_without_audit_or_parse_time(any_db):
    """Every UPDATE of a result raises its ``rev`` (a trigger, on SQLite and MariaDB), so the
    poll sees changes that leave the count, the parse time and the audit log as they were:
    an anomaly mark, and a failed fetch replacing a missing night within the same second."""
    from acorntui.db.models import Result
    from acorntui.services import queries
    from acorntui.services.ingest import record_fetch_failed
    from acorntui.services.roles import User

    build_night(2)
    r = Result.select().order_by(Result.id).first()
    assert r.rev == 0
    sig = queries.night_signature(NIGHT)
    hist = queries.server_signature(r.server_id)
    Result.update(anomaly="total size 1.0K, usual 9.9G").where(Result.id == r.id).execute()
    assert Result.get_by_id(r.id).rev == 1
    sig2 = queries.night_signature(NIGHT)
    assert sig2[:4] == sig[:4] and sig2 != sig
    assert queries.server_signature(r.server_id) != hist
    # a missing night, then a failed fetch for it, all within one second of parse time
    other = Result.select().order_by(Result.id.desc()).first()
    stamp = dt.datetime.now().replace(microsecond=0)
    Result.update(code=-2, status="missing", log_sha256="", parsed_at=stamp).where(
        Result.id == other.id).execute()
    sig3 = queries.night_signature(NIGHT)
    boss = User(ME, "tsr3", level=3)
    res = record_fetch_failed("beta", other.server.name, NIGHT, "timed out", user=boss)
    assert res is not None and res.status == "fetch_failed"
    Result.update(parsed_at=stamp).where(Result.id == other.id).execute()  # the same second
    sig4 = queries.night_signature(NIGHT)
    assert sig4[:4] == sig3[:4] and sig4 != sig3


@asynctest
async def test_a_server_ingest_adds_elsewhere_reaches_the_palette(sqlite_db, monkeypatch):
    """The palette's list of servers is reloaded when the poll sees a change: a server first
    seen in a log (ingest writes its server.auto_add audit row) on a night not on screen."""
    from acorntui.db.models import Customer, Result, Server, Update

    act_as(monkeypatch, ME)
    build_night(3)
    app = make_app(poll_seconds=POLL)
    async with app.run_test(size=(120, 30)) as pilot:
        await grid_ready(pilot)
        await wait_for(pilot, lambda: app._targets_loaded)
        assert not any(t[1] == "newsrv" for t in app._servers)
        late = Server.create(customer=Customer.get(Customer.name == "beta"), name="newsrv",
                             registered=False)
        Update.create(login="nightjob", action="server.auto_add", table_name="servers",
                      row_id=late.id, server=late)
        Result.create(server=late, night=NIGHT - dt.timedelta(days=3), code=0, status="ok")
        await wait_for(pilot, lambda: any(t[1] == "newsrv" for t in app._servers),
                       timeout=POLL * 10)


def test_default_poll_interval_is_30_seconds_or_less():
    from acorntui.screens.nightly import NightlyScreen

    assert 0 < NightlyScreen.POLL_SECONDS <= 30


def test_signature_moves_with_every_audited_change(any_db):
    from acorntui.db.models import Result
    from acorntui.services import queries, triage
    from acorntui.services.roles import User

    build_night(2)
    boss = User(ME, "tsr3", level=3)
    sig = queries.night_signature(NIGHT)
    r = Result.select().first()
    triage.add_note(boss, r.server_id, "looking", result_id=r.id)
    sig2 = queries.night_signature(NIGHT)
    assert sig2 != sig and sig2[3] > sig[3]
    changes = queries.changes_since(sig[3])
    assert [(c.login, c.action, c.server_id) for c in changes] == [(ME, "note", r.server_id)]


# -- bulk actions: the service --------------------------------------------------------------------


def _results():
    from acorntui.db.models import Result

    return list(Result.select().order_by(Result.id))


def test_bulk_ack_snooze_and_note_in_one_go_with_one_audit_row_each(any_db):
    from acorntui.db.models import Result, Server, Update
    from acorntui.services import triage
    from acorntui.services.roles import User

    build_night(6)
    boss = User(ME, "tsr3", level=3)
    picked = _results()[:4]
    assert triage.acknowledge_many(boss, [r.id for r in picked], "custbak01 down") == 4
    acked = {r.id for r in Result.select().where(Result.ack_note == "custbak01 down")}
    assert acked == {r.id for r in picked}
    audit = list(Update.select().where(Update.action == "result.ack"))
    assert sorted(u.result_id for u in audit) == sorted(r.id for r in picked)
    assert {u.login for u in audit} == {ME}

    until = dt.date.today() + dt.timedelta(days=2)
    assert triage.snooze_many(boss, [r.server_id for r in picked], until, "move") == 4
    assert Server.select().where(Server.snoozed_until == until).count() == 4
    assert Update.select().where(Update.action == "server.snooze").count() == 4

    assert triage.add_notes(boss, [(r.server_id, r.id) for r in picked], "called") == 4
    notes = list(Update.select().where(Update.action == "note"))
    assert sorted(u.server_id for u in notes) == sorted(r.server_id for r in picked)


def test_bulk_failure_part_way_leaves_no_change_and_no_audit_row(any_db):
    """A result that is gone (deleted by a teammate meanwhile) in the middle of the marked
    rows: the whole action is refused, the rows before it are not changed either."""
    from acorntui.db.models import Result, Server, Update
    from acorntui.services import triage
    from acorntui.services.roles import User

    build_night(6)
    boss = User(ME, "tsr3", level=3)
    rows = _results()
    gone = rows[3]
    Result.delete().where(Result.id == gone.id).execute()
    ids = [r.id for r in rows[:6]]  # 0,1,2 fine, 3 gone, 4,5 fine
    audit_before = Update.select().count()
    with pytest.raises(Result.DoesNotExist):
        triage.acknowledge_many(boss, ids, "all at once")
    assert Result.select().where(Result.ack_note != "").count() == 0
    assert Update.select().count() == audit_before

    until = dt.date.today() + dt.timedelta(days=2)
    sids = [rows[0].server_id, rows[1].server_id, 999999, rows[2].server_id]
    with pytest.raises(Server.DoesNotExist):
        triage.snooze_many(boss, sids, until, "move")
    assert Server.select().where(Server.snoozed_until.is_null(False)).count() == 0
    with pytest.raises(Server.DoesNotExist):
        triage.add_notes(boss, [(s, None) for s in sids], "called")
    assert Update.select().count() == audit_before


def test_bulk_actions_need_the_role(any_db):
    from acorntui.db.models import Update
    from acorntui.services import triage
    from acorntui.services.roles import PermissionDenied, User

    build_night(2)
    carol = User("carol", "csr")
    with pytest.raises(PermissionDenied, match="needs a TSR"):
        triage.acknowledge_many(carol, [r.id for r in _results()], "x")
    with pytest.raises(PermissionDenied, match="needs a TSR"):
        triage.snooze_many(carol, [r.server_id for r in _results()],
                           dt.date.today() + dt.timedelta(days=1), "x")
    assert Update.select().count() == 0


# -- bulk actions and Z from the console --


@asynctest
async def test_marked_rows_acknowledged_and_snoozed_at_once(sqlite_db, monkeypatch):
    from acorntui.db.models import Result, Server, Update
    from acorntui.screens.forms import AckForm, SnoozeForm

    act_as(monkeypatch, ME)
    build_night(8)
    app = make_app(poll_seconds=3600)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await grid_ready(pilot)
        first, second = screen.grid.rows[0], screen.grid.rows[1]
        await pilot.press("space", "space")  # marks a row and moves down: two rows marked
        await pilot.pause()
        assert screen.marked == {first.server_id, second.server_id}
        lines = screen.grid.visible_text()
        assert lines[1].startswith("●") and lines[2].startswith("●")
        assert not lines[3].startswith("●")
        assert "[2 marked]" in static_text(screen, "#detail")
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, AckForm))
        assert "2 marked servers" in str(app.screen.query_one(".hint").render())
        await pilot.press(*"custbak01 rebooting", "enter")
        await wait_for(pilot, lambda: app.screen is screen and not screen.marked)
        acked = {r.server_id for r in Result.select().where(
            Result.ack_note == "custbak01 rebooting")}
        assert acked == {first.server_id, second.server_id}
        assert Update.select().where(Update.action == "result.ack").count() == 2
        assert row_of(screen, "acme", first.server).ack_note == "custbak01 rebooting"

        # * marks what the filter shows; z snoozes them all
        await pilot.press("slash", *"customer:beta", "enter")
        await pilot.press("asterisk")
        await pilot.pause()
        beta = {r.server_id for r in screen.grid.rows}
        assert len(beta) == 3 and screen.marked == beta
        await pilot.press("z")
        await wait_for(pilot, lambda: isinstance(app.screen, SnoozeForm))
        await pilot.press("tab", *"server room move", "ctrl+s")
        await wait_for(pilot, lambda: app.screen is screen and not screen.marked)
        snoozed = {s.id for s in Server.select().where(Server.snoozed_until.is_null(False))}
        assert snoozed == beta
        assert all(r.snoozed for r in screen.grid.rows)
        # escape clears the filter, then (a second time) the marks
        await pilot.press("asterisk", "escape")
        await pilot.pause()
        assert screen.filter_text == "" and len(screen.marked) == 3
        await pilot.press("escape")
        await pilot.pause()
        assert not screen.marked


@asynctest
async def test_custbak_warning_marks_the_outage(sqlite_db, monkeypatch):
    act_as(monkeypatch, ME)
    build_night(5)
    app = make_app(poll_seconds=3600)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await grid_ready(pilot)
        outage = static_text(screen, "#outages")
        assert "custbak01" in outage and "M marks these 8" in outage
        await pilot.press("M")
        await pilot.pause()
        assert len(screen.marked) == 8


@asynctest
async def test_customer_snooze_from_the_grid(sqlite_db, monkeypatch):
    """Z on a row: a maintenance window for its customer, through the same service as
    `acorntui customer snooze`, audited; every server of the customer then shows snoozed."""
    from acorntui.db.models import Customer, Update
    from acorntui.screens.forms import SnoozeForm

    act_as(monkeypatch, ME)
    build_night(4)
    app = make_app(poll_seconds=3600)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await grid_ready(pilot)
        acme0 = screen.grid.rows[0]
        await pilot.press("space")  # a mark made before: Z leaves it alone
        target = next(r for r in screen.grid.rows if r.customer == "beta")
        screen.grid.move_to_key(target.server_id)
        await pilot.press("Z")
        await wait_for(pilot, lambda: isinstance(app.screen, SnoozeForm))
        form = app.screen
        assert "Customer maintenance window" in str(form.query_one(".dialog-title").render())
        assert "customer beta" in str(form.query_one(".hint").render())
        await pilot.press(*["backspace"] * 5, *"+5d", "tab", *"datacentre move", "ctrl+s")
        await wait_for(pilot, lambda: app.screen is screen
                       and all(r.snoozed for r in screen.grid.rows if r.customer == "beta"))
        c = Customer.get(Customer.name == "beta")
        assert c.snoozed_until == dt.date.today() + dt.timedelta(days=5)
        assert c.snooze_reason == "datacentre move"
        u = Update.get(Update.action == "customer.snooze")
        assert (u.login, u.row_id, u.details) == (ME, c.id, "datacentre move")
        assert not any(r.snoozed for r in screen.grid.rows if r.customer == "acme")
        assert screen.marked == {acme0.server_id}
        assert "customer maintenance: datacentre move" in row_of(screen, "beta",
                                                                  "fs00").snooze_reason


@asynctest
async def test_x_on_the_grid_adds_an_exception_and_the_row_turns_ok_star(sqlite_db,
                                                                         monkeypatch):
    from acorntui.db.models import Exception_
    from acorntui.screens.forms import ExceptionForm

    act_as(monkeypatch, ME)
    build_night(3)
    app = make_app(poll_seconds=3600)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await grid_ready(pilot)
        target = screen.grid.current
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ExceptionForm))
        form = app.screen
        assert form.query_one("#pattern").value.endswith("/mail.pst")
        form.query_one("#reason").value = "exported nightly"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is screen and row_of(
            screen, target.customer, target.server).status == "ok_with_exceptions")
        assert Exception_.select().count() == 1


@asynctest
async def test_history_shows_a_teammates_change_to_its_server(db_url, monkeypatch):
    """A server's history is open in one console; another process acknowledges that server's
    night: the acknowledgement shows within the poll interval, on the same night."""
    from acorntui.screens.history import ServerHistoryScreen

    act_as(monkeypatch, ME)
    build_night(13)  # other_console touches fs10, fs11 and fs12
    app = make_app(poll_seconds=POLL)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await grid_ready(pilot)
        screen.grid.move_to_key(row_of(screen, "acme", "fs10").server_id)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ServerHistoryScreen)
                       and app.screen.history)
        hist = app.screen
        assert hist.current.ack_note == ""
        p = other_console(db_url)
        assert p.returncode == 0, p.stderr
        await wait_for(pilot, lambda: hist.current is not None
                       and hist.current.ack_note == "disk replaced, watching",
                       timeout=POLL * 10)
        assert hist.current.night == NIGHT
        assert any(e.action == "result.ack" for e in hist.timeline)
