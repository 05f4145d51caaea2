"""console (also the bare `acorntui`), demo and serve."""

from __future__ import annotations

import dataclasses
import shlex
import sys

from acorntui.cli.common import UsageError, eprint


def register(sub) -> None:
    p = sub.add_parser("console", help="open the console (the default command)")
    p.add_argument("--theme", help="Textual theme, e.g. textual-light or textual-dark")
    p.set_defaults(func=run_console)

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

    p = sub.add_parser("serve", help="the console in a web browser (textual-serve)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default "
                   "127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--demo", action="store_true", help="serve the demo database")
    p.add_argument("--public-url", help="URL the browser uses, when behind a proxy")
    p.set_defaults(func=cmd_serve)


def _open_app(url: str, cfg, theme: str | None = None, startup_error: str = "") -> int:
    from acorntui.app import AcornApp

    app = AcornApp(cfg=cfg, db_url=url, startup_error=startup_error, theme=theme)
    app.run()
    return int(app.return_code or 0)


def run_console(args, ctx) -> int:
    """`acorntui` / `acorntui console`: the console on the configured database.

    An unreachable database does not stop the console: it opens, says so, and retries on
    ctrl+r (the grid's loader reconnects)."""
    from acorntui.db.connection import DatabaseUnavailable

    error = ""
    try:
        ctx.connect()
    except DatabaseUnavailable as exc:
        error = f"{exc}. Press ctrl+r to retry."
    return _open_app(ctx.db_url, ctx.cfg, getattr(args, "theme", None), error)


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
    return _open_app(url, cfg, getattr(args, "theme", None))


def cmd_serve(args, ctx) -> int:
    try:
        from textual_serve.server import Server
    except ImportError:
        raise UsageError("serve needs textual-serve: pip install 'acorntui[serve]'") from None
    from acorntui.jobs import demo

    cmd = [sys.executable, "-m", "acorntui"]
    if args.config:
        cmd += ["--config", args.config]
    if args.demo:
        info, _built = demo.ensure_demo(None)
        cmd += ["--db", f"sqlite:///{info.path}", "console"]
    else:
        cmd += ["--db", ctx.db_url, "console"]
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        eprint(f"acorntui serve: listening on {args.host}: anyone who can reach it can use the "
               "console with your rights")
    server = Server(shlex.join(cmd), host=args.host, port=args.port,
                    title="acorntui", public_url=args.public_url)
    eprint(f"acorntui serve: http://{args.host}:{args.port}/")
    server.serve()
    return 0
