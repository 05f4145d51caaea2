"""`acorntui serve`: the console in a browser (textual-serve), behind a per-run secret token.

Whoever opens the page drives a console running as the serving OS user, so:

- every start makes a new token; the page (``/?token=T``) and the websocket (``/ws/T``) answer
  403 without it, on loopback too (any local user can reach a loopback port). The static
  assets carry no data and stay open; ``/download/{key}`` keys are random and only ever sent
  over an authenticated websocket.
- no secret goes into a child's arguments (``ps`` shows them to every user) or the banner: the
  database URL reaches each session's process through the ``ACORN_DB`` environment variable,
  which only the same OS user (and root) can read.
- the token is printed once; the per-request access log (which would repeat it) is off.
"""

from __future__ import annotations

import hmac
import logging
import os
import pwd
import secrets
import shlex
import sys
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from textual_serve.server import Server

from acorntui.cli.common import eprint

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class TokenServer(Server):
    """textual-serve's Server with every page and websocket behind ``token``."""

    def __init__(self, command: str, *, token: str, banner: list[str], **kwargs: Any):
        super().__init__(command, **kwargs)
        self.token = token
        self.banner = banner

    def _allowed(self, request: web.Request) -> bool:
        path = request.path
        if path.startswith("/static/") or path.startswith("/download/"):
            return True
        given = request.match_info.get("token") or request.query.get("token", "")
        return hmac.compare_digest(given.encode(), self.token.encode())

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()

        @web.middleware
        async def require_token(request: web.Request, handler):
            if not self._allowed(request):
                raise web.HTTPForbidden(
                    text="acorntui serve: this address needs the token printed when serve "
                         "started (http://HOST:PORT/?token=...)\n")
            return await handler(request)

        app.middlewares.append(require_token)
        app.router.add_get("/ws/{token}", self.handle_websocket)
        return app

    @aiohttp_jinja2.template("app_index.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any]:
        context = await Server.handle_index.__wrapped__(self, request)  # type: ignore[attr-defined]
        # the page's script appends "?width=..&height=.." to this URL: the token goes in the path
        context["app_websocket_url"] += f"/{self.token}"
        return context

    def initialize_logging(self) -> None:
        super().initialize_logging()
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)

    async def on_startup(self, app: web.Application) -> None:
        for line in self.banner:
            eprint(line)


def serving_identity() -> str:
    """The OS user the served console runs as, from the kernel (not USER/LOGNAME)."""
    uid = os.geteuid()
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def _role_words(ctx) -> str:
    """The console's role for the serving user, or '' when the database cannot say."""
    try:
        from acorntui.services import roles

        ctx.connect()
        return roles.describe_role(roles.current_user())
    except Exception:  # noqa: BLE001  (the banner must not stop serve)
        return ""


def serve(args, ctx) -> int:
    from acorntui.db.connection import mask_url
    from acorntui.jobs import demo

    url = ctx.db_url
    if args.demo:
        info, _built = demo.ensure_demo(None)
        url = f"sqlite:///{info.path}"
    # the sessions' processes read the URL from the environment, never from their arguments
    os.environ["ACORN_DB"] = url
    cmd = [sys.executable, "-m", "acorntui"]
    if args.config:
        cmd += ["--config", args.config]
    cmd += ["console"]

    token = secrets.token_urlsafe(24)
    base = (args.public_url or f"http://{args.host}:{args.port}").rstrip("/")
    role = "" if args.demo else _role_words(ctx)
    banner = [
        f"acorntui serve: open {base}/?token={token}",
        "  The token is new on every start and printed only here; without it the page and "
        "the websocket answer 403.",
        f"  Everyone with this link uses the console as OS user {serving_identity()}"
        + (f", {role} on {mask_url(url)}" if role else f", on {mask_url(url)}")
        + ": share it only with people who may act as that user.",
        "  Press Ctrl+C to stop.",
    ]
    if args.host not in LOOPBACK:
        banner.insert(1, f"  Listening on {args.host}: anyone who can reach it and has the link "
                         "can use the console with your rights.")
    server = TokenServer(shlex.join(cmd), token=token, banner=banner, host=args.host,
                         port=args.port, title="acorntui", public_url=args.public_url)
    server.serve()
    return 0
