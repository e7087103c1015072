"""JSON Web Keys as verification methods, and the ``did:jwk`` method.

``did:jwk:<base64url(JWK JSON)>`` resolves, with no I/O, to a DID document whose one
verification method ``#0`` (type JsonWebKey2020) carries the JWK (did:jwk spec, "Read").
A JWK with private members is refused: a DID that embeds a secret key must never be used.

Key checks: OKP Ed25519 and EC P-256/P-384 are validated down to the curve point (the keys our
cryptosuites verify with); other well-formed public JWKs (RSA, other curves) resolve, so that
JOSE callers can use them, but :func:`jwk_public_key` refuses them.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from did_methods.errors import InvalidDID, InvalidDocument
from did_methods.multikey import KeyType, MultibaseError, PublicKeyMaterial, check_ec_point

DID_JWK_PREFIX = "did:jwk:"
DID_CONTEXT_V1 = "https://www.w3.org/ns/did/v1"
JWS_2020_CONTEXT = "https://w3id.org/security/suites/jws-2020/v1"

#: JWK members that hold private key material (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
PRIVATE_MEMBERS: frozenset[str] = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
SIGNING_RELATIONSHIPS: tuple[str, ...] = (
    "assertionMethod",
    "authentication",
    "capabilityInvocation",
    "capabilityDelegation",
)
MAX_DID_JWK_LENGTH = 4096

_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")
_EC_SIZES: dict[str, int] = {"P-256": 32, "P-384": 48, "P-521": 66, "secp256k1": 32}
_OKP_SIZES: dict[str, int] = {"Ed25519": 32, "X25519": 32, "Ed448": 57, "X448": 56}


def b64url_decode(value: Any, name: str) -> bytes:
    """Unpadded base64url (RFC 7515 §2) or InvalidDocument naming the member."""
    if not isinstance(value, str) or not _B64URL.match(value) or len(value) % 4 == 1:
        raise InvalidDocument(f"publicKeyJwk {name!r} is not base64url (unpadded)")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidDocument(f"publicKeyJwk {name!r} is not base64url") from exc


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def check_public_jwk(jwk: Any) -> None:
    """A well-formed *public* JWK, or InvalidDocument saying what is wrong."""
    if not isinstance(jwk, Mapping):
        raise InvalidDocument("publicKeyJwk must be a JSON object")
    private = sorted(PRIVATE_MEMBERS & set(jwk))
    if private:
        raise InvalidDocument(
            f"publicKeyJwk carries private key material ({', '.join(private)}); "
            "a verification method must hold a public key only"
        )
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if kty == "EC":
        if crv not in _EC_SIZES:
            raise InvalidDocument(f"unsupported EC curve {crv!r}")
        for member in ("x", "y"):
            if len(b64url_decode(jwk.get(member), member)) != _EC_SIZES[crv]:
                raise InvalidDocument(f"publicKeyJwk {member!r} has the wrong length for {crv}")
    elif kty == "OKP":
        if crv not in _OKP_SIZES:
            raise InvalidDocument(f"unsupported OKP curve {crv!r}")
        if len(b64url_decode(jwk.get("x"), "x")) != _OKP_SIZES[crv]:
            raise InvalidDocument(f"publicKeyJwk 'x' has the wrong length for {crv}")
    elif kty == "RSA":
        for member in ("n", "e"):
            if not b64url_decode(jwk.get(member), member):
                raise InvalidDocument(f"publicKeyJwk {member!r} is empty")
    else:
        raise InvalidDocument(f"unsupported JWK key type {kty!r}")


def jwk_public_key(jwk: Any) -> PublicKeyMaterial:
    """The Ed25519 / P-256 / P-384 public key of a JWK (EC points are checked on the curve)."""
    check_public_jwk(jwk)
    kty, crv = jwk["kty"], jwk.get("crv")
    if kty == "OKP" and crv == "Ed25519":
        return PublicKeyMaterial("Ed25519", b64url_decode(jwk["x"], "x"))
    if kty == "EC" and crv in ("P-256", "P-384"):
        key_type: KeyType = crv
        return PublicKeyMaterial(key_type, _compressed_point(key_type, jwk["x"], jwk["y"]))
    raise InvalidDocument(f"{kty} {crv or ''} keys cannot verify Data Integrity proofs here")


@functools.lru_cache(maxsize=1024)
def _compressed_point(key_type: KeyType, x_b64: str, y_b64: str) -> bytes:
    # Cached: a JWK verification method is read on every verification by that key.
    x, y = b64url_decode(x_b64, "x"), b64url_decode(y_b64, "y")
    point = bytes([2 + (y[-1] & 1)]) + x
    try:
        check_ec_point(key_type, point)
    except MultibaseError as exc:
        raise InvalidDocument(f"publicKeyJwk is not a point on {key_type}") from exc
    # The compressed form drops y; it must be the y the JWK states, or the JWK is not a point.
    curve = ec.SECP256R1() if key_type == "P-256" else ec.SECP384R1()
    numbers = ec.EllipticCurvePublicKey.from_encoded_point(curve, point).public_numbers()
    if numbers.y != int.from_bytes(y, "big"):
        raise InvalidDocument(f"publicKeyJwk is not a point on {key_type}")
    return point


def public_key_jwk(key: PublicKeyMaterial) -> dict[str, str]:
    """The public JWK of a key (RFC 8037 OKP for Ed25519, RFC 7518 EC for P-256/P-384)."""
    if key.key_type == "Ed25519":
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(key.raw)}
    curve = ec.SECP256R1() if key.key_type == "P-256" else ec.SECP384R1()
    size = 32 if key.key_type == "P-256" else 48
    numbers = ec.EllipticCurvePublicKey.from_encoded_point(curve, key.raw).public_numbers()
    return {
        "kty": "EC",
        "crv": key.key_type,
        "x": b64url_encode(numbers.x.to_bytes(size, "big")),
        "y": b64url_encode(numbers.y.to_bytes(size, "big")),
    }


# --- did:jwk -------------------------------------------------------------------------------------


def create_did_jwk(jwk: Mapping[str, Any]) -> str:
    """``did:jwk:`` + base64url of the JWK serialized compactly with sorted members (a JCS-like
    form, so one key gives one DID; the spec leaves the serialization to the creator)."""
    try:
        check_public_jwk(jwk)
    except InvalidDocument as exc:
        raise InvalidDID(f"not a public JWK: {exc.message}") from exc
    text = json.dumps(dict(jwk), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return DID_JWK_PREFIX + b64url_encode(text.encode("utf-8"))


def parse_did_jwk(did: str) -> dict[str, Any]:
    """The JWK a did:jwk carries ("Read" steps 1-4), or InvalidDID saying why."""
    if not isinstance(did, str) or not did.startswith(DID_JWK_PREFIX):
        raise InvalidDID(f"not a did:jwk DID: {str(did)[:80]!r}")
    value = did[len(DID_JWK_PREFIX) :]
    if not value:
        raise InvalidDID("did:jwk has an empty method-specific identifier")
    if len(did) > MAX_DID_JWK_LENGTH:
        raise InvalidDID(f"did:jwk is longer than {MAX_DID_JWK_LENGTH} characters")
    if not _B64URL.match(value) or len(value) % 4 == 1:
        raise InvalidDID("did:jwk identifier must be unpadded base64url")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        jwk = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError) as exc:
        raise InvalidDID("did:jwk identifier does not decode to UTF-8 JSON") from exc
    if not isinstance(jwk, dict):
        raise InvalidDID("did:jwk identifier must encode a JSON object (a JWK)")
    try:
        check_public_jwk(jwk)
    except InvalidDocument as exc:
        raise InvalidDID(f"did:jwk does not hold a usable public JWK: {exc.message}") from exc
    return jwk


def resolve_did_jwk(did: str) -> dict[str, Any]:
    """The DID document of a did:jwk: one JsonWebKey2020 method ``#0``; ``use: "sig"`` drops
    keyAgreement and ``use: "enc"`` keeps only keyAgreement (did:jwk spec)."""
    jwk = parse_did_jwk(did)
    vm_id = f"{did}#0"
    doc: dict[str, Any] = {
        "@context": [DID_CONTEXT_V1, JWS_2020_CONTEXT],
        "id": did,
        "verificationMethod": [
            {"id": vm_id, "type": "JsonWebKey2020", "controller": did, "publicKeyJwk": jwk}
        ],
    }
    use = jwk.get("use")
    if use != "enc":
        for relationship in SIGNING_RELATIONSHIPS:
            doc[relationship] = [vm_id]
    if use != "sig":
        doc["keyAgreement"] = [vm_id]
    return doc
