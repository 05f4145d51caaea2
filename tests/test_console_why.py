"""Why, in the console (issue 13, point 1): history's "Why" for each kind of bad night, the log
viewer (`l` from history and from the grid, `/` search, paging through a 200,000-line spool
file), the code reference's reason-keyed fix, and history's paged file errors (issue 12: a
result with 1,000,000 failures opens at once).

The demo database (tests/test_console.py) plus a customer "whyco" whose logs come from real
rsync runs (tests/test_why.py's run_fatal, tests/rsync_logs.py) or from record_fetch_failed /
record_missing, all recorded for the demo's last night through the real ingest.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest
import rsync_logs
from test_console import (  # noqa: F401
    DEMO_TODAY,
    LAST_NIGHT,
    asynctest,
    demo_db,
    demo_template,
    grid_ready,
    make_app,
    static_text,
    wait_for,
)
from test_why import run_fatal

NOW = dt.datetime.combine(DEMO_TODAY, dt.time(7, 0))  # the morning after LAST_NIGHT
WRITTEN = dt.datetime.combine(DEMO_TODAY, dt.time(2, 30))  # a log of LAST_NIGHT
FETCH_ERROR = "reports1: timed out reading /reports/whyco/nofetch.out after 30 s"


def _dated(path: Path, when: dt.datetime) -> Path:
    os.utime(path, (when.timestamp(), when.timestamp()))
    return path


@pytest.fixture
def why_db(demo_db, tmp_path):  # noqa: F811
    """The demo plus whyco's servers, one per kind of bad night, on LAST_NIGHT."""
    from acorntui.db.models import Customer, Server
    from acorntui.services.ingest import Ingestor, record_fetch_failed

    spool = tmp_path / "spool"
    logs = [_dated(run_fatal(tmp_path, 12, customer="whyco", server="c12"), WRITTEN),
            _dated(run_fatal(tmp_path, 30, customer="whyco", server="c30"), WRITTEN)]
    cut = rsync_logs.run_sigkill(tmp_path / "k", customer="whyco", server="cut").path
    logs.append(_dated(shutil.copy(cut, spool / "whyco" / "cut.out"), WRITTEN))
    clean = rsync_logs.make_clean_log(tmp_path / "c", customer="whyco", server="x")
    # written 26 h before the morning after: stale (31 h before the night ends, at noon)
    logs.append(_dated(Path(shutil.copy(clean, spool / "whyco" / "stale.out")),
                       NOW - dt.timedelta(hours=26)))
    # dated the day after tomorrow: the server's clock runs ahead
    logs.append(_dated(Path(shutil.copy(clean, spool / "whyco" / "ahead.out")),
                       dt.datetime.combine(DEMO_TODAY + dt.timedelta(days=1), dt.time(15, 0))))
    ing = Ingestor(now=NOW)
    for log in logs:
        out = ing.ingest_file(log)
        assert out.night == LAST_NIGHT and out.action == "created", out
    whyco = Customer.get(Customer.name == "whyco")
    Server.create(customer=whyco, name="gone")
    assert record_fetch_failed("whyco", "nofetch", LAST_NIGHT, FETCH_ERROR, ingestor=ing)
    assert "whyco/gone" in ing.record_missing(LAST_NIGHT)
    return spool


def add_flood_result(count: int) -> None:
    """flood/big on LAST_NIGHT: a code-23 result as ingest stores a log of ``count`` file
    errors (the first 1,000 rows and the true count; bench/history.py ingests the real log)."""
    from acorntui.db.models import Customer, Failure, Result, Server

    server = Server.create(customer=Customer.create(name="flood"), name="big")
    r = Result.create(server=server, night=LAST_NIGHT, code=23, status="failed",
                      reason=f"{count} file errors not excepted", error_count=count)
    Failure.insert_many([dict(result=r, path=f"/data/locked/f{i:07d}.tmp", line=i + 2,
                              message=f'rsync: send_files failed to open "/data/locked/'
                                      f'f{i:07d}.tmp": Permission denied (13)',
                              kind="open_failed") for i in range(1000)]).execute()


async def open_history(pilot, customer: str, server: str):
    from acorntui.screens.history import ServerHistoryScreen

    app = pilot.app
    grid = await grid_ready(pilot)
    target = next(r for r in grid.grid.rows if (r.customer, r.server) == (customer, server))
    grid.grid.move_to_key(target.server_id)
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, ServerHistoryScreen)
                   and app.screen.current is not None
                   and static_text(app.screen, "#why").startswith("Why:"))
    return app.screen


def why_of(screen) -> tuple[str, str]:
    lines = screen.query_one("#why-lines")
    return (" ".join(static_text(screen, "#why").split()),
            static_text(screen, "#why-lines") if lines.display else "")


