"""The console, driven by keys through Textual's Pilot, on a demo database built through the
real parser (fixed date, so what it shows does not follow the calendar)."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import shutil
from pathlib import Path

import pytest
from conftest import act_as, acting_as

DEMO_TODAY = dt.date(2025, 3, 15)
LAST_NIGHT = DEMO_TODAY - dt.timedelta(days=1)
LOGIN = "tester"


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory) -> Path:
    """A small demo database, built once (30 servers x 14 nights, as `acorntui demo` does)."""
    from acorntui.jobs.demo import build_demo

    path = tmp_path_factory.mktemp("demo") / "demo.db"
    with acting_as(LOGIN):  # the demo makes the current login a TSR3
        build_demo(path, servers=30, days=14, today=DEMO_TODAY,
                   spool=path.with_name("demo.db-spool"))
    from acorntui import db as dbpkg

    dbpkg.close()
    return path


@pytest.fixture
def demo_db(demo_template, tmp_path, monkeypatch):
    """A private copy of the demo database, connected."""
    from acorntui import db as dbpkg

    act_as(monkeypatch, LOGIN)
    path = tmp_path / "demo.db"
    shutil.copy(demo_template, path)
    shutil.copytree(demo_template.with_name("demo.db-spool"), tmp_path / "spool")
    database = dbpkg.connect(f"sqlite:///{path}")
    yield database
    database.close()


def asynctest(fn):
    """Run an async test without an asyncio plugin (none is installed)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    return wrapper


def make_app(**kw):
    from acorntui.app import AcornApp

    return AcornApp(cursor_blink=False, **kw)


async def wait_for(pilot, cond, timeout: float = 10.0) -> None:
    """Let workers finish until ``cond()`` holds."""
    loop_s = 0.05
    for _ in range(int(timeout / loop_s)):
        await pilot.pause(loop_s)
        try:
            if cond():
                await pilot.pause()
                return
        except Exception:  # noqa: BLE001 - the screen may not be there yet
            pass
    raise AssertionError("condition not reached in time")


async def palette_settled(pilot, text: str, timeout: float = 10.0) -> None:
    """Wait until the command palette has searched for all of ``text`` (its search worker
    done) and its highlighted hit mentions ``text``: what `enter` then picks."""
    from textual.command import CommandInput, CommandList, CommandPalette

    app = pilot.app

    def settled() -> bool:
        pal = app.screen
        if not isinstance(pal, CommandPalette):
            return False
        if pal.query_one(CommandInput).value != text:
            return False
        if any(not w.is_finished for w in app.workers
               if w.group == CommandPalette._GATHER_COMMANDS_GROUP):
            return False
        hits = pal.query_one(CommandList)
        if hits.highlighted is None:
            return False
        top = str(hits.get_option_at_index(hits.highlighted).prompt)
        return text.casefold() in top.casefold()

    await wait_for(pilot, settled, timeout=timeout)


async def grid_ready(pilot):
    from acorntui.screens.nightly import NightlyScreen

    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, NightlyScreen) and app.screen.loaded)
    return app.screen


def grid_lines(screen) -> list[str]:
    return screen.grid.visible_text()


def static_text(screen, selector: str) -> str:
    from textual.widgets import Static

    return str(screen.query_one(selector, Static).render())


def table_texts(table) -> list[list[str]]:
    rows = []
    for i in range(table.row_count):
        rows.append([str(c) for c in table.get_row_at(i)])
    return rows


# -- the grid ------------------------------------------------------------------------------------

@asynctest
async def test_grid_failing_first_summary_and_outage(demo_db):
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await grid_ready(pilot)
        lines = grid_lines(screen)
        assert lines[0].split()[:3] == ["Customer", "Server", "Status▲"]  # the default sort
        assert "FAILED" in lines[1] or "INCOMPLETE" in lines[1]
        statuses = [r.status for r in screen.grid.rows]
        assert statuses.index("ok") > max(i for i, s in enumerate(statuses)
                                          if s in ("failed", "incomplete"))
        summary = static_text(screen, "#summary")
        assert "FAILED" in summary and "OK" in summary and "30 servers" not in summary
        assert f"{len(screen.all_rows)} servers" in summary
        assert "night of Fri 2025-03-14 (latest)" in static_text(screen, "#topbar")
        outage = static_text(screen, "#outages")
        assert "custbak03" in outage and "TSR3" in outage


@asynctest
async def test_drill_down_to_history_and_back(demo_db):
    from acorntui.screens.history import ServerHistoryScreen
    from acorntui.screens.nightly import NightlyScreen

    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await grid_ready(pilot)
        row = screen.grid.current
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ServerHistoryScreen)
                       and app.screen.history and app.screen.current is not None)
        hist = app.screen
        assert f"{row.customer}/{row.server}" in static_text(hist, "#topbar")
        results = table_texts(hist.query_one("#results"))
        assert results[0][0] == LAST_NIGHT.isoformat()
        assert len(results) == 14
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, NightlyScreen)


