"""Interop of the newer cryptosuites with Digital Bazaar's (issue 11, item 7), both directions.

eddsa-jcs-2022, ecdsa-rdfc-2019 and ecdsa-jcs-2019 (P-256 and P-384), ecdsa-sd-2023: what we
sign verifies in Digital Bazaar's cryptosuites and theirs in ours, and changing any claim makes
both reject. For ecdsa-sd-2023 the holder step runs both ways too: each side derives a
disclosure from the other's base proof, and both verify every derived credential (Digital
Bazaar's verifier takes derived proofs only; a base proof is what the holder checks, here ours).

ECDSA signing with WebCrypto is randomized, so only eddsa-jcs-2022 can also be compared byte
for byte. Needs ``npm ci --prefix tests/interop``; without it these tests fail (see
``_node.py``).
"""

from __future__ import annotations

import asyncio
import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from vc_issuer.core.keys import SigningKey, parse_signing_key
from vc_issuer.core.proofs import derive, sign
from vc_issuer.core.resolver import default_resolver
from vc_issuer.services.verifier import VerificationResult, verify_credential

from ._node import needs_node
from .test_vcjs_interop import VCJS_PKG, run_vcjs, tampered_variants

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CREATED = "2024-05-01T00:00:00Z"
MANDATORY = ["/issuer", "/validFrom"]
OB_CREDENTIAL = FIXTURES / "interop" / "vc2-ob303-eddsa-rdfc-2022.unsigned.json"
SELECTIVE = ["/credentialSubject/achievement/name", "/name"]


_require_vcjs = needs_node("vc-js", VCJS_PKG)


def _json(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))


@dataclass(frozen=True)
class Case:
    suite: str
    key_file: Path

    @property
    def id(self) -> str:
        return f"{self.suite}-{self.key().key_type}"

    def key_json(self) -> dict[str, Any]:
        raw = _json(self.key_file)
        secret = raw.get("secretKeyMultibase") or raw["privateKeyMultibase"]
        return {"publicKeyMultibase": raw["publicKeyMultibase"], "secretKeyMultibase": secret}

    def key(self) -> SigningKey:
        return parse_signing_key(self.key_json())

    def unsigned(self) -> dict[str, Any]:
        """The OB 3.0 credential of generated-interop, issued by this case's did:key."""
        doc: dict[str, Any] = _json(OB_CREDENTIAL)
        doc["issuer"]["id"] = self.key().did
        return doc

    @property
    def mandatory(self) -> list[str] | None:
        return MANDATORY if self.suite == "ecdsa-sd-2023" else None


P256 = FIXTURES / "vc-di-ecdsa" / "p256KeyPair.json"
P384 = FIXTURES / "vc-di-ecdsa" / "p384KeyPair.json"
ED25519 = FIXTURES / "vc-di-eddsa" / "keyPair.json"
CASES = [
    Case("eddsa-jcs-2022", ED25519),
    Case("ecdsa-rdfc-2019", P256),
    Case("ecdsa-rdfc-2019", P384),
    Case("ecdsa-jcs-2019", P256),
    Case("ecdsa-jcs-2019", P384),
    Case("ecdsa-sd-2023", P256),
]
CASE_IDS = [c.id for c in CASES]
SD = CASES[-1]


def ours_verify(credential: dict[str, Any]) -> VerificationResult:
    return asyncio.run(verify_credential(credential, resolver=default_resolver()))


@pytest.fixture(scope="module")
def ours_signed() -> dict[str, dict[str, Any]]:
    return {
        c.id: sign(
            c.unsigned(), c.key(), suite=c.suite, created=CREATED, mandatory_pointers=c.mandatory
        )
        for c in CASES
    }


@pytest.fixture(scope="module")
def vcjs_signed() -> dict[str, dict[str, Any]]:
    requests = [
        {
            "credential": c.unsigned(),
            "key": c.key_json(),
            "suite": c.suite,
            "created": CREATED,
            **({"mandatoryPointers": c.mandatory} if c.mandatory else {}),
        }
        for c in CASES
    ]
    answers = run_vcjs("sign", requests)
    for case, answer in zip(CASES, answers, strict=True):
        assert "error" not in answer, f"Digital Bazaar could not sign {case.id}: {answer['error']}"
    return {c.id: a for c, a in zip(CASES, answers, strict=True)}


