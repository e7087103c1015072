"""VC API exchanges, as the Learner Credential Wallet (LCW) uses them to claim a credential.

The issuer opens an exchange for one stored award (or an unsigned credential template). The wallet

1. GETs the interaction URL (``.../interactions/{id}?iuv=1``) -> ``{"protocols": {"vcapi": ...}}``;
2. POSTs ``{}`` to the exchange -> a ``VerifiablePresentationRequest`` asking for
   ``DIDAuthentication`` with a fresh ``challenge`` and our ``domain``;
3. POSTs ``{"verifiablePresentation": <DIDAuth VP>}``, signed by its did:key with purpose
   ``authentication``. We verify it, then issue a copy of the award with
   ``credentialSubject.id`` set to the holder's DID and answer
   ``{"verifiablePresentation": {..., "verifiableCredential": [signed]}}``.

A stored award is never changed: the wallet gets a new credential (new id) built from the award's
unsigned content, signed with the award's suites, that shares the award's status entries: revoking
or suspending the award flips the one bit both point at, so a copy can never look valid while its
award is revoked (copies made before entries were shared are flipped with the award, found through
the exchanges' ``result``). It keeps the award's ``validFrom`` (the day it was earned).

Status-true delivery: no step hands out (or prepares to hand out) a revoked or suspended award.
Opening an exchange, its interaction URL, the request step and the completing step all check the
award's current status (``check_deliverable``), so an exchange opened before a revocation delivers
nothing after it.

An exchange completes once: the completion is claimed with a compare-and-set in the store before
anything is signed, so two racing wallets cannot both get a credential. Issuing uses the
idempotency key ``exchange:{id}``: a retry after a crash between claim and issue returns the same
credential to the same holder.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Unpack
from urllib.parse import quote, urlencode

from did_methods.protocol import DIDResolver
from vc_issuer.core import jose
from vc_issuer.core.credentials import format_datetime, holder_id
from vc_issuer.errors import (
    ExchangeAlreadyUsedError,
    ExchangeExpiredError,
    HolderMismatchError,
    InvalidChallengeError,
    InvalidDomainError,
    InvalidTTLError,
    MalformedInputError,
    NotFoundError,
    PresentationNotSignedError,
    ProofError,
    StoreError,
    error_class,
)
from vc_issuer.services.issuer import Issuer, IssuerService, ServiceOptions
from vc_issuer.services.jsonview import camel_fields
from vc_issuer.services.tokens import parse_duration
from vc_issuer.store import CredentialRecord, ExchangeRecord, new_exchange_id
from vc_issuer.store.base import MAX_EXCHANGE_TTL_SECONDS

VCAPI: Final = "vcapi"
DEFAULT_TTL: Final = timedelta(minutes=15)
MAX_TTL: Final = timedelta(seconds=MAX_EXCHANGE_TTL_SECONDS)
LCW_REQUEST_URL: Final = "https://lcw.app/request.html"
VP_CONTEXT_V2: Final = "https://www.w3.org/ns/credentials/v2"
VP_CONTEXT_V1: Final = "https://www.w3.org/2018/credentials/v1"
ACCEPTED_CRYPTOSUITES: Final = ("eddsa-rdfc-2022", "Ed25519Signature2020")
_SUITE_OF_PROOF = {"Ed25519Signature2020": "Ed25519Signature2020"}
_OPEN = ("pending", "active")


@dataclass(frozen=True)
class ExchangeLinks:
    """Everything an issuer hands a learner to start an exchange."""

    exchange_id: str
    exchange_url: str
    interaction_url: str
    deep_link: str
    qr_svg_url: str
    expires_at: datetime

    def to_dict(self) -> dict[str, str]:
        links = ("exchange_id", "exchange_url", "interaction_url", "deep_link", "qr_svg_url")
        return {**camel_fields(self, *links), "expires": format_datetime(self.expires_at)}


def parse_ttl(value: str | None) -> timedelta:
    """``15m``, ``2h``, ``3d``, ``90s`` (default 15 minutes; at most 30 days)."""
    if value is None or value == "":
        return DEFAULT_TTL
    ttl = parse_duration(value)
    if not ttl:
        raise InvalidTTLError(f"a time to live looks like 15m, 2h or 3d, got {value!r}")
    if ttl > MAX_TTL:
        raise InvalidTTLError("an exchange lives at most 30 days")
    return ttl


def qr_svg(data: str, *, scale: int = 4) -> str:
    """An SVG QR code (error correction M) for ``data``."""
    import io

    import segno

    out = io.BytesIO()
    segno.make(data, error="m", micro=False).save(
        out, kind="svg", scale=scale, border=4, xmldecl=False, svgns=True, title="QR code"
    )
    return out.getvalue().decode("utf-8")


def qr_terminal(data: str) -> str:
    """The QR code as text for a terminal (two-tone blocks, white border)."""
    import io

    import segno

    out = io.StringIO()
    segno.make(data, error="m", micro=False).terminal(out=out, compact=True, border=2)
    return out.getvalue()


def _subject_bound(credential: dict[str, Any], holder: str) -> dict[str, Any]:
    subject = credential.get("credentialSubject")
    if isinstance(subject, list) and len(subject) == 1 and isinstance(subject[0], dict):
        subject = subject[0]
    if not isinstance(subject, dict):
        raise MalformedInputError(
            "an exchange delivers credentials with exactly one credentialSubject object",
            field="credentialSubject",
        )
    credential["credentialSubject"] = {**subject, "id": holder}
    return credential


def check_template(template: Any) -> dict[str, Any]:
    """An unsigned credential an exchange may bind to a holder; refused early, at creation."""
    if not isinstance(template, dict):
        raise MalformedInputError(
            "the credential template must be a JSON object", field="credential"
        )
    for name in ("proof", "credentialStatus"):
        if name in template:
            raise MalformedInputError(
                f"the credential template must not carry {name}; the issuer adds it", field=name
            )
    _subject_bound(copy.deepcopy(template), "did:example:check")
    return template


def suites_of(credential: Mapping[str, Any]) -> list[str]:
    """The suites the stored award was signed with, so the copy looks the same to verifiers."""
    proofs = credential.get("proof")
    items = proofs if isinstance(proofs, list) else [proofs] if isinstance(proofs, dict) else []
    out: list[str] = []
    for p in items:
        if not isinstance(p, Mapping):
            continue
        name = _SUITE_OF_PROOF.get(str(p.get("type")), p.get("cryptosuite"))
        if isinstance(name, str) and name in ACCEPTED_CRYPTOSUITES and name not in out:
            out.append(name)
    return out


def unsigned_award(credential: Mapping[str, Any]) -> dict[str, Any]:
    """The award without what the issuer adds per credential (id, status, proof); an award
    issued as a JWT (its envelope) gives the credential inside the token, claims left out."""
    if jose.is_enveloped(credential):
        credential = jose.peek_document(jose.enveloped_token(credential)) or {}
    out = copy.deepcopy(dict(credential))
    for name in ("proof", "credentialStatus", "id"):
        out.pop(name, None)
    return out


def bind_credential(original: Mapping[str, Any], holder: str) -> dict[str, Any]:
    """An unsigned copy of an issued award for ``holder``: new id, no proof, no status entries
    (the copy gets its own), ``credentialSubject.id`` set to the holder's DID."""
    return _subject_bound(unsigned_award(original), holder)


