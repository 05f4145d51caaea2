"""Issue 13 point 6: one key, one meaning on every screen; forms show their own keys, save
with ctrl+s (enter in a one-line form) and fit 80x24 with Save on screen."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_console import (  # noqa: F401
    asynctest,
    demo_db,
    demo_template,
    grid_ready,
    make_app,
    wait_for,
)

ROOT = Path(__file__).resolve().parent.parent


def screen_classes():
    from acorntui.screens.audit import AuditScreen
    from acorntui.screens.codes import CodeReferenceScreen
    from acorntui.screens.exceptions import ExceptionsScreen
    from acorntui.screens.forms import ConfirmScreen, FormScreen
    from acorntui.screens.help import HelpScreen
    from acorntui.screens.history import ServerHistoryScreen
    from acorntui.screens.logview import LogViewScreen
    from acorntui.screens.management import ManagementScreen
    from acorntui.screens.nightly import NightlyScreen

    return [NightlyScreen, ServerHistoryScreen, ExceptionsScreen, ManagementScreen,
            AuditScreen, HelpScreen, FormScreen, ConfirmScreen, LogViewScreen,
            CodeReferenceScreen]


def test_each_key_has_one_meaning_in_the_table():
    from acorntui.screens.keymap import KEYS

    seen: dict[str, str] = {}
    for k in KEYS:
        for key in k.keys.split(","):
            assert key not in seen, f"{key} means both {seen[key]} and {k.id}"
            seen[key] = k.id
    for key, id in (("a", "ack"), ("n", "note"), ("z", "snooze"), ("r", "reparse"),
                    ("x", "exception"), ("l", "log"), ("plus", "add"), ("insert", "add"),
                    ("enter", "open"), ("delete", "remove"), ("escape", "back"),
                    ("q", "quit"), ("question_mark", "help"), ("Z", "customer_snooze"),
                    ("space", "mark"), ("asterisk", "mark_all"), ("ctrl+s", "save")):
        assert seen[key] == id, key


@pytest.mark.parametrize("screen", screen_classes(), ids=lambda c: c.__name__)
def test_every_screen_binds_keys_from_the_table(screen):
    """Every binding comes from the table (its id) with the table's keys, so a key does the
    same thing on every screen."""
    from textual.binding import Binding

    from acorntui.screens.keymap import meaning

    for b in screen.BINDINGS:
        assert isinstance(b, Binding) and b.id, (screen.__name__, b)
        assert b.key == meaning(b.id).keys, (screen.__name__, b.key, b.id)


def test_row_actions_work_on_every_screen_that_shows_a_server():
    from acorntui.screens.history import ServerHistoryScreen
    from acorntui.screens.nightly import NightlyScreen

    for screen in (NightlyScreen, ServerHistoryScreen):
        ids = {b.id for b in screen.BINDINGS}
        assert {"ack", "note", "snooze", "reparse", "exception", "back", "quit",
                "help"} <= ids, screen.__name__
        for b in screen.BINDINGS:
            assert callable(getattr(screen, "action_" + b.action.split("(")[0], None)) or \
                b.action.startswith("app."), (screen.__name__, b.action)


def test_lists_add_with_plus_and_edit_with_enter():
    from acorntui.screens.exceptions import ExceptionsScreen
    from acorntui.screens.management import ManagementScreen

    for screen in (ExceptionsScreen, ManagementScreen):
        by_id = {b.id: b for b in screen.BINDINGS}
        assert by_id["add"].key == "plus,insert" and by_id["open"].key == "enter"
        keys = {k for b in screen.BINDINGS for k in b.key.split(",")}
        assert not {"a", "e", "n"} & keys, screen.__name__


def test_docs_keys_md_is_the_table():
    from acorntui.screens.keymap import markdown

    assert (ROOT / "docs" / "keys.md").read_text() == markdown(), \
        "run: python -m acorntui.screens.keymap > docs/keys.md"


@asynctest
async def test_help_screen_lists_the_tables_words(demo_db):  # noqa: F811
    from textual.widgets import Static

    from acorntui.screens.help import HelpScreen
    from acorntui.screens.keymap import meaning

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await grid_ready(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        from rich.console import Console

        con = Console(width=200, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
        for s in app.screen.query(Static):
            con.print(s.content)
        text = con.export_text()
        for id in ("ack", "note", "snooze", "mark", "customer_snooze", "quit"):
            assert meaning(id).meaning in text, id


# -- forms ---------------------------------------------------------------------------------------


def _inside(region, width: int, height: int) -> bool:
    return (region.width > 0 and region.x >= 0 and region.y >= 0
            and region.right <= width and region.bottom <= height - 1)  # not under the footer


async def _check_form(pilot, form_cls, size):
    from textual.widgets import Button
    from textual.widgets._footer import FooterKey

    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, form_cls))
    await pilot.pause()
    form = app.screen
    save = form.query_one("#save", Button)
    assert _inside(save.region, *size), (form_cls.__name__, save.region)
    # the footer is the form's own: its keys, not the grid's
    actions = {k.action for k in form.query(FooterKey)}
    assert {"save", "cancel"} <= actions, actions
    assert not {"history", "ack", "management"} & actions, actions
    return form


@asynctest
async def test_every_form_fits_80x24_with_save_visible(demo_db):  # noqa: F811
    from acorntui.screens.exceptions import ExceptionsScreen
    from acorntui.screens.forms import AckForm, ExceptionForm, NoteForm, SnoozeForm
    from acorntui.screens.management import ManagementScreen, RecordForm

    size = (80, 24)
    app = make_app()
    async with app.run_test(size=size) as pilot:
        screen = await grid_ready(pilot)
        target = next(r for r in screen.grid.rows if r.result_id and r.error_count)
        screen.grid.move_to_key(target.server_id)
        for key, cls in (("a", AckForm), ("n", NoteForm), ("z", SnoozeForm),
                         ("Z", SnoozeForm), ("x", ExceptionForm)):
            await pilot.press(key)
            await _check_form(pilot, cls, size)
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen is screen)
        # the exception editor's form (with the applies-to picker) is the tallest
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ExceptionsScreen)
                       and app.screen.rows)
        await pilot.press("plus")
        await _check_form(pilot, ExceptionForm, size)
        await pilot.press("escape")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        # management: a server's form (the most fields)
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, ManagementScreen))
        await pilot.press("2")
        await pilot.pause()
        await pilot.press("plus")
        await _check_form(pilot, RecordForm, size)


@asynctest
async def test_ctrl_s_saves_every_form_and_enter_saves_a_one_line_form(demo_db):  # noqa: F811
    from acorntui.db.models import Result, Server, Update
    from acorntui.screens.forms import AckForm, NoteForm, SnoozeForm

    app = make_app(poll_seconds=3600)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await grid_ready(pilot)
        target = next(r for r in screen.grid.rows if r.result_id and not r.ack_note
                      and not r.snoozed)
        screen.grid.move_to_key(target.server_id)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NoteForm))
        await pilot.press(*"called them", "enter")  # enter saves the one-line note
        await wait_for(pilot, lambda: Update.select().where(
            (Update.action == "note") & (Update.details == "called them")).exists())
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, AckForm))
        await pilot.press(*"on it", "ctrl+s")
        await wait_for(pilot, lambda: Result.get_by_id(target.result_id).ack_note == "on it")
        await pilot.press("z")
        await wait_for(pilot, lambda: isinstance(app.screen, SnoozeForm))
        await pilot.press("tab", *"away", "ctrl+s")
        await wait_for(pilot, lambda: Server.get_by_id(target.server_id).snooze_reason
                       == "away")
        assert app.screen is screen


@asynctest
async def test_history_has_the_grids_row_actions(demo_db, tmp_path):  # noqa: F811
    from acorntui.config import Config
    from acorntui.db.models import Result, Server
    from acorntui.screens.forms import SnoozeForm
    from acorntui.screens.history import ServerHistoryScreen

    cfg = Config(path=None, exists=False)
    cfg.spool_dir = tmp_path / "spool"
    cfg.report_servers = []
    app = make_app(poll_seconds=3600, cfg=cfg)
    async with app.run_test(size=(120, 35)) as pilot:
        screen = await grid_ready(pilot)
        target = next(r for r in screen.grid.rows if r.status == "failed" and r.code == 12
                      and not r.snoozed)
        screen.grid.move_to_key(target.server_id)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ServerHistoryScreen)
                       and app.screen.history)
        hist = app.screen
        await pilot.press("z")
        await wait_for(pilot, lambda: isinstance(app.screen, SnoozeForm))
        await pilot.press("tab", *"new disk", "ctrl+s")
        await wait_for(pilot, lambda: Server.get_by_id(target.server_id).snooze_reason
                       == "new disk")
        # r re-parses the chosen night: its log on the spool was replaced by a clean one
        log = cfg.spool_dir / target.customer / f"{target.server}.out"
        log.write_bytes(b"sending incremental file list\r\n\r\nsent 1,000 bytes  received 20 "
                        b"bytes  340.00 bytes/sec\r\ntotal size is 9,000,000  speedup is 8.82\r\n")
        await pilot.press("r")
        await wait_for(pilot, lambda: Result.get_by_id(target.result_id).status == "ok",
                       timeout=20)
        await wait_for(pilot, lambda: hist.current is not None and hist.current.status == "ok")
        await pilot.press("q")
        await wait_for(pilot, lambda: app.screen is screen)
        assert app.screen is not hist
