"""Claim emails from Jinja2 templates: a subject, a plain-text part and an HTML part.

Templates are looked up, first found wins, in ``HOME/email-templates/ACHIEVEMENT_KEY/`` (one
achievement), ``HOME/email-templates/`` (every achievement), then the defaults shipped here.
The file names are ``claim.subject.txt``, ``claim.txt`` and ``claim.html``. The HTML part is
autoescaped; templates run sandboxed with strict undefined names, so a typo fails at preview
time, not silently in 10,000 inboxes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any, Final

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from vc_issuer.email.config import SmtpSettings
from vc_issuer.errors import EmailTemplateError

TEMPLATE_DIR: Final = "email-templates"
SUBJECT: Final = "claim.subject.txt"
TEXT: Final = "claim.txt"
HTML: Final = "claim.html"
_KEY_RE: Final = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_DEFAULTS: Final = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class ClaimMessage:
    """What a claim email says (the template context)."""

    recipient: str
    recipient_name: str | None
    badge_name: str
    issuer_name: str
    description: str | None
    claim_link: str
    """The learner's personal claim link."""
    claim_expires: str
    page_url: str
    """The badge's public page (safe to share)."""
    reply_to: str | None = None

    def context(self) -> dict[str, Any]:
        # the fields by name, and their former names, so templates written for them keep working
        return {**asdict(self), "claim_url": self.claim_link, "public_url": self.page_url}


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


class Templates:
    """The template sets of one home, one environment per achievement key (cached)."""

    def __init__(self, home: Path | None = None) -> None:
        self.root = None if home is None else home / TEMPLATE_DIR
        self._envs: dict[str | None, tuple[SandboxedEnvironment, SandboxedEnvironment]] = {}

    def _env(self, key: str | None) -> tuple[SandboxedEnvironment, SandboxedEnvironment]:
        if key is not None and not _KEY_RE.match(key):
            key = None  # never a path outside the template folder
        if key not in self._envs:
            dirs: list[str] = []
            if self.root is not None:
                if key is not None:
                    dirs.append(str(self.root / key))
                dirs.append(str(self.root))
            dirs.append(str(_DEFAULTS))
            loader = jinja2.FileSystemLoader(dirs)
            common: dict[str, Any] = {
                "loader": loader,
                "undefined": jinja2.StrictUndefined,
                "keep_trailing_newline": True,
            }
            self._envs[key] = (
                SandboxedEnvironment(autoescape=False, **common),
                SandboxedEnvironment(autoescape=True, **common),
            )
        return self._envs[key]

    def render(self, message: ClaimMessage, key: str | None = None) -> Rendered:
        plain, html = self._env(key)
        ctx = message.context()
        try:
            subject = plain.get_template(SUBJECT).render(ctx)
            text = plain.get_template(TEXT).render(ctx)
            body = html.get_template(HTML).render(ctx)
        except jinja2.TemplateError as exc:
            where = getattr(exc, "name", None) or getattr(exc, "filename", None) or "a template"
            raise EmailTemplateError(f"email template {where}: {exc}") from None
        return Rendered(" ".join(subject.split()), text, body)


def build_message(
    settings: SmtpSettings, to: str, rendered: Rendered, *, headers: Mapping[str, str] = {}
) -> EmailMessage:
    """A multipart/alternative message (text, then HTML) from the configured sender."""
    msg = EmailMessage()
    msg["From"] = settings.sender
    msg["To"] = to
    if settings.reply_to:
        msg["Reply-To"] = settings.reply_to
    msg["Subject"] = rendered.subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=settings.sender_domain)
    for name, value in headers.items():
        msg[name] = value
    msg.set_content(rendered.text)
    msg.add_alternative(rendered.html, subtype="html")
    return msg


__all__ = ["ClaimMessage", "Rendered", "Templates", "build_message"]
