"""Claim emails end to end against a real SMTP server on loopback (aiosmtpd): queued with the
award, sent once over STARTTLS with AUTH, retried on 4xx and on a server that is down,
failed on 5xx, cancelled for a revoked badge, never sent twice."""

from __future__ import annotations

import dataclasses
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from vc_issuer.badges.achievements import StoredAchievement
from vc_issuer.badges.awards import Awarder, Recipient, row_from_mapping
from vc_issuer.badges.notify import ClaimNotice
from vc_issuer.core.keys import Ed25519Key
from vc_issuer.email.config import SmtpSettings
from vc_issuer.email.outbox import Mailer, backoff, claim_mail
from vc_issuer.email.render import Templates
from vc_issuer.email.smtp import SmtpTransport
from vc_issuer.errors import EmailConfigError
from vc_issuer.services.issuer import Issuer
from vc_issuer.store import Store

from .conftest import PASSWORD, USER, Recorder, SmtpServer, Start, free_port

BASE = "https://badges.example.edu"
KEY = Ed25519Key.from_seed(bytes(range(32)))
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def issuer(store: Store, clock: Clock) -> Issuer:
    return Issuer(
        key=KEY, did=KEY.did, store=store, base_url=BASE, issuer_name="Example U", now=clock
    )


@pytest.fixture
def awarder(issuer: Issuer) -> Awarder:
    return Awarder(issuer, chunk_size=3, attach=ClaimNotice(BASE, 30 * 86400))


@pytest.fixture
async def badge(awarder: Awarder) -> StoredAchievement:
    return await awarder.achievements.create(
        {
            "name": "Python 101",
            "description": "Writes <and tests> small Python programs.",
            "criteria": {"narrative": "Pass the final project."},
        }
    )


@dataclasses.dataclass
class Mail:
    """What most tests here use: the issuer and its store, the clock, an achievement to award,
    and the loopback SMTP server factory."""

    awarder: Awarder
    badge: StoredAchievement
    issuer: Issuer
    clock: Clock
    smtp_server: Start
    store: Store

    async def award(self, *emails: str) -> Any:
        return await award_rows(self.awarder, self.badge, *emails)

    def sender(self, settings: SmtpSettings, home: Path | None = None) -> Mailer:
        return mailer(self.issuer, self.clock, settings, home)


@pytest.fixture
def mail(
    awarder: Awarder,
    badge: StoredAchievement,
    issuer: Issuer,
    clock: Clock,
    smtp_server: Start,
    store: Store,
) -> Mail:
    return Mail(awarder, badge, issuer, clock, smtp_server, store)


def settings_for(server: SmtpServer | int, **kw: Any) -> SmtpSettings:
    port = server if isinstance(server, int) else server.port
    base: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "sender": "Example U Badges <badges@example.edu>",
        "reply_to": "registrar@example.edu",
        "timeout": 10.0,
    }
    base.update(kw)
    return SmtpSettings(**base)


def mailer(
    issuer: Issuer, clock: Clock, settings: SmtpSettings, home: Path | None = None
) -> Mailer:
    return Mailer(
        issuer.store,
        SmtpTransport(settings),
        settings,
        base_url=BASE,
        status_of=issuer.credential_status,
        templates=Templates(home),
        now=clock,
    )


async def award_rows(awarder: Awarder, badge: StoredAchievement, *emails: str) -> Any:
    rows = [row_from_mapping({"email": e, "name": f"N{i}"}, i + 2) for i, e in enumerate(emails)]
    return await awarder.award_many(badge.id, rows)


async def test_batch_queues_one_email_per_new_award_and_a_rerun_queues_none(mail: Mail) -> None:
    rows = [
        row_from_mapping({"email": "ada@example.org"}, 2),
        row_from_mapping({"did": "did:example:bob"}, 3),
        row_from_mapping({"email": "cy@example.org"}, 4),
        row_from_mapping({"email": "ADA@example.org"}, 5),  # the same person again
    ]
    summary = await mail.awarder.award_many(mail.badge.id, rows)
    notified = [r.notified for r in summary.results]
    assert notified == ["queued", "no-email", "queued", ""]
    assert all(r.claim_link.startswith(f"{BASE}/claim/") for r in summary.results[:3])
    queued = await mail.store.list_mail()
    assert sorted(m.recipient for m in queued) == ["ada@example.org", "cy@example.org"]
    assert {m.claim_link for m in queued} == {
        summary.results[0].claim_link,
        summary.results[2].claim_link,
    }
    # Each claim link in the outbox is the one stored (as a hash) with its award.
    for m in queued:
        claims = await mail.store.list_claims(credential_id=m.credential_id)
        assert len(claims) == 1
    again = await mail.awarder.award_many(mail.badge.id, rows)
    assert [r.status for r in again.results] == ["skipped"] * 4
    assert [r.notified for r in again.results] == [""] * 4
    assert len(await mail.store.list_mail()) == 2


