"""The console and `nightly` while ingest runs and while the database goes away (issue #8,
parts 2 and 3, console side).

- The console (Pilot) open on a private mariadbd while a real `acorntui ingest` subprocess
  records the next night: one result per server and night; the new night shows after
  ctrl+r and, with polling, by itself.
- The private mariadbd stopped (SIGTERM) while the console is open: the banner says the
  database is unavailable, keys still work; started again, ctrl+r (or the next poll) brings
  the grid back and the banner goes.
- `acorntui nightly` against the stopped server, and stopped mid-run: one line, exit 1;
  after a restart the next run completes the night.
- SQLite locked by another writer past the busy timeout while the console writes an
  acknowledgement: a clear error, the app keeps running, the grid still loads (WAL), and
  after the lock is released the acknowledgement goes through.

The shared MariaDB on 3306 is never touched: the server is `ThrowawayMariaDB` (its own
datadir and port) from tests/test_reliability_ingest.py.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import sqlite3
import sys
import time
from pathlib import Path

import test_reliability_ingest as rel
from conftest import act_as
from sshd import write_config
from test_console import LOGIN, asynctest, grid_ready, make_app, wait_for
from test_reliability_ingest import (
    LOG_TIME,
    Counter,
    _hold_lock,
    assert_one_line_error,
    bind,
    make_spool,
    run,
    start,
)

throwaway_mariadb = rel.throwaway_mariadb  # the fixture: a private mariadbd, stopped after

N_SERVERS = 240  # enough for ingest to take a while (polls land mid-run), small enough to be fast
NIGHT0 = dt.date(2026, 11, 25)  # logs written 2026-11-26 02:30, as in the ingest tests
NOW0 = dt.datetime(2026, 11, 26, 7, 0)


def night_spool(root: Path, offset: int, n: int = N_SERVERS) -> Path:
    """The spool of night NIGHT0 + offset: every server's log written that night."""
    make_spool(root, n)
    t = (LOG_TIME + dt.timedelta(days=offset)).timestamp()
    for p in root.rglob("*.out"):
        os.utime(p, (t, t))
    return root


def now_iso(offset: int) -> str:
    return (NOW0 + dt.timedelta(days=offset)).isoformat()


def ingest_cmd(url: str, spool: Path, offset: int) -> list[str]:
    return [sys.executable, "-m", "acorntui", "--db", url, "ingest", "--now", now_iso(offset),
            str(spool)]


def assert_ok(proc) -> None:
    assert proc.returncode == 0, f"exit {proc.returncode}:\n{proc.stderr[-3000:]}"
    assert "Traceback" not in proc.stderr, proc.stderr


def one_result_per_server_and_night(url: str) -> dict[dt.date, int]:
    """No (server, night) twice; returns results per night (checked on a fresh connection)."""
    from acorntui.db.models import database_proxy

    bind(url)
    dbx = database_proxy.obj
    dup = list(dbx.execute_sql("SELECT server_id, night, COUNT(*) FROM results "
                          "GROUP BY server_id, night HAVING COUNT(*) > 1").fetchall())
    assert dup == [], f"duplicate results: {dup[:5]}"
    per_night = {(d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d))): n
                 for d, n in dbx.execute_sql("SELECT night, COUNT(*) FROM results "
                                             "GROUP BY night").fetchall()}
    dbx.close()
    return per_night


def shows_whole_night(screen, night: dt.date, n: int = N_SERVERS) -> bool:
    """The grid is on ``night`` with every server once, each with a result of that night."""
    rows = screen.grid.rows
    return (screen.night == night and len(rows) == n
            and len({r.server_id for r in rows}) == n
            and all(r.result_id is not None and r.night == night for r in rows))


def banner_text(screen) -> str:
    banner = screen.query_one("#banner")
    if not banner.has_class("-shown") or banner.region.height < 1:
        return ""  # not on screen
    return str(banner.render())


async def pause_until_exit(pilot, proc, timeout: float = 60.0) -> None:
    """Keep the console's event loop running while a subprocess works."""
    t0 = time.monotonic()
    while proc.poll() is None:
        assert time.monotonic() - t0 < timeout, "subprocess did not finish"
        await pilot.pause(0.05)


# -- 2. the console while ingest records the next night ----------------------------------------


