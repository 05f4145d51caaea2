"""Chat and webhook notifications through Apprise (Slack, Teams, ntfy, JSON webhooks...).

The nightly job calls :func:`notify_night` after ingest: one message per event kind per night
(``failed``, ``anomaly``), one per custbak outage (``custbak``), sent to every ``[[notify]]``
target that wants the event and whose customers are involved. What was sent is kept in the
``notifications`` table, so running ``nightly`` again never sends the same night and event
twice to a target; a target that failed is tried again on the next run. A failing target is
reported (its URL masked) and never stops the other targets or the mails.

Messages are plain text; every name from the database goes through :mod:`acorntui.core.textsafe`.
No Textual, no screens.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass, field

from peewee import IntegrityError

from acorntui.config import Config, NotifyTarget
from acorntui.core.textsafe import visible_controls
from acorntui.db.models import Notification, Result, database_proxy

MAX_LISTED = 40  # servers listed in one message; the rest are counted


@dataclass
class Event:
    """One message to send: an event kind for a night, about some servers."""

    kind: str  # failed | custbak | anomaly | escalation
    night: dt.date
    subject: str = ""  # the custbak of a custbak outage; empty otherwise
    # (customer, server, detail) -- raw names; made safe when the text is built
    servers: list[tuple[str, str, str]] = field(default_factory=list)
    total: int = 0  # active servers that night, for the counts line

    def for_customers(self, customers: tuple[str, ...]) -> Event:
        if not customers:
            return self
        keep = [s for s in self.servers if s[0] in customers]
        return Event(self.kind, self.night, self.subject, keep, self.total)

    def title(self) -> str:
        n = len(self.servers)
        what = {
            "failed": f"{n} server{'s' if n != 1 else ''} failed",
            "custbak": f"custbak {self.subject} outage: {n} servers failed",
            "anomaly": f"{n} backup{'s' if n != 1 else ''} look{'s' if n == 1 else ''} wrong",
            "escalation": f"{n} server{'s' if n != 1 else ''} still failing, not acknowledged",
        }[self.kind]
        return visible_controls(f"acorntui {self.night}: {what}")

    def body(self) -> str:
        n = len(self.servers)
        head = {
            "failed": f"Night {self.night}: {n} of {self.total} servers failed.",
            "custbak": f"Night {self.night}: {n} servers sending to custbak {self.subject} "
                       "failed the same night; check the custbak first.",
            "anomaly": f"Night {self.night}: {n} of {self.total} servers reported success but "
                       "copied far less than usual.",
            "escalation": f"Night {self.night}: {n} server{'s have' if n != 1 else ' has'} "
                          "been failing for several nights without an acknowledgement.",
        }[self.kind]
        lines = [visible_controls(head)]
        for customer, server, detail in self.servers[:MAX_LISTED]:
            lines.append(visible_controls(f"- {customer}/{server}: {detail}"))
        if n > MAX_LISTED:
            lines.append(f"... and {n - MAX_LISTED} more")
        return "\n".join(lines)


@dataclass
class Sent:
    target: str  # masked label
    event: str
    subject: str
    servers: int


@dataclass
class NotifyReport:
    sent: list[Sent] = field(default_factory=list)
    already: int = 0  # messages skipped because they were sent by an earlier run
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if not (self.sent or self.already or self.problems):
            return "nothing to send"
        parts = [f"{len(self.sent)} message(s) sent"]
        if self.already:
            parts.append(f"{self.already} already sent earlier")
        if self.problems:
            parts.append(f"{len(self.problems)} problem(s)")
        return ", ".join(parts)


# -- targets -------------------------------------------------------------------------------------

def mask(url: str) -> str:
    """The URL as Apprise prints it in privacy mode (passwords and tokens elided), without the
    query string; ``scheme://***`` when Apprise does not know the URL."""
    import apprise

    scheme = url.split("://", 1)[0] if "://" in url else "?"
    try:
        plugin = apprise.Apprise.instantiate(url)
    except Exception:  # a bad URL must never leak through an error
        plugin = None
    if plugin is None:
        return f"{scheme}://***"
    return plugin.url(privacy=True).split("?", 1)[0]


def label(target: NotifyTarget) -> str:
    url = target.resolved_url()
    where = f"[[notify]] #{target.index}"
    if target.url_env:
        where += f" (url_env {target.url_env})"
    return f"{where} {mask(url)}" if url else where


def target_id(target: NotifyTarget) -> str:
    """What the notifications table keeps instead of the URL (which may hold a secret)."""
    return hashlib.sha256(target.resolved_url().encode()).hexdigest()[:16]


def send(target: NotifyTarget, title: str, body: str) -> str | None:
    """Send one message. None when it went; otherwise why not, with secrets masked."""
    import apprise

    url = target.resolved_url()
    if not url:
        return f"{label(target)}: environment variable {target.url_env} is not set"
    a = apprise.Apprise()
    with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as log:
        if not a.add(url):
            return f"{label(target)}: not a URL Apprise knows"
        ok = a.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT)
        text = log.getvalue()
    if ok:
        return None
    why = "; ".join(ln.strip() for ln in text.splitlines() if ln.strip())
    return f"{label(target)}: {_scrub(why, url) or 'sending failed'}"


