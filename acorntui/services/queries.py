"""Read-side queries shared by the console and the reports. No Textual.

Shaped for 10,000 servers x 3 years: each function touches one night's rows through the
(night, status) index, or one server's rows through the (server, night) unique index, and
only looks further back for the servers that are bad on the night.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import overload

from peewee import JOIN, fn

from acorntui.core.status import (
    FAILED,
    FETCH_FAILED,
    GOOD_STATUSES,
    INCOMPLETE,
    OK,
    OK_WITH_EXCEPTIONS,
    REASON_WORDS,
)
from acorntui.db.models import Customer, ErrorCode, Failure, Result, Server, Tsr, database_proxy

NO_DATA = "no_data"  # grid-only status: no result row for the night

STATUS_LABELS = {
    OK: "OK",
    OK_WITH_EXCEPTIONS: "OK*",
    FAILED: "FAILED",
    INCOMPLETE: "INCOMPLETE",
    FETCH_FAILED: "FETCH FAILED",
    NO_DATA: "NO DATA",
}
# failing first: lower sorts first
STATUS_ORDER = {FAILED: 0, INCOMPLETE: 1, FETCH_FAILED: 2, NO_DATA: 3, OK_WITH_EXCEPTIONS: 4,
                OK: 5}


# the Meaning of a fetch_failed row (grid, JSON reports' ``jargon``): our pull failed, which
# says nothing about the customer's backup (the code table's -2 says "Backup did not complete")
FETCH_FAILED_MEANING = "Could not fetch the log from the report server"


def status_label(status: str, reason: str = "") -> str:
    label = STATUS_LABELS.get(status, status.upper())
    if status == INCOMPLETE and reason:
        return f"{label} ({REASON_WORDS.get(reason, reason)})"
    return label


@dataclass
class NightlyRow:
    server_id: int
    customer_id: int
    customer: str
    server: str
    night: dt.date
    result_id: int | None = None
    status: str = NO_DATA
    reason: str = ""
    code: int | None = None
    jargon: str = ""
    error_count: int = 0
    excepted_count: int = 0
    new_errors: int = 0
    recurring_errors: int = 0
    total_size: int | None = None
    sent_bytes: int | None = None
    last_good: dt.date | None = None
    bad_streak: int = 0
    tsr: str = ""
    custbak: str = ""
    snoozed_until: dt.date | None = None
    snooze_reason: str = ""
    ack_note: str = ""
    ack_by: str = ""
    registered: bool = True
    rsync_version: str = ""
    anomaly: str | None = None  # a good result that copied far less than usual

    @property
    def is_good(self) -> bool:
        return self.status in GOOD_STATUSES

    @property
    def snoozed(self) -> bool:
        return self.snoozed_until is not None and self.snoozed_until >= self.night

    @property
    def counts_as_failing(self) -> bool:
        """Bad, and not snoozed (inactive servers are not listed at all)."""
        return not self.is_good and not self.snoozed

    @property
    def shown_status(self) -> str:
        """The status, or ``snoozed`` when bad but snoozed (what counts and colours use)."""
        return "snoozed" if (self.snoozed and not self.is_good) else self.status

    @property
    def label(self) -> str:
        return status_label(self.status, self.reason)

    @property
    def last_good_age_days(self) -> int | None:
        return None if self.last_good is None else (self.night - self.last_good).days


def latest_night() -> dt.date | None:
    return Result.select(fn.MAX(Result.night)).scalar()


def adjacent_night(night: dt.date, direction: int) -> dt.date | None:
    """The previous (-1) or next (+1) night that has results."""
    if direction < 0:
        return Result.select(fn.MAX(Result.night)).where(Result.night < night).scalar()
    return Result.select(fn.MIN(Result.night)).where(Result.night > night).scalar()


def _chunks(seq: list, n: int = 500) -> Iterable[list]:
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


@overload
def _as_date(value: None) -> None: ...
@overload
def _as_date(value: dt.date | str) -> dt.date: ...
def _as_date(value: dt.date | str | None) -> dt.date | None:
    """Dates from raw SQL / subqueries: SQLite gives ISO text, MariaDB gives date objects."""
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def active_servers_query(*, customer: str | None = None, server: str | None = None,
                         include_inactive: bool = False):
    """Servers (with customer name and TSR login) as dicts; active ones unless asked."""
    sq = (Server.select(Server.id, Server.name, Server.customer, Server.custbak,
                        Server.snoozed_until, Server.snooze_reason, Server.registered,
                        Customer.name.alias("cname"), Customer.snoozed_until.alias("c_until"),
                        Customer.snooze_reason.alias("c_reason"), Tsr.login.alias("tsr_login"),
                        Tsr.name.alias("tsr_name"))
          .join(Customer).switch(Server).join(Tsr, JOIN.LEFT_OUTER))
    if not include_inactive:
        sq = sq.where((Server.active == True) & (Customer.active == True))  # noqa: E712
    if customer:
        sq = sq.where(Customer.name == customer)
    if server:
        sq = sq.where(Server.name == server)
    return sq.dicts()


def _customer_window(s: dict) -> None:
    """A customer maintenance window snoozes every server of the customer: the server row
    takes the later of its own snooze and its customer's."""
    c_until = _as_date(s.get("c_until"))
    own = _as_date(s.get("snoozed_until"))
    if c_until is not None and (own is None or c_until > own):
        s["snoozed_until"] = c_until
        s["snooze_reason"] = f"customer maintenance: {s.get('c_reason') or ''}".rstrip(": ")


