"""Widgets and helpers the console's screens share.

- ``safe_text``: untrusted text (file names, notes) made safe to show: never markup, control
  characters visible.
- ``FastGrid``: the nightly grid. DESIGN.md measured the standard DataTable at 2.1-2.6 s to
  first paint 10,000 rows and 2.1 s to re-filter them; the console's targets are 1.5 s and
  100 ms. FastGrid is a Line-API ``ScrollView``: it holds the row *objects* and renders cells
  only for the lines on screen (about 30), so loading, sorting and filtering cost what Python
  needs to order a list, not what building 120,000 cells costs. No new dependency (the other
  measured option, textual-fastdatatable, brings pyarrow, about 170 MB).
- ``AcornScreen``: the screens' base: DB calls (``db_call``, screens/worker.py) that come back
  as typed messages, a banner for database errors, the hosting App typed (``ConsoleApp``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, cast

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Input

from acorntui.core.status import FAILED, FETCH_FAILED, INCOMPLETE, OK, OK_WITH_EXCEPTIONS
from acorntui.core.textsafe import visible_controls
from acorntui.screens.worker import Banner, DbDone, DbScreen
from acorntui.services.queries import NO_DATA, STATUS_LABELS, status_label
from acorntui.services.roles import PermissionDenied

if TYPE_CHECKING:
    from textual.dom import DOMNode

    from acorntui.config import Config
    from acorntui.services.queries import JumpTarget, NightlyRow
    from acorntui.services.roles import User

__all__ = ["AcornInput", "AcornScreen", "Banner", "ConsoleApp", "DbDone", "FastGrid",
           "GridColumn", "STATUS_LOOK", "console_of", "human_bytes", "safe_text",
           "status_style", "status_text", "visible_controls"]


# -- untrusted text ----------------------------------------------------------------------------


def safe_text(value: object, style: str | Style = "") -> Text:
    """A Text that shows ``value`` literally: no markup, no escape sequences reach the terminal."""
    return Text(visible_controls("" if value is None else str(value)), style=style,
                no_wrap=True, overflow="ellipsis")


# -- formatting ----------------------------------------------------------------------------------

def human_bytes(n: int | float | None) -> str:
    if n is None:
        return "—"
    n = float(n)
    for unit in ("B", "K", "M", "G", "T"):
        if abs(n) < 1024 or unit == "T":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024
    return f"{n:.1f}P"


# status -> (theme colour name, glyph for the history strip). The word is always shown too:
# nothing is told by colour alone.
STATUS_LOOK: dict[str, tuple[str, str]] = {
    OK: ("success", "o"),
    OK_WITH_EXCEPTIONS: ("success", "*"),
    FAILED: ("error", "F"),
    INCOMPLETE: ("warning", "I"),
    FETCH_FAILED: ("fetch", "X"),
    NO_DATA: ("foreground-muted", "."),
    "snoozed": ("foreground-muted", "z"),
}


def theme_color(app: Any, name: str, fallback: str = "") -> str:
    try:
        value = app.theme_variables.get(name)
    except Exception:  # noqa: BLE001 - no app yet (unit use)
        value = None
    return value or fallback


def status_style(app: Any, status: str, *, bold: bool = True) -> Style:
    name = STATUS_LOOK.get(status, ("foreground", "?"))[0]
    fallback = {"success": "green", "error": "red", "warning": "yellow",
                "secondary": "magenta"}.get(name, "")
    color = theme_color(app, name, fallback) if name != "fetch" else "magenta"
    try:
        return Style(color=color or None, bold=bold and status not in (OK, NO_DATA))
    except Exception:  # noqa: BLE001 - a theme colour rich does not parse
        return Style(color=fallback or None, bold=bold)


def status_text(app: Any, status: str, reason: str = "", snoozed: bool = False) -> Text:
    if status == INCOMPLETE and reason == "incomplete":
        reason = ""  # "INCOMPLETE (incomplete)" says nothing more
    label = status_label(status, reason) if status in STATUS_LABELS else status.upper()
    # the reason is a stored column: shown literally, like every other stored text
    t = Text(visible_controls(label), style=status_style(app, status))
    if snoozed:
        t.append(" z", style=status_style(app, "snoozed"))
    return t


# -- inputs --------------------------------------------------------------------------------------

class AcornInput(Input):
    """An Input that honours the app's cursor-blink setting (off in tests and snapshots)."""

    def on_mount(self) -> None:
        self.cursor_blink = console_of(self).cursor_blink_enabled


