"""sign() and verify_proofs(): vectors, proof sets and chains, and every way a proof can fail."""

from __future__ import annotations

import base64
import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from did_methods.registry import Resolver
from vc_issuer.core.keys import Ed25519Key, parse_key
from vc_issuer.core.proofs import ProofCheck, get_proofs, sign, verify_proofs
from vc_issuer.core.resolver import StaticResolver
from vc_issuer.core.suites import base as suites_base
from vc_issuer.errors import (
    MalformedInputError,
    ProofGenerationError,
    SuiteKeyMismatchError,
    UnsupportedCryptosuiteError,
)

from ._helpers import DI, FIX, at, load, ob_key_controller

CHAIN = DI / "proof-set-chain"
W3C_CREATED = "2023-02-24T23:36:38Z"


@pytest.fixture(scope="module")
def w3c_key() -> Ed25519Key:
    return parse_key(load(DI / "keyPair.json"))


@pytest.fixture(scope="module")
def chain_keys() -> dict[str, Ed25519Key]:
    return {k: parse_key(v) for k, v in load(CHAIN / "multiKeyPairs.json").items()}


async def verify_one(doc: dict[str, Any], resolver: Any, **kw: Any) -> ProofCheck:
    checks = await verify_proofs(doc, resolver=resolver, **kw)
    assert len(checks) == 1
    return checks[0]


# --- sign reproduces the vectors -----------------------------------------------------------------


def test_sign_reproduces_eddsa_rdfc_2022_vector(w3c_key: Ed25519Key) -> None:
    unsigned = load(DI / "unsigned.json")
    signed = sign(unsigned, w3c_key, created=W3C_CREATED)
    assert signed == load(DI / "eddsa-rdfc-2022" / "signedDataInt.json")
    assert "proof" not in unsigned  # input untouched


def test_sign_reproduces_employ_vector_with_a_datetime(w3c_key: Ed25519Key) -> None:
    signed = sign(
        load(DI / "employmentAuth.json"),
        w3c_key,
        created=datetime(2023, 2, 24, 23, 36, 38, tzinfo=UTC),
    )
    assert signed == load(DI / "eddsa-rdfc-2022" / "employ" / "signedDataInt.json")


def test_sign_ed25519_signature_2020_adds_the_suite_context(w3c_key: Ed25519Key) -> None:
    signed = sign(
        load(DI / "unsigned.json"), w3c_key, suite="Ed25519Signature2020", created=W3C_CREATED
    )
    assert signed == load(DI / "Ed25519Signature2020" / "signedEdSig.json")


@pytest.mark.parametrize(
    ("name", "suite"),
    [
        ("vc1-ob302-ed25519signature2020", "Ed25519Signature2020"),
        ("vc2-ob303-eddsa-rdfc-2022", "eddsa-rdfc-2022"),
    ],
)
def test_sign_reproduces_generated_interop(name: str, suite: str) -> None:
    folder = FIX / "generated-interop"
    key = parse_key(load(folder / "issuer-key.json"))
    signed = sign(
        load(folder / f"{name}.unsigned.json"), key, suite=suite, created="2024-01-01T00:00:00Z"
    )
    assert signed == load(folder / f"{name}.signed.json")


def test_sign_reproduces_1edtech_vector_with_key_file_id() -> None:
    folder = FIX / "open-badges-3.0" / "ldp-eddsa-rdfc-2022"
    key = parse_key(load(folder / "key-pair.json"))
    signed = sign(load(folder / "unsigned.json"), key, created="2010-01-01T19:23:24Z")
    assert signed == load(folder / "signed.json")


def test_created_defaults_to_now_in_seconds(w3c_key: Ed25519Key) -> None:
    clock = at("2025-03-04T05:06:07.891234+02:00")
    signed = sign(load(DI / "unsigned.json"), w3c_key, now=clock)
    assert signed["proof"]["created"] == "2025-03-04T03:06:07Z"
    real = sign(load(DI / "unsigned.json"), w3c_key)
    assert real["proof"]["created"].endswith("Z") and len(real["proof"]["created"]) == 20