@asynctest
async def test_filter_by_status_and_words(demo_db):
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await grid_ready(pilot)
        total = screen.grid.row_count
        await pilot.press("slash")
        await pilot.press(*"status:failed")
        await pilot.pause()
        assert 0 < screen.grid.row_count < total
        assert all(r.status == "failed" for r in screen.grid.rows)
        assert all("FAILED" in line for line in grid_lines(screen)[1:screen.grid.row_count + 1])
        assert f"showing {screen.grid.row_count} of {total}" in static_text(screen, "#summary")
        await pilot.press("enter")  # keep the filter, back to the grid
        assert screen.grid.has_focus
        await pilot.press("escape")  # clears it
        await pilot.pause()
        assert screen.grid.row_count == total
        # a customer's name narrows to that customer
        cust = screen.all_rows[-1].customer
        await pilot.press("slash")
        screen.query_one("#filter").value = cust
        await pilot.press("enter")
        await pilot.pause()
        assert {r.customer for r in screen.grid.rows} == {cust}


@asynctest
async def test_previous_and_next_night(demo_db):
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await grid_ready(pilot)
        assert screen.night == LAST_NIGHT
        await pilot.press("left_square_bracket")
        await wait_for(pilot, lambda: screen.night == LAST_NIGHT - dt.timedelta(days=1))
        assert "(latest 2025-03-14)" in static_text(screen, "#topbar")
        # the custbak outage was last night only
        assert not screen.query_one("#outages").display or "custbak03" not in static_text(
            screen, "#outages")
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: screen.night == LAST_NIGHT)


@asynctest
async def test_sort_picks_a_column(demo_db):
    from acorntui.screens.nightly import SortPicker

    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await grid_ready(pilot)
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, SortPicker))
        await pilot.press("home", "enter")  # the first column: Customer
        await wait_for(pilot, lambda: app.screen is screen)
        assert "sort: customer ▲" in static_text(screen, "#topbar")
        names = [(r.customer.lower(), r.server.lower()) for r in screen.grid.rows]
        assert names == sorted(names)


@asynctest
async def test_exception_from_a_failure_turns_the_row_ok_star(demo_db):
    from acorntui.screens.forms import ExceptionForm
    from acorntui.screens.history import ServerHistoryScreen

    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await grid_ready(pilot)
        target = next(r for r in screen.grid.rows if r.status == "failed" and r.code == 23
                      and r.error_count - r.excepted_count == 1)
        screen.grid.move_to_key(target.server_id)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ServerHistoryScreen)
                       and app.screen.failures)
        hist = app.screen
        failing = next(f for f in hist.failures if not f.excepted)
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ExceptionForm))
        form = app.screen
        assert form.query_one("#pattern").value == failing.path
        form.query_one("#reason").value = "backed up by a nightly VSS copy"
        form.query_one("#method").value = "Hobocopy"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ServerHistoryScreen)
                       and app.screen.current is not None
                       and app.screen.current.status == "ok_with_exceptions"
                       and app.screen.failures)
        assert all(f.excepted for f in hist.failures)
        assert any(f.exception for f in hist.failures)
        first = table_texts(hist.query_one("#results"))[0]
        assert first[2] == "OK*"
        await pilot.press("escape")
        await wait_for(pilot, lambda: next(r for r in screen.all_rows
                                           if r.server_id == target.server_id).status
                       == "ok_with_exceptions")
        line = next(t for t in grid_lines(screen) if target.customer in t
                    and f" {target.server} " in t)
        assert "OK*" in line


@asynctest
async def test_acknowledge_shows_in_row_and_history(demo_db):
    from acorntui.db.models import Result
    from acorntui.screens.forms import AckForm
    from acorntui.screens.history import ServerHistoryScreen

    app = make_app()
    async with app.run_test(size=(160, 36)) as pilot:
        screen = await grid_ready(pilot)
        target = next(r for r in screen.grid.rows if r.status == "failed" and not r.ack_note)
        screen.grid.move_to_key(target.server_id)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, AckForm))
        await pilot.press(*"called the customer", "enter")
        await wait_for(pilot, lambda: next(r for r in screen.all_rows
                                           if r.server_id == target.server_id).ack_note)
        assert Result.get_by_id(target.result_id).ack_by == LOGIN
        line = grid_lines(screen)[screen.grid.cursor_row + 1]
        assert "tester: called the" in line and " A " in line  # Note may be cut: the detail
        assert "ACK by tester: called the customer" in static_text(screen, "#detail")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ServerHistoryScreen)
                       and app.screen.history)
        timeline = table_texts(app.screen.query_one("#timeline"))
        assert any(row[1] == LOGIN and row[2] == "result.ack"
                   and row[3] == "called the customer" for row in timeline)


