"""ecdsa-sd-2023 against both W3C vc-di-ecdsa vectors (``employ`` and ``prc``), every
intermediate value of the issuer, holder and verifier; the selective disclosure functions; and
malformed or tampered disclosures, each with its code.

``prc``: the repository's ``prCredUnsigned.json`` carries a newer ``description`` than the
credential the ``prc`` vectors were made from, so the unsecured document here is
``addSignedSDBase.json`` without its proof (everything then reproduces).
"""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import base58
import cbor2
import pytest

from vc_issuer.core import rdfc
from vc_issuer.core.jsonld import to_quads
from vc_issuer.core.keys import P256Key, SigningKey, parse_signing_key
from vc_issuer.core.proofs import derive, sign
from vc_issuer.core.suites import ECDSA_SD_2023
from vc_issuer.core.suites import ecdsa_sd_2023 as sd
from vc_issuer.core.suites import selective_disclosure as sdf
from vc_issuer.errors import MalformedProofError, ProofError, ProofGenerationError
from vc_issuer.services.verifier import verify_credential

from ._helpers import FIX, at, load

ECDSA = FIX / "vc-di-ecdsa"
SD = ECDSA / "ecdsa-sd-2023"
MATERIAL = load(SD / "SDKeyMaterial.json")
HMAC_KEY = bytes.fromhex(MATERIAL["hmacKeyString"])
BASE_KEY: SigningKey = parse_signing_key(MATERIAL["baseKeyPair"])
PROOF_KEY = parse_signing_key(MATERIAL["proofKeyPair"])
assert isinstance(PROOF_KEY, P256Key)

VECTORS = {
    "employ": ("employMandatory.json", "employSelective.json"),
    "prc": ("prCredMandatory.json", "prCredSelective.json"),
}


def unsecured(name: str) -> dict[str, Any]:
    signed: dict[str, Any] = load(SD / name / "addSignedSDBase.json")
    signed.pop("proof")
    return signed


def pairs(value: dict[str, Any]) -> list[tuple[Any, Any]]:
    """A serialized JavaScript Map ({"dataType": "Map", "value": [[k, v], ...]})."""
    assert value["dataType"] == "Map"
    return [tuple(pair) for pair in value["value"]]


def mandatory_pointers(name: str) -> list[str]:
    pointers: list[str] = load(ECDSA / VECTORS[name][0])
    return pointers


def selective_pointers(name: str) -> list[str]:
    pointers: list[str] = load(ECDSA / VECTORS[name][1])
    return pointers


def test_employ_unsigned_is_the_signed_document() -> None:
    assert unsecured("employ") == load(ECDSA / "employmentAuth.json")


# --- issuer: base proof --------------------------------------------------------------------------


@pytest.mark.parametrize("name", VECTORS)
def test_base_proof_every_step(name: str) -> None:
    where = SD / name
    document = unsecured(name)
    # canonical N-Quads, then with HMAC labels
    assert rdfc.canonicalize(to_quads(document, None)).splitlines(keepends=True) == load(
        where / "addBaseDocCanon.json"
    )
    transform = sd.base_proof_transformation(document, mandatory_pointers(name), HMAC_KEY)
    assert transform.nquads == load(where / "addBaseDocHMACCanon.json")
    expected = load(where / "addBaseTransform.json")
    assert transform.mandatory_pointers == expected["mandatoryPointers"]
    assert list(transform.mandatory.items()) == pairs(expected["mandatory"])
    assert list(transform.non_mandatory.items()) == pairs(expected["nonMandatory"])
    # proof configuration and hashes
    options = load(where / "addProofConfig.json")
    config = sd.proof_configuration(options, document)
    canonical_config = sd.rdfc_canonicalize(config, None)
    assert canonical_config == (where / "addProofConfigCanon.txt").read_text("utf-8")
    hash_data = sd.base_proof_hashing(transform, canonical_config)
    hashes = load(where / "addHashData.json")
    assert hash_data.proof_hash.hex() == hashes["proofHash"]
    assert hash_data.mandatory_hash.hex() == hashes["mandatoryHash"]
    # signatures (RFC 6979, so reproducible with the published proof-scoped key)
    value = sd.parse_base_proof_value(sd.base_proof_serialization(hash_data, BASE_KEY, PROOF_KEY))
    raw = load(where / "addRawBaseSignatureInfo.json")
    assert value.base_signature.hex() == raw["baseSignature"]
    assert "z" + base58.b58encode(value.public_key).decode() == raw["publicKey"]
    assert [s.hex() for s in value.signatures] == raw["signatures"]
    assert value.mandatory_pointers == raw["mandatoryPointers"]
    # the signed credential
    proof = ECDSA_SD_2023.create_proof(
        document,
        options,
        BASE_KEY,
        mandatory_pointers=mandatory_pointers(name),
        hmac_key=HMAC_KEY,
        proof_scoped_key=PROOF_KEY,
    )
    signed = load(where / "addSignedSDBase.json")
    assert proof == signed["proof"]
    assert proof["proofValue"].startswith("u2V0A")


