"""Reading DID documents: verification methods, relationships and Ed25519 key forms."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nacl.signing
import pytest

from did_methods.document import (
    absolute_id,
    ed25519_public_key,
    find_verification_method,
    is_authorized,
    iter_verification_methods,
    relationship_ids,
)
from did_methods.errors import InvalidDocument
from did_methods.key import resolve_did_key

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "did"
JWK_DOC = json.loads((FIXTURES / "spec-example-did-document-jwk.json").read_text())["didDocument"]
VECTORS = json.loads((FIXTURES / "ed25519-x25519.json").read_text())
TEST_DID = "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
TEST_VM = f"{TEST_DID}#{TEST_DID[8:]}"


def relative_doc() -> dict[str, Any]:
    return {
        "id": "did:web:example.com",
        "verificationMethod": [
            {
                "id": "#key-1",
                "type": "Multikey",
                "controller": "did:web:example.com",
                "publicKeyMultibase": TEST_DID[8:],
            }
        ],
        "assertionMethod": ["#key-1"],
        "authentication": [
            {
                "id": "did:web:example.com#auth-only",
                "type": "Multikey",
                "controller": "did:web:example.com",
                "publicKeyMultibase": TEST_DID[8:],
            }
        ],
    }


def test_absolute_id() -> None:
    assert absolute_id("#a", "did:web:x") == "did:web:x#a"
    assert absolute_id("did:web:y#a", "did:web:x") == "did:web:y#a"


def test_spec_jwk_document() -> None:
    assert relationship_ids(JWK_DOC, "keyAgreement") == [
        "did:web:example.com#key-1",
        "did:web:example.com#key-2",
    ]
    assert is_authorized(JWK_DOC, "did:web:example.com#key-0", "assertionMethod")
    assert is_authorized(JWK_DOC, "#key-0", "authentication")
    assert not is_authorized(JWK_DOC, "did:web:example.com#key-1", "assertionMethod")
    assert not is_authorized(JWK_DOC, "did:web:example.com#key-9", "assertionMethod")
    assert relationship_ids(JWK_DOC, "capabilityInvocation") == []
    vm = find_verification_method(JWK_DOC, "#key-0")
    assert vm is not None and vm["publicKeyJwk"]["crv"] == "Ed25519"
    assert len(ed25519_public_key(vm)) == 32
    with pytest.raises(InvalidDocument):
        ed25519_public_key(find_verification_method(JWK_DOC, "#key-2") or {})


def test_relative_and_embedded_methods() -> None:
    doc = relative_doc()
    vm = find_verification_method(doc, "did:web:example.com#key-1")
    assert vm is not None and vm["id"] == "did:web:example.com#key-1"
    assert relationship_ids(doc, "assertionMethod") == ["did:web:example.com#key-1"]
    assert is_authorized(doc, "did:web:example.com#key-1", "assertionMethod")
    # embedded under authentication: found, and only authorized for authentication
    assert find_verification_method(doc, "#auth-only") is not None
    assert is_authorized(doc, "#auth-only", "authentication")
    assert not is_authorized(doc, "#auth-only", "assertionMethod")
    assert [m["id"] for m in iter_verification_methods(doc)] == [
        "did:web:example.com#key-1",
        "did:web:example.com#auth-only",
    ]
    # the helpers hand out copies
    vm["controller"] = "did:web:evil"
    assert doc["verificationMethod"][0]["controller"] == "did:web:example.com"


def test_listed_but_not_defined_is_not_authorized() -> None:
    doc = relative_doc()
    doc["assertionMethod"].append("#ghost")
    assert not is_authorized(doc, "#ghost", "assertionMethod")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("id"),
        lambda d: d.__setitem__("verificationMethod", {"id": "#k"}),
        lambda d: d.__setitem__("verificationMethod", ["#k"]),
        lambda d: d.__setitem__("verificationMethod", [{"type": "Multikey"}]),
        lambda d: d.__setitem__("assertionMethod", "#key-1"),
        lambda d: d.__setitem__("assertionMethod", [42]),
    ],
)
def test_malformed_documents_raise(mutate: Any) -> None:
    doc = relative_doc()
    mutate(doc)
    with pytest.raises(InvalidDocument) as info:
        find_verification_method(doc, "#key-1")
        is_authorized(doc, "#key-1", "assertionMethod")
    assert info.value.code == "invalidDidDocument"


def test_ed25519_key_forms_agree() -> None:
    seed = bytes.fromhex(
        VECTORS["did:key:z6MkwYMhwTvsq376YBAcJHy3vyRWzBgn5vKfVqqDCgm7XVKU"]["seed"]
    )
    public = bytes(nacl.signing.SigningKey(seed).verify_key)
    jwk_vm = VECTORS["did:key:z6MkwYMhwTvsq376YBAcJHy3vyRWzBgn5vKfVqqDCgm7XVKU"]["didDocument"][
        "verificationMethod"
    ][0]
    assert ed25519_public_key(jwk_vm) == public

    did0 = "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"
    vm2018 = VECTORS[did0]["didDocument"]["verificationMethod"][0]
    assert ed25519_public_key(vm2018) == bytes(nacl.signing.SigningKey(bytes(32)).verify_key)

    for fmt in ("multikey", "ed25519-2020"):
        doc = resolve_did_key(did0, format=fmt)
        vm = find_verification_method(doc, f"{did0}#{did0[8:]}")
        assert vm is not None
        assert ed25519_public_key(vm) == ed25519_public_key(vm2018)


@pytest.mark.parametrize(
    "vm",
    [
        {"type": "Multikey"},
        {
            "type": "Multikey",
            "publicKeyMultibase": "z6LSbysY2xFMRpGMhb7tFTLMpeuPRaqaWM1yECx2AtzE3KCc",
        },
        {"type": "Ed25519VerificationKey2020", "publicKeyMultibase": "not-multibase"},
        {"type": "Ed25519VerificationKey2018", "publicKeyBase58": "0OIl"},
        {"type": "Ed25519VerificationKey2018", "publicKeyBase58": "abc"},
        {"type": "JsonWebKey2020", "publicKeyJwk": {"kty": "EC", "crv": "P-256", "x": "AA"}},
        {"type": "JsonWebKey2020", "publicKeyJwk": {"kty": "OKP", "crv": "Ed25519", "x": "AA=="}},
        {"type": "JsonWebKey2020", "publicKeyJwk": {"kty": "OKP", "crv": "Ed25519", "x": "!!"}},
        {"type": "JsonWebKey2020", "publicKeyJwk": {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}},
        {"type": "EcdsaSecp256k1VerificationKey2019", "publicKeyMultibase": TEST_DID[8:]},
    ],
)
def test_bad_key_material_is_invalid_document(vm: dict[str, Any]) -> None:
    with pytest.raises(InvalidDocument):
        ed25519_public_key(vm)
