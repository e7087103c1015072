"""did:key: the reference vectors byte for byte, round trips, and every kind of bad DID."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import base58
import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from did_methods.errors import InvalidDID
from did_methods.key import (
    create_did_key,
    did_key_from_seed,
    did_key_verification_method_id,
    parse_did_key,
    resolve_did_key,
)
from did_methods.multikey import encode_base58btc

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "did"
TEST_DID = "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text("utf-8"))


def dumps(doc: Any) -> str:
    """Key order matters to people diffing documents, so compare the serialization."""
    return json.dumps(doc, indent=2)


@pytest.mark.parametrize(
    ("fixture", "fmt"),
    [
        ("did-key-document.multikey.json", "multikey"),
        ("did-key-document.ed25519-2020.json", "ed25519-2020"),
    ],
)
def test_generated_interop_documents_exactly(fixture: str, fmt: Any) -> None:
    expected = load(fixture)
    doc = resolve_did_key(TEST_DID, format=fmt, key_agreement=False)
    assert dumps(doc) == dumps(expected)


def test_issuer_key_seed_gives_the_test_did() -> None:
    key = load("issuer-key.json")
    raw = base58.b58decode(key["secretKeyMultibase"][1:])
    assert raw[:2] == b"\x80\x26"
    assert did_key_from_seed(raw[2:]) == key["did"]
    assert did_key_verification_method_id(key["did"]) == key["verificationMethod"]


def test_spec_example_document_exactly() -> None:
    expected = load("spec-example-did-document.json")
    doc = resolve_did_key(expected["id"], format="ed25519-2020")
    assert dumps(doc) == dumps(expected)


def test_dcc_seed_example_exactly() -> None:
    example = load("dcc-signing-service-seed-example.json")
    raw = base58.b58decode(example["seed"][1:])
    assert raw[:2] == b"\x00\x20"  # identity multihash, 32 bytes
    did = did_key_from_seed(raw[2:])
    assert did == example["did"]
    assert dumps(resolve_did_key(did, format="ed25519-2020")) == dumps(example["didDocument"])


VECTORS = load("ed25519-x25519.json")


@pytest.mark.parametrize("did", sorted(VECTORS))
def test_did_method_key_vectors(did: str) -> None:
    vector = VECTORS[did]
    seed = bytes.fromhex(vector["seed"])
    assert did_key_from_seed(seed) == did
    public = bytes(nacl.signing.SigningKey(seed).verify_key)
    if "publicKeyBase58" in vector["verificationKeyPair"]:
        assert base58.b58encode(public).decode() == vector["verificationKeyPair"]["publicKeyBase58"]
    assert parse_did_key(did) == public
    x_id = vector["keyAgreementKeyPair"]["id"]
    x_fragment = x_id.split("#", 1)[1]
    for fmt in ("multikey", "ed25519-2020"):
        doc = resolve_did_key(did, format=fmt)
        (ka,) = doc["keyAgreement"]
        assert ka["id"] == f"{did}#{x_fragment}"
        assert ka["publicKeyMultibase"] == x_fragment
        assert ka["controller"] == did
    expected_ka = vector["didDocument"]["keyAgreement"][0]
    assert resolve_did_key(did)["keyAgreement"][0]["id"] == expected_ka


def test_x25519_raw_key_matches_vector_base58() -> None:
    for did, vector in VECTORS.items():
        pair = vector["keyAgreementKeyPair"]
        if "publicKeyBase58" not in pair:
            continue
        ka = resolve_did_key(did)["keyAgreement"][0]["publicKeyMultibase"]
        raw = base58.b58decode(ka[1:])
        assert raw[:2] == b"\xec\x01"
        assert base58.b58encode(raw[2:]).decode() == pair["publicKeyBase58"]


def test_multikey_form_shape() -> None:
    doc = resolve_did_key(TEST_DID)
    assert doc["@context"] == [
        "https://www.w3.org/ns/did/v1",
        "https://w3id.org/security/multikey/v1",
    ]
    assert [vm["type"] for vm in doc["verificationMethod"]] == ["Multikey"]
    assert doc["keyAgreement"][0]["type"] == "Multikey"
    assert doc["keyAgreement"][0]["publicKeyMultibase"].startswith("z6LS")
    vm_id = f"{TEST_DID}#{TEST_DID[8:]}"
    for rel in (
        "authentication",
        "assertionMethod",
        "capabilityDelegation",
        "capabilityInvocation",
    ):
        assert doc[rel] == [vm_id]
    assert list(doc) == [
        "@context",
        "id",
        "verificationMethod",
        "authentication",
        "assertionMethod",
        "capabilityDelegation",
        "capabilityInvocation",
        "keyAgreement",
    ]


def test_resolution_returns_fresh_objects() -> None:
    a = resolve_did_key(TEST_DID)
    a["verificationMethod"][0]["controller"] = "did:example:evil"
    assert resolve_did_key(TEST_DID)["verificationMethod"][0]["controller"] == TEST_DID


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError):
        resolve_did_key(TEST_DID, format="jwk")  # type: ignore[arg-type]


_VALID_KEY = base58.b58decode(TEST_DID[9:])[2:]


@pytest.mark.parametrize(
    ("did", "fragment_of_message"),
    [
        ("did:web:example.com", "not a did:key"),
        ("did:key:", "empty"),
        ("DID:key:" + TEST_DID[8:], "not a did:key"),
        ("did:key:" + "u" + TEST_DID[9:], "base58btc multibase"),
        ("did:key:z0OIl", "not valid base58btc"),
        ("did:key:z", "not valid base58btc"),
        (TEST_DID + "#frag", "single multibase value"),
        (TEST_DID + ":extra", "single multibase value"),
        ("did:key:" + encode_base58btc(b"\xec\x01" + bytes(32)), "multicodec 0xec01"),
        ("did:key:" + encode_base58btc(b"\x12\x20" + bytes(32)), "multicodec 0x1220"),
        ("did:key:" + encode_base58btc(b"\xed\x01" + _VALID_KEY[:31]), "32 bytes, got 31"),
        ("did:key:" + encode_base58btc(b"\xed\x01" + _VALID_KEY + b"\x00"), "32 bytes, got 33"),
        ("did:key:" + encode_base58btc(b"\xed\x01" + bytes(32)), "not a valid Ed25519"),
        ("did:key:" + encode_base58btc(b"\xed\x01" + b"\x01" + bytes(31)), "not a valid Ed25519"),
    ],
)
def test_bad_did_key_is_invalid_did(did: str, fragment_of_message: str) -> None:
    with pytest.raises(InvalidDID) as info:
        resolve_did_key(did)
    assert info.value.code == "invalidDid"
    assert fragment_of_message in info.value.message


def test_create_refuses_bad_keys() -> None:
    with pytest.raises(InvalidDID):
        create_did_key(b"\x00" * 31)
    with pytest.raises(InvalidDID):
        create_did_key(bytes(32))  # small-order point
    with pytest.raises(ValueError):
        did_key_from_seed(b"short")


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=32, max_size=32))
def test_round_trip_from_any_seed(seed: bytes) -> None:
    public = bytes(nacl.signing.SigningKey(seed).verify_key)
    did = create_did_key(public)
    assert did.startswith("did:key:z6Mk")
    assert parse_did_key(did) == public
    for fmt in ("multikey", "ed25519-2020"):
        doc = resolve_did_key(did, format=fmt)
        assert doc["id"] == did
        assert doc["verificationMethod"][0]["publicKeyMultibase"] == did[8:]
        assert doc["keyAgreement"][0]["publicKeyMultibase"].startswith("z6LS")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_arbitrary_text_never_escapes_as_another_error(text: str) -> None:
    try:
        doc = resolve_did_key("did:key:" + text)
    except InvalidDID:
        return
    assert doc["id"] == "did:key:" + text


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40))
def test_arbitrary_multicodec_bytes_are_refused_or_a_valid_point(raw: bytes) -> None:
    did = "did:key:" + encode_base58btc(raw)
    try:
        key = parse_did_key(did)
    except InvalidDID:
        return
    assert raw == b"\xed\x01" + key
    assert create_did_key(key) == did
