"""The outbox: claim emails queued with their awards and sent later, once.

Queuing is part of awarding (``claim_mail`` builds the row; the awarder stores it in the same
transaction as the credential and its claim link, and only for a credential that is new, so a
rerun of a batch queues nothing). Sending is ``Mailer.send_due``, run by the server's
background task or ``vc-issuer email send``:

1. take due messages (``queued`` -> ``sending``, in one transaction; two senders never take the
   same row);
2. for each: refuse it (``cancelled``) if the badge is revoked or suspended now, or if the
   address is not the one the badge was awarded to; else render the templates;
3. send them over one SMTP connection (the ``Transport`` edge);
4. settle each: ``sent`` (the claim link is erased from the row), ``queued`` again with
   exponential backoff on a temporary failure (4xx, connection refused, timeout), ``failed``
   on a 5xx answer for that recipient or after ``max_attempts`` tries.

Delivery is **at most once**. A message is marked ``sending`` before it goes to the SMTP server
and settled after; if the sender dies in between, nobody knows whether the server took it, so
``recover`` marks it ``failed`` ("may have been delivered") instead of sending it again.
``vc-issuer email retry`` sends it again when a person decides so. A duplicate claim email is
worse than a missing one that shows up in ``email list --failed``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any, Final

from vc_issuer.badges.openbadges import identity_matches, normalize_email
from vc_issuer.core.credentials import format_datetime
from vc_issuer.email.config import SmtpSettings
from vc_issuer.email.render import ClaimMessage, Templates, build_message
from vc_issuer.email.smtp import PERMANENT, SENT, Delivery, Transport
from vc_issuer.errors import MalformedInputError, VCIssuerError
from vc_issuer.store import CredentialRecord, OutboxRecord, Store

log = logging.getLogger("vc_issuer.email")

BATCH: Final = 100
"""Messages per SMTP connection."""
BACKOFF_BASE: Final = timedelta(seconds=30)
BACKOFF_CAP: Final = timedelta(hours=1)
STUCK_AFTER: Final = timedelta(minutes=15)
"""A message ``sending`` this long belongs to a sender that died."""
PUBLIC_PATH: Final = "/c/"

Clock = Callable[[], datetime]
StatusOf = Callable[[str], Awaitable[Mapping[str, bool]]]


def claim_dedupe_key(credential_id: str) -> str:
    """One claim email per award, ever."""
    return "claim:" + credential_id


def claim_mail(
    *,
    credential_id: str,
    email: str,
    claim_link: str,
    claim_expires: datetime,
    achievement_key: str | None,
    name: str | None,
    now: datetime,
) -> OutboxRecord:
    """The outbox row of one award's claim email (stored with the award)."""
    return OutboxRecord(
        id=secrets.token_hex(12),
        dedupe_key=claim_dedupe_key(credential_id),
        recipient=email.strip(),
        next_attempt_at=now,
        created_at=now,
        credential_id=credential_id,
        template=achievement_key,
        claim_link=claim_link,
        data={"name": name, "claimExpires": format_datetime(claim_expires)},
    )


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at one hour."""
    delay: timedelta = BACKOFF_BASE * (2 ** min(max(attempts - 1, 0), 16))
    return min(delay, BACKOFF_CAP)


def is_recipients_address(credential: Mapping[str, Any], email: str) -> bool:
    """True if ``email`` is the address the badge was awarded to (its hashed identifier)."""
    subject = credential.get("credentialSubject")
    if isinstance(subject, list):
        subject = subject[0] if subject else None
    if not isinstance(subject, Mapping):
        return False
    ids = subject.get("identifier")
    items = ids if isinstance(ids, list) else [ids]
    try:
        normalize_email(email)
    except MalformedInputError:
        return False
    return any(
        isinstance(i, Mapping)
        and i.get("identityType") == "emailAddress"
        and identity_matches(i, email)
        for i in items
    )


def message_for(
    record: CredentialRecord, mail: OutboxRecord, base_url: str, reply_to: str | None
) -> ClaimMessage:
    """The template context of a claim email, from the award as stored."""
    from vc_issuer.badges.claims import badge_name

    cred = record.credential
    issuer = cred.get("issuer")
    issuer_name = issuer.get("name") if isinstance(issuer, Mapping) else None
    subject = cred.get("credentialSubject")
    if isinstance(subject, list):
        subject = subject[0] if subject else {}
    ach = subject.get("achievement") if isinstance(subject, Mapping) else None
    description = ach.get("description") if isinstance(ach, Mapping) else None
    name = mail.data.get("name")
    return ClaimMessage(
        recipient=mail.recipient,
        recipient_name=name if isinstance(name, str) else None,
        badge_name=badge_name(cred),
        issuer_name=issuer_name if isinstance(issuer_name, str) else str(issuer or "The issuer"),
        description=description if isinstance(description, str) else None,
        claim_link=mail.claim_link or "",
        claim_expires=str(mail.data.get("claimExpires", "")),
        page_url=f"{base_url.rstrip('/')}{PUBLIC_PATH}{record.page_id}",
        reply_to=reply_to,
    )


@dataclass
class SendReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    cancelled: int = 0

    @property
    def handled(self) -> int:
        return sum(asdict(self).values())

    def add(self, other: SendReport) -> None:
        for name, count in asdict(other).items():
            setattr(self, name, getattr(self, name) + count)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class _RateLimit:
    """At most ``per_minute`` messages in any 60 seconds (0: unlimited)."""

    per_minute: int
    sent: deque[float] = field(default_factory=deque)

    def budget(self, now: float) -> int:
        if self.per_minute <= 0:
            return BATCH
        while self.sent and now - self.sent[0] >= 60.0:
            self.sent.popleft()
        return max(self.per_minute - len(self.sent), 0)

    def wait(self, now: float) -> float:
        """Seconds until one more message may go."""
        if self.per_minute <= 0 or len(self.sent) < self.per_minute:
            return 0.0
        return max(60.0 - (now - self.sent[0]), 0.0)

    def note(self, count: int, now: float) -> None:
        if self.per_minute > 0:
            self.sent.extend([now] * count)


class Mailer:
    """Sends the outbox through a ``Transport``; pure apart from the store and the transport."""

    def __init__(
        self,
        store: Store,
        transport: Transport,
        settings: SmtpSettings,
        *,
        base_url: str,
        status_of: StatusOf,
        templates: Templates | None = None,
        now: Clock,
        batch: int = BATCH,
    ) -> None:
        self.store = store
        self.transport = transport
        self.settings = settings
        self.base_url = base_url
        self.status_of = status_of
        self.templates = templates or Templates()
        self.now = now
        self.batch = batch
        self.rate = _RateLimit(settings.per_minute)
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Something was queued: send now rather than at the next poll."""
        self._wake.set()

    async def recover(self) -> int:
        """Messages a dead sender left ``sending`` become ``failed`` (at most once)."""
        now = self.now()
        return await self.store.recover_mail(now - STUCK_AFTER, now)

    async def send_due(self) -> SendReport:
        """One round: take what is due (within the rate limit), send, settle."""
        report = SendReport()
        budget = min(self.batch, self.rate.budget(time.monotonic()))
        if budget <= 0:
            return report
        taken = await self.store.take_mail(self.now(), budget)
        if not taken:
            return report
        ready: list[tuple[OutboxRecord, EmailMessage]] = []
        for mail in taken:
            try:
                msg = await self._prepare(mail)
            except VCIssuerError as exc:
                await self._settle(mail, "failed", report, f"{exc.code}: {exc.detail}")
                continue
            if isinstance(msg, str):
                await self._settle(mail, "cancelled", report, msg)
                continue
            ready.append((mail, msg))
        deliveries = await self.transport.send([m for _, m in ready])
        self.rate.note(len(ready), time.monotonic())
        for (mail, _), delivery in zip(ready, deliveries, strict=True):
            await self._after(mail, delivery, report)
        return report

    async def send_all(self, *, deadline: float | None = None) -> SendReport:
        """Rounds until nothing is due (what ``vc-issuer email send`` runs)."""
        total = SendReport()
        while True:
            wait = self.rate.wait(time.monotonic())
            if wait > 0:
                if deadline is not None and time.monotonic() + wait > deadline:
                    return total
                await asyncio.sleep(wait)
            report = await self.send_due()
            total.add(report)
            if report.handled == 0 or (deadline is not None and time.monotonic() > deadline):
                return total
            if report.sent == 0 and report.retrying > 0 and report.failed == 0:
                return total  # the server is unreachable: the backoff decides when to try

    async def run(self, stop: asyncio.Event, *, poll: float = 5.0) -> None:
        """The server's background sender: recover, then send whenever something is due."""
        try:
            await self.recover()
        except VCIssuerError as exc:
            log.warning("email outbox: recovery failed: %s", exc.detail)
        while not stop.is_set():
            try:
                report = await self.send_due()
            except VCIssuerError as exc:  # the store is down: try again later
                log.warning("email outbox: %s: %s", exc.code, exc.detail)
                report = SendReport()
            if report.handled:
                log.info("email outbox: %s", report.to_dict())
                if report.sent or report.failed or report.cancelled:
                    continue  # more may be due right away
            delay = max(poll, self.rate.wait(time.monotonic()))
            self._wake.clear()
            waiters = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())}
            _, pending = await asyncio.wait(
                waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()

    async def _prepare(self, mail: OutboxRecord) -> EmailMessage | str:
        """The message, or why it must not be sent (a string: the row is cancelled)."""
        if mail.credential_id is None or not mail.claim_link:
            return "nothing to send: no award or claim link"
        record = await self.store.get_credential(mail.credential_id)
        if record is None:
            return "the award is no longer in the store"
        status = await self.status_of(mail.credential_id)  # now, not at award time
        if any(status.values()):
            return "the badge was revoked or suspended before the email went out"
        if not is_recipients_address(record.credential, mail.recipient):
            return "the address is not the one the badge was awarded to"
        message = message_for(record, mail, self.base_url, self.settings.reply_to)
        rendered = self.templates.render(message, mail.template)
        return build_message(self.settings, mail.recipient, rendered)

    async def _after(self, mail: OutboxRecord, delivery: Delivery, report: SendReport) -> None:
        if delivery.outcome == SENT:
            await self._settle(mail, "sent", report, None)
        elif delivery.outcome == PERMANENT:
            await self._settle(mail, "failed", report, delivery.detail)
        elif mail.attempts >= self.settings.max_attempts:
            detail = f"gave up after {mail.attempts} attempts: {delivery.detail}"
            await self._settle(mail, "failed", report, detail)
        else:
            later = self.now() + backoff(mail.attempts)
            await self.store.finish_mail(
                mail.id, "queued", self.now(), error=delivery.detail, next_attempt_at=later
            )
            report.retrying += 1

    async def _settle(
        self, mail: OutboxRecord, status: str, report: SendReport, error: str | None
    ) -> None:
        await self.store.finish_mail(mail.id, status, self.now(), error=error)
        setattr(report, status, getattr(report, status) + 1)


def mail_json(record: OutboxRecord) -> dict[str, Any]:
    """An outbox row for people (never the claim link: it is a bearer secret)."""
    out: dict[str, Any] = {
        "id": record.id,
        "status": record.status,
        "to": record.recipient,
        "credentialId": record.credential_id,
        "attempts": record.attempts,
        "created": format_datetime(record.created_at),
    }
    if record.status == "queued":
        out["nextAttempt"] = format_datetime(record.next_attempt_at)
    if record.sent_at is not None:
        out["sent"] = format_datetime(record.sent_at)
    if record.last_error:
        out["error"] = record.last_error
    return out


__all__ = [
    "Mailer",
    "SendReport",
    "backoff",
    "claim_dedupe_key",
    "claim_mail",
    "is_recipients_address",
    "mail_json",
    "message_for",
]
