"""The nightly grid of issue 13 (and the OK? of issue 15), driven through Pilot on the demo
database: severity a user can see (WCAG contrast computed from the colours the app really
draws, in the dark and the light theme, on the cursor row too), night navigation that keeps
the failures in view, sorting by a visible column, status:bad / status:anomaly, columns that
keep what matters, notifications that cover no data, and the palette's words in any order."""

# the fixtures are imported from test_console and named as test arguments
# ruff: noqa: F811

from __future__ import annotations

import pytest
from test_console import (  # noqa: F401 - fixtures
    LAST_NIGHT,
    asynctest,
    demo_db,
    demo_template,
    grid_lines,
    grid_ready,
    make_app,
    static_text,
    wait_for,
)

SIZES = [(80, 24), (120, 35)]
THEMES = ["textual-dark", "textual-light"]
ANOMALY_TEXT = "total size 1.1G, usual 10.4G (median of 14 nights)"


# -- WCAG 2, written out here (not the app's helper), so a wrong formula there is caught -------

def _channel(c: int) -> float:
    c /= 255
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def wcag_contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    def lum(rgb):
        r, g, b = (_channel(x) for x in rgb)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def drawn_pairs(grid, row_index: int) -> list[tuple[str, float]]:
    """(text, contrast) of every piece of text the grid draws for row ``row_index``: the
    foreground and background colours of the segments as rendered (theme variables
    resolved by Textual), the grid's own colours where a segment sets none."""
    y = row_index - int(grid.scroll_y) + 1
    assert 1 <= y < grid.size.height, "row not on screen"
    base = grid.rich_style
    out = []
    for seg in grid.render_line(y):
        if not seg.text.strip():
            continue
        style = seg.style
        fg = (style.color if style and style.color else base.color).get_truecolor()
        bg = (style.bgcolor if style and style.bgcolor else base.bgcolor).get_truecolor()
        out.append((seg.text, wcag_contrast(tuple(fg), tuple(bg))))
    return out


def status_cell_bg(grid, row_index: int):
    """The background drawn behind the status word of a row, as (r, g, b)."""
    y = row_index - int(grid.scroll_y) + 1
    word = grid.rows[row_index]
    base = grid.rich_style
    for seg in grid.render_line(y):
        if seg.text.strip() and seg.text.strip() in ("FAILED", "INCOMPLETE", "FETCH FAILED",
                                                     "OK", "OK*", "OK?"):
            bg = seg.style.bgcolor if seg.style and seg.style.bgcolor else base.bgcolor
            return tuple(bg.get_truecolor())
    raise AssertionError(f"no status word drawn for {word}")


def mark_anomaly(n: int = 1) -> list[int]:
    """Give ``n`` of last night's OK results the anomaly text ingest would set (issue 15)."""
    from acorntui.db.models import Result

    ids = [r.id for r in Result.select(Result.id).where(
        (Result.night == LAST_NIGHT) & (Result.status == "ok")).order_by(Result.id).limit(n)]
    Result.update(anomaly=ANOMALY_TEXT).where(Result.id.in_(ids)).execute()
    return ids


def first_index(screen, pred) -> int:
    return next(i for i, r in enumerate(screen.grid.rows) if pred(r))


# -- severity you can see -----------------------------------------------------------------------

