"""verify_credential / verify_presentation: results with checks and codes, never exceptions."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web

from did_methods.errors import NetworkError
from did_methods.registry import Resolver
from vc_issuer.core.keys import Ed25519Key, parse_key
from vc_issuer.core.proofs import sign
from vc_issuer.core.resolver import StaticResolver
from vc_issuer.errors import DataLossError, StatusRetrievalError
from vc_issuer.services.verifier import (
    Check,
    VerificationResult,
    VerifyOptions,
    verify_credential,
    verify_presentation,
)

from ._helpers import DI, FIX, alumni, at, load, ob_key_controller

INTEROP = FIX / "generated-interop"
V2 = "https://www.w3.org/ns/credentials/v2"


NOW = at("2025-06-01T12:00:00Z")


@pytest.fixture(scope="module")
def holder_key() -> Ed25519Key:
    return parse_key(load(DI / "proof-set-chain" / "multiKeyPairs.json")["keyPair1"])


def check_names(result: VerificationResult) -> dict[str, bool]:
    return {c.name: c.passed for c in result.checks}


def all_passed(*names: str) -> dict[str, bool]:
    """What ``check_names`` gives when exactly these checks ran and all of them passed."""
    return dict.fromkeys(names, True)


# --- credentials ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["vc1-ob302-ed25519signature2020.signed.json", "vc2-ob303-eddsa-rdfc-2022.signed.json"]
)
async def test_generated_interop_credentials_verify(name: str, resolver: Resolver) -> None:
    result = await verify_credential(load(INTEROP / name), resolver=resolver, now=NOW)
    assert result.verified, result.to_dict()
    assert check_names(result) == all_passed("structure", "proof", "issuer", "validity")
    assert result.warnings == [
        {
            "code": "STATUS_NOT_CHECKED",
            "detail": "the credential has credentialStatus; status not checked",
        }
    ]
    json.dumps(result.to_dict())


async def test_one_options_object_or_its_fields_as_keywords(resolver: Resolver) -> None:
    """VerifyOptions carries a verification's settings; keyword arguments override its fields,
    and a misspelt one is refused like any unknown keyword."""
    doc = load(INTEROP / "vc2-ob303-eddsa-rdfc-2022.signed.json")
    options = VerifyOptions(resolver=resolver, now=NOW, checks=["proof"])
    by_object = await verify_credential(doc, options)
    by_keywords = await verify_credential(doc, resolver=resolver, now=NOW, checks=["proof"])
    assert by_object.to_dict() == by_keywords.to_dict()
    assert check_names(by_object) == all_passed("structure", "proof")
    widened = await verify_credential(doc, options, checks=None)  # the keyword wins
    assert check_names(widened) == all_passed("structure", "proof", "issuer", "validity")
    vp = {"@context": [V2], "type": ["VerifiablePresentation"], "verifiableCredential": [doc]}
    result = await verify_presentation(vp, options, challenge="c-1")
    assert result.codes() == ["INVALID_CHALLENGE_ERROR"]  # unsigned: no challenge to match
    assert result.credential_results[0].verified
    with pytest.raises(TypeError, match="chekcs"):
        await verify_credential(doc, options, chekcs=["proof"])


def test_options_copy_is_dataclasses_replace() -> None:
    """``with_`` (the verifier's cheap copy) gives what ``dataclasses.replace`` gives."""
    base = VerifyOptions(domain="d.example", checks=["proof"])
    changed = base.with_(challenge="c-1", checks=None)
    assert changed == dataclasses.replace(base, challenge="c-1", checks=None)
    assert (base.challenge, base.checks) == (None, ["proof"])  # the original is untouched
    assert base.with_() is base
    with pytest.raises(dataclasses.FrozenInstanceError):
        changed.domain = "other.example"  # type: ignore[misc]


async def test_json_text_input_and_default_resolver() -> None:
    text = (INTEROP / "vc2-ob303-eddsa-rdfc-2022.signed.json").read_bytes()
    result = await verify_credential(text, now=NOW)
    assert result.verified, result.to_dict()


async def test_1edtech_vector_with_issuer_profile_keys() -> None:
    controller = ob_key_controller()
    result = await verify_credential(
        load(FIX / "open-badges-3.0/ldp-eddsa-rdfc-2022/signed.json"),
        resolver=StaticResolver({controller["id"]: controller}),
        now=NOW,
    )
    assert result.verified, result.to_dict()


async def test_tampered_claim(resolver: Resolver) -> None:
    doc = load(INTEROP / "vc2-ob303-eddsa-rdfc-2022.signed.json")
    doc["credentialSubject"]["achievement"]["name"] += "!"
    result = await verify_credential(doc, resolver=resolver, now=NOW)
    assert not result.verified
    assert result.codes() == ["PROOF_VERIFICATION_ERROR"]
    assert result.errors[0]["check"] == "proof"
    assert result.errors[0]["type"] == "https://w3id.org/security#PROOF_VERIFICATION_ERROR"


async def test_issuer_must_control_the_key(resolver: Resolver) -> None:
    # the W3C vector is signed by a did:key but names an https issuer
    result = await verify_credential(
        load(DI / "eddsa-rdfc-2022" / "signedDataInt.json"), resolver=resolver, now=NOW
    )
    assert not result.verified
    assert result.codes() == ["ISSUER_MISMATCH"]


async def test_issuer_object_form(issuer_key: Ed25519Key, resolver: Resolver) -> None:
    doc = sign(alumni(issuer_key, issuer={"id": issuer_key.did, "name": "Example"}), issuer_key)
    assert (await verify_credential(doc, resolver=resolver, now=NOW)).verified


@pytest.mark.parametrize(
    ("fields", "now", "ok"),
    [
        ({"validFrom": "2025-06-01T12:04:00Z"}, "2025-06-01T12:00:00Z", True),  # within skew
        ({"validFrom": "2025-06-01T12:06:00Z"}, "2025-06-01T12:00:00Z", False),  # not yet valid
        ({"validUntil": "2025-06-01T11:56:00Z"}, "2025-06-01T12:00:00Z", True),  # within skew
        ({"validUntil": "2025-06-01T11:54:00Z"}, "2025-06-01T12:00:00Z", False),  # expired
        ({"validUntil": "2030-01-01T00:00:00Z"}, "2029-12-31T00:00:00Z", True),
    ],
)
async def test_validity_period_v2(
    fields: dict[str, Any], now: str, ok: bool, issuer_key: Ed25519Key, resolver: Resolver
) -> None:
    doc = sign(alumni(issuer_key, validFrom="2023-01-01T00:00:00Z") | fields, issuer_key)
    result = await verify_credential(doc, resolver=resolver, now=at(now))
    assert result.verified is ok, result.to_dict()
    if not ok:
        assert result.codes() == ["VALIDITY_PERIOD_ERROR"]


async def test_validity_period_v11_and_custom_skew(resolver: Resolver) -> None:
    doc = load(INTEROP / "vc1-ob302-ed25519signature2020.signed.json")
    early = await verify_credential(doc, resolver=resolver, now=at("2023-12-31T23:00:00Z"))
    assert early.codes() == ["VALIDITY_PERIOD_ERROR"]
    assert "not yet valid: issuanceDate is 2024-01-01T00:00:00Z" in early.checks[-1].detail  # type: ignore[operator]
    skewed = await verify_credential(
        doc, resolver=resolver, now=at("2023-12-31T23:00:00Z"), clock_skew=timedelta(hours=2)
    )
    assert skewed.verified


async def test_expired_v11(issuer_key: Ed25519Key, resolver: Resolver) -> None:
    unsigned = load(INTEROP / "vc1-ob302-ed25519signature2020.unsigned.json")
    unsigned["expirationDate"] = "2024-06-01T00:00:00Z"
    doc = sign(unsigned, issuer_key, suite="Ed25519Signature2020")
    result = await verify_credential(doc, resolver=resolver, now=NOW)
    assert result.codes() == ["VALIDITY_PERIOD_ERROR"]
    assert "expired: expirationDate" in (result.errors[0]["detail"])


class FixedStatus:
    def __init__(self, checks: list[Check] | None = None, error: Exception | None = None) -> None:
        self.checks, self.error, self.seen = checks or [], error, 0

    async def check(self, credential: Mapping[str, Any]) -> list[Check]:
        self.seen += 1
        if self.error is not None:
            raise self.error
        return self.checks


async def test_status_seam(resolver: Resolver) -> None:
    doc = load(INTEROP / "vc2-ob303-eddsa-rdfc-2022.signed.json")
    good = FixedStatus([Check("status", True)])
    result = await verify_credential(doc, resolver=resolver, now=NOW, status_checker=good)
    assert result.verified and good.seen == 1 and result.warnings == []
    revoked = FixedStatus([Check("status", False, "CREDENTIAL_REVOKED", "revoked")])
    result = await verify_credential(doc, resolver=resolver, now=NOW, status_checker=revoked)
    assert not result.verified and result.codes() == ["CREDENTIAL_REVOKED"]
    down = FixedStatus(error=StatusRetrievalError("list unreachable"))
    result = await verify_credential(doc, resolver=resolver, now=NOW, status_checker=down)
    assert result.codes() == ["STATUS_RETRIEVAL_ERROR"]


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("{not json", "PARSING_ERROR"),
        ("[1, 2]", "MALFORMED_VALUE_ERROR"),
        ({"type": ["VerifiableCredential"]}, "MALFORMED_VALUE_ERROR"),
        ({"@context": V2, "type": "VerifiableCredential"}, "MALFORMED_VALUE_ERROR"),
    ],
)
async def test_bad_input_is_a_failed_structure_check(value: Any, code: str) -> None:
    result = await verify_credential(value, resolver=StaticResolver())
    assert not result.verified
    assert [(c.name, c.code) for c in result.checks] == [("structure", code)]