@asynctest
async def test_console_shows_the_night_ingest_records_while_it_is_open(throwaway_mariadb,
                                                                      tmp_path, monkeypatch):
    act_as(monkeypatch, LOGIN)
    url = throwaway_mariadb.url
    assert_ok(run(ingest_cmd(url, night_spool(tmp_path / "s0", 0), 0)))
    spool1 = night_spool(tmp_path / "s1", 1)
    spool2 = night_spool(tmp_path / "s2", 2)
    bind(url)

    # ctrl+r: no polling in this console (an hour), so only the key can show the new night
    app = make_app(poll_seconds=3600)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await grid_ready(pilot)
        assert shows_whole_night(screen, NIGHT0)
        proc = start(ingest_cmd(url, spool1, 1))
        await pause_until_exit(pilot, proc)
        _out, err = proc.communicate()
        assert proc.returncode == 0 and "Traceback" not in err, err
        await pilot.pause(0.5)
        assert screen.night == NIGHT0  # nothing reloaded by itself
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: shows_whole_night(screen, NIGHT0 + dt.timedelta(1)))
        assert "(latest)" in str(screen.query_one("#topbar").render())
        assert banner_text(screen) == ""

    # polling: the console polls every 0.3 s while ingest records night N+2 (reads and
    # writes interleave); it follows the latest night by itself, no key pressed
    app = make_app(poll_seconds=0.3)
    loads: list[int] = []
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await grid_ready(pilot)
        assert shows_whole_night(screen, NIGHT0 + dt.timedelta(1))
        real = screen.show_night

        def counting(data):
            loads.append(sum(1 for r in data.rows if r.result_id is not None))
            real(data)

        screen.show_night = counting
        proc = start(ingest_cmd(url, spool2, 2))
        await pause_until_exit(pilot, proc)
        _out, err = proc.communicate()
        assert proc.returncode == 0 and "Traceback" not in err, err
        await wait_for(pilot, lambda: shows_whole_night(screen, NIGHT0 + dt.timedelta(2)),
                       timeout=15)
        assert app.is_running and banner_text(screen) == ""
    print(f"\nFIGURES polled loads while ingest ran (results shown each time): {loads}")

    per_night = one_result_per_server_and_night(url)
    assert per_night == {NIGHT0 + dt.timedelta(d): N_SERVERS for d in range(3)}


# -- 3. the database server goes away while the console is open ---------------------------------


async def _server_down_and_back(pilot, srv, screen, *, by_key: bool) -> str:
    """Stop the server; the banner must say so (after ctrl+r, or the next poll); keys still
    work; start it again; the banner goes and the grid has the data."""
    app = pilot.app
    before = sorted((r.customer, r.server, r.status) for r in screen.grid.rows)
    assert len(before) == N_SERVERS
    srv.stop(signal.SIGTERM)
    if by_key:
        await pilot.press("ctrl+r")
    await wait_for(pilot, lambda: "Database unavailable" in banner_text(screen), timeout=15)
    text = banner_text(screen)
    assert "Can't connect" in text or "Lost connection" in text or "lost" in text, text
    assert "(ctrl+r retries)" in text and not re.search(r"\(\d+, ", text), text  # no raw tuple
    assert app.is_running and screen.grid.row_count == N_SERVERS  # the old rows stay
    # keys still work while the database is down
    sort_before = (screen.sort_column, screen.sort_reverse)
    await pilot.press("S")  # reverse the order
    await pilot.pause(0.1)
    assert (screen.sort_column, screen.sort_reverse) == (sort_before[0], not sort_before[1])
    row_before = screen.grid.cursor_row
    await pilot.press("home", "down", "down")
    await pilot.pause(0.1)
    assert screen.grid.cursor_row == 2, (row_before, screen.grid.cursor_row)
    await pilot.press("S")  # back to the first order
    await pilot.pause(0.1)
    assert (screen.sort_column, screen.sort_reverse) == sort_before
    if by_key:  # a second try while it is still down: still the banner, still running
        await pilot.press("ctrl+r")
        await pilot.pause(0.5)
        assert "Database unavailable" in banner_text(screen) and app.is_running
    srv.start()
    if by_key:
        await pilot.press("ctrl+r")
    await wait_for(pilot, lambda: banner_text(screen) == "", timeout=15)
    await wait_for(pilot, lambda: screen.grid.row_count == N_SERVERS)
    after = sorted((r.customer, r.server, r.status) for r in screen.grid.rows)
    assert after == before
    return text


