"""Personal claim links: ``{base_url}/claim/{token}``, one per award, sent to the learner.

The public credential page ``/c/{page_id}`` is shared with employers, so it must not carry
anything that delivers the badge into a wallet. A claim link is the learner's own key to that:

* the token is 256 random bits; the store keeps only its SHA-256, so a leaked database does not
  leak working links;
* it is bound to one credential id, lives 30 days by default and can be revoked;
* it is long-lived, the wallet hand-overs it opens are not: every visit creates a FRESH
  single-use VC API exchange (Learner Credential Wallet) and a FRESH OpenID4VCI pre-authorized
  offer, each valid for minutes. Whatever a wallet scanned cannot be replayed later.

OpenID4VCI offers made from a claim link carry no ``tx_code`` by default: the claim link itself
is the secret that went over a second channel (email), and a PIN printed on the same page as the
QR code protects nothing. ``show_tx_code=True`` still requires one (and prints it next to the QR)
for issuers whose wallets or policy want a PIN.

No HTTP here: :mod:`vc_issuer.http.claims` maps it to routes.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Unpack

from vc_issuer.badges.awards import ISSUED, AwardResult
from vc_issuer.core.credentials import format_datetime
from vc_issuer.errors import (
    ClaimExpiredError,
    ClaimNotFoundError,
    ClaimRevokedError,
    InvalidTTLError,
    MalformedInputError,
    NotFoundError,
)
from vc_issuer.services.issuer import Issuer, IssuerService, ServiceOptions
from vc_issuer.services.tokens import hash_secret, parse_duration
from vc_issuer.store import ClaimRecord
from vc_issuer.wallets.exchanges import ExchangeLinks, ExchangeService, qr_svg
from vc_issuer.wallets.oid4vci import CreatedOffer, OID4VCIService

CLAIM_PATH: Final = "/claim/"
DEFAULT_CLAIM_TTL: Final = timedelta(days=30)
MAX_CLAIM_TTL: Final = timedelta(days=366)
_TOKEN_RE: Final = re.compile(r"^[A-Za-z0-9_-]{20,128}$")


def new_claim_token() -> str:
    """256 random bits, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


def parse_claim_ttl(value: str | None) -> timedelta:
    """``30d``, ``2w``, ``12h`` (default 30 days; at most 366 days)."""
    if value is None or value == "":
        return DEFAULT_CLAIM_TTL
    ttl = parse_duration(value)
    if not ttl:
        raise InvalidTTLError(
            f"a claim link lifetime looks like 30d, 2w or 12h, got {value!r}",
            field="expires",
        )
    if ttl > MAX_CLAIM_TTL:
        raise InvalidTTLError("a claim link lives at most 366 days", field="expires")
    return ttl


@dataclass(frozen=True)
class CreatedClaim:
    """A new claim link; the plain token exists only here (and in the URL sent to the learner)."""

    id: str
    credential_id: str
    token: str
    url: str
    expires_at: datetime

    def to_dict(self) -> dict[str, str]:
        return {
            "id": self.id,
            "credentialId": self.credential_id,
            "claimLink": self.url,
            "claimUrl": self.url,  # deprecated name of claimLink (kept for older clients)
            "expires": format_datetime(self.expires_at),
        }


