"""report: nightly, history and failure reports; mail them; resend a kept one."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from acorntui.cli.common import UsageError, eprint

KINDS = ("nightly", "history", "failures", "monthly")
FORMATS = ("text", "csv", "json", "html")


def register(sub) -> None:
    p = sub.add_parser(
        "report", help="nightly, history and failure reports (text, CSV, JSON, HTML; mail)",
        description="Print or mail a report. `failures --days 3` is the three-day report: "
        "servers not ok on each of the last 3 nights (a night without a result counts as not "
        "ok). Snoozed and inactive servers do not count as failing. `monthly --customer C "
        "[--month YYYY-MM]` is a customer's month, written for the customer.")
    p.add_argument("kind", nargs="?", choices=KINDS, help="which report")
    p.add_argument("--night", metavar="DATE",
                   help="the backup night (YYYY-MM-DD; default: the latest night with results)")
    p.add_argument("--days", type=int, metavar="N",
                   help="failures: servers not ok on each of the last N nights; "
                   "history: nights in the server x night matrix (default 14)")
    p.add_argument("--customer", metavar="C", help="only this customer's servers "
                   "(monthly: the customer, required)")
    p.add_argument("--month", metavar="YYYY-MM",
                   help="monthly: the month (default: the previous calendar month)")
    p.add_argument("--server", metavar="CUSTOMER/SERVER", help="history: one server")
    p.add_argument("--format", choices=FORMATS, default="text",
                   help="text (aligned table), csv, json or html (one self-contained file)")
    p.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE")
    p.add_argument("--email", action="store_true",
                   help="mail the report (text + HTML) to [mail] to, and to each rep their own "
                   "servers when route_to_reps = true; monthly: to the customer's email")
    p.add_argument("--max-files", type=int, default=100, metavar="N",
                   help="failing files listed per server (default 100)")
    p.add_argument("--resend", metavar="FILE",
                   help="send a report kept in the outbox after a failed send, then remove it")
    p.set_defaults(func=handler)


def _night(text: str | None) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--night: {text!r} is not a date (YYYY-MM-DD)") from None


def _check_args(args) -> None:
    if not args.kind:
        raise UsageError("which report? nightly, history, failures or monthly "
                         "(or --resend FILE)")
    if args.month:
        raise UsageError("--month applies to the monthly report")
    if args.days is not None and args.days < 1:
        raise UsageError("--days must be 1 or more")
    if args.days is not None and args.kind == "nightly":
        raise UsageError("--days applies to failures and history, not nightly")
    if args.server and args.kind != "history":
        raise UsageError("--server applies to the history report")
    if args.server and "/" not in args.server:
        raise UsageError(f"--server: {args.server!r} is not CUSTOMER/SERVER")
    if args.max_files < 0:
        raise UsageError("--max-files must be 0 or more")


def handler(args, ctx) -> int:
    from acorntui.reports import mail
    from acorntui.reports.build import safe

    settings = ctx.cfg.mail
    if args.resend:
        if args.kind:
            raise UsageError("--resend sends a kept file; give no report name with it")
        try:
            out = mail.resend(settings, args.resend)
        except mail.MailError as exc:
            eprint(f"acorntui: {safe(exc)}; the file stays in place: {args.resend}")
            return 1
        print(f"sent {out.subject!r} to {safe(', '.join(out.to))}; removed {args.resend}")
        return 0
    if args.kind == "monthly":
        return _monthly(args, ctx)
    _check_args(args)
    night = _night(args.night)

    from acorntui.reports.build import ReportError, build_report, render

    ctx.connect()
    try:
        rep = build_report(args.kind, night, days=args.days, customer=args.customer,
                           server=args.server, max_files=args.max_files)
    except ReportError as exc:
        eprint(f"acorntui: {exc}")
        return 1
    if args.customer and not rep.rows and not rep.entries:
        eprint(f"acorntui: no active servers for customer {args.customer!r}")
        return 1
    if args.output or not args.email:
        _emit(args, render(rep, args.format))
    if not args.email:
        return 0
    route = mail.routing_enabled(settings) and rep.kind == "failures"
    msgs, problems = mail.report_messages(settings, [rep], route=route)
    delivery = mail.send_messages(settings, msgs)
    for o in delivery.outcomes:
        if o.sent:
            print(f"sent {o.subject!r} to {safe(', '.join(o.to))}")
    for problem in problems + delivery.problems:  # may quote the SMTP server's answer
        eprint(f"acorntui: {safe(problem)}")
    return 1 if (problems or delivery.problems) else 0


def _monthly(args, ctx) -> int:
    from acorntui.reports import mail
    from acorntui.reports.build import ReportError, safe
    from acorntui.reports.monthly import monthly_report, parse_month, render_monthly

    if not args.customer:
        raise UsageError("monthly: --customer C is required (the report is for one customer)")
    for opt in ("night", "days", "server"):
        if getattr(args, opt):
            raise UsageError(f"--{opt} does not apply to the monthly report (use --month)")
    try:
        month = parse_month(args.month)
    except ReportError as exc:
        raise UsageError(str(exc)) from None
    ctx.connect()
    try:
        rep = monthly_report(args.customer, month)
    except ReportError as exc:
        eprint(f"acorntui: {exc}")
        return 1
    if args.output or not args.email:
        _emit(args, render_monthly(rep, args.format))
    if not args.email:
        return 0
    sent, problems = mail.send_monthly_reports(ctx.cfg, [rep])
    for subject, to in sent:
        print(f"sent {subject!r} to {safe(to)}")
    for problem in problems:
        eprint(f"acorntui: {safe(problem)}")
    return 1 if problems else 0


def _emit(args, body: str) -> None:
    """A rendered report to --output, or to stdout."""
    if args.output:
        Path(args.output).expanduser().write_text(body, encoding="utf-8")
        print(f"wrote {args.format} report to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(body)
