"""The nightly grid, the home screen: one row per active server for the selected night."""

from __future__ import annotations

import datetime as dt
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from acorntui.config import Config, config_path, resolve_db_url
from acorntui.core.status import INCOMPLETE, REASON_INCOMPLETE, REASON_WORDS
from acorntui.screens.help import footer_fit
from acorntui.screens.keymap import bind
from acorntui.screens.widgets import (
    ANOMALY,
    AcornInput,
    AcornScreen,
    Banner,
    FastGrid,
    GridColumn,
    human_bytes,
    palette,
    safe_text,
    status_style,
    status_text,
    status_word,
)
from acorntui.screens.worker import DbDone
from acorntui.services import queries
from acorntui.services.queries import STATUS_ORDER, ChangeSeen, JumpTarget, NightlyRow
from acorntui.services.roles import CSR, SERVICE, TSR, TSR3, User, current_user
from acorntui.services.session import mask_url

# flex columns share the width left over (customer names and Meaning are cut least);
# priority 0 columns are what triage needs and always show (they fit 80 columns); the others
# go, lowest priority first, when the terminal is narrower than all of them (the detail line
# then carries what they would have said)
COLUMNS = [
    GridColumn("customer", "Customer", 16, flex=True, max_width=20),
    GridColumn("server", "Server", 10),
    GridColumn("status", "Status", 7),  # widened to the longest status word shown
    GridColumn("flags", "Flg", 3, priority=9),
    GridColumn("code", "Code", 4, "right"),
    GridColumn("jargon", "Meaning", 16, flex=True, priority=6, max_width=22),
    GridColumn("errors", "New/Rec", 7, "right"),
    GridColumn("size", "Size", 6, "right", priority=2),
    GridColumn("sent", "Sent", 6, "right", priority=1),
    GridColumn("age", "LastOK", 6, "right"),
    GridColumn("streak", "Bad", 3, "right"),
    GridColumn("tsr", "TSR", 9, priority=5),
    GridColumn("custbak", "Custbak", 9, priority=3),
    GridColumn("note", "Note", 10, flex=True, priority=4),
]


def is_anomaly(r: NightlyRow) -> bool:
    """A good result that copied far less than usual, not acknowledged: shown as OK?."""
    return bool(r.anomaly) and r.is_good and not r.ack_note


def is_handled(r: NightlyRow) -> bool:
    """Acknowledged or snoozed: somebody has it in hand (the row is dimmed)."""
    return bool(r.ack_note or r.ack_by) or r.snoozed


def needs_attention(r: NightlyRow) -> bool:
    """Not ok (or ok but an anomaly), and nobody has it in hand."""
    return (not r.is_good or is_anomaly(r)) and not is_handled(r)


def row_status_word(r: NightlyRow) -> str:
    return status_word(r.status, is_anomaly(r))


def failing_first(r: NightlyRow) -> tuple:
    """The default order: FAILED, INCOMPLETE, FETCH FAILED, NO DATA, OK? anomalies, snoozed,
    OK*, OK; within each, the rows that need attention before the handled ones."""
    if is_anomaly(r):
        rank = 3.2
    elif r.is_good:
        rank = STATUS_ORDER.get(r.status, 9)
    else:
        rank = STATUS_ORDER.get(r.status, 9) if r.counts_as_failing else 3.5
    return (rank, is_handled(r), r.customer, r.server)


@dataclass(frozen=True)
class SortOrder:
    """How a column sorts: ``key`` ascending (▲); ``descending_first`` for the columns where
    the big values are the interesting ones (the first pick shows ▼)."""

    name: str
    key: Callable[[NightlyRow], Any]
    descending_first: bool = False


def _num(value: float | None) -> float:
    return -1.0 if value is None else float(value)


SORTS: dict[str, SortOrder] = {
    "customer": SortOrder("customer", lambda r: (r.customer.lower(), r.server.lower())),
    "server": SortOrder("server", lambda r: (r.server.lower(), r.customer.lower())),
    "status": SortOrder("failing first", failing_first),
    "flags": SortOrder("flags", lambda r: (not r.ack_note, not r.snoozed, r.registered,
                                           failing_first(r))),
    "code": SortOrder("code", lambda r: (r.code if r.code is not None else 999,
                                         failing_first(r))),
    "jargon": SortOrder("meaning", lambda r: (r.jargon.lower(), failing_first(r))),
    "errors": SortOrder("new errors", lambda r: (r.new_errors, r.error_count), True),
    "size": SortOrder("size", lambda r: (_num(r.total_size), r.customer), True),
    "sent": SortOrder("sent", lambda r: (_num(r.sent_bytes), r.customer), True),
    "age": SortOrder("last ok", lambda r: (-1 if r.is_good else (
        10**6 if r.last_good_age_days is None else r.last_good_age_days)), True),
    "streak": SortOrder("bad nights", lambda r: (r.bad_streak, r.new_errors), True),
    "tsr": SortOrder("TSR", lambda r: (r.tsr.lower(), failing_first(r))),
    "custbak": SortOrder("custbak", lambda r: (r.custbak.lower(), failing_first(r))),
    # the Note column: rows with a note or acknowledgement first (the screen's key, which
    # knows the night's notes, replaces this one: NightlyScreen._sort_key)
    "note": SortOrder("note", lambda r: (not r.ack_note, r.ack_note.lower())),
}
DEFAULT_SORT = "status"


class SortPicker(ModalScreen[str | None]):
    """`s`: the columns on screen; enter sorts by the chosen one, escape leaves the order."""

    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, columns: list[tuple[str, str]], current: str) -> None:
        super().__init__(classes="form")
        self.columns = columns
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog sort-picker"):
            yield Static("Sort by (S reverses)", classes="dialog-title")
            options = OptionList(*[Option(label, id=key) for key, label in self.columns],
                                 id="sort-columns")
            yield options

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        index = next((i for i, (k, _) in enumerate(self.columns) if k == self.current), 0)
        options.highlighted = index
        options.focus()

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)

# status:bad is every status that is not ok: FAILED, INCOMPLETE, FETCH FAILED, NO DATA and the
# OK? of an anomaly; status:anomaly only the anomalies; any other value the start of a status
# word (status:failed is FAILED only, status:fetch FETCH FAILED, status:ok OK and OK*)
STATUS_GROUPS: dict[str, Callable[[NightlyRow], bool]] = {
    "bad": lambda r: not r.is_good or is_anomaly(r),
    "anomaly": is_anomaly,
    "ok?": is_anomaly,
}

FILTER_FIELDS = {
    "customer": "customer", "cust": "customer", "c": "customer",
    "server": "server", "s": "server",
    "code": "code", "status": "status", "st": "status",
    "tsr": "tsr", "custbak": "custbak", "cb": "custbak",
}


def haystack(r: NightlyRow) -> str:
    code = "" if r.code is None else str(r.code)
    return " ".join((r.customer, r.server, f"{r.customer}/{r.server}", code, r.label,
                     r.status, r.tsr, r.custbak, r.jargon, "snoozed" if r.snoozed else "",
                     "acked" if r.ack_note else "",
                     "ok? anomaly" if is_anomaly(r) else "")).lower()


def field_matches(r: NightlyRow, fld: str, value: str) -> bool:
    """One `field:value` word of the filter against one row."""
    if fld == "code":
        return str(r.code) == value
    if fld == "status":
        group = STATUS_GROUPS.get(value)
        if group is not None:
            return group(r)
        return r.label.lower().startswith(value) or r.status.startswith(value)
    if value.startswith("="):  # customer:=acme (the palette's jump): exactly
        return str(getattr(r, fld)).lower() == value[1:]
    return value in str(getattr(r, fld)).lower()