def test_sign_reproduces_the_proof_chain(chain_keys: dict[str, Ed25519Key]) -> None:
    ids = [p.get("id") for p in load(CHAIN / "signedProofChain2.json")["proof"]]
    doc = load(CHAIN / "unsigned.json")
    doc = sign(doc, chain_keys["keyPair1"], created=W3C_CREATED, proof_id=ids[0])
    assert isinstance(doc["proof"], dict)
    doc = sign(doc, chain_keys["keyPair2"], created=W3C_CREATED, proof_id=ids[1])
    assert isinstance(doc["proof"], list)  # a proof set
    assert doc["proof"] == load(CHAIN / "signedProofSet2.json")["proof"]
    doc = sign(
        doc,
        chain_keys["keyPair3"],
        created="2023-02-26T22:06:38Z",
        proof_id=ids[2],
        previous_proof=[ids[0], ids[1]],
    )
    assert doc == load(CHAIN / "signedProofChain1.json")
    doc = sign(doc, chain_keys["keyPair4"], created="2023-02-26T22:16:38Z", previous_proof=ids[2])
    assert doc == load(CHAIN / "signedProofChain2.json")


@pytest.mark.parametrize(
    ("document", "kwargs", "error", "code"),
    [
        ({"type": "x"}, {}, MalformedInputError, "MALFORMED_VALUE_ERROR"),
        (
            {"@context": "https://www.w3.org/ns/credentials/v2"},
            {},
            MalformedInputError,
            "MALFORMED_VALUE_ERROR",
        ),
        ({"@context": []}, {}, MalformedInputError, "MALFORMED_VALUE_ERROR"),
        (None, {"suite": "bbs-2023"}, UnsupportedCryptosuiteError, "UNSUPPORTED_CRYPTOSUITE"),
        (None, {"suite": "ecdsa-rdfc-2019"}, SuiteKeyMismatchError, "SUITE_KEY_MISMATCH"),
        (None, {"suite": "ecdsa-sd-2023"}, SuiteKeyMismatchError, "SUITE_KEY_MISMATCH"),
        (None, {"purpose": "signing"}, MalformedInputError, "MALFORMED_VALUE_ERROR"),
        (None, {"created": datetime(2024, 1, 1)}, MalformedInputError, "MALFORMED_VALUE_ERROR"),
        (None, {"created": "2024-01-01"}, MalformedInputError, "MALFORMED_VALUE_ERROR"),
        (None, {"expires": "soon"}, MalformedInputError, "MALFORMED_VALUE_ERROR"),
        (
            None,
            {"previous_proof": "urn:uuid:missing"},
            ProofGenerationError,
            "PROOF_GENERATION_ERROR",
        ),
    ],
)
def test_sign_refuses_bad_input(
    w3c_key: Ed25519Key, document: Any, kwargs: dict[str, Any], error: type[Exception], code: str
) -> None:
    doc = load(DI / "unsigned.json") if document is None else document
    with pytest.raises(error) as info:
        sign(doc, w3c_key, **kwargs)
    assert info.value.code == code  # type: ignore[attr-defined]


# --- verify --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "eddsa-rdfc-2022/signedDataInt.json",
        "eddsa-rdfc-2022/employ/signedDataInt.json",
        "Ed25519Signature2020/signedEdSig.json",
        "proof-set-chain/signedProofSet1.json",
        "proof-set-chain/signedProofSet2.json",
        "proof-set-chain/signedProofChain1.json",
        "proof-set-chain/signedProofChain2.json",
    ],
)
async def test_w3c_vectors_verify(path: str, resolver: Resolver) -> None:
    checks = await verify_proofs(load(DI / path), resolver=resolver)
    assert checks and all(c.verified for c in checks), [c.error for c in checks]
    for c in checks:
        assert c.controller is not None and c.controller.startswith("did:key:")


