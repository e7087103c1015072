"""A real SMTP server on loopback for the email tests: aiosmtpd in its own thread, its own port.

``SmtpServer`` records what it accepted and answers RCPT for some addresses as told:
``busy@...`` gets ``451`` (try later), ``nobody@...`` gets ``550`` (no such user). With
``tls`` it offers STARTTLS (a self-signed certificate made here) or implicit TLS, and with a
``password`` it requires AUTH (over TLS only).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests._certs import self_signed
from tests.vc_issuer.hostile._live_server import free_port

USER = "badges"
PASSWORD = "s3cret-pa55"


@dataclass
class Recorder:
    """The handler: keeps accepted messages; scripted RCPT answers by local part."""

    answers: dict[str, str] = field(
        default_factory=lambda: {
            "busy": "451 4.3.0 mailbox busy, try later",
            "nobody": "550 5.1.1 no such user",
        }
    )
    messages: list[EmailMessage] = field(default_factory=list)
    rcpts: list[str] = field(default_factory=list)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        answer = self.answers.get(address.split("@", 1)[0])
        if answer is not None:
            return answer
        envelope.rcpt_tos.append(address)
        self.rcpts.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        msg = message_from_bytes(raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        return "250 Message accepted"


def _authenticator(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USER.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


@dataclass
class SmtpServer:
    port: int
    recorder: Recorder
    cert: Path | None
    controller: Controller | None = None

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


Start = Callable[..., SmtpServer]


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[Start]:
    """Start servers: ``start(tls=None|"starttls"|"implicit", auth=False, port=None)``."""
    started: list[SmtpServer] = []
    cert_key: list[tuple[Path, Path]] = []

    def start(
        *,
        tls: str | None = None,
        auth: bool = False,
        port: int | None = None,
        recorder: Recorder | None = None,
    ) -> SmtpServer:
        if tls and not cert_key:
            cert_key.append(self_signed(tmp_path, "smtp-"))
        kwargs: dict[str, Any] = {}
        cert: Path | None = None
        if tls:
            cert, key = cert_key[0]
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(cert, key)
            if tls == "starttls":
                kwargs.update(tls_context=ctx, require_starttls=True)
            else:
                kwargs.update(ssl_context=ctx, server_hostname="localhost")
        if auth:
            kwargs.update(authenticator=_authenticator, auth_required=True)
        else:
            kwargs.update(auth_require_tls=False)
        rec = recorder or Recorder()
        server = SmtpServer(port or free_port(), rec, cert)
        controller = Controller(rec, hostname="127.0.0.1", port=server.port, **kwargs)
        controller.start()
        server.controller = controller
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
