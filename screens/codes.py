"""The code reference: every completion code with jargon, translation, resolution and rsync's
own name. `/` searches all of that text."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Footer, Static

from acorntui.screens.widgets import AcornInput, AcornScreen, Banner, safe_text
from acorntui.screens.worker import DbDone
from acorntui.services import codes as codes_mod
from acorntui.services.codes import CodeInfo


class CodesLoaded(DbDone[list[CodeInfo]]):
    pass


class CodeReferenceScreen(AcornScreen):
    BINDINGS: ClassVar = [
        Binding("escape", "back", "Back"),
        Binding("slash", "search", "Search"),
        Binding("question_mark", "help", "Help"),
    ]
    HELP = """\
Every rsync completion code the parser can record, with the team's jargon, a translation,
what to do about it, and rsync's own name for it. `/` searches codes, jargon, translation,
resolution and rsync names (every word must match). Codes marked + are rsync codes that were
not in the original table.
"""

    def __init__(self, code: int | None = None) -> None:
        super().__init__()
        self.start_code = code
        self.codes: list[CodeInfo] = []
        self.shown: list[CodeInfo] = []

    def compose(self) -> ComposeResult:
        yield Static(Text("Code reference", style="bold"), classes="topbar")
        yield Banner()
        yield AcornInput(placeholder="search codes, jargon, translation, resolution (esc clears)",
                         id="search")
        with Horizontal(id="codes-body"):
            yield DataTable(id="codes", cursor_type="row", zebra_stripes=False)
            with VerticalScroll(id="code-detail"):
                yield Static(id="detail")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#search").display = False
        t = self.query_one("#codes", DataTable)
        t.add_column("Code", key="code", width=5)
        t.add_column("Jargon", key="jargon")
        t.focus()
        self.db_call(CodesLoaded(), codes_mod.all_codes, description="load codes")

    def on_codes_loaded(self, message: CodesLoaded) -> None:
        if message.failed:
            return
        codes = self.codes = message.value
        self.show(codes)
        if self.start_code is not None:
            self.move_to(self.start_code)

    def show(self, codes: list[CodeInfo]) -> None:
        t = self.query_one("#codes", DataTable)
        t.clear()
        self.shown = codes
        for c in codes:
            mark = "" if c.from_original else "+"
            t.add_row(Text(f"{c.code}{mark}", justify="right"), safe_text(c.jargon),
                      key=str(c.code))
        self._detail(codes[0] if codes else None)

    def move_to(self, code: int) -> None:
        t = self.query_one("#codes", DataTable)
        for i, c in enumerate(self.shown):
            if c.code == code:
                t.move_cursor(row=i)
                self._detail(c)
                return
        self.notify(f"Code {code} is not in the reference.", severity="warning")

    @on(DataTable.RowHighlighted, "#codes")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if 0 <= event.cursor_row < len(self.shown):
            self._detail(self.shown[event.cursor_row])

    def _detail(self, c: CodeInfo | None) -> None:
        box = self.query_one("#detail", Static)
        if c is None:
            box.update(Text("No code matches the search."))
            return
        t = Text()
        t.append(f"Code {c.code}\n", style="bold")
        t.append_text(safe_text(c.jargon, style="bold"))
        t.append("\n\nrsync's name: ", style="bold")
        t.append(c.rsync_name or "—")
        if not c.from_original:
            t.append("\n(added from rsync's own codes; not in the original table)", style="dim")
        t.append("\n\nTranslation\n", style="bold underline")
        t.append(c.translation or "—")
        t.append("\n\nResolution\n", style="bold underline")
        t.append(c.resolution or "—")
        box.update(t)

    def action_search(self) -> None:
        box = self.query_one("#search", AcornInput)
        box.display = True
        box.focus()

    @on(AcornInput.Changed, "#search")
    def _search(self, event: AcornInput.Changed) -> None:
        self.show(codes_mod.search_codes(event.value, self.codes) if event.value.strip()
                  else self.codes)

    @on(AcornInput.Submitted, "#search")
    def _submitted(self) -> None:
        self.query_one("#codes").focus()

    def action_back(self) -> None:
        box = self.query_one("#search", AcornInput)
        if box.display:
            box.value = ""
            box.display = False
            self.show(self.codes)
            self.query_one("#codes").focus()
            return
        self.app.pop_screen()

    def action_help(self) -> None:
        from acorntui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen("Code reference", self.HELP, self))