async def test_generated_interop_verify(resolver: Resolver) -> None:
    for name in ("vc1-ob302-ed25519signature2020", "vc2-ob303-eddsa-rdfc-2022"):
        check = await verify_one(load(FIX / "generated-interop" / f"{name}.signed.json"), resolver)
        assert check.verified, check.error


def ob_controller_document() -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        **ob_key_controller(),
    }


async def test_1edtech_vector_verifies_with_a_known_controller_document() -> None:
    controller = ob_controller_document()
    resolver = StaticResolver({controller["id"]: controller})
    check = await verify_one(
        load(FIX / "open-badges-3.0/ldp-eddsa-rdfc-2022/signed.json"), resolver
    )
    assert check.verified, check.error
    assert check.controller == "https://example.edu/issuers/565049"


async def test_tampered_claim_fails_with_proof_verification_error(resolver: Resolver) -> None:
    doc = load(DI / "eddsa-rdfc-2022" / "signedDataInt.json")
    doc["credentialSubject"]["alumniOf"] = "The School of Examplez"
    check = await verify_one(doc, resolver)
    assert not check.verified
    assert check.error is not None and check.error.code == "PROOF_VERIFICATION_ERROR"


async def test_tampering_one_chain_link_fails_only_the_links_that_sign_it(
    resolver: Resolver,
) -> None:
    doc = load(CHAIN / "signedProofChain2.json")
    doc["proof"][2]["created"] = "2023-02-26T22:06:39Z"
    checks = await verify_proofs(doc, resolver=resolver)
    assert [c.verified for c in checks] == [True, True, False, False]


async def test_wrong_key_fails(w3c_key: Ed25519Key, resolver: Resolver) -> None:
    other = Ed25519Key.generate()
    forged_key = Ed25519Key.from_seed(other.seed, id=w3c_key.verification_method)
    forged = sign(load(DI / "unsigned.json"), forged_key, created=W3C_CREATED)
    check = await verify_one(forged, resolver)
    assert check.error is not None and check.error.code == "PROOF_VERIFICATION_ERROR"


@pytest.mark.parametrize(
    "member", ["type", "created", "verificationMethod", "proofPurpose", "proofValue"]
)
async def test_missing_proof_member_is_malformed(member: str, resolver: Resolver) -> None:
    doc = load(DI / "eddsa-rdfc-2022" / "signedDataInt.json")
    del doc["proof"][member]
    check = await verify_one(doc, resolver)
    assert check.error is not None
    assert check.error.code == "MALFORMED_PROOF_ERROR"
    assert check.error.detail == f"proof is missing {member}"


@pytest.mark.parametrize(
    ("member", "value", "detail"),
    [
        ("created", "2023-02-24", "proof created is not an XML Schema dateTime"),
        ("created", "2023-02-24T23:36:38", "proof created must carry a timezone"),
        ("created", "2023-02-30T23:36:38Z", "not a valid date"),
        ("expires", "never", "proof expires is not an XML Schema dateTime"),
        ("proofValue", "u" + "A" * 86, "base58btc multibase"),
        ("proofValue", "z0OIl", "not valid base58btc"),
        ("proofValue", "z2YwC8z3ap7yx1nZYCg4L3j3", "64-byte signature"),
        ("verificationMethod", 7, "verificationMethod must be a non-empty string"),
    ],
)
async def test_malformed_proof_values(
    member: str, value: Any, detail: str, resolver: Resolver
) -> None:
    doc = load(DI / "eddsa-rdfc-2022" / "signedDataInt.json")
    doc["proof"][member] = value
    check = await verify_one(doc, resolver)
    assert check.error is not None and check.error.code == "MALFORMED_PROOF_ERROR"
    assert detail in check.error.detail