def nightly_rows(night: dt.date, *, customer: str | None = None,
                 include_inactive: bool = False) -> list[NightlyRow]:
    """One row per active server for the night, failing servers first."""
    rows: dict[int, NightlyRow] = {}
    for s in active_servers_query(customer=customer, include_inactive=include_inactive):
        _customer_window(s)
        rows[s["id"]] = NightlyRow(
            server_id=s["id"], customer_id=s["customer"], customer=s["cname"], server=s["name"],
            night=night, custbak=s["custbak"] or "", snoozed_until=s["snoozed_until"],
            snooze_reason=s["snooze_reason"] or "", registered=bool(s["registered"]),
            tsr=s["tsr_login"] or "",
        )
    if not rows:
        return []
    jargon = {c: j for c, j in ErrorCode.select(ErrorCode.code, ErrorCode.jargon).tuples()}
    rq = (Result.select(Result.id, Result.server, Result.status, Result.reason, Result.code,
                        Result.error_count, Result.excepted_count, Result.total_size,
                        Result.sent_bytes, Result.ack_note, Result.ack_by,
                        Result.rsync_version, Result.anomaly)
          .where(Result.night == night).tuples())
    with_errors: dict[int, int] = {}  # result id -> server id
    for (rid, sid, status, reason, code, ec, xc, tot, sent, ack, ackby, ver, anomaly) in rq:
        r = rows.get(sid)
        if r is None:
            continue
        r.result_id, r.status, r.reason, r.code = rid, status, reason or "", code
        r.jargon = (FETCH_FAILED_MEANING if status == FETCH_FAILED
                    else jargon.get(code, "") if code is not None else "")
        r.error_count, r.excepted_count = ec or 0, xc or 0
        r.total_size, r.sent_bytes, r.ack_note, r.ack_by = tot, sent, ack or "", ackby or ""
        r.rsync_version, r.anomaly = ver or "", anomaly
        if ec:
            with_errors[rid] = sid
        if status in GOOD_STATUSES:
            r.last_good, r.bad_streak = night, 0
    _fill_new_recurring(rows, with_errors, night)
    _fill_last_good(rows, night)
    out = list(rows.values())
    out.sort(key=lambda r: (STATUS_ORDER.get(r.status, 9), r.customer, r.server))
    return out