def status_purposes_of(credential: Mapping[str, Any]) -> tuple[str, ...]:
    """The status purposes the award carries (none, revocation, or both)."""
    status = credential.get("credentialStatus")
    entries = status if isinstance(status, list) else [status] if status else []
    out = [e["statusPurpose"] for e in entries if isinstance(e, Mapping) and "statusPurpose" in e]
    return tuple(dict.fromkeys(str(p) for p in out))


async def reissue_for_holder(
    issuer: Issuer, award: CredentialRecord, holder: str, *, idempotency_key: str
) -> dict[str, Any]:
    """The wallet copy of a stored award, for every wallet protocol alike: bound to the
    holder's DID, signed with the award's suites, sharing the award's status entries (one bit
    revokes both), with the award's proof shape (an Open Badges award keeps ``proof`` an array)."""
    credential = award.credential
    signed = await issuer.issue(
        bind_credential(credential, holder),
        suites=suites_of(credential) or None,
        status=False,
        shared_status=award.status_entries or None,
        idempotency_key=idempotency_key,
    )
    award_proof = credential.get("proof")
    if isinstance(award_proof, list) and isinstance(signed.get("proof"), dict):
        signed = {**signed, "proof": [signed["proof"]]}
    return signed


class ExchangeService(IssuerService):
    """Create and run VC API exchanges over the issuer and its store (no HTTP here)."""

    def __init__(
        self,
        issuer: Issuer,
        *,
        resolver: DIDResolver | None = None,
        ttl: timedelta = DEFAULT_TTL,
        status_checker: Any = None,
        **options: Unpack[ServiceOptions],
    ) -> None:
        super().__init__(issuer, **options)
        self.resolver = resolver
        self.ttl = ttl
        self.status_checker = status_checker

    # --- links -----------------------------------------------------------------------------

    @property
    def domain(self) -> str:
        """The ``domain`` a DIDAuth proof must name: this service's base URL."""
        return self.base_url

    def exchange_url(self, exchange_id: str) -> str:
        return f"{self.base_url}/exchanges/{quote(exchange_id, safe='')}"

    def links(self, record: ExchangeRecord) -> ExchangeLinks:
        url = self.exchange_url(record.id)
        challenge = str(record.data.get("challenge", ""))
        query = urlencode(
            {
                "issuer": self.issuer.did,
                "auth_type": "bearer",
                "challenge": challenge,
                "vc_request_url": url,
            }
        )
        return ExchangeLinks(
            exchange_id=record.id,
            exchange_url=url,
            interaction_url=f"{self.base_url}/interactions/{quote(record.id, safe='')}?iuv=1",
            deep_link=f"{LCW_REQUEST_URL}?{query}",
            qr_svg_url=f"{url}/qr.svg",
            expires_at=record.expires_at,
        )

    # --- creating --------------------------------------------------------------------------

    async def create(
        self,
        *,
        credential_id: str | None = None,
        template: Mapping[str, Any] | None = None,
        ttl: timedelta | None = None,
    ) -> tuple[ExchangeRecord, ExchangeLinks]:
        """Open an exchange for a stored award (``credential_id``) or an unsigned ``template``."""
        if (credential_id is None) == (template is None):
            raise MalformedInputError("give exactly one of credentialId or credential")
        life = self.ttl if ttl is None else ttl
        if not timedelta(0) < life <= MAX_TTL:
            raise MalformedInputError("an exchange lives between 1 second and 30 days")
        data: dict[str, Any] = {"challenge": new_exchange_id(), "domain": self.domain}
        tmpl: dict[str, Any] | None = None
        if credential_id is not None:
            award = await self.stored_award(credential_id)
            bind_credential(award.credential, "did:example:check")
            await self.check_deliverable(award.id)
        else:
            tmpl = copy.deepcopy(check_template(template))
        moment = self.now()
        record = ExchangeRecord(
            id=new_exchange_id(),
            kind=VCAPI,
            state="pending",
            created_at=moment,
            expires_at=moment + life,
            credential_id=credential_id,
            template=tmpl,
            data=data,
        )
        stored = await self.store.create_exchange(record)
        return stored, self.links(stored)

    # --- running ---------------------------------------------------------------------------

    async def get(self, exchange_id: str) -> ExchangeRecord:
        record = await self.store.get_exchange(exchange_id)
        if record is None or record.kind != VCAPI:
            raise NotFoundError("no such exchange")
        return record

    async def open_exchange(self, exchange_id: str) -> ExchangeRecord:
        """The exchange if a wallet may still use it; else 404, 409 (used) or 410 (expired, or
        its award revoked or suspended)."""
        record = await self.get(exchange_id)
        self._check_open(record)
        await self._check_award(record)
        return record

    async def _check_award(self, record: ExchangeRecord) -> None:
        if record.credential_id is not None:
            await self.check_deliverable(record.credential_id)

    def _check_open(self, record: ExchangeRecord) -> None:
        if record.state == "complete":
            raise ExchangeAlreadyUsedError("this exchange was already used to claim a credential")
        if record.state in ("expired", "failed") or record.is_expired(self.now()):
            raise ExchangeExpiredError("this exchange has expired; ask the issuer for a new link")

    async def protocols(self, exchange_id: str) -> dict[str, Any]:
        """The interaction URL's JSON answer (VC API interaction ``iuv=1``)."""
        record = await self.open_exchange(exchange_id)
        links = self.links(record)
        return {
            "protocols": {
                "vcapi": links.exchange_url,
                "iu": links.interaction_url,
                "lcw": links.deep_link,
            }
        }

    def presentation_request(self, record: ExchangeRecord) -> dict[str, Any]:
        url = self.exchange_url(record.id)
        return {
            "query": [
                {
                    "type": "DIDAuthentication",
                    "acceptedMethods": [{"method": "key"}],
                    "acceptedCryptosuites": [{"cryptosuite": s} for s in ACCEPTED_CRYPTOSUITES],
                }
            ],
            "challenge": record.data["challenge"],
            "domain": record.data.get("domain", self.domain),
            "interact": {
                "service": [
                    {"type": "VerifiableCredentialApiExchangeService", "serviceEndpoint": url},
                    {"type": "UnmediatedPresentationService2021", "serviceEndpoint": url},
                ]
            },
        }

    async def participate(self, exchange_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """One wallet step: ``{}`` -> a presentation request; a DIDAuth VP -> the credential."""
        record = await self.get(exchange_id)
        vp = _presentation_in(body)
        # A claimed exchange whose issuing did not finish (crash, store outage) may be retried by
        # the same holder; _deliver checks the holder. Everything else must still be open.
        if not (vp is not None and record.state == "complete" and record.result is None):
            self._check_open(record)
        await self._check_award(record)
        if vp is None:
            if record.state == "pending":
                await self.store.transition_exchange(
                    record.id, ["pending"], "active", now=self.now()
                )
            return {"verifiablePresentationRequest": self.presentation_request(record)}
        holder = await self._authenticate(record, vp)
        return await self._deliver(record, holder)

    async def _authenticate(self, record: ExchangeRecord, vp: Mapping[str, Any]) -> str:
        from vc_issuer.services.verifier import verify_presentation

        holder = holder_id(vp)
        if holder is None:
            raise MalformedInputError(
                "the DIDAuth presentation needs a holder (the DID to bind)", field="holder"
            )
        if "proof" not in vp:
            raise PresentationNotSignedError("the DIDAuth presentation is not signed")
        result = await verify_presentation(
            vp,
            challenge=str(record.data["challenge"]),
            domain=str(record.data.get("domain", self.domain)),
            resolver=self.resolver,
            loader=self.issuer.loader,
            now=self.now,
            status_checker=self.status_checker,
        )
        if result.verified:
            return holder
        failed = [c for c in result.checks if not c.passed]
        names = {c.name for c in failed}
        detail = "; ".join(f"{c.name}: {c.detail or c.code}" for c in failed)
        errors = [c.to_dict() for c in failed]
        if "challenge" in names:
            raise InvalidChallengeError(f"the presentation's challenge is wrong ({detail})")
        if "domain" in names:
            raise InvalidDomainError(f"the presentation's domain is wrong ({detail})")
        if "holder" in names:
            raise HolderMismatchError(f"the holder did not sign the presentation ({detail})")
        if "structure" in names:
            raise MalformedInputError(f"not a verifiable presentation: {detail}", errors=errors)
        code = failed[0].code if failed and failed[0].code else ProofError.code
        raise error_class(code, ProofError)(f"the DIDAuth presentation did not verify: {detail}")

    async def _deliver(self, record: ExchangeRecord, holder: str) -> dict[str, Any]:
        moment = self.now()
        data = {**record.data, "holder": holder, "claimedAt": format_datetime(moment)}
        claimed = await self.store.transition_exchange(
            record.id, list(_OPEN), "complete", data=data, now=moment
        )
        if not claimed:
            current = await self.get(record.id)
            retry = current.state == "complete" and current.result is None
            if not (retry and current.data.get("holder") == holder):
                self._check_open(current)  # raises the right error
                raise ExchangeAlreadyUsedError("this exchange is being completed by another call")
        await self._check_award(record)  # the status may have changed while we verified
        key = f"exchange:{record.id}"
        if record.template is not None:
            signed = await self.issuer.issue(
                _subject_bound(copy.deepcopy(record.template), holder), idempotency_key=key
            )
        else:
            signed = await reissue_for_holder(
                self.issuer, await self._award(record), holder, idempotency_key=key
            )
        result = {
            "credentialId": signed.get("id"),
            "holder": holder,
            "deliveredAt": format_datetime(moment),
        }
        if record.credential_id is not None:
            result["awardId"] = record.credential_id
        await self.store.transition_exchange(record.id, ["complete"], "complete", result=result)
        version = "1.1" if VP_CONTEXT_V1 in _contexts(signed) else "2.0"
        return {
            "verifiablePresentation": {
                "@context": [VP_CONTEXT_V2 if version == "2.0" else VP_CONTEXT_V1],
                "type": ["VerifiablePresentation"],
                "verifiableCredential": [signed],
            }
        }

    async def _award(self, record: ExchangeRecord) -> CredentialRecord:
        assert record.credential_id is not None
        award = await self.store.get_credential(record.credential_id)
        if award is None:
            raise StoreError(f"the award {record.credential_id!r} of this exchange is gone")
        return award

    async def delivered_copies(self, credential_id: str) -> list[str]:
        """Ids of the credentials wallets received for one award (revoke them with it)."""
        out: list[str] = []
        for rec in await self.store.list_exchanges(credential_id=credential_id, limit=1000):
            if rec.result and isinstance(rec.result.get("credentialId"), str):
                out.append(rec.result["credentialId"])
        return out


def _presentation_in(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """``{"verifiablePresentation": vp}`` (VC API), or a bare VP (older LCW builds post that)."""
    if not isinstance(body, Mapping):
        raise MalformedInputError("the request body must be a JSON object")
    if "verifiablePresentation" in body:
        vp = body["verifiablePresentation"]
        if not isinstance(vp, Mapping):
            raise MalformedInputError(
                "verifiablePresentation must be a JSON object", field="verifiablePresentation"
            )
        return vp
    types = body.get("type")
    if types == "VerifiablePresentation" or (
        isinstance(types, list) and "VerifiablePresentation" in types
    ):
        return body
    return None


def _contexts(credential: Mapping[str, Any]) -> Sequence[Any]:
    ctx = credential.get("@context")
    return ctx if isinstance(ctx, list) else [ctx]


__all__ = [
    "DEFAULT_TTL",
    "LCW_REQUEST_URL",
    "ExchangeLinks",
    "ExchangeService",
    "bind_credential",
    "check_template",
    "parse_ttl",
    "qr_svg",
    "qr_terminal",
    "reissue_for_holder",
    "status_purposes_of",
    "suites_of",
    "unsigned_award",
]
