"""Management: customers, servers, CSRs and TSRs. List, filter, add, edit, deactivate.

Four tabs, each a filter line over a grid. Forms are modal and return values; the screen
hands them to :mod:`acorntui.services.manage` in a thread worker, which checks the role (a TSR3),
validates and writes the audit trail. A refusal or a bad field comes back as a notification
(a bad field re-opens the form with what was typed).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from functools import partial
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.validation import ValidationResult, Validator
from textual.widgets import Footer, Label, Static, Switch, TabbedContent, TabPane, TextArea

from acorntui.screens.forms import FormScreen, _input
from acorntui.screens.keymap import bind
from acorntui.screens.widgets import (
    AcornInput,
    AcornScreen,
    Banner,
    FastGrid,
    GridColumn,
    safe_text,
    visible_controls,
)
from acorntui.screens.worker import DbDone
from acorntui.services import manage, roles
from acorntui.services.manage import ManageInputError
from acorntui.services.roles import PermissionDenied, User

KINDS = ("customers", "servers", "csrs", "tsrs")
TITLES = {"customers": "Customers", "servers": "Servers", "csrs": "CSRs", "tsrs": "TSRs"}


def _yes(v: Any) -> Text:
    return Text("yes") if v else Text("no", style="bold")


def _plain(row: dict[str, Any], key: str) -> Text:
    v = row.get(key, "")
    if isinstance(v, list):
        v = "; ".join(v)
    return safe_text(v)


COLUMNS: dict[str, list[GridColumn]] = {
    "customers": [GridColumn("name", "Customer", 16), GridColumn("display_name", "Name", 20),
                  GridColumn("csr", "CSR", 10), GridColumn("servers", "Servers", 7, "right"),
                  GridColumn("active", "Active", 6), GridColumn("email", "E-mail", 20, flex=True)],
    "servers": [GridColumn("customer", "Customer", 14), GridColumn("name", "Server", 14),
                GridColumn("tsr", "TSR", 10), GridColumn("csr", "CSR", 10),
                GridColumn("custbak", "Custbak", 10), GridColumn("os", "OS", 14),
                GridColumn("role", "Role", 9), GridColumn("active", "Active", 6),
                GridColumn("description", "Description", 16, flex=True)],
    "csrs": [GridColumn("login", "Login", 14), GridColumn("name", "Name", 22),
             GridColumn("customers", "Customers", 9, "right"), GridColumn("active", "Active", 6),
             GridColumn("email", "E-mail", 20, flex=True)],
    "tsrs": [GridColumn("login", "Login", 14), GridColumn("name", "Name", 22),
             GridColumn("role", "Level", 7), GridColumn("servers", "Servers", 7, "right"),
             GridColumn("active", "Active", 6), GridColumn("email", "E-mail", 20, flex=True)],
}


def _render_row(kind: str, row: dict[str, Any]) -> list[Text]:
    out = []
    for col in COLUMNS[kind]:
        v = row.get(col.key, "")
        if col.key == "active":
            out.append(_yes(v))
        elif isinstance(v, int) and not isinstance(v, bool):
            out.append(Text(str(v)))
        else:
            out.append(_plain(row, col.key))
    return out


LISTERS: dict[str, Callable[..., list[dict[str, Any]]]] = {
    "customers": manage.list_customers, "servers": manage.list_servers,
    "csrs": manage.list_csrs, "tsrs": manage.list_tsrs,
}


def _key_of(kind: str, row: dict[str, Any]) -> str:
    """What the domain functions identify a row by."""
    if kind == "customers":
        return row["name"]
    if kind == "servers":
        return f"{row['customer']}/{row['name']}"
    return row["login"]


def save_row(user: User, kind: str, key: str | None, values: dict[str, Any]) -> str:
    """Add (key None) or edit one row through the domain layer; returns what happened."""
    if kind == "customers":
        if key is None:
            return f"added customer {manage.add_customer(user, **values).name}"
        return f"updated customer {manage.edit_customer(user, key, **values).name}"
    if kind == "servers":
        if key is None:
            s = manage.add_server(user, **values)
            return f"added server {values['customer']}/{s.name}"
        s = manage.edit_server(user, key, **values)
        return f"updated server {manage.server_dict(s)['customer']}/{s.name}"
    if kind == "csrs":
        if key is None:
            return f"added CSR {manage.add_csr(user, **values).login}"
        return f"updated CSR {manage.edit_csr(user, key, **values).login}"
    if key is None:
        t = manage.add_tsr(user, **values)
        return f"added TSR{t.level} {t.login}"
    return f"updated TSR {manage.edit_tsr(user, key, **values).login}"


def _save_as(user: User | None, kind: str, key: str | None, values: dict[str, Any]) -> str:
    """Worker body: ``save_row`` as ``user``, looked up here (off the UI thread) when the
    screen has not resolved it yet."""
    return save_row(user or roles.current_user(), kind, key, values)


# -- forms --------------------------------------------------------------------------------

class FieldCheck(Validator):
    """An Input validator from a :mod:`acorntui.services.manage` validate_* function."""

    def __init__(self, fn: Callable[[str, Any], Any], field: str, required: bool = False):
        super().__init__()
        self.fn, self.field, self.required = fn, field, required

    def validate(self, value: str) -> ValidationResult:
        if not value.strip():
            return self.failure("must not be empty") if self.required else self.success()
        try:
            self.fn(self.field, value)
        except ManageInputError as exc:
            return self.failure(str(exc).split(": ", 1)[-1])
        return self.success()


# (field, title, validator fn or None, required, placeholder)
FORM_FIELDS: dict[str, list[tuple[str, str, Any, bool, str]]] = {
    "customers": [
        ("name", "Name (folder under /reports)", manage.validate_name, True, "acme"),
        ("display_name", "Display name", None, False, "Acme Ltd"),
        ("email", "Contact e-mail", manage.validate_email, False, "it@acme.example"),
        ("csr", "CSR (login)", manage.validate_login, False, "blank: none"),
        ("notes", "Notes", None, False, ""),
    ],
    "servers": [
        ("customer", "Customer", manage.validate_name, True, "acme"),
        ("name", "Server (the <server>.out name)", manage.validate_name, True, "fs1"),
        ("description", "Description", None, False, ""),
        ("os", "OS", None, False, "Windows 2008 R2 / Debian 12"),
        ("role", "Role", None, False, "exchange, file, sql..."),
        ("custbak", "Custbak (backup server)", manage.validate_name, False, "custbak3"),
        ("tsr", "TSR (login)", manage.validate_login, False, "blank: none"),
        ("key_path", "SSH key path (on the server)", None, False, r"e:\atc\id_dsa.txt"),
        ("mirror_path", "Mirror [user@]host[:port]:path", None, False, "mirror/fs1"),
        ("report_host", "Report host [user@]host[:port]", manage.validate_host, False,
         "acorn@reports.example.com"),
    ],
    "csrs": [
        ("login", "Login (OS user name)", manage.validate_login, True, "carol"),
        ("name", "Name", None, False, ""),
        ("email", "E-mail", manage.validate_email, False, ""),
    ],
    "tsrs": [
        ("login", "Login (OS user name)", manage.validate_login, True, "bob"),
        ("name", "Name", None, False, ""),
        ("email", "E-mail", manage.validate_email, False, ""),
        ("level", "Level (1-3; a TSR3 manages)", manage.validate_level, True, "1"),
    ],
}
LIST_FIELDS = {"servers": [("shares", "Shares (one per line)"),
                           ("excludes", "Excludes (one pattern per line)")]}


class RecordForm(FormScreen):
    """Add or edit one customer, server, CSR or TSR. Returns ``dict`` of values, or None."""

    CSS_PATH = "management.tcss"

    def __init__(self, kind: str, values: dict[str, Any] | None = None, *,
                 error: str = "") -> None:
        super().__init__()
        self.kind = kind
        self.editing = values is not None and "id" in values
        self.values = dict(values or {})
        self.first_error = error
        # field -> (shown, original): values holding control/bidi characters are shown with
        # them made visible; saved unchanged, the original value is kept as it was
        self._shown: dict[str, tuple[str, str]] = {}

    def _display(self, field: str, value: str) -> str:
        shown = visible_controls(value)
        if shown != value:
            self._shown[field] = (shown, value)
        return shown

    def _stored(self, field: str, text: str) -> str:
        shown, original = self._shown.get(field, (None, text))
        return original if text == shown else text

    def compose(self) -> ComposeResult:
        noun = TITLES[self.kind][:-1]
        title = f"Edit {noun}" if self.editing else f"Add {noun}"
        with Vertical(classes="dialog record-form"):
            yield Label(title, classes="dialog-title")
            with VerticalScroll(classes="form-fields"):
                for field, label, fn, required, placeholder in FORM_FIELDS[self.kind]:
                    v = self.values.get(field, "1" if field == "level" else "")
                    validators: list[Validator] = [FieldCheck(fn, field, required)] if fn else []
                    yield _input(label, self._display(field, str(v if v is not None else "")),
                                 id=f"f-{field}",
                                 placeholder=placeholder, validators=validators)
                for field, label in LIST_FIELDS.get(self.kind, []):
                    v = self.values.get(field) or []
                    text = "\n".join(v) if isinstance(v, list) else str(v)
                    shown = "\n".join(self._display(f"{field}#{i}", line)
                                      for i, line in enumerate(text.split("\n")))
                    if shown != text:
                        self._shown[field] = (shown, text)
                    area = TextArea(shown, id=f"f-{field}", classes="form-lines")
                    area.border_title = label
                    yield area
                with Horizontal(classes="form-switch"):
                    yield Label("Active ")
                    yield Switch(bool(self.values.get("active", True)), id="f-active")
            yield Static("", id="form-error")
            yield self.buttons()

    def on_mount(self) -> None:
        if self.first_error:
            self.error(self.first_error)
        self.query(AcornInput).first().focus()

    def action_save(self) -> None:
        inputs = list(self.query(AcornInput))
        if self.invalid(*inputs):
            return
        out: dict[str, Any] = {}
        for inp in inputs:
            field = (inp.id or "").removeprefix("f-")
            out[field] = self._stored(field, inp.value).strip()
        for area in self.query(TextArea):
            field = (area.id or "").removeprefix("f-")
            out[field] = self._stored(field, area.text)
        out["active"] = self.query_one("#f-active", Switch).value
        self.dismiss(out)


# -- what the screen's DB calls bring back -----------------------------------------------------

class UserResolved(DbDone[User]):
    """Who is using the console (roles.current_user), when the caller did not say."""


class RowsLoaded(DbDone[list[dict[str, Any]]]):
    """One list (``kind``), for the filter text of request ``seq`` (a newer one wins)."""

    def __init__(self, kind: str, seq: int) -> None:
        super().__init__()
        self.kind, self.seq = kind, seq

    @property
    def call(self) -> Hashable:
        return (RowsLoaded, self.kind)


class RecordSaved(DbDone[str]):
    """A row added, edited or (de)activated: what happened, in words. A bad field re-opens
    the form with what was typed."""

    CHANGE = "The change"
    OWN_ERRORS = True

    def __init__(self, kind: str, key: str | None, values: dict[str, Any] | None,
                 change: dict[str, Any]) -> None:
        super().__init__()
        self.kind, self.key, self.values, self.change = kind, key, values, change


# -- the screen ---------------------------------------------------------------------------

class ManagementScreen(AcornScreen):
    """Customers, servers (with TSR, CSR, custbak, OS, role, active), CSRs and TSRs."""

    CSS_PATH = "management.tcss"
    # keys from the one table (screens/keymap.py): + adds, enter edits, as in every list
    BINDINGS: ClassVar[list[BindingType]] = [
        bind("back"),
        bind("help"),
        bind("add"),
        bind("open", "edit", label="Edit"),
        bind("toggle_active"),
        bind("filter"),
        bind("audit"),
        bind("refresh"),
        bind("quit", "back", label="Back", show=False),
        bind("tab_1", "tab('customers')", show=False),
        bind("tab_2", "tab('servers')", show=False),
        bind("tab_3", "tab('csrs')", show=False),
        bind("tab_4", "tab('tsrs')", show=False),
    ]
    HELP = ("+ (or insert) adds, enter edits, d deactivates or reactivates, / filters, L shows "
            "the audit log of the row, 1-4 switch list, escape goes back. Changes need a "
            "TSR3.")

    def __init__(self, user: User | None = None, tab: str = "customers") -> None:
        super().__init__()
        self.user = user
        self.initial_tab = tab if tab in KINDS else "customers"
        self.rows: dict[str, list[dict[str, Any]]] = {k: [] for k in KINDS}
        self._seq: dict[str, int] = {k: 0 for k in KINDS}

    def compose(self) -> ComposeResult:
        yield Banner()
        yield Static("", id="whoami")
        with TabbedContent(initial=self.initial_tab, id="manage-tabs"):
            for kind in KINDS:
                with TabPane(TITLES[kind], id=kind):
                    yield AcornInput(placeholder=f"filter {TITLES[kind].lower()} (/)",
                                     id=f"filter-{kind}", classes="filter")
                    yield FastGrid(COLUMNS[kind], partial(_render_row, kind),
                                   lambda r: r["id"], id=f"grid-{kind}")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Management"
        self.db_call(UserResolved(), self._resolve_user)
        for kind in KINDS:
            self.load(kind)
        self.call_after_refresh(self._focus_grid)

    # -- data -------------------------------------------------------------------------------
    def _resolve_user(self) -> User:
        return self.user or roles.current_user()

    def on_user_resolved(self, message: UserResolved) -> None:
        if message.failed:
            return
        user = self.user = message.value
        text = roles.whoami_text(user)
        if not user.can("manage"):
            text += "  Changes here need a TSR3."
        self.query_one("#whoami", Static).update(safe_text(text.replace("\n", "  ")))

    def load(self, kind: str) -> None:
        self._seq[kind] += 1
        text = self.query_one(f"#filter-{kind}", AcornInput).value
        self.db_call(RowsLoaded(kind, self._seq[kind]), LISTERS[kind], text=text,
                     group=f"manage-{kind}", description=f"load {kind}")

    def on_rows_loaded(self, message: RowsLoaded) -> None:
        kind = message.kind
        if message.failed or message.seq != self._seq[kind]:
            return  # the banner says a failure; or a newer filter is on its way
        self.rows[kind] = message.value
        self.query_one(f"#grid-{kind}", FastGrid).set_rows(message.value)

    # -- helpers ----------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        active = self.query_one("#manage-tabs", TabbedContent).active
        return active if active in KINDS else "customers"

    def grid(self, kind: str | None = None) -> FastGrid:
        return self.query_one(f"#grid-{kind or self.kind}", FastGrid)

    def _focus_grid(self) -> None:
        self.grid().focus()

    def _allowed(self) -> bool:
        """Refuse at once (the domain refuses too) so nobody fills in a form for nothing."""
        if self.user is None:
            return True
        try:
            self.user.require("manage")
        except PermissionDenied as exc:
            self.notify(str(exc), title="Not allowed", severity="error", timeout=8,
                        markup=False)
            return False
        return True

    # -- actions ----------------------------------------------------------------------------
    def action_help(self) -> None:
        from acorntui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen("Management", self.HELP, self))

    def action_back(self) -> None:
        if isinstance(self.focused, AcornInput):
            self._focus_grid()
            return
        self.app.pop_screen()

    def action_tab(self, kind: str) -> None:
        self.query_one("#manage-tabs", TabbedContent).active = kind
        self._focus_grid()

    def action_filter(self) -> None:
        self.query_one(f"#filter-{self.kind}", AcornInput).focus()

    def action_refresh(self) -> None:
        for kind in KINDS:
            self.load(kind)

    @on(AcornInput.Changed, ".filter")
    def _filter_changed(self, event: AcornInput.Changed) -> None:
        self.load((event.input.id or "").removeprefix("filter-"))

    @on(AcornInput.Submitted, ".filter")
    def _filter_done(self) -> None:
        self._focus_grid()

    @on(TabbedContent.TabActivated)
    def _tab_changed(self) -> None:
        self.call_after_refresh(self._focus_grid)

    @on(FastGrid.RowSelected)
    def _row_selected(self) -> None:
        self.action_edit()

    def action_add(self) -> None:
        if not self._allowed():
            return
        kind = self.kind
        preset: dict[str, Any] = {}
        if kind == "servers":
            sel = self.grid("customers").current
            if sel is not None:
                preset["customer"] = sel["name"]
        self._open_form(kind, None, preset or None)

    def action_edit(self) -> None:
        row = self.grid().current
        if row is None or not self._allowed():
            return
        self._open_form(self.kind, _key_of(self.kind, row), row)

    def _open_form(self, kind: str, key: str | None, values: dict[str, Any] | None,
                   error: str = "") -> None:
        def done(result: dict[str, Any] | None) -> None:
            if result is None:
                return
            if key is not None:
                result = {k: v for k, v in result.items()
                          if _norm(v) != _norm((values or {}).get(k))}
                if not result:
                    self.notify("nothing changed")
                    return
            self.db_call(RecordSaved(kind, key, values, result), _save_as, self.user, kind,
                         key, result, group="manage-save", exclusive=False,
                         description=f"save {kind}")

        self.app.push_screen(RecordForm(kind, values, error=error), done)

    def on_record_saved(self, message: RecordSaved) -> None:
        error = message.error
        if error is None:
            self.notify(message.value, markup=False)
            self.action_refresh()
        elif isinstance(error, ManageInputError):
            self._open_form(message.kind, message.key,
                            {**(message.values or {}), **message.change}, error=str(error))
        else:
            self.notify(str(error), title="Not allowed" if isinstance(error, PermissionDenied)
                        else "Error", severity="error", timeout=8, markup=False)

    def action_toggle_active(self) -> None:
        row = self.grid().current
        if row is None or not self._allowed():
            return
        kind = self.kind
        key = _key_of(kind, row)
        change = {"active": not row["active"]}
        self.db_call(RecordSaved(kind, key, row, change), _save_as, self.user, kind, key,
                     change, group="manage-save", exclusive=False,
                     description=f"deactivate {key}")

    def action_audit(self) -> None:
        from acorntui.screens.audit import AuditScreen

        row = self.grid().current
        if row is None:
            self.app.push_screen(AuditScreen())
        elif self.kind == "servers":
            self.app.push_screen(AuditScreen(server_id=row["id"],
                                             server_label=_key_of("servers", row)))
        else:
            self.app.push_screen(AuditScreen(text=_key_of(self.kind, row)))


def _norm(v: Any) -> Any:
    if isinstance(v, list):
        return "\n".join(v)
    if isinstance(v, bool):
        return v
    return "" if v is None else str(v).strip()


# -- the command palette -----------------------------------------------------------------

class ManagementCommands(Provider):
    """Command-palette entries: the four management lists and the audit log."""

    def _commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        from acorntui.screens.audit import AuditScreen

        app = self.app
        cmds: list[tuple[str, str, Callable[[], Any]]] = [
            (f"Management: {TITLES[k]}", f"list, add and edit {TITLES[k]}",
             partial(lambda kind: app.push_screen(ManagementScreen(tab=kind)), k))
            for k in KINDS
        ]
        cmds.append(("Audit log", "every change: who, when, before and after",
                     lambda: app.push_screen(AuditScreen())))
        return cmds

    async def discover(self) -> Hits:
        for title, help_, cb in self._commands():
            yield DiscoveryHit(title, cb, help=help_)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_, cb in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), cb, help=help_)