@asynctest
async def test_snooze_marks_the_server_and_stops_counting_it(demo_db):
    from acorntui.screens.forms import SnoozeForm

    app = make_app()
    async with app.run_test(size=(140, 36)) as pilot:
        screen = await grid_ready(pilot)
        target = next(r for r in screen.grid.rows if r.status == "failed" and not r.snoozed)
        before = screen.query_one("#summary").render()
        screen.grid.move_to_key(target.server_id)
        await pilot.press("z")
        await wait_for(pilot, lambda: isinstance(app.screen, SnoozeForm))
        # a snooze must end in the future of the real today
        until = (dt.date.today() + dt.timedelta(days=5)).isoformat()
        app.screen.query_one("#until").value = until
        await pilot.press("enter", *"customer on holiday", "enter")
        await wait_for(pilot, lambda: next(r for r in screen.all_rows
                                           if r.server_id == target.server_id).snoozed)
        assert "Z" in grid_lines(screen)[screen.grid.cursor_row + 1]
        assert f"SNOOZED until {until}: customer on holiday" in static_text(screen, "#detail")
        assert str(before) != static_text(screen, "#summary")


@asynctest
async def test_reparse_through_the_real_function_from_the_spool(demo_db, tmp_path):
    from acorntui.config import Config

    cfg = Config(path=None, exists=False)
    cfg.spool_dir = tmp_path / "spool"
    cfg.report_servers = []
    app = make_app(cfg=cfg)
    async with app.run_test(size=(140, 36)) as pilot:
        screen = await grid_ready(pilot)
        target = next(r for r in screen.grid.rows if r.status == "failed" and r.code == 12)
        # the server's log on the spool is replaced by a clean one (uploaded late)
        log = cfg.spool_dir / target.customer / f"{target.server}.out"
        log.write_bytes(b"sending incremental file list\r\n\r\nsent 1,000 bytes  received 20 "
                        b"bytes  340.00 bytes/sec\r\ntotal size is 9,000,000  speedup is 8.82\r\n")
        screen.grid.move_to_key(target.server_id)
        await pilot.press("r")
        assert any("Re-parsing" in str(n.message) for n in app._notifications)
        await wait_for(pilot, lambda: next(r for r in screen.all_rows
                                           if r.server_id == target.server_id).status == "ok")
        assert target.server_id not in screen.busy
        line = next(t for t in grid_lines(screen) if f" {target.server} " in t
                    and target.customer in t)
        # rsync says 0, so the stored status is ok; but 9 MB against this server's usual tens
        # of GB is the green that isn't (issue 15): the re-parse judges it and the row says OK?
        assert " OK? " in line and " 0 " in line and "far smaller than" in line


@asynctest
async def test_reparse_error_is_shown_and_the_row_restored(demo_db, tmp_path):
    from acorntui.config import Config

    cfg = Config(path=None, exists=False)
    cfg.spool_dir = tmp_path / "empty-spool"
    cfg.report_servers = []
    app = make_app(cfg=cfg)
    async with app.run_test(size=(140, 36)) as pilot:
        screen = await grid_ready(pilot)
        target = screen.grid.current
        await pilot.press("r")
        await wait_for(pilot, lambda: target.server_id not in screen.busy)
        assert any("spool has no" in str(n.message) for n in app._notifications)
        assert "re-parsing" not in grid_lines(screen)[screen.grid.cursor_row + 1]


@asynctest
async def test_code_reference_lands_on_the_row_code_and_searches(demo_db):
    from acorntui.screens.codes import CodeReferenceScreen

    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await grid_ready(pilot)
        target = next(r for r in screen.grid.rows if r.code == 12)
        screen.grid.move_to_key(target.server_id)
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CodeReferenceScreen)
                       and app.screen.codes)
        codes = app.screen
        detail = static_text(codes, "#detail")
        assert detail.startswith("Code 12") and "rsync's name" in detail
        await pilot.press("slash", *"vanished")
        await pilot.pause()
        shown = [c.code for c in codes.shown]
        assert 24 in shown and 12 not in shown
        await pilot.press("escape")  # clears the search
        await pilot.pause()
        assert len(codes.shown) == len(codes.codes)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen


@asynctest
async def test_palette_jumps_to_a_server_and_to_a_customer(demo_db):
    from acorntui.screens.history import ServerHistoryScreen

    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await grid_ready(pilot)
        target = screen.all_rows[-1]
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*f"{target.customer}/{target.server}")
        await palette_settled(pilot, f"{target.customer}/{target.server}")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ServerHistoryScreen))
        assert app.screen.server_id == target.server_id
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await pilot.pause()
        other = screen.all_rows[0].customer
        await pilot.press(*other)
        await palette_settled(pilot, other)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is screen
        # the grid now holds exactly that customer's servers, and it is not empty
        expected = sorted(r.server for r in screen.all_rows if r.customer == other)
        await wait_for(pilot, lambda: sorted(r.server for r in screen.grid.rows) == expected)
        assert expected and {r.customer for r in screen.grid.rows} == {other}