async def test_unsigned_credential(issuer_key: Ed25519Key, resolver: Resolver) -> None:
    result = await verify_credential(alumni(issuer_key), resolver=resolver, now=NOW)
    assert not result.verified
    assert result.codes() == ["MALFORMED_PROOF_ERROR"]


async def test_unknown_context_and_undefined_term(
    issuer_key: Ed25519Key, resolver: Resolver
) -> None:
    doc = sign(alumni(issuer_key), issuer_key)
    doc["@context"] = [*doc["@context"], "https://example.com/unpinned/v1"]
    result = await verify_credential(doc, resolver=resolver, now=NOW)
    assert result.codes() == ["UNKNOWN_CONTEXT"]
    assert "https://example.com/unpinned/v1" in (result.errors[0]["detail"])

    # VC 1.1 has no @vocab: an undefined term would silently drop out of the signed graph
    vc1 = load(INTEROP / "vc1-ob302-ed25519signature2020.signed.json")
    vc1["favoriteColor"] = "blue"
    result = await verify_credential(vc1, resolver=resolver, now=NOW)
    assert result.codes() == ["DATA_LOSS_DETECTION_ERROR"]
    assert "favoriteColor" in (result.errors[0]["detail"])
    unsigned = load(INTEROP / "vc1-ob302-ed25519signature2020.unsigned.json")
    unsigned["favoriteColor"] = "blue"
    with pytest.raises(DataLossError, match="favoriteColor"):
        sign(unsigned, issuer_key, suite="Ed25519Signature2020")


