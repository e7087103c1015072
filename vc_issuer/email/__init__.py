"""Email delivery of claim links: settings, templates, the outbox sender and its SMTP edge.

``config`` reads ``[email]``; ``render`` turns a claim into a message (Jinja2); ``outbox``
queues and sends (pure apart from the store and the transport); ``smtp`` is the edge that talks
to the SMTP server. ``mailer_for`` wires them for one issuer home.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from vc_issuer.email.config import SmtpSettings, load_settings
from vc_issuer.email.outbox import Mailer
from vc_issuer.email.render import Templates
from vc_issuer.email.smtp import SmtpTransport, Transport

if TYPE_CHECKING:
    from vc_issuer.services.issuer import Issuer


def mailer_for(
    home: Path,
    issuer: Issuer,
    *,
    settings: SmtpSettings | None = None,
    transport: Transport | None = None,
) -> Mailer | None:
    """The home's mailer, or None when it has no ``[email]`` settings."""
    settings = settings or load_settings(home)
    if settings is None:
        return None
    return Mailer(
        issuer.store,
        transport or SmtpTransport(settings),
        settings,
        base_url=issuer.base_url,
        status_of=issuer.credential_status,
        templates=Templates(home),
        now=issuer.now,
    )


__all__ = ["Mailer", "SmtpSettings", "SmtpTransport", "Templates", "mailer_for"]
