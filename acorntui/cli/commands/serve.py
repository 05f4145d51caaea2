"""serve: the console in a web browser (textual-serve)."""

from __future__ import annotations

import shlex
import sys

from acorntui.cli.common import UsageError, eprint


def register(sub) -> None:
    p = sub.add_parser("serve", help="the console in a web browser (textual-serve)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default "
                   "127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--demo", action="store_true", help="serve the demo database")
    p.add_argument("--public-url", help="URL the browser uses, when behind a proxy")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args, ctx) -> int:
    try:
        from textual_serve.server import Server
    except ImportError:
        # a dependency of acorntui: missing only from a broken or hand-made environment
        raise UsageError("serve needs the textual-serve package, which acorntui depends on and "
                         "this environment lacks: reinstall acorntui here, or pip install "
                         "textual-serve") from None
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
