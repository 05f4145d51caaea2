"""One server's history: a strip of its nights by status, its results, size and sent
sparklines, the file errors of the chosen night (with the exception that covered each), and
the timeline of notes and acknowledgements. `x` turns a failing file into an exception."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import DataTable, Footer, Sparkline, Static

from acorntui.screens.forms import ExceptionFormResult
from acorntui.screens.help import footer_fit
from acorntui.screens.keymap import bind
from acorntui.screens.widgets import (
    ANOMALY,
    STATUS_LOOK,
    AcornScreen,
    Banner,
    console_of,
    human_bytes,
    palette,
    path_text,
    safe_text,
    status_style,
    status_text,
)
from acorntui.screens.worker import DbDone
from acorntui.services import queries
from acorntui.services import why as why_mod
from acorntui.services.queries import FailureView, HistoryRow, ServerInfo, TimelineEntry
from acorntui.services.why import FailurePage, NightWhy, why_words

FAILURE_PAGE = 200  # file errors loaded at a time (PgDn at the end of the list loads more)


@dataclass
class HistoryData:
    """What the screen shows of one server (``load_history``)."""

    info: ServerInfo
    history: list[HistoryRow]
    timeline: list[TimelineEntry]


def load_history(server_id: int) -> HistoryData:
    return HistoryData(queries.server_info(server_id),
                       queries.server_history(server_id, limit=400),
                       queries.server_timeline(server_id))


def history_if_changed(server_id: int, seen: tuple | None
                       ) -> tuple[tuple, HistoryData | None]:
    """Worker body for the poll: the server's signature, and its history when that moved."""
    signature = queries.server_signature(server_id)
    if signature == seen:
        return signature, None
    return signature, load_history(server_id)


def add_exception_for(user, info: ServerInfo, form: ExceptionFormResult, night: dt.date
                      ) -> tuple[Any, int]:
    from acorntui.services.exceptions import ExceptionInput, add_exception
    from acorntui.services.ingest import reevaluate

    data = ExceptionInput(scope=form.scope, path_pattern=form.path_pattern,
                          server_id=info.id, customer_id=info.customer_id,
                          message_pattern=form.message_pattern, reason=form.reason,
                          method=form.method, expires_at=form.expires_at)
    e, changed = add_exception(user, data)
    # add_exception re-evaluates each server's latest night; the night being looked at too
    changed += reevaluate(server_ids=[info.id], since=night)
    return e, changed


# the results table's columns, in order; Sent and Speedup give way (in that order: Speedup
# first) when the table is narrow, so the Ack column is never lost (issue 13)
RESULT_COLUMNS = (("night", "Night"), ("code", "Code"), ("status", "Status"),
                  ("errors", "Err/Exc"), ("size", "Size"), ("sent", "Sent"),
                  ("speedup", "Speedup"), ("ack", "Ack"))
ACK_MIN = 10


def results_widths(avail: int, status_full: int) -> dict[str, int]:
    """The results table's column widths for a table ``avail`` cells wide (each column has
    one cell of padding either side, and 2 go to the scrollbar): Night, Code, Err/Exc and Size
    always; Status as wide as its longest label when there is room (else at least 12); then
    Sent and Speedup if they fit; the Ack column takes the rest (at least ACK_MIN)."""
    room = avail - 2
    widths = {"night": 10, "code": 4, "status": status_full, "errors": 7, "size": 7}

    def used() -> int:
        return sum(w + 2 for w in widths.values()) + ACK_MIN + 2

    if used() > room:
        widths["status"] = max(min(status_full, 12), status_full - (used() - room))
    for key, width in (("sent", 7), ("speedup", 7)):  # 7: "1003.9M"
        if used() + width + 2 <= room:
            widths[key] = width
    widths["ack"] = max(ACK_MIN, room - used() + ACK_MIN)
    return widths


