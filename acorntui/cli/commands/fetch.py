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
    from acorntui.jobs.nightly import run_fetch

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
    kw = dict(trust_new_host=args.trust_new_host, progress=ticker.fetch, servers=args.server,
              notify=print)
    if _no_database_yet(ctx.db_url):
        # no people yet, like an empty database: the first user may fetch (fetch writes only
        # the spool), and fetching does not create a database as a side effect
        report = fetch.pull(cfg, **kw)
    else:
        ctx.connect()
        report = run_fetch(cfg, **kw)  # needs the 'ingest' role: a CSR gets exit 3
    ticker.done()
    for s in report.servers:
        print(s.summary())
    for line in report.problems():
        eprint(f"acorntui: {line}")
    print(f"spool: {report.spool}")
    return 0 if report.ok else 1


def _no_database_yet(url: str) -> bool:
    from pathlib import Path

    from acorntui.db.connection import parse_url

    u = parse_url(url)
    return u.backend == "sqlite" and not Path(u.path).expanduser().exists()
