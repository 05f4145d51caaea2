"""reparse: fetch and re-parse one server's log, replacing that night's result."""

from __future__ import annotations

from acorntui.cli.common import UsageError, eprint, parse_date
from acorntui.core.textsafe import visible_controls


def register(sub) -> None:
    p = sub.add_parser("reparse", help="fetch and re-parse one server's log, replacing that "
                       "night's result")
    p.add_argument("target", metavar="CUSTOMER/SERVER")
    p.add_argument("--night", metavar="DATE", help="replace this night's result (YYYY-MM-DD)")
    p.set_defaults(func=cmd_reparse)


def cmd_reparse(args, ctx) -> int:
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