@dataclass(frozen=True)
class WalletLinks:
    """What one visit of a claim link shows: fresh, single-use hand-overs to two wallet kinds."""

    claim: ClaimRecord
    claim_link: str
    badge_name: str
    issuer_name: str | None
    lcw: ExchangeLinks
    lcw_qr_svg: str
    offer: CreatedOffer
    offer_qr_svg: str
    show_tx_code: bool

    @property
    def offer_uri(self) -> str:
        """``openid-credential-offer://?credential_offer_uri=...`` (by reference: a small QR)."""
        return self.offer.offer_ref_uri

    @property
    def tx_code_required(self) -> bool:
        return self.offer.tx_code is not None

    def to_dict(self) -> dict[str, Any]:
        oid4vci: dict[str, Any] = {
            "credentialOfferUri": self.offer_uri,
            "credentialOfferUrl": self.offer.offer_url,
            "txCodeRequired": self.tx_code_required,
            "expires": format_datetime(self.offer.expires_at),
        }
        if self.tx_code_required and self.show_tx_code:
            oid4vci["txCode"] = self.offer.tx_code
        return {
            "claimId": self.claim.id,
            "claimLink": self.claim_link,
            "claimUrl": self.claim_link,  # deprecated name of claimLink
            "credentialId": self.claim.credential_id,
            "badgeName": self.badge_name,
            "expires": format_datetime(self.claim.expires_at),
            "lcw": {
                "deepLink": self.lcw.deep_link,
                "interactionUrl": self.lcw.interaction_url,
                "exchangeUrl": self.lcw.exchange_url,
                "qrSvgUrl": self.lcw.qr_svg_url,
                "expires": format_datetime(self.lcw.expires_at),
            },
            "oid4vci": oid4vci,
        }


def badge_name(credential: Mapping[str, Any]) -> str:
    """The achievement's name (what the learner recognises), else the credential's."""
    subject = credential.get("credentialSubject")
    if isinstance(subject, list) and subject:
        subject = subject[0]
    ach = subject.get("achievement") if isinstance(subject, Mapping) else None
    name = ach.get("name") if isinstance(ach, Mapping) else None
    if not isinstance(name, str) or not name:
        name = credential.get("name")
    return name if isinstance(name, str) and name else "Badge"


