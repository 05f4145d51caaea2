"""A database error on a screen other than the grid (screens/worker.py's DbScreen): the SQLite
file locked by another process while the exception editor disables an exception."""

from __future__ import annotations

from test_console import asynctest, demo_db, demo_template, grid_ready, make_app, wait_for  # noqa: F401
from test_reliability_ingest import _hold_lock


def banner(screen) -> str:
    from acorntui.screens.widgets import Banner

    b = screen.query_one(Banner)
    return str(b.render()) if b.has_class("-shown") else ""


@asynctest
async def test_locked_database_on_the_exception_editor_says_not_saved_then_recovers(
        demo_db):  # noqa: F811
    from acorntui.db.models import Exception_, database_proxy
    from acorntui.screens.exceptions import ExceptionsScreen

    # the shipped busy timeout is 15 s; 1.5 s keeps the test short (same code path)
    dbx = database_proxy.obj
    dbx._pragmas = [(k, 1500 if k == "busy_timeout" else v) for k, v in dbx._pragmas]
    dbx._timeout = 1.5
    dbx.close()
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await grid_ready(pilot)
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ExceptionsScreen)
                       and app.screen.rows)
        ex = app.screen
        first = ex.shown[0]
        assert first.active
        holder = _hold_lock(demo_db.database, 8.0)  # BEGIN IMMEDIATE, longer than 1.5 s
        try:
            await pilot.press("d")
            await wait_for(pilot, lambda: "database is locked" in banner(ex), timeout=10)
            assert "Database unavailable" in banner(ex) and "(ctrl+r retries)" in banner(ex)
            toasts = [str(n.message) for n in app._notifications]
            assert any("The change was NOT saved" in t for t in toasts), toasts
            assert app.is_running and app.screen is ex
        finally:
            holder.wait(timeout=30)
        assert Exception_.get_by_id(first.id).active  # nothing half-done
        # the lock is gone: the same key works, and the banner goes with it
        await pilot.press("d")
        await wait_for(pilot, lambda: not Exception_.get_by_id(first.id).active
                       and not ex.shown[0].active)
        await wait_for(pilot, lambda: banner(ex) == "")
