"""The monthly report for a customer: per server, how many nights of the month were backed up,
ok with known exceptions, failed, incomplete or not fetched; the success rate, the longest
run of bad nights and a small per-night strip.

Written for the customer: no internal notes, no TSR names, no file lists. Nights before a
server's first result or registration do not count; nor do nights after the latest night
with results (a month still running). A night whose log we could not fetch says nothing
about the backup, so it is left out of the success rate.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any

from acorntui.core.status import (
    FAILED,
    FETCH_FAILED,
    GOOD_STATUSES,
    INCOMPLETE,
    OK,
    OK_WITH_EXCEPTIONS,
)
from acorntui.reports.build import ReportError, _csv_cell, _wrap, dump_json, plural, safe
from acorntui.reports.columns import (
    Column,
    csv_head,
    csv_records,
    data_col,
    json_records,
    table_cols,
)
from acorntui.reports.templating import render_page

FORMATS = ("text", "csv", "json", "html")
NO_RESULT = "no_data"
BEFORE = ""  # a night before the server existed, or after the latest night with results
STRIP_CHAR = {OK: ".", OK_WITH_EXCEPTIONS: "e", FAILED: "F", INCOMPLETE: "I",
              FETCH_FAILED: "?", NO_RESULT: "I", BEFORE: " "}
STRIP_LEGEND = (". backed up  e ok with known exceptions  F failed\n"
                "I incomplete or no log  ? not fetched  (blank: not counted)")
WORDS = {OK: "backed up", OK_WITH_EXCEPTIONS: "ok with known exceptions", FAILED: "failed",
         INCOMPLETE: "incomplete", NO_RESULT: "incomplete (no log)",
         FETCH_FAILED: "not fetched", BEFORE: "not counted"}


@dataclass
class MonthServer:
    server: str
    nights: list[str] = field(default_factory=list)  # status per night of the month
    backed_up: int = 0
    ok_with_exceptions: int = 0
    failed: int = 0
    incomplete: int = 0  # incomplete, and nights with no log at all
    not_fetched: int = 0
    longest_bad: int = 0

    @property
    def counted(self) -> int:
        return sum(1 for s in self.nights if s != BEFORE)

    @property
    def success(self) -> float | None:
        """Good nights / counted nights we know about (not-fetched nights left out)."""
        known = self.counted - self.not_fetched
        return None if known <= 0 else (self.backed_up + self.ok_with_exceptions) / known

    @property
    def strip(self) -> str:
        return "".join(STRIP_CHAR.get(s, "?") for s in self.nights)


@dataclass
class MonthlyReport:
    customer: str
    display_name: str
    email: str
    month: dt.date  # its first day
    nights: list[dt.date]
    last: dt.date | None  # the latest night counted
    servers: list[MonthServer] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.month.strftime("%B %Y")

    @property
    def title(self) -> str:
        return f"Backup report for {self.display_name or self.customer}, {self.label}"

    @property
    def subject(self) -> str:
        good = sum(s.backed_up + s.ok_with_exceptions for s in self.servers)
        known = sum(s.counted - s.not_fetched for s in self.servers)
        rate = f"{100 * good / known:.1f}%" if known else "no nights"
        return (f"Backups {self.label}, {self.display_name or self.customer}: {rate} of "
                f"nights backed up on {plural(len(self.servers), 'server')}")

    def summary(self) -> list[str]:
        if self.last is None:
            return ["No night of this month has results yet."]
        end = self.nights[-1]
        upto = "" if self.last >= end else f" (nights up to {self.last.isoformat()})"
        return [f"{plural(len(self.servers), 'server')}, {self.month.isoformat()} to "
                f"{end.isoformat()}{upto}.",
                "Success is the share of nights backed up (ok, or ok apart from files "
                "backed up another way); nights before a server was set up are not "
                "counted, nor nights whose log we could not collect. Bad run is the longest "
                "run of nights in a row that were not backed up."]


def parse_month(text: str | None, today: dt.date | None = None) -> dt.date:
    """``YYYY-MM`` -> its first day; default: the previous calendar month."""
    if not text:
        first = (today or dt.date.today()).replace(day=1)
        return (first - dt.timedelta(days=1)).replace(day=1)
    try:
        return dt.datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise ReportError(f"--month: {text!r} is not a month (YYYY-MM)") from None


def _month_nights(first: dt.date) -> list[dt.date]:
    nxt = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return [first + dt.timedelta(days=i) for i in range((nxt - first).days)]


def monthly_report(customer: str, month: dt.date) -> MonthlyReport:
    """Two indexed queries: the customer's servers, and their results for the month."""
    from acorntui.db.models import Customer, Result, Server
    from acorntui.services import queries

    cust = Customer.get_or_none(Customer.name == customer)
    if cust is None:
        raise ReportError(f"no customer {customer!r}")
    nights = _month_nights(month)
    servers = list(Server.select(Server.id, Server.name)
                   .where((Server.customer == cust) & (Server.active == True))  # noqa: E712
                   .order_by(Server.name).tuples())
    if not servers:
        raise ReportError(f"no active servers for customer {customer!r}")
    ids = [sid for sid, _ in servers]
    latest = (Result.select(Result.night).where(Result.server.in_(ids))
              .order_by(Result.night.desc()).limit(1).scalar())
    latest = queries._as_date(latest)
    last = None if latest is None or latest < nights[0] else min(latest, nights[-1])
    by: dict[int, dict[dt.date, str]] = {sid: {} for sid in ids}
    for chunk in queries._chunks(ids):
        q = (Result.select(Result.server, Result.night, Result.status)
             .where(Result.server.in_(chunk) & Result.night.between(nights[0], nights[-1]))
             .tuples())
        for sid, night, status in q:
            by[sid][queries._as_date(night)] = status
    starts = queries.server_starts(ids)
    rep = MonthlyReport(cust.name, cust.display_name or "", cust.email or "", month, nights,
                        last)
    for sid, name in servers:
        ms = MonthServer(name)
        start = starts.get(sid)
        run = 0
        for n in nights:
            if last is None or n > last or (start is not None and n < start):
                ms.nights.append(BEFORE)
                continue
            st = by[sid].get(n, NO_RESULT)
            ms.nights.append(st)
            if st == OK:
                ms.backed_up += 1
            elif st == OK_WITH_EXCEPTIONS:
                ms.ok_with_exceptions += 1
            elif st == FAILED:
                ms.failed += 1
            elif st == FETCH_FAILED:
                ms.not_fetched += 1
            else:
                ms.incomplete += 1
            if st in GOOD_STATUSES:
                run = 0
            elif st != FETCH_FAILED:  # unknown nights neither break nor extend a run
                run += 1
                ms.longest_bad = max(ms.longest_bad, run)
        rep.servers.append(ms)
    return rep


