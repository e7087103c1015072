"""JOSE for verifiable credentials: VC-JWT (VCDM 1.1 §6.3, OB 3.0 §8.2) and VC 2.0 with JOSE.

Pure: no I/O and no clock. joserfc does every JOSE operation (compact parsing, base64url, the
signature algorithms, JWK import, thumbprints); this module adds what the credential specs say
on top of JOSE:

- which ``alg`` values we accept (EdDSA, ES256, ES384, RS256, PS256; never ``none``, never a
  MAC) and that the key fits the ``alg``;
- where the credential is: VC-JWT 1.1 carries it in the ``vc`` claim, VC 2.0 JOSE makes the
  whole payload the credential (and forbids ``vc``/``vp`` claims); ``typ``/``cty`` checks;
- how the registered claims map onto the credential (``iss``/``sub``/``jti``/``nbf``/``exp``);
- where a public key comes from: a header ``jwk`` (public members only), a ``did:key`` URL
  (Ed25519, P-256, P-384 Multikey), a verification method (``publicKeyJwk`` or Multikey);
- ``EnvelopedVerifiableCredential`` and its ``data:`` URL;
- issuing with our Ed25519 key (EdDSA).

Policy for claims (documented in docs/formats.md): a claim that contradicts a field the
credential carries fails (OB 3.0 §8.2.4.1); a field the VC-JWT 1.1 credential leaves out is
filled from its claim (VCDM 1.1 §6.3.1 "JWT decoding"); a claim that is simply absent is a
warning, because deployed issuers (1EdTech's own fixtures) omit ``sub``.
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal
from urllib.parse import unquote

import base58
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from joserfc import jws
from joserfc.errors import (
    InvalidKeyCurveError,
    InvalidKeyTypeError,
    JoseError,
    UnsupportedKeyAlgorithmError,
)
from joserfc.jwk import ECKey, Key, OKPKey, RSAKey

from vc_issuer.core.credentials import (
    VC_V1_CONTEXT,
    VC_V2_CONTEXT,
    format_datetime,
    parse_xml_datetime,
)
from vc_issuer.core.jsonparse import parse_json_text
from vc_issuer.core.keys import Ed25519Key, SigningKey
from vc_issuer.errors import (
    EnvelopedCredentialError,
    InvalidKeyError,
    JwkPrivateKeyError,
    JwsVerificationError,
    JwtAlgKeyMismatchError,
    JwtAlgNoneError,
    JwtClaimMismatchError,
    JwtExpMismatchError,
    JwtFormatError,
    JwtIssMismatchError,
    JwtJtiMismatchError,
    JwtKidMismatchError,
    JwtMediaTypeError,
    JwtNbfMismatchError,
    JwtSubMismatchError,
    MalformedInputError,
    MalformedJwsError,
    ParsingError,
    UnsupportedFormatError,
    UnsupportedJwtAlgError,
)

ALLOWED_ALGS: Final = ("EdDSA", "ES256", "ES384", "RS256", "PS256")
"""The algorithms a token may use: OB 3.0's RS256 and what wallets issue in practice."""

MIN_RSA_BITS: Final = 2048
MAX_TOKEN_BYTES: Final = 5 * 1024 * 1024

#: ``typ`` values (lowercase, ``application/`` prefix removed) and what they announce.
VC_TYPES: Final = frozenset({"vc+jwt", "vc+ld+json+jwt", "vc+ld+jwt"})
VP_TYPES: Final = frozenset({"vp+jwt", "vp+ld+json+jwt", "vp+ld+jwt"})
PLAIN_TYPES: Final = frozenset({"jwt"})
_CTY: Final = {"vc": "credential", "vp": "presentation"}
_CTY_ALIASES: Final = {
    "vc": "vc", "vc+ld+json": "vc", "vc+json": "vc",
    "vp": "vp", "vp+ld+json": "vp", "vp+json": "vp",
}  # fmt: skip

#: Registered JWT claims: stripped from a VC 2.0 payload to get the credential back.
JWT_CLAIMS: Final = ("iss", "sub", "aud", "exp", "nbf", "iat", "jti", "cnf")

MEDIA_VC_JWT: Final = "application/vc+jwt"
MEDIA_VP_JWT: Final = "application/vp+jwt"
MEDIA_JWT: Final = "application/jwt"
ENVELOPED_VC: Final = "EnvelopedVerifiableCredential"
ENVELOPED_VP: Final = "EnvelopedVerifiablePresentation"
#: data: URL media types of enveloped credentials we recognise but do not verify.
UNSUPPORTED_ENVELOPES: Final = frozenset(
    {"application/vc+sd-jwt", "application/vp+sd-jwt", "application/vc+cose",
     "application/vp+cose", "application/dc+sd-jwt"}
)  # fmt: skip

