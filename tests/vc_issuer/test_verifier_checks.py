"""The verifier's rules the W3C suites pin down (issue 10): which checks run (``checks``), the
issuer rule for proof chains, related resource digests, status of types we do not manage, and
one shape for every entry of ``errors``."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any

import pytest

from did_methods.registry import Resolver
from vc_issuer.core.jsonld import contexts_dir
from vc_issuer.core.keys import Ed25519Key, parse_key
from vc_issuer.core.proofs import sign
from vc_issuer.errors import MalformedInputError
from vc_issuer.services.verifier import (
    CHECKS,
    Check,
    VerificationResult,
    check_names,
    verify_credential,
    verify_presentation,
)

from ._helpers import DI, FIX, alumni, at, load

NOW = at("2025-06-01T12:00:00Z")
V2 = "https://www.w3.org/ns/credentials/v2"
PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "check"}


@pytest.fixture(scope="module")
def other_key() -> Ed25519Key:
    return parse_key(load(DI / "proof-set-chain" / "multiKeyPairs.json")["keyPair1"])


def names(result: VerificationResult) -> list[str]:
    return [c.name for c in result.checks]


# --- the issuer rule: one proof by the issuer; co-signers verify on their own terms -----------


async def test_proof_chain_whose_first_link_is_by_someone_else(
    issuer_key: Ed25519Key, other_key: Ed25519Key, resolver: Resolver
) -> None:
    first = sign(alumni(issuer_key), other_key, proof_id="urn:uuid:first-link")
    chain = sign(first, issuer_key, previous_proof="urn:uuid:first-link")
    result = await verify_credential(chain, resolver=resolver, now=NOW)
    assert result.verified, result.to_dict()
    assert [c.passed for c in result.checks if c.name == "proof"] == [True, True]
    issuer = next(c for c in result.checks if c.name == "issuer")
    assert issuer.detail == f"{issuer_key.did}; also signed by {other_key.did}"
    # a proof set works the same way; the co-signer's proof still has to verify
    both = sign(sign(alumni(issuer_key), other_key), issuer_key)
    assert (await verify_credential(both, resolver=resolver, now=NOW)).verified
    both["proof"][0]["proofValue"] = both["proof"][1]["proofValue"]
    broken = await verify_credential(both, resolver=resolver, now=NOW)
    assert broken.codes() == ["PROOF_VERIFICATION_ERROR"]


async def test_no_proof_by_the_issuer_is_an_issuer_mismatch(
    issuer_key: Ed25519Key, other_key: Ed25519Key, resolver: Resolver
) -> None:
    doc = sign(alumni(issuer_key), other_key)
    result = await verify_credential(doc, resolver=resolver, now=NOW)
    assert result.codes() == ["ISSUER_MISMATCH"]
    assert f"signed by {other_key.did}" in result.errors[0]["detail"]


# --- options.checks --------------------------------------------------------------------------


async def test_checks_proof_only_runs_exactly_that(resolver: Resolver) -> None:
    """The VC API verifier suite's valid VC names an https issuer and is signed by a did:key:
    asked for the proof only, it verifies, and the report says exactly what ran."""
    vector = load(DI / "eddsa-rdfc-2022" / "signedDataInt.json")
    full = await verify_credential(vector, resolver=resolver, now=NOW)
    assert full.codes() == ["ISSUER_MISMATCH"]
    assert names(full) == ["structure", "proof", "issuer", "validity"]
    only = await verify_credential(vector, resolver=resolver, now=NOW, checks=["proof"])
    assert only.verified, only.to_dict()
    assert names(only) == ["structure", "proof"]
    assert only.warnings == [
        {
            "code": "CHECKS_NOT_RUN",
            "detail": "not asked for: issuer, validity, credentialStatus, relatedResource",
        }
    ]
    tampered = {**vector, "credentialSubject": {"alumniOf": "Someone Else"}}
    bad = await verify_credential(tampered, resolver=resolver, now=NOW, checks=["proof"])
    assert bad.codes() == ["PROOF_VERIFICATION_ERROR"]


async def test_checks_without_proof_still_need_a_verified_issuer_proof(
    issuer_key: Ed25519Key, resolver: Resolver
) -> None:
    doc = sign(alumni(issuer_key), issuer_key)
    ok = await verify_credential(doc, resolver=resolver, now=NOW, checks=["issuer", "validity"])
    assert ok.verified and names(ok) == ["structure", "issuer", "validity"]
    doc["credentialSubject"] = {"alumniOf": "Forged"}
    forged = await verify_credential(doc, resolver=resolver, now=NOW, checks=["issuer"])
    assert forged.codes() == ["ISSUER_MISMATCH"]
    expired = sign(alumni(issuer_key, validUntil="2024-01-01T00:00:00Z"), issuer_key)
    late = await verify_credential(expired, resolver=resolver, now=NOW, checks=["validity"])
    assert names(late) == ["structure", "validity"] and late.codes() == ["VALIDITY_PERIOD_ERROR"]


def test_check_names() -> None:
    assert check_names(None) == frozenset(CHECKS)
    assert check_names([]) == frozenset()
    assert check_names(["structure", "proof"]) == {"proof"}
    for bad in (["proof", "expiration"], "proof", [1]):
        with pytest.raises(MalformedInputError) as err:
            check_names(bad)  # type: ignore[arg-type]
        assert err.value.extra["field"] == "checks"


async def test_presentation_checks_apply_to_its_credentials(
    issuer_key: Ed25519Key, resolver: Resolver
) -> None:
    vector = load(DI / "eddsa-rdfc-2022" / "signedDataInt.json")
    vp = {"@context": [V2], "type": ["VerifiablePresentation"], "verifiableCredential": [vector]}
    full = await verify_presentation(vp, resolver=resolver, now=NOW)
    assert full.codes() == ["ISSUER_MISMATCH"]
    only = await verify_presentation(vp, resolver=resolver, now=NOW, checks=["proof"])
    assert only.verified, only.to_dict()
    assert names(only.credential_results[0]) == ["structure", "proof"]


# --- relatedResource ---------------------------------------------------------------------------


def _pinned(name: str) -> bytes:
    return (contexts_dir() / name).read_bytes()


def related(digest_field: str, value: str, url: str = V2) -> dict[str, Any]:
    return {"relatedResource": [{"id": url, digest_field: value}]}


V2_BYTES = _pinned("credentials-v2.jsonld")
SRI = "sha384-" + base64.b64encode(hashlib.sha384(V2_BYTES).digest()).decode()
MULTIHASH = "u" + base64.urlsafe_b64encode(
    b"\x12\x20" + hashlib.sha256(V2_BYTES).digest()
).decode().rstrip("=")


async def test_related_resource_digests_of_pinned_contexts(
    issuer_key: Ed25519Key, resolver: Resolver
) -> None:
    for field, value in (("digestSRI", SRI), ("digestMultibase", MULTIHASH)):
        doc = sign(alumni(issuer_key, **related(field, value)), issuer_key)
        result = await verify_credential(doc, resolver=resolver, now=NOW)
        assert result.verified, result.to_dict()
        assert "relatedResource" in names(result) and result.warnings == []
    # the W3C VC 2.0 suite's digests are of an older file: they do not match the pinned one
    stale = "sha384-NSOcNpmdIVUxIJGvGUoe22FjTWrXiaXlsZ8q6912LdnR3KraQO2n75Ica4wK4Qeg"
    doc = sign(alumni(issuer_key, **related("digestSRI", stale)), issuer_key)
    result = await verify_credential(doc, resolver=resolver, now=NOW)
    assert result.codes() == ["RELATED_RESOURCE_DIGEST_MISMATCH"]
    assert result.errors[0]["id"] == V2


async def test_related_resources_we_do_not_hold_are_reported_not_checked(
    issuer_key: Ed25519Key, resolver: Resolver
) -> None:
    url = "https://example.org/some/resource"
    doc = sign(alumni(issuer_key, **related("digestSRI", SRI, url)), issuer_key)
    result = await verify_credential(doc, resolver=resolver, now=NOW)
    assert result.verified
    assert result.warnings == [
        {
            "code": "RELATED_RESOURCE_NOT_CHECKED",
            "detail": f"not held here, so not compared (nothing is fetched): {url}",
        }
    ]


# --- status of types we do not manage --------------------------------------------------------


class PassingStatus:
    def __init__(self) -> None:
        self.seen = 0

    async def check(self, credential: Mapping[str, Any]) -> list[Check]:
        self.seen += 1
        return []


async def test_foreign_status_type_is_kept_and_reported_not_checked(
    issuer_key: Ed25519Key, resolver: Resolver
) -> None:
    doc = alumni(issuer_key)
    doc["@context"] = [*doc["@context"], {"CredentialStatusList2017": "https://ex.org/#CSL2017"}]
    doc["credentialStatus"] = {"id": "did:example:status", "type": "CredentialStatusList2017"}
    doc = sign(doc, issuer_key)
    checker = PassingStatus()
    result = await verify_credential(doc, resolver=resolver, now=NOW, status_checker=checker)
    assert result.verified and checker.seen == 1
    assert result.warnings == [
        {
            "code": "STATUS_NOT_CHECKED",
            "detail": "status of type CredentialStatusList2017 is not checked here",
        }
    ]


# --- errors[]: one shape -----------------------------------------------------------------------


class FailingStatus:
    async def check(self, credential: Mapping[str, Any]) -> list[Check]:
        return [
            Check("status:revocation", False, "CREDENTIAL_REVOKED", "the credential is revoked")
        ]


class BrokenResolver:
    async def resolve(self, did: str) -> dict[str, Any]:
        raise RuntimeError("bug")

    async def dereference(self, did_url: str) -> dict[str, Any]:
        raise RuntimeError("bug")


async def test_every_error_is_a_full_problem_object(
    issuer_key: Ed25519Key, resolver: Resolver
) -> None:
    interop = load(FIX / "generated-interop" / "vc2-ob303-eddsa-rdfc-2022.signed.json")
    results = [
        await verify_credential("{not json", resolver=resolver),
        await verify_credential(sign(alumni(issuer_key), issuer_key) | {"name": 5},
                                resolver=resolver),
        await verify_credential(interop, resolver=resolver, now=NOW,
                                status_checker=FailingStatus()),
        await verify_credential(interop, resolver=BrokenResolver(), now=NOW),
        await verify_presentation(
            {"@context": [V2], "type": ["VerifiablePresentation"],
             "verifiableCredential": [sign(alumni(issuer_key, validUntil="2024-01-01T00:00:00Z"),
                                           issuer_key)]},
            resolver=resolver, now=NOW,
        ),
    ]  # fmt: skip
    seen: dict[str, dict[str, Any]] = {}
    for result in results:
        assert not result.verified and result.errors
        for problem in result.errors:
            assert set(problem) >= PROBLEM_KEYS, problem
            assert isinstance(problem["status"], int) and 400 <= problem["status"] <= 599
            assert problem["type"].endswith(problem["code"])
            seen[problem["code"]] = problem
    assert seen["CREDENTIAL_REVOKED"] == {
        "type": seen["CREDENTIAL_REVOKED"]["type"],
        "title": "Credential revoked",
        "status": 422,
        "detail": "the credential is revoked",
        "code": "CREDENTIAL_REVOKED",
        "check": "status:revocation",
    }
    assert seen["INTERNAL_ERROR"]["status"] == 500
    assert seen["INTERNAL_ERROR"]["title"] == "Internal error"
    assert seen["VALIDITY_PERIOD_ERROR"]["check"] == "credential"
    assert {"PARSING_ERROR", "PROOF_VERIFICATION_ERROR"} <= set(seen)