def make_filter(text: str) -> Callable[[NightlyRow, str], bool] | None:
    """`/` filter: words must all match. `status:bad` (every not-ok status and the OK?
    anomalies), `status:anomaly`, `status:failed` (exactly FAILED), `code:23`, `tsr:dpatel`,
    `customer:acme`, `server:exch`, `custbak:03` match one field (`customer:=acme` exactly);
    other words anywhere."""
    words = text.lower().split()
    if not words:
        return None
    fielded: list[tuple[str, str]] = []
    free: list[str] = []
    for w in words:
        name, sep, value = w.partition(":")
        if sep and name in FILTER_FIELDS and value:
            fielded.append((FILTER_FIELDS[name], value))
        else:
            free.append(w)

    def match(r: NightlyRow, hay: str) -> bool:
        # plain loops: this runs for every row on every keystroke (10,000 rows < 100 ms)
        for w in free:
            if w not in hay:
                return False
        for fld, value in fielded:
            if not field_matches(r, fld, value):
                return False
        return True

    return match


@dataclass
class NightData:
    """What the grid shows of one night (``load_night``)."""

    night: dt.date | None  # None: no results at all yet
    latest: dt.date | None
    rows: list[NightlyRow]
    remarks: dict[int, queries.NightRemark]
    has_prev: bool
    user: User
    signature: tuple
    seconds: float
    servers: int  # how many servers the database knows (counted only when it has no results)


def load_night(night: dt.date | None, direction: int = 0) -> NightData:
    """Worker body: the rows of a night (latest when None), shifted by ``direction``."""
    t0 = time.perf_counter()
    latest = queries.latest_night()
    if night is None:
        night = latest
    elif direction:
        night = queries.adjacent_night(night, direction) or night
    # the signature is taken BEFORE the rows: a change committed while the rows are read then
    # differs from it and the next poll reloads (taken after, it would hide that change)
    signature = queries.night_signature(night)
    rows = queries.nightly_rows(night) if night is not None else []
    remarks = queries.night_remarks(night) if night is not None else {}
    has_prev = night is not None and queries.adjacent_night(night, -1) is not None
    servers = len(rows) if night is not None else queries.server_count()
    return NightData(night=night, latest=latest, rows=rows, remarks=remarks, has_prev=has_prev,
                     user=current_user(), signature=signature,
                     seconds=time.perf_counter() - t0, servers=servers)


@dataclass
class NightRefresh:
    """A poll saw a change: the night again, who changed what since ``update_seen``, and
    which servers' rows differ from those on screen (None: not compared)."""

    data: NightData
    changes: list[ChangeSeen]
    changed: list[int] | None = None
    # the summary line's counts and outages for data.rows, counted in the worker too
    summary: tuple[dict[str, int], list[queries.CustbakOutage]] | None = None


def refresh_night(night: dt.date, update_seen: int,
                  shown: tuple[list[NightlyRow], dict[int, queries.NightRemark]] | None = None
                  ) -> NightRefresh:
    """Worker body. ``shown``: copies of the rows and notes on screen; comparing them here
    keeps the 10,000-row diff off the UI thread."""
    data = load_night(night)
    fresh = NightRefresh(data, queries.changes_since(update_seen))
    if shown is not None:
        fresh.changed = diff_rows(shown[0], shown[1], data)
    fresh.summary = (queries.status_counts(data.rows), queries.custbak_outages(data.rows))
    return fresh


def diff_rows(rows: list[NightlyRow], remarks: dict[int, queries.NightRemark],
              data: NightData) -> list[int]:
    """Server ids whose row or latest note differ between ``rows`` and ``data``."""
    old = {r.server_id: r for r in rows}
    return [r.server_id for r in data.rows
            if old.get(r.server_id) != r
            or remarks.get(r.server_id) != data.remarks.get(r.server_id)]


@dataclass
class ChangeMark:
    """A row a teammate (or another process) changed: shown marked for CHANGE_MARK_SECONDS."""

    login: str  # "" when nothing audited it (a new log ingested)
    action: str
    at: float  # time.monotonic()


def who_changed(row: NightlyRow, changes: list[ChangeSeen]) -> tuple[str, str]:
    """(login, action) of the newest audit row about ``row``: its server, else its customer,
    else a change with no server (a customer-wide or global exception)."""
    best: ChangeSeen | None = None
    loose: ChangeSeen | None = None
    for c in changes:  # oldest first: the last match wins
        if c.server_id == row.server_id or (c.server_id is None
                                            and c.customer_id == row.customer_id):
            best = c
        elif c.server_id is None and c.customer_id is None:
            loose = c
    found = best or loose
    return (found.login, found.action) if found else ("", "new log")


@dataclass
class CustomerRows:
    """One customer's rows for a night, and their notes (a reload after a change)."""

    rows: list[NightlyRow]
    remarks: dict[int, queries.NightRemark]


def load_customer_rows(night: dt.date, customer: str) -> CustomerRows:
    return CustomerRows(queries.nightly_rows(night, customer=customer),
                        queries.night_remarks(night, customer=customer))


# -- what the grid's DB calls bring back -------------------------------------------------------

class NightLoaded(DbDone[NightData]):
    """A night's rows (the first load, ctrl+r, [ and ], a poll that saw a change)."""

    OWN_ERRORS = True


class TargetsLoaded(DbDone[list[JumpTarget]]):
    """Every server and customer, for the command palette."""

    OWN_ERRORS = True  # the palette keeps the grid's servers; the banner says what is wrong


class Polled(DbDone[tuple]):
    """The signature (queries.night_signature) of ``night``: reload when it changed."""

    OWN_ERRORS = True  # the banner says it; the next poll retries

    def __init__(self, night: dt.date | None) -> None:
        super().__init__()
        self.night = night


class Refreshed(DbDone[NightRefresh]):
    """The night again after a poll saw a change: rows are updated in place."""

    OWN_ERRORS = True  # the banner says it; the next poll retries

    def __init__(self, night: dt.date) -> None:
        super().__init__()
        self.night = night


class BulkDone(DbDone[NightRefresh]):
    """A bulk action (marked rows) was saved; ``what`` says what, for the user."""

    CHANGE = "The change to the marked rows"

    def __init__(self, what: str, night: dt.date) -> None:
        super().__init__()
        self.what, self.night = what, night


class CustomerSnoozed(BulkDone):
    """A customer's maintenance window (Z) was saved; the marks are left as they were."""

    CHANGE = "The maintenance window"


class FailingFiles(DbDone[list]):
    """The night's file errors of one row (queries.failure_views), for `x` on the grid."""

    def __init__(self, row: NightlyRow) -> None:
        super().__init__()
        self.row = row


class Excepted(DbDone[tuple[Any, CustomerRows]]):
    CHANGE = "The exception"

    def __init__(self, row: NightlyRow, scope: str) -> None:
        super().__init__()
        self.row, self.scope = row, scope


class CustomerReloaded(DbDone[CustomerRows]):
    """One customer's rows again, after a change made on another screen."""


class Acted(DbDone[CustomerRows]):
    """An acknowledgement or a snooze was saved; ``what`` says which, for the user."""

    CHANGE = "The change"

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what


class Noted(Acted):
    CHANGE = "The note"


class Reparsed(DbDone[tuple[Any, CustomerRows]]):
    """A server's night re-parsed from its stats.out: (outcome, the customer's rows)."""

    OWN_ERRORS = True

    def __init__(self, row: NightlyRow) -> None:
        super().__init__()
        self.row = row