def _fill_new_recurring(rows: dict[int, NightlyRow], with_errors: dict[int, int],
                        night: dt.date) -> None:
    """New = a failing path the server's previous result did not have; else recurring."""
    if not with_errors:
        return
    sids = list(set(with_errors.values()))
    prev_result: dict[int, int] = {}
    R2 = Result.alias()
    for chunk in _chunks(sids):
        # the previous result of each server (the night before, or the last before it)
        sub = (R2.select(R2.server, fn.MAX(R2.night).alias("pn"))
               .where(R2.server.in_(chunk) & (R2.night < night)).group_by(R2.server))
        q = (Result.select(Result.id, Result.server)
             .join(sub, on=((Result.server == sub.c.server_id) & (Result.night == sub.c.pn)))
             .tuples())
        for rid, sid in q:
            prev_result[rid] = sid
    prev_paths: dict[int, set[str]] = defaultdict(set)
    for chunk in _chunks(list(prev_result)):
        for rid, path in Failure.select(Failure.result, Failure.path).where(
                Failure.result.in_(chunk)).tuples():
            prev_paths[prev_result[rid]].add(path)
    for chunk in _chunks(list(with_errors)):
        for rid, path in Failure.select(Failure.result, Failure.path).where(
                Failure.result.in_(chunk)).tuples():
            sid = with_errors[rid]
            if path in prev_paths.get(sid, ()):
                rows[sid].recurring_errors += 1
            else:
                rows[sid].new_errors += 1


def _fill_last_good(rows: dict[int, NightlyRow], night: dt.date) -> None:
    """Last good night and consecutive bad nights (missing nights count as bad)."""
    bad = [r for r in rows.values() if not r.is_good]
    if not bad:
        return
    # One statement per chunk of bad servers; each correlated subquery is an indexed probe on
    # (server_id, night) newest first, so this stays cheap however long the history is.
    R2, R3 = Result.alias(), Result.alias()
    by_id = {r.server_id: r for r in bad}
    for chunk in _chunks(list(by_id)):
        last_good = (R2.select(R2.night)
                     .where((R2.server == Server.id) & (R2.night <= night)
                            & (R2.status.in_(GOOD_STATUSES)))
                     .order_by(R2.night.desc()).limit(1))
        first = R3.select(fn.MIN(R3.night)).where(R3.server == Server.id)
        q = (Server.select(Server.id, last_good.alias("lg"), first.alias("fr"))
             .where(Server.id.in_(chunk)).tuples())
        for sid, lg, fr in q:
            r = by_id[sid]
            last, first_night = _as_date(lg), _as_date(fr)
            r.last_good = last
            if last is not None:
                r.bad_streak = (night - last).days
            elif first_night is not None and first_night <= night:
                r.bad_streak = (night - first_night).days + 1
            else:
                r.bad_streak = 1 if r.result_id else 0


