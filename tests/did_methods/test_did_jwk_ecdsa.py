"""P-256/P-384 Multikey and did:key (``zDn...``/``z82...``), JsonWebKey verification methods,
did:jwk, and the base58btc codec (held to the ``base58`` package)."""

from __future__ import annotations

import base64
import json
from typing import Any

import base58
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from did_methods.document import public_key_material
from did_methods.errors import InvalidDID, InvalidDocument
from did_methods.jwk import create_did_jwk, jwk_public_key, public_key_jwk, resolve_did_jwk
from did_methods.key import (
    create_did_key_from,
    did_key_public_key,
    parse_did_key,
    resolve_did_key,
)
from did_methods.multikey import (
    MultibaseError,
    PublicKeyMaterial,
    b58decode,
    b58encode,
    decode_public_multikey,
    encode_base58btc,
)
from did_methods.registry import Resolver

from ._helpers import one_multikey_document

# vc-di-ecdsa test vector keys (TestVectors/p256KeyPair.json, p384KeyPair.json)
P256_MB = "zDnaepBuvsQ8cpsWrVKw8fbpGpvPeNSjVPTWoq6cRqaYzBKVP"
P384_MB = "z82LkuBieyGShVBhvtE2zoiD6Kma4tJGFtkAhxR5pfkp5QPw4LutoYWhvQCnGjdVn14kujQ"
# did:jwk spec, "Examples / P-256"
SPEC_DID_JWK = (
    "did:jwk:eyJjcnYiOiJQLTI1NiIsImt0eSI6IkVDIiwieCI6ImFjYklRaXVNczNpOF91c3pFakoydHBUdFJNNEVVM3l6"
    "OTFQSDZDZEgyVjAiLCJ5IjoiX0tjeUxqOXZXTXB0bm1LdG00NkdxRHo4d2Y3NEk1TEtncmwyR3pIM25TRSJ9"
)
SPEC_JWK = {
    "crv": "P-256",
    "kty": "EC",
    "x": "acbIQiuMs3i8_uszEjJ2tpTtRM4EU3yz91PH6CdH2V0",
    "y": "_KcyLj9vWMptnmKtm46GqDz8wf74I5LKgrl2GzH3nSE",
}


def _b64(obj: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


# --- base58btc -----------------------------------------------------------------------------------


@settings(max_examples=300)
@given(st.binary(max_size=100))
def test_base58_matches_the_reference_package(data: bytes) -> None:
    assert b58encode(data) == base58.b58encode(data).decode()
    assert b58decode(b58encode(data)) == data


@settings(max_examples=200)
@given(st.text(alphabet="123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0OIl"))
def test_base58_decoding_matches_the_reference_package(text: str) -> None:
    try:
        expected = base58.b58decode(text)
    except ValueError:
        with pytest.raises(ValueError):
            b58decode(text)
        return
    assert b58decode(text) == expected


# --- Multikey and did:key ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "key_type", "size"), [(P256_MB, "P-256", 33), (P384_MB, "P-384", 49)]
)
def test_ecdsa_multikey(value: str, key_type: str, size: int) -> None:
    key = decode_public_multikey(value)
    assert key == PublicKeyMaterial(key_type, key.raw)  # type: ignore[arg-type]
    assert len(key.raw) == size and key.raw[0] in (2, 3)
    assert key.multibase == value


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\x80\x24" + b"\x02" + bytes(31), "33 bytes, got 32"),  # short
        (b"\x80\x24" + b"\x04" + bytes(32), "compressed"),  # uncompressed header
        (b"\x80\x24" + b"\x02" + b"\xff" * 32, "not a point"),  # x >= p
        (b"\x81\x24" + b"\x03" + bytes(47), "49 bytes"),
        (b"\x12\x00" + bytes(33), "unsupported public key multicodec"),
    ],
)
def test_bad_ecdsa_multikeys(raw: bytes, message: str) -> None:
    with pytest.raises(MultibaseError, match=message):
        decode_public_multikey(encode_base58btc(raw))


@pytest.mark.parametrize("value", [P256_MB, P384_MB])
def test_did_key_for_ecdsa_keys(value: str) -> None:
    did = f"did:key:{value}"
    doc = resolve_did_key(did)
    assert doc == one_multikey_document(did, value)
    assert resolve_did_key(did, format="ed25519-2020") == doc  # only Ed25519 has a legacy form
    key = did_key_public_key(did)
    assert create_did_key_from(key) == did
    with pytest.raises(InvalidDID, match="not an Ed25519 did:key"):
        parse_did_key(did)


def test_did_key_with_a_bad_ecdsa_point() -> None:
    did = "did:key:" + encode_base58btc(b"\x80\x24\x02" + b"\xff" * 32)
    with pytest.raises(InvalidDID, match="not a point on P-256") as info:
        resolve_did_key(did)
    assert info.value.code == "invalidDid"