# ---- one definition of the table, four renderers --------------------------------------------

def _success_text(s: MonthServer) -> str:
    return "-" if s.success is None else f"{100 * s.success:.1f}%"


def _num(key: str, title: str, attr: str = "") -> Column:
    name = attr or key
    return Column(key, title, value=lambda s: getattr(s, name), align=">")


# the table: the text, CSV, JSON and HTML renderers all walk these (acorntui.reports.columns)
COLUMNS: tuple[Column, ...] = (
    data_col("server", title="Server", kind="server"),
    _num("nights", "Nights", "counted"),
    _num("backed_up", "Backed up"),
    _num("ok_with_exceptions", "OK*"),
    _num("failed", "Failed"),
    _num("incomplete", "Incomplete"),
    _num("not_fetched", "Not fetched"),
    Column("success", "Success", align=">", text=_success_text,
           value=lambda s: None if s.success is None else round(s.success, 4)),
    _num("longest_bad", "Bad run"),
    # JSON: the status of each night; CSV: the strip of marks
    Column("strip", value=lambda s: s.nights, csv_value=lambda s: s.strip),
)


def monthly_data(rep: MonthlyReport) -> dict[str, Any]:
    return {"report": "monthly", "customer": rep.customer, "month": rep.month.strftime("%Y-%m"),
            "title": rep.title, "subject": rep.subject,
            "last_night": rep.last.isoformat() if rep.last else None,
            "nights": [n.isoformat() for n in rep.nights],
            "servers": json_records(COLUMNS, rep.servers)}


def render_monthly(rep: MonthlyReport, fmt: str) -> str:
    if fmt == "json":
        return dump_json(monthly_data(rep))
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=csv_head(COLUMNS), lineterminator="\n")
        w.writeheader()
        for rec in csv_records(COLUMNS, rep.servers):
            w.writerow({k: _csv_cell(v) for k, v in rec.items()})
        return buf.getvalue()
    if fmt == "html":
        return render_monthly_html(rep)
    if fmt != "text":
        raise ReportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    out = [safe(rep.title), "=" * min(len(safe(rep.title)), 78)]
    for line in rep.summary():
        out += _wrap(line, "")
    out.append("")
    cols = table_cols(COLUMNS)
    rows = [[c.title for c in cols]] + [[c.shown(s, safe) for c in cols] for s in rep.servers]
    widths = [max(len(r[i]) for r in rows) for i in range(len(cols))]
    for j, r in enumerate(rows):
        out.append(" ".join(v.ljust(w) if i == 0 else v.rjust(w)
                            for i, (v, w) in enumerate(zip(r, widths, strict=True))).rstrip())
        if j == 0:
            out.append(" ".join("-" * w for w in widths))
    out += ["", "Night by night (day 1 first):"]
    name_w = max(len(safe(s.server)) for s in rep.servers)
    for s in rep.servers:
        out.append(f"{safe(s.server):<{name_w}}  {s.strip}".rstrip())
    out += [STRIP_LEGEND]
    return "\n".join(out) + "\n"


def render_monthly_html(rep: MonthlyReport) -> str:
    """The customer's monthly page: the same columns as the text/CSV/JSON renderers."""
    cols = table_cols(COLUMNS)
    servers = []
    for srv in rep.servers:
        servers.append({
            "cells": [{"label": c.title, "value": c.shown(srv, safe), "num": c.align == ">"}
                      for c in cols],
            "strip": [{"status": st or "none", "title": f"{n.isoformat()}: {WORDS[st]}"}
                      for n, st in zip(rep.nights, srv.nights, strict=True)]})
    ctx = {"title": safe(rep.title), "summary": rep.summary(), "heads": [c.title for c in cols],
           "servers": servers,
           "footer": "Questions about this report: reply to this mail or call your Acorn "
                     "contact."}
    return render_page("monthly.html", ctx)
