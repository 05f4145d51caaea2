"""fetch: pull every <customer>/<server>.out from the report server(s) into the spool."""

from __future__ import annotations

from acorntui.cli.common import UsageError, eprint
from acorntui.cli.progress import Ticker


def register(sub) -> None:
    p = sub.add_parser("fetch", help="pull every <customer>/<server>.out from the report "
                       "server(s) over SSH into the spool")
    p.add_argument("--trust-new-host", action="store_true",
                   help="record an unknown host key (after printing its fingerprint); a "
                   "changed key is always refused")
    p.add_argument("--server", action="append", metavar="NAME",
                   help="only this report server (repeatable)")
    p.set_defaults(func=cmd_fetch)


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
    ticker = Ticker()
    report = fetch.pull(cfg, trust_new_host=args.trust_new_host, progress=ticker.fetch,
                        servers=args.server, notify=print)
    ticker.done()
    for s in report.servers:
        print(s.summary())
    for line in report.problems():
        eprint(f"acorntui: {line}")
    print(f"spool: {report.spool}")
    return 0 if report.ok else 1