@asynctest
async def test_history_says_why_for_each_kind_of_bad_night(why_db):
    app = make_app()
    async with app.run_test(size=(120, 35)) as pilot:
        seen = {}
        for server in ("nofetch", "c12", "c30", "gone", "stale", "ahead", "cut"):
            screen = await open_history(pilot, "whyco", server)
            seen[server] = why_of(screen)
            await pilot.press("escape")
            await grid_ready(pilot)
    head, lines = seen["nofetch"]
    assert head == f"Why: could not fetch the log from the report server: {FETCH_ERROR}"
    head, lines = seen["c12"]
    size = (why_db / "whyco" / "c12.out").stat().st_size
    assert head == (f"Why: rsync stopped with code 12: Connection Died (log {size}B, written "
                    f"{WRITTEN:%Y-%m-%d %H:%M})")
    # the real run's own error lines (which ones rsync prints depends on how the link died:
    # "connection unexpectedly closed" or "safe_write failed ... Broken pipe")
    said = [ln for ln in (why_db / "whyco" / "c12.out").read_text().splitlines()
            if ln.startswith("rsync:")]
    assert said and all(ln in lines for ln in said), (said, lines)
    assert "rsync error: error in rsync protocol data stream (code 12)" in lines
    head, lines = seen["c30"]
    assert head.startswith("Why: rsync stopped with code 30")
    assert "io timeout after 1 seconds -- exiting" in lines and "(code 30)" in lines
    assert seen["gone"][0] == "Why: no log arrived for this night"
    assert seen["stale"][0].startswith("Why: log is 31 h old: written ")
    assert seen["ahead"][0].startswith("Why: clock ahead: the log is dated "
                                       f"{DEMO_TODAY + dt.timedelta(days=1)} 15:00, 27 h after")
    head, lines = seen["cut"]
    assert head.startswith("Why: log stops mid-transfer: rsync wrote no completion code (log ")
    cut_log = (why_db / "whyco" / "cut.out").read_text(errors="replace").split("\n")
    last = [x for x in cut_log if x.strip()][-1].strip()
    assert "last lines of the log" in lines and last in lines


async def open_log(pilot, key_from):
    from acorntui.screens.logview import LogLines, LogViewScreen

    app = pilot.app
    await pilot.press(key_from)
    await wait_for(pilot, lambda: isinstance(app.screen, LogViewScreen)
                   and app.screen.source is not None
                   and app.screen.query_one(LogLines).total > 0
                   and len(app.screen.query_one(LogLines).lines) > 0, timeout=20)
    return app.screen, app.screen.query_one(LogLines)


def rendered(view, n: int):
    """The strip of log line ``n`` (0-based) as the view paints it."""
    return view.render_line(n - int(view.scroll_y))


@asynctest
async def test_l_opens_the_log_from_history_and_search_highlights(why_db):
    app = make_app()
    async with app.run_test(size=(120, 35)) as pilot:
        history = await open_history(pilot, "whyco", "c12")
        screen, view = await open_log(pilot, "l")
        log = why_db / "whyco" / "c12.out"
        text = log.read_text().rstrip("\n").split("\n")
        assert view.total == len(text)  # the whole spool file (the latest night)
        assert str(log) in static_text(screen, "#log-about")
        await wait_for(pilot, lambda: all(n in view.lines for n in range(len(text))))
        code_line = len(text) - 1
        err = rendered(view, code_line)
        assert "(code 12)" in err.text
        assert any(s.style and s.style.bold for s in err if "rsync error" in s.text)  # error
        await pilot.press("slash")
        await pilot.press(*"UNEXPECTEDLY")
        await pilot.press("enter")
        hit = next(i for i, t in enumerate(text) if "unexpectedly" in t)
        await wait_for(pilot, lambda: view.match == hit)
        strip = rendered(view, hit)
        marked = [s for s in strip if s.text.lower() == "unexpectedly"]
        assert marked and marked[0].style.bgcolor is not None  # the match is highlighted
        assert any(s.style and s.style.reverse for s in strip)  # its line is the current one
        await pilot.press("greater_than_sign")  # one match only: > wraps to it again
        await wait_for(pilot, lambda: view.match == hit)
        await pilot.press("q")
        await wait_for(pilot, lambda: app.screen is history)


@asynctest
async def test_l_opens_the_log_from_the_grid_and_escape_closes(why_db):
    from acorntui.screens.nightly import NightlyScreen

    app = make_app()
    async with app.run_test(size=(120, 35)) as pilot:
        grid = await grid_ready(pilot)
        target = next(r for r in grid.grid.rows if (r.customer, r.server) == ("whyco", "c30"))
        grid.grid.move_to_key(target.server_id)
        screen, view = await open_log(pilot, "l")
        assert "whyco/c30" in static_text(screen, "#log-title")
        await wait_for(pilot, lambda: any("(code 30)" in t for t in view.lines.values()))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, NightlyScreen))