class NightlyScreen(AcornScreen):
    """Failing servers first; a summary line; custbak outages called out."""

    # the Footer (compact) shows what a TSR uses most at every width, `?` first and `q` last;
    # FOOTER_MIN_WIDTH holds back the rest until the terminal is wide enough (`?` lists all)
    _NIGHT = Binding.Group("Night", compact=True)
    # every key from the one table (screens/keymap.py): same key, same meaning everywhere
    BINDINGS: ClassVar = [
        bind("help"),
        bind("open", "history", label="History"),
        bind("ack"),
        bind("note"),
        bind("snooze"),
        bind("reparse"),
        bind("exception"),
        bind("filter"),
        bind("sort"),
        bind("sort_reverse", "reverse_sort", show=False),
        bind("next_failure", "next_attention", show=False),
        bind("prev_night", "night(-1)", group=_NIGHT),
        bind("next_night", "night(1)", group=_NIGHT),
        bind("codes"),
        bind("log", show=False),
        bind("exceptions"),
        bind("management"),
        bind("mark"),
        bind("mark_all"),
        bind("customer_snooze"),
        bind("mark_outage", show=False),
        bind("refresh"),
        bind("back", "clear_filter", label="Clear filter", show=False),
        bind("quit", "app.quit"),
    ]
    FOOTER_MIN_WIDTH: ClassVar = {"snooze": 120, "reparse": 120, "sort": 120,
                                  "night(-1)": 120, "night(1)": 120, "exceptions": 140,
                                  "codes": 140, "exception": 160, "mark": 160,
                                  "mark_all": 180, "customer_snooze": 180}
    HELP = """\
The nightly grid: one row per active server for the night, failing servers first.
Status words: OK, OK* (ok: every file error is covered by an exception), FAILED,
INCOMPLETE (missing: no log; stale: old log; clock ahead: log dated in the future; incomplete:
log without an end), FETCH FAILED
(our pull failed, not the customer's backup), NO DATA (no result recorded).
Flg: A acknowledged, Z snoozed (does not count as failing), U not registered (first seen in a log).
New/Rec: file errors new since the server's previous night / seen then too.
LastOK: nights since the last good backup. Bad: consecutive bad nights.
a acknowledges the night's result with a note (shown in the row and the history); n adds a
note to the server (history timeline); z snoozes (or un-snoozes) the server; r re-parses;
x adds an exception for the night's first failing file; Z opens a maintenance window for the
row's customer (every server of it snoozed until a date).
space marks a row (a dot left of it), * marks every row the filter shows; a, n and z then act
on all marked rows at once (one change, all or nothing); esc clears the filter, then the
marks; M marks the servers of the custbak outage the warning names.
Teammates' changes arrive by themselves (the grid polls): a changed row keeps its place and
shows a triangle for a minute; the detail line says who changed it.
At narrow widths the lower-priority columns hide; the detail line below the grid says them.
OK? (amber): rsync said ok but the backup is far smaller than usual (the detail line says
why); acknowledging clears it. Rows somebody has in hand (acknowledged or snoozed) are dimmed;
the summary counts what still needs attention, and N jumps to the next such row.
s sorts by a column on screen (a list of them; a click on a header does it too), S reverses;
the header shows ▲ or ▼. [ and ] show the previous or next night from its first failing row.
Filter words match customer, server, code, status, TSR, custbak; or name a field:
status:bad (every status that is not ok: FAILED, INCOMPLETE, FETCH FAILED, NO DATA, and OK?)
status:anomaly (OK? only)  status:failed (FAILED only)  code:23  tsr:dpatel  customer:acme
server:exch  custbak:03
"""
    POLL_SECONDS = 30.0  # AcornApp(poll_seconds=...) sets it (tests poll fast)
    CHANGE_MARK_SECONDS = 60.0

    def __init__(self) -> None:
        super().__init__()
        self.night: dt.date | None = None
        self.latest: dt.date | None = None
        self.follow_latest = True
        self.all_rows: list[NightlyRow] = []
        self.remarks: dict[int, queries.NightRemark] = {}  # server id -> latest note/ack
        self._hay: dict[int, str] = {}
        self.sort_column = DEFAULT_SORT
        self.sort_reverse = False
        self._step_night = False  # the next load came from [ or ]
        self.filter_text = ""
        self.busy: set[int] = set()
        self.signature: tuple | None = None
        self._sorted: list[NightlyRow] | None = None
        self._shown_for: str | None = None
        self._counts_dirty = True
        self._summary_cache: tuple[dict[str, int], list[queries.CustbakOutage]] | None = None
        self.loaded = False
        self.last_load_seconds = 0.0
        self.server_total = 0
        self.update_seen = 0  # the newest audit id the rows on screen reflect
        self.changed: dict[int, ChangeMark] = {}  # server id -> who changed it, when
        self.marked: set[int] = set()  # server ids marked for a bulk action
        self._pos_map: dict[int, int] = {}
        self._pos_for: list[NightlyRow] | None = None

    # -- layout ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(id="topbar", classes="topbar")
        yield Banner(id="banner")
        yield Static(id="summary", classes="summary")
        yield Static(id="outages", classes="outages")
        yield FastGrid(COLUMNS, self.render_row, lambda r: r.server_id, id="grid",
                       gutter=self.row_gutter, gutter_width=2)
        with VerticalScroll(id="first-run"):
            yield Static(id="first-run-text")
        yield Static(id="detail", classes="detail")
        yield AcornInput(placeholder="filter: words, or status:bad status:failed code:23 "
                         "tsr:login customer:name (enter keeps, esc clears)", id="filter")
        yield Footer(compact=True)

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        return footer_fit(super().active_bindings, self.app.size.width, self.FOOTER_MIN_WIDTH)

    def on_resize(self) -> None:
        self.refresh_bindings()  # the footer shows what fits the new width

    @property
    def grid(self) -> FastGrid:
        return self.query_one("#grid", FastGrid)

    def on_mount(self) -> None:
        self.query_one("#filter").display = False
        self.query_one("#outages").display = False
        self.query_one("#first-run").display = False
        self._topbar("loading…")
        self.load()
        self.set_interval(self.POLL_SECONDS, self.poll, name="poll")
        self.grid.set_sort(self.sort_column, self.sort_reverse)
        self.set_interval(min(5.0, self.CHANGE_MARK_SECONDS / 4), self._expire_marks,
                          name="change marks")
        self.grid.focus()

    def on_screen_resume(self) -> None:
        changed = self.console.take_changes()
        if changed == "all":
            self.load(self.night)
        elif changed:
            for customer in sorted(changed):
                self._reload_customer(customer)

    # -- loading -----------------------------------------------------------------------------
    def load(self, night: dt.date | None = None, direction: int = 0) -> None:
        self.db_call(NightLoaded(), load_night, night, direction, description="load the night")
        self.load_targets()

    def load_targets(self) -> None:
        """Every server and customer for the palette (ctrl+p), inactive ones too."""
        self.db_call(TargetsLoaded(), queries.jump_targets, description="load palette targets")

    def on_targets_loaded(self, message: TargetsLoaded) -> None:
        if not message.failed:
            self.console.remember_targets(message.value)

    def on_night_loaded(self, message: NightLoaded) -> None:
        if message.failed:
            self._topbar("could not load the night")
        else:
            self.show_night(message.value)

    def show_night(self, data: NightData) -> None:
        if data.night != self.night:
            # marks and change marks belong to one night
            self.marked.clear()
            self.changed.clear()
        self.night, self.latest = data.night, data.latest
        self.console.user = data.user
        self.follow_latest = self.night == self.latest
        self.signature = data.signature
        self.update_seen = data.signature[3] or 0
        self.marked &= {r.server_id for r in data.rows}
        self.all_rows = data.rows
        self.remarks = data.remarks
        self._hay = {r.server_id: haystack(r) for r in self.all_rows}
        self.last_load_seconds = data.seconds
        self.server_total = data.servers
        self.loaded = True
        self._fit_status_column()
        step, self._step_night = self._step_night, False
        self.apply_view(night_step=step)
        self.console.remember_servers(self.all_rows)
        self._first_run()

    def poll(self) -> None:
        """Every 30 s: a cheap signature query; reload only when something changed."""
        self.db_call(Polled(self.night), queries.night_signature, self.night,
                     description="poll")

    def on_polled(self, message: Polled) -> None:
        signature = message.value
        if message.failed or self.signature is None or signature == self.signature:
            return
        # servers and customers added or renamed elsewhere reach the palette: each writes an
        # audit row (ingest's server.auto_add too), so only a changed signature reloads them
        self.load_targets()
        if message.night != self.night:
            # taken for another night (a poll that started before a load finished): it says
            # nothing about the one shown, and reloading for it would race the load
            return
        latest = signature[0]
        if self.follow_latest and latest != self.night:
            self.notify(f"New night {latest}: showing it", timeout=5)
            self.load(latest)
        elif self.night is not None:
            # the same night: changed rows are updated where they are (cursor, scroll,
            # sort and filter stay as the user left them)
            self.db_call(Refreshed(self.night), refresh_night, self.night, self.update_seen,
                         (list(self.all_rows), dict(self.remarks)),
                         description="reload changed rows")
        else:
            self.load(None)

    def on_refreshed(self, message: Refreshed) -> None:
        if message.failed or message.night != self.night:
            return
        self.apply_refresh(message.value)

    def apply_refresh(self, fresh: NightRefresh, *, mark: bool = True) -> list[int]:
        """Take a reloaded night in place: rows that differ are replaced where they stand and
        (``mark``) marked with who changed them. Servers that came or went re-show the list
        (the cursor stays on its server). Returns the server ids that changed."""
        data = fresh.data
        new_by_id = {r.server_id: r for r in data.rows}
        changed = fresh.changed if fresh.changed is not None \
            else diff_rows(self.all_rows, self.remarks, data)
        now = time.monotonic()
        for sid in changed if mark else ():
            login, action = who_changed(new_by_id[sid], fresh.changes)
            self.changed[sid] = ChangeMark(login, action, now)
        if len(data.rows) != len(self.all_rows) or any(
                self._pos().get(sid) is None for sid in changed):
            self.show_night(data)  # servers came or went
            return changed
        self.signature = data.signature
        self.update_seen = data.signature[3] or 0
        self.latest = data.latest
        self.remarks = data.remarks
        if changed:
            self.replace_rows(CustomerRows([new_by_id[sid] for sid in changed], {
                sid: data.remarks[sid] for sid in changed if sid in data.remarks}),
                summary=fresh.summary)
        return changed

    def _expire_marks(self) -> None:
        now = time.monotonic()
        for sid, mark in list(self.changed.items()):
            if now - mark.at >= self.CHANGE_MARK_SECONDS:
                del self.changed[sid]
                self.grid.refresh_key(sid)
                r = self.grid.current
                if r is not None and r.server_id == sid:
                    self._detail(r)

    def row_gutter(self, r: NightlyRow) -> Text:
        """Left of each row: a dot when marked, a triangle while a teammate's change is new."""
        t = Text()
        t.append("●" if r.server_id in self.marked else " ", style="bold")
        t.append("Δ" if r.server_id in self.changed else " ", style="bold")
        return t

    def _reload_customer(self, customer: str) -> None:
        if self.night is None:
            return
        self.db_call(CustomerReloaded(), load_customer_rows, self.night, customer,
                     group=f"customer-{customer}")

    def on_customer_reloaded(self, message: CustomerReloaded) -> None:
        if not message.failed:
            self.replace_rows(message.value)

    def replace_rows(self, fresh: CustomerRows,
                     summary: tuple[dict[str, int], list[queries.CustbakOutage]] | None = None
                     ) -> None:
        """Rows changed in place (ack, note, snooze, re-parse, exception): update grid and
        summary."""
        pos = self._pos()
        for new in fresh.rows:
            sid = new.server_id
            remark = fresh.remarks.get(sid)
            if remark is None:
                self.remarks.pop(sid, None)
            else:
                self.remarks[sid] = remark
            i = pos.get(sid)
            if i is not None:
                self.all_rows[i] = new
                self._hay[sid] = haystack(new)
                self.grid.update_row(sid, new)
        if summary is not None:  # counted in the worker, for these very rows
            self._summary_cache, self._counts_dirty = summary, False
        else:
            self._counts_dirty = True
        self._sorted = None  # re-sorted on the next sort/filter; rows stay where they are
        self._summary()

    def _pos(self) -> dict[int, int]:
        """Server id -> its index in ``all_rows`` (rebuilt when the rows were replaced)."""
        if self._pos_for is not self.all_rows:
            self._pos_map = {r.server_id: i for i, r in enumerate(self.all_rows)}
            self._pos_for = self.all_rows
        return self._pos_map

    def _first_run(self) -> None:
        """No results at all yet: the next steps instead of an empty grid."""
        first = self.night is None
        for part in ("#summary", "#grid", "#detail"):
            self.query_one(part).display = not first
        panel = self.query_one("#first-run", VerticalScroll)
        panel.display = first
        if not first:
            if self.focused is None or self.focused is panel:
                self.grid.focus()
            return
        cfg = self.console.cfg or Config(path=config_path(), exists=config_path().is_file())
        self.query_one("#first-run-text", Static).update(
            first_run_text(cfg, self.console.db_url, self.server_total, self._user()))
        panel.focus()

    # -- view: sort + filter -----------------------------------------------------------------
    def _sort_key(self) -> Callable[[NightlyRow], Any]:
        if self.sort_column == "note":  # what the Note column shows: the night's notes too
            def by_note(r: NightlyRow) -> tuple:
                line = self.remark_line(r)
                return (not line, line.lower())

            return by_note
        return SORTS[self.sort_column].key

    def _fit_status_column(self) -> None:
        """The Status column takes the width of the longest status word of the night."""
        column = next(c for c in self.grid.columns if c.key == "status")
        words = {row_status_word(r) for r in self.all_rows}
        width = max([len("Status") + 1] + [len(w) for w in words])
        if column.width != width:
            column.width = width
            self.grid.relayout()

    def apply_view(self, keep_key: int | None = None, *, resort: bool = True,
                   night_step: bool = False) -> None:
        """Sort (when the rows or the order changed) and filter, then show.

        Filtering a keystroke must stay well under 100 ms at 10,000 rows: the sorted list is
        kept, so a filter is one pass over it (or over the previous matches when the text only
        grew), and the status counts are only recomputed when the rows change.

        ``night_step`` (after [ or ]): the view starts at the first failing row, and the
        selected server stays selected only when it is then on screen.
        """
        if resort or self._sorted is None:
            self._sorted = sorted(self.all_rows, key=self._sort_key(),
                                  reverse=self.sort_reverse)
            self._shown_for = None
            self._counts_dirty = True
        match = make_filter(self.filter_text)
        if match is None:
            rows = self._sorted
        else:
            base = self._sorted
            if (self._shown_for is not None and ":" not in self.filter_text
                    and self.filter_text.startswith(self._shown_for)):
                # plain words that only grew: narrow the current matches
                base = self.grid.rows
            hay = self._hay
            rows = [r for r in base if match(r, hay[r.server_id])]
        self._shown_for = self.filter_text or None
        top = None
        if night_step:
            top = next((i for i, r in enumerate(rows) if not r.is_good or is_anomaly(r)), 0)
        self.grid.set_rows(rows if rows is not self._sorted else list(rows), keep_key=keep_key,
                           top=top)
        self._summary()

    def _topbar(self, extra: str = "") -> None:
        t = Text()
        if self.size.width >= 100:
            t.append("acorntui  ", style="bold")
        if self.night is not None:
            t.append(f"night of {self.night:%a %Y-%m-%d}", style="bold")
            if self.night == self.latest:
                t.append(" (latest)")
            else:
                t.append(f" (latest {self.latest})")
        elif self.loaded:
            t.append("no results yet: first steps below", style="bold")
        if self.night is not None and (self.sort_column, self.sort_reverse) != (DEFAULT_SORT,
                                                                               False):
            arrow = "▼" if self.sort_reverse else "▲"
            t.append(f"  sort: {SORTS[self.sort_column].name} {arrow}")
        if self.filter_text:
            t.append("  filter: ")
            t.append_text(safe_text(self.filter_text, style="bold"))
        user = self._user()
        if user is not None:
            t.append_text(safe_text(f"  you: {user.login} ({_short_role(user)})"))
        if extra:
            t.append(f"  {extra}")
        self.query_one("#topbar", Static).update(t)

    def _summary(self) -> None:
        self._topbar()
        if self._counts_dirty or self._summary_cache is None:
            counts = queries.status_counts(self.all_rows)
            anomalies = sum(1 for r in self.all_rows if is_anomaly(r))
            if anomalies:  # shown as OK?, counted apart from the OK and OK* they were
                counts["anomaly"] = anomalies
                for r in self.all_rows:
                    if is_anomaly(r):
                        counts[r.status] -= 1
            counts["attention"] = sum(1 for r in self.all_rows if needs_attention(r))
            self._summary_cache = (counts, queries.custbak_outages(self.all_rows))
            self._counts_dirty = False
            self._custbak_column(bool(self._summary_cache[1]))
        counts, outages = self._summary_cache
        pal = palette(self.app)
        shown, total = self.grid.row_count, len(self.all_rows)
        parts: list[Text] = []
        attention = counts.get("attention", 0)
        parts.append(Text(f"needs attention {attention}",
                          style=status_style(self.app, "failed") if attention else "bold"))
        for status, label in (("failed", "FAILED"), ("incomplete", "INCOMPLETE"),
                              ("fetch_failed", "FETCH FAILED"), ("no_data", "NO DATA"),
                              ("snoozed", "snoozed"), ("anomaly", "OK?"),
                              ("ok_with_exceptions", "OK*"), ("ok", "OK")):
            n = counts.get(status, 0)
            if n or status in ("failed", "ok"):
                # a count in the colour of its status word, without its badge
                parts.append(Text(f"{label} {n}", style=pal.word(status) if n else ""))
        parts.append(Text(f"· {total} servers" if not self.filter_text
                          else f"· showing {shown} of {total}"))
        box = self.query_one("#summary", Static)
        room = box.size.width - 2
        # two spaces between counts when they fit, else one (80 columns); still too long:
        # the good counts go first (the grid shows them), the needs-attention count stays
        while len(parts) > 3 and sum(p.cell_len + 1 for p in parts) > room:
            good = [p for p in parts[1:-1] if p.plain.split()[0] in ("OK", "OK*", "snoozed")]
            parts.remove(good[-1] if good else parts[-2])
        sep = "  " if sum(p.cell_len + 2 for p in parts) <= room else " "
        box.update(Text(sep).join(parts))
        box = self.query_one("#outages", Static)
        if outages:
            big = outages[0]
            o = Text("⚠ ", style="bold")
            o.append_text(safe_text(
                f"{len(big.servers)} servers on {big.custbak} are bad this night: a TSR3 "
                "problem. "))
            o.append(f"M marks these {len(big.servers)}", style="bold")
            rest = ", ".join(f"{x.custbak} {len(x.servers)}" for x in outages[1:4])
            if rest:
                o.append_text(safe_text(f"  (also {rest})"))
            box.update(o)
            box.display = True
        else:
            box.display = False

    def _custbak_column(self, warning: bool) -> None:
        """Custbak shows when there is room, and always while a custbak warning is up."""
        column = next(c for c in self.grid.columns if c.key == "custbak")
        priority = 0 if warning else 3
        if column.priority != priority:
            column.priority = priority
            self.grid.relayout()

    # -- rows ------------------------------------------------------------------------------------
    def render_row(self, r: NightlyRow) -> list[Text]:
        pal = palette(self.app)
        handled = is_handled(r)
        if r.server_id in self.busy:
            status = Text("re-parsing…", style="italic")
        elif handled:  # somebody has it in hand: the word, dimmed, without its badge
            status = Text(row_status_word(r), style=pal.dim)
        else:
            status = Text(row_status_word(r),
                          style=pal.style(ANOMALY if is_anomaly(r) else r.status))
        flags = ("A" if r.ack_note else "") + ("Z" if r.snoozed else "") + (
            "" if r.registered else "U")
        errors = "" if not r.error_count else f"{r.new_errors}/{r.recurring_errors}"
        age = r.last_good_age_days
        meaning = r.jargon
        if r.status == INCOMPLETE and r.reason and r.reason != REASON_INCOMPLETE:
            # the Status column holds the word only; the reason leads the Meaning
            meaning = f"{REASON_WORDS.get(r.reason, r.reason)}: {r.jargon}"
        elif is_anomaly(r):
            meaning = "far smaller than usual"
        cells = [
            safe_text(r.customer),
            safe_text(r.server),
            status,
            Text(flags, style="bold"),
            Text("" if r.code is None else str(r.code)),
            safe_text(meaning),
            Text(errors, style="bold" if r.new_errors else ""),
            Text(human_bytes(r.total_size) if r.total_size is not None else "—"),
            Text(human_bytes(r.sent_bytes) if r.sent_bytes is not None else "—"),
            Text("" if r.is_good else ("never" if age is None else f"{age}d")),
            Text(str(r.bad_streak) if r.bad_streak else ""),
            safe_text(r.tsr),
            safe_text(r.custbak),
            safe_text(self.remark_line(r)),
        ]
        if handled:
            for cell in cells:
                cell.style = pal.dim
                cell.spans = []
        return cells

    def remark_line(self, r: NightlyRow) -> str:
        """The Note column: the night's latest note or acknowledgement, and who wrote it."""
        remark = self.remarks.get(r.server_id)
        if remark is not None:
            return f"{remark.login}: {remark.text}"
        return f"{r.ack_by}: {r.ack_note}" if r.ack_note else ""

    @on(FastGrid.CursorMoved)
    def _cursor_moved(self, event: FastGrid.CursorMoved) -> None:
        self._detail(event.row)

    def _detail(self, r: NightlyRow | None) -> None:
        box = self.query_one("#detail", Static)
        if r is None:
            box.update(Text("no servers match" if self.filter_text else ""))
            return
        t = Text()
        t.append_text(safe_text(f"{r.customer}/{r.server}", style="bold"))
        t.append("  ")
        if is_anomaly(r):
            t.append("OK?", style=palette(self.app).style(ANOMALY))
            t.append_text(safe_text(f"  {r.anomaly}"))
        else:
            t.append_text(status_text(self.app, r.status, r.reason))
        if r.code is not None:
            t.append_text(safe_text(f"  code {r.code}: {r.jargon}"))
        if r.error_count:
            t.append(f"  {r.error_count} file errors ({r.excepted_count} excepted, "
                     f"{r.new_errors} new)")
        if not r.is_good:
            t.append("  last good: ")
            t.append(f"{r.last_good} ({r.last_good_age_days}d ago)" if r.last_good else "never")
        if r.snoozed:
            t.append_text(safe_text(f"  SNOOZED until {r.snoozed_until}: {r.snooze_reason}"))
        if r.ack_note:
            t.append_text(safe_text(f"  ACK by {r.ack_by}: {r.ack_note}"))
        remark = self.remarks.get(r.server_id)
        if remark is not None and remark.kind == "note":
            t.append_text(safe_text(f"  NOTE by {remark.login}: {remark.text}"))
        if not r.registered:
            t.append("  NOT REGISTERED (first seen in a log)")
        t.append_text(self._marks_detail(r))
        # what the hidden columns would have said
        shown = {c.key for c in self.grid.shown_columns}
        extra = []
        if "tsr" not in shown and r.tsr:
            extra.append(f"TSR {r.tsr}")
        if "custbak" not in shown and r.custbak:
            extra.append(f"custbak {r.custbak}")
        if "size" not in shown and r.total_size is not None:
            extra.append(f"size {human_bytes(r.total_size)}")
        if "sent" not in shown and r.sent_bytes is not None:
            extra.append(f"sent {human_bytes(r.sent_bytes)}")
        if extra:
            t.append_text(safe_text("  " + " · ".join(extra), style="dim"))
        box.update(t)

    def _marks_detail(self, r: NightlyRow) -> Text:
        """For the detail line: who changed the row (a teammate, lately), how many marked."""
        t = Text()
        mark = self.changed.get(r.server_id)
        if mark is not None:
            ago = int(time.monotonic() - mark.at)
            who = f"changed by {mark.login} ({mark.action})" if mark.login \
                else f"changed ({mark.action})"
            t.append_text(safe_text(f"  Δ {who} {ago} s ago", style="bold"))
        if self.marked:
            t.append(f"  [{len(self.marked)} marked]", style="bold")
        return t

    @property
    def current(self) -> NightlyRow | None:
        return self.grid.current

    # -- actions ---------------------------------------------------------------------------------
    @on(FastGrid.RowSelected)
    def _row_selected(self, event: FastGrid.RowSelected) -> None:
        self.action_history()

    def action_history(self) -> None:
        r = self.current
        if r is None:
            return
        from acorntui.screens.history import ServerHistoryScreen

        self.app.push_screen(ServerHistoryScreen(r.server_id, f"{r.customer}/{r.server}",
                                                 night=r.night))

    def action_codes(self) -> None:
        from acorntui.screens.codes import CodeReferenceScreen

        r = self.current
        self.app.push_screen(CodeReferenceScreen(code=r.code if r else None,
                                                 status=r.status if r else "",
                                                 reason=r.reason if r else ""))

    def action_log(self) -> None:
        """The chosen server's log for the night (screens/logview.py)."""
        from acorntui.screens.logview import LogViewScreen

        r = self.current
        if r is None or r.result_id is None:
            self.notify("No result for this server on this night: no log to show.",
                        severity="warning")
            return
        self.app.push_screen(LogViewScreen(r.result_id, f"{r.customer}/{r.server}"))

    def action_exceptions(self) -> None:
        from acorntui.screens.exceptions import ExceptionsScreen

        self.app.push_screen(ExceptionsScreen())

    def action_management(self) -> None:
        try:
            from acorntui.screens.management import ManagementScreen  # another engineer's module
        except ImportError as exc:
            self.notify(f"Management is not available in this build ({exc}).",
                        severity="warning", markup=False)
            return
        self.app.push_screen(ManagementScreen())

    def action_refresh(self) -> None:
        self._topbar("refreshing…")
        self.load(self.night if not self.follow_latest else None)

    def action_night(self, direction: int) -> None:
        if self.night is None:
            return
        self._step_night = True
        self.load(self.night, direction)

    # -- sort ------------------------------------------------------------------------------------
    def sortable_columns(self) -> list[tuple[str, str]]:
        """(key, label) of the columns on screen that sort: what `s` offers."""
        return [(c.key, c.label) for c in self.grid.shown_columns if c.key in SORTS]

    def action_sort(self) -> None:
        def chosen(key: str | None) -> None:
            if key is not None:
                self.sort_by(key)

        self.app.push_screen(SortPicker(self.sortable_columns(), self.sort_column), chosen)

    def sort_by(self, key: str, reverse: bool | None = None) -> None:
        """Sort by column ``key``; ``reverse`` None: the column's first direction."""
        if key not in SORTS:
            return
        self.sort_column = key
        self.sort_reverse = SORTS[key].descending_first if reverse is None else reverse
        self.grid.set_sort(self.sort_column, self.sort_reverse)
        self.apply_view()

    def action_reverse_sort(self) -> None:
        self.sort_by(self.sort_column, not self.sort_reverse)

    @on(FastGrid.HeaderSelected)
    def _header_selected(self, event: FastGrid.HeaderSelected) -> None:
        """A click on a header sorts by it; on the sorted column, it reverses."""
        key = event.column.key
        if key == self.sort_column:
            self.action_reverse_sort()
        else:
            self.sort_by(key)

    def action_next_attention(self) -> None:
        """N: the next row (after the cursor, wrapping) that needs attention."""
        rows = self.grid.rows
        if not rows:
            return
        start = self.grid.cursor_row
        for step in range(1, len(rows) + 1):
            i = (start + step) % len(rows)
            if needs_attention(rows[i]):
                self.grid.cursor_row = i
                return
        self.notify("Nothing left that needs attention on this list.", timeout=3)

    def action_filter(self) -> None:
        box = self.query_one("#filter", AcornInput)
        box.display = True
        box.focus()

    def set_filter(self, text: str) -> None:
        box = self.query_one("#filter", AcornInput)
        box.value = text
        box.display = bool(text)
        self.filter_text = text
        self.apply_view()

    @on(AcornInput.Changed, "#filter")
    def _filter_changed(self, event: AcornInput.Changed) -> None:
        text = event.value.strip()
        if text != self.filter_text:
            self.filter_text = text
            self.apply_view(resort=False)

    @on(AcornInput.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        if not self.filter_text:
            self.query_one("#filter").display = False
        self.grid.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", AcornInput)
        if self.filter_text or box.display:
            box.value = ""
            box.display = False
            self.filter_text = ""
            self.apply_view(resort=False)
            self.grid.focus()
        elif self.marked:
            self._set_marks(set())

    # marks (bulk actions) --------------------------------------------------------------------
    def _set_marks(self, marked: set[int]) -> None:
        touched = self.marked ^ marked
        self.marked = marked
        for sid in touched:
            self.grid.refresh_key(sid)
        self._detail(self.grid.current)

    def action_mark(self) -> None:
        r = self.current
        if r is None:
            return
        self._set_marks(self.marked ^ {r.server_id})
        self.grid.action_cursor_down()

    def action_mark_all(self) -> None:
        shown = {r.server_id for r in self.grid.rows}
        if shown and shown <= self.marked:
            self._set_marks(self.marked - shown)
        else:
            self._set_marks(self.marked | shown)
        self.notify(f"{len(self.marked)} marked: a, n or z acts on all of them "
                    "(esc unmarks)", timeout=4)

    def action_mark_outage(self) -> None:
        outages = self._summary_cache[1] if self._summary_cache else []
        if not outages:
            self.notify("No custbak outage this night.", timeout=3)
            return
        big = outages[0]
        names = set(big.servers)
        ids = {r.server_id for r in self.all_rows if f"{r.customer}/{r.server}" in names}
        self._set_marks(self.marked | ids)
        self.notify(f"{len(ids)} servers on {big.custbak} marked: a, n or z acts on all of "
                    "them", markup=False, timeout=4)

    def _marked_rows(self) -> list[NightlyRow]:
        return [r for r in self.all_rows if r.server_id in self.marked]

    def _bulk(self, what: str, fn: Callable[..., Any], *args: Any,
              message: type[BulkDone] = BulkDone) -> None:
        if self.night is None:
            return
        self.db_call(message(what, self.night), _bulk_then_refresh, self.night,
                     self.update_seen, (list(self.all_rows), dict(self.remarks)), fn,
                     self._user(), *args,
                     description="bulk action")

    @on(BulkDone)  # and CustomerSnoozed
    def _bulk_done(self, message: BulkDone) -> None:
        if message.failed:
            return  # DbScreen says it was not saved (nothing was: one transaction)
        if not isinstance(message, CustomerSnoozed):
            self._set_marks(set())
        if message.night == self.night:
            self.apply_refresh(message.value, mark=False)  # the user's own change
        self.notify(message.what, markup=False)

    def _bulk_ack(self) -> None:
        rows = self._marked_rows()
        with_result = [r for r in rows if r.result_id is not None]
        if not with_result:
            self.notify("None of the marked rows has a result this night (NO DATA).",
                        severity="warning")
            return
        from acorntui.screens.forms import AckForm

        skipped = len(rows) - len(with_result)
        target = f"{len(with_result)} marked servers, night {self.night}" + (
            f" ({skipped} with no result left out)" if skipped else "")

        def done(note: str | None) -> None:
            if note:
                from acorntui.services.triage import acknowledge_many

                self._bulk(f"{len(with_result)} servers acknowledged", acknowledge_many,
                           [r.result_id for r in with_result], note)

        self.app.push_screen(AckForm(target), done)

    def _bulk_note(self) -> None:
        rows = self._marked_rows()
        from acorntui.screens.forms import NoteForm

        def done(text: str | None) -> None:
            if text:
                from acorntui.services.triage import add_notes

                self._bulk(f"Note added to {len(rows)} servers", add_notes,
                           [(r.server_id, r.result_id) for r in rows], text)

        self.app.push_screen(NoteForm(f"{len(rows)} marked servers, night {self.night}"), done)

    def _bulk_snooze(self) -> None:
        rows = self._marked_rows()
        from acorntui.screens.forms import SnoozeForm, SnoozeResult

        def done(res: SnoozeResult | None) -> None:
            if res is not None:
                from acorntui.services.triage import snooze_many

                what = f"snoozed until {res.until}" if res.until else "snooze lifted"
                self._bulk(f"{len(rows)} servers {what}", snooze_many,
                           [r.server_id for r in rows], res.until, res.reason)

        self.app.push_screen(SnoozeForm(f"{len(rows)} marked servers"), done)

    # Z: a customer's maintenance window ---------------------------------------------------------
    def action_customer_snooze(self) -> None:
        r = self.current
        if r is None or not self.allowed("snooze"):
            return
        from acorntui.screens.forms import SnoozeForm, SnoozeResult

        def done(res: SnoozeResult | None) -> None:
            if res is not None:
                from acorntui.services.triage import snooze_customer

                what = (f"customer {r.customer}: every server snoozed until {res.until}"
                        if res.until else f"customer {r.customer}: maintenance window lifted")
                self._bulk(what, snooze_customer, r.customer_id, res.until, res.reason,
                           message=CustomerSnoozed)

        self.app.push_screen(SnoozeForm(f"customer {r.customer} (every server of it)",
                                        title="Customer maintenance window"), done)

    # x: an exception for the night's failing file --
    def action_exception(self) -> None:
        r = self.current
        if r is None or not self.allowed("exception"):
            return
        if r.result_id is None or not r.error_count:
            self.notify("No failing file this night to except.", severity="warning")
            return
        self.db_call(FailingFiles(r), queries.failure_views, r.result_id,
                     description="failing files")

    def on_failing_files(self, message: FailingFiles) -> None:
        if message.failed:
            return
        r = message.row
        f = next((f for f in message.value if f.path and not f.excepted), None)
        if f is None:
            self.notify("Every failing file this night is covered already, or the errors "
                        "name no file (enter: history says which).", severity="warning",
                        timeout=6)
            return
        from acorntui.screens.forms import ExceptionForm, ExceptionFormResult

        def done(res: ExceptionFormResult | None) -> None:
            if res is not None:
                self.db_call(Excepted(r, res.scope), _except, self._user(), r, res)

        self.app.push_screen(ExceptionForm(
            title="New exception", path_pattern=f.path, scope="server",
            server_label=f"{r.customer}/{r.server}", customer_label=r.customer,
            failing_path=f"{f.path}  ({f.message})"), done)

    def on_excepted(self, message: Excepted) -> None:
        if message.failed:
            return
        (e, rows), r = message.value, message.row
        self.replace_rows(rows)
        if message.scope != "server":
            self.load(self.night)  # other customers' rows may have turned OK* too
        self.notify(f"Exception #{e.id} added for {r.customer}/{r.server} ({message.scope})",
                    markup=False)

    def action_help(self) -> None:
        from acorntui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen("Nightly grid", self.HELP, self))

    # ack / snooze / re-parse ---------------------------------------------------------------
    def action_ack(self) -> None:
        r = self.current
        if r is None or not self.allowed("ack"):
            return
        if self.marked:
            self._bulk_ack()
            return
        if r.result_id is None:
            self.notify("No result this night to acknowledge (NO DATA).", severity="warning")
            return
        from acorntui.screens.forms import AckForm

        def done(note: str | None) -> None:
            if note:
                self.db_call(Acted(f"{r.customer}/{r.server} acknowledged"), _ack,
                             self._user(), r.result_id, note, r.night, r.customer)

        self.app.push_screen(AckForm(f"{r.customer}/{r.server}, night {r.night}: {r.label}",
                                     r.ack_note), done)

    def action_note(self) -> None:
        r = self.current
        if r is None or not self.allowed("note"):
            return
        if self.marked:
            self._bulk_note()
            return
        from acorntui.screens.forms import NoteForm

        def done(text: str | None) -> None:
            if text:
                self.db_call(Noted(f"Note added to {r.customer}/{r.server} (enter: history)"),
                             _note, self._user(), r.server_id, text, r.result_id, r.night,
                             r.customer)

        self.app.push_screen(NoteForm(f"{r.customer}/{r.server}, night {r.night}: {r.label}"),
                             done)

    def action_snooze(self) -> None:
        r = self.current
        if r is None or not self.allowed("snooze"):
            return
        if self.marked:
            self._bulk_snooze()
            return
        from acorntui.screens.forms import SnoozeForm, SnoozeResult

        def done(res: SnoozeResult | None) -> None:
            if res is not None:
                what = (f"snoozed until {res.until}" if res.until else "snooze lifted")
                self.db_call(Acted(f"{r.customer}/{r.server} {what}"), _snooze, self._user(),
                             r.server_id, res.until, res.reason, r.night, r.customer)

        self.app.push_screen(SnoozeForm(f"{r.customer}/{r.server}", r.snoozed_until,
                                        r.snooze_reason), done)

    @on(Acted)  # and Noted: the same reload and message
    def _acted(self, message: Acted) -> None:
        if not message.failed:
            self.replace_rows(message.value)
            self.notify(message.what, markup=False)

    def action_reparse(self) -> None:
        r = self.current
        if r is None or self.night is None or not self.allowed("reparse"):
            return
        if r.server_id in self.busy:
            self.notify("Already re-parsing this server.")
            return
        self.busy.add(r.server_id)
        self.grid.update_row(r.server_id, r)
        self.notify(f"Re-parsing {r.customer}/{r.server}…", markup=False, timeout=3)
        self.db_call(Reparsed(r), _reparse, self.console.cfg, self._user(), r.customer,
                     r.server, self.night, group=f"reparse-{r.server_id}",
                     description=f"re-parse {r.customer}/{r.server}")

    def on_reparsed(self, message: Reparsed) -> None:
        r = message.row
        self.busy.discard(r.server_id)
        if message.failed:
            self.grid.update_row(r.server_id, r)
            self.notify(f"Re-parse of {r.customer}/{r.server} failed: {message.error}",
                        title="Re-parse", severity="error", timeout=10, markup=False)
            return
        outcome, fresh = message.value
        self.replace_rows(fresh)
        new = next((x for x in fresh.rows if x.server_id == r.server_id), None)
        self.grid.update_row(r.server_id, new or r)
        self.notify(f"{r.customer}/{r.server} re-parsed: {_describe(outcome, new)}",
                    markup=False, timeout=6)


