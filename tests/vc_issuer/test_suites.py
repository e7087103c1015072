"""Each cryptosuite step reproduces the published intermediate values byte for byte."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import base58
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vc_issuer.core.keys import Ed25519Key, parse_key
from vc_issuer.core.suites import (
    ED25519_SIGNATURE_2020,
    EDDSA_RDFC_2022,
    decode_proof_value,
    suite_by_name,
    suite_for_proof,
)
from vc_issuer.core.suites import ed25519_signature_2020 as ed2020
from vc_issuer.core.suites import eddsa_rdfc_2022 as eddsa
from vc_issuer.errors import MalformedProofError, UnsupportedCryptosuiteError

from ._helpers import DI, FIX, assert_vector_steps, load


def text(path: Path) -> str:
    return path.read_text("utf-8")


@pytest.fixture(scope="module")
def w3c_key() -> Ed25519Key:
    return parse_key(load(DI / "keyPair.json"))


def _assert_w3c_steps(
    folder: Path,
    suffix: str,
    unsigned: dict[str, Any],
    suite: Any,
    key: Ed25519Key,
    config_name: str,
    signed_name: str,
) -> None:
    options = load(folder / config_name)
    document = suite.prepare_document(unsigned)
    steps = suite.hashing_steps(document, options, None)
    assert_vector_steps(steps, folder, suffix)
    signature = key.sign(steps.hash_data)
    assert signature.hex() == text(folder / f"sigHex{suffix}.txt").strip()

    proof = suite.create_proof(document, options, key, None)
    signed = load(folder / signed_name)
    assert proof["proofValue"] == text(folder / f"sigBTC58{suffix}.txt").strip()
    assert proof == signed["proof"]
    assert {**document, "proof": proof} == signed
    assert suite.verify_proof(document, signed["proof"], key.public(), None)


def test_eddsa_rdfc_2022_vector(w3c_key: Ed25519Key) -> None:
    _assert_w3c_steps(
        DI / "eddsa-rdfc-2022",
        "DataInt",
        load(DI / "unsigned.json"),
        EDDSA_RDFC_2022,
        w3c_key,
        "proofConfigDataInt.json",
        "signedDataInt.json",
    )


def test_eddsa_rdfc_2022_employ_vector(w3c_key: Ed25519Key) -> None:
    _assert_w3c_steps(
        DI / "eddsa-rdfc-2022" / "employ",
        "DataInt",
        load(DI / "employmentAuth.json"),
        EDDSA_RDFC_2022,
        w3c_key,
        "proofConfigDataInt.json",
        "signedDataInt.json",
    )


def test_ed25519_signature_2020_vector(w3c_key: Ed25519Key) -> None:
    unsigned = load(DI / "unsigned.json")
    assert ed2020.SUITE_CONTEXT not in unsigned["@context"]  # the suite adds it
    _assert_w3c_steps(
        DI / "Ed25519Signature2020",
        "EdSig",
        unsigned,
        ED25519_SIGNATURE_2020,
        w3c_key,
        "proofConfigEdSig.json",
        "signedEdSig.json",
    )


def test_1edtech_open_badges_vector() -> None:
    folder = FIX / "open-badges-3.0" / "ldp-eddsa-rdfc-2022"
    key = parse_key(load(folder / "key-pair.json"))
    unsigned = load(folder / "unsigned.json")
    options = load(folder / "proof-options.json")
    hashes = load(folder / "hashes.json")
    steps = EDDSA_RDFC_2022.hashing_steps(unsigned, options, None)
    assert steps.canonical_document == text(folder / "document-canon.txt")
    assert steps.canonical_proof_config == text(folder / "proof-canon.txt")
    assert steps.document_hash.hex() == hashes["documentHashHex"]
    assert steps.proof_config_hash.hex() == hashes["proofHashHex"]
    assert steps.hash_data.hex() == hashes["dataToSignHex"]
    assert key.sign(steps.hash_data).hex() == hashes["signatureHex"]
    proof = EDDSA_RDFC_2022.create_proof(unsigned, options, key, None)
    assert proof["proofValue"] == hashes["proofValue"]
    assert {**unsigned, "proof": proof} == load(folder / "signed.json")


@pytest.mark.parametrize(
    ("name", "suite"),
    [
        ("vc1-ob302-ed25519signature2020", ED25519_SIGNATURE_2020),
        ("vc2-ob303-eddsa-rdfc-2022", EDDSA_RDFC_2022),
    ],
)
def test_generated_interop_vectors(name: str, suite: Any) -> None:
    folder = FIX / "generated-interop"
    key = parse_key(load(folder / "issuer-key.json"))
    unsigned = load(folder / f"{name}.unsigned.json")
    config = load(folder / f"{name}.proof-config.json")
    assert config["@context"] == unsigned["@context"]
    steps = suite.hashing_steps(unsigned, config, None)
    assert steps.canonical_document == text(folder / f"{name}.canon-doc.nq")
    assert steps.canonical_proof_config == text(folder / f"{name}.canon-proof.nq")
    proof = suite.create_proof(unsigned, config, key, None)
    signed = load(folder / f"{name}.signed.json")
    assert "@context" not in proof
    assert proof == signed["proof"]
    assert {**unsigned, "proof": proof} == signed


def test_verification_rejects_a_changed_claim(w3c_key: Ed25519Key) -> None:
    signed = load(DI / "eddsa-rdfc-2022" / "signedDataInt.json")
    proof = signed.pop("proof")
    assert EDDSA_RDFC_2022.verify_proof(signed, proof, w3c_key.public(), None)
    tampered = json.loads(json.dumps(signed))
    tampered["credentialSubject"]["alumniOf"] = "The School of Exampleз"
    assert not EDDSA_RDFC_2022.verify_proof(tampered, proof, w3c_key.public(), None)
    # a changed proof option is a changed signature too
    assert not EDDSA_RDFC_2022.verify_proof(
        signed, {**proof, "created": "2023-02-24T23:36:39Z"}, w3c_key.public(), None
    )
    other = Ed25519Key.generate()
    assert not EDDSA_RDFC_2022.verify_proof(signed, proof, other.public(), None)


def test_hash_order_is_proof_first() -> None:
    steps = eddsa.hashing("proof\n", "doc\n")
    assert steps.hash_data[:32] == steps.proof_config_hash
    assert steps.hash_data[32:] == steps.document_hash


def test_proof_configuration_uses_the_document_context() -> None:
    doc = {"@context": ["https://www.w3.org/ns/credentials/v2"], "type": "VerifiableCredential"}
    config = eddsa.proof_configuration(
        {
            "type": "DataIntegrityProof",
            "cryptosuite": "eddsa-rdfc-2022",
            "created": "2024-01-01T00:00:00Z",
            "proofValue": "zabc",
            "@context": ["x"],
        },
        doc,
    )
    assert config["@context"] == doc["@context"]
    assert "proofValue" not in config


@pytest.mark.parametrize("created", ["2024-01-01", "2024-01-01T00:00:00", "yesterday", 5])
def test_created_must_be_a_datetimestamp(created: Any) -> None:
    doc = load(DI / "unsigned.json")
    options = {**load(DI / "eddsa-rdfc-2022" / "proofConfigDataInt.json"), "created": created}
    with pytest.raises(MalformedProofError, match="created") as info:
        eddsa.proof_configuration(options, doc)
    assert info.value.code == "MALFORMED_PROOF_ERROR"


def test_ed25519_2020_requires_its_context_and_no_cryptosuite(w3c_key: Ed25519Key) -> None:
    doc = load(DI / "unsigned.json")
    options = load(DI / "Ed25519Signature2020" / "proofConfigEdSig.json")
    with pytest.raises(MalformedProofError, match="requires https://w3id"):
        ed2020.proof_configuration(options, doc)
    with_ctx = ed2020.add_suite_context(doc)
    assert with_ctx["@context"][-1] == ed2020.SUITE_CONTEXT
    assert ed2020.add_suite_context(with_ctx) == with_ctx  # added once only
    assert doc["@context"] == load(DI / "unsigned.json")["@context"]  # input untouched
    with pytest.raises(MalformedProofError, match="no cryptosuite"):
        ed2020.proof_configuration({**options, "cryptosuite": "eddsa-rdfc-2022"}, with_ctx)


def test_suite_lookup() -> None:
    assert suite_by_name("eddsa-rdfc-2022") is EDDSA_RDFC_2022
    assert suite_by_name("Ed25519Signature2020") is ED25519_SIGNATURE_2020
    for name in ("eddsa-jcs-2022", "ecdsa-rdfc-2019", "ecdsa-jcs-2019", "ecdsa-sd-2023"):
        assert suite_by_name(name).name == name
        assert suite_for_proof({"type": "DataIntegrityProof", "cryptosuite": name}).name == name
    with pytest.raises(UnsupportedCryptosuiteError):
        suite_by_name("bbs-2023")
    assert (
        suite_for_proof({"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022"})
        is EDDSA_RDFC_2022
    )
    assert suite_for_proof({"type": "Ed25519Signature2020"}) is ED25519_SIGNATURE_2020
    with pytest.raises(UnsupportedCryptosuiteError, match="bbs-2023") as info:
        suite_for_proof({"type": "DataIntegrityProof", "cryptosuite": "bbs-2023"})
    assert info.value.code == "UNSUPPORTED_CRYPTOSUITE"
    with pytest.raises(UnsupportedCryptosuiteError, match="Ed25519Signature2018"):
        suite_for_proof({"type": "Ed25519Signature2018"})
    with pytest.raises(MalformedProofError, match="missing cryptosuite"):
        suite_for_proof({"type": "DataIntegrityProof"})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("uAAAA", "base58btc multibase"),
        ("z0OIl", "not valid base58btc"),
        ("z" + "2" * 20, "64-byte signature"),
        (None, "base58btc multibase"),
        ("z", "base58btc multibase"),
    ],
)
def test_decode_proof_value_errors(value: Any, message: str) -> None:
    with pytest.raises(MalformedProofError, match=message):
        decode_proof_value(value)


@settings(max_examples=200)
@given(st.binary(min_size=0, max_size=100))
def test_proof_value_decoding_accepts_exactly_64_bytes(raw: bytes) -> None:
    value = "z" + base58.b58encode(raw).decode("ascii")
    if len(raw) == 64:
        assert decode_proof_value(value) == raw
    else:
        with pytest.raises(MalformedProofError):
            decode_proof_value(value)
