"""serve: the console in a web browser (textual-serve)."""

from __future__ import annotations

from acorntui.cli.common import UsageError


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
        from acorntui.cli.token_server import serve
    except ImportError:
        # a dependency of acorntui: missing only from a broken or hand-made environment
        raise UsageError("serve needs the textual-serve package, which acorntui depends on and "
                         "this environment lacks: reinstall acorntui here, or pip install "
                         "textual-serve") from None
    return serve(args, ctx)
