"""The SMTP edge: stdlib ``smtplib`` in a worker thread, one connection per batch.

Why smtplib and not aiosmtplib: it is the standard library (no new runtime dependency), it
covers implicit TLS, STARTTLS and AUTH, and sending is off the event loop anyway (the outbox
sender runs a batch in one thread with ``asyncio.to_thread``), so an asyncio client would buy
nothing here. The outcome of each message is classified the way the outbox needs it:

* ``sent``: the server accepted it (250 after DATA);
* ``temporary``: 4xx, connection refused or dropped, timeout, TLS or AUTH trouble: try later;
* ``permanent``: 5xx for this recipient or this message: do not try again.
"""

from __future__ import annotations

import asyncio
import contextlib
import smtplib
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Final, Literal, Protocol

from vc_issuer.email.config import SmtpSettings

Outcome = Literal["sent", "temporary", "permanent"]
SENT: Final = "sent"
TEMPORARY: Final = "temporary"
PERMANENT: Final = "permanent"


@dataclass(frozen=True)
class Delivery:
    outcome: Outcome
    detail: str = ""


class Transport(Protocol):
    """Sends messages; one ``Delivery`` per message, in order. Never raises for SMTP trouble."""

    async def send(self, messages: Sequence[EmailMessage]) -> list[Delivery]: ...


def _reply(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    return f"{code} {' '.join(text.split())}"[:500]


def _by_code(code: int) -> Outcome:
    return PERMANENT if 500 <= code < 600 else TEMPORARY


class SmtpTransport:
    """``Transport`` over an SMTP server as the settings say."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def _tls_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(
            cafile=str(self.settings.ca_file) if self.settings.ca_file else None
        )
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx

    def connect(self) -> smtplib.SMTP:
        """An open, secured and (with a user) authenticated connection; raises on failure."""
        s = self.settings
        client: smtplib.SMTP
        if s.security == "tls":
            client = smtplib.SMTP_SSL(
                s.host, s.port, timeout=s.timeout, context=self._tls_context()
            )
        else:
            client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            client.ehlo()
            if s.security == "starttls":
                client.starttls(context=self._tls_context())
                client.ehlo()
            if s.user:
                client.login(s.user, s.password() or "")
        except BaseException:
            client.close()
            raise
        return client

    def send_sync(self, messages: Sequence[EmailMessage]) -> list[Delivery]:
        out: list[Delivery] = []
        try:
            client = self.connect()
        except smtplib.SMTPResponseException as exc:
            return [Delivery(TEMPORARY, _reply(exc.smtp_code, exc.smtp_error))] * len(messages)
        except (OSError, smtplib.SMTPException) as exc:
            return [Delivery(TEMPORARY, _describe(exc))] * len(messages)
        try:
            for msg in messages:
                try:
                    refused = client.send_message(msg)
                except smtplib.SMTPRecipientsRefused as exc:
                    code, text = next(iter(exc.recipients.values()))
                    out.append(Delivery(_by_code(code), _reply(code, text)))
                    _reset(client)
                    continue
                except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
                    reply = _reply(exc.smtp_code, exc.smtp_error)
                    out.append(Delivery(_by_code(exc.smtp_code), reply))
                    _reset(client)
                    continue
                except (OSError, smtplib.SMTPException) as exc:
                    # The connection is gone: this message and the rest wait for the next round.
                    out.append(Delivery(TEMPORARY, _describe(exc)))
                    break
                if refused:  # one recipient per message: refused means this one
                    code, text = next(iter(refused.values()))
                    out.append(Delivery(_by_code(code), _reply(code, text)))
                else:
                    out.append(Delivery(SENT, "250 accepted"))
        finally:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()
        left = len(messages) - len(out)
        out.extend([Delivery(TEMPORARY, "not tried: the connection was lost")] * left)
        return out

    async def send(self, messages: Sequence[EmailMessage]) -> list[Delivery]:
        if not messages:
            return []
        return await asyncio.to_thread(self.send_sync, list(messages))


def _reset(client: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError, smtplib.SMTPException):
        client.rset()


def _describe(exc: BaseException) -> str:
    """What went wrong, without anything secret (the password is never in these)."""
    if isinstance(exc, smtplib.SMTPResponseException):
        return _reply(exc.smtp_code, exc.smtp_error)
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or exc}"[:300]
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "the server closed the connection"
    return f"{type(exc).__name__}: {exc}"[:300]


__all__ = ["PERMANENT", "SENT", "TEMPORARY", "Delivery", "SmtpTransport", "Transport"]