@pytest.mark.parametrize("name", VECTORS)
def test_base_proof_is_checked_by_the_holder(name: str) -> None:
    signed = load(SD / name / "addSignedSDBase.json")
    proof = signed.pop("proof")
    assert ECDSA_SD_2023.verify_proof(signed, proof, BASE_KEY.public())
    signed["credentialSubject"]["birthCountry"] = "Atlantis"
    assert not ECDSA_SD_2023.verify_proof(signed, proof, BASE_KEY.public())


@pytest.mark.parametrize("name", VECTORS)
def test_base_proof_value_round_trips(name: str) -> None:
    proof_value = load(SD / name / "addSignedSDBase.json")["proof"]["proofValue"]
    recovered = load(SD / name / "derivedRecoveredBaseData.json")
    value = sd.parse_base_proof_value(proof_value)
    assert value.hmac_key.hex() == recovered["hmacKey"]
    assert [s.hex() for s in value.signatures] == recovered["signatures"]
    assert sd.serialize_base_proof_value(value) == proof_value


# --- holder: derived proof -----------------------------------------------------------------------


@pytest.mark.parametrize("name", VECTORS)
def test_disclosure_every_step(name: str) -> None:
    where = SD / name
    signed = load(where / "addSignedSDBase.json")
    proof = signed.pop("proof")
    selective = selective_pointers(name)
    mandatory = mandatory_pointers(name)
    grouped = sdf.canonicalize_and_group(
        signed,
        sdf.create_hmac_id_label_map_function(HMAC_KEY),
        {"mandatory": mandatory, "selective": selective, "combined": mandatory + selective},
    )
    indexes = load(where / "derivedGroupIndexes.json")
    assert list(grouped.groups["mandatory"].matching) == indexes["mandatoryIndexes"]
    assert list(grouped.groups["mandatory"].non_matching) == indexes["nonMandatoryIndexes"]
    assert list(grouped.groups["selective"].matching) == indexes["selectiveIndexes"]
    assert list(grouped.groups["combined"].matching) == indexes["combinedIndexes"]
    all_groups = load(where / "derivedAllGroupData.json")
    assert grouped.nquads == all_groups["nquads"]
    for group in ("mandatory", "selective", "combined"):
        expected = all_groups["groups"][group]
        assert list(grouped.groups[group].matching.items()) == pairs(expected["matching"])
        assert list(grouped.groups[group].non_matching.items()) == pairs(expected["nonMatching"])

    data = sd.create_disclosure_data(signed, proof, selective)
    assert (
        data.mandatory_indexes
        == load(where / "derivedAdjMandatoryIndexes.json")["adjMandatoryIndexes"]
    )
    adjusted = load(where / "derivedAdjSignatures.json")
    assert [s.hex() for s in data.signatures] == adjusted["filteredSignatures"]
    disclosure = load(where / "derivedDisclosureData.json")
    assert data.base_signature.hex() == disclosure["baseSignature"]
    assert list(data.label_map.items()) == pairs(disclosure["labelMap"])
    assert data.reveal_document == load(where / "derivedUnsignedReveal.json")

    derived = derive({**signed, "proof": proof}, selective)
    assert derived == load(where / "derivedRevealDocument.json")
    assert derived["proof"]["proofValue"].startswith("u2V0B")


