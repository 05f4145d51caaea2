"""The reports: nightly, history, failures (one night, or N nights running) and renderers.

No Textual. Each report is a query (``build_report``) that gives a :class:`Report`, and
renderers that turn it into text (an aligned table for terminals), CSV and JSON (for other
tools) or HTML (one self-contained file with inline styles, readable in a browser and in a
mail client). File names and notes are untrusted: text and CSV make control characters
visible, HTML escapes every value.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from acorntui.core.status import (
    FAILED,
    FETCH_FAILED,
    GOOD_STATUSES,
    INCOMPLETE,
    OK,
    OK_WITH_EXCEPTIONS,
)
from acorntui.core.textsafe import _CONTROL, json_text
from acorntui.reports import templating
from acorntui.reports.columns import (
    Column,
    csv_head,
    csv_records,
    data_col,
    json_records,
    table_cols,
)
from acorntui.reports.fixes import CUSTBAK_OUTAGE_FIX, Fix, fix_for, meaning_label
from acorntui.services import queries
from acorntui.services.queries import (
    NO_DATA,
    CustbakOutage,
    HistoryStats,
    NightlyRow,
    OpenFailure,
    needs_attention,
    status_label,
)

REPORT_KINDS = ("nightly", "history", "failures")
FORMATS = ("text", "csv", "json", "html")
HISTORY_MATRIX_NIGHTS = 14  # default width of the history report's server x night matrix
MAX_FILES = 100  # failing files listed per server (the total is always given)
TEXT_WIDTH = 78  # the text part of a mail
OUTAGE_MIN_SERVERS = 3  # servers on one custbak bad the same night that make an outage


def plural(n: int, word: str, many: str = "") -> str:
    """``1 server``, ``2 servers``."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def _needs(n: int) -> str:
    """The verb after a count: ``1 needs``, ``2 need``."""
    return "needs" if n == 1 else "need"


NO_RESULT_HELP = ("No result was recorded for this night: check that the server's stats.out was "
                  "uploaded to the report server and that `acorntui fetch` and `ingest` ran.")
FETCH_FAILED_HELP = ("Our own pull of the log from the report server failed; this says nothing "
                     "about the customer's backup. Check `acorntui fetch` and the report server, "
                     "then re-parse.")


class ReportError(Exception):
    """The report cannot be built (no results yet, unknown server...)."""


@dataclass
class FailureEntry:
    """A server in the failures report: what failed, what to do, which files are open."""

    row: NightlyRow  # the server on the report night
    resolution: str
    files: list[OpenFailure] = field(default_factory=list)
    open_files: int = 0  # file errors not covered by an exception (files holds the first ones)
    nights: list[str] = field(default_factory=list)  # status per night of the window
    fix: Fix | None = None  # the "What to do" entry this server points to

    @property
    def server_id(self) -> int:
        return self.row.server_id


@dataclass
class HistoryEntry:
    server_id: int
    customer: str
    server: str
    stats: HistoryStats
    matrix: list[str] = field(default_factory=list)  # status per matrix night
    snoozed_until: dt.date | None = None


