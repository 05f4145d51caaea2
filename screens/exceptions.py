"""The exception editor: every exception with scope, pattern, reason, method, who added it and
when, expiry, and how many failures it covered in the last 30 nights; stale ones flagged.
Add, edit, disable/enable and delete (with confirmation), by keyboard alone."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.widgets import DataTable, Footer, Static

from acorntui.screens.forms import ExceptionFormResult
from acorntui.screens.keymap import bind
from acorntui.screens.widgets import (
    AcornInput,
    AcornScreen,
    Banner,
    path_text,
    safe_text,
    status_style,
)
from acorntui.screens.worker import DbDone
from acorntui.services import queries
from acorntui.services.exceptions import (
    ExceptionInput,
    ExceptionView,
    add_exception,
    delete_exception,
    edit_exception,
    exception_views,
    scope_ids,
    set_active,
)
from acorntui.services.roles import User, current_user

STALE_DAYS = 30


def search_text(e: ExceptionView) -> str:
    """What the `/` filter matches."""
    return " ".join((str(e.id), e.scope, e.applies_to, e.path_pattern, e.reason, e.method,
                     e.created_by, "stale" if e.stale else "",
                     "disabled" if not e.active else "", "expired" if e.expired else "")).lower()


@dataclass
class ExceptionList:
    """Every exception (``load_exceptions``), and the names the form offers."""

    rows: list[ExceptionView]
    ref: dt.date  # coverage counts the STALE_DAYS nights before this day
    servers: list[str]  # "customer/server"
    customers: list[str]


def load_exceptions() -> ExceptionList:
    latest = queries.latest_night()
    ref = (latest + dt.timedelta(days=1)) if latest else dt.date.today()
    targets = queries.jump_targets()
    return ExceptionList(exception_views(STALE_DAYS, ref), ref,
                         servers=[f"{t.customer}/{t.server}" for t in targets if t.server],
                         customers=[t.customer for t in targets if not t.server])


def save_exception(user: User | None, exc_id: int | None, form: ExceptionFormResult
                   ) -> tuple[int, int]:
    """Add (``exc_id`` None) or edit an exception; (its id, results re-evaluated).

    Runs in the worker thread, so a user not looked up yet is looked up here."""
    if user is None:
        user = current_user()
    server_id, customer_id = scope_ids(form.scope, form.applies_to)
    data = ExceptionInput(scope=form.scope, path_pattern=form.path_pattern,
                          server_id=server_id, customer_id=customer_id,
                          message_pattern=form.message_pattern, reason=form.reason,
                          method=form.method, expires_at=form.expires_at)
    if exc_id is None:
        e, changed = add_exception(user, data)
    else:
        e, changed = edit_exception(user, exc_id, data)
    return e.id, changed


# -- what the screen's DB calls bring back -----------------------------------------------------

class ExceptionsLoaded(DbDone[ExceptionList]):
    pass


class ExceptionSaved(DbDone[tuple[int, int]]):
    """Added or edited (``what``): (id, results re-evaluated)."""

    CHANGE = "The change"

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what


class ExceptionToggled(DbDone[int]):
    CHANGE = "The change"

    def __init__(self, exc_id: int, active: bool) -> None:
        super().__init__()
        self.exc_id, self.active = exc_id, active


class ExceptionDeleted(DbDone[int]):
    CHANGE = "The deletion"

    def __init__(self, exc_id: int) -> None:
        super().__init__()
        self.exc_id = exc_id


EXCEPTION_COLUMNS = (("id", "#"), ("state", "State"), ("scope", "Scope"),
                     ("applies", "Applies to"), ("pattern", "Pattern"), ("covered", "Covered"),
                     ("reason", "Reason"), ("method", "Method"), ("by", "By"),
                     ("added", "Added"), ("expires", "Expires"))


def exception_widths(avail: int) -> dict[str, int]:
    """Column widths for the exceptions table ``avail`` cells wide (one cell of padding either
    side of each column, 2 for the scrollbar). #, State, Scope, Covered, Pattern and Reason
    always; Applies to, Method, Expires, By and Added while they fit (Added gives way first).
    Pattern and Reason share what is left (Pattern, cut in the middle, a little more): the
    line under the table shows both whole."""
    room = avail - 2
    fixed = {"id": 3, "state": 8, "scope": 8, "covered": 7}
    optional = [("applies", 16), ("method", 10), ("expires", 10), ("by", 8), ("added", 10)]
    pattern_min, reason_min = 16, 20
    widths = dict(fixed)

    def used() -> int:
        return sum(w + 2 for w in widths.values()) + pattern_min + reason_min + 4

    for key, width in optional:
        if used() + width + 2 <= room:
            widths[key] = width
    spare = max(0, room - used())
    widths["pattern"] = pattern_min + spare * 11 // 20
    widths["reason"] = reason_min + spare - spare * 11 // 20
    return widths


class ExceptionsScreen(AcornScreen):
    # keys from the one table (screens/keymap.py): + adds (n is "note" everywhere)
    BINDINGS: ClassVar = [
        bind("back"),
        bind("add"),
        bind("open", "edit", label="Edit"),
        bind("toggle_active", "toggle", label="Disable/enable"),
        bind("remove", "delete"),
        bind("filter"),
        bind("refresh"),
        bind("help"),
        bind("quit", "back", label="Back", show=False),
    ]
    HELP = f"""\