class NightStrip(Widget):
    """The server's nights as a strip of glyphs coloured by status, newest on the right."""

    DEFAULT_CSS = "NightStrip { height: 3; }"
    selected: reactive[dt.date | None] = reactive(None)

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.by_night: dict[dt.date, str] = {}
        self.last: dt.date | None = None

    def set_data(self, history: list[HistoryRow]) -> None:
        self.by_night = {h.night: h.status for h in history}
        self.last = max(self.by_night) if self.by_night else None
        self.refresh()

    def render(self) -> Text:
        t = Text(no_wrap=True, overflow="crop")
        if self.last is None:
            return Text("no results yet")
        n = max(7, self.size.width - 1)
        nights = [self.last - dt.timedelta(days=i) for i in range(n - 1, -1, -1)]
        months = [" "] * len(nights)
        for i, d in enumerate(nights):
            if d.day == 1 or i == 0:
                label = f"{d:%b %d}" if i == 0 else f"{d:%b}"
                for j, ch in enumerate(label):
                    if i + j < len(months):
                        months[i + j] = ch
        t.append("".join(months) + "\n", style="dim")
        for d in nights:
            status = self.by_night.get(d, "no_data")
            glyph = STATUS_LOOK.get(status, ("", "?"))[1]
            style = status_style(self.app, status, bold=True)
            if d == self.selected:
                style = style + Style(reverse=True)
            t.append(glyph, style=style)
        t.append("\n")
        for status, word in (("ok", "OK"), ("ok_with_exceptions", "OK*"), ("failed", "FAILED"),
                             ("incomplete", "INCOMPLETE"), ("fetch_failed", "FETCH FAILED"),
                             ("no_data", "none")):
            t.append(STATUS_LOOK[status][1], style=status_style(self.app, status))
            t.append(f" {word}  ")
        return t


# -- what the screen's DB calls bring back -----------------------------------------------------

class HistoryLoaded(DbDone[HistoryData]):
    """The server, its results and its timeline."""


class FailuresLoaded(DbDone[FailurePage]):
    """A page of the file errors of the night ``row``."""

    def __init__(self, row: HistoryRow) -> None:
        super().__init__()
        self.row = row


class WhyLoaded(DbDone[NightWhy]):
    """What is stored about why the night ``row`` went as it did."""

    def __init__(self, row: HistoryRow) -> None:
        super().__init__()
        self.row = row


class Excepted(DbDone[tuple[Any, int]]):
    """An exception added from a failing file: (the exception, results re-evaluated)."""

    CHANGE = "The exception"

    def __init__(self, form: ExceptionFormResult) -> None:
        super().__init__()
        self.form = form


class Acked(DbDone[None]):
    CHANGE = "The acknowledgement"


class Noted(DbDone[None]):
    CHANGE = "The note"


class HistoryPolled(DbDone[tuple[tuple, HistoryData | None]]):
    """The poll's answer: a teammate's change to this server reloads the screen."""

    OWN_ERRORS = True  # the banner says it; the next poll retries