_PRIVATE_MEMBERS: Final = {
    "OKP": ("d",),
    "EC": ("d",),
    "RSA": ("d", "p", "q", "dp", "dq", "qi", "oth"),
}

# multicodec varint prefixes of public keys (did:key / Multikey)
_ED25519_PUB: Final = b"\xed\x01"
_P256_PUB: Final = b"\x80\x24"
_P384_PUB: Final = b"\x81\x24"


class _Registry(jws.JWSRegistry):
    """joserfc's registry with room for what credentials carry: an RSA ``jwk`` in the header
    (past the default 512 bytes) and badge images inside the payload."""

    max_header_length = 16 * 1024
    max_payload_length = MAX_TOKEN_BYTES
    max_signature_length = 1024


def _registry(alg: str) -> _Registry:
    # unknown header parameters are ignored (RFC 7515 §4, VC-JOSE-COSE §3.1.1); ``crit`` is
    # still enforced by joserfc
    return _Registry(algorithms=[alg], strict_check_header=False)


# --- parsing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Jws:
    """A parsed JWS compact serialization whose payload is a JSON object."""

    token: str
    header: dict[str, Any]
    payload: dict[str, Any]
    signed: jws.CompactSignature = field(repr=False, compare=False)

    @property
    def alg(self) -> str:
        return str(self.header["alg"])

    @property
    def kid(self) -> str | None:
        kid = self.header.get("kid")
        return kid if isinstance(kid, str) and kid else None


def looks_like_jws(text: str) -> bool:
    """Three base64url segments joined by dots (a quick test before parsing)."""
    parts = text.strip().split(".")
    if len(parts) != 3 or not parts[0] or not parts[2]:
        return False
    return all(_is_b64url(p) for p in parts)


def _is_b64url(segment: str) -> bool:
    return all((c.isalnum() and c.isascii()) or c in "-_" for c in segment)


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = parse_json_text(data, what=f"the JWS {what}")
    except ParsingError as exc:
        if type(exc) is not ParsingError:
            raise  # a precise refusal (number, string, depth, size) keeps its own code
        raise MalformedJwsError(exc.detail) from None
    if not isinstance(value, dict):
        raise MalformedJwsError(f"the JWS {what} must be a JSON object")
    return value


def parse_jws(token: str | bytes) -> Jws:
    """Split and decode a compact JWS, and check its ``alg`` before any key is looked up.

    ``alg: none`` and algorithms outside :data:`ALLOWED_ALGS` are refused here, so an
    unsecured or MAC'd token never reaches key discovery.
    """
    if isinstance(token, bytes):
        try:
            token = token.decode("ascii")
        except UnicodeDecodeError:
            raise MalformedJwsError("a JWS compact serialization is ASCII text") from None
    text = token.strip()
    if len(text) > MAX_TOKEN_BYTES:
        raise MalformedJwsError(f"the token is larger than {MAX_TOKEN_BYTES} bytes")
    if "~" in text:
        raise UnsupportedFormatError(
            "this is an SD-JWT (selective disclosure); only plain JWS compact tokens are verified"
        )
    if not looks_like_jws(text):
        raise MalformedJwsError("not a JWS compact serialization (three base64url parts)")
    header_segment = text.split(".", 1)[0]
    header = _json_object(_b64decode(header_segment, "header"), "header")
    check_alg(header)
    try:
        signed = jws.extract_compact(text.encode("ascii"), registry=_registry(header["alg"]))
    except JoseError as exc:
        raise MalformedJwsError(f"the JWS cannot be decoded: {exc.description or exc}") from None
    if signed.headers().get("b64") is False:
        raise MalformedJwsError("unencoded payloads (b64: false) are not used for credentials")
    payload = _json_object(signed.payload, "payload")
    return Jws(text, dict(signed.headers()), payload, signed)