def status_counts(rows: Iterable[NightlyRow]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for r in rows:
        counts[r.shown_status] += 1
    return dict(counts)


@dataclass
class CustbakOutage:
    custbak: str
    servers: list[str] = field(default_factory=list)


def custbak_outages(rows: Iterable[NightlyRow], min_servers: int = 3) -> list[CustbakOutage]:
    """Several servers on the same custbak bad on the same night: a TSR3 problem."""
    by: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        if r.custbak and r.counts_as_failing:
            by[r.custbak].append(f"{r.customer}/{r.server}")
    return sorted((CustbakOutage(k, v) for k, v in by.items() if len(v) >= min_servers),
                  key=lambda o: -len(o.servers))


@dataclass
class HistoryRow:
    result_id: int
    night: dt.date
    code: int
    status: str
    reason: str
    error_count: int
    excepted_count: int
    total_size: int | None
    sent_bytes: int | None
    speedup: float | None
    ack_note: str
    ack_by: str
    log_path: str = ""
    anomaly: str = ""  # "total size 1.1G, usual 10.4G (...)": a good night far smaller than usual

    @property
    def looks_wrong(self) -> str:
        """The anomaly text of a good night nobody has acknowledged (shown as OK?), else ""."""
        return self.anomaly if (self.anomaly and self.status in GOOD_STATUSES
                                and not self.ack_note) else ""


# the columns a history row needs: not the why text (loaded per night, see night_why)
_HISTORY_COLUMNS = (Result.id, Result.night, Result.code, Result.status, Result.reason,
                    Result.error_count, Result.excepted_count, Result.total_size,
                    Result.sent_bytes, Result.speedup, Result.ack_note, Result.ack_by,
                    Result.log_path, Result.anomaly)


def server_history(server_id: int, *, limit: int = 400, before: dt.date | None = None
                   ) -> list[HistoryRow]:
    """One server's results, newest first (paged with ``before``)."""
    q = Result.select(*_HISTORY_COLUMNS).where(Result.server == server_id)
    if before is not None:
        q = q.where(Result.night < before)
    q = q.order_by(Result.night.desc()).limit(limit)
    return [HistoryRow(r.id, r.night, r.code, r.status, r.reason or "", r.error_count,
                       r.excepted_count, r.total_size, r.sent_bytes, r.speedup, r.ack_note or "",
                       r.ack_by or "", r.log_path or "", r.anomaly or "") for r in q]


def find_server(customer: str, server: str) -> Server | None:
    return (Server.select(Server, Customer).join(Customer)
            .where((Customer.name == customer) & (Server.name == server)).first())


# ---- report queries (acorntui.reports.build) ---------------------------------------------------


@dataclass
class HistoryStats:
    """One server's record from its first result up to a night; missing nights count as bad."""

    server_id: int
    first_night: dt.date | None = None
    ok: int = 0
    ok_with_exceptions: int = 0
    failed: int = 0
    incomplete: int = 0
    fetch_failed: int = 0
    missing: int = 0  # nights with no result row at all, since the first result
    nights: int = 0  # nights since the first result, up to the report night
    last_good: dt.date | None = None
    longest_bad_streak: int = 0
    current_bad_streak: int = 0

    @property
    def good(self) -> int:
        return self.ok + self.ok_with_exceptions

    @property
    def success_rate(self) -> float | None:
        """Good nights / nights since the first result (None before any result)."""
        return None if not self.nights else self.good / self.nights


def history_stats(night: dt.date, server_ids: list[int] | None = None
                  ) -> dict[int, HistoryStats]:
    """Per-server counts and streaks over every result up to ``night``.

    With ``server_ids`` both statements walk those servers' (server_id, night) index ranges
    (one server: about a thousand entries for three years); without, each reads the whole
    results table once.
    """
    from acorntui.db.connection import is_mysql

    db = database_proxy.obj
    p = db.param
    table = Result._meta.table_name
    gap = "DATEDIFF(night, prev)" if is_mysql(db) else "julianday(night) - julianday(prev)"
    out: dict[int, HistoryStats] = {}
    first_good: dict[int, dt.date] = {}
    chunks: list[list[int] | None] = (list(_chunks(server_ids)) if server_ids is not None
                                      else [None])
    for chunk in chunks:
        where = f"night <= {p}"
        params: list[object] = [night]
        if chunk is not None:
            where += f" AND server_id IN ({', '.join([p] * len(chunk))})"
            params += chunk
        sql = (f"SELECT server_id, status, COUNT(*), MIN(night), MAX(night) FROM {table} "
               f"WHERE {where} GROUP BY server_id, status")
        for sid, status, n, lo, hi in db.execute_sql(sql, params).fetchall():
            st = out.setdefault(sid, HistoryStats(sid))
            lo, hi = _as_date(lo), _as_date(hi)
            if st.first_night is None or lo < st.first_night:
                st.first_night = lo
            if status == OK:
                st.ok += n
            elif status == OK_WITH_EXCEPTIONS:
                st.ok_with_exceptions += n
            elif status == FAILED:
                st.failed += n
            elif status == FETCH_FAILED:
                st.fetch_failed += n
            else:
                st.incomplete += n
            if status in GOOD_STATUSES:
                if st.last_good is None or hi > st.last_good:
                    st.last_good = hi
                if sid not in first_good or lo < first_good[sid]:
                    first_good[sid] = lo
        # the longest run of bad nights between two good ones is the largest gap between
        # consecutive good nights, minus one (missing nights inside the gap count as bad)
        goods = ", ".join([p] * len(GOOD_STATUSES))
        sql = (f"SELECT server_id, MAX(gap) FROM (SELECT server_id, {gap} AS gap FROM ("
               f"SELECT server_id, night, LAG(night) OVER (PARTITION BY server_id "
               f"ORDER BY night) AS prev FROM {table} WHERE {where} AND status IN ({goods})"
               f") g WHERE prev IS NOT NULL) m GROUP BY server_id")
        for sid, max_gap in db.execute_sql(sql, params + list(GOOD_STATUSES)).fetchall():
            out[sid].longest_bad_streak = max(int(max_gap) - 1, 0)
    for sid, st in out.items():
        first = st.first_night
        assert first is not None  # every server in ``out`` has at least one result
        st.nights = (night - first).days + 1
        st.missing = st.nights - (st.good + st.failed + st.incomplete + st.fetch_failed)
        if st.last_good is None:
            st.current_bad_streak = st.longest_bad_streak = st.nights
            continue
        st.current_bad_streak = (night - st.last_good).days
        leading = (first_good[sid] - first).days
        st.longest_bad_streak = max(st.longest_bad_streak, st.current_bad_streak, leading)
    return out


def status_matrix(first: dt.date, last: dt.date, server_ids: list[int] | None = None
                  ) -> dict[int, dict[dt.date, str]]:
    """server id -> {night: status} for the nights first..last (absent: no result)."""
    out: dict[int, dict[dt.date, str]] = defaultdict(dict)
    base = Result.select(Result.server, Result.night, Result.status).where(
        Result.night.between(first, last))
    chunks = _chunks(server_ids) if server_ids is not None else [None]
    for chunk in chunks:
        q = base if chunk is None else base.where(Result.server.in_(chunk))
        for sid, n, status in q.tuples():
            out[sid][_as_date(n)] = status
    return dict(out)


def good_server_ids(first: dt.date, last: dt.date) -> set[int]:
    """Servers with at least one good result in the nights first..last ((night, status) index)."""
    q = (Result.select(Result.server).distinct()
         .where(Result.night.between(first, last) & Result.status.in_(GOOD_STATUSES)).tuples())
    return {sid for (sid,) in q}


@dataclass
class OpenFailure:
    path: str
    message: str
    line: int


def open_failures(result_ids: list[int], *, limit: int = 100
                  ) -> dict[int, tuple[list[OpenFailure], int]]:
    """result id -> (its file errors that no exception covers, first ``limit``; total count)."""
    out: dict[int, tuple[list[OpenFailure], int]] = {}
    for chunk in _chunks(result_ids):
        q = (Failure.select(Failure.result, Failure.path, Failure.message, Failure.line)
             .where(Failure.result.in_(chunk) & (Failure.excepted == False))  # noqa: E712
             .order_by(Failure.result, Failure.line, Failure.id).tuples())
        for rid, path, message, line in q:
            files, n = out.get(rid, ([], 0))
            if len(files) < limit:
                files.append(OpenFailure(path, message or "", line or 0))
            out[rid] = (files, n + 1)
    return out


def resolutions() -> dict[int, str]:
    return {c: r for c, r in ErrorCode.select(ErrorCode.code, ErrorCode.resolution).tuples()}


def code_texts() -> dict[int, tuple[str, str, str]]:
    """code -> (jargon, translation, resolution)."""
    return {c: (j or "", t or "", r or "") for c, j, t, r in ErrorCode.select(
        ErrorCode.code, ErrorCode.jargon, ErrorCode.translation, ErrorCode.resolution).tuples()}


def server_starts(server_ids: list[int]) -> dict[int, dt.date]:
    """server id -> the first night that can count against it: its first result, or the night
    it was registered (``servers.created``) when that is earlier."""
    out: dict[int, dt.date] = {}
    for chunk in _chunks(server_ids):
        for sid, created in Server.select(Server.id, Server.created).where(
                Server.id.in_(chunk)).tuples():
            if isinstance(created, dt.datetime):
                out[sid] = created.date()
            elif created is not None:
                out[sid] = _as_date(created)
        q = (Result.select(Result.server, fn.MIN(Result.night)).where(Result.server.in_(chunk))
             .group_by(Result.server).tuples())
        for sid, first in q:
            first = _as_date(first)
            if first is not None and (sid not in out or first < out[sid]):
                out[sid] = first
    return out


def needs_attention(status: str, snoozed_until: dt.date | None, night: dt.date) -> bool:
    """The one definition the failure report, history and the mails count: bad on the night
    (no result counts as bad) and not snoozed."""
    snoozed = snoozed_until is not None and snoozed_until >= night
    return status not in GOOD_STATUSES and not snoozed


def night_signature(night: dt.date | None) -> tuple:
    """Cheap change detector for polling: (latest night, results of ``night``, newest parse
    time, newest audit id, the night's changes). Every change a person makes (exceptions,
    acks, notes, snoozes of servers and customers, management, re-parse) writes an
    ``updates`` row, so the newest id says "something changed" in one indexed lookup; ingest
    writes no audit row for a new result, so the night's count and newest parse time stay in
    the signature; and a row changed with neither (an anomaly mark, an exception expiring at
    ingest, a replacement within the same second) moves the sum of ``results.rev``, which a
    database trigger raises at every UPDATE."""
    from acorntui.db.models import Update

    latest = latest_night()
    last_update = Update.select(fn.MAX(Update.id)).scalar() or 0
    if night is None:
        return (latest, 0, None, last_update, 0)
    n, parsed, revs = (Result.select(fn.COUNT(Result.id), fn.MAX(Result.parsed_at),
                                     fn.SUM(Result.rev))
                       .where(Result.night == night).tuples().get())
    return (latest, n, parsed, last_update, int(revs or 0))


def server_signature(server_id: int) -> tuple:
    """The history screen's change detector: the newest audit id (an exception for a whole
    customer has no server on its audit row) and the server's result count, newest parse and
    changes (``results.rev``, see :func:`night_signature`)."""
    from acorntui.db.models import Update

    last_update = Update.select(fn.MAX(Update.id)).scalar() or 0
    n, parsed, revs = (Result.select(fn.COUNT(Result.id), fn.MAX(Result.parsed_at),
                                     fn.SUM(Result.rev))
                       .where(Result.server == server_id).tuples().get())
    return (last_update, n, parsed, int(revs or 0))


@dataclass(frozen=True)
class ChangeSeen:
    """One audit row since the last poll: who changed what (for "changed by LOGIN")."""

    id: int
    login: str
    action: str
    server_id: int | None
    customer_id: int | None  # a customer-level change (maintenance window, customer edit)


def changes_since(update_id: int, limit: int = 5000) -> list[ChangeSeen]:
    """The audit rows after ``update_id``, oldest first (bounded: a poll after a big import
    needs only the newest few thousand to say who changed the rows on screen)."""
    from acorntui.db.models import Update

    q = (Update.select(Update.id, Update.login, Update.action, Update.server,
                       Update.table_name, Update.row_id)
         .where(Update.id > update_id).order_by(Update.id.desc()).limit(limit).tuples())
    out = [ChangeSeen(uid, login or "", action, sid,
                      row_id if table == "customers" else None)
           for uid, login, action, sid, table, row_id in q]
    out.reverse()
    return out


@dataclass
class TimelineEntry:
    at: dt.datetime
    login: str
    action: str
    details: str
    night: dt.date | None


def server_timeline(server_id: int, limit: int = 200) -> list[TimelineEntry]:
    """Notes, acknowledgements and other changes recorded for one server, newest first."""
    from acorntui.db.models import Update

    q = (Update.select(Update.at, Update.login, Update.action, Update.details,
                       Result.night)
         .join(Result, JOIN.LEFT_OUTER, on=(Update.result == Result.id))
         .where(Update.server == server_id)
         .order_by(Update.at.desc(), Update.id.desc()).limit(limit).tuples())
    return [TimelineEntry(at, login or "", action, details or "", night)
            for at, login, action, details, night in q]


@dataclass
class JumpTarget:
    """A server or customer the console's command palette can jump to (any state)."""

    customer: str
    server: str  # "" for a customer
    server_id: int | None
    active: bool
    registered: bool = True


def jump_targets() -> list[JumpTarget]:
    """Every customer and every server, active or not, registered or not (two queries)."""
    out: list[JumpTarget] = []
    q = (Server.select(Server.id, Server.name, Server.active, Server.registered,
                       Customer.name, Customer.active)
         .join(Customer).order_by(Customer.name, Server.name).tuples())
    for sid, sname, sactive, registered, cname, cactive in q:
        out.append(JumpTarget(cname, sname, sid, bool(sactive and cactive), bool(registered)))
    for cname, cactive in Customer.select(Customer.name, Customer.active).order_by(
            Customer.name).tuples():
        out.append(JumpTarget(cname, "", None, bool(cactive)))
    return out


@dataclass
class NightRemark:
    """The latest word on a server's result for a night: a note or the acknowledgement."""

    kind: str  # "note" | "ack"
    login: str
    text: str
    at: dt.datetime | None


def night_remarks(night: dt.date, *, customer: str | None = None) -> dict[int, NightRemark]:
    """Server id -> the latest note on its result for ``night``, or its acknowledgement when
    that is newer. One query for the whole night (notes are few); servers with neither are
    left out (the grid then shows the result's ack, if any)."""
    from acorntui.db.models import Update

    q = (Update.select(Update.server, Update.login, Update.details, Update.at, Update.id,
                       Result.ack_note, Result.ack_by, Result.ack_at)
         .join(Result, on=(Update.result == Result.id))
         .where((Result.night == night) & (Update.action == "note")))
    if customer:
        q = (q.switch(Result).join(Server, on=(Result.server == Server.id)).join(Customer)
             .where(Customer.name == customer))
    latest: dict[int, tuple] = {}
    for sid, login, details, at, uid, ack, ack_by, ack_at in q.tuples():
        if sid is None:
            continue
        seen = latest.get(sid)
        if seen is None or (at, uid) > (seen[2], seen[3]):
            latest[sid] = (login or "", details or "", at, uid, ack or "", ack_by or "", ack_at)
    out: dict[int, NightRemark] = {}
    for sid, (login, text, at, _uid, ack, ack_by, ack_at) in latest.items():
        if ack and ack_at is not None and at is not None and ack_at > at:
            out[sid] = NightRemark("ack", ack_by, ack, ack_at)
        else:
            out[sid] = NightRemark("note", login, text, at)
    return out


# ---- one server, as the console's history screen shows it ---------------------------------------


@dataclass
class ServerInfo:
    id: int
    customer_id: int
    customer: str
    name: str
    description: str
    os: str
    custbak: str
    tsr: str  # the assigned TSR's login, or ""
    snoozed_until: dt.date | None
    snooze_reason: str
    registered: bool


def server_info(server_id: int) -> ServerInfo:
    """One server with its customer's name and its TSR's login (raises if it is gone)."""
    s = (Server.select(Server, Customer).join(Customer)
         .where(Server.id == server_id).get())
    tsr = Tsr.get_or_none(Tsr.id == s.tsr_id) if s.tsr_id else None
    return ServerInfo(s.id, s.customer_id, s.customer.name, s.name, s.description, s.os,
                      s.custbak, tsr.login if tsr else "", s.snoozed_until, s.snooze_reason,
                      bool(s.registered))


@dataclass
class FailureView:
    path: str
    message: str
    line: int
    excepted: bool
    exception: str  # "#12 */Outlook/*.pst (customer)" or ""


def failure_views(result_id: int, *, offset: int = 0, limit: int | None = None
                  ) -> list[FailureView]:
    """A result's file errors (``limit`` of them from ``offset``, in line order), each with
    the exception that covered it (two queries)."""
    from acorntui.db.models import Exception_

    fails = list(Failure.select().where(Failure.result == result_id)
                 .order_by(Failure.line, Failure.id).offset(offset or None).limit(limit))
    ids = {f.exception_id for f in fails if f.exception_id}
    rules = ({e.id: e for e in Exception_.select().where(Exception_.id.in_(list(ids)))}
             if ids else {})
    out = []
    for f in fails:
        e = rules.get(f.exception_id)
        label = f"#{e.id} {e.path_pattern} ({e.scope})" if e else ""
        out.append(FailureView(f.path, f.message, f.line, bool(f.excepted), label))
    return out


def server_count() -> int:
    """How many servers the database knows, active or not (the console's first-run check)."""
    return Server.select().count()
