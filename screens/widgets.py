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
from textual.color import Color
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Input

from acorntui.core.status import FAILED, FETCH_FAILED, INCOMPLETE, OK, OK_WITH_EXCEPTIONS
from acorntui.core.textsafe import cut_middle, visible_controls
from acorntui.screens.worker import Banner, DbDone, DbScreen
from acorntui.services.queries import NO_DATA, STATUS_LABELS, status_label
from acorntui.services.roles import PermissionDenied

ANOMALY = "anomaly"  # a good result that copied far less than usual: shown as OK?

if TYPE_CHECKING:
    from textual.dom import DOMNode

    from acorntui.config import Config
    from acorntui.services.queries import JumpTarget, NightlyRow
    from acorntui.services.roles import User

__all__ = ["ANOMALY", "AcornInput", "AcornScreen", "Banner", "ConsoleApp", "DbDone",
           "FastGrid", "GridColumn", "STATUS_LOOK", "console_of", "contrast_ratio", "fit_cell",
           "human_bytes", "palette", "path_text", "safe_text", "status_style", "status_text",
           "status_word", "visible_controls"]


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
    INCOMPLETE: ("error", "I"),
    FETCH_FAILED: ("error", "X"),
    NO_DATA: ("foreground-muted", "."),
    "snoozed": ("foreground-muted", "z"),
    ANOMALY: ("warning", "?"),
}

# Severity, strongest cue first (issue 13): FAILED a solid badge (bold text on the theme's
# error colour); FETCH FAILED and INCOMPLETE bold text on a tinted background; the OK? of an
# anomaly amber on an amber tint; OK* in the success colour; OK plain. Badges keep their own
# background on the cursor row (FastGrid), so the cue survives the cursor. Every colour is
# derived from the theme and pushed until its text reaches MIN_CONTRAST (WCAG 2) against the
# background it is drawn on; a handled row (acknowledged or snoozed) is dimmed, but kept at
# DIM_CONTRAST at least.
MIN_CONTRAST = 4.5
DIM_CONTRAST = 3.2
BADGE_STATUSES = (FAILED, FETCH_FAILED, INCOMPLETE, ANOMALY)


def _linear(channel: int) -> float:
    c = channel / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(color: Color) -> float:
    """WCAG 2 relative luminance of an opaque colour."""
    r, g, b = color.rgb
    return 0.2126 * _linear(r) + 0.7152 * _linear(g) + 0.0722 * _linear(b)


