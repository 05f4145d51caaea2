"""The code reference: every completion code with its meaning, translation, resolution and
rsync's own name. `/` searches all of that text. Opened for a night (history's `c`), it first
shows the fix that fits that night's reason (missing, stale, cut off, fetch failed, clock
ahead: reports/fixes.py, the same text the mails use), and the resolutions name the console's
own keys ("press r to re-parse")."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Footer, Static

from acorntui.reports.fixes import fix_for
from acorntui.screens.keymap import bind
from acorntui.screens.widgets import AcornInput, AcornScreen, Banner, safe_text
from acorntui.screens.worker import DbDone
from acorntui.services import codes as codes_mod
from acorntui.services.codes import FILE_ERROR_CODES, CodeInfo, in_console


class CodesLoaded(DbDone[list[CodeInfo]]):
    pass


class CodeReferenceScreen(AcornScreen):
    BINDINGS: ClassVar = [
        bind("back"),
        bind("quit", "back", label="Back", show=False),
        bind("filter", "search", label="Search"),
        bind("help"),
    ]
    HELP = """\
Every rsync completion code the parser can record, with its meaning (the team's short name),
a translation, what to do about it, and rsync's own name for it. Opened from a night (c in
history or on the grid), the code's detail starts with the fix for that night's reason: a -2
can be a missing log, a stale one, one cut off, a clock ahead, or our own fetch that failed.
Where a step is one of the console's keys, the text says so (r re-parses, x adds an
exception). `/` searches codes, meaning, translation, resolution and rsync names (every word
must match). Codes marked + are rsync codes that were not in the original table.
"""

    def __init__(self, code: int | None = None, *, status: str = "", reason: str = "") -> None:
        super().__init__()
        self.start_code = code
        self.night_status = status  # the night it was opened for: its fix comes first
        self.night_reason = reason
        self.codes: list[CodeInfo] = []
        self.shown: list[CodeInfo] = []

    def compose(self) -> ComposeResult:
        yield Static(Text("Code reference", style="bold"), classes="topbar")
        yield Banner()
        yield AcornInput(placeholder="search codes, meaning, translation, resolution (esc clears)",
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
        t.add_column("Meaning", key="jargon")
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
        for_night = bool(self.night_status) and c.code == self.start_code
        fix = fix_for(self.night_status, self.night_reason, c.code, c.jargon, c.translation,
                      c.resolution) if for_night else None
        # the night's own fix, when it says more than the code's resolution (a -2 by its
        # reason, a fetch failure, a code whose resolution is only "See Translation.")
        own_fix = fix is not None and (fix.key != str(c.code)
                                       or fix.todo.strip() != (c.resolution or "").strip())
        if fix is not None and own_fix:
            t.append("\n\nFor this night: ", style="bold underline")
            t.append_text(safe_text(fix.title, style="bold"))
            t.append("\n")
            t.append(fix.meaning)
            t.append("\n\nWhat to do\n", style="bold underline")
            t.append(in_console(fix.todo))
            t.append(self._console_steps(c.code))
            t.append(f"\n\nCode {c.code} in general", style="bold underline")
        t.append("\n\nrsync's name: ", style="bold")
        t.append(c.rsync_name or "—")
        if not c.from_original:
            t.append("\n(added from rsync's own codes; not in the original table)", style="dim")
        t.append("\n\nTranslation\n", style="bold underline")
        t.append(c.translation or "—")
        t.append("\n\nResolution\n", style="bold underline")
        t.append(in_console(c.resolution) or "—")
        if fix is not None and not own_fix:
            t.append(self._console_steps(c.code))
        box.update(t)

    def _console_steps(self, code: int) -> str:
        """The console's own keys for the night's fix."""
        from acorntui.core.status import FETCH_FAILED

        if self.night_status == FETCH_FAILED:
            return ("\nIn the console: when the report server answers again, run `acorntui "
                    "fetch`, then press r on the server to re-parse its log.")
        if code == -2:
            return ("\nIn the console: l shows the log's last lines; once the new log is in "
                    "the spool, press r on the server to re-parse it.")
        if code in FILE_ERROR_CODES:
            return ("\nIn the console: in history, x on a failing file adds an exception for "
                    "it (only for a file that is backed up another way).")
        return "\nIn the console: l shows the log; press r to re-parse once it ran again."

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
