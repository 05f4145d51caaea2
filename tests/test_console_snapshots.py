"""How the key screens look at 100x30, the grid at 120x35, and the grid and a server's history
at 80x24 (the smallest terminal the console is made for), on the fixed-date demo database
(pytest-textual-snapshot; `pytest --snapshot-update` after an intended change, then look at the
SVGs)."""

from __future__ import annotations

from test_console import demo_db, demo_template, grid_ready, make_app, wait_for  # noqa: F401

SIZE = (100, 30)
SMALL = (80, 24)
WIDE = (120, 35)


def test_snapshot_nightly_grid(demo_db, snap_compare):  # noqa: F811
    async def ready(pilot):
        await grid_ready(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=ready)


def test_snapshot_server_history(demo_db, snap_compare):  # noqa: F811
    from acorntui.screens.history import ServerHistoryScreen

    async def ready(pilot):
        screen = await grid_ready(pilot)
        target = next(r for r in screen.grid.rows if r.status == "failed" and r.code == 23)
        screen.grid.move_to_key(target.server_id)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ServerHistoryScreen)
                       and pilot.app.screen.failures)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=ready)


def test_snapshot_code_reference(demo_db, snap_compare):  # noqa: F811
    from acorntui.screens.codes import CodeReferenceScreen

    async def ready(pilot):
        screen = await grid_ready(pilot)
        target = next(r for r in screen.grid.rows if r.code == 23)
        screen.grid.move_to_key(target.server_id)
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, CodeReferenceScreen)
                       and pilot.app.screen.codes)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=ready)


def test_snapshot_exceptions(demo_db, snap_compare):  # noqa: F811
    from acorntui.screens.exceptions import ExceptionsScreen

    async def ready(pilot):
        await grid_ready(pilot)
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ExceptionsScreen)
                       and pilot.app.screen.rows)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=ready)


def test_snapshot_exception_form(demo_db, snap_compare):  # noqa: F811
    from acorntui.screens.forms import ExceptionForm
    from acorntui.screens.history import ServerHistoryScreen

    async def ready(pilot):
        screen = await grid_ready(pilot)
        target = next(r for r in screen.grid.rows if r.status == "failed" and r.code == 23)
        screen.grid.move_to_key(target.server_id)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ServerHistoryScreen)
                       and pilot.app.screen.failures)
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ExceptionForm))

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=ready)


async def _grid(pilot):
    await grid_ready(pilot)


async def _history(pilot):
    from acorntui.screens.history import ServerHistoryScreen

    screen = await grid_ready(pilot)
    target = next(r for r in screen.grid.rows if r.status == "failed" and r.code == 23)
    screen.grid.move_to_key(target.server_id)
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ServerHistoryScreen)
                   and pilot.app.screen.failures)


def test_snapshot_nightly_grid_80x24(demo_db, snap_compare):  # noqa: F811
    assert snap_compare(make_app(), terminal_size=SMALL, run_before=_grid)


def test_snapshot_server_history_80x24(demo_db, snap_compare):  # noqa: F811
    assert snap_compare(make_app(), terminal_size=SMALL, run_before=_history)


def test_snapshot_nightly_grid_120x35(demo_db, snap_compare):  # noqa: F811
    assert snap_compare(make_app(), terminal_size=WIDE, run_before=_grid)


def test_snapshot_exception_form_80x24(demo_db, snap_compare):  # noqa: F811
    """The tallest form on the smallest terminal: the fields scroll, Save and the form's own
    keys stay on screen."""
    from acorntui.screens.forms import ExceptionForm

    async def ready(pilot):
        screen = await grid_ready(pilot)
        target = next(r for r in screen.grid.rows if r.status == "failed" and r.code == 23)
        screen.grid.move_to_key(target.server_id)
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ExceptionForm))

    assert snap_compare(make_app(), terminal_size=SMALL, run_before=ready)


def test_snapshot_exception_form_120x35(demo_db, snap_compare):  # noqa: F811
    """The same form at 120x35: every field and Save on screen, the form's own keys."""
    from acorntui.screens.forms import ExceptionForm

    async def ready(pilot):
        screen = await grid_ready(pilot)
        target = next(r for r in screen.grid.rows if r.status == "failed" and r.code == 23)
        screen.grid.move_to_key(target.server_id)
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ExceptionForm))

    assert snap_compare(make_app(), terminal_size=WIDE, run_before=ready)


def test_snapshot_grid_marked_rows(demo_db, snap_compare):  # noqa: F811
    """Rows marked for a bulk action (space, and M for the custbak outage)."""

    async def ready(pilot):
        await grid_ready(pilot)
        await pilot.press("space", "space", "M")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=ready)
