"""OpenID for Verifiable Credential Issuance 1.0: the pre-authorized code flow for Open Badges.

The issuer makes an *offer* for a stored award; the wallet redeems the offer's pre-authorized code
(plus an optional numeric ``tx_code`` the learner got on a second channel) at ``/token``, fetches a
``c_nonce`` from ``/nonce`` and sends a ``jwt`` key proof to ``/credential``. The issuer then signs
a copy of the award whose ``credentialSubject.id`` is the holder's DID, in the format of the
configuration the wallet asked for: ``ldp_vc`` (VC 2.0 with a Data Integrity proof) or
``jwt_vc_json`` (appendix A.1.1: a VC-JWT, the credential as VC 1.1 in the ``vc`` claim, ``sub``
the holder; EdDSA with the Ed25519 key unless the home has only a P-256/P-384 one).

State lives in the store's ``exchanges`` table (kind ``oid4vci``), secrets only as SHA-256:

* an offer is a ``pending`` exchange found by its hashed pre-authorized code; a correct ``/token``
  call moves it to ``active`` (single use, atomic) and re-keys it by the hashed access token;
  ``/credential`` moves it to ``complete`` and drops the key, so a token works once;
* ``tx_code`` attempts are checked and counted in the store in one statement before a guess is
  compared (``Store.count_attempt``), so concurrent guesses evaluate at most the limit; the fifth
  wrong one burns the code (``failed``);
* a ``c_nonce`` is a tiny ``pending`` exchange (``data.c_nonce``) consumed by the same atomic
  transition: single use across processes sharing a store.

The plain pre-authorized code stays in the pending record (the offer-by-reference URL has to hand
it out) and is dropped when it is redeemed. Holder binding: a ``kid`` that is a did:key URL binds
that DID; a ``jwk`` (Ed25519 OKP or P-256 EC) binds the did:key of the same public key, so every
holder gets a DID that resolves offline. Proof algorithms: EdDSA (Ed25519) and ES256 (P-256),
the ``alg`` must fit the key; anything else is ``invalid_proof``.

Protocol logic only: no HTTP here (``vc_issuer.http.oid4vci`` maps it to routes); the store, the
issuer and the clock are injected.
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Unpack
from urllib.parse import quote

from joserfc import jwt as jose_jwt
from joserfc.errors import JoseError
from joserfc.jwk import Key

from did_methods.multikey import (
    KeyType,
    MultibaseError,
    decode_public_multikey,
    encode_public_multikey,
)
from vc_issuer.core import jose
from vc_issuer.core.credentials import format_datetime, parse_xml_datetime
from vc_issuer.core.jsonparse import parse_json_text
from vc_issuer.errors import (
    CredentialRequestDeniedError,
    InvalidCredentialRequestError,
    InvalidGrantError,
    InvalidNonceError,
    InvalidProofError,
    InvalidTokenError,
    MalformedInputError,
    NotFoundError,
    OAuthError,
    ParsingError,
    UnknownCredentialConfigurationError,
    UnsupportedGrantTypeError,
    VCIssuerError,
)
from vc_issuer.services.issuer import Issuer, IssuerService, ServiceOptions
from vc_issuer.services.tokens import hash_secret
from vc_issuer.store.base import ExchangeRecord, new_exchange_id
from vc_issuer.wallets.exchanges import bind_credential, reissue_for_holder

PRE_AUTHORIZED_GRANT: Final = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
OFFER_SCHEME: Final = "openid-credential-offer://"
PROOF_TYP: Final = "openid4vci-proof+jwt"
PROOF_ALGS: Final[dict[str, KeyType]] = {"EdDSA": "Ed25519", "Ed25519": "Ed25519", "ES256": "P-256"}
"""Key proof algorithms and the holder key each takes: ``EdDSA`` (what wallets send today) and
its fully specified name from RFC 9864, and ``ES256`` (P-256, what most mobile wallets hold)."""
CONFIGURATION_ID: Final = "OpenBadgeCredential_ldp_vc"
JWT_CONFIGURATION_ID: Final = "OpenBadgeCredential_jwt_vc_json"
CONFIGURATIONS: Final[tuple[str, ...]] = (CONFIGURATION_ID, JWT_CONFIGURATION_ID)
VC_V2_CONTEXT: Final = "https://www.w3.org/ns/credentials/v2"
VC_V1_CONTEXT: Final = "https://www.w3.org/2018/credentials/v1"
OB_CONTEXT: Final = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
CREDENTIAL_TYPES: Final[tuple[str, ...]] = ("VerifiableCredential", "OpenBadgeCredential")
KIND: Final = "oid4vci"

TOKEN_PATH: Final = "/token"
NONCE_PATH: Final = "/nonce"
CREDENTIAL_PATH: Final = "/credential"
OFFERS_PATH: Final = "/oid4vci/offers"
ISSUER_METADATA_PATH: Final = "/.well-known/openid-credential-issuer"
AS_METADATA_PATH: Final = "/.well-known/oauth-authorization-server"

_CODE_PREFIX: Final = "oid4vci-code:"
_TOKEN_PREFIX: Final = "oid4vci-token:"
_NONCE_PREFIX: Final = "oid4vci-nonce:"
_MAX_JWT: Final = 8192


def _digest(prefix: str, secret: str) -> str:
    return prefix + hash_secret(secret)


@dataclass(frozen=True)
class OID4VCIConfig:
    """Lifetimes and limits; the defaults follow the spec's advice (short-lived, single use)."""

    code_ttl: timedelta = timedelta(minutes=10)
    token_ttl: timedelta = timedelta(minutes=5)
    nonce_ttl: timedelta = timedelta(minutes=5)
    proof_max_age: timedelta = timedelta(minutes=5)
    """A key proof's ``iat`` may be at most this old ..."""
    proof_max_skew: timedelta = timedelta(seconds=60)
    """... and at most this far in the future (clock skew)."""
    tx_code_length: int = 6
    max_tx_code_attempts: int = 5
    tx_code_description: str = "Enter the PIN your issuer sent you separately"

    def __post_init__(self) -> None:
        if not 4 <= self.tx_code_length <= 12:
            raise MalformedInputError("tx_code_length must be between 4 and 12")
        if self.max_tx_code_attempts < 1:
            raise MalformedInputError("max_tx_code_attempts must be at least 1")
        for name in ("code_ttl", "token_ttl", "nonce_ttl", "proof_max_age"):
            if getattr(self, name) <= timedelta(0):
                raise MalformedInputError(f"{name} must be positive")