@dataclass
class Report:
    kind: str  # nightly | history | failures
    night: dt.date
    days: int = 1  # failures: nights in the window; history: matrix nights
    customer: str | None = None
    scope: str = ""  # e.g. "for Jane Smith" when routed to one rep
    rows: list[NightlyRow] = field(default_factory=list)  # every server looked at
    entries: list[Any] = field(default_factory=list)  # what the report lists
    nights: list[dt.date] = field(default_factory=list)  # window / matrix nights, oldest first

    def only(self, server_ids: set[int], scope: str = "") -> Report:
        """The same report restricted to some servers (per-rep mail)."""
        return replace(
            self, scope=scope,
            rows=[r for r in self.rows if r.server_id in server_ids],
            entries=[e for e in self.entries if e.server_id in server_ids],
        )

    @property
    def total_servers(self) -> int:
        return len(self.rows) if self.kind != "history" else len(self.entries)

    @property
    def counts(self) -> dict[str, int]:
        """Servers by status on the night; bad but snoozed ones count as ``snoozed``."""
        c = {k: 0 for k in (OK, OK_WITH_EXCEPTIONS, FAILED, INCOMPLETE, FETCH_FAILED, NO_DATA,
                            "snoozed")}
        if self.kind == "history":
            for e in self.entries:
                st = e.matrix[-1] if e.matrix else NO_DATA
                if (st not in GOOD_STATUSES and e.snoozed_until is not None
                        and e.snoozed_until >= self.night):
                    st = "snoozed"
                c[st] = c.get(st, 0) + 1
            return c
        c.update(queries.status_counts(self.rows))
        return c

    @property
    def window(self) -> str:
        if self.kind == "failures" and self.days > 1:
            return f"{self.nights[0].isoformat()} to {self.night.isoformat()}"
        return self.night.isoformat()

    @property
    def _who(self) -> str:
        who = f" ({self.customer})" if self.customer else ""
        return who + (f" {self.scope}" if self.scope else "")

    @property
    def _bad_now(self) -> int:
        """Servers that need attention on the night: the failure report's figure, by
        :func:`queries.needs_attention` (bad or no result, and not snoozed)."""
        if self.kind == "history":
            return sum(1 for e in self.entries if needs_attention(
                e.matrix[-1] if e.matrix else NO_DATA, e.snoozed_until, self.night))
        return sum(1 for r in self.rows if r.counts_as_failing)

    @property
    def fixes(self) -> list[tuple[Fix, int]]:
        """Each distinct fix once (with how many listed servers point to it), most first."""
        seen: dict[str, tuple[Fix, int]] = {}
        for e in self.entries:
            fx = getattr(e, "fix", None)
            if fx is not None:
                seen[fx.key] = (fx, seen.get(fx.key, (fx, 0))[1] + 1)
        return sorted(seen.values(), key=lambda p: -p[1])

    @property
    def anomalies(self) -> list[NightlyRow]:
        """Results that say ok but copied far less than usual, not acknowledged (an
        acknowledgement clears the anomaly) and not snoozed: the daily mail's "Looks
        wrong" (the three-day mail is about failures only)."""
        if self.kind == "history" or self.days > 1:
            return []
        return [r for r in self.rows if r.anomaly and r.is_good and not r.snoozed]

    @property
    def outages(self) -> list[CustbakOutage]:
        """Custbak outages among the servers the report lists (failures reports)."""
        if self.kind != "failures":
            return []
        return queries.custbak_outages([e.row for e in self.entries], OUTAGE_MIN_SERVERS)

    @property
    def title(self) -> str:
        who = self._who
        if self.kind == "nightly":
            return f"Nightly backup report, night {self.night}{who}"
        if self.kind == "history":
            return f"Backup history up to {self.night}{who}"
        if self.days > 1:
            return f"{self.days}-night failure report, {self.window}{who}"
        return f"Backup failure report, night {self.night}{who}"

    @property
    def subject(self) -> str:
        """Mail subject: the night(s) and the counts."""
        c = self.counts
        who = self._who
        n = self.total_servers
        of = f"of {plural(n, 'server')}"
        if self.kind == "failures" and self.days > 1:
            return (f"Backups {self.window}{who}: {len(self.entries)} {of} "
                    f"not ok {self.days} nights running")
        if self.kind == "history":
            bad = self._bad_now
            return f"Backup history to {self.night}{who}: {bad} {of} {_needs(bad)} attention"
        parts = [f"{c[FAILED]} failed", f"{c[INCOMPLETE] + c[NO_DATA]} incomplete"]
        if c[FETCH_FAILED]:
            parts.append(f"{c[FETCH_FAILED]} not fetched")
        if self.kind == "nightly":
            parts.insert(0, f"{c[OK] + c[OK_WITH_EXCEPTIONS]} ok")
        return f"Backups {self.night}{who}: {', '.join(parts)} {of}"

    def summary(self) -> str:
        c = self.counts
        if self.kind == "history":
            bad = self._bad_now
            return (f"{plural(self.total_servers, 'server')}; {bad} {_needs(bad)} attention "
                    f"on {self.night} (bad or no result, and not snoozed).")
        parts = [f"{c[OK]} ok", f"{c[OK_WITH_EXCEPTIONS]} ok with exceptions",
                 f"{c[FAILED]} failed", f"{c[INCOMPLETE]} incomplete"]
        if c[NO_DATA]:
            parts.append(f"{c[NO_DATA]} with no result")
        if c[FETCH_FAILED]:
            parts.append(f"{c[FETCH_FAILED]} not fetched")
        if c["snoozed"]:
            parts.append(f"{c['snoozed']} bad but snoozed")
        line = (f"{plural(self.total_servers, 'server')} on {self.night}: " + ", ".join(parts)
                + ".")
        if self.kind == "failures" and self.days > 1:
            line += (f"\n{plural(len(self.entries), 'server')} not ok on any of the "
                     f"{self.days} nights {self.window} (a night without a result counts as "
                     f"not ok; nights before a server's first result or registration do not "
                     f"count).")
        elif self.kind == "failures":
            bad = self._bad_now
            line += f"\n{bad} {_needs(bad)} attention (bad or no result, and not snoozed)."
            wrong = self.anomalies
            if wrong:
                line += (f"\n{plural(len(wrong), 'server')} reported ok but "
                         f"{'looks' if len(wrong) == 1 else 'look'} wrong (see Looks wrong).")
        return line


# ---- building ------------------------------------------------------------------------------


def parse_server_label(label: str) -> tuple[str, str]:
    customer, sep, server = label.partition("/")
    if not sep or not customer or not server:
        raise ReportError(f"{label!r} is not CUSTOMER/SERVER")
    return customer, server