# --- verifier ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", VECTORS)
def test_verification_every_step(name: str) -> None:
    where = SD / name
    revealed = load(where / "derivedRevealDocument.json")
    proof = revealed.pop("proof")
    value = sd.parse_derived_proof_value(proof["proofValue"])
    expected = load(where / "verifyDerivedProofValue.json")
    assert value.base_signature.hex() == expected["baseSignature"]
    assert "z" + base58.b58encode(value.public_key).decode() == expected["publicKey"]
    assert [s.hex() for s in value.signatures] == expected["signatures"]
    assert list(value.label_map.items()) == [tuple(p) for p in expected["labelMap"]]
    assert value.mandatory_indexes == expected["mandatoryIndexes"]

    nquads, _ = sdf.label_replacement_canonicalize_json_ld(
        revealed, sdf.create_label_map_function(value.label_map)
    )
    assert nquads == load(where / "verifyNQuads.json")
    data = sd.create_verify_data(revealed, proof)
    verify = load(where / "verifyCreateVerifyData.json")
    assert data.proof_hash.hex() == verify["proofHash"]
    assert data.mandatory_hash.hex() == verify["mandatoryHash"]
    assert data.non_mandatory == verify["nonMandatory"]
    assert ECDSA_SD_2023.verify_proof(revealed, proof, BASE_KEY.public())
    # the base signature is the issuer key's, not the proof-scoped key's
    assert not ECDSA_SD_2023.verify_proof(revealed, proof, PROOF_KEY.public())


async def test_verify_credential_with_a_pinned_clock() -> None:
    """The prc credential is valid until 2025-12-16; its issuer does not control the vector
    key (so the issuer check fails by design), but the proof verifies."""
    revealed = load(SD / "prc" / "derivedRevealDocument.json")
    result = await verify_credential(revealed, now=at("2025-06-01T00:00:00Z"))
    assert [c.name for c in result.checks if not c.passed] == ["issuer"]
    changed = copy.deepcopy(revealed)
    changed["credentialSubject"]["birthCountry"] = "Atlantis"
    result = await verify_credential(changed, now=at("2025-06-01T00:00:00Z"))
    assert "PROOF_VERIFICATION_ERROR" in result.codes()


async def test_issue_derive_verify_end_to_end() -> None:
    key = P256Key.generate()
    document = load(ECDSA / "employmentAuth.json")
    document["issuer"]["id"] = key.did
    signed = sign(document, key, suite="ecdsa-sd-2023", mandatory_pointers=["/issuer"])
    assert (await verify_credential(signed)).verified  # the holder's check of the base proof
    derived = derive(signed, ["/credentialSubject/givenName", "/validFrom"])
    assert set(derived["credentialSubject"]) == {"type", "givenName"}
    assert "validUntil" not in derived
    result = await verify_credential(derived)
    assert result.verified, result.errors
    for change in ("givenName", "type"):
        changed = copy.deepcopy(derived)
        changed["credentialSubject"][change] = "JANE"
        assert not (await verify_credential(changed)).verified
    # adding an undisclosed statement back does not verify either
    added = copy.deepcopy(derived)
    added["credentialSubject"]["familyName"] = "SMITH"
    assert (await verify_credential(added)).codes() == ["PROOF_VERIFICATION_ERROR"]


# --- bad input -----------------------------------------------------------------------------------


def _derived() -> tuple[dict[str, Any], dict[str, Any]]:
    revealed = load(SD / "employ" / "derivedRevealDocument.json")
    return revealed, revealed.pop("proof")


def _reencode(proof_value: str, change: Any) -> str:
    raw = base64.urlsafe_b64decode(proof_value[1:] + "=" * (-len(proof_value[1:]) % 4))
    components = cbor2.loads(raw[3:])
    change(components)
    data = raw[:3] + cbor2.dumps(components)
    return "u" + base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_signature_count_must_match_the_disclosed_statements() -> None:
    revealed, proof = _derived()
    proof["proofValue"] = _reencode(proof["proofValue"], lambda c: c[2].pop())
    with pytest.raises(ProofError, match="signature count") as info:
        ECDSA_SD_2023.verify_proof(revealed, proof, BASE_KEY.public())
    assert info.value.code == "PROOF_VERIFICATION_ERROR"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.pop(), "5 items"),
        (lambda c: c.__setitem__(0, b"\x00" * 63), "baseSignature"),
        (lambda c: c.__setitem__(1, b"\x80\x24" + b"\x00" * 33), "proof-scoped"),
        (lambda c: c.__setitem__(3, {"c14n0": b"x" * 32}), "label map"),
        (lambda c: c.__setitem__(4, [-1]), "mandatoryIndexes"),
        (lambda c: c.__setitem__(4, [99]), "mandatoryIndexes"),
        (lambda c: c.__setitem__(3, {}), "label map has no entry"),
    ],
)
def test_malformed_derived_proof_values(change: Any, message: str) -> None:
    revealed, proof = _derived()
    proof["proofValue"] = _reencode(proof["proofValue"], change)
    with pytest.raises(ProofError, match=message):
        ECDSA_SD_2023.verify_proof(revealed, proof, BASE_KEY.public())


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("zabc", "base64url"),
        ("u!!!!", "base64url"),
        ("u" + base64.urlsafe_b64encode(b"\xd9\x5d\x02\x80").decode().rstrip("="), "neither"),
        (None, "base64url"),
    ],
)
def test_proof_value_shape(value: Any, message: str) -> None:
    with pytest.raises(MalformedProofError, match=message) as info:
        ECDSA_SD_2023.check_proof_value(value)
    assert info.value.code == "MALFORMED_PROOF_ERROR"


