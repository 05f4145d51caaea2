"""Issue 12 in the console: team mode (MariaDB, one account per person, acorn_* roles).

A CSR's console refuses an acknowledgement and an exception with a message that names the
role needed, and nothing changes in the database: for carol (a CSR row and a CSR account) the
console refuses before a form opens; for mal (whose row was raised to TSR2 in the table, but
whose account keeps the acorn_csr role) the form opens and MariaDB itself refuses the write,
shown as "Not allowed ... needs a TSR", never as "Database unavailable".
"""

from __future__ import annotations

import pytest
from test_console import asynctest, grid_ready, make_app, wait_for
from test_trust_mariadb import Team, mal_row_says_tsr, team  # noqa: F401

pytestmark = pytest.mark.mariadb


def state(t: Team) -> tuple:
    """What a refused action must leave alone: acks, exceptions, the audit trail."""
    conn = t.connect()
    try:
        with conn.cursor() as cur:
            out = []
            for sql in ("SELECT COUNT(*) FROM results WHERE ack_note <> ''",
                        "SELECT COUNT(*) FROM exceptions",
                        "SELECT COUNT(*) FROM updates",
                        "SELECT GROUP_CONCAT(status ORDER BY id) FROM results"):
                cur.execute(sql)
                out.append(cur.fetchone()[0])
            return tuple(out)
    finally:
        conn.close()


def add_failure(t: Team) -> None:
    """A failing file on fs1's night, so `x` has something to except."""
    conn = t.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM failures")
            if cur.fetchone()[0]:
                return
            cur.execute("INSERT INTO failures (result_id, path, message, line, kind, excepted) "
                        "SELECT MIN(id), '/cygdrive/E/data/mail.pst', 'rsync: send_files failed "
                        "to open \"/cygdrive/E/data/mail.pst\": Permission denied (13)', 3, "
                        "'open', 0 FROM results")
    finally:
        conn.close()


def refusals(app) -> list[str]:
    return [str(n.message) for n in app._notifications if n.title == "Not allowed"]


@asynctest
async def test_csr_account_console_refuses_ack_and_exception_naming_the_role(team):  # noqa: F811
    from acorntui import db as dbpkg
    from acorntui.screens.exceptions import ExceptionsScreen

    add_failure(team)
    before = state(team)
    database = dbpkg.connect(team.url("carol"))
    try:
        app = make_app(poll_seconds=3600)
        async with app.run_test(size=(120, 30)) as pilot:
            screen = await grid_ready(pilot)
            carol = team.logins["carol"]
            assert (app.user.login, app.user.role) == (carol, "csr")
            assert [(r.customer, r.server, r.status) for r in screen.grid.rows] == [
                ("acme", "fs1", "failed")]
            for key, what in (("a", "acknowledge results"),
                              ("x", "add or change exceptions")):
                await pilot.press(key)
                await pilot.pause()
                assert app.screen is screen, key  # no form opened
                assert any(f"{carol} (CSR) may not {what}: that needs a TSR" in m
                           for m in refusals(app)), (key, refusals(app))
            await pilot.press("e")
            await wait_for(pilot, lambda: isinstance(app.screen, ExceptionsScreen))
            n = len(refusals(app))
            await pilot.press("plus")
            await pilot.pause()
            assert isinstance(app.screen, ExceptionsScreen)
            assert len(refusals(app)) == n + 1 and "needs a TSR" in refusals(app)[-1]
    finally:
        database.close()
    assert state(team) == before


@asynctest
async def test_the_database_refuses_what_a_raised_row_lets_the_console_try(team):  # noqa: F811
    """mal's row says TSR2, so the console opens the forms; mal's account has only the CSR
    role, so MariaDB refuses the acknowledgement and the exception. The console names the
    role needed, says nothing about the database being down, and nothing changes."""
    from acorntui import db as dbpkg
    from acorntui.screens.forms import AckForm, ExceptionForm

    add_failure(team)
    mal_row_says_tsr(team)
    before = state(team)
    database = dbpkg.connect(team.url("mal"))
    try:
        app = make_app(poll_seconds=3600)
        async with app.run_test(size=(120, 30)) as pilot:
            screen = await grid_ready(pilot)
            assert (app.user.login, app.user.role) == (team.logins["mal"], "tsr")
            await pilot.press("a")
            await wait_for(pilot, lambda: isinstance(app.screen, AckForm))
            await pilot.press(*"not my job", "enter")
            await wait_for(pilot, lambda: refusals(app))
            assert "the database refused UPDATE on results" in refusals(app)[-1]
            assert "that needs a TSR" in refusals(app)[-1]
            await pilot.press("x")
            await wait_for(pilot, lambda: isinstance(app.screen, ExceptionForm))
            app.screen.query_one("#reason").value = "mine now"
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: len(refusals(app)) == 2)
            assert "on exceptions" in refusals(app)[-1] and "needs a TSR" in refusals(app)[-1]
            assert app.screen is screen
            assert "Database unavailable" not in str(screen.query_one("#banner").render())
            assert [r.ack_note for r in screen.grid.rows] == [""]
    finally:
        database.close()
    assert state(team) == before