def _b64decode(segment: str, what: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise MalformedJwsError(f"the JWS {what} is not base64url") from None


def check_alg(header: Mapping[str, Any]) -> str:
    """The header's ``alg``, refused when absent, ``none`` or not one we accept."""
    alg = header.get("alg")
    if not isinstance(alg, str) or not alg:
        raise MalformedJwsError("the JWS header has no alg")
    if alg.lower() == "none":
        raise JwtAlgNoneError("the token is unsecured (alg none); it proves nothing")
    if alg not in ALLOWED_ALGS:
        raise UnsupportedJwtAlgError(
            f"JWS alg {alg!r} is not accepted; use one of {', '.join(ALLOWED_ALGS)}", alg=alg
        )
    return alg


# --- keys ----------------------------------------------------------------------------------------


def import_public_jwk(jwk: Any) -> Key:
    """A public key from a JWK; private members, symmetric keys and short RSA keys are refused."""
    if not isinstance(jwk, Mapping):
        raise InvalidKeyError("a JWK must be a JSON object")
    kty = jwk.get("kty")
    if kty == "oct":
        raise UnsupportedJwtAlgError("symmetric (oct) keys cannot sign credentials")
    if kty not in _PRIVATE_MEMBERS:
        raise InvalidKeyError(f"unsupported JWK key type {kty!r} (use OKP, EC or RSA)")
    leaked = [m for m in _PRIVATE_MEMBERS[kty] if m in jwk]
    if leaked:
        raise JwkPrivateKeyError(
            f"the JWK carries private key members ({', '.join(leaked)}); a public key is expected",
            members=leaked,
        )
    public = {k: v for k, v in jwk.items() if k not in ("key_ops", "use", "ext")}
    try:
        with warnings.catch_warnings():  # short keys: refused below, with our own error
            warnings.simplefilter("ignore")
            key = _import_jwk(kty, public)
    except JoseError as exc:
        reason = exc.description or exc
        raise InvalidKeyError(f"the JWK is not a usable {kty} key: {reason}") from None
    except (ValueError, TypeError) as exc:
        raise InvalidKeyError(f"the JWK is not a usable {kty} key: {exc}") from None
    _check_strength(key)
    return key


def _import_jwk(kty: str, public: dict[str, Any]) -> Key:
    if kty == "OKP":
        if public.get("crv") != "Ed25519":
            raise InvalidKeyError(f"unsupported OKP curve {public.get('crv')!r} (use Ed25519)")
        return OKPKey.import_key(public)
    if kty == "EC":
        return ECKey.import_key(public)
    return RSAKey.import_key(public)


def _check_strength(key: Key) -> None:
    native = key.public_key
    if isinstance(native, rsa.RSAPublicKey) and native.key_size < MIN_RSA_BITS:
        raise InvalidKeyError(f"RSA keys need at least {MIN_RSA_BITS} bits, got {native.key_size}")


def import_public_pem(pem: str | bytes) -> Key:
    """A public key from an SPKI PEM (OB 2.0 ``CryptographicKey.publicKeyPem``)."""
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    if b"PRIVATE KEY" in data:
        raise InvalidKeyError("the PEM holds a private key; a public key is expected")
    for cls in (RSAKey, ECKey, OKPKey):
        try:
            key: Key = cls.import_key(data)
        except (JoseError, ValueError, TypeError):
            continue
        if key.is_private:
            raise InvalidKeyError("the PEM holds a private key; a public key is expected")
        _check_strength(key)
        return key
    raise InvalidKeyError("publicKeyPem is not an RSA, EC or Ed25519 public key in PEM form")


def import_multikey(value: Any) -> Key:
    """A public key from ``publicKeyMultibase`` (``z`` + base58btc of multicodec + key bytes):
    Ed25519 (``z6Mk``), P-256 (``zDn``) or P-384 (``z82``) with a compressed point."""
    if not isinstance(value, str) or not value.startswith("z") or len(value) > 200:
        raise InvalidKeyError("publicKeyMultibase must be a base58btc (z...) string")
    try:
        raw = bytes(base58.b58decode(value[1:]))
    except ValueError:
        raise InvalidKeyError("publicKeyMultibase is not base58btc") from None
    prefix, body = raw[:2], raw[2:]
    try:
        if prefix == _ED25519_PUB and len(body) == 32:
            return OKPKey.import_key(ed25519.Ed25519PublicKey.from_public_bytes(body))
        curve: ec.EllipticCurve | None = None
        if prefix == _P256_PUB and len(body) == 33:
            curve = ec.SECP256R1()
        elif prefix == _P384_PUB and len(body) == 49:
            curve = ec.SECP384R1()
        if curve is not None:
            return ECKey.import_key(ec.EllipticCurvePublicKey.from_encoded_point(curve, body))
    except ValueError as exc:
        raise InvalidKeyError(f"publicKeyMultibase is not a valid point: {exc}") from None
    raise InvalidKeyError(
        "publicKeyMultibase is not an Ed25519, P-256 or P-384 public key "
        f"(multicodec prefix {prefix.hex()}, {len(body)} bytes)"
    )


def key_of_verification_method(vm: Mapping[str, Any]) -> Key:
    """The public key of a verification method: ``publicKeyJwk`` (JsonWebKey, JsonWebKey2020)
    or ``publicKeyMultibase`` (Multikey, Ed25519VerificationKey2020), or the 2018 base58 form."""
    if "publicKeyJwk" in vm:
        return import_public_jwk(vm["publicKeyJwk"])
    if "publicKeyMultibase" in vm:
        return import_multikey(vm["publicKeyMultibase"])
    legacy = vm.get("publicKeyBase58")
    if vm.get("type") == "Ed25519VerificationKey2018" and isinstance(legacy, str):
        try:
            raw = bytes(base58.b58decode(legacy))
            return OKPKey.import_key(ed25519.Ed25519PublicKey.from_public_bytes(raw))
        except ValueError:
            raise InvalidKeyError("publicKeyBase58 is not a 32-byte Ed25519 key") from None
    raise InvalidKeyError(f"verification method {vm.get('id')!r} has no public key we can read")


def did_key_from_kid(kid: str) -> tuple[str, Key] | None:
    """``(did, key)`` for a ``did:key`` kid (with or without fragment), else None.

    did:key needs no resolution: the key is the identifier. A fragment naming any other key
    than the DID's own is refused (JWT_KID_MISMATCH).
    """
    if not kid.startswith("did:key:"):
        return None
    did, _sep, fragment = kid.partition("#")
    multibase = did.removeprefix("did:key:")
    if fragment and fragment != multibase:
        raise JwtKidMismatchError(
            f"kid {kid!r} names the key {fragment!r}, which is not the key of {did}"
        )
    return did, import_multikey(multibase)


def thumbprint(key: Key) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url)."""
    return str(key.thumbprint())


def same_key(a: Key, b: Key) -> bool:
    return a.key_type == b.key_type and thumbprint(a) == thumbprint(b)


def public_jwk(key: Key) -> dict[str, Any]:
    return dict(key.as_dict(private=False))


def verify_signature(token: Jws, key: Key) -> bool:
    """True when ``key`` signed ``token``; an ``alg`` that does not fit the key raises."""
    try:
        with warnings.catch_warnings():  # joserfc flags EdDSA as superseded by RFC 9864
            warnings.simplefilter("ignore")
            return bool(jws.validate_compact(token.signed, key, registry=_registry(token.alg)))
    except (InvalidKeyTypeError, InvalidKeyCurveError, UnsupportedKeyAlgorithmError) as exc:
        raise JwtAlgKeyMismatchError(
            f"JWS alg {token.alg} does not fit the {key.key_type} key: {exc.description or exc}"
        ) from None
    except JoseError as exc:
        raise JwsVerificationError(
            f"the JWS could not be verified: {exc.description or exc}"
        ) from None


def header_key(token: Jws) -> Key | None:
    """The key in the header's ``jwk`` (public members only), or None."""
    if "jwk" not in token.header:
        return None
    return import_public_jwk(token.header["jwk"])