@dataclass(frozen=True)
class CreatedOffer:
    """What the issuer gets back once: the offer, its two URIs and the tx_code to show the
    learner on another channel (never stored in clear)."""

    offer_id: str
    credential_id: str
    offer: dict[str, Any]
    offer_uri: str
    """``openid-credential-offer://?credential_offer=...`` (by value)."""
    offer_ref_uri: str
    """``openid-credential-offer://?credential_offer_uri=...`` (by reference; shorter QR)."""
    offer_url: str
    tx_code: str | None
    expires_at: datetime

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "offerId": self.offer_id,
            "credentialId": self.credential_id,
            "credentialOffer": self.offer,
            "credentialOfferUri": self.offer_uri,
            "credentialOfferRefUri": self.offer_ref_uri,
            "credentialOfferUrl": self.offer_url,
            "expires": format_datetime(self.expires_at),
        }
        if self.tx_code is not None:
            out["txCode"] = self.tx_code
        return out


@dataclass(frozen=True)
class KeyProof:
    """A verified ``jwt`` key proof: who holds the key, and the nonce it used."""

    holder: str
    """The DID the credential is bound to."""
    nonce: str | None
    header: dict[str, Any] = field(default_factory=dict)
    claims: dict[str, Any] = field(default_factory=dict)


# --- pure parts ----------------------------------------------------------------------------------


def offer_by_value_uri(offer: Mapping[str, Any]) -> str:
    text = json.dumps(dict(offer), separators=(",", ":"), ensure_ascii=False)
    return f"{OFFER_SCHEME}?credential_offer={quote(text, safe='')}"