def build_report(kind: str, night: dt.date | None = None, *, days: int | None = None,
                 customer: str | None = None, server: str | None = None,
                 max_files: int = MAX_FILES) -> Report:
    """Run a report's queries. ``night`` defaults to the latest night with results."""
    if kind not in REPORT_KINDS:
        raise ReportError(f"unknown report {kind!r}; choose one of {', '.join(REPORT_KINDS)}")
    if night is None:
        night = queries.latest_night()
        if night is None:
            raise ReportError("there are no results in the database yet; run `acorntui ingest`")
    if days is not None and days < 1:
        raise ReportError("--days must be 1 or more")
    if kind == "nightly":
        return nightly_report(night, customer=customer)
    if kind == "history":
        return history_report(night, days=days or HISTORY_MATRIX_NIGHTS, customer=customer,
                              server=server)
    if days and days > 1:
        return multi_night_failures_report(night, days, customer=customer, max_files=max_files)
    return failures_report(night, customer=customer, max_files=max_files)


def nightly_report(night: dt.date, *, customer: str | None = None) -> Report:
    rows = queries.nightly_rows(night, customer=customer)
    return Report("nightly", night, customer=customer, rows=rows, entries=rows, nights=[night])


def _failure_entries(rows: list[NightlyRow], max_files: int) -> list[FailureEntry]:
    texts = queries.code_texts()
    opened = queries.open_failures([r.result_id for r in rows if r.result_id and r.error_count],
                                   limit=max_files)
    out = []
    for r in rows:
        jargon, translation, resolution = (texts.get(r.code, ("", "", ""))
                                           if r.code is not None else ("", "", ""))
        if r.status == NO_DATA:
            what = NO_RESULT_HELP
        elif r.status == FETCH_FAILED:
            what = FETCH_FAILED_HELP
        else:
            what = resolution
        fx = fix_for(r.status, r.reason, r.code, jargon or r.jargon, translation, resolution)
        files, n = opened.get(r.result_id, ([], 0)) if r.result_id else ([], 0)
        # file errors past the parser's cap are counted in error_count but not stored, and
        # never excepted: they are open too ("... and N more")
        n = max(n, (r.error_count or 0) - (r.excepted_count or 0))
        out.append(FailureEntry(r, what, files, n, [r.status], fx))
    return out


def failures_report(night: dt.date, *, customer: str | None = None,
                    max_files: int = MAX_FILES) -> Report:
    """Servers not ok on the night (no result counts as not ok); snoozed ones left out."""
    rows = queries.nightly_rows(night, customer=customer)
    failing = [r for r in rows if r.counts_as_failing]
    return Report("failures", night, 1, customer=customer, rows=rows,
                  entries=_failure_entries(failing, max_files), nights=[night])


def multi_night_failures_report(night: dt.date, days: int, *, customer: str | None = None,
                                max_files: int = MAX_FILES) -> Report:
    """Servers not ok on each of the ``days`` nights up to ``night``; a night without a
    result counts as not ok. ``days=3`` is the three-day report."""
    first = night - dt.timedelta(days=days - 1)
    nights = [first + dt.timedelta(days=i) for i in range(days)]
    rows = queries.nightly_rows(night, customer=customer)
    good = queries.good_server_ids(first, night)
    failing = [r for r in rows if r.server_id not in good and not r.snoozed]
    # nights before a server's first result or registration never count against it: a server
    # that started inside the window has not been bad for all of it
    starts = queries.server_starts([r.server_id for r in failing])
    failing = [r for r in failing if starts.get(r.server_id, first) <= first]
    entries = _failure_entries(failing, max_files)
    matrix = queries.status_matrix(first, night, [e.server_id for e in entries])
    for e in entries:
        by_night = matrix.get(e.server_id, {})
        e.nights = [by_night.get(n, NO_DATA) for n in nights]
    return Report("failures", night, days, customer=customer, rows=rows, entries=entries,
                  nights=nights)


def history_report(night: dt.date, *, days: int = HISTORY_MATRIX_NIGHTS,
                   customer: str | None = None, server: str | None = None) -> Report:
    """Per server since its first result, plus the server x night matrix of the last nights."""
    srv_name = None
    if server:
        cust, srv_name = parse_server_label(server)
        if customer and customer != cust:
            raise ReportError(f"--server {server} is not a server of customer {customer}")
        customer = cust
    servers = list(queries.active_servers_query(customer=customer, server=srv_name,
                                                include_inactive=bool(server)))
    if server and not servers:
        raise ReportError(f"no server {server}")
    ids = [s["id"] for s in servers]
    # one statement over the whole table is cheaper than thousands of index ranges
    stats = queries.history_stats(night, ids if (customer or server) else None)
    first = night - dt.timedelta(days=days - 1)
    nights = [first + dt.timedelta(days=i) for i in range(days)]
    matrix = queries.status_matrix(first, night, ids if (customer or server) else None)
    entries = []
    for s in servers:
        st = stats.get(s["id"]) or HistoryStats(s["id"])
        by_night = matrix.get(s["id"], {})
        entries.append(HistoryEntry(s["id"], s["cname"], s["name"], st,
                                    [by_night.get(n, NO_DATA) for n in nights],
                                    s["snoozed_until"]))
    entries.sort(key=lambda e: (-e.stats.current_bad_streak, e.customer, e.server))
    return Report("history", night, days, customer=customer, entries=entries, nights=nights)


# ---- untrusted text ------------------------------------------------------------------------

