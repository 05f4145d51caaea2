"""The nightly grid, the home screen: one row per active server for the selected night."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from acorntui.screens.help import footer_fit
from acorntui.screens.widgets import (
    AcornInput,
    AcornScreen,
    Banner,
    FastGrid,
    GridColumn,
    human_bytes,
    safe_text,
    status_style,
    status_text,
)
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.widgets import Footer, Static

from acorntui.services import queries
from acorntui.services.queries import STATUS_ORDER, NightlyRow

# priority 0 columns are what triage needs and always show (they fit 80 columns); the others
# go, lowest priority first, when the terminal is narrower than all of them (the detail line
# then carries what they would have said)
COLUMNS = [
    GridColumn("customer", "Customer", 16),
    GridColumn("server", "Server", 10),
    GridColumn("status", "Status", 20),
    GridColumn("flags", "Flg", 3, priority=9),
    GridColumn("code", "Code", 4, "right"),
    GridColumn("jargon", "Meaning", 16, priority=6),
    GridColumn("errors", "New/Rec", 7, "right"),
    GridColumn("size", "Size", 6, "right", priority=2),
    GridColumn("sent", "Sent", 6, "right", priority=1),
    GridColumn("age", "LastOK", 6, "right"),
    GridColumn("streak", "Bad", 3, "right"),
    GridColumn("tsr", "TSR", 9, priority=5),
    GridColumn("custbak", "Custbak", 9, priority=3),
    GridColumn("note", "Note", 10, flex=True, priority=4),
]


def failing_first(r: NightlyRow) -> tuple:
    rank = STATUS_ORDER.get(r.status, 9) if r.counts_as_failing else (
        3.5 if not r.is_good else STATUS_ORDER.get(r.status, 9))
    return (rank, r.customer, r.server)


@dataclass(frozen=True)
class SortOrder:
    name: str
    key: Callable[[NightlyRow], Any]


SORTS = [
    SortOrder("failing first", failing_first),
    SortOrder("customer", lambda r: (r.customer, r.server)),
    SortOrder("server", lambda r: (r.server, r.customer)),
    SortOrder("bad nights", lambda r: (-r.bad_streak, failing_first(r))),
    SortOrder("new errors", lambda r: (-r.new_errors, -r.error_count, failing_first(r))),
    SortOrder("size", lambda r: (-(r.total_size or 0), r.customer)),
    SortOrder("sent", lambda r: (-(r.sent_bytes or 0), r.customer)),
    SortOrder("code", lambda r: (r.code if r.code is not None else 999, failing_first(r))),
    SortOrder("TSR", lambda r: (r.tsr, failing_first(r))),
    SortOrder("custbak", lambda r: (r.custbak, failing_first(r))),
]

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
                     "acked" if r.ack_note else "")).lower()


def make_filter(text: str) -> Callable[[NightlyRow, str], bool] | None:
    """`/` filter: words must all match. `status:failed`, `code:23`, `tsr:dpatel`,
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
        for w in free:
            if w not in hay:
                return False
        for fld, value in fielded:
            if fld == "code":
                if str(r.code) != value:
                    return False
            elif fld == "status":
                if not (r.label.lower().startswith(value) or r.status.startswith(value)):
                    return False
            elif value.startswith("="):  # customer:=acme (the palette's jump): exactly
                if str(getattr(r, fld)).lower() != value[1:]:
                    return False
            elif value not in str(getattr(r, fld)).lower():
                return False
        return True

    return match


def load_night(night: dt.date | None, direction: int = 0) -> dict[str, Any]:
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
    from acorntui.services.roles import current_user

    return dict(night=night, latest=latest, rows=rows, remarks=remarks, has_prev=has_prev,
                user=current_user(), signature=signature,
                seconds=time.perf_counter() - t0)


@dataclass
class CustomerRows:
    """One customer's rows for a night, and their notes (a reload after a change)."""

    rows: list[NightlyRow]
    remarks: dict[int, queries.NightRemark]