def offer_by_reference_uri(url: str) -> str:
    return f"{OFFER_SCHEME}?credential_offer_uri={quote(url, safe='')}"


def build_offer(
    credential_issuer: str,
    code: str,
    *,
    tx_code_length: int | None = None,
    tx_code_description: str | None = None,
) -> dict[str, Any]:
    """A Credential Offer (section 4.1.1) for the Open Badge configuration."""
    grant: dict[str, Any] = {"pre-authorized_code": code}
    if tx_code_length is not None:
        grant["tx_code"] = {"input_mode": "numeric", "length": tx_code_length}
        if tx_code_description:
            grant["tx_code"]["description"] = tx_code_description[:300]
    return {
        "credential_issuer": credential_issuer,
        "credential_configuration_ids": list(CONFIGURATIONS),
        "grants": {PRE_AUTHORIZED_GRANT: grant},
    }


def issuer_metadata(
    credential_issuer: str,
    *,
    issuer_name: str | None = None,
    signing_suites: tuple[str, ...] = ("eddsa-rdfc-2022",),
    jwt_algs: tuple[str, ...] = ("EdDSA",),
) -> dict[str, Any]:
    """Credential Issuer Metadata (section 12.2): the ``ldp_vc`` and ``jwt_vc_json``
    configurations. The credential's ``display`` is given both where 1.0 puts it
    (``credential_metadata``) and where draft 15 wallets look (the configuration)."""
    display = [
        {
            "name": "Open Badge",
            "locale": "en",
            "description": "An Open Badges 3.0 achievement credential",
        }
    ]
    configuration: dict[str, Any] = {
        "format": "ldp_vc",
        "credential_definition": {
            "@context": [VC_V2_CONTEXT, OB_CONTEXT],
            "type": list(CREDENTIAL_TYPES),
        },
        "cryptographic_binding_methods_supported": ["did:key", "jwk"],
        "credential_signing_alg_values_supported": list(signing_suites),
        "proof_types_supported": {"jwt": {"proof_signing_alg_values_supported": list(PROOF_ALGS)}},
        "credential_metadata": {"display": display},
        "display": display,
    }
    jwt_configuration: dict[str, Any] = {
        "format": "jwt_vc_json",
        "credential_definition": {"type": list(CREDENTIAL_TYPES)},
        "cryptographic_binding_methods_supported": ["did:key", "jwk"],
        "credential_signing_alg_values_supported": list(jwt_algs),
        "proof_types_supported": {"jwt": {"proof_signing_alg_values_supported": list(PROOF_ALGS)}},
        "credential_metadata": {"display": display},
        "display": display,
    }
    return {
        "credential_issuer": credential_issuer,
        "credential_endpoint": credential_issuer + CREDENTIAL_PATH,
        "nonce_endpoint": credential_issuer + NONCE_PATH,
        "display": [{"name": issuer_name or "vc-issuer", "locale": "en"}],
        "credential_configurations_supported": {
            CONFIGURATION_ID: configuration,
            JWT_CONFIGURATION_ID: jwt_configuration,
        },
    }


def authorization_server_metadata(issuer: str) -> dict[str, Any]:
    """RFC 8414 metadata of the issuer's own token endpoint (pre-authorized code only)."""
    return {
        "issuer": issuer,
        "token_endpoint": issuer + TOKEN_PATH,
        "grant_types_supported": [PRE_AUTHORIZED_GRANT],
        "pre-authorized_grant_anonymous_access_supported": True,
        "token_endpoint_auth_methods_supported": ["none"],
    }


