"""did:key for Ed25519, P-256 and P-384: create from a public key, resolve to a DID document.

Resolution is pure (no I/O): the DID carries the key. For Ed25519 two document forms exist in
the wild: the Multikey form (current spec, default) and the legacy Ed25519VerificationKey2020
form that older wallets (DCC, vc-js 2020 suites) expect. P-256 (``zDn...``) and P-384
(``z82...``) keys always resolve to the Multikey form (vc-di-ecdsa §2.1.1), with no derived
key agreement key.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

import nacl.bindings
import nacl.signing

from did_methods.errors import InvalidDID
from did_methods.multikey import (
    MultibaseError,
    PublicKeyMaterial,
    check_ec_point,
    decode_base58btc,
    decode_public_multikey,
    ed25519_to_x25519_public,
    encode_ed25519_public,
    encode_public_multikey,
    encode_x25519_public,
)

DID_KEY_PREFIX = "did:key:"

DID_CONTEXT_V1 = "https://www.w3.org/ns/did/v1"
MULTIKEY_CONTEXT_V1 = "https://w3id.org/security/multikey/v1"
ED25519_2020_CONTEXT = "https://w3id.org/security/suites/ed25519-2020/v1"
X25519_2020_CONTEXT = "https://w3id.org/security/suites/x25519-2020/v1"

KeyFormat = Literal["multikey", "ed25519-2020"]
KEY_FORMATS: tuple[str, ...] = ("multikey", "ed25519-2020")

#: Relationships a did:key signing key is listed under, in the order the vectors use.
SIGNING_RELATIONSHIPS: tuple[str, ...] = (
    "authentication",
    "assertionMethod",
    "capabilityDelegation",
    "capabilityInvocation",
)


def create_did_key(public_key: bytes) -> str:
    """``did:key:z6Mk...`` for a 32-byte Ed25519 public key (which must be a valid point)."""
    _check_point(public_key)
    return DID_KEY_PREFIX + encode_ed25519_public(public_key)


def create_did_key_from(key: PublicKeyMaterial) -> str:
    """``did:key:`` for any supported key: ``z6Mk...``, ``zDn...`` (P-256), ``z82...`` (P-384)."""
    if key.key_type == "Ed25519":
        return create_did_key(key.raw)
    try:
        check_ec_point(key.key_type, key.raw)
        return DID_KEY_PREFIX + encode_public_multikey(key.key_type, key.raw)
    except MultibaseError as exc:
        raise InvalidDID(str(exc)) from exc


def did_key_from_seed(seed: bytes) -> str:
    """did:key of the Ed25519 key derived (RFC 8032) from a 32-byte seed."""
    if not isinstance(seed, bytes | bytearray) or len(seed) != 32:
        raise ValueError("Ed25519 seed must be 32 bytes")
    return create_did_key(bytes(nacl.signing.SigningKey(bytes(seed)).verify_key))


def did_key_verification_method_id(did: str) -> str:
    """The id of the signing key's verification method: ``did:key:X#X``."""
    did_key_public_key(did)
    return f"{did}#{did[len(DID_KEY_PREFIX) :]}"


def parse_did_key(did: str) -> bytes:
    """Return the Ed25519 public key a did:key carries, or raise InvalidDID saying why."""
    key = did_key_public_key(did)
    if key.key_type != "Ed25519":
        raise InvalidDID(f"not an Ed25519 did:key ({key.key_type}): {_short(did)}")
    return key.raw


def did_key_public_key(did: str) -> PublicKeyMaterial:
    """The key (Ed25519, P-256 or P-384) a did:key carries, or InvalidDID saying why."""
    if not isinstance(did, str):
        raise InvalidDID("a DID must be a string")
    return _parse_did_key(did)