def first_run_text(cfg: Config, db_url: str, servers: int, user: User | None = None) -> Text:
    """The first-run panel: where the config file is, a report server to add, then the
    commands that fill the database. Every path is the real one, shown literally."""
    # the options the commands need to reach this console's config and database
    opts = []
    if cfg.path != config_path():
        opts += ["--config", shlex.quote(str(cfg.path))]
    if db_url and db_url != resolve_db_url(None, cfg)[0]:
        opts += ["--db", shlex.quote(mask_url(db_url))]
    t = Text()
    t.append("No servers and no results yet." if not servers else
             f"{servers} server{'s' if servers != 1 else ''} known, no results yet.",
             style="bold")
    t.append(" To get started (ctrl+r looks again):\n")
    if opts:
        t.append("Run the commands as  ")
        t.append_text(safe_text(" ".join(["acorntui", *opts, "COMMAND"]), style="bold"))
        t.append("\n")
    t.append("\n1. ", style="bold")
    if cfg.report_servers:
        t.append("Report servers, from the config file\n")
        t.append_text(safe_text(f"     {cfg.path}", style="bold"))
        t.append("\n")
        for rs in cfg.report_servers:
            t.append_text(safe_text(f"     {rs.name}: {rs.user + '@' if rs.user else ''}"
                                    f"{rs.host}:{rs.remote_dir}"))
            t.append("\n")
    else:
        t.append("Say where the logs are: edit the config file")
        t.append(" (it does not exist yet)\n" if not cfg.exists else "\n")
        t.append_text(safe_text(f"     {cfg.path}", style="bold"))
        t.append("\n   and add a report server, for example:\n")
        known_hosts = cfg.path.parent / "known_hosts"
        example = ("[[report_servers]]", 'name = "reports1"', 'host = "reports.example.com"',
                   'user = "acorn"', 'key_file = "~/.ssh/id_ed25519"',
                   'remote_dir = "/reports"', f'known_hosts = "{known_hosts}"')
        for line in example:
            t.append_text(safe_text(f"     {line}", style="bold" if line[0] == "[" else ""))
            t.append("\n")
    t.append("\n2. ", style="bold")
    t.append("Pull the logs, then record them:  ")
    t.append("acorntui fetch", style="bold")
    t.append("  then  ")
    t.append("acorntui ingest", style="bold")
    t.append("\n")
    t.append_text(safe_text(f"   (fetch writes to the spool {cfg.spool_dir})"))
    t.append("\n   or record logs you already have:  ")
    t.append("acorntui ingest SPOOL", style="bold")
    t.append("\n   (SPOOL: a folder of <customer>/<server>.out files)\n\n")
    t.append("3. ", style="bold")
    t.append("Or look around on made-up data (a database of its own):  ")
    t.append("acorntui demo", style="bold")
    if user is not None and not user.can("ack"):
        t.append("\n4. ", style="bold")
        t.append_text(safe_text(f"You ({user.login}) may only read: "))
        t.append("acorntui init-db", style="bold")
        t.append(" makes the first user a TSR3")
    if db_url and not opts:
        t.append("\n\nDatabase: ")
        t.append_text(safe_text(mask_url(db_url)))
    t.no_wrap = False
    t.overflow = "fold"
    return t


