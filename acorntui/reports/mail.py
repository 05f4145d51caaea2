"""SMTP delivery of reports: multipart text + HTML, an outbox for what could not be sent.

Settings come from the config file's ``[mail]`` table (:class:`acorntui.config.MailSettings`).
The password comes from the file or from the environment variable ``password_env`` names; it
is never taken from the command line and never appears in a message or a log line.

When a message cannot be sent it is written to the outbox folder (``[mail] outbox_dir``,
default ``<data dir>/outbox``) as a ``.eml`` file, and the problem names the server's answer
and the file; ``acorntui report --resend FILE`` sends it again and removes it.

Per-rep routing (``route_to_reps = true`` in ``[mail]``): besides the ``to`` list, each CSR
(by Customer.csr) and each TSR (by Server.tsr) with an email address gets the failures of
their own customers/servers only, and nothing when none of theirs failed.
"""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import os
import re
import smtplib
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid
from pathlib import Path

from acorntui.config import Config, MailSettings, data_dir, make_private_dir
from acorntui.reports.build import Report, build_report, render_html, render_text, safe


class MailError(Exception):
    """Sending failed; the message holds the server's answer (never the password)."""


@dataclass
class SendOutcome:
    subject: str
    to: list[str]
    sent: bool
    problem: str = ""
    kept: Path | None = None  # outbox file when not sent


@dataclass
class Delivery:
    outcomes: list[SendOutcome] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return [o.problem for o in self.outcomes if not o.sent]


def outbox_dir(settings: MailSettings) -> Path:
    return Path(settings.outbox_dir).expanduser() if settings.outbox_dir else (
        data_dir() / "outbox")


# RFC 5322 allows 998 characters a line; folding at 78 would push a long subject onto a
# continuation line, which some clients show with a leading space
_POLICY = email.policy.SMTP.clone(max_line_length=998)


def build_message(settings: MailSettings, subject: str, text: str, html_body: str,
                  to: list[str]) -> EmailMessage:
    msg = EmailMessage(policy=_POLICY)
    msg["Subject"] = safe(subject)  # names come from the database: no CR/LF in headers
    msg["From"] = settings.sender or (settings.user or "acorntui")
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(localtime=True)
    domain = settings.sender.rpartition("@")[2] or None
    msg["Message-ID"] = make_msgid(domain=domain)
    msg.set_content(text)
    msg.add_alternative(html_body, subtype="html")
    return msg


def report_message(settings: MailSettings, rep: Report, to: list[str]) -> EmailMessage:
    return build_message(settings, rep.subject, render_text(rep), render_html(rep), to)


def _answer(exc: smtplib.SMTPResponseException) -> str:
    err = exc.smtp_error
    text = err.decode("utf-8", "replace") if isinstance(err, bytes) else str(err)
    return f"{exc.smtp_code} {' '.join(text.split())}"


def _where(settings: MailSettings) -> str:
    return f"SMTP server {settings.host}:{settings.port}"


class _Connection:
    """One SMTP session for several messages (one login, one timeout if unreachable)."""

    def __init__(self, settings: MailSettings):
        self.settings = settings
        self.smtp: smtplib.SMTP | None = None

    def open(self) -> None:
        s = self.settings
        if not s.host:
            raise MailError("no SMTP server: set host in the [mail] table of the config file")
        password = s.resolved_password()
        if s.user and not password:
            how = (f"the environment variable {s.password_env} is not set" if s.password_env
                   else "set password_env (or password) in [mail]")
            raise MailError(f"[mail] user {s.user!r} has no password: {how}")
        context = tls_context(s) if s.security in ("tls", "starttls") else None
        try:
            if s.security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout, context=context)
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            self.smtp = smtp
            smtp.ehlo()
            if s.security == "starttls":
                # never fall back to plain text when the server does not offer STARTTLS
                smtp.starttls(context=context)
                smtp.ehlo()
            if s.user:
                smtp.login(s.user, password)
        except smtplib.SMTPResponseException as exc:
            self.close()
            # a server may echo what it got (AUTH PLAIN/LOGIN are base64 of the password)
            raise MailError(f"{_where(s)} refused: "
                            f"{_redact(_answer(exc), s.user, password)}") from None
        except smtplib.SMTPNotSupportedError as exc:
            self.close()
            raise MailError(f"{_where(s)}: {_redact(str(exc), s.user, password)}") from None
        except ssl.SSLCertVerificationError as exc:
            self.close()
            raise MailError(f"{_where(s)}: certificate not trusted: "
                            f"{exc.verify_message or exc.reason or exc}"
                            f" ({_trusted_by(s)})") from None
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise MailError(f"cannot reach {_where(s)}: "
                            f"{_redact(_os_text(exc), s.user, password)}") from None

    def send(self, msg: EmailMessage) -> None:
        assert self.smtp is not None
        try:
            refused = self.smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            raise MailError(f"{_where(self.settings)} refused every recipient: "
                            + _refused(exc.recipients)) from None
        except smtplib.SMTPResponseException as exc:
            raise MailError(f"{_where(self.settings)} refused the message: {_answer(exc)}"
                            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            self.smtp = None
            raise MailError(f"{_where(self.settings)} dropped the connection: {_os_text(exc)}"
                            ) from None
        if refused:
            raise MailError(f"{_where(self.settings)} refused some recipients: "
                            + _refused(refused))

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (OSError, smtplib.SMTPException):
                self.smtp.close()
            self.smtp = None


def _redact(text: str, user: str, password: str) -> str:
    """``text`` without the password, in clear or as the base64 that AUTH LOGIN, AUTH PLAIN
    (and CRAM-MD5's user line) send."""
    if not password:
        return text
    forms = {password}
    for raw in (password, f"\0{user}\0{password}", f"{user}\0{user}\0{password}"):
        forms.add(base64.b64encode(raw.encode("utf-8")).decode("ascii"))
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "***")
    return text