@asynctest
async def test_exception_editor_lists_flags_stale_disables_and_deletes(demo_db):
    from acorntui.db.models import Exception_
    from acorntui.screens.exceptions import ExceptionsScreen
    from acorntui.screens.forms import ConfirmScreen

    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await grid_ready(pilot)
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ExceptionsScreen)
                       and app.screen.rows)
        ex = app.screen
        rows = table_texts(ex.query_one("#exceptions"))
        by_pattern = {r[4]: r for r in rows}
        assert by_pattern["*/Archive/old-mail-2009.pst"][1] == "STALE"
        assert int(by_pattern["*/Outlook/*.pst"][5]) > 0
        assert by_pattern["*/~$*.docx"][1] == "expired"
        # disable, then delete with confirmation
        first = ex.shown[0]
        await pilot.press("d")
        await wait_for(pilot, lambda: not Exception_.get_by_id(first.id).active
                       and not ex.shown[0].active)
        assert table_texts(ex.query_one("#exceptions"))[0][1] == "disabled"
        await pilot.press("delete")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: Exception_.get_or_none(Exception_.id == first.id) is None
                       and all(r.id != first.id for r in ex.rows))


@asynctest
async def test_exception_editor_adds_by_keyboard(demo_db):
    from acorntui.db.models import Exception_
    from acorntui.screens.exceptions import ExceptionsScreen
    from acorntui.screens.forms import ExceptionForm

    app = make_app()
    async with app.run_test(size=(160, 44)) as pilot:
        screen = await grid_ready(pilot)
        cust = screen.all_rows[0].customer
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ExceptionsScreen)
                       and app.screen.rows)
        await pilot.press("plus")
        await wait_for(pilot, lambda: isinstance(app.screen, ExceptionForm))
        await pilot.press(*"*/Scans/*.tif", "tab", "left", "enter", "tab", *cust, "tab",
                          *"scanner locks them", "ctrl+s")
        await wait_for(pilot, lambda: Exception_.get_or_none(
            Exception_.path_pattern == "*/Scans/*.tif") is not None)
        e = Exception_.get(Exception_.path_pattern == "*/Scans/*.tif")
        assert e.scope == "customer" and e.customer.name == cust
        assert e.reason == "scanner locks them" and e.created_by == LOGIN


@asynctest
async def test_untrusted_names_are_shown_literally(demo_db):
    from acorntui.db.models import Customer, Failure, Result, Server
    from acorntui.screens.history import ServerHistoryScreen

    cust = Customer.create(name="[red]evil[/]", display_name="x")
    srv = Server.create(customer=cust, name="s\x1b[1m", custbak="[bold]cb")
    res = Result.create(server=srv, night=LAST_NIGHT, code=23, status="failed",
                        reason="2 file errors not excepted", error_count=2)
    Failure.create(result=res, path="/cygdrive/E/[bold]Budget[/] 2024.xlsx",
                   message="send_files failed to open: Permission denied (13)")
    Failure.create(result=res, path="/cygdrive/E/\x1b[31mred.txt", message="vanished")
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await grid_ready(pilot)
        screen.grid.move_to_key(srv.id)
        await pilot.pause()
        line = grid_lines(screen)[screen.grid.cursor_row + 1]
        assert "[red]evil[/]" in line and "s\\x1b[1m" in line and "[bold]cb" in line
        assert "\x1b" not in line
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ServerHistoryScreen)
                       and app.screen.failures)
        files = [r[1] for r in table_texts(app.screen.query_one("#failures"))]
        # literal, cut in the middle when the column is narrow (the file name kept)
        assert any(f.startswith("/cygdrive/E/[bold]") and f.endswith("2024.xlsx")
                   for f in files), files
        assert "/cygdrive/E/\\x1b[31mred.txt" in files
        assert "/cygdrive/E/[bold]Budget[/] 2024.xlsx" in static_text(app.screen,
                                                                     "#failure-detail")
        assert "[red]evil[/]/s\\x1b[1m" in static_text(app.screen, "#topbar")


@asynctest
async def test_database_error_shows_a_banner_and_refresh_recovers(demo_db, tmp_path):
    """A real database error while reading: another connection takes the results table away
    (as a restore or a botched migration would). The banner says what the database said, the
    rows already shown stay, and ctrl+r recovers once the table is back. (A write lock cannot
    stop a read here: the database runs in WAL mode; the locked-writer case is in
    test_reliability_console.py with a real second writer.)"""
    import sqlite3

    path = demo_db.database

    def other_connection(sql: str) -> None:
        con = sqlite3.connect(path, timeout=10)
        try:
            con.execute(sql)
            con.commit()
        finally:
            con.close()

    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await grid_ready(pilot)
        rows = screen.grid.row_count
        other_connection("ALTER TABLE results RENAME TO results_away")
        try:
            await pilot.press("ctrl+r")
            banner = screen.query_one("#banner")
            await wait_for(pilot, lambda: banner.has_class("-shown"))
            assert "Database unavailable: no such table: results" in str(banner.render())
            assert app.is_running and screen.grid.row_count == rows  # the old rows stay
        finally:
            other_connection("ALTER TABLE results_away RENAME TO results")
        await pilot.press("f5")
        await wait_for(pilot, lambda: not banner.has_class("-shown"))
        assert screen.grid.row_count == rows