class ClaimService(IssuerService):
    """Create, resolve and revoke claim links over an issuer's store (no HTTP here)."""

    def __init__(
        self,
        issuer: Issuer,
        *,
        exchanges: ExchangeService | None = None,
        offers: OID4VCIService | None = None,
        ttl: timedelta = DEFAULT_CLAIM_TTL,
        show_tx_code: bool = False,
        **options: Unpack[ServiceOptions],
    ) -> None:
        if not timedelta(0) < ttl <= MAX_CLAIM_TTL:
            raise MalformedInputError("a claim link lives between 1 second and 366 days")
        super().__init__(issuer, **options)
        self.ttl = ttl
        self.show_tx_code = show_tx_code
        self._exchanges = exchanges
        self._offers = offers

    @property
    def exchanges(self) -> ExchangeService:
        if self._exchanges is None:
            self._exchanges = ExchangeService(self.issuer, base_url=self.base_url, now=self.now)
        return self._exchanges

    @property
    def offers(self) -> OID4VCIService:
        if self._offers is None:
            self._offers = OID4VCIService(self.issuer, base_url=self.base_url, now=self.now)
        return self._offers

    def url(self, token: str) -> str:
        return f"{self.base_url}{CLAIM_PATH}{token}"

    # --- creating --------------------------------------------------------------------------

    async def create(self, credential_id: str, *, ttl: timedelta | None = None) -> CreatedClaim:
        """A claim link for one stored award; ``NotFoundError`` if it was not issued here."""
        award = await self.stored_award(credential_id)
        return (await self.create_many([award.id], ttl=ttl))[0]

    async def create_many(
        self, credential_ids: Sequence[str], *, ttl: timedelta | None = None
    ) -> list[CreatedClaim]:
        """Claim links for awards known to exist (a batch's fresh rows): one transaction."""
        life = self.ttl if ttl is None else ttl
        if not timedelta(0) < life <= MAX_CLAIM_TTL:
            raise MalformedInputError("a claim link lives between 1 second and 366 days")
        moment = self.now()
        made: list[CreatedClaim] = []
        records: list[ClaimRecord] = []
        for credential_id in credential_ids:
            token = new_claim_token()
            record = ClaimRecord(
                id=secrets.token_hex(8),
                token_hash=hash_secret(token),
                credential_id=credential_id,
                created_at=moment,
                expires_at=moment + life,
            )
            records.append(record)
            made.append(
                CreatedClaim(record.id, credential_id, token, self.url(token), record.expires_at)
            )
        await self.store.create_claims(records)
        return made

    # --- using -----------------------------------------------------------------------------

    async def resolve(self, token: str) -> ClaimRecord:
        """The claim behind a token if it may still be used; else 404 or 410."""
        if not isinstance(token, str) or not _TOKEN_RE.match(token):
            raise ClaimNotFoundError("there is no claim link at this address")
        record = await self.store.find_claim(hash_secret(token))
        if record is None:
            raise ClaimNotFoundError("there is no claim link at this address")
        if record.revoked_at is not None:
            raise ClaimRevokedError("the issuer withdrew this claim link; ask them for a new one")
        if record.is_expired(self.now()):
            raise ClaimExpiredError(
                f"this claim link expired on {format_datetime(record.expires_at)};"
                " ask the issuer for a new one"
            )
        return record

    async def wallet_links(self, token: str, *, credential_id: str | None = None) -> WalletLinks:
        """Resolve ``token`` and open a fresh LCW exchange and OpenID4VCI offer for its award.

        With ``credential_id``, a token of another award is refused as unknown (404).
        """
        record = await self.resolve(token)
        if credential_id is not None and record.credential_id != credential_id:
            raise ClaimNotFoundError("there is no claim link at this address")
        award = await self.store.get_credential(record.credential_id)
        if award is None:
            raise NotFoundError("the badge of this claim link no longer exists")
        await self.check_deliverable(record.credential_id)
        _, lcw = await self.exchanges.create(credential_id=record.credential_id)
        offer = await self.offers.create_offer(record.credential_id, tx_code=self.show_tx_code)
        await self.store.touch_claim(record.id, self.now())
        issuer = award.credential.get("issuer")
        issuer_name = issuer.get("name") if isinstance(issuer, Mapping) else None
        return WalletLinks(
            claim=record,
            claim_link=self.url(token),
            badge_name=badge_name(award.credential),
            issuer_name=issuer_name if isinstance(issuer_name, str) else None,
            lcw=lcw,
            lcw_qr_svg=qr_svg(lcw.interaction_url),
            offer=offer,
            offer_qr_svg=qr_svg(offer.offer_ref_uri),
            show_tx_code=self.show_tx_code,
        )

    # --- managing --------------------------------------------------------------------------

    async def revoke(self, claim_id: str) -> ClaimRecord:
        """Withdraw a claim link (exchanges and offers already opened from it expire on their
        own within minutes)."""
        return await self.store.revoke_claim(claim_id, self.now())

    async def list(self, credential_id: str | None = None, limit: int = 100) -> list[ClaimRecord]:
        return await self.store.list_claims(credential_id=credential_id, limit=limit)

    async def link_results(
        self, results: Sequence[AwardResult], *, ttl: timedelta | None = None
    ) -> int:
        """Give every newly issued batch row (status ``issued``) a claim link, in one
        transaction. Skipped rows (awarded by an earlier run) get none: their learner already
        got a link then, and a rerun must not mail out a second one. Returns how many were made.
        """
        rows = [r for r in results if r.status == ISSUED and r.credential_id and not r.claim_link]
        made = await self.create_many([r.credential_id for r in rows], ttl=ttl)
        for row, claim in zip(rows, made, strict=True):
            row.claim_link = claim.url
        return len(made)


def claim_summary(record: ClaimRecord) -> dict[str, Any]:
    """A stored claim for the issuer (never the token: it is not stored)."""
    out: dict[str, Any] = {
        "id": record.id,
        "credentialId": record.credential_id,
        "created": format_datetime(record.created_at),
        "expires": format_datetime(record.expires_at),
    }
    if record.revoked_at is not None:
        out["revoked"] = format_datetime(record.revoked_at)
    if record.last_used_at is not None:
        out["lastUsed"] = format_datetime(record.last_used_at)
    return out


__all__ = [
    "CLAIM_PATH",
    "DEFAULT_CLAIM_TTL",
    "ClaimService",
    "CreatedClaim",
    "WalletLinks",
    "badge_name",
    "claim_summary",
    "new_claim_token",
    "parse_claim_ttl",
]