def contrast_ratio(a: Color, b: Color) -> float:
    """WCAG 2 contrast ratio between two opaque colours (1 to 21)."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def readable(fg: Color, bg: Color, ratio: float = MIN_CONTRAST) -> Color:
    """``fg`` moved toward white or black (whichever the background allows) until it reaches
    ``ratio`` against ``bg``; unchanged when it already does."""
    if contrast_ratio(fg, bg) >= ratio:
        return fg
    target = WHITE if relative_luminance(bg) < 0.18 else BLACK
    for step in range(1, 21):
        moved = fg.blend(target, step / 20)
        if contrast_ratio(moved, bg) >= ratio:
            return moved
    return target


WHITE = Color(255, 255, 255)
BLACK = Color(0, 0, 0)


def _theme_colour(variables: dict[str, str], name: str, under: Color | None = None
                  ) -> Color | None:
    try:
        c = Color.parse(variables[name])
    except Exception:  # noqa: BLE001 - missing, or "auto 87%": the caller falls back
        return None
    if c.a < 1 and under is not None:
        c = under.blend(c.with_alpha(1), c.a)
    return c.with_alpha(1)


@dataclass(frozen=True)
class Palette:
    """The status styles of one theme (``palette(app)``)."""

    surface: Color
    styles: dict[str, Style]
    dim: Style  # a handled row's text
    words: dict[str, Style]  # a status's colour for text on $surface, no badge (counts)

    def style(self, status: str) -> Style:
        return self.styles.get(status, self.styles[OK])

    def word(self, status: str) -> Style:
        return self.words.get(status, self.words[OK])


_PALETTES: dict[tuple[str, str, str], Palette] = {}


def palette(app: Any) -> Palette:
    """The status styles for ``app``'s theme, on the grid's background ($surface)."""
    # called for every row rendered: the lookup must stay cheap (no copy of the variables)
    try:
        variables: dict[str, str] = app.theme_variables
        key = (str(app.theme), variables.get("surface", ""), variables.get("error", ""))
    except Exception:  # noqa: BLE001 - no app yet (unit use): textual-dark's colours
        variables, key = {}, ("", "", "")
    cached = _PALETTES.get(key)
    if cached is not None:
        return cached
    surface = _theme_colour(variables, "surface") or Color.parse("#1e1e1e")
    fg = _theme_colour(variables, "foreground", surface) or Color.parse("#e0e0e0")
    error = _theme_colour(variables, "error", surface) or Color.parse("#b93c5b")
    warning = _theme_colour(variables, "warning", surface) or Color.parse("#fea62b")
    success = _theme_colour(variables, "success", surface) or Color.parse("#4ebf71")
    dark = relative_luminance(surface) < 0.18

    # FAILED: the error colour as a badge, darkened (or lightened) until its text reads
    badge = error
    text = WHITE if contrast_ratio(WHITE, badge) >= contrast_ratio(BLACK, badge) else BLACK
    for step in range(1, 11):
        if contrast_ratio(text, badge) >= MIN_CONTRAST + 0.3:
            break
        badge = error.blend(BLACK if text == WHITE else WHITE, step / 10)
    tint_error = surface.blend(error, 0.28 if dark else 0.16)
    tint_warning = surface.blend(warning, 0.24 if dark else 0.2)
    muted = readable(fg.blend(surface, 0.45), surface, DIM_CONTRAST)
    styles = {
        FAILED: Style(color=text.rich_color, bgcolor=badge.rich_color, bold=True),
        FETCH_FAILED: Style(color=readable(error.blend(fg, 0.35), tint_error,
                                           MIN_CONTRAST + 0.3).rich_color,
                            bgcolor=tint_error.rich_color, bold=True),
        ANOMALY: Style(color=readable(warning, tint_warning, MIN_CONTRAST + 0.3).rich_color,
                       bgcolor=tint_warning.rich_color, bold=True),
        OK_WITH_EXCEPTIONS: Style(color=readable(success, surface,
                                                 MIN_CONTRAST + 0.3).rich_color),
        OK: Style(color=fg.rich_color),
        NO_DATA: Style(color=muted.rich_color),
        "snoozed": Style(color=muted.rich_color),
    }
    styles[INCOMPLETE] = styles[FETCH_FAILED]
    words = {}
    for status, style in styles.items():
        colour = style.bgcolor if status == FAILED else style.color
        c = Color.from_rich_color(colour) if colour is not None else fg
        words[status] = Style(color=readable(c, surface).rich_color,
                              bold=status not in (OK, NO_DATA, "snoozed"))
    made = Palette(surface=surface, styles=styles, dim=Style(color=muted.rich_color),
                   words=words)
    _PALETTES[key] = made
    return made


def theme_color(app: Any, name: str, fallback: str = "") -> str:
    try:
        value = app.theme_variables.get(name)
    except Exception:  # noqa: BLE001 - no app yet (unit use)
        value = None
    return value or fallback


def status_style(app: Any, status: str, *, bold: bool = True) -> Style:
    """The look of a status word (``palette``); ``bold=False`` drops the weight only."""
    style = palette(app).style(status)
    return style if bold else style + Style(bold=False)


def status_word(status: str, anomaly: bool = False) -> str:
    """The status as one word: OK, OK*, OK? (an anomaly), FAILED, INCOMPLETE, FETCH FAILED."""
    if anomaly and status in (OK, OK_WITH_EXCEPTIONS):
        return "OK?"
    return STATUS_LABELS.get(status, status.upper())


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
    cut: str = "end"  # end: "long tex…"; middle: a path keeps its file name ("/a/…/f.pst")
    max_width: int = 0  # a flex column grows no wider than this (0: no limit)


def has_background(t: Text) -> bool:
    """Whether a cell draws its own background (a status badge): kept on the cursor row."""
    if isinstance(t.style, Style) and t.style.bgcolor is not None:
        return True
    return any(isinstance(sp.style, Style) and sp.style.bgcolor is not None for sp in t.spans)


def fit_cell(t: Text, width: int, cut: str = "end") -> Text:
    """``t`` cut to ``width`` cells: an ellipsis at the end, or in the middle of a path."""
    if t.cell_len <= width:
        return t
    if cut == "middle":
        return Text(cut_middle(t.plain, width), style=t.style, no_wrap=True, end="")
    t.truncate(width, overflow="ellipsis")
    return t


def path_text(path: str | None, width: int, style: str | Style = "") -> Text:
    """A path for a table cell ``width`` wide: literal (safe_text), cut in the middle so the
    file name stays."""
    return fit_cell(safe_text(path, style=style), width, "middle")


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

    class HeaderSelected(Message):
        """A click on a column's header (as DataTable.HeaderSelected): sort by it."""

        def __init__(self, grid: FastGrid, column: GridColumn) -> None:
            super().__init__()
            self.grid, self.column = grid, column

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
        self.sort_column: str | None = None  # its header shows ▲ (ascending) or ▼
        self.sort_reverse = False
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

    def set_rows(self, rows: list[Any], *, keep_key: Hashable | None = None,
                 top: int | None = None) -> None:
        """Replace the rows (load, sort or filter); the cursor follows ``keep_key``.

        ``top``: the view starts at that row (another night: the failing rows in view); the
        cursor stays on ``keep_key`` only when that row is then on screen, else it goes to
        ``top``."""
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
        if top is not None:
            top = max(0, min(top, len(rows) - 1))
            if not top <= target < top + self._page:
                target = top
            self.cursor_row = max(0, min(target, len(rows) - 1))
            self.scroll_to(y=top, animate=False, force=True)
        else:
            self.cursor_row = max(0, min(target, len(rows) - 1))
            self._scroll_cursor_into_view(center=True)
        self.refresh()
        self.post_message(self.CursorMoved(self, self.current))

    def set_sort(self, column: str | None, reverse: bool) -> None:
        """Which header shows the sort arrow."""
        self.sort_column, self.sort_reverse = column, reverse
        self.refresh(Region(0, 0, self.size.width, 1))

    def column_at(self, x: int) -> GridColumn | None:
        """The shown column under screen column ``x`` of the grid."""
        x += int(self.scroll_x)
        for width, i in zip(self._widths, self._shown_cols, strict=False):
            if x < width + 1:
                return self.columns[i]
            x -= width + 1
        return None

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
        extra = self._share_spare(shown, max(0, width - need(shown)))
        self._widths = [self.columns[i].width + extra.get(i, 0) for i in shown]
        self.virtual_size = Size(self._total_width(), len(self.rows) + 1)

    def _share_spare(self, shown: list[int], spare: int) -> dict[int, int]:
        """The spare width shared by the flex columns: equal shares, none past its column's
        ``max_width``; what a capped column cannot take goes to the others."""
        extra: dict[int, int] = {}
        open_ = [i for i in shown if self.columns[i].flex]
        while spare > 0 and open_:
            share = max(1, spare // len(open_))
            for i in list(open_):
                c = self.columns[i]
                room = max(0, c.max_width - c.width - extra.get(i, 0)) if c.max_width else spare
                take = min(share, room, spare)
                extra[i] = extra.get(i, 0) + take
                spare -= take
                if take < share or (c.max_width and extra[i] >= c.max_width - c.width):
                    open_.remove(i)
                if spare <= 0:
                    break
        return extra

    def relayout(self) -> None:
        """Columns changed (a width, a priority): fit them to the width again."""
        self._width_for = -1
        if self.size.width:
            self._compute_widths(self.scrollable_content_region.width)
        self.refresh()

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
        if event.y == 0:
            column = self.column_at(event.x)
            if column is not None:
                self.post_message(self.HeaderSelected(self, column))
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

    def _line_text(self, cells: Sequence[Text | str], base: Style,
                   cursor: Style | None = None, row: Any = None) -> Text:
        """One line of cells, after the gutter mark of ``row``. On the cursor row (``cursor``)
        every cell takes the cursor's colours except a badge (a cell with its own background:
        a status), which keeps its own, so its text keeps its contrast and its severity cue."""
        line = Text(style=base if cursor is None else base + cursor, no_wrap=True, end="")
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
            t = fit_cell(t, width, col.cut)
            if cursor is not None and not has_background(t):
                t = Text(t.plain, style=cursor, no_wrap=True, end="")
            pad = width - t.cell_len
            if col.align == "right":
                line.append(" " * pad)
                line.append_text(t)
            else:
                line.append_text(t)
                line.append(" " * pad)
            line.append(" ")
        return line

    def _header_cells(self) -> list[Text]:
        cells = []
        for c in self.columns:
            if c.key != self.sort_column:
                cells.append(Text(c.label))
                continue
            arrow = "▼" if self.sort_reverse else "▲"
            width = next((w for w, i in zip(self._widths, self._shown_cols, strict=False)
                          if self.columns[i] is c), len(c.label) + 1)
            label = c.label if len(c.label) + 1 <= width else c.label[:max(0, width - 1)]
            cells.append(Text(label + arrow))
        return cells

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        self._compute_widths(width)
        base = self.rich_style
        scroll_x = int(self.scroll_x)
        if y == 0:
            hstyle = self.get_component_rich_style("fastgrid--header")
            text = self._line_text(self._header_cells(), base + hstyle)
        else:
            i = int(self.scroll_y) + y - 1
            if i >= len(self.rows):
                if y == self.size.height - 1:
                    self.painted += 1
                return Strip.blank(width, base)
            cursor = None
            if i == self.cursor_row:
                cursor = self.cursor_style
            row = self.rows[i]
            text = self._line_text(self._cells_for(row), base, cursor, row)
            if y == self.size.height - 1:
                self.painted += 1
        segments = list(text.render(self.app.console, end=""))
        strip = Strip(segments).crop_extend(scroll_x, scroll_x + width, base)
        return strip

    @property
    def cursor_style(self) -> Style:
        """The cursor row's colours (focused or not), resolved from the theme; its text
        pushed to MIN_CONTRAST against its background when the theme's falls short."""
        style = self.rich_style + self.get_component_rich_style(
            "fastgrid--cursor" if self.has_focus else "fastgrid--cursor-blur")
        if style.color is None or style.bgcolor is None:
            return style
        fg, bg = Color.from_rich_color(style.color), Color.from_rich_color(style.bgcolor)
        fixed = readable(fg, bg)
        return style if fixed == fg else style + Style(color=fixed.rich_color)

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
    poll_seconds: float | None  # how often screens look for changes (None: their default)

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