async def test_sent_over_starttls_with_auth_and_a_self_signed_certificate(mail: Mail) -> None:
    server = mail.smtp_server(tls="starttls", auth=True)
    os.environ["VC_TEST_SMTP_PASSWORD"] = PASSWORD
    settings = settings_for(
        server,
        security="starttls",
        user=USER,
        password_env="VC_TEST_SMTP_PASSWORD",
        ca_file=server.cert,
    )
    summary = await mail.award("ada@example.org", "cy@example.org")
    report = await mail.sender(settings).send_all()
    assert report.to_dict() == {"sent": 2, "retrying": 0, "failed": 0, "cancelled": 0}
    assert sorted(server.recorder.rcpts) == ["ada@example.org", "cy@example.org"]
    (msg,) = [m for m in server.recorder.messages if m["To"] == "ada@example.org"]
    assert msg["To"] == "ada@example.org"
    assert msg["From"] == "Example U Badges <badges@example.edu>"
    assert msg["Reply-To"] == "registrar@example.edu"
    assert msg["Subject"] == 'Example U awarded you "Python 101"'
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and html is not None
    body, page = text.get_content(), summary.results[0].page_url
    assert summary.results[0].claim_link in body and page in body and "Hello N0," in body
    assert "Writes &lt;and tests&gt; small" in html.get_content()  # autoescaped
    assert f'href="{summary.results[0].claim_link}"' in html.get_content()
    rows = await mail.store.list_mail(status="sent")
    assert len(rows) == 2 and all(r.claim_link is None and r.attempts == 1 for r in rows)
    # Sending again sends nothing: each message goes once.
    assert (await mail.sender(settings).send_all()).handled == 0
    assert len(server.recorder.messages) == 2


async def test_an_untrusted_certificate_is_refused(mail: Mail) -> None:
    server = mail.smtp_server(tls="starttls")
    await mail.award("ada@example.org")
    report = await mail.sender(settings_for(server, security="starttls")).send_due()
    assert report.retrying == 1 and server.recorder.messages == []
    (row,) = await mail.store.list_mail(status="queued")
    assert row.last_error is not None and row.last_error.startswith("TLS")


async def test_implicit_tls(mail: Mail) -> None:
    server = mail.smtp_server(tls="implicit")
    await mail.award("ada@example.org")
    settings = settings_for(server, security="tls", ca_file=server.cert)
    assert (await mail.sender(settings).send_due()).sent == 1
    assert server.recorder.rcpts == ["ada@example.org"]


async def test_a_wrong_password_is_temporary_and_never_logged(mail: Mail, tmp_path: Path) -> None:
    server = mail.smtp_server(tls="starttls", auth=True)
    secret = tmp_path / "smtp-password"
    secret.write_text("wrong-password-xyz\n")
    secret.chmod(0o600)
    settings = settings_for(
        server, security="starttls", user=USER, password_file=secret, ca_file=server.cert
    )
    await mail.award("ada@example.org")
    assert (await mail.sender(settings).send_due()).retrying == 1
    (row,) = await mail.store.list_mail()
    assert row.last_error is not None and row.last_error.startswith("535")
    assert "wrong-password" not in row.last_error
    secret.chmod(0o644)
    with pytest.raises(EmailConfigError, match="chmod 600"):
        settings.password()


async def test_per_recipient_4xx_retries_with_backoff_and_5xx_fails(mail: Mail) -> None:
    server = mail.smtp_server()
    await mail.award("busy@example.org", "nobody@example.org", "ada@example.org")
    send = mail.sender(settings_for(server, max_attempts=2))
    report = await send.send_due()
    assert report.to_dict() == {"sent": 1, "retrying": 1, "failed": 1, "cancelled": 0}
    assert server.recorder.rcpts == ["ada@example.org"]
    (failed,) = await mail.store.list_mail(status="failed")
    assert failed.recipient == "nobody@example.org" and failed.last_error is not None
    assert failed.last_error.startswith("550")
    (busy,) = await mail.store.list_mail(status="queued")
    assert busy.last_error is not None and busy.last_error.startswith("451")
    assert busy.next_attempt_at == T0 + backoff(1)
    assert (await send.send_due()).handled == 0  # not due yet
    mail.clock.now = busy.next_attempt_at
    report = await send.send_due()  # second attempt of two: it gives up
    assert report.failed == 1
    (gave_up,) = [m for m in await mail.store.list_mail(status="failed") if m.id == busy.id]
    assert gave_up.last_error is not None and "gave up after 2 attempts" in gave_up.last_error
    # The mailbox works again and a person retries: it goes.
    server.recorder.answers.pop("busy")
    assert await mail.store.retry_mail(mail.clock.now, [busy.id]) == 1
    assert (await send.send_due()).sent == 1
    assert server.recorder.rcpts == ["ada@example.org", "busy@example.org"]


