"""nightly: fetch, ingest and mail the daily reports (the one command cron runs)."""

from __future__ import annotations

from acorntui.cli.common import eprint, parse_now
from acorntui.cli.progress import Ticker
from acorntui.core.textsafe import visible_controls


def register(sub) -> None:
    p = sub.add_parser("nightly", help="fetch, ingest and mail the daily reports; exit 1 "
                       "when anything failed")
    p.add_argument("--now", metavar="ISO", help="treat this as the current time")
    p.add_argument("--no-mail", action="store_true", help="do not send the daily mails")
    p.set_defaults(func=cmd_nightly)


def cmd_nightly(args, ctx) -> int:
    from peewee import DatabaseError, InterfaceError

    from acorntui.jobs.nightly import run_nightly

    now = parse_now(args.now)
    ticker = Ticker()
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
