"""Reading DID documents: verification methods, relationships, public keys.

Documents come from the network (did:web), so malformed shapes raise InvalidDocument with
the offending member named, instead of being skipped silently.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

import base58

from did_methods.errors import InvalidDocument
from did_methods.jwk import jwk_public_key
from did_methods.multikey import MultibaseError, PublicKeyMaterial, decode_public_multikey

VERIFICATION_RELATIONSHIPS: tuple[str, ...] = (
    "authentication",
    "assertionMethod",
    "keyAgreement",
    "capabilityInvocation",
    "capabilityDelegation",
)


def absolute_id(ref: str, base: str) -> str:
    """``#frag`` relative to the document id becomes ``<id>#frag``; other ids stay as they are."""
    return base + ref if ref.startswith("#") else ref


def _doc_id(doc: Mapping[str, Any]) -> str:
    doc_id = doc.get("id")
    if not isinstance(doc_id, str) or not doc_id:
        raise InvalidDocument("DID document has no string 'id'")
    return doc_id


def _entries(doc: Mapping[str, Any], member: str) -> list[Any]:
    value = doc.get(member)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidDocument(f"DID document member {member!r} must be an array")
    return value


def _normalized(vm: Any, base: str, member: str) -> dict[str, Any]:
    if not isinstance(vm, dict) or not isinstance(vm.get("id"), str) or not vm["id"]:
        raise InvalidDocument(f"a verification method in {member!r} has no string 'id'")
    out = copy.deepcopy(vm)
    out["id"] = absolute_id(vm["id"], base)
    if isinstance(out.get("controller"), str):
        out["controller"] = absolute_id(out["controller"], base)
    return out


def iter_verification_methods(doc: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every verification method object (top level, then embedded), ids made absolute."""
    base = _doc_id(doc)
    for vm in _entries(doc, "verificationMethod"):
        yield _normalized(vm, base, "verificationMethod")
    for relationship in VERIFICATION_RELATIONSHIPS:
        for entry in _entries(doc, relationship):
            if isinstance(entry, dict):
                yield _normalized(entry, base, relationship)


def find_verification_method(doc: Mapping[str, Any], vm_id: str) -> dict[str, Any] | None:
    """The verification method named by ``vm_id`` (absolute or ``#frag``), or None.

    The result is a copy with an absolute ``id`` (and ``controller`` if it was relative).
    """
    target = absolute_id(vm_id, _doc_id(doc))
    for vm in iter_verification_methods(doc):
        if vm["id"] == target:
            return vm
    return None


def relationship_ids(doc: Mapping[str, Any], relationship: str) -> list[str]:
    """Absolute ids listed under a verification relationship (references or embedded)."""
    base = _doc_id(doc)
    ids: list[str] = []
    for entry in _entries(doc, relationship):
        if isinstance(entry, str):
            ids.append(absolute_id(entry, base))
        elif isinstance(entry, dict) and isinstance(entry.get("id"), str):
            ids.append(absolute_id(entry["id"], base))
        else:
            raise InvalidDocument(
                f"entries of {relationship!r} must be id strings or verification methods"
            )
    return ids


def is_authorized(doc: Mapping[str, Any], vm_id: str, relationship: str) -> bool:
    """True when ``vm_id`` is listed under ``relationship`` and resolvable in this document."""
    target = absolute_id(vm_id, _doc_id(doc))
    if target not in relationship_ids(doc, relationship):
        return False
    return find_verification_method(doc, target) is not None


def public_key_material(vm: Mapping[str, Any]) -> PublicKeyMaterial:
    """The public key of a verification method, in any of its common forms.

    Multikey (Ed25519 ``z6Mk``, P-256 ``zDn``, P-384 ``z82``), Ed25519VerificationKey2020
    (publicKeyMultibase), Ed25519VerificationKey2018 (publicKeyBase58), JsonWebKey /
    JsonWebKey2020 (OKP Ed25519, EC P-256/P-384; a JWK with private members is refused).
    """
    vm_type = vm.get("type")
    if vm_type in ("Multikey", "Ed25519VerificationKey2020"):
        value = vm.get("publicKeyMultibase")
        if not isinstance(value, str):
            raise InvalidDocument(f"{vm_type} verification method has no publicKeyMultibase")
        try:
            key = decode_public_multikey(value)
        except MultibaseError as exc:
            raise InvalidDocument(f"publicKeyMultibase is not a supported key: {exc}") from exc
        if vm_type == "Ed25519VerificationKey2020" and key.key_type != "Ed25519":
            raise InvalidDocument(f"Ed25519VerificationKey2020 holds a {key.key_type} key")
        return key
    if vm_type == "Ed25519VerificationKey2018":
        value = vm.get("publicKeyBase58")
        if not isinstance(value, str):
            raise InvalidDocument("Ed25519VerificationKey2018 has no publicKeyBase58")
        try:
            raw = bytes(base58.b58decode(value))
        except ValueError as exc:
            raise InvalidDocument("publicKeyBase58 is not base58") from exc
        return PublicKeyMaterial("Ed25519", _check_len(raw))
    if vm_type in ("JsonWebKey2020", "JsonWebKey"):
        return jwk_public_key(vm.get("publicKeyJwk"))
    raise InvalidDocument(f"unsupported verification method type {vm_type!r}")


def ed25519_public_key(vm: Mapping[str, Any]) -> bytes:
    """The raw 32-byte Ed25519 key of a verification method (see public_key_material)."""
    key = public_key_material(vm)
    if key.key_type != "Ed25519":
        raise InvalidDocument(f"verification method holds a {key.key_type} key, not Ed25519")
    return _check_len(key.raw)


def _check_len(raw: bytes) -> bytes:
    if len(raw) != 32:
        raise InvalidDocument(f"Ed25519 public key must be 32 bytes, got {len(raw)}")
    return raw