@functools.lru_cache(maxsize=4096)
def _parse_did_key(did: str) -> PublicKeyMaterial:
    # Cached (successes only; errors are raised anew): base58 decoding and the curve-point
    # check run on every verification of a did:key proof.
    if not did.startswith(DID_KEY_PREFIX):
        raise InvalidDID(f"not a did:key DID: {_short(did)}")
    msid = did[len(DID_KEY_PREFIX) :]
    if not msid:
        raise InvalidDID("did:key has an empty method-specific identifier")
    if any(c in msid for c in ":/?#"):
        raise InvalidDID(f"did:key identifier must be a single multibase value: {_short(did)}")
    if not msid.startswith("z"):
        raise InvalidDID(
            f"did:key identifier must be base58btc multibase (start with 'z'): {_short(did)}"
        )
    try:
        raw = decode_base58btc(msid)
    except MultibaseError as exc:
        raise InvalidDID(f"did:key identifier is not valid base58btc: {_short(did)}") from exc
    try:
        key = decode_public_multikey(msid)
    except MultibaseError as exc:
        if raw[:2] not in (b"\xed\x01", b"\x80\x24", b"\x81\x24"):
            raise InvalidDID(
                f"unsupported did:key multicodec 0x{raw[:2].hex()} (supported: Ed25519 "
                f"0xed01, P-256 0x8024, P-384 0x8124): {_short(did)}"
            ) from exc
        raise InvalidDID(f"{exc}: {_short(did)}") from exc
    if key.key_type == "Ed25519":
        _check_point(key.raw)
    return key


def resolve_did_key(
    did: str, *, format: KeyFormat = "multikey", key_agreement: bool = True
) -> dict[str, Any]:
    """Expand a did:key into its DID document.

    ``key_agreement=False`` omits the derived X25519 key, as digitalbazaar's did-method-key
    driver does by default (the generated-interop vectors have no keyAgreement). ``format``
    applies to Ed25519 keys; P-256/P-384 keys have only the Multikey form.
    """
    if format not in KEY_FORMATS:
        raise ValueError(f"unknown did:key document format {format!r}")
    material = did_key_public_key(did)
    fingerprint = did[len(DID_KEY_PREFIX) :]
    vm_id = f"{did}#{fingerprint}"
    if material.key_type != "Ed25519":
        return _ecdsa_document(did, vm_id, fingerprint)
    key = material.raw
    legacy = format == "ed25519-2020"

    contexts = [DID_CONTEXT_V1, ED25519_2020_CONTEXT if legacy else MULTIKEY_CONTEXT_V1]
    if legacy and key_agreement:
        contexts.append(X25519_2020_CONTEXT)

    doc: dict[str, Any] = {
        "@context": contexts,
        "id": did,
        "verificationMethod": [
            {
                "id": vm_id,
                "type": "Ed25519VerificationKey2020" if legacy else "Multikey",
                "controller": did,
                "publicKeyMultibase": fingerprint,
            }
        ],
    }
    for relationship in SIGNING_RELATIONSHIPS:
        doc[relationship] = [vm_id]
    if key_agreement:
        x_key = _x25519_multibase(key)
        doc["keyAgreement"] = [
            {
                "id": f"{did}#{x_key}",
                "type": "X25519KeyAgreementKey2020" if legacy else "Multikey",
                "controller": did,
                "publicKeyMultibase": x_key,
            }
        ]
    return doc


def _ecdsa_document(did: str, vm_id: str, fingerprint: str) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@context": [DID_CONTEXT_V1, MULTIKEY_CONTEXT_V1],
        "id": did,
        "verificationMethod": [
            {
                "id": vm_id,
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": fingerprint,
            }
        ],
    }
    for relationship in SIGNING_RELATIONSHIPS:
        doc[relationship] = [vm_id]
    return doc


@functools.lru_cache(maxsize=4096)
def _x25519_multibase(key: bytes) -> str:
    # Cached: the modular inverse of the Edwards -> Montgomery map was ~7% of a verification,
    # and verifiers resolve the same few issuer keys again and again.
    try:
        return encode_x25519_public(ed25519_to_x25519_public(key))
    except MultibaseError as exc:  # unreachable for valid points; kept precise anyway
        raise InvalidDID(f"Ed25519 key has no X25519 form: {exc}") from exc


def _check_point(key: bytes) -> None:
    if not isinstance(key, bytes | bytearray) or len(key) != 32:
        n = len(key) if isinstance(key, bytes | bytearray) else "non-bytes"
        raise InvalidDID(f"Ed25519 public key must be 32 bytes, got {n}")
    # libsodium's check: on the curve, in the main subgroup, not of small order.
    if not nacl.bindings.crypto_core_ed25519_is_valid_point(bytes(key)):
        raise InvalidDID("not a valid Ed25519 public key (not a usable curve point)")


def _short(value: str, limit: int = 80) -> str:
    return value if len(value) <= limit else value[:limit] + "..."