# -- the grid ------------------------------------------------------------------------------------

@dataclass
class GridColumn:
    key: str
    label: str
    width: int
    align: str = "left"  # left | right
    flex: bool = False  # takes the width left over (at least ``width``)
    # 0: always shown; otherwise, when the grid is too narrow, the columns with the lowest
    # priority go first (an 80-column SSH terminal keeps what triage needs, no side-scrolling)
    priority: int = 0


class FastGrid(ScrollView, can_focus=True):
    """A keyboard grid over a list of row objects; only the visible lines are rendered.

    The owner gives ``columns``, ``render_row(row) -> list[Text]`` and ``row_key(row)``, and
    calls ``set_rows`` (load, sort, filter) or ``update_row`` (one row changed in place).
    ``gutter(row) -> Text`` (``gutter_width`` cells, left of the first column) shows marks
    that come and go without the row changing (marked for a bulk action, changed by a
    teammate); it is drawn fresh each time, so ``refresh_key`` is all a new mark needs.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,g", "first", "First", show=False),
        Binding("end,G", "last", "Last", show=False),
        # no h/l: `l` is the log everywhere (screens/keymap.py)
        Binding("left", "scroll_cols(-8)", "Left", show=False),
        Binding("right", "scroll_cols(8)", "Right", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {"fastgrid--header", "fastgrid--cursor",
                                             "fastgrid--cursor-blur"}
    DEFAULT_CSS = """
    FastGrid { background: $surface; color: $foreground; height: 1fr; }
    FastGrid > .fastgrid--header { background: $panel; color: $foreground; text-style: bold; }
    FastGrid > .fastgrid--cursor { background: $block-cursor-background;
                                   color: $block-cursor-foreground; }
    FastGrid > .fastgrid--cursor-blur { background: $block-cursor-blurred-background; }
    """

    cursor_row: reactive[int] = reactive(0)

    class CursorMoved(Message):
        def __init__(self, grid: FastGrid, row: Any) -> None:
            super().__init__()
            self.grid, self.row = grid, row

    class RowSelected(Message):
        def __init__(self, grid: FastGrid, row: Any) -> None:
            super().__init__()
            self.grid, self.row = grid, row

    def __init__(self, columns: Sequence[GridColumn], render_row: Callable[[Any], Sequence[Text]],
                 row_key: Callable[[Any], Hashable], *, id: str | None = None,
                 classes: str | None = None, gutter: Callable[[Any], Text] | None = None,
                 gutter_width: int = 0) -> None:
        super().__init__(id=id, classes=classes)
        self._gutter = gutter
        self.gutter_width = gutter_width if gutter is not None else 0
        self.columns = list(columns)
        self._render_row = render_row
        self._row_key = row_key
        self.rows: list[Any] = []
        self._index: dict[Hashable, int] = {}
        self._cells: dict[Hashable, list[Text]] = {}
        self._widths: list[int] = [c.width for c in self.columns]
        self._shown_cols: list[int] = list(range(len(self.columns)))
        self._width_for = -1
        self.painted = 0  # how many times a full screen of lines was rendered (bench/tests)

    # -- data ------------------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self.rows)

    @property
    def current(self) -> Any | None:
        if 0 <= self.cursor_row < len(self.rows):
            return self.rows[self.cursor_row]
        return None

    def set_rows(self, rows: list[Any], *, keep_key: Hashable | None = None) -> None:
        """Replace the rows (load, sort or filter); the cursor follows ``keep_key``."""
        if keep_key is None and self.current is not None:
            keep_key = self._row_key(self.current)
        self.rows = rows
        self._index = {}
        self._cells.clear()
        target = 0
        if keep_key is not None:
            self._reindex()
            target = self._index.get(keep_key, min(self.cursor_row, max(0, len(rows) - 1)))
        self.virtual_size = Size(self._total_width(), len(rows) + 1)
        self.cursor_row = max(0, min(target, len(rows) - 1))
        self._scroll_cursor_into_view(center=True)
        self.refresh()
        self.post_message(self.CursorMoved(self, self.current))

    def _reindex(self) -> None:
        if len(self._index) != len(self.rows):
            self._index = {self._row_key(r): i for i, r in enumerate(self.rows)}

    def index_of(self, key: Hashable) -> int | None:
        self._reindex()
        return self._index.get(key)

    def update_row(self, key: Hashable, row: Any) -> bool:
        """Replace one row in place (after a re-parse, an ack...). False if not shown."""
        i = self.index_of(key)
        if i is None:
            return False
        self.rows[i] = row
        self._cells.pop(key, None)
        self.refresh_line(i)
        if i == self.cursor_row:
            self.post_message(self.CursorMoved(self, row))
        return True

    def refresh_key(self, key: Hashable) -> None:
        """Draw one row again (its gutter mark changed)."""
        i = self.index_of(key)
        if i is not None:
            self.refresh_line(i)

    def invalidate(self) -> None:
        """Forget rendered cells (theme change, a busy marker)."""
        self._cells.clear()
        self.refresh()

    def move_to_key(self, key: Hashable) -> bool:
        i = self.index_of(key)
        if i is None:
            return False
        self.cursor_row = i
        return True

    # -- geometry ---------------------------------------------------------------------------
    def _compute_widths(self, width: int) -> None:
        if width == self._width_for:
            return
        self._width_for = width
        width -= self.gutter_width
        shown = list(range(len(self.columns)))

        def need(cols: list[int]) -> int:
            return sum(self.columns[i].width + 1 for i in cols)

        # drop optional columns, lowest priority first, until the rest fits
        optional = sorted((i for i in shown if self.columns[i].priority),
                          key=lambda i: (self.columns[i].priority, -i))
        while optional and width > 0 and need(shown) > width:
            shown.remove(optional.pop(0))
        self._shown_cols = shown
        flex = [i for i in shown if self.columns[i].flex]
        spare = max(0, width - need(shown))
        self._widths = []
        for i in shown:
            c = self.columns[i]
            self._widths.append(c.width + (spare // len(flex) if c.flex else 0))
        self.virtual_size = Size(self._total_width(), len(self.rows) + 1)

    @property
    def shown_columns(self) -> list[GridColumn]:
        """The columns on screen at the current width."""
        return [self.columns[i] for i in self._shown_cols]

    def _total_width(self) -> int:
        return self.gutter_width + sum(w + 1 for w in self._widths)

    def on_resize(self, event: events.Resize) -> None:
        self._compute_widths(self.scrollable_content_region.width)
        self._scroll_cursor_into_view()

    @property
    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    # -- cursor -----------------------------------------------------------------------------
    def validate_cursor_row(self, value: int) -> int:
        return max(0, min(value, len(self.rows) - 1)) if self.rows else 0

    def watch_cursor_row(self, old: int, new: int) -> None:
        self.refresh_line(old)
        self.refresh_line(new)
        self._scroll_cursor_into_view()
        self.post_message(self.CursorMoved(self, self.current))

    def refresh_line(self, index: int) -> None:
        y = index + 1 - int(self.scroll_y)
        if 0 <= y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    def _scroll_cursor_into_view(self, center: bool = False) -> None:
        top = int(self.scroll_y)
        page = self._page
        if center and not (top <= self.cursor_row < top + page):
            self.scroll_to(y=max(0, self.cursor_row - page // 2), animate=False, force=True)
        elif self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, force=True)
        elif self.cursor_row >= top + page:
            self.scroll_to(y=self.cursor_row - page + 1, animate=False, force=True)

    def action_cursor_up(self) -> None:
        self.cursor_row -= 1

    def action_cursor_down(self) -> None:
        self.cursor_row += 1

    def action_page_up(self) -> None:
        self.cursor_row -= self._page

    def action_page_down(self) -> None:
        self.cursor_row += self._page

    def action_first(self) -> None:
        self.cursor_row = 0

    def action_last(self) -> None:
        self.cursor_row = len(self.rows) - 1

    def action_scroll_cols(self, delta: int) -> None:
        self.scroll_to(x=max(0, self.scroll_x + delta), animate=False)

    def key_enter(self, event: events.Key) -> None:
        event.stop()
        if self.current is not None:
            self.post_message(self.RowSelected(self, self.current))

    def on_click(self, event: events.Click) -> None:
        if event.y >= 1:
            i = int(self.scroll_y) + event.y - 1
            if 0 <= i < len(self.rows):
                if i == self.cursor_row and event.chain >= 2:
                    self.post_message(self.RowSelected(self, self.current))
                self.cursor_row = i

    def _on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self.scroll_to(y=self.scroll_y + 3, animate=False)

    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self.scroll_to(y=max(0, self.scroll_y - 3), animate=False)

    # -- rendering --------------------------------------------------------------------------
    def _cells_for(self, row: Any) -> list[Text]:
        key = self._row_key(row)
        cells = self._cells.get(key)
        if cells is None:
            if len(self._cells) > 2000:
                self._cells.clear()
            cells = list(self._render_row(row))
            self._cells[key] = cells
        return cells

    def _line_text(self, cells: Sequence[Text | str], base: Style, row: Any = None) -> Text:
        line = Text(style=base, no_wrap=True, end="")
        if self.gutter_width:
            mark = self._gutter(row) if (self._gutter is not None and row is not None) \
                else Text()
            mark.truncate(self.gutter_width)
            line.append_text(mark)
            line.append(" " * (self.gutter_width - mark.cell_len))
        cols = self._shown_cols
        for width, i in zip(self._widths, cols, strict=False):
            if i >= len(cells):
                break
            cell, col = cells[i], self.columns[i]
            t = cell.copy() if isinstance(cell, Text) else Text(str(cell))
            t.no_wrap = True
            if t.cell_len > width:
                t.truncate(width, overflow="ellipsis")
            pad = width - t.cell_len
            if col.align == "right":
                line.append(" " * pad)
                line.append_text(t)
            else:
                line.append_text(t)
                line.append(" " * pad)
            line.append(" ")
        return line

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        self._compute_widths(width)
        base = self.rich_style
        scroll_x = int(self.scroll_x)
        if y == 0:
            hstyle = self.get_component_rich_style("fastgrid--header")
            text = self._line_text([Text(c.label) for c in self.columns], base + hstyle)
        else:
            i = int(self.scroll_y) + y - 1
            if i >= len(self.rows):
                if y == self.size.height - 1:
                    self.painted += 1
                return Strip.blank(width, base)
            row = self.rows[i]
            text = self._line_text(self._cells_for(row), base, row)
            if i == self.cursor_row:
                cstyle = self.get_component_rich_style(
                    "fastgrid--cursor" if self.has_focus else "fastgrid--cursor-blur")
                text.stylize_before(cstyle)
                text.stylize(Style(bgcolor=cstyle.bgcolor))
            if y == self.size.height - 1:
                self.painted += 1
        segments = list(text.render(self.app.console, end=""))
        strip = Strip(segments).crop_extend(scroll_x, scroll_x + width, base)
        return strip

    def on_focus(self) -> None:
        self.refresh_line(self.cursor_row)

    def on_blur(self) -> None:
        self.refresh_line(self.cursor_row)

    def visible_text(self) -> list[str]:
        """The lines as a user sees them (tests)."""
        return [self.render_line(y).text for y in range(self.size.height)]


# -- the screens' base ---------------------------------------------------------------------------

class ConsoleApp(Protocol):
    """What the screens rely on from the App that hosts them (acorntui.app.AcornApp)."""

    cfg: Config | None
    db_url: str  # as given (--db, ACORN_DB, the config file); "" when unknown
    user: User | None  # looked up by the grid's first load
    cursor_blink_enabled: bool

    def note_change(self, customer_or_all: str) -> None:
        """A change made on another screen: the grid reloads ``customer_or_all`` ("all")
        when it is shown again."""

    def take_changes(self) -> set[str] | str | None:
        """What ``note_change`` collected since the last call (and forget it)."""

    def remember_servers(self, rows: Iterable[NightlyRow]) -> None:
        """The grid's rows, for the command palette until ``remember_targets`` is called."""

    def remember_targets(self, targets: Iterable[JumpTarget]) -> None:
        """Every server and customer, for the command palette."""


def console_of(node: DOMNode) -> ConsoleApp:
    """The hosting App, typed as what the screens use of it."""
    return cast("ConsoleApp", node.app)


class AcornScreen(DbScreen):
    """A console screen: DB calls through ``db_call`` (screens/worker.py), the App's shared
    state through ``console``, and role checks before a form is opened."""

    HELP: ClassVar[str] = ""

    @property
    def console(self) -> ConsoleApp:
        return console_of(self)

    def _user(self) -> User | None:
        """The user (roles.User), or None until the first load has looked it up."""
        return self.console.user

    def _note_change(self, customer_or_all: str) -> None:
        """Tell the grid what to reload when it is shown again."""
        self.console.note_change(customer_or_all)

    def allowed(self, action: str) -> bool:
        """Refuse at once, before a form is filled in for nothing, when the user's role may
        not do ``action`` (roles.PERMISSIONS); the notification names the role needed. The
        domain functions check again. Unknown user (not loaded yet): let the domain decide."""
        user = self._user()
        if user is None:
            return True
        try:
            user.require(action)
        except PermissionDenied as exc:
            self.notify(str(exc), title="Not allowed", severity="error", timeout=10,
                        markup=False)
            return False
        return True