# the same set the console neutralises: C0/C1 controls, DEL, bidi, zero-width, tags...
_UNSAFE = _CONTROL


def safe(value: Any) -> str:
    """A value as one printable line: controls become rsync-style ``\\#ooo`` escapes."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)

    text = text.replace("\t", "\\#011").replace("\n", "\\#012")

    def esc(m: re.Match[str]) -> str:
        o = ord(m.group())
        if o < 0x100:
            return f"\\#{o:03o}"
        return f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}"

    return _UNSAFE.sub(esc, text)


def _csv_cell(value: Any) -> Any:
    """Neutralise spreadsheet formulas in text cells (a file name could start with '=')."""
    if isinstance(value, str):
        value = safe(value)
        if value[:1] in ("=", "+", "-", "@"):
            return "'" + value
    return value


def _date(d: dt.date | None) -> str:
    return d.isoformat() if d else "-"


def _rate(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


REASON_WORDS = {"missing": "log missing", "stale": "log stale", "incomplete": "cut off",
                "future": "clock ahead"}


def _label(status: str, reason: str = "") -> str:
    if status == INCOMPLETE and reason:
        return f"INCOMPLETE ({REASON_WORDS.get(reason, reason)})"
    return status_label(status, reason) if status != NO_DATA else "NO RESULT"


def _snooze_note(r: NightlyRow) -> str:
    if r.snoozed:
        return f"snoozed until {r.snoozed_until}: {r.snooze_reason}".rstrip(": ")
    return ""


def _note(r: NightlyRow) -> str:
    parts = []
    if r.ack_note:
        parts.append(f"ack {r.ack_by}: {r.ack_note}" if r.ack_by else f"ack: {r.ack_note}")
    snooze = _snooze_note(r)
    if snooze:
        parts.append(snooze)
    return "; ".join(parts)


# ---- one table definition per report: text, CSV, JSON and HTML ----------------------------


def _iso(d: dt.date | None) -> str:
    return d.isoformat() if d else ""


def _code_text(r: NightlyRow) -> str:
    return "" if r.code is None else str(r.code)


# the nightly report's table; the failures report's rows start with the same columns
NIGHTLY_COLUMNS: tuple[Column, ...] = (
    Column("night", value=lambda r: r.night, csv_value=lambda r: r.night.isoformat(),
           json=False),
    data_col("customer", title="Customer", kind="name"),
    data_col("server", title="Server", kind="server"),
    data_col("status", title="Status", text=lambda r: _label(r.status, r.reason),
             kind="status", status=lambda r: r.shown_status),
    data_col("reason"),
    data_col("code", title="Code", text=_code_text, align=">"),
    data_col("jargon", title="Meaning", cap=40,
             text=lambda r: meaning_label(r.status, r.reason, r.jargon)),
    data_col("file_errors", "error_count"),
    data_col("excepted", "excepted_count"),
    data_col("new_errors", title="New", align=">"),
    data_col("recurring_errors", title="Recurring", align=">"),
    data_col("last_good", title="Last good", text=lambda r: _date(r.last_good),
             csv_value=lambda r: _iso(r.last_good), kind="date"),
    data_col("bad_nights", "bad_streak", title="Bad nights", align=">"),
    data_col("ack_note", title="Note", text=lambda r: _note(r), cap=50),
    data_col("ack_by"),
    data_col("snoozed", csv=False),
    data_col("snoozed_until", csv_value=lambda r: _iso(r.snoozed_until)),
    data_col("snooze_reason"),
    data_col("tsr"),
    data_col("custbak"),
    data_col("counts_as_failing", csv=False),
    data_col("anomaly", csv=False),
)


def _files_data(e: FailureEntry) -> list[dict[str, Any]]:
    return [{"path": f.path, "message": f.message, "line": f.line} for f in e.files]


def _nth(attr: str, i: int, then: Callable[[Any], Any] = lambda v: v) -> Callable[[Any], Any]:
    """The ``i``-th item of an entry's list attribute (a night's status)."""
    return lambda e: then(getattr(e, attr)[i])


def failure_columns(rep: Report) -> list[Column]:
    """The failures report's table (one night or N nights running): the nightly columns of
    the server's row on the report night, its status per night, the fix and the open files.
    The mails lay the same entries out per server (see :func:`_failures_text`)."""
    cols = [c.on(lambda e: e.row) for c in NIGHTLY_COLUMNS]
    isos = [n.isoformat() for n in rep.nights]
    cols.append(Column("nights", value=lambda e: dict(zip(isos, e.nights, strict=True)),
                       csv=False))
    if rep.days > 1:
        cols += [Column(f"status_{iso}", title=n.strftime("%m-%d"), value=_nth("nights", i),
                        text=_nth("nights", i, _label), status=_nth("nights", i),
                        kind="status", json=False)
                 for i, (iso, n) in enumerate(zip(isos, rep.nights, strict=True))]
    cols += [data_col("resolution"), data_col("open_files"),
             Column("files", value=_files_data,
                    csv_value=lambda e: "\n".join(f.path for f in e.files))]
    return cols


def _stat(key: str, attr: str, title: str = "", **kw: Any) -> Column:
    return Column(key, title, value=lambda e: getattr(e.stats, attr), align=">", **kw)


HISTORY_COLUMNS: tuple[Column, ...] = (
    data_col("customer", title="Customer", kind="name"),
    data_col("server", title="Server", kind="server"),
    Column("first_night", "First night", value=lambda e: e.stats.first_night,
           text=lambda e: _date(e.stats.first_night),
           csv_value=lambda e: _iso(e.stats.first_night), kind="date"),
    _stat("ok", "ok", "OK"),
    _stat("ok_with_exceptions", "ok_with_exceptions", "OK w/ exc"),
    _stat("failed", "failed", "Failed"),
    _stat("incomplete", "incomplete", "Incomplete"),
    _stat("fetch_failed", "fetch_failed", "Fetch failed"),
    _stat("no_result", "missing", "No result"),
    _stat("nights", "nights"),
    _stat("success_rate", "success_rate", "Success", text=lambda e: _rate(e.stats.success_rate),
          csv_value=lambda e: ("" if e.stats.success_rate is None
                               else round(e.stats.success_rate, 4))),
    _stat("longest_bad_streak", "longest_bad_streak", "Longest bad"),
    _stat("current_bad_streak", "current_bad_streak", "Current bad"),
    Column("last_good", "Last good", value=lambda e: e.stats.last_good,
           text=lambda e: _date(e.stats.last_good), csv_value=lambda e: _iso(e.stats.last_good),
           kind="date"),
)


def history_columns(rep: Report) -> list[Column]:
    """The history report: per server since its first result, then its status on each night
    of the matrix (JSON: ``matrix``, a list; CSV: one column per night)."""
    cols = list(HISTORY_COLUMNS)
    cols.append(Column("matrix", value=lambda e: e.matrix, csv=False))
    cols += [Column(n.isoformat(), value=_nth("matrix", i), json=False)
             for i, n in enumerate(rep.nights)]
    return cols


def report_columns(rep: Report) -> list[Column]:
    if rep.kind == "nightly":
        return list(NIGHTLY_COLUMNS)
    if rep.kind == "failures":
        return failure_columns(rep)
    return history_columns(rep)


@dataclass
class _Table:
    """A table as people see it (text and HTML): headings, shown cells, status colours."""

    title: str
    cols: list[Column]
    rows: list[list[str]] = field(default_factory=list)
    # per row: the status of each status column (col index -> status) for colours
    statuses: list[dict[int, str]] = field(default_factory=list)
    matrix: bool = False  # compact cells (history matrix)


_MATRIX_CHAR = {OK: ".", OK_WITH_EXCEPTIONS: "e", FAILED: "F", INCOMPLETE: "I",
                FETCH_FAILED: "X", NO_DATA: "-"}
MATRIX_LEGEND = ". ok  e ok with exceptions  F failed  I incomplete  X fetch failed  - no result"


def _table(title: str, cols: list[Column], entries: list[Any]) -> _Table:
    shown = table_cols(cols)
    st_cols = [(i, c.status) for i, c in enumerate(shown) if c.status is not None]
    t = _Table(title, shown)
    for e in entries:
        t.rows.append([c.shown(e, safe) for c in shown])
        t.statuses.append({i: fn(e) for i, fn in st_cols})
    return t


def _tables(rep: Report) -> list[_Table]:
    if rep.kind != "history":
        return [_table("", report_columns(rep), rep.entries)]
    t = _table("Since each server's first result", list(HISTORY_COLUMNS), rep.entries)
    m = _Table(f"Last {len(rep.nights)} nights ({rep.nights[0]} to {rep.night})",
               [Column("customer", "Customer", kind="name"),
                Column("server", "Server", kind="server")]
               + [Column("", n.strftime("%d")) for n in rep.nights], matrix=True)
    for e in rep.entries:
        first = e.stats.first_night
        # nights before the server's first result are blank, not "no result"
        before = [first is None or n < first for n in rep.nights]
        m.rows.append([safe(e.customer), safe(e.server)] + [
            "" if b else _MATRIX_CHAR.get(s, "?") for s, b in zip(e.matrix, before, strict=True)])
        m.statuses.append({2 + i: s for i, s in enumerate(e.matrix) if not before[i]})
    return [t, m]


# ---- renderers ----------------------------------------------------------------------------


def render(rep: Report, fmt: str) -> str:
    if fmt == "text":
        return render_text(rep)
    if fmt == "csv":
        return render_csv(rep)
    if fmt == "json":
        return render_json(rep)
    if fmt == "html":
        return render_html(rep)
    raise ReportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _fit(value: str, cap: int) -> str:
    value = safe(value)
    return value if not cap or len(value) <= cap else value[:cap - 1] + "…"


def _path_pieces(word: str, room: int) -> list[str]:
    """A word too long for a line, cut after each ``/`` or ``\\``; a piece still longer than
    ``room`` (a name without separators) after each ``-``, ``_`` or ``.``; only a run with
    none of these that is longer than a whole line is ever cut elsewhere."""
    out: list[str] = []
    for p in templating.path_pieces(word):
        if len(p) <= room:
            out.append(p)
            continue
        for q in re.findall(r"[^-_.]*[-_.]+|[^-_.]+$", p) or [p]:
            while len(q) > room:
                out.append(q[:room])
                q = q[room:]
            out.append(q)
    return out


def _wrap(text: str, indent: str, width: int = TEXT_WIDTH, first: str | None = None
          ) -> list[str]:
    """Wrap at ``width`` without splitting words; a word longer than a line (a long path,
    a long name) is broken after a ``/`` or ``\\``, its rest on the next lines under
    ``indent``. Every line is at most ``width`` characters."""
    lead = indent if first is None else first
    room = max(width - max(len(indent), len(lead)), 10)
    lines: list[str] = []
    cur, filled = lead, False
    for word in safe(text).split():
        pieces = [word] if len(word) <= room else _path_pieces(word, room)
        for i, p in enumerate(pieces):
            sep = " " if filled and i == 0 else ""
            if filled and len(cur) + len(sep) + len(p) > width:
                lines.append(cur.rstrip())
                cur, sep = indent, ""
            cur += sep + p
            filled = True
    lines.append(cur.rstrip())
    return lines


def file_message(f: OpenFailure) -> str:
    """rsync's message without the path (rows show the path once, on its own)."""
    msg = f.message or ""
    if f.path:
        msg = msg.replace(f'"{f.path}"', "").replace(f.path, "")
    msg = re.sub(r"\s+:", ":", re.sub(r"\s{2,}", " ", msg)).strip()
    return msg


