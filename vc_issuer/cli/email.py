"""CLI for claim emails: ``vc-issuer email test|preview|send|list|retry``.

Thin: read the home's ``[email]`` settings and call :mod:`vc_issuer.email`. JSON goes to
stdout, messages to stderr. ``send`` is for issuers who run no server (the server's background
sender does the same on its own).
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import click

from vc_issuer.cli.issuer import _run
from vc_issuer.cli.main import _emit, handle_errors, home_option
from vc_issuer.email import mailer_for
from vc_issuer.email.config import require_settings
from vc_issuer.email.outbox import PUBLIC_PATH, mail_json
from vc_issuer.email.render import ClaimMessage, Rendered, Templates, build_message
from vc_issuer.email.smtp import SENT, SmtpTransport
from vc_issuer.errors import EmailNotConfiguredError, SmtpError
from vc_issuer.services.home import load_home
from vc_issuer.services.issuer import Issuer


@click.group("email")
def email_group() -> None:
    """Claim emails: test the SMTP settings, preview, send the outbox, list, retry."""


@email_group.command("test")
@home_option
@click.option("--to", "to", required=True, metavar="ADDRESS", help="Where to send the test.")
@handle_errors
def test_cmd(home: Path | None, to: str) -> None:
    """Send one test message now (not through the outbox) to check the [email] settings."""
    settings = require_settings(load_home(home).home)
    rendered = Rendered(
        subject="vc-issuer: test message",
        text="This is a test message from vc-issuer: the email settings work.\n",
        html="<p>This is a test message from vc-issuer: the email settings work.</p>",
    )
    msg = build_message(settings, to, rendered)
    (delivery,) = asyncio.run(SmtpTransport(settings).send([msg]))
    if delivery.outcome != SENT:
        raise SmtpError(f"{settings.host}:{settings.port}: {delivery.outcome}: {delivery.detail}")
    _emit({"sent": True, "to": to, "server": f"{settings.host}:{settings.port}"})


@email_group.command("preview")
@home_option
@click.option("--achievement", "achievement_id", metavar="ID", help="Use its name and template.")
@click.option(
    "--to",
    "to",
    default="learner@example.org",
    show_default=True,
    metavar="ADDRESS",
    help="The sample recipient's address.",
)
@click.option(
    "--name", "name", default="Ada Lovelace", show_default=True, help="The sample recipient's name."
)
@click.option(
    "--part",
    type=click.Choice(["text", "html", "eml"]),
    default="text",
    show_default=True,
    help="What to print: the subject and text, the HTML, or the whole message.",
)
@handle_errors
def preview_cmd(
    home: Path | None, achievement_id: str | None, to: str, name: str, part: str
) -> None:
    """Render the claim email with sample links (the achievement's own template if it has
    one: HOME/email-templates/KEY/), without sending anything."""
    cfg = load_home(home)

    async def work(issuer: Issuer) -> tuple[ClaimMessage, str | None]:
        from vc_issuer.badges.achievements import AchievementService

        badge, description, key = "Example Badge", "What the badge certifies.", None
        if achievement_id is not None:
            stored = await AchievementService(issuer.store, base_url=issuer.base_url).get(
                achievement_id
            )
            badge, description, key = (
                stored.achievement.name,
                stored.achievement.description,
                stored.key,
            )
        base = issuer.base_url
        message = ClaimMessage(
            recipient=to,
            recipient_name=name or None,
            badge_name=badge,
            issuer_name=issuer.issuer_name or issuer.did,
            description=description,
            claim_link=f"{base}/claim/EXAMPLE-TOKEN",
            claim_expires="2030-01-31T00:00:00Z",
            page_url=f"{base}{PUBLIC_PATH}EXAMPLE-PAGE",
            reply_to=None,
        )
        return message, key

    message, key = _run(cfg.home, work)
    try:
        settings = require_settings(cfg.home)
    except EmailNotConfiguredError:
        settings = None
    if settings is not None:
        message = dataclasses.replace(message, reply_to=settings.reply_to)
    rendered = Templates(cfg.home).render(message, key)
    if part == "html":
        click.echo(rendered.html, nl=False)
    elif part == "eml":
        if settings is None:
            raise EmailNotConfiguredError("--part eml needs the [email] sender: see docs/email.md")
        click.echo(build_message(settings, to, rendered).as_string(), nl=False)
    else:
        click.echo(f"Subject: {rendered.subject}\n\n{rendered.text}", nl=False)


@email_group.command("send")
@home_option
@click.option(
    "--timeout",
    type=float,
    default=None,
    help="Stop after this many seconds (the rest stays queued).",
)
@handle_errors
def send_cmd(home: Path | None, timeout: float | None) -> None:
    """Send what is due in the outbox, without a server; print what happened.

    Messages a crashed sender left half-sent are marked failed first (they may have gone out:
    `email retry` sends them again). Temporary failures stay queued with a backoff.
    """
    cfg = load_home(home)
    settings = require_settings(cfg.home)

    async def work(issuer: Issuer) -> dict[str, Any]:
        mailer = mailer_for(cfg.home, issuer, settings=settings)
        assert mailer is not None
        recovered = await mailer.recover()
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        report = await mailer.send_all(deadline=deadline)
        queued = await issuer.store.list_mail(status="queued", limit=1)
        out: dict[str, Any] = report.to_dict()
        out["interrupted"] = recovered
        out["stillQueued"] = bool(queued)
        return out

    _emit(_run(cfg.home, work))


@email_group.command("list")
@home_option
@click.option("--failed", is_flag=True, help="Only messages that failed.")
@click.option(
    "--status",
    type=click.Choice(["queued", "sending", "sent", "failed", "cancelled"]),
    default=None,
    help="Only messages in this state.",
)
@click.option("--credential", "credential_id", metavar="ID", help="One award's messages.")
@click.option(
    "--limit", type=click.IntRange(0, 100_000), default=100, show_default=True, help="At most."
)
@handle_errors
def list_cmd(
    home: Path | None,
    failed: bool,
    status: str | None,
    credential_id: str | None,
    limit: int,
) -> None:
    """List outbox messages, newest first (never their claim links)."""
    if failed and status not in (None, "failed"):
        raise click.UsageError("--failed and --status exclude each other")
    wanted = "failed" if failed else status

    async def work(issuer: Issuer) -> list[dict[str, Any]]:
        rows = await issuer.store.list_mail(status=wanted, credential_id=credential_id, limit=limit)
        return [mail_json(r) for r in rows]

    _emit(_run(home, work))


@email_group.command("retry")
@home_option
@click.argument("mail_ids", nargs=-1, metavar="[ID]...")
@handle_errors
def retry_cmd(home: Path | None, mail_ids: tuple[str, ...]) -> None:
    """Queue failed messages again (all of them, or those named) with fresh attempts."""

    async def work(issuer: Issuer) -> int:
        return await issuer.store.retry_mail(issuer.now(), list(mail_ids) if mail_ids else None)

    _emit({"requeued": _run(home, work)})


def register(main: click.Group) -> None:
    main.add_command(email_group)


__all__ = ["email_group", "register"]
