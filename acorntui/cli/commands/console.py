"""console: the console on the configured database (also the bare `acorntui`)."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("console", help="open the console (the default command)")
    p.add_argument("--theme", help="Textual theme, e.g. textual-light or textual-dark")
    p.set_defaults(func=run_console)


def open_app(url: str, cfg, theme: str | None = None, startup_error: str = "") -> int:
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
    return open_app(ctx.db_url, ctx.cfg, getattr(args, "theme", None), error)