Every exception: a known failing file that is backed up another way (or does not matter).
Scope: server, customer or global; the most specific matching exception covers a file.
Covered: how many file errors it covered in the last {STALE_DAYS} nights. STALE: active, older
than {STALE_DAYS} nights, and matched nothing in that time: check whether it is still needed.
Every change re-evaluates the affected results at once and is written to the audit trail.
"""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[ExceptionView] = []
        self.servers: list[str] = []  # "customer/server", for the form's picker
        self.customers: list[str] = []
        self.shown: list[ExceptionView] = []
        self.filter_text = ""
        self.widths: dict[str, int] = exception_widths(80)
        self._columns_for = -1

    def compose(self) -> ComposeResult:
        yield Static(Text("Exceptions", style="bold"), id="topbar", classes="topbar")
        yield Banner()
        yield AcornInput(placeholder="filter exceptions (pattern, scope, reason, who, stale)",
                         id="filter")
        yield DataTable(id="exceptions", cursor_type="row")
        yield Static(id="detail", classes="detail")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#filter").display = False
        t = self.query_one("#exceptions", DataTable)
        self._columns(self.app.size.width)
        t.focus()
        self.load()

    def on_resize(self) -> None:
        self.call_after_refresh(self._refit)

    def _refit(self) -> None:
        table = self.query_one("#exceptions", DataTable)
        if table.size.width != self._columns_for:
            self._columns(table.size.width)
            self.show()

    def _columns(self, width: int) -> None:
        """The columns for a table ``width`` cells wide (exception_widths)."""
        table = self.query_one("#exceptions", DataTable)
        self._columns_for = width
        self.widths = exception_widths(width)
        table.clear(columns=True)
        for key, label in EXCEPTION_COLUMNS:
            if key in self.widths:
                table.add_column(label, key=key, width=self.widths[key])

    def load(self) -> None:
        self.db_call(ExceptionsLoaded(), load_exceptions, description="load exceptions")

    def on_exceptions_loaded(self, message: ExceptionsLoaded) -> None:
        if message.failed:
            return
        data = message.value
        self.rows = data.rows
        self.servers, self.customers = data.servers, data.customers
        stale = sum(1 for r in self.rows if r.stale)
        t = Text("Exceptions", style="bold")
        t.append(f"  {len(self.rows)} in all, {stale} stale  (covered = file errors in the "
                 f"{STALE_DAYS} nights to {data.ref - dt.timedelta(days=1)})")
        self.query_one("#topbar", Static).update(t)
        self.show()

    def show(self, keep: int | None = None) -> None:
        table = self.query_one("#exceptions", DataTable)
        if keep is None and 0 <= table.cursor_row < len(self.shown):
            keep = self.shown[table.cursor_row].id
        words = self.filter_text.lower().split()
        self.shown = [r for r in self.rows if all(w in search_text(r) for w in words)]
        table.clear()
        for r in self.shown:
            if not r.active:
                state = Text("disabled", style="dim")
            elif r.expired:
                state = Text("expired", style=status_style(self.app, "incomplete"))
            elif r.stale:
                state = Text("STALE", style=status_style(self.app, "incomplete"))
            else:
                state = Text("active", style=status_style(self.app, "ok"))
            cells = {
                "id": Text(str(r.id), justify="right"), "state": state,
                "scope": Text(r.scope), "applies": safe_text(r.applies_to),
                "pattern": path_text(r.path_pattern, self.widths["pattern"]),
                "covered": Text(str(r.covered), justify="right"),
                "reason": safe_text(r.reason), "method": safe_text(r.method),
                "by": safe_text(r.created_by),
                "added": Text(f"{r.created_at:%Y-%m-%d}" if r.created_at else ""),
                "expires": Text(r.expires_at.isoformat() if r.expires_at else "never")}
            table.add_row(*(cells[k] for k, _ in EXCEPTION_COLUMNS if k in self.widths),
                          key=str(r.id))
        index = next((i for i, r in enumerate(self.shown) if r.id == keep), 0)
        if self.shown:
            table.move_cursor(row=index)
        self._detail()

    @property
    def current(self) -> ExceptionView | None:
        table = self.query_one("#exceptions", DataTable)
        if 0 <= table.cursor_row < len(self.shown):
            return self.shown[table.cursor_row]
        return None

    @on(DataTable.RowSelected, "#exceptions")
    def _selected(self) -> None:
        # the table takes enter itself (select_cursor); without this, enter did nothing
        self.action_edit()

    @on(DataTable.RowHighlighted, "#exceptions")
    def _highlighted(self) -> None:
        self._detail()

    def _detail(self) -> None:
        r = self.current
        box = self.query_one("#detail", Static)
        if r is None:
            box.update("No exceptions." if not self.filter_text else "No exception matches.")
            return
        t = safe_text(f"#{r.id} {r.path_pattern}", style="bold")
        if r.message_pattern:
            t.append_text(safe_text(f"  message: {r.message_pattern}"))
        t.append_text(safe_text(f"  {r.scope}: {r.applies_to}  · {r.reason}"
                                + (f"  · method: {r.method}" if r.method else "")))
        box.update(t)

    # -- actions ---------------------------------------------------------------------------------
    def action_back(self) -> None:
        box = self.query_one("#filter", AcornInput)
        if box.display:
            box.value = ""
            box.display = False
            self.filter_text = ""
            self.show()
            self.query_one("#exceptions").focus()
            return
        self.app.pop_screen()

    def action_refresh(self) -> None:
        self.load()

    def action_filter(self) -> None:
        box = self.query_one("#filter", AcornInput)
        box.display = True
        box.focus()

    @on(AcornInput.Changed, "#filter")
    def _filter(self, event: AcornInput.Changed) -> None:
        self.filter_text = event.value.strip()
        self.show()

    @on(AcornInput.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.query_one("#exceptions").focus()

    def action_add(self) -> None:
        from acorntui.screens.forms import ExceptionForm

        if not self.allowed("exception"):
            return
        self.app.push_screen(ExceptionForm(title="New exception", scope="global",
                                           applies_to="", servers=self.servers,
                                           customers=self.customers), self._saved_form(None))

    def action_edit(self) -> None:
        r = self.current
        if r is None or not self.allowed("exception"):
            return
        from acorntui.screens.forms import ExceptionForm

        self.app.push_screen(ExceptionForm(
            title=f"Edit exception #{r.id}", path_pattern=r.path_pattern, scope=r.scope,
            reason=r.reason, method=r.method, message_pattern=r.message_pattern,
            expires_at=r.expires_at, servers=self.servers, customers=self.customers,
            applies_to="" if r.scope == "global" else r.applies_to), self._saved_form(r.id))

    def _saved_form(self, exc_id: int | None):
        def done(form: ExceptionFormResult | None) -> None:
            if form is not None:
                self.db_call(ExceptionSaved("added" if exc_id is None else "saved"),
                             save_exception, self._user(), exc_id, form)
        return done

    def on_exception_saved(self, message: ExceptionSaved) -> None:
        if message.failed:
            return
        eid, changed = message.value
        self.notify(f"Exception #{eid} {message.what}; {changed} result(s) re-evaluated.")
        self._changed()
        self.load()

    def action_toggle(self) -> None:  # type: ignore[override]  # shadows DOMNode.action_toggle
        r = self.current
        if r is None or not self.allowed("exception"):
            return
        self.db_call(ExceptionToggled(r.id, not r.active), set_active, self._user(), r.id,
                     not r.active)

    def on_exception_toggled(self, message: ExceptionToggled) -> None:
        if message.failed:
            return
        eid, active, changed = message.exc_id, message.active, message.value
        self.notify(f"Exception #{eid} {'enabled' if active else 'disabled'}; "
                    f"{changed} result(s) re-evaluated.")
        self._changed()
        self.load()

    def action_delete(self) -> None:
        r = self.current
        if r is None or not self.allowed("exception"):
            return
        from acorntui.screens.forms import ConfirmScreen

        def done(yes: bool | None) -> None:
            if yes:
                self.db_call(ExceptionDeleted(r.id), delete_exception, self._user(), r.id)

        self.app.push_screen(ConfirmScreen(
            f"Delete exception #{r.id} {r.path_pattern!r} ({r.scope}: {r.applies_to})? "
            "Files it covers will count as failures again."), done)

    def on_exception_deleted(self, message: ExceptionDeleted) -> None:
        if message.failed:
            return
        self.notify(f"Exception #{message.exc_id} deleted; {message.value} result(s) "
                    "re-evaluated.")
        self._changed()
        self.load()

    def _changed(self) -> None:
        self._note_change("all")

    def action_help(self) -> None:
        from acorntui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen("Exceptions", self.HELP, self))