def _b64url_json(segment: str, what: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        value = parse_json_text(raw, what=f"the key proof's {what}")
    except ParsingError as exc:
        if type(exc) is not ParsingError:
            raise  # a precise refusal (number, string, depth, size) keeps its own code
        raise InvalidProofError(f"the key proof's {what} is not base64url JSON") from None
    except ValueError:
        raise InvalidProofError(f"the key proof's {what} is not base64url JSON") from None
    if not isinstance(value, dict):
        raise InvalidProofError(f"the key proof's {what} is not a JSON object")
    return value


def _holder_key(header: Mapping[str, Any]) -> tuple[str, KeyType, Key]:
    """The holder DID, its key type and the key the proof must be signed with."""
    kid, jwk = header.get("kid"), header.get("jwk")
    if (kid is None) == (jwk is None):
        raise InvalidProofError(
            "the key proof header needs exactly one of kid (a did:key URL) or jwk"
        )
    if kid is not None:
        if not isinstance(kid, str) or not kid.startswith("did:key:"):
            raise InvalidProofError("kid must be a did:key DID URL (did:key:z...#z...)")
        did, _, fragment = kid.partition("#")
        fingerprint = did[len("did:key:") :]
        if fragment and fragment != fingerprint:
            raise InvalidProofError("kid names a verification method the did:key does not have")
        try:
            kind = decode_public_multikey(fingerprint).key_type
        except MultibaseError as exc:
            raise InvalidProofError(f"kid: not a did:key ({exc})") from None
        _check_holder_type(kind)
        try:
            return did, kind, jose.import_multikey(fingerprint)
        except VCIssuerError as exc:
            raise InvalidProofError(f"kid: {exc.detail}") from None
    if not isinstance(jwk, dict):
        raise InvalidProofError("jwk must be a JSON Web Key object")
    if "d" in jwk:
        raise InvalidProofError("jwk carries a private key (d); send the public key only")
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if (kty, crv) not in (("OKP", "Ed25519"), ("EC", "P-256")):
        raise InvalidProofError(
            f"jwk must be an Ed25519 (kty OKP) or P-256 (kty EC) public key, got kty {kty!r}"
            f" crv {crv!r}",
            reason="unsupported_key_type",
        )
    try:
        key = jose.import_public_jwk(jwk)
    except VCIssuerError as exc:
        raise InvalidProofError(f"jwk is not a valid {crv} public key: {exc.detail}") from None
    kind = "Ed25519" if kty == "OKP" else "P-256"
    return "did:key:" + encode_public_multikey(kind, _raw_public(key, kind)), kind, key


def _check_holder_type(kind: KeyType) -> None:
    if kind not in PROOF_ALGS.values():
        raise InvalidProofError(
            f"holder keys are Ed25519 or P-256; a {kind} key is not supported here",
            reason="unsupported_key_type",
        )


def _raw_public(key: Key, kind: KeyType) -> bytes:
    """The Multikey bytes of a holder's public key: 32 bytes (Ed25519) or compressed P-256."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    public = key.public_key
    if kind == "Ed25519" and isinstance(public, ed25519.Ed25519PublicKey):
        return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if isinstance(public, ec.EllipticCurvePublicKey):
        return public.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
        )
    raise InvalidProofError(f"jwk is not a {kind} public key")


def verify_key_proof(
    token: object,
    *,
    audience: str,
    now: datetime,
    max_age: timedelta = timedelta(minutes=5),
    max_skew: timedelta = timedelta(seconds=60),
) -> KeyProof:
    """Check a ``jwt`` key proof (appendix F.1) and return the holder it binds.

    Pure: the nonce is returned, not checked (it is single use, so the store decides).
    """
    if not isinstance(token, str) or not token:
        raise InvalidProofError("the jwt key proof must be a non-empty string")
    if len(token) > _MAX_JWT:
        raise InvalidProofError(f"the jwt key proof is longer than {_MAX_JWT} characters")
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidProofError("the jwt key proof is not a compact JWS (three parts)")
    header = _b64url_json(parts[0], "header")
    if header.get("typ") != PROOF_TYP:
        raise InvalidProofError(f"the key proof's typ must be {PROOF_TYP!r}")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in PROOF_ALGS:
        reason = "alg_none" if isinstance(alg, str) and alg.lower() == "none" else "bad_alg"
        raise InvalidProofError(
            f"the key proof's alg must be one of {list(PROOF_ALGS)}, got {alg!r}",
            reason=reason,
        )
    if "x5c" in header:
        raise InvalidProofError("x5c key proofs are not supported; use kid (did:key) or jwk")
    holder, kind, key = _holder_key(header)
    if PROOF_ALGS[alg] != kind:
        raise InvalidProofError(
            f"the key proof's alg {alg} does not fit its {kind} key", reason="alg_key_mismatch"
        )
    try:
        with warnings.catch_warnings():  # joserfc flags "EdDSA" as superseded (RFC 9864)
            warnings.simplefilter("ignore")
            decoded = jose_jwt.decode(token, key, algorithms=[alg])
    except JoseError as exc:
        raise InvalidProofError(
            f"the key proof's signature does not verify ({exc.error})"
        ) from None
    except ValueError:
        raise InvalidProofError("the key proof could not be decoded") from None
    claims = dict(decoded.claims)
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if audience not in audiences:
        raise InvalidProofError(f"the key proof's aud must be the credential issuer {audience!r}")
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, int | float):
        raise InvalidProofError("the key proof needs a numeric iat")
    issued = datetime.fromtimestamp(float(iat), UTC)
    if issued > now + max_skew:
        raise InvalidProofError("the key proof's iat is in the future")
    if issued < now - max_age:
        raise InvalidProofError(
            f"the key proof is too old (iat more than {int(max_age.total_seconds())} s ago)"
        )
    exp = claims.get("exp")
    if exp is not None:
        if isinstance(exp, bool) or not isinstance(exp, int | float):
            raise InvalidProofError("the key proof's exp must be numeric")
        if datetime.fromtimestamp(float(exp), UTC) <= now - max_skew:
            raise InvalidProofError("the key proof has expired")
    nonce = claims.get("nonce")
    if nonce is not None and not isinstance(nonce, str):
        raise InvalidProofError("the key proof's nonce must be a string")
    return KeyProof(holder=holder, nonce=nonce, header=dict(decoded.header), claims=claims)


def parse_bearer(header: str | None) -> str:
    if header is None:
        raise InvalidTokenError("send the access token: Authorization: Bearer <token>")
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or " " in value:
        raise InvalidTokenError("the Authorization header is not a bearer token")
    return value


# --- the service ---------------------------------------------------------------------------------


class OID4VCIService(IssuerService):
    """The pre-authorized code flow over an issuer and its store."""

    def __init__(
        self,
        issuer: Issuer,
        *,
        config: OID4VCIConfig | None = None,
        **options: Unpack[ServiceOptions],
    ) -> None:
        super().__init__(issuer, **options)
        self.config = config or OID4VCIConfig()

    # metadata

    def issuer_metadata(self) -> dict[str, Any]:
        return issuer_metadata(
            self.base_url,
            issuer_name=self.issuer.issuer_name,
            signing_suites=(self.issuer.default_suite,),
            jwt_algs=tuple(self.issuer.keyring.jwt_algs),
        )

    def authorization_server_metadata(self) -> dict[str, Any]:
        return authorization_server_metadata(self.base_url)

    def offer_url(self, offer_id: str) -> str:
        return f"{self.base_url}{OFFERS_PATH}/{offer_id}"

    # offers

    async def create_offer(self, credential_id: str, *, tx_code: bool = False) -> CreatedOffer:
        """Offer a stored award to a wallet; the code and tx_code are returned only here."""
        await self.stored_award(credential_id)
        await self._check_deliverable(credential_id)
        now = self.now()
        code = secrets.token_urlsafe(32)
        pin = (
            "".join(secrets.choice("0123456789") for _ in range(self.config.tx_code_length))
            if tx_code
            else None
        )
        offer_id = new_exchange_id()
        data: dict[str, Any] = {
            "code": code,
            "code_expires_at": format_datetime(now + self.config.code_ttl),
            "tx_code_sha256": hash_secret(pin) if pin else None,
            "tx_code_length": self.config.tx_code_length if pin else None,
            "attempts": 0,
        }
        expires = now + self.config.code_ttl + self.config.token_ttl
        await self.store.create_exchange(
            ExchangeRecord(
                id=offer_id,
                kind=KIND,
                state="pending",
                created_at=now,
                expires_at=expires,
                credential_id=credential_id,
                data=data,
                lookup_hash=_digest(_CODE_PREFIX, code),
            )
        )
        offer = self._offer(data)
        url = self.offer_url(offer_id)
        return CreatedOffer(
            offer_id=offer_id,
            credential_id=credential_id,
            offer=offer,
            offer_uri=offer_by_value_uri(offer),
            offer_ref_uri=offer_by_reference_uri(url),
            offer_url=url,
            tx_code=pin,
            expires_at=now + self.config.code_ttl,
        )

    def _offer(self, data: Mapping[str, Any]) -> dict[str, Any]:
        length = data.get("tx_code_length")
        return build_offer(
            self.base_url,
            str(data["code"]),
            tx_code_length=int(length) if length else None,
            tx_code_description=self.config.tx_code_description if length else None,
        )

    async def get_offer(self, offer_id: str) -> dict[str, Any]:
        """The offer behind ``credential_offer_uri``, while its code is still redeemable."""
        record = await self.store.get_exchange(offer_id)
        if (
            record is None
            or record.kind != KIND
            or record.state != "pending"
            or "code" not in record.data
            or self.now() >= parse_xml_datetime(record.data["code_expires_at"], "code expiry")
        ):
            raise NotFoundError("no such credential offer, or it was used or has expired")
        await self._check_deliverable(str(record.credential_id))
        return self._offer(record.data)

    async def _check_deliverable(self, credential_id: str) -> None:
        """``withdrawn`` as the OAuth error a wallet understands (``credential_request_denied``)."""
        try:
            withdrawn = await self.withdrawn(credential_id)
        except NotFoundError:
            raise CredentialRequestDeniedError("the offered credential no longer exists") from None
        if withdrawn:
            raise CredentialRequestDeniedError(
                f"the offered credential is {' and '.join(withdrawn)}"
            )

    # token endpoint

    async def token(self, form: Mapping[str, str]) -> dict[str, Any]:
        """The Token Request of the pre-authorized code flow (section 6)."""
        grant_type = form.get("grant_type")
        if not grant_type:
            raise OAuthError("grant_type is missing")
        if grant_type != PRE_AUTHORIZED_GRANT:
            raise UnsupportedGrantTypeError(f"only {PRE_AUTHORIZED_GRANT} is supported")
        code = form.get("pre-authorized_code")
        if not code:
            raise OAuthError("pre-authorized_code is missing")
        record = await self.store.find_exchange(KIND, _digest(_CODE_PREFIX, code))
        if record is None or record.state != "pending" or "code" not in record.data:
            raise InvalidGrantError("the pre-authorized code is unknown or was already used")
        now = self.now()
        if now >= parse_xml_datetime(record.data["code_expires_at"], "code expiry"):
            raise InvalidGrantError("the pre-authorized code has expired")
        expected = record.data.get("tx_code_sha256")
        given = form.get("tx_code")
        if expected is None and given:
            raise OAuthError("this offer has no tx_code; do not send one")
        if expected is not None:
            if not given:
                raise OAuthError("this offer needs the tx_code the issuer sent separately")
            attempts = await self._check_tx_code(record, given, str(expected))
        else:
            attempts = 0
        await self._check_deliverable(str(record.credential_id))
        access_token = secrets.token_urlsafe(32)
        data = {
            "token_expires_at": format_datetime(now + self.config.token_ttl),
            "attempts": attempts,
        }
        moved = await self.store.transition_exchange(
            record.id,
            ["pending"],
            "active",
            data=data,
            lookup_hash=_digest(_TOKEN_PREFIX, access_token),
            now=now,
        )
        if not moved:
            raise InvalidGrantError("the pre-authorized code is unknown or was already used")
        return {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": int(self.config.token_ttl.total_seconds()),
        }

    async def _check_tx_code(self, record: ExchangeRecord, given: str, expected: str) -> int:
        """Count the attempt in the store *before* comparing (one guarded UPDATE), so N
        concurrent guesses evaluate at most ``max_tx_code_attempts``; the last wrong one, or
        any beyond the limit, voids the offer. Returns the attempt's number."""
        limit = self.config.max_tx_code_attempts
        attempt = await self.store.count_attempt(record.id, limit)
        if attempt and hmac.compare_digest(hash_secret(given), expected):
            return attempt
        left = limit - attempt if attempt else 0
        if left <= 0:
            await self.store.transition_exchange(
                record.id,
                ["pending"],
                "failed",
                data={"attempts": limit, "reason": "too many wrong tx_code attempts"},
                lookup_hash=None,
            )
            raise InvalidGrantError(
                "wrong tx_code; too many attempts, the offer is void: ask the issuer for a new one"
            )
        raise InvalidGrantError(f"wrong tx_code ({left} attempt{'s' if left != 1 else ''} left)")

    # nonce endpoint

    async def nonce(self) -> dict[str, Any]:
        """A fresh single-use ``c_nonce`` (section 7)."""
        now = self.now()
        value = secrets.token_urlsafe(24)
        await self.store.create_exchange(
            ExchangeRecord(
                id=new_exchange_id(),
                kind=KIND,
                state="pending",
                created_at=now,
                expires_at=now + self.config.nonce_ttl,
                template={},
                data={"c_nonce": True},
                lookup_hash=_digest(_NONCE_PREFIX, value),
            )
        )
        return {"c_nonce": value}

    async def _consume_nonce(self, value: str) -> None:
        record = await self.store.find_exchange(KIND, _digest(_NONCE_PREFIX, value))
        if record is None or not record.data.get("c_nonce"):
            raise InvalidNonceError("the key proof's nonce is unknown or was already used")
        moved = await self.store.transition_exchange(
            record.id, ["pending"], "complete", lookup_hash=None, now=self.now()
        )
        if not moved:
            raise InvalidNonceError("the key proof's nonce has expired or was already used")

    # credential endpoint

    async def credential(
        self, authorization: str | None, body: Any, *, body_error: str | None = None
    ) -> dict[str, Any]:
        """The Credential Request (section 8): one ``ldp_vc`` bound to the proof's holder.

        The token is checked first; ``body_error`` (the body was not a JSON object) comes next.
        """
        token = parse_bearer(authorization)
        record = await self.store.find_exchange(KIND, _digest(_TOKEN_PREFIX, token))
        now = self.now()
        if (
            record is None
            or record.state != "active"
            or "token_expires_at" not in record.data
            or now >= parse_xml_datetime(record.data["token_expires_at"], "token expiry")
        ):
            raise InvalidTokenError("the access token is unknown, expired or was already used")
        if body_error is not None:
            raise InvalidCredentialRequestError(body_error)
        config_id, jwt_value = self._proof_jwt(body)
        proof = verify_key_proof(
            jwt_value,
            audience=self.base_url,
            now=now,
            max_age=self.config.proof_max_age,
            max_skew=self.config.proof_max_skew,
        )
        if proof.nonce is None:
            raise InvalidProofError(
                "the key proof has no nonce; get a c_nonce from the nonce endpoint"
            )
        await self._consume_nonce(proof.nonce)
        claimed = await self.store.transition_exchange(
            record.id,
            ["active"],
            "complete",
            data={**record.data, "holder": proof.holder},
            lookup_hash=None,
            now=now,
        )
        if not claimed:
            raise InvalidTokenError("the access token was already used")
        try:
            credential = await self._issue(record, proof.holder, config_id)
        except BaseException:
            # give the wallet its retry: the token works again until it expires
            await self.store.transition_exchange(
                record.id,
                ["complete"],
                "active",
                data=record.data,
                lookup_hash=_digest(_TOKEN_PREFIX, token),
            )
            raise
        await self.store.transition_exchange(
            record.id,
            ["complete"],
            "complete",
            result={
                "credentialId": jose.credential_id(credential),
                "holder": proof.holder,
                "configuration": config_id,
            },
        )
        if config_id == JWT_CONFIGURATION_ID:  # the compact VC-JWT, a string (appendix A.1.1)
            return {"credentials": [{"credential": jose.enveloped_token(credential)}]}
        return {"credentials": [{"credential": credential}]}

    def _proof_jwt(self, body: Any) -> tuple[str, str]:
        """The configuration asked for and the one key proof JWT."""
        if not isinstance(body, dict):
            raise InvalidCredentialRequestError("the credential request must be a JSON object")
        config_id = body.get("credential_configuration_id")
        if "credential_identifier" in body:
            raise InvalidCredentialRequestError(
                "credential_identifier is not used here: send credential_configuration_id"
            )
        if config_id is None:
            raise InvalidCredentialRequestError("credential_configuration_id is missing")
        if config_id not in CONFIGURATIONS:
            raise UnknownCredentialConfigurationError(
                f"unknown credential configuration {config_id!r}; this issuer offers"
                f" {' and '.join(repr(c) for c in CONFIGURATIONS)}"
            )
        single, many = body.get("proof"), body.get("proofs")
        if single is not None and many is not None:
            raise InvalidCredentialRequestError("send either proof or proofs, not both")
        if single is None and many is None:
            raise InvalidProofError("the credential request has no key proof (proofs.jwt)")
        if many is not None:
            if not isinstance(many, dict) or set(many) != {"jwt"}:
                raise InvalidProofError("proofs must be an object with one key: jwt")
            items = many["jwt"]
            if not isinstance(items, list) or not items:
                raise InvalidProofError("proofs.jwt must be a non-empty array")
            if len(items) > 1:
                raise InvalidCredentialRequestError(
                    "batch issuance is not supported: send exactly one key proof"
                )
            return config_id, _jwt_string(items[0])
        if not isinstance(single, dict):
            raise InvalidProofError("proof must be an object")
        if single.get("proof_type") != "jwt":
            raise InvalidProofError("proof_type must be 'jwt'")
        return config_id, _jwt_string(single.get("jwt"))

    async def _issue(
        self, record: ExchangeRecord, holder: str, config_id: str = CONFIGURATION_ID
    ) -> dict[str, Any]:
        credential_id = record.credential_id
        if credential_id is None:
            raise CredentialRequestDeniedError("the offer names no credential")
        original = await self.store.get_credential(credential_id)
        if original is None:
            raise CredentialRequestDeniedError("the offered credential no longer exists")
        await self._check_deliverable(credential_id)
        if config_id == JWT_CONFIGURATION_ID:
            return await self.issuer.issue(
                as_vc11(bind_credential(original.credential, holder)),
                status=False,
                shared_status=original.status_entries or None,
                idempotency_key=f"oid4vci:{record.id}",
                secured_as="jwt",
            )
        return await reissue_for_holder(
            self.issuer, original, holder, idempotency_key=f"oid4vci:{record.id}"
        )


def as_vc11(credential: Mapping[str, Any]) -> dict[str, Any]:
    """The credential in the VC 1.1 form ``jwt_vc_json`` carries (appendix A.1.1, VCDM 1.1
    §6.3.1): the 1.1 base context first, ``validFrom``/``validUntil`` as ``issuanceDate``/
    ``expirationDate``; every other member, the Open Badges context included, as it is."""
    out = dict(credential)
    contexts = out.get("@context")
    rest = [c for c in contexts if c not in (VC_V2_CONTEXT, VC_V1_CONTEXT)] if isinstance(
        contexts, list) else []  # fmt: skip
    out["@context"] = [VC_V1_CONTEXT, *rest]
    for new, old in (("issuanceDate", "validFrom"), ("expirationDate", "validUntil")):
        if old in out:
            out[new] = out.pop(old)
    return out


def _jwt_string(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidProofError("the jwt key proof must be a non-empty string")
    return value


def oauth_error_body(exc: VCIssuerError) -> dict[str, str]:
    """``{error, error_description}``: the OAuth / OpenID4VCI error shape."""
    return {"error": exc.code, "error_description": exc.detail}


__all__ = [
    "CONFIGURATIONS",
    "CONFIGURATION_ID",
    "JWT_CONFIGURATION_ID",
    "PRE_AUTHORIZED_GRANT",
    "PROOF_TYP",
    "CreatedOffer",
    "KeyProof",
    "OID4VCIConfig",
    "OID4VCIService",
    "as_vc11",
    "authorization_server_metadata",
    "bind_credential",
    "build_offer",
    "issuer_metadata",
    "oauth_error_body",
    "offer_by_reference_uri",
    "offer_by_value_uri",
    "parse_bearer",
    "verify_key_proof",
]