async def test_no_proof_or_bad_proof_container(resolver: Resolver) -> None:
    from vc_issuer.errors import MalformedProofError

    for bad in (None, [], "zabc", [1]):
        doc = load(DI / "unsigned.json")
        if bad is not None:
            doc["proof"] = bad
        with pytest.raises(MalformedProofError) as info:
            await verify_proofs(doc, resolver=resolver)
        assert info.value.code == "MALFORMED_PROOF_ERROR"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"cryptosuite": "bbs-2023"}, "UNSUPPORTED_CRYPTOSUITE"),
        ({"cryptosuite": "eddsa-jcs-2022"}, "PROOF_VERIFICATION_ERROR"),
        # an Ed25519 verification method on an ECDSA proof
        ({"cryptosuite": "ecdsa-rdfc-2019"}, "KEY_TYPE_MISMATCH"),
        ({"cryptosuite": "ecdsa-sd-2023"}, "MALFORMED_PROOF_ERROR"),
        ({"type": "JsonWebSignature2020"}, "UNSUPPORTED_CRYPTOSUITE"),
        ({"proofPurpose": "authentication"}, "INVALID_PROOF_PURPOSE"),
        ({"verificationMethod": "did:example:123#key-1"}, "methodNotSupported"),
        ({"verificationMethod": "did:key:z6MkBAD#z6MkBAD"}, "invalidDid"),
        ({"verificationMethod": W3C_CREATED}, "invalidDid"),
    ],
)
async def test_proof_failures_have_precise_codes(
    changes: dict[str, Any], code: str, resolver: Resolver
) -> None:
    doc = load(DI / "eddsa-rdfc-2022" / "signedDataInt.json")
    doc["proof"].update(changes)
    check = await verify_one(doc, resolver)
    assert not check.verified
    assert check.error is not None and check.error.code == code, check.error


async def test_key_not_authorized_for_the_purpose(w3c_key: Ed25519Key) -> None:
    # a controller that lists the key for authentication only: an assertion must fail
    controller = ob_controller_document()
    controller["authentication"] = controller.pop("assertionMethod")
    resolver = StaticResolver({controller["id"]: controller})
    doc = load(FIX / "open-badges-3.0/ldp-eddsa-rdfc-2022/signed.json")
    check = await verify_one(doc, resolver)
    assert check.error is not None and check.error.code == "INVALID_PROOF_PURPOSE"
    assert "not authorized for assertionMethod" in check.error.detail


async def test_controller_document_with_relative_ids_and_a_malformed_relationship() -> None:
    doc = load(FIX / "open-badges-3.0/ldp-eddsa-rdfc-2022/signed.json")
    controller = ob_controller_document()
    fragment = "#" + controller["verificationMethod"][0]["id"].split("#", 1)[1]
    controller["verificationMethod"][0]["id"] = fragment
    del controller["verificationMethod"][0]["controller"]
    controller["assertionMethod"] = [fragment]
    check = await verify_one(doc, StaticResolver({controller["id"]: controller}))
    assert check.verified, check.error
    controller["assertionMethod"] = [fragment, 42]
    check = await verify_one(doc, StaticResolver({controller["id"]: controller}))
    assert check.error is not None and check.error.code == "invalidDidDocument"
    assert "'assertionMethod'" in check.error.detail


async def test_the_controller_key_may_be_a_jwk_and_a_bad_key_is_invalid_key() -> None:
    doc = load(FIX / "open-badges-3.0/ldp-eddsa-rdfc-2022/signed.json")
    controller = ob_controller_document()
    vm = controller["verificationMethod"][0]
    public = parse_key(load(FIX / "open-badges-3.0" / "ldp-eddsa-rdfc-2022" / "key-pair.json"))
    x = base64.urlsafe_b64encode(public.public_key).rstrip(b"=").decode()
    del vm["publicKeyMultibase"]
    vm["type"] = "JsonWebKey2020"
    vm["publicKeyJwk"] = {"kty": "OKP", "crv": "Ed25519", "x": x}
    check = await verify_one(doc, StaticResolver({controller["id"]: controller}))
    assert check.verified, check.error
    vm["publicKeyJwk"]["x"] = x[:-2] + "!!"
    check = await verify_one(doc, StaticResolver({controller["id"]: controller}))
    assert check.error is not None and check.error.code == "INVALID_KEY"
    assert "not base64url" in check.error.detail


