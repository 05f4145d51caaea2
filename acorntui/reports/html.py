"""HTML renderer: Jinja2 templates (autoescaped) with the CSS inlined for mail clients.

The templates are in ``templates/``; ``base.html`` holds the style sheet. css-inline moves
the rules into ``style`` attributes (mail clients drop ``<style>``) and keeps the
``@media`` block, which turns each server row into a card below 600 px. Paths break only
after ``/`` or ``\\`` (a ``<wbr>``), dates never break, and nothing uses ``break-all``.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import css_inline
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from acorntui.core.status import FETCH_FAILED
from acorntui.reports.build import (
    _MATRIX_CHAR,
    CUSTBAK_OUTAGE_FIX,
    Report,
    _label,
    _note,
    _tables,
    file_message,
    plural,
    safe,
)

_DATE_COLS = {"Last good", "First night"}


def _wbr(value: Any) -> Markup:
    """Escaped text with a break opportunity after each path separator."""
    text = str(escape(safe(value)))
    return Markup(text.replace("/", "/<wbr>").replace("\\", "\\<wbr>"))


def _dates(value: Any) -> Markup:
    """Escaped text whose dates (YYYY-MM-DD) never break across lines."""
    text = str(escape(safe(value)))
    return Markup(re.sub(r"\d{4}-\d{2}-\d{2}", r'<span class="date">\g<0></span>', text))


@cache
def _env() -> Environment:
    env = Environment(loader=PackageLoader("acorntui.reports", "templates"),
                      autoescape=select_autoescape(["html"], default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["wbr"] = _wbr
    env.filters["dates"] = _dates
    return env


@cache
def _inliner() -> css_inline.CSSInliner:
    return css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


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
        "fixes": [{"key": fx.key, "title": safe(fx.title), "meaning": safe(fx.meaning),
                   "todo": safe(fx.todo), "count": plural(n, "server")} for fx, n in fixes],
    }


def _tables_context(rep: Report) -> dict[str, Any]:
    tables = []
    for t in _tables(rep):
        rows = []
        for row, st in zip(t.rows, t.statuses, strict=True):
            cells = []
            for i, (v, c) in enumerate(zip(row, t.cols, strict=True)):
                cls = " ".join(x for x in (
                    "num" if c.align == ">" else "",
                    "date nowrap" if c.title in _DATE_COLS else "",
                    "srv-name" if c.title == "Server" else "",
                    "srv-status" if c.title == "Status" else "",
                    "empty" if not v and not t.matrix else "") if x)
                cell = {"value": safe(v), "cls": cls,
                        "label": "" if t.matrix or c.title in ("Server", "Customer")
                        else c.title, "status": st.get(i, ""), "title": ""}
                if t.matrix and i in st:
                    cell["title"] = f"{rep.nights[i - 2]}: {_label(st[i])}"
                cells.append(cell)
            rows.append(cells)
        tables.append({"title": t.title, "matrix": t.matrix, "rows": rows,
                       "cols": [{"title": c.title, "right": c.align == ">"} for c in t.cols],
                       "legend": [(s, ch, _label(s)) for s, ch in _MATRIX_CHAR.items()]
                       if t.matrix else []})
    return {"tables": tables}


def render_html(rep: Report) -> str:
    """One self-contained page: readable in a browser, a desktop mail client and a phone."""
    ctx: dict[str, Any] = {"title": safe(rep.title), "summary": rep.summary().split("\n"),
                           "footer": _footer(rep)}
    if rep.kind == "failures":
        ctx.update(_failures_context(rep))
        page = _env().get_template("failures.html").render(**ctx)
    else:
        ctx.update(_tables_context(rep))
        page = _env().get_template("table.html").render(**ctx)
    return _inliner().inline(page)


def render_monthly_html(rep: Any, columns: Any, record: Any, shown: Any) -> str:
    """The customer's monthly page: the same columns as the text/CSV/JSON renderers."""
    from acorntui.reports.monthly import WORDS

    servers = []
    for srv in rep.servers:
        rec = record(srv)
        servers.append({
            "cells": [{"label": h, "value": shown(k, rec[k]), "num": k != "server"}
                      for k, h in columns],
            "strip": [{"status": st or "none", "title": f"{n.isoformat()}: {WORDS[st]}"}
                      for n, st in zip(rep.nights, srv.nights, strict=True)]})
    ctx = {"title": safe(rep.title), "summary": rep.summary(), "heads": [h for _, h in columns],
           "servers": servers,
           "footer": "Questions about this report: reply to this mail or call your Acorn "
                     "contact."}
    return _inliner().inline(_env().get_template("monthly.html").render(**ctx))
