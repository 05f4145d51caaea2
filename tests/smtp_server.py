"""A real SMTP server for tests: aiosmtpd on a loopback port, keeping what it receives."""

from __future__ import annotations

import email
import email.policy
import socket
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    auth_user: str | None = None

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, subtype: str) -> str:
        """The text of the text/plain or text/html alternative."""
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None and body.get_content_subtype() == subtype, subtype
        return body.get_content()


class _Handler:
    def __init__(self) -> None:
        self.messages: list[Received] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook
        msg = email.message_from_bytes(envelope.original_content or envelope.content,
                                       policy=email.policy.default)
        user = session.auth_data.login.decode() if isinstance(
            session.auth_data, LoginPassword) else None
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), msg, user))
        return "250 OK"


class _Authenticator:
    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user.encode(), password.encode()

    def __call__(self, server, session, envelope, mechanism, auth_data):
        if (isinstance(auth_data, LoginPassword) and auth_data.login == self.user
                and auth_data.password == self.password):
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)


@dataclass
class SMTPServer:
    host: str
    port: int
    controller: Controller
    handler: _Handler
    user: str | None = None
    password: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    def to(self, addr: str) -> list[Received]:
        return [m for m in self.messages if addr in m.rcpt_tos]

    def stop(self) -> None:
        self.controller.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_smtp(user: str | None = None, password: str | None = None) -> SMTPServer:
    """Start on a free loopback port; with ``user`` every client must log in (AUTH PLAIN/
    LOGIN over plain text, which aiosmtpd allows only with auth_require_tls=False)."""
    handler = _Handler()
    port = free_port()
    kwargs: dict = {}
    if user is not None:
        kwargs = {"authenticator": _Authenticator(user, password or ""),
                  "auth_required": True, "auth_require_tls": False}
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    return SMTPServer("127.0.0.1", port, controller, handler, user, password)
