"""Sharing a badge's public page: LinkedIn's add-to-profile link, plain share links, and the
data of the embeddable card (the HTML snippet and the oEmbed answer carry the same facts).

Pure functions over plain values: the pages render them, nothing here fetches or stores. Every
link points at the public page, never at a personal claim link.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote, urlencode
from xml.etree import ElementTree

from vc_issuer.core import jose
from vc_issuer.errors import VCIssuerError

LINKEDIN_ADD_TO_PROFILE: Final = "https://www.linkedin.com/profile/add"
LINKEDIN_SHARE: Final = "https://www.linkedin.com/sharing/share-offsite/"
X_SHARE: Final = "https://x.com/intent/tweet"
FACEBOOK_SHARE: Final = "https://www.facebook.com/sharer/sharer.php"
#: The card's size as oEmbed reports it (CSS pixels; the card shrinks to a smaller ``maxwidth``).
CARD_WIDTH: Final = 360
CARD_HEIGHT: Final = 140
CARD_MIN_WIDTH: Final = 200


@dataclass(frozen=True)
class BadgeFacts:
    """What a share link or a card says about one awarded badge."""

    page_url: str
    name: str
    issuer_name: str | None
    recipient: str | None
    credential_id: str | None
    issued: datetime | None
    expires: datetime | None
    image_url: str

    @property
    def title(self) -> str:
        return f"{self.name} — {self.recipient}" if self.recipient else self.name


def parse_moment(value: Any) -> datetime | None:
    """A credential date-time (``validFrom``, ``awardedDate``...) as UTC, None if unreadable."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def linkedin_add_to_profile(facts: BadgeFacts) -> str:
    """LinkedIn's "Add license or certification" form, filled in: name, organization, issue and
    expiry month/year, the page as the credential URL and the credential id."""
    params: list[tuple[str, str]] = [("startTask", "CERTIFICATION_NAME"), ("name", facts.name)]
    if facts.issuer_name:
        params.append(("organizationName", facts.issuer_name))
    if facts.issued is not None:
        params += [("issueYear", str(facts.issued.year)), ("issueMonth", str(facts.issued.month))]
    if facts.expires is not None:
        params += [
            ("expirationYear", str(facts.expires.year)),
            ("expirationMonth", str(facts.expires.month)),
        ]
    params.append(("certUrl", facts.page_url))
    if facts.credential_id:
        params.append(("certId", facts.credential_id))
    return f"{LINKEDIN_ADD_TO_PROFILE}?{urlencode(params, quote_via=quote)}"


@dataclass(frozen=True)
class ShareLink:
    id: str
    label: str
    href: str


def share_text(facts: BadgeFacts) -> str:
    by = f" from {facts.issuer_name}" if facts.issuer_name else ""
    return f"I earned the “{facts.name}” badge{by}."


def share_links(facts: BadgeFacts) -> list[ShareLink]:
    """Plain share links (no scripts, no tracking): a post on LinkedIn, X, Facebook, an email."""
    text = share_text(facts)
    subject = f"My badge: {facts.name}"
    body = f"{text}\n\nSee it and check it here: {facts.page_url}"
    return [
        ShareLink(
            "share-linkedin", "Post on LinkedIn", f"{LINKEDIN_SHARE}?{_q(url=facts.page_url)}"
        ),
        ShareLink("share-x", "Post on X", f"{X_SHARE}?{_q(text=text, url=facts.page_url)}"),
        ShareLink(
            "share-facebook", "Share on Facebook", f"{FACEBOOK_SHARE}?{_q(u=facts.page_url)}"
        ),
        ShareLink("share-email", "Send by email", f"mailto:?{_q(subject=subject, body=body)}"),
    ]


def _q(**params: str) -> str:
    return urlencode(params, quote_via=quote)


def card_width(maxwidth: int | None) -> int:
    """The card's width for a consumer's ``maxwidth`` (never below the smallest usable)."""
    if maxwidth is None:
        return CARD_WIDTH
    return max(CARD_MIN_WIDTH, min(CARD_WIDTH, maxwidth))


def oembed_response(
    facts: BadgeFacts,
    html: str,
    *,
    provider_name: str,
    provider_url: str,
    width: int,
    height: int = CARD_HEIGHT,
) -> dict[str, Any]:
    """An oEmbed 1.0 ``rich`` answer (oembed.com section 2.3.4) whose ``html`` is the card."""
    out: dict[str, Any] = {
        "version": "1.0",
        "type": "rich",
        "title": facts.title,
        "provider_name": provider_name,
        "provider_url": provider_url,
        "html": html,
        "width": width,
        "height": height,
        "cache_age": 3600,
    }
    if facts.issuer_name:
        out["author_name"] = facts.issuer_name
    return out


def oembed_xml(answer: Mapping[str, Any]) -> bytes:
    """The same answer in oEmbed's XML format (section 2.3.4: one element per field, the card's
    HTML as escaped text)."""
    root = ElementTree.Element("oembed")
    for name, value in answer.items():
        ElementTree.SubElement(root, name).text = str(value)
    body: bytes = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def shown_credential(credential: Mapping[str, Any]) -> Mapping[str, Any]:
    """The credential a page, card or certificate describes: for one issued as a JWT (an
    enveloped credential) the document the token carries, unverified (the page verifies the
    token itself), else the credential itself."""
    if jose.is_enveloped(credential):
        try:
            return jose.peek_document(jose.enveloped_token(credential)) or {}
        except VCIssuerError:
            return {}
    return credential


def facts_from_credential(
    credential: Mapping[str, Any],
    *,
    page_url: str,
    image_url: str,
    issuer_name: str | None,
) -> BadgeFacts:
    """The facts of a stored Open Badge (any credential works: missing parts stay None)."""
    subject = credential.get("credentialSubject")
    first = subject[0] if isinstance(subject, list) and subject else subject
    first = first if isinstance(first, Mapping) else {}
    achievement = first.get("achievement")
    achievement = achievement if isinstance(achievement, Mapping) else {}
    name = achievement.get("name") or credential.get("name") or "Badge"
    recipient = first.get("name")
    credential_id = credential.get("id")
    return BadgeFacts(
        page_url=page_url,
        name=str(name),
        issuer_name=issuer_name,
        recipient=recipient if isinstance(recipient, str) else None,
        credential_id=credential_id if isinstance(credential_id, str) else None,
        issued=parse_moment(
            credential.get("awardedDate")
            or credential.get("validFrom")
            or credential.get("issuanceDate")
        ),
        expires=parse_moment(credential.get("validUntil") or credential.get("expirationDate")),
        image_url=image_url,
    )


__all__ = [
    "CARD_HEIGHT",
    "CARD_WIDTH",
    "BadgeFacts",
    "ShareLink",
    "card_width",
    "facts_from_credential",
    "linkedin_add_to_profile",
    "oembed_response",
    "oembed_xml",
    "parse_moment",
    "share_links",
    "share_text",
    "shown_credential",
]
