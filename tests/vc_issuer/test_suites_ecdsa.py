"""ecdsa-rdfc-2019 and ecdsa-jcs-2019 (P-256 and P-384): every W3C vc-di-ecdsa intermediate
value byte for byte, and every way an ECDSA proof can be wrong, each with its own code."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import base58
import pytest
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from did_methods.jwk import create_did_jwk
from vc_issuer.core.keys import Ed25519Key, P256Key, P384Key, SigningKey, parse_signing_key
from vc_issuer.core.proofs import sign, verify_proofs
from vc_issuer.core.resolver import default_resolver
from vc_issuer.core.suites import ECDSA_JCS_2019, ECDSA_RDFC_2019, EDDSA_RDFC_2022
from vc_issuer.core.suites.base import rdfc_canonicalize
from vc_issuer.errors import (
    InvalidSignatureEncodingError,
    KeyTypeMismatchError,
    ProofError,
    SuiteKeyMismatchError,
)
from vc_issuer.services.verifier import verify_credential

from ._helpers import DI, FIX, assert_vector_steps, load

ECDSA = FIX / "vc-di-ecdsa"
ORDER_P256 = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def text(path: Path) -> str:
    return path.read_text("utf-8")


def key_of(name: str) -> SigningKey:
    return parse_signing_key(load(ECDSA / name))


VECTORS = [
    # folder, file suffix, suite, key file, unsigned document
    ("ecdsa-rdfc-2019-p256", "ECDSAP256", ECDSA_RDFC_2019, "p256KeyPair.json", "unsigned.json"),
    (
        "ecdsa-rdfc-2019-p256/employ",
        "ECDSAP256",
        ECDSA_RDFC_2019,
        "p256KeyPair.json",
        "employmentAuth.json",
    ),
    ("ecdsa-rdfc-2019-p384", "ECDSAP384", ECDSA_RDFC_2019, "p384KeyPair.json", "unsigned.json"),
    (
        "ecdsa-rdfc-2019-p384/employ",
        "ECDSAP384",
        ECDSA_RDFC_2019,
        "p384KeyPair.json",
        "employmentAuth.json",
    ),
    ("ecdsa-jcs-2019-p256", "JCSECDSAP256", ECDSA_JCS_2019, "p256KeyPair.json", "unsigned.json"),
    ("ecdsa-jcs-2019-p384", "JCSECDSAP384", ECDSA_JCS_2019, "p384KeyPair.json", "unsigned.json"),
]


@pytest.mark.parametrize(("folder", "suffix", "suite", "key_file", "unsigned"), VECTORS)
def test_w3c_vector_every_step(
    folder: str, suffix: str, suite: Any, key_file: str, unsigned: str
) -> None:
    where = ECDSA / folder
    key = key_of(key_file)
    document = load(ECDSA / unsigned)
    options = load(where / f"proofConfig{suffix}.json")
    steps = suite.hashing_steps(document, options, None, key_type=key.key_type)
    assert_vector_steps(steps, where, suffix)
    # RFC 6979 deterministic ECDSA reproduces the published r || s
    signature = key.sign(steps.hash_data)
    assert signature.hex() == text(where / f"sigHex{suffix}.txt").strip()
    assert len(signature) == (64 if key.key_type == "P-256" else 96)

    proof = suite.create_proof(document, options, key, None)
    signed = load(where / f"signed{suffix}.json")
    assert proof["proofValue"] == text(where / f"sigBTC58{suffix}.txt").strip()
    assert proof == signed["proof"]
    assert {**document, "proof": proof} == signed
    assert suite.verify_proof(document, signed["proof"], key.public(), None)


def test_p384_rdfc_hashes_blank_nodes_with_sha384() -> None:
    """vc-di-ecdsa §3: RDFC-1.0's own hash is SHA-384 for P-384 keys; the employ vector has
    blank nodes whose order depends on it."""
    where = ECDSA / "ecdsa-rdfc-2019-p384" / "employ"
    document = load(ECDSA / "employmentAuth.json")
    assert rdfc_canonicalize(document, None, "sha384") == text(where / "canonDocECDSAP384.txt")
    assert rdfc_canonicalize(document, None, "sha256") != text(where / "canonDocECDSAP384.txt")


def test_jcs_proof_keeps_the_document_context() -> None:
    signed = load(ECDSA / "ecdsa-jcs-2019-p256" / "signedJCSECDSAP256.json")
    assert signed["proof"]["@context"] == signed["@context"]


@pytest.mark.parametrize(("folder", "suffix", "suite", "key_file", "unsigned"), VECTORS)
def test_w3c_vector_rejects_a_changed_claim(
    folder: str, suffix: str, suite: Any, key_file: str, unsigned: str
) -> None:
    signed = load(ECDSA / folder / f"signed{suffix}.json")
    proof = signed.pop("proof")
    public = key_of(key_file).public()
    tampered = copy.deepcopy(signed)
    tampered["validFrom"] = "2001-01-01T00:00:00Z"
    assert not suite.verify_proof(tampered, proof, public, None)
    assert not suite.verify_proof(signed, {**proof, "created": "2023-02-24T23:36:39Z"}, public)


def test_jcs_document_context_must_start_with_the_proof_context() -> None:
    signed = load(ECDSA / "ecdsa-jcs-2019-p256" / "signedJCSECDSAP256.json")
    proof = signed.pop("proof")
    public = key_of("p256KeyPair.json").public()
    signed["@context"] = list(reversed(signed["@context"]))
    with pytest.raises(ProofError, match="does not start with"):
        ECDSA_JCS_2019.verify_proof(signed, proof, public)


# --- end to end: sign() and verify_credential() --------------------------------------------------


def _credential(key: SigningKey) -> dict[str, Any]:
    doc: dict[str, Any] = load(DI / "unsigned.json")
    doc["issuer"] = key.did
    return doc


@pytest.mark.parametrize("suite", ["ecdsa-rdfc-2019", "ecdsa-jcs-2019"])
@pytest.mark.parametrize("key_class", [P256Key, P384Key])
async def test_sign_and_verify_credential(suite: str, key_class: type[P256Key]) -> None:
    key = key_class.generate()
    signed = sign(_credential(key), key, suite=suite)
    assert key.did.startswith("did:key:zDn" if key.key_type == "P-256" else "did:key:z82")
    result = await verify_credential(signed)
    assert result.verified, result.errors
    changed = copy.deepcopy(signed)
    changed["credentialSubject"]["alumniOf"] = "Another School"
    result = await verify_credential(changed)
    assert result.codes() == ["PROOF_VERIFICATION_ERROR"]


async def test_a_did_jwk_issuer_signs_with_a_json_web_key() -> None:
    """A P-256 key published as did:jwk (a JsonWebKey2020 method) verifies like a Multikey."""
    key = P256Key.generate()
    did = create_did_jwk(key.to_jwk())
    key = P256Key(secret=key.secret, public_key=key.public_key, id=f"{did}#0", controller=did)
    document = _credential(key)
    document["issuer"] = did
    signed = sign(document, key, suite="ecdsa-rdfc-2019")
    assert signed["proof"]["verificationMethod"] == f"{did}#0"
    result = await verify_credential(signed)
    assert result.verified, result.errors


# --- bad input, precise codes --------------------------------------------------------------------


def test_a_p256_key_on_an_ed25519_suite_is_refused_at_signing() -> None:
    key = P256Key.generate()
    for suite in ("eddsa-rdfc-2022", "eddsa-jcs-2022", "Ed25519Signature2020"):
        with pytest.raises(SuiteKeyMismatchError) as info:
            sign(_credential(key), key, suite=suite)
        assert info.value.code == "SUITE_KEY_MISMATCH"
        assert info.value.http_status == 422
    with pytest.raises(SuiteKeyMismatchError, match="P-256"):
        sign(_credential(key), P384Key.generate(), suite="ecdsa-sd-2023")
    with pytest.raises(SuiteKeyMismatchError):
        EDDSA_RDFC_2022.create_proof(_credential(key), {}, key)


async def test_a_p256_key_under_an_eddsa_proof_is_a_key_type_mismatch() -> None:
    """An eddsa proof whose verification method holds a P-256 key fails with
    KEY_TYPE_MISMATCH, before any signature is checked (and the other way round)."""
    p256 = P256Key.generate()
    signed = sign(_credential(p256), p256, suite="ecdsa-rdfc-2019")
    signed["proof"]["cryptosuite"] = "eddsa-rdfc-2022"
    [check] = await verify_proofs(signed, resolver=default_resolver())
    assert check.error is not None and check.error.code == "KEY_TYPE_MISMATCH", check.error
    assert isinstance(check.error, KeyTypeMismatchError)
    result = await verify_credential(signed)
    assert result.codes() == ["KEY_TYPE_MISMATCH"]

    ed = Ed25519Key.generate()
    signed = sign(_credential(ed), ed)
    signed["proof"]["cryptosuite"] = "ecdsa-jcs-2019"
    result = await verify_credential(signed)
    assert result.codes() == ["KEY_TYPE_MISMATCH"]


def _with_signature(signed: dict[str, Any], signature: bytes) -> dict[str, Any]:
    out = copy.deepcopy(signed)
    out["proof"]["proofValue"] = "z" + base58.b58encode(signature).decode("ascii")
    return out


@pytest.fixture(scope="module")
def p256_signed() -> tuple[P256Key, dict[str, Any]]:
    key = P256Key.generate()
    return key, sign(_credential(key), key, suite="ecdsa-rdfc-2019")


async def test_a_der_encoded_signature_is_invalid_signature_encoding(
    p256_signed: tuple[P256Key, dict[str, Any]],
) -> None:
    _, signed = p256_signed
    raw = base58.b58decode(signed["proof"]["proofValue"][1:])
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    result = await verify_credential(_with_signature(signed, encode_dss_signature(r, s)))
    assert result.codes() == ["INVALID_SIGNATURE_ENCODING"]
    assert "DER" in result.errors[0]["detail"]


@pytest.mark.parametrize(
    ("signature", "message"),
    [
        (bytes(96), "64 bytes"),  # a P-384-sized signature for a P-256 key
        (bytes(64), "non-canonical"),  # r = s = 0
        (ORDER_P256.to_bytes(32, "big") + (1).to_bytes(32, "big"), "non-canonical"),  # r = n
        (b"\x01" * 63, "64- or 96-byte"),
    ],
)
async def test_malformed_p1363_signatures_are_invalid_signature_encoding(
    p256_signed: tuple[P256Key, dict[str, Any]], signature: bytes, message: str
) -> None:
    _, signed = p256_signed
    result = await verify_credential(_with_signature(signed, signature))
    assert result.codes() == ["INVALID_SIGNATURE_ENCODING"]
    assert message in result.errors[0]["detail"]
    assert issubclass(InvalidSignatureEncodingError, ProofError)


async def test_a_high_s_signature_is_accepted(p256_signed: tuple[P256Key, dict[str, Any]]) -> None:
    """(r, n - s) is the same ECDSA signature; vc-di-ecdsa does not require low-S, and
    WebCrypto signers (Digital Bazaar's) produce either half, so both verify."""
    _, signed = p256_signed
    raw = base58.b58decode(signed["proof"]["proofValue"][1:])
    s = int.from_bytes(raw[32:], "big")
    flipped = raw[:32] + (ORDER_P256 - s).to_bytes(32, "big")
    assert (await verify_credential(_with_signature(signed, flipped))).verified


async def test_a_wrong_key_gives_a_plain_verification_failure(
    p256_signed: tuple[P256Key, dict[str, Any]],
) -> None:
    key, signed = p256_signed
    other = P256Key.generate()
    assert not ECDSA_RDFC_2019.verify_proof(
        {k: v for k, v in signed.items() if k != "proof"}, signed["proof"], other.public()
    )
    assert ECDSA_RDFC_2019.verify_proof(
        {k: v for k, v in signed.items() if k != "proof"}, signed["proof"], key.public()
    )


def test_ecdsa_proof_value_must_be_base58btc() -> None:
    from vc_issuer.errors import MalformedProofError

    for value in ("uAAAA", None, "z0OIl"):
        with pytest.raises(MalformedProofError):
            ECDSA_RDFC_2019.check_proof_value(value)
