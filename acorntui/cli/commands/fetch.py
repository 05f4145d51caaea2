"""fetch, nightly, reparse."""

from __future__ import annotations

import sys
import time

from acorntui.cli.common import UsageError, eprint
from acorntui.core.textsafe import visible_controls


def register(sub) -> None:
    p = sub.add_parser("fetch", help="pull every <customer>/<server>.out from the report "
                       "server(s) over SSH into the spool")
    p.add_argument("--trust-new-host", action="store_true",
                   help="record an unknown host key (after printing its fingerprint); a "
                   "changed key is always refused")
    p.add_argument("--server", action="append", metavar="NAME",
                   help="only this report server (repeatable)")
    p.set_defaults(func=cmd_fetch)

    p = sub.add_parser("nightly", help="fetch, ingest and mail the daily reports; exit 1 "
                       "when anything failed")
    p.add_argument("--now", metavar="ISO", help="treat this as the current time")
    p.add_argument("--no-mail", action="store_true", help="do not send the daily mails")
    p.set_defaults(func=cmd_nightly)

    p = sub.add_parser("reparse", help="fetch and re-parse one server's log, replacing that "
                       "night's result")
    p.add_argument("target", metavar="CUSTOMER/SERVER")
    p.add_argument("--night", metavar="DATE", help="replace this night's result (YYYY-MM-DD)")
    p.set_defaults(func=cmd_reparse)


class _Ticker:
    """Progress on a terminal (stderr), at most ten updates a second."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last = 0.0
        self.width = 0

    def show(self, text: str, force: bool = False) -> None:
        if not self.tty:
            return
        t = time.monotonic()
        if not force and t - self.last < 0.1:
            return
        self.last = t
        sys.stderr.write("\r" + text.ljust(self.width))
        sys.stderr.flush()
        self.width = len(text)

    def done(self) -> None:
        if self.tty and self.width:
            sys.stderr.write("\r" + " " * self.width + "\r")
            sys.stderr.flush()
            self.width = 0

    def fetch(self, pull, event: str) -> None:
        done = len(pull.fetched)
        self.show(f"fetch {pull.name}: {done}/{pull.todo} files, {pull.bytes / 1e6:.1f} MB "
                  f"({pull.unchanged} unchanged)", force=event == "listed")

    def ingest_counter(self):
        n = [0]

        def progress(outcome) -> None:
            n[0] += 1
            self.show(f"parsed {n[0]} logs: "
                      f"{visible_controls(f'{outcome.customer}/{outcome.server}')}")
        return progress


def cmd_fetch(args, ctx) -> int:
    from acorntui import fetch

    cfg = ctx.cfg
    if not cfg.report_servers:
        raise UsageError(f"no report server configured: add a [[report_servers]] table to "
                         f"{cfg.path}")
    known = {s.name for s in cfg.report_servers}
    for name in args.server or []:
        if name not in known:
            raise UsageError(f"--server {name}: not a configured report server "
                             f"({', '.join(sorted(known))})")
    ticker = _Ticker()
    report = fetch.pull(cfg, trust_new_host=args.trust_new_host, progress=ticker.fetch,
                        servers=args.server, notify=print)
    ticker.done()
    for s in report.servers:
        print(s.summary())
    for line in report.problems():
        eprint(f"acorntui: {line}")
    print(f"spool: {report.spool}")
    return 0 if report.ok else 1


def cmd_nightly(args, ctx) -> int:
    from peewee import DatabaseError, InterfaceError

    from acorntui.cli.commands.parse import parse_now
    from acorntui.jobs.nightly import run_nightly

    now = parse_now(args.now)
    ticker = _Ticker()
    try:
        ctx.connect()
        run = run_nightly(ctx.cfg, now=now, fetch_progress=ticker.fetch,
                          ingest_progress=ticker.ingest_counter(), send_mail=not args.no_mail)
    except (DatabaseError, InterfaceError) as exc:
        ticker.done()
        from acorntui.cli.common import db_error_text
        from acorntui.db.connection import mask_url

        eprint(f"acorntui: database error on {mask_url(ctx.db_url)}: {db_error_text(exc)}")
        return 1
    ticker.done()
    for line in run.summary():
        print(visible_controls(line))  # log-derived text (ingest errors) included
    return 0 if run.ok else 1


def cmd_reparse(args, ctx) -> int:
    from acorntui.cli.commands.parse import parse_date
    from acorntui.jobs.reparse import ReparseError, reparse_server

    customer, sep, server = args.target.partition("/")
    if not sep or not customer or not server or "/" in server:
        raise UsageError(f"{args.target!r}: expected CUSTOMER/SERVER")
    night = parse_date(args.night)
    ctx.connect()
    try:
        out = reparse_server(ctx.cfg, customer, server, night=night)
    except ReparseError as exc:
        eprint(visible_controls(f"acorntui: reparse {customer}/{server}: {exc}"))
        return 1
    reason = f" ({out.reason})" if out.reason else ""
    # the reason comes from the log, which the backed-up machine wrote
    print(visible_controls(f"{customer}/{server} night {out.night}: {out.status}{reason}, "
                           f"code {out.code}"))
    print(visible_controls(f"log: {out.path} [{out.source}]"))
    return 0