async def test_challenge_domain_and_expiry(w3c_key: Ed25519Key, resolver: Resolver) -> None:
    doc = sign(
        load(DI / "unsigned.json"),
        w3c_key,
        purpose="authentication",
        created=W3C_CREATED,
        challenge="c-123",
        domain="https://verifier.example",
        expires="2030-01-01T00:00:00Z",
    )
    kw: dict[str, Any] = {"expected_purpose": "authentication", "now": at("2029-12-31T23:59:59Z")}
    ok = await verify_one(doc, resolver, challenge="c-123", domain="https://verifier.example", **kw)
    assert ok.verified, ok.error
    bad = await verify_one(doc, resolver, challenge="c-124", **kw)
    assert bad.error is not None and bad.error.code == "INVALID_CHALLENGE_ERROR"
    bad = await verify_one(doc, resolver, domain="https://evil.example", **kw)
    assert bad.error is not None and bad.error.code == "INVALID_DOMAIN_ERROR"
    late = await verify_one(
        doc, resolver, expected_purpose="authentication", now=at("2030-01-01T00:00:01Z")
    )
    assert late.error is not None and late.error.code == "PROOF_EXPIRED"
    unsigned_challenge = await verify_one(
        load(DI / "Ed25519Signature2020" / "signedEdSig.json"), resolver, challenge="c-123"
    )
    assert unsigned_challenge.error is not None
    assert unsigned_challenge.error.code == "INVALID_CHALLENGE_ERROR"


async def test_proof_set_created_on_a_signed_document_verifies(
    w3c_key: Ed25519Key, chain_keys: dict[str, Ed25519Key], resolver: Resolver
) -> None:
    doc = sign(load(DI / "unsigned.json"), w3c_key)
    doc = sign(doc, chain_keys["keyPair1"], suite="Ed25519Signature2020")
    assert len(get_proofs(doc)) == 2
    checks = await verify_proofs(doc, resolver=resolver)
    assert [c.verified for c in checks] == [True, True], [c.error for c in checks]
    original = copy.deepcopy(doc)
    doc["proof"].reverse()  # order of a set does not matter
    assert all(c.verified for c in await verify_proofs(doc, resolver=resolver))
    assert original != doc


async def test_a_proof_set_canonicalizes_its_document_once(
    w3c_key: Ed25519Key,
    chain_keys: dict[str, Ed25519Key],
    resolver: Resolver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    doc = sign(load(DI / "unsigned.json"), w3c_key)
    doc = sign(doc, chain_keys["keyPair1"], suite="Ed25519Signature2020")
    doc = sign(doc, chain_keys["keyPair2"])
    documents: list[dict[str, Any]] = []
    real = suites_base.to_quads

    def counting(document: dict[str, Any], loader: Any = None) -> Any:
        if "credentialSubject" in document:
            documents.append(document)
        return real(document, loader)

    monkeypatch.setattr(suites_base, "to_quads", counting)
    checks = await verify_proofs(doc, resolver=resolver)
    assert [c.verified for c in checks] == [True, True, True], [c.error for c in checks]
    assert len(documents) == 1


async def test_chain_with_unknown_previous_proof(resolver: Resolver) -> None:
    doc = load(CHAIN / "signedProofChain2.json")
    doc["proof"][3]["previousProof"] = "urn:uuid:not-there"
    checks = await verify_proofs(doc, resolver=resolver)
    assert checks[3].error is not None
    assert checks[3].error.code == "PROOF_VERIFICATION_ERROR"
    assert "not in the document's proofs" in checks[3].error.detail