@pytest.mark.parametrize("theme", THEMES)
@asynctest
async def test_every_status_reads_at_4_5_to_1_and_on_the_cursor_row(demo_db, theme):
    from acorntui.screens.nightly import is_anomaly, is_handled

    mark_anomaly()
    app = make_app(theme=theme)
    async with app.run_test(size=(120, 35)) as pilot:
        screen = await grid_ready(pilot)
        assert app.theme == theme
        grid = screen.grid
        kinds = {
            "failed": lambda r: r.status == "failed" and not is_handled(r),
            "incomplete": lambda r: r.status == "incomplete" and not is_handled(r),
            "fetch_failed": lambda r: r.status == "fetch_failed" and not is_handled(r),
            "anomaly": is_anomaly,
            "ok": lambda r: r.status == "ok" and not is_anomaly(r) and not is_handled(r),
            "handled": lambda r: not r.is_good and is_handled(r),
        }
        for kind, pred in kinds.items():
            i = first_index(screen, pred)
            grid.cursor_row = (i + 1) % grid.row_count  # off the row first
            await pilot.pause()
            grid.scroll_to(y=max(0, i - 2), animate=False, force=True)
            await pilot.pause()
            floor = 3.0 if kind == "handled" else 4.5
            for text, ratio in drawn_pairs(grid, i):
                assert ratio >= floor, (theme, kind, text, round(ratio, 2))
            # on the cursor row every text, the status badge included, reads at 4.5:1
            grid.cursor_row = i
            await pilot.pause()
            for text, ratio in drawn_pairs(grid, i):
                assert ratio >= 4.5, (theme, kind, "cursor", text, round(ratio, 2))
        # the summary's counts, each in its status's colour, read too
        from textual.geometry import Region

        summary = screen.query_one("#summary")
        line = summary.render_lines(Region(0, 0, summary.size.width, 1))[0]
        for seg in line:
            if seg.text.strip():
                ratio = wcag_contrast(tuple(seg.style.color.get_truecolor()),
                                      tuple(seg.style.bgcolor.get_truecolor()))
                assert ratio >= 4.5, (theme, "summary", seg.text, round(ratio, 2))
        # the status word keeps its word on the cursor row (colour is never the only cue)
        i = first_index(screen, kinds["failed"])
        grid.cursor_row = i
        await pilot.pause()
        assert " FAILED " in grid_lines(screen)[i - int(grid.scroll_y) + 1]


@pytest.mark.parametrize("theme", THEMES)
@asynctest
async def test_severity_ranks_failed_first_and_handled_rows_are_dimmed(demo_db, theme):
    from acorntui.screens.nightly import is_anomaly, is_handled

    mark_anomaly()
    app = make_app(theme=theme)
    async with app.run_test(size=(120, 35)) as pilot:
        screen = await grid_ready(pilot)
        grid = screen.grid
        surface = tuple(grid.rich_style.bgcolor.get_truecolor())

        def cue(pred) -> float:
            """How far the status cell's background stands out from the grid's."""
            i = first_index(screen, pred)
            grid.cursor_row = (i + 1) % grid.row_count
            grid.scroll_to(y=max(0, i - 2), animate=False, force=True)
            return wcag_contrast(status_cell_bg(grid, i), surface)

        async def settle():
            await pilot.pause()

        failed = cue(lambda r: r.status == "failed" and not is_handled(r))
        await settle()
        incomplete = cue(lambda r: r.status == "incomplete" and not is_handled(r))
        await settle()
        fetch = cue(lambda r: r.status == "fetch_failed" and not is_handled(r))
        await settle()
        ok = cue(lambda r: r.status == "ok" and not is_anomaly(r))
        assert failed > incomplete > 1.0 and failed > fetch > 1.0, (failed, incomplete, fetch)
        assert ok == pytest.approx(1.0)  # OK: no badge at all

        # a handled (acknowledged or snoozed) row is dimmed: less contrast than an
        # unhandled one, still readable
        i = first_index(screen, lambda r: not r.is_good and is_handled(r))
        j = first_index(screen, lambda r: not r.is_good and not is_handled(r))
        grid.cursor_row = grid.row_count - 1
        grid.scroll_to(y=0, animate=False, force=True)
        await settle()
        assert i < grid.size.height - 1 and j < grid.size.height - 1
        dim = min(ratio for _, ratio in drawn_pairs(grid, i))
        full = min(ratio for _, ratio in drawn_pairs(grid, j))
        assert 3.0 <= dim < full


@pytest.mark.parametrize("size", SIZES)
@asynctest
async def test_needs_attention_count_and_N(demo_db, size):
    from acorntui.screens.nightly import is_handled, needs_attention

    app = make_app()
    async with app.run_test(size=size) as pilot:
        screen = await grid_ready(pilot)
        rows = screen.all_rows
        want = sum(1 for r in rows if not r.is_good and not is_handled(r))
        assert any(is_handled(r) and not r.is_good for r in rows)  # the demo has some
        assert f"needs attention {want}" in static_text(screen, "#summary")
        screen.grid.cursor_row = screen.grid.row_count - 1  # an OK row at the bottom
        seen = []
        for _ in range(want + 1):
            await pilot.press("N")
            await pilot.pause()
            r = screen.grid.current
            assert needs_attention(r), r
            seen.append(r.server_id)
        assert len(set(seen)) == want  # each once, then round again
        assert seen[want] == seen[0]