def _ca_file(settings: MailSettings) -> str:
    return str(settings.extra.get("ca_file", "") or "")


def _trusted_by(settings: MailSettings) -> str:
    ca = _ca_file(settings)
    return (f"checked against ca_file {ca}" if ca else
            "checked against the system CAs; for a private CA set ca_file in [mail]")


def tls_context(settings: MailSettings) -> ssl.SSLContext:
    """Certificate and host name checked; against ``[mail] ca_file`` (a PEM file with the CA
    or the server's own self-signed certificate) when set, else the system CAs."""
    ca = _ca_file(settings)
    if not ca:
        return ssl.create_default_context()
    path = Path(ca).expanduser()
    try:
        return ssl.create_default_context(cafile=str(path))
    except (OSError, ssl.SSLError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise MailError(f"[mail] ca_file {path}: cannot load it: {why}") from None


def _refused(recipients: dict) -> str:
    out = []
    for addr, (code, text) in recipients.items():
        t = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        out.append(f"{addr}: {code} {t}")
    return "; ".join(out)


def _os_text(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or exc.__class__.__name__


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:80] or "report"


def keep_in_outbox(settings: MailSettings, msg: EmailMessage) -> Path:
    """Write the message as a .eml file (mode 600) for ``report --resend``."""
    folder = outbox_dir(settings)
    make_private_dir(folder)  # default: inside the user data folder, made 0750
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{_slug(str(msg['Subject'] or ''))}"
    path = folder / f"{base}.eml"
    i = 1
    while path.exists():
        path = folder / f"{base}-{i}.eml"
        i += 1
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(msg.as_bytes(policy=_POLICY))
    return path


def send_messages(settings: MailSettings, msgs: Iterable[EmailMessage]) -> Delivery:
    """Send over one session; whatever is not sent goes to the outbox."""
    msgs = list(msgs)
    out = Delivery()
    conn = _Connection(settings)
    conn_error: str | None = None
    try:
        conn.open()
    except MailError as exc:
        conn_error = str(exc)
    try:
        for msg in msgs:
            to = _recipients(msg)
            problem = conn_error
            if problem is None:
                if conn.smtp is None:  # dropped while sending an earlier message
                    try:
                        conn.open()
                    except MailError as exc:
                        conn_error = problem = str(exc)
                if problem is None:
                    try:
                        conn.send(msg)
                    except MailError as exc:
                        problem = str(exc)
            if problem is None:
                out.outcomes.append(SendOutcome(str(msg["Subject"]), to, True))
                continue
            kept = keep_in_outbox(settings, msg)
            out.outcomes.append(SendOutcome(
                str(msg["Subject"]), to, False,
                f"{problem}; not sent: {msg['Subject']!s} (to {', '.join(to)}), kept in "
                f"{kept}; send it again with: acorntui report --resend {kept}", kept))
    finally:
        conn.close()
    return out


def _recipients(msg: EmailMessage) -> list[str]:
    fields = msg.get_all("To", []) + msg.get_all("Cc", [])
    return [addr for _name, addr in getaddresses([str(f) for f in fields]) if addr]


def resend(settings: MailSettings, path: str | os.PathLike) -> SendOutcome:
    """Send a kept .eml again (to the recipients in its To/Cc); remove it once sent."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            msg = email.message_from_binary_file(f, policy=_POLICY)
    except OSError as exc:
        raise MailError(f"cannot read {p}: {exc.strerror or exc}") from None
    to = _recipients(msg)
    if not to:
        raise MailError(f"{p} names no recipient (To/Cc)")
    conn = _Connection(settings)
    try:
        conn.open()
        conn.send(msg)
    finally:
        conn.close()
    p.unlink()
    return SendOutcome(str(msg["Subject"]), to, True)


# ---- routing to reps ----------------------------------------------------------------------


@dataclass
class RepRoute:
    email: str
    names: list[str] = field(default_factory=list)
    server_ids: set[int] = field(default_factory=set)

    @property
    def scope(self) -> str:
        return "for " + " / ".join(sorted(set(self.names)))


def rep_routes(rep: Report) -> dict[str, RepRoute]:
    """email -> the servers of the report that rep looks after (CSR: customer; TSR: server)."""
    from acorntui.db.models import Csr, Customer, Server, Tsr

    server_ids = {r.server_id for r in rep.rows} | {e.server_id for e in rep.entries}
    customer_of = {r.server_id: r.customer_id for r in rep.rows}
    routes: dict[str, RepRoute] = {}

    def add(addr: str, name: str, sid: int) -> None:
        key = addr.strip().lower()
        route = routes.setdefault(key, RepRoute(addr.strip()))
        route.names.append(name)
        route.server_ids.add(sid)

    csr_of: dict[int, tuple[str, str]] = {
        cid: (name, addr) for cid, name, addr in
        Customer.select(Customer.id, Csr.name, Csr.email).join(Csr)
        .where((Csr.active == True) & (Csr.email != "")).tuples()}  # noqa: E712
    for sid in server_ids:
        hit = csr_of.get(customer_of.get(sid, -1))
        if hit:
            add(hit[1], hit[0], sid)
    ids = list(server_ids)
    for i in range(0, len(ids), 500):
        q = (Server.select(Server.id, Tsr.name, Tsr.email).join(Tsr)
             .where(Server.id.in_(ids[i:i + 500]) & (Tsr.active == True)  # noqa: E712
                    & (Tsr.email != "")).tuples())
        for sid, name, addr in q:
            add(addr, name, sid)
    return routes


def report_messages(settings: MailSettings, reports: list[Report], *, route: bool
                    ) -> tuple[list[EmailMessage], list[str]]:
    """The messages for some reports: the ``to`` list gets each; reps get theirs (non-empty)."""
    msgs, problems = [], []
    if not settings.to and not route:
        problems.append("no recipients: set to = [...] (or route_to_reps = true) in [mail]")
    for rep in reports:
        if settings.to:
            msgs.append(report_message(settings, rep, settings.to))
        if route:
            for r in rep_routes(rep).values():
                mine = rep.only(r.server_ids, scope=r.scope)
                if not mine.entries and not mine.anomalies:
                    continue
                try:
                    msgs.append(report_message(settings, mine, [r.email]))
                except ValueError as exc:  # a stored address no mail header can carry
                    problems.append(f"mail: cannot address {safe(r.email)} "
                                    f"({', '.join(r.names)}): {safe(exc)}")
    return msgs, problems


def routing_enabled(settings: MailSettings) -> bool:
    return bool(settings.extra.get("route_to_reps", False))


def send_daily_reports(cfg: Config, night: dt.date | None = None) -> list[str]:
    """Mail the failures report of ``night`` (default: the latest night with results) and the
    three-day report. The database must be connected. Returns the problems (empty: all sent);
    what was not sent is kept in the outbox."""
    return deliver_daily_reports(cfg, night)[1]


def deliver_daily_reports(cfg: Config, night: dt.date | None = None) -> tuple[int, list[str]]:
    """:func:`send_daily_reports`, also saying how many messages were sent."""
    settings = cfg.mail
    if not settings.host:
        return 0, ["mail: no SMTP server configured (host in the [mail] table of the config "
                   "file)"]
    try:
        daily = build_report("failures", night)
        three = build_report("failures", daily.night, days=3)
    except Exception as exc:  # noqa: BLE001 - a report problem is a problem to return
        return 0, [f"mail: cannot build the reports: {exc}"]
    msgs, problems = report_messages(settings, [daily, three], route=routing_enabled(settings))
    delivery = send_messages(settings, msgs)
    sent = sum(1 for o in delivery.outcomes if o.sent)
    return sent, problems + delivery.problems


# ---- monthly reports for customers --------------------------------------------------------


def monthly_enabled(settings: MailSettings) -> bool:
    return bool(settings.extra.get("monthly_customer_reports", False))


def send_monthly_reports(cfg: Config, reports: list) -> tuple[list[tuple[str, str]], list[str]]:
    """Mail each customer their monthly report (to ``customers.email``). Returns what was
    sent as (subject, address) and the problems; what was not sent is kept in the outbox."""
    from acorntui.reports.monthly import render_monthly

    settings = cfg.mail
    if not settings.host:
        return [], ["mail: no SMTP server configured (host in the [mail] table of the config "
                    "file)"]
    msgs, problems = [], []
    for rep in reports:
        if not rep.email.strip():
            problems.append(f"mail: customer {safe(rep.customer)} has no email address; set "
                            f"it with `acorntui customer` or in the console")
            continue
        try:
            msgs.append(build_message(settings, rep.subject, render_monthly(rep, "text"),
                                      render_monthly(rep, "html"), [rep.email.strip()]))
        except ValueError as exc:  # a stored address no mail header can carry
            problems.append(f"mail: cannot address {safe(rep.email)} ({safe(rep.customer)}): "
                            f"{safe(exc)}")
    delivery = send_messages(settings, msgs)
    sent = [(o.subject, ", ".join(o.to)) for o in delivery.outcomes if o.sent]
    return sent, problems + delivery.problems


def send_previous_month(cfg: Config, today: dt.date) -> tuple[int, list[str]]:
    """On the 1st, every active customer with an address gets last month's report."""
    from acorntui.db.models import Customer, Server
    from acorntui.reports.build import ReportError
    from acorntui.reports.monthly import monthly_report, parse_month

    month = parse_month(None, today)
    names = [n for (n,) in Customer.select(Customer.name).join(Server).where(
        (Customer.active == True) & (Customer.email != "")  # noqa: E712
        & (Server.active == True)).distinct().tuples()]  # noqa: E712
    reports, problems = [], []
    for name in sorted(names):
        try:
            reports.append(monthly_report(name, month))
        except ReportError as exc:
            problems.append(f"mail: monthly report for {safe(name)}: {exc}")
    sent, more = send_monthly_reports(cfg, reports)
    return len(sent), problems + more


# ---- escalation copies to the TSR3s ---------------------------------------------------------

ESCALATION_EVENT = "escalation_mail"  # notifications.event of a copy mailed to the TSR3s
ESCALATION_TARGET = "tsr3-mail"  # notifications.target of those copies


def tsr3_addresses() -> list[str]:
    """The active TSR3s' email addresses (they handle what a TSR could not)."""
    from acorntui.db.models import Tsr

    seen: dict[str, str] = {}
    for (addr,) in (Tsr.select(Tsr.email).where(
            (Tsr.level == 3) & (Tsr.active == True) & (Tsr.email != ""))  # noqa: E712
            .order_by(Tsr.name).tuples()):
        seen.setdefault(addr.strip().lower(), addr.strip())
    return list(seen.values())


@dataclass
class EscalationRun:
    sent: list[str] = field(default_factory=list)  # customer/server of each copy sent
    already: int = 0  # copies an earlier run sent for this night
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def send_escalations(cfg: Config, night: dt.date) -> EscalationRun:
    """Each server bad for ``[alerts] escalate_after_nights`` nights running, not acknowledged
    and not in a maintenance window, gets a copy of its entry in the daily mail sent to the
    TSR3s, once per night: what was sent is kept in the ``notifications`` table (as the chat
    notifications are), so running ``nightly`` again does not send it twice. A copy that
    could not be sent is kept in the outbox and tried again on the next run."""
    from acorntui.alerts.notify import escalated_rows
    from acorntui.db.models import Notification, database_proxy
    from acorntui.reports.build import plural

    out = EscalationRun()
    rows = sorted(escalated_rows(night, None, cfg.escalate_after_nights),
                  key=lambda r: (r.customer, r.server))
    if not rows:
        return out
    done = {subject for (subject,) in Notification.select(Notification.subject).where(
        (Notification.night == night) & (Notification.event == ESCALATION_EVENT)
        & (Notification.target == ESCALATION_TARGET)).tuples()}
    todo = [r for r in rows if f"server {r.server_id}" not in done]
    out.already = len(rows) - len(todo)
    if not todo:
        return out
    to = tsr3_addresses()
    if not to:
        out.notes.append(f"escalation: {plural(len(todo), 'server')} bad "
                         f"{cfg.escalate_after_nights}+ nights running, but no active TSR3 has "
                         "an email address to send the copy to")
        return out
    daily = build_report("failures", night)
    msgs = []
    for r in todo:
        one = daily.only({r.server_id}, scope="(escalated)")
        subject = (f"Escalation: {r.customer}/{r.server} bad {r.bad_streak} nights running, "
                   f"not acknowledged ({night})")
        msgs.append(build_message(cfg.mail, subject, render_text(one), render_html(one), to))
    delivery = send_messages(cfg.mail, msgs)
    for r, outcome in zip(todo, delivery.outcomes, strict=True):
        if not outcome.sent:
            out.problems.append(outcome.problem)
            continue
        with database_proxy.obj.atomic():
            Notification.get_or_create(night=night, event=ESCALATION_EVENT,
                                       subject=f"server {r.server_id}",
                                       target=ESCALATION_TARGET,
                                       defaults={"servers": 1})
        out.sent.append(f"{r.customer}/{r.server}")
    return out