class ServerHistoryScreen(AcornScreen):
    _NIGHT = Binding.Group("Night", compact=True)
    # keys from the one table (screens/keymap.py): the grid's row actions work here too
    BINDINGS: ClassVar = [
        bind("back"),
        bind("help"),
        bind("exception", "except_file", label="Exception"),
        bind("ack"),
        bind("note"),
        bind("snooze"),
        bind("reparse"),
        bind("timeline"),
        bind("log"),
        bind("prev_night", "step(1)", label="Older", group=_NIGHT),
        bind("next_night", "step(-1)", label="Newer", group=_NIGHT),
        bind("codes", "code"),
        bind("audit"),
        bind("refresh"),
        bind("quit", "back", label="Back", show=False),
    ]
    # what the compact footer holds back until the terminal is this wide (`?` lists all)
    FOOTER_MIN_WIDTH: ClassVar = {"step(1)": 100, "step(-1)": 100, "code": 120,
                                  "audit": 120, "log": 80, "snooze": 140, "reparse": 140}
    NARROW = 110  # below this width the results table sits above the file errors
    HELP = """\
One server's nights. The strip shows the last nights by status (newest on the right; the
chosen night is reversed). Move through the results table (or [ and ]) to choose a night.
"Why" says in words why it went as it did: the fetch error, rsync's error lines for a fatal
code, no log, a stale log (its age), a clock ahead, or a log cut off with its last lines. l
opens the night's log (the whole spool file for the latest night). Its file errors are
listed (200 at a time: PgDn at the end of the list loads more) with whether an exception
covers each, and which. tab moves between the tables. On a failing file, x opens the
exception form prefilled with its path; saving re-evaluates at once, here and on the grid. a
acknowledges the chosen night with a note; n adds a note (any CSR or TSR); z snoozes or
un-snoozes the server; r re-parses the chosen night's log. The line under the file errors
shows the chosen file's full path and message; the line above them the night's full
acknowledgement and latest note. The timeline lists notes, acknowledgements and changes for
this server: t shows it in place of the file errors (on a narrow terminal it is only shown
that way), t again goes back.
"""

    def __init__(self, server_id: int, label: str, night: dt.date | None = None) -> None:
        super().__init__()
        self.server_id = server_id
        self.label = label
        self.want_night = night
        self.info: ServerInfo | None = None
        self.history: list[HistoryRow] = []
        self.failures: list[FailureView] = []
        self.stored_failures = 0  # how many file errors are stored for the night
        self._path_w = 0  # the File column's width, set when the failures table is built
        self._loading_page = False
        self.current: HistoryRow | None = None
        self.timeline: list[TimelineEntry] = []
        self._results_width = -1
        self.ack_column = True
        self.poll_seen: tuple | None = None  # queries.server_signature at the last poll

    def compose(self) -> ComposeResult:
        yield Static(safe_text(self.label, style="bold"), id="topbar", classes="topbar")
        yield Banner()
        yield NightStrip(id="strip")
        with Horizontal(id="sparks"):
            yield Static("Size", id="size-label", classes="spark-label")
            yield Sparkline([], id="size-spark")
            yield Static("Sent", id="sent-label", classes="spark-label")
            yield Sparkline([], id="sent-spark")
        with Horizontal(id="history-body"):
            yield DataTable(id="results", cursor_type="row")
            with Vertical(id="history-side"):
                with Vertical(id="failures-pane"):
                    yield Static(id="failures-title", classes="section")
                    yield Static(id="why")
                    yield Static(id="why-lines")
                    yield Static(id="night-detail", classes="detail")
                    yield DataTable(id="failures", cursor_type="row")
                    yield Static(id="failure-detail", classes="detail")
                with Vertical(id="timeline-pane"):
                    yield Static(id="timeline-title", classes="section")
                    yield DataTable(id="timeline", cursor_type="row", show_cursor=False)
                    yield Static(id="timeline-detail", classes="detail")
        yield Footer(compact=True)

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        return footer_fit(super().active_bindings, self.app.size.width, self.FOOTER_MIN_WIDTH)

    def on_mount(self) -> None:
        r = self.query_one("#results", DataTable)
        self.query_one("#night-detail").display = False
        t = self.query_one("#timeline", DataTable)
        for key, label in (("at", "When"), ("who", "Who"), ("what", "What"),
                           ("details", "Details"), ("night", "Night")):
            t.add_column(label, key=key)
        r.focus()
        self._layout(self.app.size.width)
        self._fill_results()
        self._fill_failures()
        self.load()
        self.poll()  # the baseline: what the first load saw
        poll = console_of(self).poll_seconds or 30.0  # as the grid
        self.set_interval(poll, self.poll, name="poll")

    def poll(self) -> None:
        """A teammate's change (another console, the CLI, the nightly job) shows here too."""
        self.db_call(HistoryPolled(), history_if_changed, self.server_id, self.poll_seen,
                     description="poll")

    def on_history_polled(self, message: HistoryPolled) -> None:
        if message.failed:
            return
        signature, data = message.value
        first = self.poll_seen is None
        self.poll_seen = signature
        if first or data is None:
            return
        if (data.info, data.history, data.timeline) != (self.info, self.history,
                                                        self.timeline):
            self._reload_keeping_night()

    def on_resize(self, event: events.Resize) -> None:
        self._layout(event.size.width)
        self.refresh_bindings()  # the footer shows what fits the new width
        self.call_after_refresh(self._fill_results)
        self.call_after_refresh(self._fill_failures)

    def _layout(self, width: int) -> None:
        self.set_class(width < self.NARROW, "-narrow")
        self._timeline_title()

    def load(self) -> None:
        self.db_call(HistoryLoaded(), load_history, self.server_id, description="load history")

    def on_history_loaded(self, message: HistoryLoaded) -> None:
        if message.failed:
            return
        data = message.value
        self.info, self.history = data.info, data.history
        self._header()
        self.query_one("#strip", NightStrip).set_data(self.history)
        chrono = list(reversed(self.history[:120]))
        sizes = [float(h.total_size) for h in chrono if h.total_size is not None]
        sent = [float(h.sent_bytes) for h in chrono if h.sent_bytes is not None]
        self.query_one("#size-spark", Sparkline).data = sizes or [0.0]
        self.query_one("#sent-spark", Sparkline).data = sent or [0.0]
        self.query_one("#size-label", Static).update(
            f"Size {human_bytes(sizes[-1]) if sizes else '—'} ")
        self.query_one("#sent-label", Static).update(
            f" Sent {human_bytes(sent[-1]) if sent else '—'} ")
        keep = self.current.night if self.current else self.want_night
        index = next((i for i, h in enumerate(self.history) if h.night == keep), 0)
        self.timeline = data.timeline
        self._fill_results(index, force=True)
        if self.history:
            self._choose(self.history[index], force=True)
        else:
            self.query_one("#failures-title", Static).update("No results for this server yet.")
        timeline = self.query_one("#timeline", DataTable)
        timeline.clear()
        for e in self.timeline:
            timeline.add_row(*self._timeline_cells(e))
        self._timeline_title()
        self._timeline_detail()

    def _fill_results(self, row: int | None = None, *, force: bool = False) -> None:
        """(Re)build the results table to the width there is: the Ack column takes what is
        left, cut with an ellipsis (the line above the file errors shows it whole), so an
        80-column terminal does not side-scroll."""
        table = self.query_one("#results", DataTable)
        avail = table.size.width or self.app.size.width
        if not force and avail == self._results_width:
            return
        self._results_width = avail
        keep = table.cursor_row if row is None else row
        widths = results_widths(avail, max([6] + [status_text(self.app, h.status, h.reason)
                                                  .cell_len for h in self.history]))
        self.ack_column = True  # never lost: the optional columns give way first
        table.clear(columns=True)
        shown = []
        for i, (key, label) in enumerate(RESULT_COLUMNS):
            if key in widths:
                table.add_column(label, key=key, width=widths[key])
                shown.append(i)
        for h in self.history:
            cells = self._result_cells(h)
            table.add_row(*(cells[i] for i in shown), key=str(h.result_id))
        if self.history:
            table.move_cursor(row=max(0, min(keep, len(self.history) - 1)))

    def _timeline_title(self) -> None:
        t = Text("Timeline: ", style="bold")
        t.append(f"{len(self.timeline)} notes, acknowledgements and changes"
                 if self.timeline else "no notes or changes yet")
        if self.has_class("-timeline"):
            t.append("  (t: back to the file errors)", style="dim")
        elif self.timeline:
            t.append("  (t: show)" if self.has_class("-narrow") else "  (t: full height)",
                     style="dim")
        self.query_one("#timeline-title", Static).update(t)

    def _header(self) -> None:
        i = self.info
        if i is None:
            return
        t = safe_text(f"{i.customer}/{i.name}", style="bold")
        bits = [i.description, i.os, f"custbak {i.custbak}" if i.custbak else "",
                f"TSR {i.tsr}" if i.tsr else "", "" if i.registered else "NOT REGISTERED"]
        t.append_text(safe_text("  " + " · ".join(b for b in bits if b)))
        if i.snoozed_until:
            t.append_text(safe_text(f"  SNOOZED until {i.snoozed_until}: {i.snooze_reason}",
                                    style="bold"))
        self.query_one("#topbar", Static).update(t)

    def _status_cell(self, h: HistoryRow) -> Text:
        """The status as the grid shows it: OK? (amber) for a good night far smaller than
        usual that nobody has acknowledged."""
        if h.looks_wrong:
            return Text("OK?" if h.status == "ok" else "OK*?",
                        style=palette(self.app).style(ANOMALY))
        return status_text(self.app, h.status, h.reason)

    def _result_cells(self, h: HistoryRow) -> list[Text]:
        return [
            Text(h.night.isoformat()),
            Text(str(h.code), justify="right"),
            self._status_cell(h),
            Text(f"{h.error_count}/{h.excepted_count}" if h.error_count else "",
                 justify="right"),
            Text(human_bytes(h.total_size), justify="right"),
            Text(human_bytes(h.sent_bytes), justify="right"),
            Text(f"{h.speedup:.2f}" if h.speedup is not None else "—", justify="right"),
            safe_text(f"{h.ack_by}: {h.ack_note}" if h.ack_note else ""),
        ]

    def _timeline_cells(self, e: TimelineEntry) -> list[Text]:
        return [Text(f"{e.at:%Y-%m-%d %H:%M}"), safe_text(e.login), safe_text(e.action),
                safe_text(e.details), Text(e.night.isoformat() if e.night else "")]

    @on(DataTable.RowHighlighted, "#results")
    def _night_highlighted(self, event: DataTable.RowHighlighted) -> None:
        # the cursor as it is now: a rebuild (resize) passes through row 0 on its way back
        row = event.data_table.cursor_row
        if 0 <= row < len(self.history):
            self._choose(self.history[row])

    def _choose(self, h: HistoryRow, *, force: bool = False) -> None:
        if (not force and self.current is not None and self.current.result_id == h.result_id
                and self.failures):
            return
        self.current = h
        self.query_one("#strip", NightStrip).selected = h.night
        self._night_detail(h)
        title = self.query_one("#failures-title", Static)
        title.update(Text(f"Night {h.night}: loading file errors…"))
        self.failures = []
        self.stored_failures = 0
        self.query_one("#failures", DataTable).clear()
        self.query_one("#failure-detail", Static).display = False
        self.query_one("#why", Static).display = False
        self.query_one("#why-lines", Static).display = False
        self._loading_page = True
        self.db_call(FailuresLoaded(h), why_mod.failure_page, h.result_id, 0, FAILURE_PAGE,
                     description="load file errors")
        self.db_call(WhyLoaded(h), why_mod.night_why, h.result_id, description="load why")

    def on_failures_loaded(self, message: FailuresLoaded) -> None:
        h = message.row
        if message.failed or self.current is None or self.current.result_id != h.result_id:
            return
        self._loading_page = False
        page = message.value
        self.stored_failures = page.stored
        if page.offset == 0 or page.offset != len(self.failures):
            self.failures = list(page.rows)
            # no file errors (a fatal code, a log cut off): the Why above gets the room
            self.query_one("#failures", DataTable).display = bool(self.failures)
            self._failures_title(h)
            self._fill_failures()
            return
        # the next page: appended in place (the rows already shown stay as they are)
        self.failures.extend(page.rows)
        table = self.query_one("#failures", DataTable)
        for i, f in enumerate(page.rows, start=page.offset):
            table.add_row(*self._failure_cells(f), key=str(i))
        self._failures_title(h)

    def _failures_title(self, h: HistoryRow) -> None:
        t = Text(f"Night {h.night}: ", style="bold")
        t.append_text(self._status_cell(h))
        if h.looks_wrong:  # issue 15: the green that isn't, said in words
            t.append_text(safe_text(f"  looks wrong: {h.looks_wrong}"))
        total = max(h.error_count or 0, self.stored_failures)
        bad = max(0, total - (h.excepted_count or 0))
        t.append(f"  {total} file errors, {bad} not excepted" if total else "  no file errors")
        shown = len(self.failures)
        if shown < total:
            t.append(f"  ({shown} listed, and {total - shown} more"
                     + ("; PgDn loads more)" if shown < self.stored_failures else ")"))
        if bad:
            t.append("  (x: add an exception)", style="dim")
        self.query_one("#failures-title", Static).update(t)

    def on_why_loaded(self, message: WhyLoaded) -> None:
        h = message.row
        box = self.query_one("#why", Static)
        if message.failed or self.current is None or self.current.result_id != h.result_id:
            return
        cfg = self.console.cfg
        words = (why_words(message.value, cfg.night_cutoff_hours) if cfg is not None
                 else why_words(message.value))
        if not words.headline:
            box.display = False
            return
        w = message.value
        t = Text("Why: ", style="bold")
        t.append_text(safe_text(words.headline))
        if w.log_mtime is not None:  # the log's own facts: when it was written, its size
            t.append(f"  (log {human_bytes(w.log_size)}, written {w.log_mtime:%Y-%m-%d %H:%M})",
                     style="dim")
        t.no_wrap = False  # the headline whole (a fetch error can be long)
        t.overflow = "fold"
        box.update(t)
        box.display = True
        # the lines that back it up: one screen line each (l shows them whole)
        lines = Text(no_wrap=True, overflow="ellipsis")
        for line in words.lines:
            lines.append_text(safe_text(f"line {line.line}: {line.text}",
                                        style=status_style(self.app, "failed", bold=True)
                                        if line.kind == "error" else ""))
            lines.append("\n")
        if words.more:
            lines.append(f"… and {words.more} more error lines (l: the log)\n", style="dim")
        if words.tail:
            lines.append("last lines of the log (l: the whole log):\n", style="dim")
            for text in words.tail:
                lines.append_text(safe_text(f"  {text}", style="dim"))
                lines.append("\n")
        lines.rstrip()
        more_box = self.query_one("#why-lines", Static)
        more_box.update(lines)
        more_box.display = bool(lines.plain)

    def _load_more_failures(self) -> None:
        h = self.current
        if (h is None or self._loading_page or not self.failures
                or len(self.failures) >= self.stored_failures):
            return
        self._loading_page = True
        self.db_call(FailuresLoaded(h), why_mod.failure_page, h.result_id, len(self.failures),
                     FAILURE_PAGE, description="load more file errors")

    def _failure_cells(self, f: FailureView) -> tuple[Text, Text, Text, Text]:
        return (Text("yes" if f.excepted else "NO",
                     style=status_style(self.app, "ok" if f.excepted else "failed")),
                path_text(f.path, self._path_w) if self._path_w else safe_text(f.path),
                safe_text(f.exception or "—"), safe_text(_short_message(f)))

    def _fill_failures(self) -> None:
        """(Re)build the file errors table so the File column takes the width there is."""
        table = self.query_one("#failures", DataTable)
        keep = table.cursor_row
        failures = self.failures
        by_w = min(24, max([len(f.exception or "—") for f in failures] + [10]))
        msg_w = min(30, max([len(_short_message(f)) for f in failures] + [7]))
        # 4 columns, each with one cell of padding either side; 2 for the scrollbar
        avail = table.size.width or max(40, self.app.size.width // 2)
        rest = max(30, avail - 2 - 8 - 3)
        path_w = max(rest - by_w - msg_w, rest // 2)  # the file name gets at least half
        if path_w + by_w + msg_w > rest:
            by_w = max(6, (rest - path_w) * 2 // 5)
            msg_w = max(6, rest - path_w - by_w)
        table.clear(columns=True)
        table.add_column("Exc", key="exc", width=3)
        self._path_w = path_w
        table.add_column("File", key="path", width=path_w)
        table.add_column("Covered by", key="by", width=by_w)
        table.add_column("Message", key="message", width=msg_w)
        for i, f in enumerate(failures):
            table.add_row(*self._failure_cells(f), key=str(i))
        if failures:
            table.move_cursor(row=max(0, min(keep, len(failures) - 1)))
        self._failure_detail()

    def _night_detail(self, h: HistoryRow) -> None:
        """The night's acknowledgement and latest note, whole (the Ack column is cut)."""
        box = self.query_one("#night-detail", Static)
        note = next((e for e in self.timeline if e.action == "note" and e.night == h.night),
                    None)
        t = Text()
        if h.ack_note:
            t.append("ACK", style="bold")
            t.append_text(safe_text(f" by {h.ack_by}: {h.ack_note}"))
        if note is not None:
            t.append("  " if h.ack_note else "")
            t.append("NOTE", style="bold")
            t.append_text(safe_text(f" by {note.login}: {note.details}"))
        t.no_wrap = False
        t.overflow = "fold"
        box.update(t)
        box.display = bool(t.plain)

    @on(DataTable.RowHighlighted, "#failures")
    def _failure_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._failure_detail()
        if event.cursor_row >= len(self.failures) - 1:
            self._load_more_failures()  # PgDn (or down) at the end of the list

    def _failure_detail(self) -> None:
        """The chosen file's full path and message, literally (names can be long)."""
        box = self.query_one("#failure-detail", Static)
        table = self.query_one("#failures", DataTable)
        if not self.failures:
            box.display = False
            return
        f = self.failures[max(0, min(table.cursor_row, len(self.failures) - 1))]
        t = safe_text(f.path, style="bold")
        t.append_text(safe_text(f"  {_short_message(f)}"))
        t.append(f"  (line {f.line}) " if f.line else "  ")
        t.append_text(safe_text(f"covered by {f.exception}" if f.excepted
                                else "not excepted (x: add an exception)"))
        # wrap, not ellipsis: the point of this line is the whole path
        t.no_wrap = False
        t.overflow = "fold"
        box.update(t)
        box.display = True

    # -- actions ---------------------------------------------------------------------------------
    def _reload_keeping_night(self) -> None:
        """Reload (statuses may have changed) and come back to the night looked at."""
        if self.current is not None:
            self.want_night = self.current.night
        self.current = None
        self.load()

    def action_timeline(self) -> None:
        """The timeline in place of the file errors, and back."""
        self.toggle_class("-timeline")
        self._timeline_title()
        shown = self.has_class("-timeline")
        timeline = self.query_one("#timeline", DataTable)
        timeline.show_cursor = shown
        (timeline if shown else self.query_one("#results", DataTable)).focus()
        self._timeline_detail()

    @on(DataTable.RowHighlighted, "#timeline")
    def _timeline_highlighted(self) -> None:
        self._timeline_detail()

    def _timeline_detail(self) -> None:
        """The chosen entry whole (its Details are cut on a narrow terminal)."""
        row = self.query_one("#timeline", DataTable).cursor_row
        if not self.timeline or not self.has_class("-timeline"):
            self.query_one("#timeline-detail", Static).update("")
            return
        e = self.timeline[max(0, min(row, len(self.timeline) - 1))]
        t = safe_text(f"{e.at:%Y-%m-%d %H:%M} {e.login} {e.action}", style="bold")
        if e.night:
            t.append(f" (night {e.night})")
        t.append_text(safe_text(f": {e.details}"))
        t.no_wrap = False
        t.overflow = "fold"
        self.query_one("#timeline-detail", Static).update(t)

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_refresh(self) -> None:
        self._reload_keeping_night()

    def action_step(self, delta: int) -> None:
        table = self.query_one("#results", DataTable)
        table.move_cursor(row=max(0, min(len(self.history) - 1, table.cursor_row + delta)))

    def action_audit(self) -> None:
        """Every change on this server: who, when, before and after."""
        from acorntui.screens.audit import AuditScreen

        self.app.push_screen(AuditScreen(server_id=self.server_id, server_label=self.label))

    def action_code(self) -> None:
        from acorntui.screens.codes import CodeReferenceScreen

        h = self.current
        self.app.push_screen(CodeReferenceScreen(code=h.code if h else None,
                                                 status=h.status if h else "",
                                                 reason=h.reason if h else ""))

    def action_log(self) -> None:
        """The chosen night's log: the spool file for the latest night, else the stored
        tail."""
        if self.current is None:
            self.notify("No night chosen.", severity="warning")
            return
        from acorntui.screens.logview import LogViewScreen

        self.app.push_screen(LogViewScreen(self.current.result_id, self.label))

    def _chosen_failure(self) -> FailureView | None:
        table = self.query_one("#failures", DataTable)
        if table.has_focus and 0 <= table.cursor_row < len(self.failures):
            return self.failures[table.cursor_row]
        return next((f for f in self.failures if not f.excepted), None)

    def action_except_file(self) -> None:
        if not self.allowed("exception"):
            return
        f = self._chosen_failure()
        if f is None or self.info is None or self.current is None:
            self.notify("No failing file on this night to except.", severity="warning")
            return
        if not f.path:
            self.notify("This error line names no file, so no exception can cover it: "
                        "the log needs a look (re-parse after fixing the cause).",
                        severity="warning", timeout=8)
            return
        if f.excepted:
            self.notify(f"Already covered by {f.exception}.", markup=False)
        from acorntui.screens.forms import ExceptionForm

        info, night = self.info, self.current.night

        def done(res: ExceptionFormResult | None) -> None:
            if res is None:
                return
            self.db_call(Excepted(res), add_exception_for, self._user(), info, res, night)

        self.app.push_screen(ExceptionForm(
            title="New exception", path_pattern=f.path, scope="server",
            server_label=f"{info.customer}/{info.name}", customer_label=info.customer,
            failing_path=f"{f.path}  ({_short_message(f)})"), done)

    def on_excepted(self, message: Excepted) -> None:
        if message.failed:
            return
        (e, changed), res = message.value, message.form
        self.notify(f"Exception #{e.id} added ({res.scope}); {changed} result(s) re-evaluated.",
                    markup=False)
        if self.info is not None:
            self._note_change("all" if res.scope != "server" else self.info.customer)
        self._reload_keeping_night()

    def action_ack(self) -> None:
        h = self.current
        if h is None or not self.allowed("ack"):
            return
        from acorntui.screens.forms import AckForm

        def done(text: str | None) -> None:
            if text:
                self.db_call(Acked(), _ack, self._user(), h.result_id, text)

        self.app.push_screen(AckForm(f"{self.label}, night {h.night}", h.ack_note), done)

    def on_acked(self, message: Acked) -> None:
        if message.failed:
            return
        self.notify("Acknowledged.")
        if self.info:
            self._note_change(self.info.customer)
        self._reload_keeping_night()

    def action_note(self) -> None:
        h, info = self.current, self.info
        if info is None or not self.allowed("note"):
            return
        from acorntui.screens.forms import NoteForm

        where = f"{self.label}, night {h.night}" if h else self.label

        def done(text: str | None) -> None:
            if text:
                self.db_call(Noted(), _note, self._user(), info.id, text,
                             h.result_id if h else None)

        self.app.push_screen(NoteForm(where), done)

    def on_noted(self, message: Noted) -> None:
        if message.failed:
            return
        self.notify("Note added (see the timeline).")
        self.load()

    def action_help(self) -> None:
        from acorntui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen("Server history", self.HELP, self))

    # z and r: the grid's row actions, on this server ------------------------------------------
    def action_snooze(self) -> None:
        info = self.info
        if info is None or not self.allowed("snooze"):
            return
        from acorntui.screens.forms import SnoozeForm, SnoozeResult

        def done(res: SnoozeResult | None) -> None:
            if res is not None:
                self.db_call(Snoozed(res.until), _snooze, self._user(), info.id, res.until,
                             res.reason)

        self.app.push_screen(SnoozeForm(self.label, info.snoozed_until, info.snooze_reason),
                             done)

    def on_snoozed(self, message: Snoozed) -> None:
        if message.failed:
            return
        self.notify(f"{self.label} snoozed until {message.until}" if message.until
                    else f"{self.label}: snooze lifted", markup=False)
        if self.info:
            self._note_change(self.info.customer)
        self._reload_keeping_night()

    def action_reparse(self) -> None:
        h, info = self.current, self.info
        if h is None or info is None or not self.allowed("reparse"):
            return
        self.notify(f"Re-parsing {self.label}, night {h.night}…", markup=False, timeout=3)
        self.db_call(Reparsed(), _reparse, self.console.cfg, self._user(), info.customer,
                     info.name, h.night, description=f"re-parse {self.label}")

    def on_reparsed(self, message: Reparsed) -> None:
        if message.failed:
            self.notify(f"Re-parse of {self.label} failed: {message.error}", title="Re-parse",
                        severity="error", timeout=10, markup=False)
            return
        outcome = message.value
        err = getattr(outcome, "error", "")
        self.notify(f"{self.label} re-parsed: {getattr(outcome, 'action', '')}"
                    + (f", {err}" if err else ""), markup=False, timeout=6)
        if self.info:
            self._note_change(self.info.customer)
        self._reload_keeping_night()


class Snoozed(DbDone[None]):
    CHANGE = "The snooze"

    def __init__(self, until: dt.date | None) -> None:
        super().__init__()
        self.until = until


class Reparsed(DbDone[Any]):
    OWN_ERRORS = True


def _snooze(user, server_id: int, until: dt.date | None, reason: str) -> None:
    from acorntui.services.triage import snooze

    snooze(user, server_id, until, reason)


def _reparse(cfg, user, customer: str, server: str, night: dt.date) -> Any:
    from acorntui.jobs.reparse import reparse_server

    return reparse_server(cfg, customer, server, night=night, user=user)


def _short_message(f: FailureView) -> str:
    """The error without what the File column already says (the path, rsync's prefix)."""
    msg = f.message.removeprefix("rsync: ")
    return msg.replace(f'"{f.path}"', '"…"') if f.path else msg


def _note(user, server_id: int, text: str, result_id: int | None) -> None:
    from acorntui.services.triage import add_note

    add_note(user, server_id, text, result_id=result_id)


def _ack(user, result_id: int, note: str) -> None:
    from acorntui.services.triage import acknowledge

    acknowledge(user, result_id, note)