@asynctest
async def test_anomaly_shows_ok_question_mark_and_why(demo_db):
    ids = mark_anomaly(2)
    app = make_app()
    async with app.run_test(size=(120, 35)) as pilot:
        screen = await grid_ready(pilot)
        flagged = [r for r in screen.all_rows if r.result_id in ids]
        assert len(flagged) == 2
        screen.grid.move_to_key(flagged[0].server_id)
        await pilot.pause()
        line = grid_lines(screen)[screen.grid.cursor_row - int(screen.grid.scroll_y) + 1]
        assert " OK? " in line
        assert ANOMALY_TEXT in static_text(screen, "#detail")
        assert "OK? 2" in static_text(screen, "#summary")


@asynctest
async def test_history_shows_the_anomaly_until_it_is_acknowledged(demo_db):
    """Issue 15: history, like the grid, shows OK? for the night and says why; an
    acknowledgement clears it."""
    from textual.widgets import DataTable

    from acorntui.db.models import Result
    from acorntui.screens.history import ServerHistoryScreen

    (rid,) = mark_anomaly(1)
    app = make_app()
    async with app.run_test(size=(120, 35)) as pilot:
        screen = await grid_ready(pilot)
        row = next(r for r in screen.all_rows if r.result_id == rid)
        screen.grid.move_to_key(row.server_id)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ServerHistoryScreen)
                       and app.screen.history and app.screen.current is not None)
        history = app.screen
        table = history.query_one("#results", DataTable)
        assert table.get_row_at(0)[2].plain == "OK?"
        title = static_text(history, "#failures-title")
        assert "OK?" in title and f"looks wrong: {ANOMALY_TEXT}" in title
        # acknowledged (as from another console): the night reads OK again
        Result.update(ack_note="share moved, checked", ack_by="tester").where(
            Result.id == rid).execute()
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: table.row_count
                       and table.get_row_at(0)[2].plain == "OK")
        assert "looks wrong" not in static_text(history, "#failures-title")


# -- filter ----------------------------------------------------------------------------------------

@asynctest
async def test_status_bad_anomaly_and_exact_failed(demo_db):
    mark_anomaly(1)
    app = make_app()
    async with app.run_test(size=(120, 35)) as pilot:
        screen = await grid_ready(pilot)
        total = len(screen.all_rows)

        async def filtered(text: str) -> set[str]:
            screen.set_filter(text)
            await pilot.pause()
            return {r.status + ("?" if r.anomaly else "") for r in screen.grid.rows}

        bad = await filtered("status:bad")
        assert bad == {"failed", "incomplete", "fetch_failed", "ok?"}
        n_bad = screen.grid.row_count
        assert f"showing {n_bad} of {total}" in static_text(screen, "#summary")
        assert n_bad == sum(1 for r in screen.all_rows if not r.is_good or r.anomaly)
        assert await filtered("status:failed") == {"failed"}
        assert await filtered("status:anomaly") == {"ok?"}
        assert f"showing 1 of {total}" in static_text(screen, "#summary")
        screen.set_filter("")
        await pilot.pause()
        assert f"{total} servers" in static_text(screen, "#summary")


# -- night navigation ------------------------------------------------------------------------------

@pytest.mark.parametrize("size", SIZES)
@asynctest
async def test_night_step_starts_at_the_failures(demo_db, size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        screen = await grid_ready(pilot)
        grid = screen.grid
        grid.cursor_row = grid.row_count - 1  # the last OK row: failures scrolled away
        await pilot.pause()
        assert int(grid.scroll_y) > 0
        night = screen.night
        await pilot.press("left_square_bracket")
        await wait_for(pilot, lambda: screen.night != night)
        assert int(grid.scroll_y) == 0
        lines = grid_lines(screen)
        first = lines[1].split()
        assert "FAILED" in first or "INCOMPLETE" in first or "FETCH" in first
        # the OK row selected before is off screen now: the cursor is on the first failure
        assert grid.cursor_row == 0 and not grid.current.is_good

        # a server on screen in both nights stays selected
        page = grid.size.height - 1
        before = {r.server_id: i for i, r in enumerate(grid.rows)}
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: screen.night == night)
        after = {r.server_id: i for i, r in enumerate(grid.rows)}
        both = [sid for sid, i in after.items()
                if 0 < i < page - 1 and before.get(sid, 99) < page - 1]
        assert both
        grid.move_to_key(both[-1])
        await pilot.pause()
        await pilot.press("left_square_bracket")
        await wait_for(pilot, lambda: screen.night != night)
        assert grid.current.server_id == both[-1]
        assert int(grid.scroll_y) == 0