@asynctest
async def test_an_older_night_shows_the_stored_tail(why_db):  # noqa: ARG001
    app = make_app()
    async with app.run_test(size=(120, 35)) as pilot:
        history = await open_history(pilot, "summit-builders", "DC02")
        night = history.current.night
        await pilot.press("down")
        await wait_for(pilot, lambda: history.current.night < night)
        screen, view = await open_log(pilot, "l")
        about = static_text(screen, "#log-about")
        assert about.startswith("older night: last ") and "lines stored · log " in about
        assert 0 < view.total <= 40
        await wait_for(pilot, lambda: len(view.lines) == view.total)
        assert any("rsync error:" in t and "(code 23)" in t for t in view.lines.values())


@asynctest
async def test_a_200000_line_spool_file_is_paged_not_loaded(why_db):
    from acorntui.core.logfile import STEP
    from acorntui.screens.logview import CACHE_LINES
    from acorntui.services.ingest import Ingestor

    big = why_db / "whyco" / "big.out"
    with open(big, "w") as fh:
        fh.write("sending incremental file list\n")
        for start in range(0, 200_000, 10_000):
            fh.write("".join(f"Users/docs/file-{i:06d}.pdf\n"
                             for i in range(start, start + 10_000)))
        fh.write("\nsent 1,234 bytes  received 56 bytes  2,580.00 bytes/sec\n"
                 "total size is 9,999  speedup is 7.75\n")
    _dated(big, WRITTEN)
    assert Ingestor(now=NOW).ingest_file(big).code == 0
    total = 200_004
    app = make_app()
    async with app.run_test(size=(120, 35)) as pilot:
        grid = await grid_ready(pilot)
        target = next(r for r in grid.grid.rows if (r.customer, r.server) == ("whyco", "big"))
        grid.grid.move_to_key(target.server_id)
        screen, view = await open_log(pilot, "l")
        assert view.total == total
        # the index holds one offset per STEP lines, not the lines
        assert len(screen.source.offsets) == total // STEP + 1
        await wait_for(pilot, lambda: (total - 1) in view.lines)  # opens at the end
        assert view.lines[total - 1].startswith("total size is")
        held = [len(view.lines)]
        await pilot.press("home")
        await wait_for(pilot, lambda: 0 in view.lines)
        held.append(len(view.lines))
        for _ in range(5):
            await pilot.press("pagedown")
        await wait_for(pilot, lambda: int(view.scroll_y) in view.lines)
        held.append(len(view.lines))
        await pilot.press("slash")
        await pilot.press(*"file-123456")
        await pilot.press("enter")
        await wait_for(pilot, lambda: view.match == 123457, timeout=20)
        await wait_for(pilot, lambda: 123457 in view.lines)
        assert view.lines[123457] == "Users/docs/file-123456.pdf"
        held.append(len(view.lines))
        assert max(held) <= CACHE_LINES < total // 50, held  # a window, never the whole log


@asynctest
async def test_code_reference_fits_the_reason_and_says_press_r(why_db):  # noqa: ARG001
    from textual.widgets import DataTable

    from acorntui.screens.codes import CodeReferenceScreen

    app = make_app()
    async with app.run_test(size=(120, 35)) as pilot:
        for server, wants in (
                ("stale", ["For this night: Backup did not complete (log stale)",
                           "once the new log is in the spool, press r"]),
                ("nofetch", ["For this night: Log not fetched",
                             "Our own pull of the log from the report server failed",
                             "run `acorntui fetch`"]),
                ("ahead", ["For this night: Backup did not complete (clock ahead)",
                           "Correct the customer server's clock"]),
                ("cut", ["For this night: Backup did not complete (log cut off)",
                         "Press r to re-parse the log"]),
                ("c12", ["Resolution", "If it finishes, press r to re-parse the log."])):
            await open_history(pilot, "whyco", server)
            await pilot.press("c")
            await wait_for(pilot, lambda: isinstance(app.screen, CodeReferenceScreen)
                           and app.screen.codes)
            detail = " ".join(static_text(app.screen, "#detail").split())
            for want in wants:
                assert want in detail, (server, want, detail)
            assert "clear the database and re-run the parsers" not in detail
            table = app.screen.query_one("#codes", DataTable)
            assert [str(c.label) for c in table.columns.values()] == ["Code", "Meaning"]
            await pilot.press("escape")
            await pilot.press("escape")
            await grid_ready(pilot)