def _scrub(text: str, url: str) -> str:
    """No secret of ``url`` in ``text``: the URL itself, its password and its path tokens."""
    import apprise

    text = text.replace(url, mask(url))
    secrets = set()
    try:
        plugin = apprise.Apprise.instantiate(url)
    except Exception:
        plugin = None
    if plugin is not None and getattr(plugin, "password", None):
        secrets.add(str(plugin.password))
    rest = url.split("://", 1)[-1].split("?", 1)[0]
    secrets.update(p for p in rest.split("/")[1:] if len(p) >= 8)
    for s in sorted(secrets, key=len, reverse=True):
        text = text.replace(s, "****")
    return visible_controls(text)[:500]


def send_test(cfg: Config) -> list[tuple[str, str | None]]:
    """`acorntui notify test`: one test message to every target. (label, problem or None)."""
    out = []
    for t in cfg.notify:
        problem = send(t, "acorntui test message",
                       "This is a test from acorntui notify test. If you can read it, this "
                       "target will receive the nightly alerts.")
        out.append((label(t), problem))
    return out


# -- events of a night ---------------------------------------------------------------------------

def _detail(r) -> str:
    """A nightly row's status as the message shows it: "FAILED (code 23, 4 errors)"."""
    bits = []
    if r.code is not None:
        bits.append(f"code {r.code}")
    if r.reason and r.reason not in r.label.lower():
        bits.append(r.reason)
    if r.error_count and not r.reason:
        bits.append(f"{r.error_count} error{'s' if r.error_count != 1 else ''}")
    return r.label + (f" ({', '.join(bits)})" if bits else "")


def night_events(night: dt.date, *, custbak_min: int = 3,
                 escalate_after: int = 3) -> list[Event]:
    """The failed, custbak, anomaly and escalation events of a night, from the database.

    Snoozed and inactive servers raise nothing. A server that is part of a custbak outage is
    in the custbak message, not again in the failed one. A server bad for ``escalate_after``
    nights or more, none of them acknowledged, is escalated (again each night until it is
    acknowledged or good).
    """
    from acorntui.services.queries import custbak_outages, nightly_rows

    rows = nightly_rows(night)
    total = len(rows)
    events: list[Event] = []
    outages = custbak_outages(rows, min_servers=custbak_min)
    in_outage = {lbl for o in outages for lbl in o.servers}
    by_label = {f"{r.customer}/{r.server}": r for r in rows}
    failed = [r for r in rows if r.counts_as_failing
              and f"{r.customer}/{r.server}" not in in_outage]
    if failed:
        events.append(Event("failed", night, "", [(r.customer, r.server, _detail(r))
                                                  for r in failed], total))
    for o in outages:
        servers = [(by_label[lbl].customer, by_label[lbl].server, _detail(by_label[lbl]))
                   for lbl in o.servers]
        events.append(Event("custbak", night, o.custbak[:100], servers, total))
    anomalies = sorted((r.customer, r.server, r.anomaly) for r in rows
                       if r.anomaly and not r.snoozed)
    if anomalies:
        events.append(Event("anomaly", night, "", anomalies, total))
    esc = sorted((r.customer, r.server, f"{r.label}, bad for {r.bad_streak} nights"
                  + (f" (last good {r.last_good})" if r.last_good else ""))
                 for r in escalated_rows(night, rows, escalate_after))
    if esc:
        events.append(Event("escalation", night, "", esc, total))
    return events


def escalated_rows(night: dt.date, rows: list | None = None, escalate_after: int = 3) -> list:
    """The nightly rows of servers bad for ``escalate_after`` nights or more running, none of
    those nights acknowledged, and not snoozed (a server's or its customer's maintenance
    window). ``rows``: :func:`acorntui.services.queries.nightly_rows` of the night, when the
    caller has them already."""
    from acorntui.services.queries import nightly_rows

    if rows is None:
        rows = nightly_rows(night)
    long_bad = {r.server_id: r for r in rows if r.counts_as_failing
                and r.bad_streak >= escalate_after}
    if not long_bad:
        return []
    start = night - dt.timedelta(days=max(r.bad_streak for r in long_bad.values()) - 1)
    acked = {(sid, _as_date(n)) for sid, n in
             Result.select(Result.server, Result.night)
             .where(Result.server.in_(list(long_bad)) & (Result.night >= start)
                    & (Result.night <= night) & Result.ack_at.is_null(False)).tuples()}
    return [r for r in long_bad.values()
            if not any(sid == r.server_id and n > night - dt.timedelta(days=r.bad_streak)
                       for sid, n in acked)]


def _as_date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def notify_night(cfg: Config, night: dt.date, events: list[Event] | None = None) -> NotifyReport:
    """Send the night's events to every target, once. Never raises for a failing target."""
    report = NotifyReport()
    if not cfg.notify:
        return report
    if events is None:
        events = night_events(night, escalate_after=cfg.escalate_after_nights)
    for target in cfg.notify:
        tid = target_id(target)
        for ev in events:
            if not target.wants(ev.kind):
                continue
            ev_t = ev.for_customers(target.customers)
            if not ev_t.servers:
                continue
            if Notification.select().where(
                    (Notification.night == night) & (Notification.event == ev.kind)
                    & (Notification.subject == ev.subject)
                    & (Notification.target == tid)).exists():
                report.already += 1
                continue
            problem = send(target, ev_t.title(), ev_t.body())
            if problem:
                report.problems.append(f"notify {ev.kind}: {problem}")
                continue
            try:
                with database_proxy.obj.atomic():
                    Notification.create(night=night, event=ev.kind, subject=ev.subject,
                                        target=tid, servers=len(ev_t.servers))
            except IntegrityError:
                pass  # another run recorded it meanwhile
            report.sent.append(Sent(label(target), ev.kind, ev.subject, len(ev_t.servers)))
    return report
