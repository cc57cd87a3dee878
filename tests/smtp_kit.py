"""A real SMTP server for the notify tests (aiosmtpd on 127.0.0.1) that keeps every mail and login."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class MailSink:
    """The server's handler: mails as (recipients, raw message), logins, and whether each mail came over TLS."""

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password
        self.mails: list[tuple[list[str], bytes]] = []
        self.logins: list[tuple[bytes, bytes]] = []
        self.tls: list[bool] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.mails.append((list(envelope.rcpt_tos), envelope.original_content or envelope.content))
            self.tls.append(server.transport.get_extra_info("ssl_object") is not None)
        return "250 Message accepted"

    def authenticator(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        with self.lock:
            self.logins.append((auth_data.login, auth_data.password))
        ok = auth_data.login == self.user.encode() and auth_data.password == self.password.encode()
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535 itself

    def per_recipient(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for rcpts, _ in self.mails:
            for r in rcpts:
                counts[r] = counts.get(r, 0) + 1
        return counts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def smtp_server(
    user: str, password: str, *, auth_require_tls: bool = False, **tls: Any
) -> Iterator[tuple[MailSink, int]]:
    """A running server that accepts `user`/`password`: (its sink, its port). `tls`: tls_context or ssl_context."""
    sink = MailSink(user, password)
    # A generous ready_timeout: a busy machine may be slow to start the server thread.
    ctl = Controller(sink, hostname="127.0.0.1", port=free_port(), authenticator=sink.authenticator,
                     auth_require_tls=auth_require_tls, ready_timeout=60, **tls)
    ctl.start()
    try:
        yield sink, ctl.port
    finally:
        ctl.stop()
