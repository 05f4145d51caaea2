"""The log viewer (`l` on the grid and in history): a night's log, error lines highlighted.

For the server's latest night it shows the whole spool file (``results.log_path``), paged:
a worker builds a sparse index of line offsets (core/logfile.py) and the view reads only the
lines around what is on screen, so a log of hundreds of MB is never held whole. For an older
night, or when the spool file is gone, it shows the tail stored with the result (the last 40
lines). `/` searches (n / N: next / previous match), escape or q closes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Footer, Static

from acorntui.core.logfile import LogIndex, build_index
from acorntui.core.parser import why_kind
from acorntui.core.textsafe import visible_controls
from acorntui.screens.keymap import bind
from acorntui.screens.widgets import AcornInput, AcornScreen, Banner, human_bytes, safe_text
from acorntui.screens.worker import DbDone
from acorntui.services.why import NightWhy, log_target, why_words

CACHE_LINES = 3000  # lines kept around the view; the rest is read again when scrolled to
WINDOW_MARGIN = 100  # lines read above and below what is on screen


class LineSource(Protocol):
    @property
    def lines(self) -> int: ...

    def read(self, first: int, count: int) -> list[str]: ...

    def search(self, term: str, start: int, forward: bool = True) -> int | None: ...


@dataclass
class StoredTail:
    """The stored last lines of a log, with the same reading calls as a file index."""

    tail: list[str]

    @property
    def lines(self) -> int:
        return len(self.tail)

    def read(self, first: int, count: int) -> list[str]:
        return self.tail[max(0, first):max(0, first) + max(0, count)]

    def search(self, term: str, start: int, forward: bool = True) -> int | None:
        needle = term.lower()
        hits = [i for i, t in enumerate(self.tail) if needle and needle in t.lower()]
        if not hits:
            return None
        if forward:
            return next((i for i in hits if i > start), hits[0])
        return next((i for i in reversed(hits) if i < start), hits[-1])


class LogLines(ScrollView, can_focus=True):
    """The lines of a log; only the visible ones are rendered, and only a window around them
    is held (``lines``). Lines not held yet ask the screen for them (:class:`Wanted`)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "scroll_up", "Up", show=False),
        Binding("down,j", "scroll_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,g", "scroll_home", "First", show=False),
        Binding("end,G", "scroll_end", "Last", show=False),
        Binding("left", "scroll_left", "Left", show=False),
        Binding("right", "scroll_right", "Right", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {"logview--error", "logview--warning",
                                             "logview--match", "logview--gutter"}
    DEFAULT_CSS = """
    LogLines { background: $surface; color: $foreground; height: 1fr; }
    LogLines > .logview--error { color: $text-error; text-style: bold; }
    LogLines > .logview--warning { color: $text-warning; }
    LogLines > .logview--match { background: $accent; color: $text; text-style: bold; }
    LogLines > .logview--gutter { color: $text-muted; }
    """

    class Wanted(Message):
        """Lines ``first .. first + count - 1`` are needed on screen."""

        def __init__(self, first: int, count: int) -> None:
            super().__init__()
            self.first, self.count = first, count

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.total = 0
        self.lines: dict[int, str] = {}
        self.term = ""
        self.match = -1  # the line of the current match
        self._asked: tuple[int, int] | None = None
        self._width = 0

    def reset(self, total: int) -> None:
        self.total = total
        self.lines = {}
        self._asked = None
        self._width = 0
        self.virtual_size = Size(self._gutter() + 1, total)
        self.refresh()

    def _gutter(self) -> int:
        return len(str(max(1, self.total))) + 1

    def put(self, first: int, lines: list[str]) -> None:
        for i, text in enumerate(lines):
            self.lines[first + i] = visible_controls(text)
        widest = max((len(t) for t in self.lines.values()), default=0)
        if len(self.lines) > CACHE_LINES:
            top = int(self.scroll_y)
            for n in sorted(self.lines, key=lambda k: abs(k - top), reverse=True):
                if len(self.lines) <= CACHE_LINES:
                    break
                del self.lines[n]
        self._asked = None
        if widest > self._width:
            at_end = self.scroll_y >= self.max_scroll_y
            self._width = widest
            self.virtual_size = Size(self._gutter() + widest + 1, self.total)
            if at_end:  # a horizontal scrollbar may have come: keep the last line in view
                self.call_after_refresh(self.scroll_end, animate=False)
        self.refresh()

    def show_line(self, n: int) -> None:
        """Bring line ``n`` into view, a third of the way down."""
        self.scroll_to(y=max(0, n - self.size.height // 3), animate=False)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        n = int(self.scroll_y) + y
        if n >= self.total:
            return Strip.blank(width, base)
        text = self.lines.get(n)
        gutter = Text(f"{n + 1:>{self._gutter() - 1}} ",
                      style=self.get_component_rich_style("logview--gutter"))
        if text is None:
            self._want()
            line = Text("…", style="dim")
        else:
            line = self._styled(n, text)
        full = Text(no_wrap=True, style=base)
        full.append_text(gutter)
        full.append_text(line)
        segments = list(full.render(self.app.console, end=""))
        x = int(self.scroll_x)
        return Strip(segments).crop_extend(x, x + width, base)

    def _styled(self, n: int, text: str) -> Text:
        kind = why_kind(text)
        style = Style()
        if kind is not None:
            style = self.get_component_rich_style(f"logview--{kind}")
        t = Text(text, style=style, no_wrap=True)
        if self.term:
            mstyle = self.get_component_rich_style("logview--match")
            t.highlight_words([self.term], style=mstyle, case_sensitive=False)
        if n == self.match:
            t.stylize(Style(reverse=True), 0, len(t))
        return t

    def _want(self) -> None:
        top = int(self.scroll_y)
        first = max(0, top - WINDOW_MARGIN)
        count = self.size.height + 2 * WINDOW_MARGIN
        if self._asked == (first, count):
            return
        self._asked = (first, count)
        self.post_message(self.Wanted(first, count))


class TargetLoaded(DbDone[tuple[NightWhy, bool]]):
    """The result's stored why (its tail, log path) and whether it is the latest night."""


class IndexBuilt(DbDone[LogIndex]):
    """The spool file's line index."""

    OWN_ERRORS = True


class LinesRead(DbDone[list[str]]):
    OWN_ERRORS = True

    def __init__(self, first: int, source: object) -> None:
        super().__init__()
        self.first, self.source = first, source


class SearchDone(DbDone[int | None]):
    OWN_ERRORS = True

    def __init__(self, term: str) -> None:
        super().__init__()
        self.term = term


class LogViewScreen(AcornScreen):
    BINDINGS: ClassVar = [
        bind("back"),
        bind("quit", "back", label="Back", show=False),
        bind("filter", "search", label="Search"),
        bind("match_next", "next_match(1)"),
        bind("match_prev", "next_match(-1)"),
        bind("help"),
    ]
    HELP = """\
A night's log. For the server's latest night it is the whole spool file, read a page at a
time (a big log is never loaded whole); for an older night it is the last lines stored with
the result. rsync's error lines are highlighted (warnings in a softer colour). / searches
(case-insensitive; enter finds the next line that holds the text), > and < (or f3 and
shift+f3) go to the next and previous match, home / end (g / G) to the first and last
line. escape or q closes.
"""

    def __init__(self, result_id: int, label: str) -> None:
        super().__init__()
        self.result_id = result_id
        self.label = label
        self.source: LineSource | None = None
        self.why: NightWhy | None = None

    def compose(self) -> ComposeResult:
        yield Static(safe_text(self.label, style="bold"), id="log-title", classes="topbar")
        yield Banner()
        yield Static(id="log-about", classes="section")
        yield LogLines(id="log-lines")
        yield AcornInput(placeholder="search the log (enter: next match, esc: close)",
                         id="search")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#search").display = False
        self.query_one(LogLines).focus()
        self._about(Text("Loading…"))
        self.db_call(TargetLoaded(), log_target, self.result_id, description="load log info")

    def _about(self, t: Text) -> None:
        self.query_one("#log-about", Static).update(t)

    def on_target_loaded(self, message: TargetLoaded) -> None:
        if message.failed:
            self._about(Text("Could not load this night's log."))
            return
        why, latest = message.value
        self.why = why
        title = safe_text(f"{self.label}  night {why.night}", style="bold")
        self.query_one("#log-title", Static).update(title)
        if latest and why.log_path:
            t = Text("Reading the spool file ")
            t.append_text(safe_text(why.log_path))
            t.append("…")
            self._about(t)
            self.db_call(IndexBuilt(), build_index, why.log_path, description="index the log")
        else:
            self._show_tail("older night: " if not latest else "")

    def _show_tail(self, lead: str) -> None:
        why = self.why
        assert why is not None
        self.source = StoredTail(why.tail)
        t = Text(lead)
        if why.tail:
            t.append(f"last {len(why.tail)} lines stored")
        else:
            words = why_words(why).headline
            t.append("no log lines are stored for this night" + (f": {words}" if words else ""))
        if why.log_size is not None:
            t.append(f" · log {human_bytes(why.log_size)}")
        if why.log_mtime is not None:
            t.append(f" written {_when(why.log_mtime)}")
        self._about(t)
        self._start(len(why.tail))

    def on_index_built(self, message: IndexBuilt) -> None:
        if message.failed:
            reason = visible_controls(str(message.error))
            self.notify(f"Cannot read the spool file: {reason}. Showing the stored tail.",
                        severity="warning", timeout=8, markup=False)
            self._show_tail("spool file unreadable: ")
            return
        index = self.source = message.value
        t = Text("spool file ")
        t.append_text(safe_text(index.path))
        written = dt.datetime.fromtimestamp(index.mtime)
        t.append(f" · {index.lines:,} lines, {human_bytes(index.size)}, written {_when(written)}")
        parsed = self.why.log_mtime if self.why is not None else None
        if parsed is not None and abs((written - parsed).total_seconds()) > 2:
            t.append(f" · changed since it was parsed (then {_when(parsed)}: r re-parses)",
                     style="bold")
        self._about(t)
        self._start(index.lines)

    def _start(self, total: int) -> None:
        view = self.query_one(LogLines)
        view.reset(total)
        view.call_after_refresh(view.scroll_end, animate=False)

    @on(LogLines.Wanted)
    def _wanted(self, message: LogLines.Wanted) -> None:
        if self.source is None:
            return
        self.db_call(LinesRead(message.first, self.source), self.source.read, message.first,
                     message.count, description="read log lines")

    def on_lines_read(self, message: LinesRead) -> None:
        if message.source is not self.source:
            return
        if message.failed:
            self.notify(f"Cannot read the log: {visible_controls(str(message.error))}",
                        severity="error", markup=False)
            return
        self.query_one(LogLines).put(message.first, message.value)

    # -- search --------------------------------------------------------------------------
    def action_search(self) -> None:
        box = self.query_one("#search", AcornInput)
        box.display = True
        box.focus()

    @on(AcornInput.Submitted, "#search")
    def _submitted(self, event: AcornInput.Submitted) -> None:
        view = self.query_one(LogLines)
        view.term = event.value.strip()
        view.match = -1
        self.query_one("#search").display = False
        view.focus()
        view.refresh()
        self._find(1)

    def action_next_match(self, direction: int) -> None:
        if not self.query_one(LogLines).term:
            self.action_search()
            return
        self._find(direction)

    def _find(self, direction: int) -> None:
        view = self.query_one(LogLines)
        if self.source is None or not view.term:
            return
        start = view.match if view.match >= 0 else (
            int(view.scroll_y) - 1 if direction > 0 else int(view.scroll_y) + view.size.height)
        self.db_call(SearchDone(view.term), self.source.search, view.term, start,
                     direction > 0, description="search the log")

    def on_search_done(self, message: SearchDone) -> None:
        view = self.query_one(LogLines)
        if message.failed:
            self.notify(f"Search failed: {visible_controls(str(message.error))}",
                        severity="error", markup=False)
            return
        if message.term != view.term:
            return
        if message.value is None:
            self.notify(f"Not found: {visible_controls(message.term)}", severity="warning",
                        markup=False)
            return
        view.match = message.value
        view.show_line(message.value)

    def action_back(self) -> None:
        box = self.query_one("#search", AcornInput)
        if box.display:
            box.display = False
            self.query_one(LogLines).focus()
            return
        self.app.pop_screen()

    def action_help(self) -> None:
        from acorntui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen("Log viewer", self.HELP, self))


def _when(t: dt.datetime) -> str:
    return f"{t:%Y-%m-%d %H:%M}"