@asynctest
async def test_history_pages_a_million_failures(demo_db, tmp_path):  # noqa: F811
    """Issue 12: a result with 1,000,000 file errors (ingest keeps the first 1,000 and the
    true count) opens at once, 200 listed; PgDn at the end of the list loads the next 200,
    and the title says how many more there are."""
    from textual.widgets import DataTable

    add_flood_result(1_000_000)
    app = make_app()
    async with app.run_test(size=(120, 35)) as pilot:
        history = await open_history(pilot, "flood", "big")
        await wait_for(pilot, lambda: len(history.failures) == 200)
        title = " ".join(static_text(history, "#failures-title").split())
        assert "1000000 file errors, 1000000 not excepted" in title
        assert "(200 listed, and 999800 more; PgDn loads more)" in title
        table = history.query_one("#failures", DataTable)
        table.focus()
        for _ in range(12):
            await pilot.press("pagedown")
        await wait_for(pilot, lambda: len(history.failures) >= 400)
        assert table.row_count == len(history.failures)
        title = " ".join(static_text(history, "#failures-title").split())
        assert f"({len(history.failures)} listed, and {1_000_000 - len(history.failures)} more"\
            in title


# -- snapshots (pytest-textual-snapshot: `pytest --snapshot-update` after an intended change,
# then look at the SVGs). The demo database only: its logs and dates are fixed. ----------------

SMALL, LARGE = (80, 24), (120, 35)


async def _history_code12(pilot):
    await open_history(pilot, "redwood-builders", "QB01")  # the demo's connection drop


async def _log_older_night(pilot):
    history = await open_history(pilot, "summit-builders", "DC02")
    night = history.current.night
    await pilot.press("down")
    await wait_for(pilot, lambda: history.current.night < night)
    screen, view = await open_log(pilot, "l")
    await wait_for(pilot, lambda: len(view.lines) == view.total)


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "120x35"])
def test_snapshot_history_with_why(demo_db, snap_compare, size):  # noqa: F811
    assert snap_compare(make_app(), terminal_size=size, run_before=_history_code12)


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "120x35"])
def test_snapshot_log_viewer(demo_db, snap_compare, size):  # noqa: F811
    assert snap_compare(make_app(), terminal_size=size, run_before=_log_older_night)


@asynctest
async def test_log_of_a_fetch_failure_and_of_a_changed_spool_file(why_db):
    from acorntui.screens.logview import LogViewScreen

    log = why_db / "whyco" / "c12.out"
    with open(log, "a") as fh:
        fh.write("a line written after the parse\n")
    _dated(log, WRITTEN + dt.timedelta(hours=1))
    app = make_app()
    async with app.run_test(size=(120, 35)) as pilot:
        grid = await grid_ready(pilot)
        target = next(r for r in grid.grid.rows if (r.customer, r.server) == ("whyco", "nofetch"))
        grid.grid.move_to_key(target.server_id)
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(app.screen, LogViewScreen)
                       and "no log lines" in static_text(app.screen, "#log-about"))
        about = " ".join(static_text(app.screen, "#log-about").split())
        assert about == ("no log lines are stored for this night: could not fetch the log "
                         f"from the report server: {FETCH_ERROR}")
        await pilot.press("escape")
        await open_history(pilot, "whyco", "c12")
        screen, view = await open_log(pilot, "l")
        about = " ".join(static_text(screen, "#log-about").split())
        assert "changed since it was parsed (then " in about and "r re-parses" in about
        await wait_for(pilot, lambda: view.total - 1 in view.lines)
        assert view.lines[view.total - 1] == "a line written after the parse"


@asynctest
async def test_hostile_error_lines_are_shown_literally(why_db):
    """Error lines and log lines are untrusted: escapes, bidi controls and markup show as text
    in Why and in the viewer, never reach the terminal or the markup parser."""
    from acorntui.services.ingest import Ingestor

    evil = why_db / "whyco" / "evil.out"
    evil.write_bytes(b"building file list ... done\n"
                     b"rsync: [sender] \x1b]0;pwned\x07read error \xe2\x80\xae[bold]x[/]\x1b[2J\n"
                     b"rsync error: error in rsync protocol data stream (code 12) at io.c(226)"
                     b" [sender=3.2.7]\n")
    _dated(evil, WRITTEN)
    assert Ingestor(now=NOW).ingest_file(evil).code == 12
    app = make_app()
    async with app.run_test(size=(120, 35)) as pilot:
        history = await open_history(pilot, "whyco", "evil")
        _head, lines = why_of(history)
        assert "\\x1b]0;pwned\\x07read error \\u202e[bold]x[/]\\x1b[2J" in lines
        assert "\x1b" not in lines and "\u202e" not in lines
        screen, view = await open_log(pilot, "l")
        await wait_for(pilot, lambda: 1 in view.lines)
        assert view.lines[1] == ("rsync: [sender] \\x1b]0;pwned\\x07read error "
                                 "\\u202e[bold]x[/]\\x1b[2J")
        assert "\x1b" not in rendered(view, 1).text