@asynctest
async def test_poll_picks_up_a_new_night(demo_db):
    from acorntui.db.models import Result, Server

    app = make_app(poll_seconds=0.3)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await grid_ready(pilot)
        srv = Server.select().first()
        Result.create(server=srv, night=DEMO_TODAY, code=0, status="ok")
        await wait_for(pilot, lambda: screen.night == DEMO_TODAY)
        assert "night of Sat 2025-03-15 (latest)" in static_text(screen, "#topbar")


@asynctest
async def test_help_and_management_keys(demo_db):
    from acorntui.screens.help import HelpScreen

    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await grid_ready(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen
        from acorntui.screens.management import ManagementScreen

        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, ManagementScreen))
        # the demo's login is a TSR3: the screen opens, with no refusal or "not available"
        assert [n.message for n in app._notifications] == []
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)


@asynctest
async def test_fits_an_80x24_terminal(demo_db):
    """The triage columns all fit 80 columns, no side-scrolling; wide terminals show all."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await grid_ready(pilot)
        lines = grid_lines(screen)
        assert len(lines) >= 10
        header = [h.rstrip("▲▼") for h in lines[0].split()]
        for col in ("Customer", "Server", "Status", "Code", "New/Rec", "LastOK", "Bad"):
            assert col in header, header
        # Custbak stays while the custbak warning is up (the demo's night has one)
        assert "Sent" not in header and "Custbak" in header
        assert lines[1].split()[2] in ("FAILED", "INCOMPLETE")
        assert screen.grid.virtual_size.width <= screen.grid.scrollable_content_region.width
        await pilot.press("right", "right")
        await pilot.pause()
        assert screen.grid.scroll_x == 0
        # what the hidden columns say is in the detail line
        r = screen.grid.current
        assert f"TSR {r.tsr}" in static_text(screen, "#detail")
        assert "servers" in static_text(screen, "#summary")
    app = make_app()
    async with app.run_test(size=(200, 50)) as pilot:
        screen = await grid_ready(pilot)
        header = [h.rstrip("▲▼") for h in grid_lines(screen)[0].split()]
        for col in ("Flg", "Meaning", "Size", "Sent", "TSR", "Custbak", "Note"):
            assert col in header, header


@asynctest
async def test_light_theme(demo_db):
    app = make_app(theme="textual-light")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await grid_ready(pilot)
        assert app.theme == "textual-light"
        assert grid_lines(screen)[1].strip()


# -- issue #5/#7 follow-ups: palette, notes, scope picker, roles, history widths -----------------

async def palette_pick(pilot, text: str) -> None:
    await pilot.press("ctrl+p")
    await pilot.pause()
    await pilot.press(*text)
    await palette_settled(pilot, text)
    await pilot.press("enter")


@asynctest
async def test_palette_reaches_inactive_and_unregistered_servers_and_new_ones(demo_db):
    from acorntui.db.models import Customer, Server
    from acorntui.screens.history import ServerHistoryScreen

    gone = Customer.create(name="zz-closed", display_name="closed", active=False)
    old = Server.create(customer=gone, name="OLDFS", active=False)
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await grid_ready(pilot)
        await wait_for(pilot, lambda: app._targets_loaded)
        assert all(r.server_id != old.id for r in screen.all_rows)  # not on the grid
        await palette_pick(pilot, "zz-closed/OLDFS")
        await wait_for(pilot, lambda: isinstance(app.screen, ServerHistoryScreen))
        assert app.screen.server_id == old.id
        await pilot.press("escape")
        await pilot.pause()
        # a server added by someone else reaches the palette on refresh (ctrl+r)
        late = Server.create(customer=gone, name="LATE01", registered=False)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: any(s[2] == late.id for s in app._servers))
        hits = [h for h in app.jump_targets() if h[1] == "zz-closed/LATE01"]
        assert hits and "not registered" in hits[0][3]
        # jumping to a customer filters the grid to exactly that customer
        cust = screen.all_rows[0].customer
        await palette_pick(pilot, cust)
        await pilot.pause()
        assert screen.grid.row_count and {r.customer for r in screen.grid.rows} == {cust}


@asynctest
async def test_note_from_grid_and_history_lands_in_the_timeline(demo_db):
    from acorntui.db.models import Update
    from acorntui.screens.forms import NoteForm
    from acorntui.screens.history import ServerHistoryScreen

    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await grid_ready(pilot)
        target = screen.grid.current
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NoteForm))
        notes = Update.select().where(Update.action == "note")
        before = notes.count()
        await pilot.press(*"waiting for [b]customer[/b]", "enter")
        await wait_for(pilot, lambda: notes.count() > before)
        note = notes.order_by(Update.id.desc()).first()
        assert note.server_id == target.server_id and note.result_id == target.result_id
        assert note.login == LOGIN
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ServerHistoryScreen)
                       and app.screen.history)
        hist = app.screen
        rows = table_texts(hist.query_one("#timeline"))
        assert any(r[2] == "note" and r[3] == "waiting for [b]customer[/b]" for r in rows)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NoteForm))
        await pilot.press(*"second note", "enter")
        await wait_for(pilot, lambda: any(
            r[3] == "second note" for r in table_texts(hist.query_one("#timeline"))))


@asynctest
async def test_exception_form_scope_comes_from_the_row(demo_db):
    from acorntui.db.models import Exception_
    from acorntui.screens.forms import ExceptionForm
    from acorntui.screens.history import ServerHistoryScreen

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await grid_ready(pilot)
        target = next(r for r in screen.grid.rows if r.status == "failed" and r.code == 23
                      and r.error_count > r.excepted_count)
        screen.grid.move_to_key(target.server_id)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ServerHistoryScreen)
                       and app.screen.failures)
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ExceptionForm))
        form = app.screen
        assert static_text(form, "#applies-hint") == \
            f"applies to: {target.customer}/{target.server}"
        await pilot.press("tab", "right", "enter")  # scope: customer
        await pilot.pause()
        assert static_text(form, "#applies-hint") == f"applies to: {target.customer}"
        form.query_one("#pattern").value = "*/QuickBooks/*.QBW"
        form.query_one("#reason").value = "QuickBooks locks it; copied by its own backup"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: Exception_.get_or_none(
            Exception_.path_pattern == "*/QuickBooks/*.QBW") is not None)
        e = Exception_.get(Exception_.path_pattern == "*/QuickBooks/*.QBW")
        assert e.scope == "customer" and e.customer_id == target.customer_id


@asynctest
async def test_exception_editor_picks_a_server_from_the_list(demo_db):
    from acorntui.db.models import Exception_, Server
    from acorntui.screens.exceptions import ExceptionsScreen
    from acorntui.screens.forms import ExceptionForm

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await grid_ready(pilot)
        cust = screen.all_rows[0].customer
        servers = sorted(r.server for r in screen.all_rows if r.customer == cust)
        assert len(servers) >= 2
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ExceptionsScreen)
                       and app.screen.rows)
        await pilot.press("plus")
        await wait_for(pilot, lambda: isinstance(app.screen, ExceptionForm))
        form = app.screen
        # scope starts global; two steps left is server
        await pilot.press(*"*/Temp/*", "tab", "left", "left", "enter", "tab", *cust)
        await pilot.pause()
        assert form.shown_choices[:2] == [f"{cust}/{s}" for s in servers[:2]]
        await pilot.press("down")  # the second server
        await pilot.pause()
        assert static_text(form, "#applies-hint") == f"applies to: {cust}/{servers[1]}"
        await pilot.press("enter", *"temp files", "ctrl+s")
        await wait_for(pilot, lambda: Exception_.get_or_none(
            Exception_.path_pattern == "*/Temp/*") is not None)
        e = Exception_.get(Exception_.path_pattern == "*/Temp/*")
        s = Server.get_by_id(e.server_id)
        assert e.scope == "server" and (s.customer.name, s.name) == (cust, servers[1])
        # nothing picked (no match): refused in the form, not saved
        await pilot.press("plus")
        await wait_for(pilot, lambda: isinstance(app.screen, ExceptionForm))
        form = app.screen
        await pilot.press(*"*/x/*", "tab", "left", "enter", "tab", *"no-such-name", "tab",
                          *"why", "ctrl+s")
        await pilot.pause()
        assert app.screen is form
        assert "choose the customer" in static_text(form, "#form-error")


@asynctest
async def test_csr_is_refused_with_the_role_named_and_nothing_changes(demo_db, monkeypatch):
    from acorntui.db.models import Csr, Exception_, Result, Server, Update
    from acorntui.screens.exceptions import ExceptionsScreen
    from acorntui.screens.forms import NoteForm
    from acorntui.screens.history import ServerHistoryScreen

    Csr.create(login="carol", name="Carol")
    act_as(monkeypatch, "carol")
    before = Update.select().count()
    disabled = Exception_.select().where(Exception_.active == False).count()  # noqa: E712
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await grid_ready(pilot)
        assert app.user.login == "carol" and app.user.role == "csr"
        assert "you: carol (CSR)" in static_text(screen, "#topbar")
        target = next(r for r in screen.grid.rows if r.status == "failed" and r.code == 23
                      and r.error_count > r.excepted_count)
        screen.grid.move_to_key(target.server_id)
        await pilot.pause()

        def refusals() -> list[str]:
            return [str(n.message) for n in app._notifications if n.title == "Not allowed"]

        for key, what in (("a", "acknowledge results"), ("z", "snooze servers"),
                          ("r", "re-parse results"), ("x", "add or change exceptions"),
                          ("Z", "snooze servers")):
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is screen, key
            assert any(f"carol (CSR) may not {what}: that needs a TSR" in m
                       for m in refusals()), (key, refusals())
        assert target.server_id not in screen.busy
        # a CSR may add notes
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NoteForm))
        await pilot.press("escape")
        await pilot.pause()
        # history: x refused
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ServerHistoryScreen)
                       and app.screen.failures)
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ServerHistoryScreen)
        assert any("may not add or change exceptions: that needs a TSR" in m
                   for m in refusals())
        await pilot.press("escape")
        await pilot.pause()
        # exception editor: add, edit, disable, delete refused
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ExceptionsScreen)
                       and app.screen.rows)
        n = len(refusals())
        for key in ("plus", "enter", "d", "delete"):
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, ExceptionsScreen), key
        assert len(refusals()) == n + 4
        await pilot.press("escape")
        await pilot.pause()
        # management opens to browse; add/edit refused naming TSR3
        await pilot.press("m")
        await pilot.pause(0.5)
        await app.workers.wait_for_complete()
        await pilot.pause()
        manage = app.screen
        for key in ("plus", "enter"):
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is manage, key
        assert any("may not manage customers, servers and reps: that needs a TSR3" in m
                   for m in refusals())
    assert Update.select().count() == before
    assert Result.get_by_id(target.result_id).ack_note == target.ack_note
    assert Server.get_by_id(target.server_id).snoozed_until == target.snoozed_until
    assert Exception_.select().where(Exception_.active == False).count() == disabled  # noqa: E712


@asynctest
async def test_history_file_column_uses_the_width_and_shows_the_full_path(demo_db):
    from acorntui.db.models import Failure
    from acorntui.screens.history import ServerHistoryScreen

    app = make_app()
    async with app.run_test(size=(200, 45)) as pilot:
        screen = await grid_ready(pilot)
        target = next(r for r in screen.grid.rows if r.error_count)
        long_path = "/cygdrive/E/shares/" + "/".join(f"folder{i:02d}" for i in range(12)) \
            + "/[red]report[/] final.xlsx"
        Failure.create(result=target.result_id, path=long_path, line=999,
                       message=f'rsync: send_files failed to open "{long_path}": '
                               "Permission denied (13)")
        screen.grid.move_to_key(target.server_id)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ServerHistoryScreen)
                       and app.screen.failures)
        hist = app.screen
        table = hist.query_one("#failures")
        width = next(c.width for c in table.columns.values() if str(c.label) == "File")
        assert width > 46
        await pilot.press("tab")
        index = next(i for i, f in enumerate(hist.failures) if f.path == long_path)
        table.move_cursor(row=index)
        await pilot.pause()
        detail = static_text(hist, "#failure-detail")
        assert long_path in detail.replace("\n", "")
        assert "Permission denied (13)" in detail and "not excepted" in detail
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:  # stacked, still shows the file errors
        screen = await grid_ready(pilot)
        screen.grid.move_to_key(target.server_id)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ServerHistoryScreen)
                       and app.screen.failures)
        assert app.screen.has_class("-narrow")
        table = app.screen.query_one("#failures")
        assert table.size.height >= 3 and table.size.width >= 70


@asynctest
async def test_console_on_mariadb_sees_results_recorded_by_another_connection(mariadb_db,
                                                                            monkeypatch):
    """The grid on MariaDB; a result written by another connection shows after ctrl+r."""
    import pymysql

    from acorntui.db.models import Customer, Result, Server, Tsr

    act_as(monkeypatch, LOGIN)
    Tsr.create(login=LOGIN, name="Tester", level=3)
    cust = Customer.create(name="maria-cust", display_name="M")
    s1 = Server.create(customer=cust, name="FS01")
    s2 = Server.create(customer=cust, name="EXCH01")
    Result.create(server=s1, night=LAST_NIGHT, code=0, status="ok")
    Result.create(server=s2, night=LAST_NIGHT, code=12, status="failed")
    p = mariadb_db.connect_params
    app = make_app(poll_seconds=3600)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await grid_ready(pilot)
        assert screen.night == LAST_NIGHT
        shown = {r.server: r.status for r in screen.grid.rows}
        assert shown == {"FS01": "ok", "EXCH01": "failed"}
        # another console/ingest on its own connection records a new server's result
        other = pymysql.connect(host=p["host"], port=p["port"], user=p["user"],
                                database=mariadb_db.database, autocommit=True)
        try:
            with other.cursor() as cur:
                cur.execute("INSERT INTO servers (customer_id, name, description, os, role, "
                            "custbak, active, registered, snooze_reason, shares, excludes, "
                            "key_path, mirror_path, report_host, created) VALUES (%s, 'SQL01', "
                            "'', '', '', '', 1, 1, '', '', '', '', '', '', NOW())", (cust.id,))
                sid = cur.lastrowid
                cur.execute("UPDATE results SET status='ok', code=0 WHERE server_id=%s",
                            (s2.id,))
                cur.execute("INSERT INTO results (server_id, night, code, status, reason, "
                            "log_path, log_sha256, rsync_version, parsed_at, error_count, "
                            "excepted_count, ack_note, ack_by) VALUES (%s, %s, 23, 'failed', "
                            "'', '', '', '', NOW(), 1, 0, '', '')",
                            (sid, LAST_NIGHT))
        finally:
            other.close()
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: len(screen.grid.rows) == 3)
        shown = {r.server: r.status for r in screen.grid.rows}
        assert shown == {"FS01": "ok", "EXCH01": "ok", "SQL01": "failed"}
        assert any("SQL01" in line for line in grid_lines(screen))


# -- rough edges a TSR reported ---------------------------------------------------------------

@asynctest
async def test_grid_note_column_shows_the_latest_note_or_ack_with_its_author(demo_db):
    from acorntui.screens.forms import AckForm, NoteForm

    app = make_app()
    async with app.run_test(size=(160, 36)) as pilot:
        screen = await grid_ready(pilot)
        target = next(r for r in screen.grid.rows if r.status == "failed" and not r.ack_note)
        screen.grid.move_to_key(target.server_id)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NoteForm))
        await pilot.press(*"[b]rang[/b] the office", "enter")
        await wait_for(pilot, lambda: target.server_id in screen.remarks)
        line = grid_lines(screen)[screen.grid.cursor_row + 1]
        assert f"{LOGIN}: [b]rang[/b] the" in line
        assert f"NOTE by {LOGIN}: [b]rang[/b] the office" in static_text(screen, "#detail")
        # an acknowledgement made later is the latest word
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, AckForm))
        await pilot.press(*"restore tested", "enter")
        await wait_for(pilot, lambda: screen.remarks[target.server_id].kind == "ack")
        line = grid_lines(screen)[screen.grid.cursor_row + 1]
        assert f"{LOGIN}: restore tested" in line
    # a fresh load of the night carries the notes too (one query, in the load worker)
    app = make_app()
    async with app.run_test(size=(160, 36)) as pilot:
        screen = await grid_ready(pilot)
        assert screen.remarks[target.server_id].text == "restore tested"


@pytest.mark.parametrize("size", [(80, 24), (120, 35)])
@asynctest
async def test_footer_keeps_help_manage_refresh_and_quit_on_screen(demo_db, size):
    from textual.widgets._footer import FooterKey

    from acorntui.screens.history import ServerHistoryScreen

    app = make_app()
    async with app.run_test(size=size) as pilot:
        await grid_ready(pilot)
        await pilot.pause()

        def shown() -> dict[str, tuple[int, int]]:
            keys = app.screen.query(FooterKey)
            return {k.action: (k.region.x, k.region.right) for k in keys
                    if "-command-palette" not in k.classes and k.region.width}

        keys = shown()
        palette = next(k.region.x for k in app.screen.query(FooterKey)
                       if "-command-palette" in k.classes)
        for action in ("help", "history", "management", "refresh", "app.quit"):
            assert action in keys, (action, keys)
        assert max(right for _x, right in keys.values()) <= palette
        if size[0] >= 120:
            assert "snooze" in keys and "sort" in keys
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ServerHistoryScreen)
                       and app.screen.history)
        await pilot.pause()
        keys = shown()
        for action in ("back", "help", "timeline", "refresh"):
            assert action in keys, (action, keys)
        assert max(right for _x, right in keys.values()) <= size[0] - 12


@asynctest
async def test_history_at_80x24_shows_the_timeline_with_t(demo_db):
    from acorntui.screens.history import ServerHistoryScreen

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await grid_ready(pilot)
        target = next(r for r in screen.grid.rows if r.ack_note and r.error_count)
        screen.grid.move_to_key(target.server_id)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ServerHistoryScreen)
                       and app.screen.failures and app.screen.timeline)
        hist = app.screen
        timeline = hist.query_one("#timeline")
        assert not timeline.display or timeline.size.height == 0
        assert hist.query_one("#failures").size.height >= 3
        assert "t: show" in static_text(hist, "#timeline-title")
        await pilot.press("t")
        await pilot.pause()
        assert timeline.has_focus and timeline.size.height >= 8
        assert not hist.query_one("#failures").display or \
            hist.query_one("#failures").size.height == 0
        entry = hist.timeline[0]
        assert entry.details in static_text(hist, "#timeline-detail").replace("\n", " ")
        await pilot.press("t")
        await pilot.pause()
        assert hist.query_one("#results").has_focus
        assert hist.query_one("#failures").size.height >= 3
        assert hist.query_one("#failure-detail").display


@asynctest
async def test_history_ack_column_is_cut_and_the_detail_line_shows_it_whole(demo_db):
    from acorntui.screens.history import ServerHistoryScreen

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await grid_ready(pilot)
        target = next(r for r in screen.grid.rows if len(r.ack_note) > 30)
        screen.grid.move_to_key(target.server_id)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ServerHistoryScreen)
                       and app.screen.current is not None)
        hist = app.screen
        table = hist.query_one("#results")
        assert table.virtual_size.width <= table.size.width  # no side-scrolling
        ack = next(c for c in table.columns.values() if str(c.label) == "Ack")
        assert 6 <= ack.width < len(target.ack_note)
        assert table.get_row_at(0)[-1].plain.startswith(f"{target.ack_by}: ")
        detail = static_text(hist, "#night-detail").replace("\n", "")
        assert f"ACK by {target.ack_by}: {target.ack_note}" in detail