class BrokenResolver:
    async def resolve(self, did: str) -> dict[str, Any]:
        raise RuntimeError("bug")

    async def dereference(self, did_url: str) -> dict[str, Any]:
        raise RuntimeError("bug")


async def test_unexpected_errors_become_internal_error_checks() -> None:
    doc = load(INTEROP / "vc2-ob303-eddsa-rdfc-2022.signed.json")
    result = await verify_credential(doc, resolver=BrokenResolver(), now=NOW)
    assert not result.verified
    assert result.codes() == ["INTERNAL_ERROR"]


# --- presentations -------------------------------------------------------------------------------


def presentation(holder: Ed25519Key, credentials: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "@context": [V2],
        "type": ["VerifiablePresentation"],
        "holder": holder.did,
        "verifiableCredential": credentials,
    }


@pytest.fixture(scope="module")
def credential() -> dict[str, Any]:
    doc: dict[str, Any] = load(INTEROP / "vc2-ob303-eddsa-rdfc-2022.signed.json")
    return doc


async def test_signed_presentation(
    holder_key: Ed25519Key, credential: dict[str, Any], resolver: Resolver
) -> None:
    vp = sign(
        presentation(holder_key, [credential]),
        holder_key,
        purpose="authentication",
        challenge="nonce-1",
        domain="https://verifier.example",
    )
    result = await verify_presentation(
        vp, challenge="nonce-1", domain="https://verifier.example", resolver=resolver, now=NOW
    )
    assert result.verified, result.to_dict()
    assert check_names(result) == all_passed(
        "structure", "proof", "challenge", "domain", "holder", "credential"
    )
    assert len(result.credential_results) == 1 and result.credential_results[0].verified
    out = result.to_dict()
    assert out["kind"] == "presentation" and out["credentialResults"][0]["verified"]

    wrong = await verify_presentation(
        vp, challenge="nonce-2", domain="https://verifier.example", resolver=resolver, now=NOW
    )
    assert wrong.codes() == ["INVALID_CHALLENGE_ERROR"]
    wrong = await verify_presentation(
        vp, challenge="nonce-1", domain="https://evil.example", resolver=resolver, now=NOW
    )
    assert wrong.codes() == ["INVALID_DOMAIN_ERROR"]


async def test_presentation_needs_authentication_purpose(
    holder_key: Ed25519Key, credential: dict[str, Any], resolver: Resolver
) -> None:
    vp = sign(presentation(holder_key, [credential]), holder_key, challenge="n")
    result = await verify_presentation(vp, challenge="n", resolver=resolver, now=NOW)
    assert result.codes() == ["INVALID_PROOF_PURPOSE"]


async def test_presentation_holder_must_control_the_key(
    holder_key: Ed25519Key,
    issuer_key: Ed25519Key,
    credential: dict[str, Any],
    resolver: Resolver,
) -> None:
    vp = presentation(holder_key, [credential])
    signed = sign(vp, issuer_key, purpose="authentication")
    result = await verify_presentation(signed, resolver=resolver, now=NOW)
    assert result.codes() == ["HOLDER_MISMATCH"]