@asynctest
async def test_console_survives_the_database_server_stopping(throwaway_mariadb, tmp_path,
                                                              monkeypatch):
    act_as(monkeypatch, LOGIN)
    srv = throwaway_mariadb
    assert_ok(run(ingest_cmd(srv.url, night_spool(tmp_path / "s0", 0), 0)))
    bind(srv.url)
    messages = []

    app = make_app(poll_seconds=3600)  # ctrl+r only
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await grid_ready(pilot)
        messages.append(await _server_down_and_back(pilot, srv, screen, by_key=True))
        # and once more: the reconnect is not a one-off
        messages.append(await _server_down_and_back(pilot, srv, screen, by_key=True))
        assert shows_whole_night(screen, NIGHT0)

    app = make_app(poll_seconds=0.4)  # no key at all: the poll notices both ways
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await grid_ready(pilot)
        messages.append(await _server_down_and_back(pilot, srv, screen, by_key=False))
        assert shows_whole_night(screen, NIGHT0)
    print(f"\nFIGURES banners: {messages}")


# -- 3. `nightly` while the database server is down or goes away mid-run -------------------------


def nightly_cmd(url: str, cfg: Path) -> list[str]:
    return [sys.executable, "-m", "acorntui", "--db", url, "--config", str(cfg), "nightly",
            "--now", now_iso(0), "--no-mail"]


def test_nightly_fails_clearly_while_the_database_is_down_and_the_next_run_completes(
        throwaway_mariadb, tmp_path):
    srv = throwaway_mariadb
    url = srv.url
    spool = night_spool(tmp_path / "spool", 0)
    cfg = write_config(tmp_path / "c.toml", spool=spool, servers=[])  # spool only

    srv.stop(signal.SIGTERM)
    t0 = time.monotonic()
    proc = run(nightly_cmd(url, cfg), timeout=60)
    took = time.monotonic() - t0
    line = assert_one_line_error(proc.returncode, proc.stderr, mid_run=False)
    assert f"cannot connect to {url}" in line and "Connection refused" in line, line
    assert took < 20, f"took {took:.1f} s to give up"

    srv.start()
    assert_night_completed(url, run(nightly_cmd(url, cfg)))
    print(f"\nFIGURES nightly while down: {line!r}")


def assert_night_completed(url: str, proc) -> None:
    """`nightly` exit 0, and the night holds every server once, none missing."""
    from acorntui.db.models import Result, Server

    assert_ok(proc)
    assert proc.stdout.startswith(f"nightly {NIGHT0}: job ok ("), proc.stdout
    assert one_result_per_server_and_night(url) == {NIGHT0: N_SERVERS}
    bind(url)
    assert Result.select().where(Result.reason == "missing").count() == 0
    assert Server.select().count() == N_SERVERS


def test_nightly_server_stopped_mid_run_then_the_next_run_completes(throwaway_mariadb,
                                                                    tmp_path):
    srv = throwaway_mariadb
    url = srv.url
    spool = night_spool(tmp_path / "spool", 0)
    cfg = write_config(tmp_path / "c.toml", spool=spool, servers=[])

    counter = Counter(url)
    proc = start(nightly_cmd(url, cfg))
    t0 = time.monotonic()
    landed = None
    while proc.poll() is None and time.monotonic() - t0 < 60:
        n = counter.count()
        if n is not None and n >= N_SERVERS // 4:
            landed = n
            break
        time.sleep(0.003)
    counter.close()
    assert proc.poll() is None, "nightly finished before the server could be stopped"
    srv.stop(signal.SIGTERM)
    _out, err = proc.communicate(timeout=120)
    srv.start()
    partial = one_result_per_server_and_night(url)
    assert 0 < partial.get(NIGHT0, 0) < N_SERVERS, partial
    assert_night_completed(url, run(nightly_cmd(url, cfg)))
    print(f"\nFIGURES nightly stopped at {landed} results: {err.strip()!r}")
    # what it said when the server went away: one clear line, exit 1
    assert proc.returncode == 1, err
    line = assert_one_line_error(proc.returncode, err, mid_run=False)
    assert "database error" in line, line


# -- 3. SQLite locked by another writer while the console writes -------------------------------