# --- credentials in a JWT ------------------------------------------------------------------------

JwtForm = Literal["vc-jwt", "vc-jose"]
"""``vc-jwt``: VCDM 1.1 JWT encoding (``vc``/``vp`` claim). ``vc-jose``: VC 2.0 secured with
JOSE (the payload is the document)."""

Kind = Literal["credential", "presentation"]


Outcome = Literal["ok", "missing", "filled", "absent"]


@dataclass
class ClaimCheck:
    """How one registered claim relates to the credential: ``ok``, ``missing`` (a warning) or
    ``filled`` (VCDM 1.1 decoding copied the claim into an absent field)."""

    claim: str
    outcome: Outcome
    detail: str


@dataclass
class JwtDocument:
    """The credential or presentation a token secures, and how it was found."""

    token: Jws
    form: JwtForm
    kind: Kind
    document: dict[str, Any]
    claims: dict[str, Any]
    claim_checks: list[ClaimCheck] = field(default_factory=list)
    claim_errors: list[JwtClaimMismatchError] = field(default_factory=list)

    @property
    def media_type(self) -> str:
        if self.form == "vc-jose":
            return MEDIA_VC_JWT if self.kind == "credential" else MEDIA_VP_JWT
        return MEDIA_JWT


def _media(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise JwtMediaTypeError(f"JWS header {name} must be a string", member=name)
    lowered = value.strip().lower()
    return lowered.removeprefix("application/")


def _context0(document: Mapping[str, Any]) -> Any:
    ctx = document.get("@context")
    if isinstance(ctx, list) and ctx:
        return ctx[0]
    return ctx


def _kind_of(document: Mapping[str, Any]) -> Kind:
    t = document.get("type")
    types = [t] if isinstance(t, str) else t if isinstance(t, list) else []
    return "presentation" if "VerifiablePresentation" in types else "credential"


def decode_document(token: Jws) -> JwtDocument:
    """Find the credential or presentation in a verified-or-not token and check its envelope.

    ``typ`` decides first: ``vc+jwt``/``vp+jwt`` (and the two older drafts' names) mean VC 2.0
    JOSE, whose payload is the document and which must not carry ``vc``/``vp`` claims. ``JWT``
    or no ``typ`` means VC-JWT 1.1 when a ``vc``/``vp`` claim is present (OB 3.0 wallets), else a
    VC 2.0 payload (1EdTech's OB 3.0 JWTs carry no ``typ``). Any other ``typ`` is refused.
    """
    header, payload = token.header, token.payload
    typ = _media(header.get("typ"), "typ")
    cty = _media(header.get("cty"), "cty")
    if cty is not None and cty not in _CTY_ALIASES:
        raise JwtMediaTypeError(f"JWS cty {header.get('cty')!r} is not vc or vp", member="cty")
    if typ is not None and typ not in VC_TYPES | VP_TYPES | PLAIN_TYPES:
        raise JwtMediaTypeError(
            f"JWS typ {header.get('typ')!r} is not a credential or presentation type",
            member="typ",
        )
    claims: dict[str, Any] = {k: payload[k] for k in JWT_CLAIMS if k in payload}
    form: JwtForm
    if typ in VC_TYPES | VP_TYPES:
        for forbidden in ("vc", "vp"):
            if forbidden in payload:
                raise JwtFormatError(
                    f"a {header.get('typ')} payload must not carry a {forbidden!r} claim "
                    "(VC-JOSE-COSE §3.1.2)",
                    claim=forbidden,
                )
        form, document = "vc-jose", _strip_claims(payload)
        kind = _kind_of(document)
        expected: Kind = "credential" if typ in VC_TYPES else "presentation"
        if kind != expected:
            raise JwtMediaTypeError(f"typ {header.get('typ')!r} does not match a {kind}")
    elif "vc" in payload or "vp" in payload:
        if "vc" in payload and "vp" in payload:
            raise JwtFormatError("a VC-JWT carries either a vc or a vp claim, not both")
        name = "vc" if "vc" in payload else "vp"
        inner = payload[name]
        if not isinstance(inner, dict):
            raise JwtFormatError(f"the {name} claim must be a JSON object", claim=name)
        if _context0(inner) != VC_V1_CONTEXT:
            raise JwtFormatError(
                f"the {name} claim holds a document whose @context[0] is "
                f"{_context0(inner)!r}; a VC-JWT {name} claim carries a VC 1.1 document "
                f"({VC_V1_CONTEXT}); VC 2.0 is secured as the whole payload",
                claim=name,
            )
        form, document = "vc-jwt", copy.deepcopy(inner)
        kind = "credential" if name == "vc" else "presentation"
    else:
        if "@context" not in payload:
            raise JwtFormatError("the JWT carries no credential (no vc claim, no @context)")
        if _context0(payload) == VC_V1_CONTEXT:
            raise JwtFormatError(
                "a VC 1.1 document must travel in the vc claim; only VC 2.0 is the whole payload"
            )
        form, document = "vc-jose", _strip_claims(payload)
        kind = _kind_of(document)
    if cty is not None and _CTY[_CTY_ALIASES[cty]] != kind:
        raise JwtMediaTypeError(f"JWS cty {header.get('cty')!r} does not match a {kind}")
    return JwtDocument(token, form, kind, document, claims)


OB_TYPES: Final = frozenset(
    {"OpenBadgeCredential", "AchievementCredential", "EndorsementCredential"}
)


def is_open_badge(document: Mapping[str, Any]) -> bool:
    t = document.get("type")
    types = [t] if isinstance(t, str) else t if isinstance(t, list) else []
    return any(x in OB_TYPES for x in types)


def _strip_claims(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in payload.items() if k not in JWT_CLAIMS}


def _numeric_date(value: Any, claim: str) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise JwtFormatError(f"JWT {claim} must be a NumericDate (seconds)", claim=claim)
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (OverflowError, OSError, ValueError):
        raise JwtFormatError(f"JWT {claim} is out of range", claim=claim) from None


def numeric_date(moment: datetime) -> int:
    return int(moment.astimezone(UTC).timestamp())


def _issuer_of(document: Mapping[str, Any]) -> str | None:
    issuer = document.get("issuer")
    if isinstance(issuer, Mapping):
        issuer = issuer.get("id")
    return issuer if isinstance(issuer, str) else None


def _subject_ids(document: Mapping[str, Any]) -> list[str]:
    subject = document.get("credentialSubject")
    items = subject if isinstance(subject, list) else [subject]
    return [s["id"] for s in items if isinstance(s, Mapping) and isinstance(s.get("id"), str)]


def _date_fields(document: Mapping[str, Any]) -> tuple[str, str]:
    if _context0(document) == VC_V1_CONTEXT:
        return "issuanceDate", "expirationDate"
    return "validFrom", "validUntil"


def _same_second(field_value: Any, claim_time: datetime, name: str) -> bool:
    moment = parse_xml_datetime(field_value, name, require_timezone=False)
    return int(moment.timestamp()) == int(claim_time.timestamp())


def apply_claims(doc: JwtDocument) -> None:
    """Check ``iss``/``sub``/``jti``/``nbf``/``exp`` against the credential (see the module
    docstring for the policy); fill absent VC 1.1 fields; record one :class:`ClaimCheck` per
    claim and, in ``doc.claim_errors``, every contradiction (all claims are looked at, so the
    fields VC 1.1 decoding fills are there for the structure check that follows)."""
    steps = (
        [_claim_iss, _claim_sub, _claim_jti, _claim_nbf, _claim_exp]
        if doc.kind == "credential"
        else [_presentation_claims]
    )
    for step in steps:
        try:
            step(doc)
        except JwtClaimMismatchError as exc:
            doc.claim_errors.append(exc)


def _required(doc: JwtDocument) -> bool:
    # OB 3.0 §8.2.4 requires iss/sub/jti/nbf for Open Badges; VC-JOSE-COSE requires none
    return doc.form == "vc-jwt" or is_open_badge(doc.document)


def _claim_iss(doc: JwtDocument) -> None:
    cred, fill = doc.document, doc.form == "vc-jwt"
    issuer = _issuer_of(cred)
    if "iss" not in doc.claims:
        outcome: Outcome = "missing" if _required(doc) else "absent"
        doc.claim_checks.append(ClaimCheck("iss", outcome, "no iss claim"))
        return
    iss = doc.claims["iss"]
    if issuer is None and fill and isinstance(iss, str) and "issuer" not in cred:
        cred["issuer"] = iss
        doc.claim_checks.append(ClaimCheck("iss", "filled", f"issuer taken from iss ({iss})"))
    elif iss != issuer:
        raise JwtIssMismatchError(f"JWT iss {iss!r} is not the credential issuer {issuer!r}")
    else:
        doc.claim_checks.append(ClaimCheck("iss", "ok", f"iss is the issuer {issuer}"))


def _claim_sub(doc: JwtDocument) -> None:
    cred, fill = doc.document, doc.form == "vc-jwt"
    subjects = _subject_ids(cred)
    if "sub" not in doc.claims:
        outcome: Outcome = "missing" if _required(doc) and subjects else "absent"
        doc.claim_checks.append(ClaimCheck("sub", outcome, "no sub claim"))
        return
    sub = doc.claims["sub"]
    subject = cred.get("credentialSubject")
    if not subjects and fill and isinstance(sub, str) and isinstance(subject, dict):
        subject["id"] = sub
        doc.claim_checks.append(ClaimCheck("sub", "filled", "credentialSubject.id taken from sub"))
    elif sub not in subjects:
        shown = subjects[0] if len(subjects) == 1 else subjects
        raise JwtSubMismatchError(f"JWT sub {sub!r} is not the credential subject {shown!r}")
    else:
        doc.claim_checks.append(ClaimCheck("sub", "ok", f"sub is the subject {sub}"))


def _claim_jti(doc: JwtDocument) -> None:
    cred, fill = doc.document, doc.form == "vc-jwt"
    if "jti" not in doc.claims:
        outcome: Outcome = "missing" if _required(doc) and "id" in cred else "absent"
        doc.claim_checks.append(ClaimCheck("jti", outcome, "no jti claim"))
        return
    jti = doc.claims["jti"]
    if "id" not in cred and fill and isinstance(jti, str):
        cred["id"] = jti
        doc.claim_checks.append(ClaimCheck("jti", "filled", "id taken from jti"))
    elif jti != cred.get("id"):
        raise JwtJtiMismatchError(f"JWT jti {jti!r} is not the credential id {cred.get('id')!r}")
    else:
        doc.claim_checks.append(ClaimCheck("jti", "ok", "jti is the credential id"))


def _claim_nbf(doc: JwtDocument) -> None:
    _date_claim(doc, "nbf", _date_fields(doc.document)[0], JwtNbfMismatchError)


def _claim_exp(doc: JwtDocument) -> None:
    _date_claim(doc, "exp", _date_fields(doc.document)[1], JwtExpMismatchError)


def _date_claim(
    doc: JwtDocument, claim: str, name: str, error: type[JwtClaimMismatchError]
) -> None:
    cred = doc.document
    if claim not in doc.claims:
        outcome: Outcome = "missing" if _required(doc) and name in cred else "absent"
        doc.claim_checks.append(ClaimCheck(claim, outcome, f"no {claim} claim"))
        return
    try:
        moment = _numeric_date(doc.claims[claim], claim)
    except JwtFormatError as exc:
        raise error(exc.detail, claim=claim) from None
    if name not in cred:
        if doc.form == "vc-jwt":
            cred[name] = format_datetime(moment)
            doc.claim_checks.append(ClaimCheck(claim, "filled", f"{name} taken from {claim}"))
        else:
            detail = f"{claim} {format_datetime(moment)}"
            doc.claim_checks.append(ClaimCheck(claim, "ok", detail))
        return
    try:
        same = _same_second(cred[name], moment, name)
    except MalformedInputError:
        same = False
    if not same:
        raise error(
            f"JWT {claim} {format_datetime(moment)} is not the credential's {name} {cred[name]!r}",
            claim=claim,
        )
    doc.claim_checks.append(ClaimCheck(claim, "ok", f"{claim} equals {name}"))


def _presentation_claims(doc: JwtDocument) -> None:
    vp, claims = doc.document, doc.claims
    holder = vp.get("holder")
    if isinstance(holder, Mapping):
        holder = holder.get("id")
    if "iss" in claims:
        if holder is None and doc.form == "vc-jwt" and isinstance(claims["iss"], str):
            vp["holder"] = claims["iss"]
        elif claims["iss"] != holder:
            raise JwtIssMismatchError(f"JWT iss {claims['iss']!r} is not the holder {holder!r}")
        doc.claim_checks.append(ClaimCheck("iss", "ok", "iss is the holder"))
    if "jti" in claims and "id" in vp and claims["jti"] != vp["id"]:
        raise JwtJtiMismatchError(f"JWT jti {claims['jti']!r} is not the presentation id")


def token_window(claims: Mapping[str, Any]) -> tuple[datetime | None, datetime | None]:
    """The token's own ``nbf``/``exp`` as datetimes (None when absent or not a NumericDate:
    that is reported by the claims check)."""
    window: list[datetime | None] = []
    for claim in ("nbf", "exp"):
        try:
            window.append(_numeric_date(claims[claim], claim) if claim in claims else None)
        except JwtFormatError:
            window.append(None)
    return window[0], window[1]


# --- enveloped credentials -----------------------------------------------------------------------


def is_enveloped(document: Any) -> bool:
    if not isinstance(document, Mapping):
        return False
    t = document.get("type")
    types = [t] if isinstance(t, str) else t if isinstance(t, list) else []
    return ENVELOPED_VC in types or ENVELOPED_VP in types


def parse_data_url(value: Any) -> tuple[str, str]:
    """``(media type, text)`` of a ``data:`` URL (RFC 2397); base64 bodies are decoded."""
    if not isinstance(value, str) or not value.startswith("data:"):
        raise EnvelopedCredentialError(
            f"an enveloped credential's id must be a data: URL, got {str(value)[:60]!r}"
        )
    header, sep, body = value[5:].partition(",")
    if not sep:
        raise EnvelopedCredentialError("the data: URL has no comma before its content")
    params = [p.strip() for p in header.split(";")]
    media = params[0].lower() or "text/plain"
    if "base64" in (p.lower() for p in params[1:]):
        try:
            text = base64.b64decode(unquote(body), validate=True).decode("utf-8")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise EnvelopedCredentialError("the data: URL's base64 content is invalid") from None
    else:
        text = unquote(body)
    return media, text


def enveloped_token(document: Mapping[str, Any]) -> str:
    """The JWS inside an EnvelopedVerifiableCredential (or Presentation) of a supported type."""
    url = document.get("id")
    if isinstance(url, str) and url.startswith("data:"):
        declared = url[5:].partition(",")[0].split(";")[0].strip().lower()
        if declared in UNSUPPORTED_ENVELOPES:
            raise UnsupportedFormatError(
                f"enveloped {declared} credentials are not verified here (only {MEDIA_VC_JWT})",
                mediaType=declared,
            )
    media, text = parse_data_url(url)
    if media in (MEDIA_VC_JWT, MEDIA_VP_JWT, MEDIA_JWT):
        return text
    if media in UNSUPPORTED_ENVELOPES:
        raise UnsupportedFormatError(
            f"enveloped {media} credentials are not verified here (only {MEDIA_VC_JWT})",
            mediaType=media,
        )
    raise EnvelopedCredentialError(f"unknown enveloped media type {media!r}", mediaType=media)


def envelope(token: str, media_type: str = MEDIA_VC_JWT) -> dict[str, Any]:
    """An EnvelopedVerifiableCredential around a JOSE-secured credential (VCDM 2.0 §4.13)."""
    return {
        "@context": VC_V2_CONTEXT,
        "id": f"data:{media_type},{token}",
        "type": ENVELOPED_VC,
    }


def peek_payload(token: str) -> dict[str, Any] | None:
    """A JWS's payload object, decoded without any check (to route a token), or None."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        return None
    try:
        return _json_object(_b64decode(parts[1], "payload"), "payload")
    except MalformedJwsError:
        return None


def peek_document(token: str) -> dict[str, Any] | None:
    """The credential a token carries, unverified (for display after verification), or None."""
    try:
        return decode_document(parse_jws(token)).document
    except (JwsVerificationError, MalformedInputError):
        return None


def credential_id(document: Mapping[str, Any]) -> str:
    """The id of a credential we issued: its own, or for an EnvelopedVerifiableCredential (whose
    id is the ``data:`` URL) the id of the credential inside the token; "" when it has none."""
    if is_enveloped(document):
        document = peek_document(enveloped_token(document)) or {}
    value = document.get("id")
    return value if isinstance(value, str) else ""


# --- issuing -------------------------------------------------------------------------------------


def _ed25519_key(seed: bytes) -> OKPKey:
    return OKPKey.import_key(ed25519.Ed25519PrivateKey.from_private_bytes(seed))


#: The JWS algorithm each of our key types signs with (RFC 8037, RFC 7518 §3.4).
SIGNING_ALGS: Final[dict[str, str]] = {"Ed25519": "EdDSA", "P-256": "ES256", "P-384": "ES384"}


def signing_alg(key: SigningKey) -> str:
    """The ``alg`` a JWS made with ``key`` carries: EdDSA, ES256 or ES384."""
    return SIGNING_ALGS[key.key_type]


@functools.lru_cache(maxsize=16)
def _private_jwk(key: SigningKey) -> Key:
    # Cached: importing (and checking) the private key is a third of an ES256 signature, and an
    # issuer signs with the same few keys again and again.
    if isinstance(key, Ed25519Key):
        return _ed25519_key(key.seed)
    jwk: dict[str, str | list[str]] = dict(key.to_jwk(include_secret=True))
    return ECKey.import_key(jwk)


def credential_claims(credential: Mapping[str, Any]) -> dict[str, Any]:
    """The registered claims OB 3.0 §8.2.4 asks for, taken from the credential itself."""
    claims: dict[str, Any] = {}
    issuer = _issuer_of(credential)
    if issuer is not None:
        claims["iss"] = issuer
    subjects = _subject_ids(credential)
    if len(subjects) == 1:
        claims["sub"] = subjects[0]
    if isinstance(credential.get("id"), str):
        claims["jti"] = credential["id"]
    start_name, end_name = _date_fields(credential)
    for claim, name in (("nbf", start_name), ("exp", end_name)):
        if name in credential:
            moment = parse_xml_datetime(credential[name], name, require_timezone=False)
            claims[claim] = numeric_date(moment)
    return claims


def sign_credential_jwt(
    credential: Mapping[str, Any],
    key: SigningKey,
    *,
    issued_at: datetime,
    kid: str | None = None,
) -> str:
    """Secure ``credential`` as a JWS with one of our keys: EdDSA (Ed25519), ES256 (P-256) or
    ES384 (P-384), the algorithm the key's type fixes.

    A VC 2.0 credential becomes the whole payload (``typ: vc+jwt``, VC-JOSE-COSE §3.1.1), with
    the OB 3.0 claims added so OB 3.0 verifiers find them; a VC 1.1 credential goes into the
    ``vc`` claim (``typ: JWT``, VCDM 1.1 §6.3.1 and OB 3.0 §8.2). ``kid`` is the key's
    verification method (a DID URL) unless given, so any verifier can find the key.
    """
    if "proof" in credential:
        raise MalformedInputError("the credential already has a proof; secure it one way only")
    kid = kid or key.verification_method
    alg = signing_alg(key)
    claims = credential_claims(credential)
    claims["iat"] = numeric_date(issued_at)
    if _context0(credential) == VC_V1_CONTEXT:
        header = {"alg": alg, "typ": "JWT", "kid": kid}
        payload: dict[str, Any] = {**claims, "vc": dict(credential)}
    else:
        header = {"alg": alg, "typ": "vc+jwt", "cty": "vc", "kid": kid}
        clash = [c for c in claims if c in credential]
        if clash:
            raise MalformedInputError(f"the credential uses JWT claim names: {', '.join(clash)}")
        payload = {**credential, **claims}
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return jws.serialize_compact(
            header, body.encode("utf-8"), _private_jwk(key), registry=_registry(alg)
        )


__all__ = [
    "ALLOWED_ALGS",
    "ENVELOPED_VC",
    "MEDIA_JWT",
    "MEDIA_VC_JWT",
    "MEDIA_VP_JWT",
    "SIGNING_ALGS",
    "ClaimCheck",
    "Jws",
    "JwtClaimMismatchError",
    "JwtDocument",
    "apply_claims",
    "check_alg",
    "credential_claims",
    "credential_id",
    "decode_document",
    "did_key_from_kid",
    "envelope",
    "enveloped_token",
    "header_key",
    "import_multikey",
    "import_public_jwk",
    "import_public_pem",
    "is_enveloped",
    "key_of_verification_method",
    "looks_like_jws",
    "parse_data_url",
    "parse_jws",
    "peek_document",
    "peek_payload",
    "public_jwk",
    "same_key",
    "sign_credential_jwt",
    "signing_alg",
    "thumbprint",
    "token_window",
    "verify_signature",
]
