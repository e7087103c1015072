"""sign() adds exactly the context a suite needs, and nothing when it is already there."""

from __future__ import annotations

from typing import Any

from vc_issuer.core.keys import Ed25519Key
from vc_issuer.core.proofs import sign
from vc_issuer.services.verifier import verify_credential

KEY = Ed25519Key.from_seed(bytes(range(32)))
V1 = "https://www.w3.org/2018/credentials/v1"
V2 = "https://www.w3.org/ns/credentials/v2"
DI = "https://w3id.org/security/data-integrity/v2"
ED = "https://w3id.org/security/suites/ed25519-2020/v1"


def vc1() -> dict[str, Any]:
    return {
        "@context": [V1],
        "type": ["VerifiableCredential"],
        "issuer": KEY.did,
        "issuanceDate": "2024-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:1"},
    }


async def test_vc11_eddsa_gets_data_integrity_context_and_verifies() -> None:
    signed = sign(vc1(), KEY)
    assert signed["@context"] == [V1, DI]
    assert (await verify_credential(signed)).verified


async def test_vc11_ed25519signature2020_gets_suite_context_only() -> None:
    signed = sign(vc1(), KEY, suite="Ed25519Signature2020")
    assert signed["@context"] == [V1, ED]
    assert (await verify_credential(signed)).verified


def test_vc2_eddsa_context_untouched() -> None:
    doc = vc1()
    doc["@context"] = [V2]
    doc["validFrom"] = doc.pop("issuanceDate")
    assert sign(doc, KEY)["@context"] == [V2]