def server_facts(e: FailureEntry) -> list[str]:
    """A listed server's own facts, one per item: TSR, custbak, last good, bad nights."""
    r = e.row
    facts = [f"TSR {r.tsr or '(none)'}", f"custbak {r.custbak or '(none)'}",
             f"last good {_date(r.last_good)}" if r.last_good else "never good",
             plural(r.bad_streak, "bad night")]
    return facts


LOOKS_WRONG_HELP = ("Reported ok, but copied far less than usual: check that the backup still "
                    "covers the data (a drive letter that moved, a share that was not "
                    "mounted). Acknowledging the night clears it.")


def _looks_wrong_text(rep: Report) -> list[str]:
    """The daily mail's "Looks wrong" section: good results with an anomaly."""
    wrong = rep.anomalies
    if not wrong:
        return []
    out = ["Looks wrong", "-----------"] + _wrap(LOOKS_WRONG_HELP, "") + [""]
    for r in wrong:
        out += _wrap(f"{r.customer}/{r.server}", "  ", first="")
        out += _wrap(f"{_label(r.status, r.reason)}?: {r.anomaly}", "    ", first="  ")
        out += _wrap(f"TSR {r.tsr or '(none)'}; custbak {r.custbak or '(none)'}", "    ",
                     first="  ")
        out.append("")
    return out