@pytest.fixture(scope="module")
def disclosures(
    ours_signed: dict[str, dict[str, Any]], vcjs_signed: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """ecdsa-sd-2023 derived credentials, each side deriving from each side's base proof."""
    theirs_of_ours, theirs_of_theirs = run_vcjs(
        "derive",
        [
            {"credential": ours_signed[SD.id], "selectivePointers": SELECTIVE},
            {"credential": vcjs_signed[SD.id], "selectivePointers": SELECTIVE},
        ],
    )
    for answer in (theirs_of_ours, theirs_of_theirs):
        assert "error" not in answer, f"Digital Bazaar could not derive: {answer['error']}"
    return {
        "ours-from-ours": derive(ours_signed[SD.id], SELECTIVE),
        "ours-from-theirs": derive(vcjs_signed[SD.id], SELECTIVE),
        "theirs-from-ours": theirs_of_ours,
        "theirs-from-theirs": theirs_of_theirs,
    }


def _what_a_verifier_gets(case: Case, signed: dict[str, Any]) -> dict[str, Any]:
    """The credential as a verifier receives it (a derived one for ecdsa-sd-2023)."""
    return derive(signed, SELECTIVE) if case.suite == "ecdsa-sd-2023" else signed


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_digital_bazaar_verifies_what_we_sign(
    case: Case, ours_signed: dict[str, dict[str, Any]]
) -> None:
    [answer] = run_vcjs(
        "verify", [{"credential": _what_a_verifier_gets(case, ours_signed[case.id])}]
    )
    assert answer["verified"] is True, f"Digital Bazaar rejected our {case.id}: {answer['error']}"


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_we_verify_what_digital_bazaar_signs(
    case: Case, vcjs_signed: dict[str, dict[str, Any]]
) -> None:
    signed = vcjs_signed[case.id]
    assert signed["proof"]["cryptosuite"] == case.suite
    result = ours_verify(signed)  # for ecdsa-sd-2023: the holder's check of the base proof
    assert result.verified is True, f"we rejected Digital Bazaar's {case.id}: {result.errors}"


def test_eddsa_jcs_2022_same_proof_as_digital_bazaar(
    ours_signed: dict[str, dict[str, Any]], vcjs_signed: dict[str, dict[str, Any]]
) -> None:
    """Ed25519 is deterministic: same document, key and created give the same proof (member
    order aside), ``@context`` copied into the proof included."""
    ours, theirs = ours_signed[CASES[0].id], vcjs_signed[CASES[0].id]
    assert ours == theirs
    assert ours["proof"]["@context"] == ours["@context"]


@pytest.mark.parametrize("name", ["ours-from-ours", "ours-from-theirs", "theirs-from-ours",
                                  "theirs-from-theirs"])  # fmt: skip
def test_every_sd_disclosure_verifies_in_both(
    name: str, disclosures: dict[str, dict[str, Any]]
) -> None:
    derived = disclosures[name]
    assert derived["proof"]["proofValue"].startswith("u2V0B")  # a derived proof
    assert derived["credentialSubject"]["achievement"]["name"] == "Teamwork"
    assert "description" not in derived["credentialSubject"]["achievement"]  # not disclosed
    [answer] = run_vcjs("verify", [{"credential": derived}])
    assert answer["verified"] is True, f"Digital Bazaar rejected {name}: {answer['error']}"
    result = ours_verify(derived)
    assert result.verified is True, f"we rejected {name}: {result.errors}"


def test_both_disclose_the_same_document(disclosures: dict[str, dict[str, Any]]) -> None:
    """Derived from the same base proof, both holders reveal the same statements."""
    for source in ("ours", "theirs"):
        ours = copy.deepcopy(disclosures[f"ours-from-{source}"])
        theirs = copy.deepcopy(disclosures[f"theirs-from-{source}"])
        ours_proof, theirs_proof = ours.pop("proof"), theirs.pop("proof")
        assert ours == theirs
        # same signatures, label map and indexes: the same CBOR
        assert ours_proof["proofValue"] == theirs_proof["proofValue"]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_any_changed_claim_is_rejected_by_both(
    case: Case, ours_signed: dict[str, dict[str, Any]]
) -> None:
    secured = _what_a_verifier_gets(case, ours_signed[case.id])
    variants = list(tampered_variants(secured))
    assert len(variants) >= 5
    answers = run_vcjs("verify", [{"credential": v} for _, v in variants])
    accepted_by_them = [p for (p, _), a in zip(variants, answers, strict=True) if a["verified"]]
    accepted_by_ours = [p for p, v in variants if ours_verify(v).verified]
    assert accepted_by_them == [], f"Digital Bazaar accepted changed claims: {accepted_by_them}"
    assert accepted_by_ours == [], f"we accepted changed claims: {accepted_by_ours}"


def test_a_changed_claim_in_their_credentials_is_rejected_by_us(
    vcjs_signed: dict[str, dict[str, Any]], disclosures: dict[str, dict[str, Any]]
) -> None:
    for secured in [*(vcjs_signed[c.id] for c in CASES), disclosures["theirs-from-theirs"]]:
        changed = copy.deepcopy(secured)
        changed["credentialSubject"]["achievement"]["name"] += "!"
        result = ours_verify(changed)
        assert not result.verified
        assert result.codes() == ["PROOF_VERIFICATION_ERROR"], secured["proof"]["cryptosuite"]