def load_customer_rows(night: dt.date, customer: str) -> CustomerRows:
    return CustomerRows(queries.nightly_rows(night, customer=customer),
                        queries.night_remarks(night, customer=customer))


class NightlyScreen(AcornScreen):
    """Failing servers first; a summary line; custbak outages called out."""

    # the Footer (compact) shows what a TSR uses most at every width, `?` first and `q` last;
    # FOOTER_MIN_WIDTH holds back the rest until the terminal is wide enough (`?` lists all)
    _NIGHT = Binding.Group("Night", compact=True)
    BINDINGS: ClassVar = [
        Binding("question_mark", "help", "Help"),
        Binding("enter", "history", "History"),
        Binding("a", "ack", "Ack"),
        Binding("n", "note", "Note"),
        Binding("z", "snooze", "Snooze"),
        Binding("r", "reparse", "Re-parse"),
        Binding("slash", "filter", "Filter"),
        Binding("s", "sort", "Sort"),
        Binding("left_square_bracket", "night(-1)", "Prev night", group=_NIGHT),
        Binding("right_square_bracket", "night(1)", "Next night", group=_NIGHT),
        Binding("c", "codes", "Code"),
        Binding("e", "exceptions", "Exceptions"),
        Binding("m", "management", "Manage"),
        Binding("ctrl+r,f5", "refresh", "Refresh"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("q", "app.quit", "Quit"),
    ]
    FOOTER_MIN_WIDTH: ClassVar = {"snooze": 120, "reparse": 120, "sort": 120,
                                  "night(-1)": 120, "night(1)": 120, "exceptions": 140,
                                  "codes": 140}
    HELP = """\
The nightly grid: one row per active server for the night, failing servers first.
Status words: OK, OK* (ok: every file error is covered by an exception), FAILED,
INCOMPLETE (missing: no log; stale: old log; incomplete: log without an end), FETCH FAILED
(our pull failed, not the customer's backup), NO DATA (no result recorded).
Flg: A acknowledged, Z snoozed (does not count as failing), U not registered (first seen in a log).
New/Rec: file errors new since the server's previous night / seen then too.
LastOK: nights since the last good backup. Bad: consecutive bad nights.
a acknowledges the night's result with a note (shown in the row and the history); n adds a
note to the server (history timeline); z snoozes (or un-snoozes) the server; r re-parses.
At narrow widths the lower-priority columns hide; the detail line below the grid says them.
Filter words match customer, server, code, status, TSR, custbak; or name a field:
status:failed  code:23  tsr:dpatel  customer:acme  server:exch  custbak:03
"""
    POLL_SECONDS = 30.0

    def __init__(self) -> None:
        super().__init__()
        self.night: dt.date | None = None
        self.latest: dt.date | None = None
        self.follow_latest = True
        self.all_rows: list[NightlyRow] = []
        self.remarks: dict[int, queries.NightRemark] = {}  # server id -> latest note/ack
        self._hay: dict[int, str] = {}
        self.sort_index = 0
        self.filter_text = ""
        self.busy: set[int] = set()
        self.signature: tuple | None = None
        self._sorted: list[NightlyRow] | None = None
        self._shown_for: str | None = None
        self._counts_dirty = True
        self._summary_cache: tuple[dict[str, int], list[queries.CustbakOutage]] | None = None
        self.loaded = False
        self.last_load_seconds = 0.0

    # -- layout ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(id="topbar", classes="topbar")
        yield Banner(id="banner")
        yield Static(id="summary", classes="summary")
        yield Static(id="outages", classes="outages")
        yield FastGrid(COLUMNS, self.render_row, lambda r: r.server_id, id="grid")
        yield Static(id="detail", classes="detail")
        yield AcornInput(placeholder="filter: words, or status:failed code:23 tsr:login "
                         "customer:name (enter keeps, esc clears)", id="filter")
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
        self._topbar("loading…")
        self.load()
        self.set_interval(self.POLL_SECONDS, self.poll, name="poll")
        self.grid.focus()

    def on_screen_resume(self) -> None:
        changed = getattr(self.app, "take_changes", lambda: None)()
        if changed == "all":
            self.load(self.night)
        elif changed:
            for customer in sorted(changed):
                self._reload_customer(customer)

    # -- loading -----------------------------------------------------------------------------
    def load(self, night: dt.date | None = None, direction: int = 0) -> None:
        self.db_call("rows", load_night, night, direction, description="load the night")
        self.load_targets()

    def load_targets(self) -> None:
        """Every server and customer for the palette (ctrl+p), inactive ones too."""
        self.db_call("targets", queries.jump_targets, description="load palette targets")

    def on_db_targets(self, targets: list[queries.JumpTarget], _ctx: Any) -> None:
        if hasattr(self.app, "remember_targets"):
            self.app.remember_targets(targets)

    def on_db_error_targets(self, exc: BaseException, _ctx: Any) -> None:
        pass  # the palette keeps the grid's servers; the banner says what is wrong

    def on_db_rows(self, data: dict[str, Any], _ctx: Any) -> None:
        self.night, self.latest = data["night"], data["latest"]
        self.app.user = data["user"]  # type: ignore[attr-defined]  # AcornApp.user
        self.follow_latest = self.night == self.latest
        self.signature = data["signature"]
        self.all_rows = data["rows"]
        self.remarks = data["remarks"]
        self._hay = {r.server_id: haystack(r) for r in self.all_rows}
        self.last_load_seconds = data["seconds"]
        self.apply_view()
        if hasattr(self.app, "remember_servers"):
            self.app.remember_servers(self.all_rows)
        self.loaded = True

    def on_db_error_rows(self, exc: BaseException, _ctx: Any) -> None:
        self._topbar("could not load the night")

    def poll(self) -> None:
        """Every 30 s: a cheap signature query; reload only when something changed."""
        self.db_call("poll", queries.night_signature, self.night, description="poll")
        self.load_targets()  # servers added or renamed elsewhere reach the palette

    def on_db_poll(self, signature: tuple, _ctx: Any) -> None:
        if self.signature is None or signature == self.signature:
            return
        latest = signature[0]
        if self.follow_latest and latest != self.night:
            self.notify(f"New night {latest}: showing it", timeout=5)
            self.load(latest)
        else:
            self.load(self.night)

    def on_db_error_poll(self, exc: BaseException, _ctx: Any) -> None:
        pass  # the banner says it; the next poll retries

    def _reload_customer(self, customer: str) -> None:
        if self.night is None:
            return
        self.db_call(f"customer-{customer}", load_customer_rows, self.night, customer,
                     context=customer, exclusive=True)

    def on_db_customer_rows(self, fresh: CustomerRows, _ctx: Any) -> None:
        self.replace_rows(fresh)

    def handler_tag(self, tag: str) -> str:  # per-customer/per-server workers, one handler
        if tag.startswith("customer-"):
            return "customer_rows"
        if tag.startswith("reparse-"):
            return "reparse"
        return tag

    def replace_rows(self, fresh: CustomerRows) -> None:
        """Rows changed in place (ack, note, snooze, re-parse, exception): update grid and
        summary."""
        by_id = {r.server_id: r for r in fresh.rows}
        for sid in by_id:
            remark = fresh.remarks.get(sid)
            if remark is None:
                self.remarks.pop(sid, None)
            else:
                self.remarks[sid] = remark
        for i, old in enumerate(self.all_rows):
            new = by_id.get(old.server_id)
            if new is not None:
                self.all_rows[i] = new
                self._hay[new.server_id] = haystack(new)
                self.grid.update_row(new.server_id, new)
        self._counts_dirty = True
        self._sorted = None  # re-sorted on the next sort/filter; rows stay where they are
        self._summary()

    # -- view: sort + filter -----------------------------------------------------------------
    def apply_view(self, keep_key: int | None = None, *, resort: bool = True) -> None:
        """Sort (when the rows or the order changed) and filter, then show.

        Filtering a keystroke must stay well under 100 ms at 10,000 rows: the sorted list is
        kept, so a filter is one pass over it (or over the previous matches when the text only
        grew), and the status counts are only recomputed when the rows change.
        """
        if resort or self._sorted is None:
            self._sorted = sorted(self.all_rows, key=SORTS[self.sort_index].key)
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
        self.grid.set_rows(rows if rows is not self._sorted else list(rows), keep_key=keep_key)
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
        else:
            t.append("no results yet: run `acorntui fetch` and `acorntui ingest`, "
                     "or try `acorntui demo`")
        t.append(f"  sort: {SORTS[self.sort_index].name}")
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
            self._summary_cache = (queries.status_counts(self.all_rows),
                                   queries.custbak_outages(self.all_rows))
            self._counts_dirty = False
        counts, outages = self._summary_cache
        shown, total = self.grid.row_count, len(self.all_rows)
        parts: list[Text] = []
        for status, label in (("failed", "FAILED"), ("incomplete", "INCOMPLETE"),
                              ("fetch_failed", "FETCH FAILED"), ("no_data", "NO DATA"),
                              ("snoozed", "snoozed"), ("ok_with_exceptions", "OK*"),
                              ("ok", "OK")):
            n = counts.get(status, 0)
            if n or status in ("failed", "ok"):
                parts.append(Text(f"{label} {n}",
                                  style=status_style(self.app, status) if n else ""))
        parts.append(Text(f"· {total} servers" if shown == total
                          else f"· {shown} of {total} shown"))
        box = self.query_one("#summary", Static)
        # two spaces between counts when they fit, else one (80 columns)
        sep = "  " if sum(p.cell_len + 2 for p in parts) <= box.size.width - 2 else " "
        box.update(Text(sep).join(parts))
        box = self.query_one("#outages", Static)
        if outages:
            big = outages[0]
            o = Text("⚠ ", style="bold")
            o.append_text(safe_text(
                f"{len(big.servers)} servers on {big.custbak} are bad this night: many servers "
                "on the same custbak, a TSR3 problem"))
            rest = ", ".join(f"{x.custbak} {len(x.servers)}" for x in outages[1:4])
            if rest:
                o.append_text(safe_text(f"  (also {rest})"))
            box.update(o)
            box.display = True
        else:
            box.display = False

    # -- rows ------------------------------------------------------------------------------------
    def render_row(self, r: NightlyRow) -> list[Text]:
        app = self.app
        if r.server_id in self.busy:
            status = Text("re-parsing…", style="italic")
        else:
            status = status_text(app, r.status, r.reason)
            if r.snoozed and not r.is_good:
                status.stylize("dim")
        flags = ("A" if r.ack_note else "") + ("Z" if r.snoozed else "") + (
            "" if r.registered else "U")
        errors = "" if not r.error_count else f"{r.new_errors}/{r.recurring_errors}"
        age = r.last_good_age_days
        return [
            safe_text(r.customer),
            safe_text(r.server),
            status,
            Text(flags, style="bold"),
            Text("" if r.code is None else str(r.code)),
            safe_text(r.jargon),
            Text(errors, style="bold" if r.new_errors else ""),
            Text(human_bytes(r.total_size) if r.total_size is not None else "—"),
            Text(human_bytes(r.sent_bytes) if r.sent_bytes is not None else "—"),
            Text("" if r.is_good else ("never" if age is None else f"{age}d")),
            Text(str(r.bad_streak) if r.bad_streak else ""),
            safe_text(r.tsr),
            safe_text(r.custbak),
            safe_text(self.remark_line(r)),
        ]

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
        self.app.push_screen(CodeReferenceScreen(code=r.code if r else None))

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
        self.load(self.night, direction)

    def action_sort(self) -> None:
        self.sort_index = (self.sort_index + 1) % len(SORTS)
        self.apply_view()
        self.notify(f"Sorted by {SORTS[self.sort_index].name}", timeout=2)

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

    def action_help(self) -> None:
        from acorntui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen("Nightly grid", self.HELP, self))

    # ack / snooze / re-parse ---------------------------------------------------------------
    def action_ack(self) -> None:
        r = self.current
        if r is None or not self.allowed("ack"):
            return
        if r.result_id is None:
            self.notify("No result this night to acknowledge (NO DATA).", severity="warning")
            return
        from acorntui.screens.forms import AckForm

        def done(note: str | None) -> None:
            if note:
                self.db_call("acted", _ack, self._user(), r.result_id, note, r.night, r.customer,
                             context=f"{r.customer}/{r.server} acknowledged")

        self.app.push_screen(AckForm(f"{r.customer}/{r.server}, night {r.night}: {r.label}",
                                     r.ack_note), done)

    def action_note(self) -> None:
        r = self.current
        if r is None or not self.allowed("note"):
            return
        from acorntui.screens.forms import NoteForm

        def done(text: str | None) -> None:
            if text:
                self.db_call("noted", _note, self._user(), r.server_id, text, r.result_id,
                             r.night, r.customer,
                             context=f"Note added to {r.customer}/{r.server} (enter: history)")

        self.app.push_screen(NoteForm(f"{r.customer}/{r.server}, night {r.night}: {r.label}"),
                             done)

    def action_snooze(self) -> None:
        r = self.current
        if r is None or not self.allowed("snooze"):
            return
        from acorntui.screens.forms import SnoozeForm, SnoozeResult

        def done(res: SnoozeResult | None) -> None:
            if res is not None:
                what = (f"snoozed until {res.until}" if res.until else "snooze lifted")
                self.db_call("acted", _snooze, self._user(), r.server_id, res.until, res.reason,
                             r.night, r.customer, context=f"{r.customer}/{r.server} {what}")

        self.app.push_screen(SnoozeForm(f"{r.customer}/{r.server}", r.snoozed_until,
                                        r.snooze_reason), done)

    def on_db_acted(self, fresh: CustomerRows, what: str) -> None:
        self.replace_rows(fresh)
        self.notify(what, markup=False)

    on_db_noted = on_db_acted  # a note: the same reload and message

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
        self.db_call(f"reparse-{r.server_id}", _reparse, getattr(self.app, "cfg", None),
                     self._user(), r.customer, r.server, self.night, context=r,
                     description=f"re-parse {r.customer}/{r.server}")

    def on_db_reparse(self, value: tuple[Any, CustomerRows], r: NightlyRow) -> None:
        outcome, fresh = value
        self.busy.discard(r.server_id)
        self.replace_rows(fresh)
        new = next((x for x in fresh.rows if x.server_id == r.server_id), None)
        self.grid.update_row(r.server_id, new or r)
        self.notify(f"{r.customer}/{r.server} re-parsed: {_describe(outcome, new)}",
                    markup=False, timeout=6)

    def on_db_error_reparse(self, exc: BaseException, r: NightlyRow) -> None:
        self.busy.discard(r.server_id)
        self.grid.update_row(r.server_id, r)
        self.notify(f"Re-parse of {r.customer}/{r.server} failed: {exc}", title="Re-parse",
                    severity="error", timeout=10, markup=False)


def _short_role(user: Any) -> str:
    role = getattr(user, "role", "")
    if role == "tsr3":
        return "TSR3"
    if role == "tsr":
        return f"TSR{getattr(user, 'level', '')}"
    return "CSR" if role == "csr" else "read-only"


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


def _reparse(cfg, user, customer: str, server: str, night: dt.date
             ) -> tuple[Any, CustomerRows]:
    try:
        from acorntui.jobs.reparse import reparse_server
    except ImportError as exc:
        raise RuntimeError(f"re-parse is not available in this build: {exc}") from None
    outcome = reparse_server(cfg, customer, server, night=night, user=user)
    return outcome, load_customer_rows(night, customer)