def _failures_text(rep: Report) -> str:
    """The failure mail's text part: every line at most 78 characters (TEXT_WIDTH); long
    names and paths are broken after a ``/`` (:func:`_wrap`), never cut."""
    out = _wrap(rep.title, "  ", first="")
    out.append("=" * max(len(ln) for ln in out))
    for line in rep.summary().split("\n"):
        out += _wrap(line, "")
    out.append("")
    for o in rep.outages:
        out += _wrap(f"CUSTBAK OUTAGE: {o.custbak}, {plural(len(o.servers), 'server')} bad on "
                     f"{rep.night}: {', '.join(o.servers)}.", "  ", first="")
    if rep.outages:
        out += _wrap(CUSTBAK_OUTAGE_FIX, "  ", first="")
        out.append("")
    out += ["Servers", "-------"]
    if not rep.entries:
        out += ["(none)", ""]
    for e in rep.entries:
        r = e.row
        out += _wrap(f"{r.customer}/{r.server}", "  ", first="")
        if rep.days > 1:
            status = ", ".join(f"{n.strftime('%m-%d')} {_label(st)}"
                               for n, st in zip(rep.nights, e.nights, strict=True))
        else:
            status = _label(r.status, r.reason)
        code = "" if r.code is None or r.status == FETCH_FAILED else f", code {r.code}"
        fix = f"; what to do: [{e.fix.key}]" if e.fix else ""
        out += _wrap(f"{status}{code}{fix}", "    ", first="  ")
        out += _wrap("; ".join(server_facts(e)), "    ", first="  ")
        if e.open_files:
            out.append(f"  Failing files ({e.open_files}):")
            for f in e.files:
                msg = file_message(f)
                out += _wrap(f.path + (f" -- {msg}" if msg else ""), "      ", first="    ")
            if e.open_files > len(e.files):
                out.append(f"    ... and {e.open_files - len(e.files)} more")
        note = _note(r)
        if note:
            out += _wrap(f"Note: {note}", "    ", first="  ")
        out.append("")
    out += _looks_wrong_text(rep)
    if rep.fixes:
        out += ["What to do", "----------"]
        for fx, n in rep.fixes:
            out += _wrap(f"[{fx.key}] {fx.title} ({plural(n, 'server')})", "  ")
            if fx.meaning:
                out += _wrap(f"Meaning: {fx.meaning}", "    ", first="  ")
            if fx.todo:
                out += _wrap(f"Fix: {fx.todo}", "    ", first="  ")
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def render_text(rep: Report, width: int = 100) -> str:
    if rep.kind == "failures":
        return _failures_text(rep)
    title = safe(rep.title)
    out = [title, "=" * len(title), rep.summary(), ""]
    for t in _tables(rep):
        if t.title:
            out += [t.title, "-" * len(t.title)]
        if not t.rows:
            out += ["(none)", ""]
            continue
        cells = [[_fit(v, c.cap) for v, c in zip(row, t.cols, strict=True)] for row in t.rows]
        sep = " " if t.matrix else "  "
        heads = [c.title for c in t.cols]
        if t.matrix:  # one-character cells under two-digit day headers
            widths = [max(len(h), *(len(r[i]) for r in cells)) if i < 2 else 2
                      for i, h in enumerate(heads)]
        else:
            widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(heads)]
        fmts = [f"{{:{c.align}{n}}}" for c, n in zip(t.cols, widths, strict=True)]

        def line(vals: list[str], f: list[str] = fmts, s: str = sep) -> str:
            return s.join(x.format(v) for x, v in zip(f, vals, strict=True)).rstrip()

        out.append(line(heads))
        out.append(line(["-" * n for n in widths]))
        out.extend(line(row) for row in cells)
        if t.matrix:
            out.append(MATRIX_LEGEND)
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def render_csv(rep: Report) -> str:
    cols = report_columns(rep)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=csv_head(cols), lineterminator="\n")
    w.writeheader()
    for d in csv_records(cols, rep.entries):
        w.writerow({k: _csv_cell(v) for k, v in d.items()})
    return buf.getvalue()