# -- sort ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("size", SIZES)
@asynctest
async def test_sort_offers_the_visible_columns_and_reverses(demo_db, size):
    from textual.widgets import OptionList

    from acorntui.screens.nightly import SortPicker

    app = make_app()
    async with app.run_test(size=size) as pilot:
        screen = await grid_ready(pilot)
        header = grid_lines(screen)[0]
        assert "Status▲" in header  # the default: failures first
        statuses = [r.status for r in screen.grid.rows]
        assert statuses[0] in ("failed", "incomplete", "fetch_failed")
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, SortPicker))
        options = app.screen.query_one(OptionList)
        offered = [str(options.get_option_at_index(i).prompt)
                   for i in range(options.option_count)]
        shown = [c.label for c in screen.grid.shown_columns]
        assert offered and all(label in shown for label in offered)
        if size[0] < 100:
            assert "Sent" not in offered and "TSR" not in offered
        # pick Server
        assert offered[options.highlighted] == "Status"  # the picker opens on the sort column
        await pilot.press("home", *(["down"] * offered.index("Server")))
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen)
        assert "Server▲" in grid_lines(screen)[0]
        names = [r.server.lower() for r in screen.grid.rows]
        assert names == sorted(names)
        await pilot.press("S")
        await pilot.pause()
        assert "Server▼" in grid_lines(screen)[0]
        assert [r.server.lower() for r in screen.grid.rows] == sorted(names, reverse=True)

        # a click on a header sorts by it; again reverses
        col = next(c for c in screen.grid.shown_columns if c.key == "customer")
        assert col is screen.grid.column_at(1)
        await pilot.click("#grid", offset=(1, 0))
        await pilot.pause()
        assert "Customer▲" in grid_lines(screen)[0]
        custs = [r.customer.lower() for r in screen.grid.rows]
        assert custs == sorted(custs)
        await pilot.click("#grid", offset=(1, 0))
        await pilot.pause()
        assert "Customer▼" in grid_lines(screen)[0]


# -- columns ---------------------------------------------------------------------------------------

def test_cut_middle_keeps_the_file_name():
    from acorntui.core.textsafe import cut_middle

    path = "/cygdrive/E/shares/Users/office/Outlook/office.pst"
    cut = cut_middle(path, 24)
    assert len(cut) == 24 and cut.endswith("/office.pst") and cut.startswith("/cygdrive")
    assert "…" in cut
    assert cut_middle(path, 60) == path
    assert cut_middle("C:\\Users\\bob\\Documents\\budget.xlsx", 20).endswith("\\budget.xlsx")
    # the name alone is too long: the path's start and the name's end
    assert cut_middle(path, 8) == "/c…e.pst"
    long = "/cygdrive/E/" + "L" * 500 + "-long-end.txt"
    assert cut_middle(long, 30) == "/cygdrive…" + ("L" * 7) + "-long-end.txt"
    assert len(cut_middle(long, 30)) == 30


@pytest.mark.parametrize("size", SIZES)
@asynctest
async def test_grid_columns_keep_what_matters(demo_db, size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        screen = await grid_ready(pilot)
        grid = screen.grid
        status = next(c for c in grid.columns if c.key == "status")
        words = {line.split()[2] for line in grid_lines(screen)[1:] if line.strip()}
        assert status.width == max(len(w) for w in ("Status▲", "FETCH FAILED", *words))
        assert status.width <= 12
        # the demo's night has a custbak warning up: Custbak is shown at every width
        assert screen.query_one("#outages").display
        assert "Custbak" in grid_lines(screen)[0]
        assert grid.virtual_size.width <= grid.scrollable_content_region.width


@pytest.mark.parametrize("size", SIZES)
@asynctest
async def test_history_table_fits_with_its_ack_column(demo_db, size):
    from textual.widgets import DataTable

    from acorntui.screens.history import ServerHistoryScreen

    app = make_app()
    async with app.run_test(size=size) as pilot:
        screen = await grid_ready(pilot)
        # a server whose history has the longest status label (INCOMPLETE (missing))
        target = next(r for r in screen.grid.rows if r.status == "incomplete")
        screen.grid.move_to_key(target.server_id)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ServerHistoryScreen)
                       and app.screen.history)
        await pilot.pause()
        table = app.screen.query_one("#results", DataTable)
        labels = [c.label.plain for c in table.columns.values()]
        assert "Ack" in labels
        for c in table.columns.values():  # no header cut ("Speedu")
            assert c.width >= len(c.label.plain), (c.label.plain, c.width)
        # no side-scrolling: the columns fit the table
        assert table.virtual_size.width <= table.size.width, (table.virtual_size, table.size)
        failures = app.screen.query_one("#failures", DataTable)
        if failures.size.width:  # a night with no file errors shows its Why instead
            assert failures.virtual_size.width <= failures.size.width + 1


