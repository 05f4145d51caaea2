"""demo: build a realistic demo database through the real parser, then open the console."""

from __future__ import annotations

import dataclasses
import sys

from acorntui.cli.commands.console import open_app
from acorntui.cli.common import UsageError, eprint


def register(sub) -> None:
    p = sub.add_parser("demo", help="build a realistic demo database through the real parser, "
                       "then open the console on it")
    p.add_argument("--servers", type=int, default=120, help="how many servers (default 120)")
    p.add_argument("--days", type=int, default=60, help="how many nights (default 60)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default fixed)")
    p.add_argument("--rebuild", action="store_true", help="build again even if today's demo "
                   "database with the same parameters exists")
    p.add_argument("--no-tui", action="store_true", help="build the database and print where "
                   "it is; do not open the console")
    p.add_argument("--theme", help="Textual theme, e.g. textual-light")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args, ctx) -> int:
    from pathlib import Path

    from acorntui.jobs import demo

    if args.servers < 1 or args.servers > 20000:
        raise UsageError("--servers: between 1 and 20000")
    if args.days < 1 or args.days > 1200:
        raise UsageError("--days: between 1 and 1200")
    if getattr(args, "db", None):
        url = args.db
        if not url.startswith("sqlite:///"):
            raise UsageError("demo: --db must be a sqlite:/// URL (the demo never writes to "
                             "a shared server)")
        path = Path(url[len("sqlite:///"):]).expanduser()
    else:
        path = demo.default_demo_path()
    seed = args.seed if args.seed is not None else demo.DEFAULT_SEED

    def progress(msg: str) -> None:
        if sys.stderr.isatty():
            print(f"\r\x1b[Kbuilding demo: {msg}", end="", file=sys.stderr, flush=True)

    info, built = demo.ensure_demo(path, servers=args.servers, days=args.days, seed=seed,
                                   rebuild=args.rebuild, progress=progress)
    if sys.stderr.isatty():
        print("\r\x1b[K", end="", file=sys.stderr)
    how = (f"built in {info.seconds:.1f} s from {info.logs} generated logs" if built
           else "reused (built today with the same parameters; --rebuild forces)")
    eprint(f"demo database {path}: {info.servers} servers, {info.days} nights "
           f"({info.nights[0]} .. {info.nights[-1]}), {how}")
    url = f"sqlite:///{path}"
    if args.no_tui:
        print(url)
        return 0
    # the demo has no report server: `r` re-reads the demo's own spool copies
    cfg = dataclasses.replace(ctx.cfg, spool_dir=demo.spool_path(path), report_servers=[])
    return open_app(url, cfg, getattr(args, "theme", None))