def test_cbor_garbage_is_malformed() -> None:
    value = "u" + base64.urlsafe_b64encode(b"\xd9\x5d\x01\xff\xff").decode().rstrip("=")
    with pytest.raises(MalformedProofError, match="CBOR"):
        sd.parse_derived_proof_value(value)


def test_derive_errors() -> None:
    signed = load(SD / "employ" / "addSignedSDBase.json")
    with pytest.raises(ProofGenerationError, match="does not match"):
        derive(signed, ["/credentialSubject/nope"])
    with pytest.raises(ProofGenerationError, match="no ecdsa-sd-2023 base proof"):
        derive(load(ECDSA / "employmentAuth.json"), ["/issuer"])
    with pytest.raises(ProofGenerationError, match="not a JSON pointer"):
        derive(signed, ["credentialSubject"])


# --- selection by JSON pointers ------------------------------------------------------------------


DOC: dict[str, Any] = {
    "@context": ["https://www.w3.org/ns/credentials/v2"],
    "id": "urn:x",
    "type": ["VerifiableCredential"],
    "a/b": {"m~n": 1},
    "list": [{"id": "urn:0", "v": 0}, {"type": "T", "v": 1}, {"v": 2}],
    "subject": {"id": "_:b0", "type": "Person", "name": "N", "age": 3},
}


@pytest.mark.parametrize(
    ("pointers", "selection"),
    [
        ([], None),
        (["/a~1b/m~0n"], {"a/b": {"m~n": 1}}),
        (["/subject/name"], {"subject": {"type": "Person", "name": "N"}}),  # no blank node id
        (["/list/2/v", "/list/0/v"], {"list": [{"id": "urn:0", "v": 0}, {"v": 2}]}),
        (["/list/1"], {"list": [{"type": "T", "v": 1}]}),
        (["/list"], {"list": DOC["list"]}),
    ],
)
def test_select_json_ld(pointers: list[str], selection: dict[str, Any] | None) -> None:
    expected = None
    if selection is not None:
        expected = {
            "@context": DOC["@context"],
            "id": "urn:x",
            "type": ["VerifiableCredential"],
            **selection,
        }
    assert sdf.select_json_ld(pointers, DOC) == expected


def test_whole_document_pointer() -> None:
    assert sdf.select_json_ld([""], DOC) == DOC


@pytest.mark.parametrize("pointer", ["/nope", "/list/3", "/list/x", "/subject/name/0"])
def test_pointer_that_selects_nothing(pointer: str) -> None:
    with pytest.raises(ProofGenerationError, match="does not match"):
        sdf.select_json_ld([pointer], DOC)


def test_json_pointer_unescaping() -> None:
    assert sdf.json_pointer_to_paths("/a~1b/m~0n/~01") == ["a/b", "m~n", "~1"]
    assert sdf.json_pointer_to_paths("") == []


def test_skolemization_round_trip() -> None:
    quads = [("_:b0", "<p>", "_:b1", ""), ("<s>", "<p>", '"_:x"', "_:g")]
    assert sdf.deskolemize_quads(sdf.skolemize_quads(quads)) == quads
    # a literal that looks like a blank node is never relabeled
    assert sdf.relabel_blank_nodes([quads[1]], {"g": "G"}) == ['<s> <p> "_:x" _:G .\n']


def test_hmac_labels() -> None:
    factory = sdf.create_hmac_id_label_map_function(HMAC_KEY)
    labels = factory({"b0": "c14n0", "b1": "c14n1"})
    disclosure = load(SD / "employ" / "derivedDisclosureData.json")
    assert sorted(labels.values()) == sorted(v for _, v in pairs(disclosure["labelMap"]))


def test_vectors_folder_has_everything() -> None:
    for name in VECTORS:
        assert len(list((SD / name).glob("*.json"))) == 19
        assert Path(SD / name / "addProofConfigCanon.txt").is_file()