def _short_role(user: Any) -> str:
    role = getattr(user, "role", "")
    if role == TSR3:
        return "TSR3"
    if role == TSR:
        return f"TSR{getattr(user, 'level', '')}"
    if role == SERVICE:  # the nightly job's account
        return "ingest only"
    return "CSR" if role == CSR else "read-only"


def _describe(outcome: Any, row: NightlyRow | None) -> str:
    parts = []
    action = getattr(outcome, "action", None)
    if action:
        parts.append(str(action))
    if row is not None:
        parts.append(f"now {row.label}" + (f" (code {row.code})" if row.code is not None else ""))
    err = getattr(outcome, "error", "")
    if err:
        parts.append(str(err))
    return ", ".join(parts) or str(outcome)


# -- worker bodies (run in threads) -------------------------------------------------------------

def _ack(user, result_id: int, note: str, night: dt.date, customer: str) -> CustomerRows:
    from acorntui.services.triage import acknowledge

    acknowledge(user, result_id, note)
    return load_customer_rows(night, customer)


def _note(user, server_id: int, text: str, result_id: int | None, night: dt.date,
          customer: str) -> CustomerRows:
    from acorntui.services.triage import add_note

    add_note(user, server_id, text, result_id=result_id)
    return load_customer_rows(night, customer)