def report_data(rep: Report) -> dict[str, Any]:
    """The report as plain data (what JSON gives): one record per entry, keyed by the
    report's columns."""
    data: dict[str, Any] = {"report": rep.kind, "night": rep.night, "days": rep.days,
                            "customer": rep.customer, "title": rep.title,
                            "subject": rep.subject, "servers_total": rep.total_servers,
                            "counts": rep.counts}
    if rep.kind != "nightly":
        data["nights"] = rep.nights
    data["servers"] = json_records(report_columns(rep), rep.entries)
    if rep.kind == "failures" and rep.days == 1:
        data["looks_wrong"] = [{"customer": r.customer, "server": r.server,
                                "anomaly": r.anomaly} for r in rep.anomalies]
    return data


def _json_default(o: Any) -> Any:
    if isinstance(o, dt.date):
        return o.isoformat()
    raise TypeError(f"cannot serialise {type(o).__name__}")


def dump_json(data: Any) -> str:
    """Every report's JSON goes through here. Names and notes are untrusted: bidi, C0 and C1
    characters leave as \\u escapes (:func:`acorntui.core.textsafe.json_text`)."""
    return json_text(data, indent=2, default=_json_default) + "\n"


def render_json(rep: Report) -> str:
    return dump_json(report_data(rep))


def _footer(rep: Report) -> str:
    return (f"acorntui report {rep.kind}, {rep.window}. A night without a result counts as "
            f"not ok; snoozed and inactive servers do not count as failing.")


def _failures_context(rep: Report) -> dict[str, Any]:
    fixes = rep.fixes
    index = {fx.key: i + 1 for i, (fx, _n) in enumerate(fixes)}
    servers = []
    for e in rep.entries:
        r = e.row
        if rep.days > 1:
            statuses = [{"night": n.strftime("%m-%d"), "status": st, "label": _label(st)}
                        for n, st in zip(rep.nights, e.nights, strict=True)]
        else:
            statuses = [{"night": "Status", "status": r.shown_status,
                         "label": _label(r.status, r.reason)}]
        servers.append({
            "customer": safe(r.customer), "server": safe(r.server), "statuses": statuses,
            "code": "" if r.code is None or r.status == FETCH_FAILED else str(r.code),
            "fix_key": e.fix.key if e.fix else "", "fix_index": index.get(
                e.fix.key if e.fix else "", 0),
            "last_good": r.last_good.isoformat() if r.last_good else "never",
            "bad_nights": r.bad_streak, "tsr": safe(r.tsr) or "(none)",
            "custbak": safe(r.custbak) or "(none)",
            "files": [{"path": f.path, "message": safe(file_message(f))} for f in e.files],
            "open_files": e.open_files, "more": max(e.open_files - len(e.files), 0),
            "note": safe(_note(r))})
    return {
        "night": rep.night.isoformat(),
        "night_heads": ([n.strftime("%m-%d") for n in rep.nights] if rep.days > 1
                        else ["Status"]),
        "outages": [{"custbak": safe(o.custbak), "count": plural(len(o.servers), "server"),
                     "servers": [safe(s) for s in o.servers]} for o in rep.outages],
        "outage_fix": CUSTBAK_OUTAGE_FIX,
        "servers": servers,
        "looks_wrong": [{"customer": safe(r.customer), "server": safe(r.server),
                         "status": "anomaly", "label": _label(r.status, r.reason) + "?",
                         "anomaly": safe(r.anomaly), "tsr": safe(r.tsr) or "(none)",
                         "custbak": safe(r.custbak) or "(none)"} for r in rep.anomalies],
        "looks_wrong_help": LOOKS_WRONG_HELP,
        "fixes": [{"key": fx.key, "title": safe(fx.title), "meaning": safe(fx.meaning),
                   "todo": safe(fx.todo), "count": plural(n, "server")} for fx, n in fixes],
    }