async def test_a_server_that_is_down_then_back_gets_the_backlog(mail: Mail) -> None:
    port = free_port()
    await mail.award("ada@example.org", "cy@example.org", "di@example.org")
    send = mail.sender(settings_for(port))
    report = await send.send_all()
    assert report.to_dict() == {"sent": 0, "retrying": 3, "failed": 0, "cancelled": 0}
    rows = await mail.store.list_mail(status="queued")
    assert {r.last_error for r in rows} == {"connection refused"}
    server = mail.smtp_server(port=port)
    mail.clock.now = T0 + backoff(1)
    report = await send.send_all()
    assert report.sent == 3
    assert sorted(server.recorder.rcpts) == ["ada@example.org", "cy@example.org", "di@example.org"]


async def test_a_revoked_badge_is_not_emailed(mail: Mail) -> None:
    server = mail.smtp_server()
    summary = await mail.award("ada@example.org", "cy@example.org")
    await mail.issuer.revoke(summary.results[0].credential_id)
    report = await mail.sender(settings_for(server)).send_due()
    assert report.to_dict() == {"sent": 1, "retrying": 0, "failed": 0, "cancelled": 1}
    assert server.recorder.rcpts == ["cy@example.org"]
    (cancelled,) = await mail.store.list_mail(status="cancelled")
    assert cancelled.claim_link is None and cancelled.last_error is not None
    assert "revoked" in cancelled.last_error


async def test_a_claim_link_only_goes_to_the_address_the_badge_was_awarded_to(mail: Mail) -> None:
    server = mail.smtp_server()
    award = await mail.awarder.award(mail.badge.id, Recipient(email="ada@example.org"))
    # Someone slips in a row for the same award to another address: refused at send time.
    await mail.store.enqueue_mail(
        [
            dataclasses.replace(
                claim_mail(
                    credential_id=award.credential_id,
                    email="mallory@example.org",
                    claim_link=award.claim_link,
                    claim_expires=T0 + timedelta(days=1),
                    achievement_key=mail.badge.key,
                    name=None,
                    now=T0,
                ),
                dedupe_key="other",
            )
        ]
    )
    report = await mail.sender(settings_for(server)).send_due()
    assert report.sent == 1 and report.cancelled == 1
    assert server.recorder.rcpts == ["ada@example.org"]


async def test_a_crash_between_send_and_mark_does_not_resend(mail: Mail) -> None:
    server = mail.smtp_server()
    await mail.award("ada@example.org")
    (taken,) = await mail.store.take_mail(mail.clock.now, 10)  # a sender took it, then died
    send = mail.sender(settings_for(server))
    assert (await send.send_all()).handled == 0
    mail.clock.now = T0 + timedelta(minutes=16)
    assert await send.recover() == 1
    assert (await send.send_all()).handled == 0  # at most once: not sent by itself
    (failed,) = await mail.store.list_mail(status="failed")
    assert failed.id == taken.id and "may have been delivered" in (failed.last_error or "")
    assert await mail.store.retry_mail(mail.clock.now) == 1
    assert (await send.send_all()).sent == 1
    assert server.recorder.rcpts == ["ada@example.org"]


async def test_rate_limit_per_minute(mail: Mail) -> None:
    server = mail.smtp_server()
    await mail.award("a@example.org", "b@example.org", "c@example.org")
    send = mail.sender(settings_for(server, per_minute=2))
    assert (await send.send_due()).sent == 2
    assert (await send.send_due()).handled == 0  # the minute's budget is spent
    assert len(await mail.store.list_mail(status="queued")) == 1


async def test_templates_are_overridden_per_achievement(mail: Mail, tmp_path: Path) -> None:
    home = tmp_path / "home"
    own = home / "email-templates" / mail.badge.key
    own.mkdir(parents=True)
    (own / "claim.subject.txt").write_text("Your {{ badge_name }} is ready, {{ recipient_name }}")
    # the two links' names (claim_link, page_url) and their former ones (claim_url, public_url)
    (home / "email-templates" / "claim.txt").write_text(
        "Claim: {{ claim_link }} {{ claim_url }}\nShare: {{ page_url }} {{ public_url }}\n"
    )
    server = mail.smtp_server()
    summary = await mail.award("ada@example.org")
    assert (await mail.sender(settings_for(server), home).send_due()).sent == 1
    msg = server.recorder.messages[0]
    assert msg["Subject"] == "Your Python 101 is ready, N0"
    text = msg.get_body(("plain",))
    assert text is not None
    link, page = summary.results[0].claim_link, summary.results[0].page_url
    expected = f"Claim: {link} {link}\nShare: {page} {page}\n"
    assert text.get_content().replace("\r\n", "\n") == expected


async def test_single_award_with_notify_queues_in_its_transaction(mail: Mail) -> None:
    award = await mail.awarder.award(mail.badge.id, Recipient(email="ada@example.org", name="Ada"))
    assert award.created and award.notified == "queued"
    (row,) = await mail.store.list_mail()
    assert row.claim_link == award.claim_link and row.data["name"] == "Ada"
    again = await mail.awarder.award(mail.badge.id, Recipient(email="ada@example.org"))
    assert not again.created and again.notified == "" and len(await mail.store.list_mail()) == 1


def test_recorder_answers_are_scripted() -> None:
    assert Recorder().answers["busy"].startswith("451")