# --- JsonWebKey verification methods ------------------------------------------------------------


def test_jwk_and_multikey_name_the_same_key() -> None:
    key = decode_public_multikey(P256_MB)
    jwk = public_key_jwk(key)
    assert jwk_public_key(jwk) == key
    vm = {"id": "did:example:1#k", "type": "JsonWebKey", "publicKeyJwk": jwk}
    assert public_key_material(vm) == key
    assert public_key_material({**vm, "type": "JsonWebKey2020"}) == key
    assert public_key_material({"type": "Multikey", "publicKeyMultibase": P384_MB}).key_type == (
        "P-384"
    )


@pytest.mark.parametrize(
    ("jwk", "message"),
    [
        ({**SPEC_JWK, "d": "AAAA"}, "private key material"),
        ({**SPEC_JWK, "y": SPEC_JWK["x"]}, "not a point"),
        ({**SPEC_JWK, "x": SPEC_JWK["x"][:-3]}, "wrong length"),
        ({**SPEC_JWK, "x": SPEC_JWK["x"] + "="}, "base64url"),
        ({**SPEC_JWK, "crv": "P-192"}, "unsupported EC curve"),
        ({"kty": "oct", "k": "AAAA"}, "private key material"),
        ({"kty": "RSA", "n": "AQAB", "e": "AQAB"}, "cannot verify"),
        ({"kty": "OKP", "crv": "X25519", "x": SPEC_JWK["x"]}, "cannot verify"),
        ("not a jwk", "JSON object"),
    ],
)
def test_bad_jwks(jwk: Any, message: str) -> None:
    with pytest.raises(InvalidDocument, match=message):
        jwk_public_key(jwk)


# --- did:jwk -------------------------------------------------------------------------------------


def test_did_jwk_spec_example() -> None:
    doc = resolve_did_jwk(SPEC_DID_JWK)
    vm_id = f"{SPEC_DID_JWK}#0"
    assert doc["@context"] == [
        "https://www.w3.org/ns/did/v1",
        "https://w3id.org/security/suites/jws-2020/v1",
    ]
    assert doc["verificationMethod"] == [
        {
            "id": vm_id,
            "type": "JsonWebKey2020",
            "controller": SPEC_DID_JWK,
            "publicKeyJwk": SPEC_JWK,
        }
    ]
    for relationship in (
        "assertionMethod",
        "authentication",
        "capabilityInvocation",
        "capabilityDelegation",
        "keyAgreement",
    ):
        assert doc[relationship] == [vm_id]
    point = jwk_public_key(SPEC_JWK)
    numbers = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point.raw)
    assert numbers.public_numbers().x.to_bytes(32, "big") == base64.urlsafe_b64decode(
        SPEC_JWK["x"] + "="
    )


def test_did_jwk_use_decides_the_relationships() -> None:
    sig = resolve_did_jwk("did:jwk:" + _b64({**SPEC_JWK, "use": "sig"}))
    assert "keyAgreement" not in sig and "assertionMethod" in sig
    enc = resolve_did_jwk("did:jwk:" + _b64({**SPEC_JWK, "use": "enc"}))
    assert "keyAgreement" in enc and "assertionMethod" not in enc


def test_did_jwk_round_trip() -> None:
    did = create_did_jwk(SPEC_JWK)
    assert resolve_did_jwk(did)["verificationMethod"][0]["publicKeyJwk"] == SPEC_JWK


@pytest.mark.parametrize(
    ("did", "message"),
    [
        ("did:jwk:" + _b64({**SPEC_JWK, "d": "AAAA"}), "private key material"),
        ("did:jwk:", "empty"),
        ("did:jwk:eyJ=", "unpadded base64url"),
        ("did:jwk:!!!!", "unpadded base64url"),
        ("did:jwk:" + _b64([1, 2]), "JSON object"),
        ("did:jwk:" + base64.urlsafe_b64encode(b"\xff\xfe").decode().rstrip("="), "UTF-8 JSON"),
        ("did:jwk:" + "A" * 5000, "longer than"),
        ("did:key:" + P256_MB, "not a did:jwk"),
    ],
)
def test_bad_did_jwk(did: str, message: str) -> None:
    with pytest.raises(InvalidDID, match=message) as info:
        resolve_did_jwk(did)
    assert info.value.code == "invalidDid"


async def test_the_resolver_resolves_did_jwk_and_its_method() -> None:
    async with Resolver() as resolver:
        doc = await resolver.resolve(SPEC_DID_JWK)
        assert doc["id"] == SPEC_DID_JWK
        vm = await resolver.dereference_authorized(f"{SPEC_DID_JWK}#0", "assertionMethod")
        assert vm["publicKeyJwk"] == SPEC_JWK
        result = await resolver.resolve_with_metadata("did:jwk:" + _b64({**SPEC_JWK, "d": "A"}))
        assert result["didResolutionMetadata"]["error"] == "invalidDid"