@pytest.mark.parametrize("theme", THEMES)
@asynctest
async def test_history_cursor_row_reads_at_4_5_to_1(demo_db, theme):
    from textual.widgets import DataTable

    from acorntui.screens.history import ServerHistoryScreen

    app = make_app(theme=theme)
    async with app.run_test(size=(120, 35)) as pilot:
        screen = await grid_ready(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ServerHistoryScreen)
                       and app.screen.history)
        for part in ("#results", "#failures"):
            table = app.screen.query_one(part, DataTable)
            cursor = table.get_component_rich_style("datatable--cursor")
            ratio = wcag_contrast(tuple(cursor.color.get_truecolor()),
                                  tuple(cursor.bgcolor.get_truecolor()))
            assert ratio >= 4.5, (theme, part, round(ratio, 2))
        assert screen is not app.screen


@pytest.mark.parametrize("size", SIZES)
@asynctest
async def test_exception_reason_gets_its_share(demo_db, size):
    from textual.widgets import DataTable

    from acorntui.screens.exceptions import ExceptionsScreen

    app = make_app()
    async with app.run_test(size=size) as pilot:
        await grid_ready(pilot)
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ExceptionsScreen)
                       and app.screen.rows)
        await pilot.pause()
        table = app.screen.query_one("#exceptions", DataTable)
        widths = {c.label.plain: c.width for c in table.columns.values()}
        assert widths["Reason"] >= 14 and widths["Reason"] >= widths["Pattern"] * 2 // 3
        assert table.virtual_size.width <= table.size.width


# -- notifications ---------------------------------------------------------------------------------

@pytest.mark.parametrize("size", SIZES)
@asynctest
async def test_notifications_cover_neither_the_detail_line_nor_the_timeline(demo_db, size):
    from textual.widgets._toast import Toast

    from acorntui.screens.history import ServerHistoryScreen

    app = make_app()
    async with app.run_test(size=size, notifications=True) as pilot:
        screen = await grid_ready(pilot)

        def toast_region():
            shown = [t for t in app.screen.query(Toast) if t.parent.display]
            return shown[-1].region if shown else None

        app.notify("A notification long enough to wrap onto more than one line at eighty "
                   "columns, as a re-parse error does", title="Re-parse", severity="error")
        await wait_for(pilot, lambda: toast_region() is not None and toast_region().area)
        region = toast_region()
        assert not region.overlaps(screen.query_one("#detail").region)
        # a second one replaces it in the same corner
        app.notify("second", title="")
        await pilot.pause()
        assert not toast_region().overlaps(screen.query_one("#detail").region)

        target = next(r for r in screen.grid.rows if r.status == "failed")
        screen.grid.move_to_key(target.server_id)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ServerHistoryScreen)
                       and app.screen.failures)
        app.notify("Exception added and 3 results re-evaluated; the grid reloads this "
                   "customer when you go back", title="Exception")
        await wait_for(pilot, lambda: toast_region() is not None and toast_region().area)
        region = toast_region()
        for part in ("#failure-detail", "#timeline-pane", "#night-detail"):
            widget = app.screen.query_one(part)
            if widget.display and widget.region.area:
                assert not region.overlaps(widget.region), part


# -- palette ---------------------------------------------------------------------------------------

@asynctest
async def test_palette_matches_words_in_any_order(demo_db):
    from textual.command import CommandInput, CommandList, CommandPalette

    from acorntui.screens.history import ServerHistoryScreen

    app = make_app()
    async with app.run_test(size=(120, 35)) as pilot:
        screen = await grid_ready(pilot)
        target = next(r for r in screen.all_rows if r.server.lower() == "exch01"
                      and "-" in r.customer)
        word = target.customer.split("-")[0]
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*f"{target.server.lower()} {word}")

        def top_hit() -> str:
            pal = app.screen
            if pal.query_one(CommandInput).value != f"{target.server.lower()} {word}":
                return ""
            hits = pal.query_one(CommandList)
            if hits.highlighted is None:
                return ""
            return str(hits.get_option_at_index(hits.highlighted).prompt)

        await wait_for(pilot, lambda: f"{target.customer}/{target.server}" in top_hit())
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ServerHistoryScreen))
        assert app.screen.server_id == target.server_id