async def test_presentation_with_a_bad_credential(
    holder_key: Ed25519Key, credential: dict[str, Any], resolver: Resolver
) -> None:
    tampered = copy.deepcopy(credential)
    tampered["credentialSubject"]["id"] = "did:example:someone-else"
    vp = sign(
        presentation(holder_key, [credential, tampered]), holder_key, purpose="authentication"
    )
    result = await verify_presentation(vp, resolver=resolver, now=NOW)
    assert not result.verified
    assert [r.verified for r in result.credential_results] == [True, False]
    assert result.codes() == ["PROOF_VERIFICATION_ERROR"]
    failed = [c for c in result.checks if not c.passed]
    assert failed[0].name == "credential"
    assert (failed[0].detail or "").startswith("verifiableCredential[1] urn:uuid:")


async def test_unsigned_presentation(
    holder_key: Ed25519Key, credential: dict[str, Any], resolver: Resolver
) -> None:
    vp = presentation(holder_key, [credential])
    result = await verify_presentation(vp, resolver=resolver, now=NOW)
    assert result.verified, result.to_dict()
    assert result.warnings[0]["code"] == "PRESENTATION_NOT_SIGNED"
    result = await verify_presentation(vp, challenge="n", domain="d", resolver=resolver, now=NOW)
    assert result.codes() == ["INVALID_CHALLENGE_ERROR", "INVALID_DOMAIN_ERROR"]


async def test_bad_presentation_input() -> None:
    result = await verify_presentation("nope", resolver=StaticResolver())
    assert result.codes() == ["PARSING_ERROR"]
    result = await verify_presentation(
        {"@context": [V2], "type": "VerifiableCredential"}, resolver=StaticResolver()
    )
    assert result.codes() == ["MALFORMED_VALUE_ERROR"]


# --- did:web end to end, over a real local HTTP server ----------------------------------------


class DownResolver:
    async def resolve(self, did: str) -> dict[str, Any]:
        raise NetworkError("connect timeout")

    async def dereference(self, did_url: str) -> dict[str, Any]:
        raise NetworkError("connect timeout")


async def test_exit_codes(resolver: Resolver) -> None:
    doc = load(INTEROP / "vc2-ob303-eddsa-rdfc-2022.signed.json")
    assert (await verify_credential(doc, resolver=resolver, now=NOW)).exit_code() == 0
    down = await verify_credential(doc, resolver=DownResolver(), now=NOW)
    assert down.codes() == ["DID_NETWORK_ERROR"] and down.exit_code() == 3
    assert (await verify_credential("[]", resolver=resolver)).exit_code() == 2
    doc["name"] = "changed"
    assert (await verify_credential(doc, resolver=resolver, now=NOW)).exit_code() == 1


@pytest.fixture
async def did_web(aiohttp_server: Any) -> AsyncIterator[tuple[str, Ed25519Key, dict[str, Any]]]:
    """A did:web on 127.0.0.1 serving a Multikey DID document; tests may edit ``served``."""
    key = Ed25519Key.generate()
    served: dict[str, Any] = {"status": 200, "doc": None}

    async def handler(request: web.Request) -> web.Response:
        if served["status"] != 200:
            return web.Response(status=served["status"])
        return web.json_response(served["doc"])

    app = web.Application()
    app.router.add_get("/.well-known/did.json", handler)
    server = await aiohttp_server(app)
    did = f"did:web:127.0.0.1%3A{server.port}"
    vm = f"{did}#key-1"
    served["doc"] = {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": did,
        "verificationMethod": [
            {
                "id": vm,
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": key.public_key_multibase,
            }
        ],
        "assertionMethod": ["#key-1"],
    }
    signer = Ed25519Key.from_seed(key.seed, id=vm, controller=did)
    yield did, signer, served


async def test_did_web_issuer(did_web: tuple[str, Ed25519Key, dict[str, Any]]) -> None:
    did, key, served = did_web
    doc = sign(alumni(key, issuer=did), key)
    assert doc["proof"]["verificationMethod"] == f"{did}#key-1"

    ok = await verify_credential(doc, now=NOW, allow_private_hosts=True)
    assert ok.verified, ok.to_dict()

    refused = await verify_credential(doc, now=NOW)  # private address not allowed by default
    assert refused.codes() == ["FORBIDDEN_ADDRESS"]

    served["status"] = 404
    gone = await verify_credential(doc, now=NOW, allow_private_hosts=True)
    assert gone.codes() == ["notFound"]

    served["status"] = 200
    served["doc"] = {**served["doc"], "id": "did:web:example.com"}
    wrong = await verify_credential(doc, now=NOW, allow_private_hosts=True)
    assert wrong.codes() == ["invalidDidDocument"]