def _cell_class(c: Column, value: str, matrix: bool) -> str:
    return " ".join(x for x in (
        "num" if c.align == ">" else "",
        "date nowrap" if c.kind == "date" else "",
        "srv-name" if c.kind == "server" else "",
        "srv-status" if c.kind == "status" else "",
        "empty" if not value and not matrix else "") if x)


def _rows_html(rep: Report, t: _Table) -> str:
    """The table's body rows as HTML with the page's CSS already inlined.

    Building 10,000 rows through Jinja and then running css-inline over the whole page took
    seconds; the styles each kind of cell gets are the same on every row, so they are worked
    out once (:func:`templating.style_attr`, cached) and the rows are plain string work."""
    table_cls = "rows" if t.matrix else "rows cards"
    chain = (("table", table_cls), ("tbody", ""))
    tr = f'<tr class="srv"{templating.style_attr(*chain, ("tr", "srv"))}>'
    lbl_style = templating.style_attr(*chain, ("tr", "srv"), ("td", ""), ("span", "lbl"))
    st_attr: dict[str, str] = {}
    td_attr: dict[str, str] = {}

    def td(cls: str) -> str:
        got = td_attr.get(cls)
        if got is None:
            style = templating.style_attr(*chain, ("tr", "srv"), ("td", cls))
            got = td_attr[cls] = f'<td class="{cls}"{style}>' if cls else f"<td{style}>"
        return got

    tds = []
    for c in t.cols:
        label = "" if t.matrix or c.kind in ("name", "server") else c.title
        lbl = f'<span class="lbl"{lbl_style}>{_e(label)}: </span>' if label else ""
        # the cell's opening tag, for an empty and a filled value
        tds.append((td(_cell_class(c, "", t.matrix)), td(_cell_class(c, "x", t.matrix)), lbl))

    def st(status: str) -> str:
        got = st_attr.get(status)
        if got is None:
            cls = f"st st-{status}"
            got = st_attr[status] = (
                f'<span class="{cls}"'
                f'{templating.style_attr(*chain, ("tr", "srv"), ("td", ""), ("span", cls))}')
        return got

    out = []
    for row, statuses in zip(t.rows, t.statuses, strict=True):
        cells = [tr]
        for i, ((empty, filled, lbl), v) in enumerate(zip(tds, row, strict=True)):
            cells.append(filled if v else empty)
            cells.append(lbl)
            status = statuses.get(i, "")
            if status:
                title = (f"{rep.nights[i - 2]}: {_label(status)}" if t.matrix else "")
                cells.append(f'{st(status)} title="{_e(title)}">{_e(v)}</span></td>')
            else:
                cells.append(f"{_e(v)}</td>")
        cells.append("</tr>\n")
        out.append("".join(cells))
    return "".join(out)


def _e(value: str) -> str:
    return html.escape(value, quote=True)


def _tables_context(rep: Report) -> tuple[dict[str, Any], list[str]]:
    tables, bodies = [], []
    for i, t in enumerate(_tables(rep)):
        bodies.append(_rows_html(rep, t) if t.rows else "")
        tables.append({"title": t.title, "matrix": t.matrix, "rows": bool(t.rows),
                       "body": templating.rows_mark(i),
                       "cols": [{"title": c.title, "right": c.align == ">"} for c in t.cols],
                       "legend": [(s, ch, _label(s)) for s, ch in _MATRIX_CHAR.items()]
                       if t.matrix else []})
    return {"tables": tables}, bodies


def render_html(rep: Report) -> str:
    """One self-contained page, readable in a browser, a desktop mail client and a phone:
    Jinja2 templates with the CSS inlined (:mod:`acorntui.reports.templating`)."""
    ctx: dict[str, Any] = {"title": safe(rep.title), "summary": rep.summary().split("\n"),
                           "footer": _footer(rep)}
    if rep.kind == "failures":
        ctx.update(_failures_context(rep))
        return templating.render_page("failures.html", ctx)
    tables, bodies = _tables_context(rep)
    ctx.update(tables)
    return templating.render_page("table.html", ctx, bodies)


__all__ = [
    "FORMATS",
    "GOOD_STATUSES",
    "REPORT_KINDS",
    "FailureEntry",
    "HistoryEntry",
    "Report",
    "ReportError",
    "build_report",
    "failures_report",
    "history_report",
    "multi_night_failures_report",
    "nightly_report",
    "render",
    "render_csv",
    "render_html",
    "render_json",
    "render_text",
    "report_data",
    "safe",
]