@asynctest
async def test_console_write_while_sqlite_is_locked_by_another_writer(tmp_path, monkeypatch):
    from acorntui.db.models import Result, Tsr, Update, database_proxy
    from acorntui.screens.forms import AckForm

    act_as(monkeypatch, LOGIN)
    path = tmp_path / "locked.db"
    url = f"sqlite:///{path}"
    assert_ok(run(ingest_cmd(url, night_spool(tmp_path / "s0", 0, n=40), 0)))
    bind(url)
    Tsr.create(login=LOGIN, name="Tester", level=3)
    # the shipped busy timeout is 15 s; 1.5 s keeps the test short (same code path)
    dbx = database_proxy.obj
    dbx._pragmas = [(k, 1500 if k == "busy_timeout" else v) for k, v in dbx._pragmas]
    dbx._timeout = 1.5
    dbx.close()

    def raw(sql: str, *args):
        c = sqlite3.connect(path, timeout=5)
        try:
            return c.execute(sql, args).fetchall()
        finally:
            c.close()

    app = make_app(poll_seconds=3600)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await grid_ready(pilot)
        target = next(r for r in screen.grid.rows if r.status == "failed")
        screen.grid.move_to_key(target.server_id)

        async def acknowledge(note: str) -> None:
            await pilot.press("a")
            await wait_for(pilot, lambda: isinstance(app.screen, AckForm))
            await pilot.press(*note, "enter")

        holder = _hold_lock(path, 6.0)  # BEGIN IMMEDIATE, held 6 s (> 1.5 s busy timeout)
        try:
            t0 = time.monotonic()
            await acknowledge("first try")
            await wait_for(pilot, lambda: "database is locked" in banner_text(screen),
                           timeout=10)
            waited = time.monotonic() - t0
            assert waited >= 1.4, f"gave up after {waited:.2f} s: it did not wait"
            assert "Database unavailable" in banner_text(screen)
            # the lost change is named as such, not only a generic banner
            toasts = [n.message for n in app._notifications]
            assert any("was NOT saved" in t for t in toasts), toasts
            assert app.is_running and app.screen is screen
            assert holder.poll() is None, "the lock was released too early for this test"
            # nothing was written; the row does not claim an acknowledgement
            assert raw("SELECT ack_note FROM results WHERE id = ?",
                       target.result_id) == [("",)]
            assert not next(r for r in screen.all_rows
                            if r.server_id == target.server_id).ack_note
            # reads are not blocked (WAL): the grid loads while the lock is still held
            screen.loaded = False
            await pilot.press("ctrl+r")
            await wait_for(pilot, lambda: screen.loaded, timeout=5)
            assert holder.poll() is None, "the grid loaded only after the lock was released"
            assert screen.grid.row_count == 40
            await pilot.press("down", "up")  # keys still work
            screen.grid.move_to_key(target.server_id)
        finally:
            holder.wait(timeout=30)

        # the lock is gone: the same acknowledgement goes through, the banner goes
        await acknowledge("second try")
        await wait_for(pilot, lambda: next(r for r in screen.all_rows
                                           if r.server_id == target.server_id).ack_note
                       == "second try", timeout=10)
        await wait_for(pilot, lambda: banner_text(screen) == "")
    bind(url)
    assert Result.get_by_id(target.result_id).ack_note == "second try"
    assert Update.select().where(Update.action == "result.ack").count() == 1
    print(f"\nFIGURES sqlite locked: ack gave up after {waited:.2f} s")


@asynctest
async def test_a_connection_lost_mid_query_is_said_in_words(tmp_path, monkeypatch):
    """pymysql reports a socket that went away mid-query as ``InterfaceError(0, '')``; the
    banner must not show ``(0, '')``. (Stopping a server exactly during a query cannot be
    timed from a test, so the driver's error is raised where the query would be.)"""
    from peewee import InterfaceError

    from acorntui.services import queries

    act_as(monkeypatch, LOGIN)
    url = f"sqlite:///{tmp_path / 'lost.db'}"
    assert_ok(run(ingest_cmd(url, night_spool(tmp_path / "s0", 0, n=5), 0)))
    bind(url)
    app = make_app(poll_seconds=3600)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await grid_ready(pilot)

        def lost(*_a, **_k):
            raise InterfaceError(0, "")

        monkeypatch.setattr(queries, "nightly_rows", lost)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: banner_text(screen) != "")
        assert banner_text(screen) == ("Database unavailable: the connection to the database "
                                       "server was lost  (ctrl+r retries)")
        monkeypatch.undo()
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: banner_text(screen) == "")