def _snooze(user, server_id: int, until: dt.date | None, reason: str, night: dt.date,
            customer: str) -> CustomerRows:
    from acorntui.services.triage import snooze

    snooze(user, server_id, until, reason)
    return load_customer_rows(night, customer)


def _bulk_then_refresh(night: dt.date, update_seen: int, shown: Any, fn: Callable[..., Any],
                       user, *args: Any) -> NightRefresh:
    fn(user, *args)
    return refresh_night(night, update_seen, shown)


def _except(user, r: NightlyRow, form: Any) -> tuple[Any, CustomerRows]:
    from acorntui.services.exceptions import ExceptionInput, add_exception
    from acorntui.services.ingest import reevaluate

    data = ExceptionInput(scope=form.scope, path_pattern=form.path_pattern,
                          server_id=r.server_id, customer_id=r.customer_id,
                          message_pattern=form.message_pattern, reason=form.reason,
                          method=form.method, expires_at=form.expires_at)
    e, _changed = add_exception(user, data)
    reevaluate(server_ids=[r.server_id], since=r.night)  # the night looked at, if not the latest
    return e, load_customer_rows(r.night, r.customer)


def _reparse(cfg, user, customer: str, server: str, night: dt.date
             ) -> tuple[Any, CustomerRows]:
    try:
        from acorntui.jobs.reparse import reparse_server
    except ImportError as exc:
        raise RuntimeError(f"re-parse is not available in this build: {exc}") from None
    outcome = reparse_server(cfg, customer, server, night=night, user=user)
    return outcome, load_customer_rows(night, customer)
