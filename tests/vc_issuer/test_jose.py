"""VC-JWT and VC 2.0 JOSE (issue 11, item 2): core/jose.py and the verifier's JOSE path.

Real signatures throughout (joserfc for the tokens we build by hand, with keys generated here);
the third-party vectors (1EdTech, walt.id, the W3C vc-jose-cose suite) are verified as shipped.
Issuer keys published over https come from a real local HTTPS server (tests/vc_issuer/_web.py).
"""

from __future__ import annotations

import base64
import copy
import json
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from joserfc import jws
from joserfc.jwk import ECKey, Key, OKPKey, RSAKey

from vc_issuer.core import jose
from vc_issuer.core.keys import Ed25519Key
from vc_issuer.errors import (
    JwkPrivateKeyError,
    JwtAlgKeyMismatchError,
    JwtAlgNoneError,
    JwtFormatError,
    JwtKidMismatchError,
    MalformedJwsError,
    UnsupportedFormatError,
    UnsupportedJwtAlgError,
)
from vc_issuer.services.verifier import VerificationResult, verify

from ._helpers import FIX, load
from ._web import VirtualWeb

OB3JWT = FIX / "open-badges-3.0-jwt"
JOSE = FIX / "vc-jose-cose" / "test-suite" / "input"
V2 = "https://www.w3.org/ns/credentials/v2"
V1 = "https://www.w3.org/2018/credentials/v1"
SEED = bytes(range(32))


def at(iso: str) -> Any:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return lambda: moment


@pytest.fixture
def key() -> Ed25519Key:
    return Ed25519Key.from_seed(SEED)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def okp(k: Ed25519Key) -> OKPKey:
    return OKPKey.import_key(
        {"kty": "OKP", "crv": "Ed25519", "x": b64(k.public_key), "d": b64(k.seed)}
    )


def sign_raw(header: dict[str, Any], payload: dict[str, Any], private: Key) -> str:
    """A JWS over exactly this header and payload (for tokens our issuer would never make)."""
    registry = jws.JWSRegistry(algorithms=[header["alg"]], strict_check_header=False)
    registry.max_header_length = 16 * 1024
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return jws.serialize_compact(
            header, json.dumps(payload).encode(), private, registry=registry
        )


def credential(issuer: str, **fields: Any) -> dict[str, Any]:
    cred: dict[str, Any] = {
        "@context": [V2],
        "id": "urn:uuid:4b2e6c77-3c8e-4bb1-9b9f-2a3b7d1d5c01",
        "type": ["VerifiableCredential"],
        "issuer": issuer,
        "validFrom": "2025-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:alice", "name": "Alice"},
    }
    cred.update(fields)
    return cred


def failed(result: VerificationResult) -> dict[str, str | None]:
    return {c.name: c.code for c in result.checks if not c.passed}


NOW = at("2025-06-01T00:00:00Z")


# --- parsing and alg -----------------------------------------------------------------------------


def unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}.c2ln"


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_alg_none_is_refused(alg: str) -> None:
    with pytest.raises(JwtAlgNoneError):
        jose.parse_jws(unsigned({"alg": alg}, {"vc": {}}))


@pytest.mark.parametrize("alg", ["HS256", "ES512", "RS512", "EdDSA25519", "foo"])
def test_unknown_alg_is_refused(alg: str) -> None:
    with pytest.raises(UnsupportedJwtAlgError) as info:
        jose.parse_jws(unsigned({"alg": alg}, {}))
    assert info.value.code == "JWT_ALG_UNSUPPORTED"


@pytest.mark.parametrize(
    "text", ["", "a.b", "a.b.c.d", "!!.e30.c2ln", f"{b64(b'[1]')}.e30.c2ln", "e30.W10.c2ln"]
)
def test_malformed_tokens(text: str) -> None:
    with pytest.raises((MalformedJwsError, JwtAlgNoneError)) as info:
        jose.parse_jws(text)
    assert info.value.code == "MALFORMED_JWS"


def test_sd_jwt_is_named_unsupported() -> None:
    with pytest.raises(UnsupportedFormatError):
        jose.parse_jws((OB3JWT / "waltid-extracted/waltid-ob-vc11-eddsa-didkey.sd-jwt").read_text())


async def test_alg_none_through_the_verifier() -> None:
    result = await verify(unsigned({"alg": "none", "typ": "JWT"}, {"vc": {}}), now=NOW)
    assert not result.verified and failed(result) == {"format": "JWT_ALG_NONE"}
    assert result.exit_code() == 1


def test_alg_that_does_not_fit_the_key(key: Ed25519Key) -> None:
    token = jose.sign_credential_jwt(credential(key.did), key, issued_at=NOW())
    _header, payload, signature = token.split(".")
    for alg in ("ES256", "RS256", "PS256"):
        forged = b64(json.dumps({"alg": alg, "kid": key.verification_method}).encode())
        parsed = jose.parse_jws(f"{forged}.{payload}.{signature}")
        _did, did_key = jose.did_key_from_kid(key.verification_method) or ("", None)
        assert did_key is not None
        with pytest.raises(JwtAlgKeyMismatchError):
            jose.verify_signature(parsed, did_key)


def test_es256_with_a_p384_key_is_a_mismatch() -> None:
    p384 = ECKey.generate_key("P-384")
    token = sign_raw({"alg": "ES384"}, {"a": 1}, p384)
    _h, payload, signature = token.split(".")
    forged = f"{b64(json.dumps({'alg': 'ES256'}).encode())}.{payload}.{signature}"
    with pytest.raises(JwtAlgKeyMismatchError):
        jose.verify_signature(jose.parse_jws(forged), p384)


# --- keys ----------------------------------------------------------------------------------------


def test_jwk_with_private_members_is_refused(key: Ed25519Key) -> None:
    private = okp(key).as_dict(private=True)
    with pytest.raises(JwkPrivateKeyError) as info:
        jose.import_public_jwk(private)
    assert info.value.code == "JWK_PRIVATE_KEY" and info.value.extra["members"] == ["d"]
    rsa = RSAKey.generate_key(2048).as_dict(private=True)
    with pytest.raises(JwkPrivateKeyError):
        jose.import_public_jwk(rsa)


async def test_private_jwk_header_through_the_verifier(key: Ed25519Key) -> None:
    header = {"alg": "EdDSA", "jwk": okp(key).as_dict(private=True)}
    payload = {"iss": key.did, "vc": {**credential(key.did), "@context": [V1],
               "issuanceDate": "2025-01-01T00:00:00Z"}}  # fmt: skip
    del payload["vc"]["validFrom"]
    result = await verify(sign_raw(header, payload, okp(key)), now=NOW)
    assert failed(result)["proof"] == "JWK_PRIVATE_KEY"


def test_short_rsa_and_symmetric_keys_are_refused() -> None:
    from vc_issuer.errors import InvalidKeyError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # joserfc warns about the short key it generates
        short = RSAKey.generate_key(1024).as_dict(private=False)
    with pytest.raises(InvalidKeyError):
        jose.import_public_jwk(short)
    with pytest.raises(UnsupportedJwtAlgError):
        jose.import_public_jwk({"kty": "oct", "k": "c2VjcmV0"})


def test_multikey_decoding_ed25519_p256_p384() -> None:
    ed = jose.import_multikey("z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp")
    assert ed.key_type == "OKP"
    p256 = jose.import_multikey("zDnaerWCDSGdmNEtAQ8HtuPUKGKNERSBFwjrBSktbgzxxhF2B")
    assert p256.key_type == "EC" and p256.as_dict()["crv"] == "P-256"
    keys = load(FIX / "open-badges-3.0-jwt/keys.json")["keys"]
    expected = keys["waltid-extracted/waltid-ob-vc11-es256-didkey-p256.jwt"]["publicKeyJwk"]
    assert {k: p256.as_dict()[k] for k in ("x", "y")} == {k: expected[k] for k in ("x", "y")}


def test_kid_fragment_naming_another_key() -> None:
    a = "z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"
    b = "z6Mkp7AVwvWxnsNDuSSbf19sgKzrx223WY95AqZyAGifFVyV"
    with pytest.raises(JwtKidMismatchError):
        jose.did_key_from_kid(f"did:key:{a}#{b}")


async def test_kid_resolving_to_another_key_than_the_header_jwk(key: Ed25519Key) -> None:
    other = Ed25519Key.from_seed(bytes(32))
    header = {"alg": "EdDSA", "kid": other.verification_method, "jwk": okp(key).as_dict()}
    token = sign_raw(header, {"iss": key.did, "sub": "did:example:alice",
                              "vc": v1_credential(key.did)}, okp(key))  # fmt: skip
    result = await verify(token, now=NOW)
    assert failed(result)["proof"] == "JWT_KID_MISMATCH"


async def test_kid_resolving_to_another_key_fails_the_signature(key: Ed25519Key) -> None:
    other = Ed25519Key.from_seed(bytes(32))
    token = sign_raw(
        {"alg": "EdDSA", "kid": other.verification_method},
        {"iss": key.did, "vc": v1_credential(key.did)},
        okp(key),
    )
    result = await verify(token, now=NOW)
    assert failed(result)["proof"] == "PROOF_VERIFICATION_ERROR"


def v1_credential(issuer: str, **fields: Any) -> dict[str, Any]:
    cred = credential(issuer, **fields)
    cred["@context"] = [V1]
    cred["issuanceDate"] = cred.pop("validFrom")
    return cred


# --- claims --------------------------------------------------------------------------------------


def claims_for(k: Ed25519Key, cred: dict[str, Any]) -> dict[str, Any]:
    return {"iss": k.did, "sub": "did:example:alice", "jti": cred["id"], "nbf": 1735689600}


@pytest.mark.parametrize(
    ("claim", "value", "code"),
    [
        ("iss", "did:example:someone-else", "JWT_ISS_MISMATCH"),
        ("sub", "did:example:bob", "JWT_SUB_MISMATCH"),
        ("jti", "urn:uuid:other", "JWT_JTI_MISMATCH"),
        ("nbf", 1735689601, "JWT_NBF_MISMATCH"),
        ("exp", 1893456000, "JWT_EXP_MISMATCH"),
    ],
)
@pytest.mark.parametrize("form", ["vc-jwt", "vc-jose"])
async def test_claims_disagreeing_with_the_credential(
    key: Ed25519Key, form: str, claim: str, value: Any, code: str
) -> None:
    cred = credential(key.did, validUntil="2031-01-01T00:00:00Z")
    if form == "vc-jwt":
        cred = v1_credential(key.did, expirationDate="2031-01-01T00:00:00Z")
    claims = claims_for(key, cred) | {"exp": 1924992000, claim: value}
    if form == "vc-jwt":
        header, payload = {"alg": "EdDSA", "typ": "JWT"}, {**claims, "vc": cred}
    else:
        header, payload = {"alg": "EdDSA", "typ": "vc+jwt"}, {**cred, **claims}
    header["kid"] = key.verification_method
    result = await verify(sign_raw(header, payload, okp(key)), now=NOW)
    assert not result.verified
    assert failed(result)["claims"] == code
    assert result.checks[failed_index(result, "claims")].detail
    assert result.format == form


def failed_index(result: VerificationResult, name: str) -> int:
    return next(i for i, c in enumerate(result.checks) if c.name == name)


async def test_vc11_fields_are_filled_from_claims(key: Ed25519Key) -> None:
    cred = v1_credential(key.did)
    for name in ("id", "issuer"):
        del cred[name]
    del cred["credentialSubject"]["id"]
    token = sign_raw(
        {"alg": "EdDSA", "kid": key.verification_method},
        {**claims_for(key, {"id": "urn:uuid:x"}), "vc": cred},
        okp(key),
    )
    result = await verify(token, now=NOW)
    assert result.verified, result.to_dict()
    assert result.document["issuer"] == key.did and result.document["id"] == "urn:uuid:x"
    assert result.document["credentialSubject"]["id"] == "did:example:alice"


@pytest.mark.parametrize(
    ("header", "payload_change", "code"),
    [
        ({"typ": "bad+typ"}, {}, "JWT_MEDIA_TYPE"),
        ({"typ": "vc+jwt", "cty": "bad+cty"}, {}, "JWT_MEDIA_TYPE"),
        ({"typ": "vp+jwt"}, {}, "JWT_MEDIA_TYPE"),
        ({"typ": "vc+jwt"}, {"vc": "oops"}, "JWT_FORMAT_ERROR"),
        ({"typ": "JWT"}, {"@context": [V1]}, "JWT_FORMAT_ERROR"),
    ],
)
async def test_envelope_rules(
    key: Ed25519Key, header: dict[str, Any], payload_change: dict[str, Any], code: str
) -> None:
    payload = {**credential(key.did), **payload_change}
    token = sign_raw({"alg": "EdDSA", "kid": key.verification_method, **header}, payload, okp(key))
    result = await verify(token, now=NOW)
    assert failed(result) == {"format": code}


async def test_vc2_inside_a_vc_claim_is_invalid() -> None:
    token = (OB3JWT / "waltid-extracted/waltid-ob-vc2-eddsa-didkey.sd-jwt").read_text()
    with pytest.raises(UnsupportedFormatError):  # SD-JWT; the JWS part alone:
        jose.parse_jws(token)
    with pytest.raises(JwtFormatError, match=r"VC 1\.1"):
        jose.decode_document(jose.parse_jws(token.split("~")[0]))


# --- round trips: what we issue ------------------------------------------------------------------


@pytest.mark.parametrize("version", ["2.0", "1.1"])
async def test_issue_and_verify_round_trip(key: Ed25519Key, version: str) -> None:
    cred = credential(key.did) if version == "2.0" else v1_credential(key.did)
    token = jose.sign_credential_jwt(cred, key, issued_at=NOW())
    parsed = jose.parse_jws(token)
    assert parsed.header == {
        "alg": "EdDSA",
        "typ": "vc+jwt" if version == "2.0" else "JWT",
        **({"cty": "vc"} if version == "2.0" else {}),
        "kid": key.verification_method,
    }
    assert parsed.payload["iss"] == key.did and parsed.payload["nbf"] == 1735689600
    result = await verify(token, now=NOW)
    assert result.verified, result.to_dict()
    assert result.format == ("vc-jose" if version == "2.0" else "vc-jwt")
    assert [c.name for c in result.checks] == [
        "structure", "format", "claims", "proof", "issuer", "validity",
    ]  # fmt: skip
    assert result.document == cred
    # every claim of the payload is covered by the signature
    header, payload, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=="))
    target = body if version == "2.0" else body["vc"]
    target["credentialSubject"]["name"] = "Mallory"
    tampered = f"{header}.{b64(json.dumps(body).encode())}.{signature}"
    bad = await verify(tampered, now=NOW)
    assert failed(bad) == {"proof": "PROOF_VERIFICATION_ERROR"}


async def test_enveloped_credential_and_presentation(key: Ed25519Key) -> None:
    token = jose.sign_credential_jwt(credential(key.did), key, issued_at=NOW())
    enveloped = jose.envelope(token)
    assert enveloped["id"].startswith("data:application/vc+jwt,eyJ")
    assert (await verify(enveloped, now=NOW)).verified
    vp = {
        "@context": [V2],
        "type": ["VerifiablePresentation"],
        "verifiableCredential": [enveloped, {**enveloped, "id": "not-a-credential"}],
    }
    result = await verify(vp, now=NOW)
    assert result.kind == "presentation" and not result.verified
    assert result.credential_results[0].verified
    assert result.credential_results[1].codes() == ["INVALID_ENVELOPED_CREDENTIAL"]


async def test_expired_token_exp(key: Ed25519Key) -> None:
    cred = credential(key.did, validUntil="2025-02-01T00:00:00Z")
    token = jose.sign_credential_jwt(cred, key, issued_at=NOW())
    result = await verify(token, now=NOW)
    assert failed(result) == {"validity": "VALIDITY_PERIOD_ERROR"}


# --- third-party vectors -------------------------------------------------------------------------

WALTID_OK = [
    ("waltid-extracted/waltid-ob-vc11-eddsa-didkey.jwt", "2025-06-01T00:00:00Z"),
    ("waltid-extracted/waltid-ob-vc11-es256-didkey-p256.jwt", "2025-08-01T00:00:00Z"),
]


@pytest.mark.parametrize(("name", "now"), WALTID_OK)
async def test_waltid_tokens_verify(name: str, now: str) -> None:
    result = await verify((OB3JWT / name).read_text(), now=at(now))
    assert result.verified, result.to_dict()
    assert result.format == "vc-jwt"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("waltid-extracted/waltid-ob-vc11-eddsa-didkey.jwt", {"validity": "VALIDITY_PERIOD_ERROR"}),
        (
            "waltid-extracted/waltid-ob-vc11-eddsa-didkey.bad-signature.jwt",
            {"proof": "PROOF_VERIFICATION_ERROR", "validity": "VALIDITY_PERIOD_ERROR"},
        ),
        (
            # OB 3.0 §8.2.4.1: iss/sub must be the credential's issuer and subject
            "waltid-cli/openbadgecredential_sample.signed.json",
            {"claims": "JWT_ISS_MISMATCH", "issuer": "ISSUER_MISMATCH"},
        ),
        (
            "waltid-cli/openbadgecredential_sample.expired.signed.json",
            {
                "claims": "JWT_ISS_MISMATCH",
                "issuer": "ISSUER_MISMATCH",
                "validity": "VALIDITY_PERIOD_ERROR",
            },
        ),
        (
            "waltid-cli/openbadgecredential_sample.invalidnotbefore.signed.json",
            {
                "claims": "JWT_ISS_MISMATCH",
                "issuer": "ISSUER_MISMATCH",
                "validity": "VALIDITY_PERIOD_ERROR",
            },
        ),
        (
            "waltid-cli/openbadgecredential_sample.signed.badsignature.json",
            {"claims": "JWT_ISS_MISMATCH", "proof": "PROOF_VERIFICATION_ERROR"},
        ),
    ],
)
async def test_waltid_expectations_on_2026_12_06(name: str, expected: dict[str, str]) -> None:
    result = await verify((OB3JWT / name).read_text(), now=at("2026-12-06T00:00:00Z"))
    assert failed(result) == expected


ONE_EDTECH = [
    "1edtech-validator/extracted/simple-jwt.svg.jwt",
    "1edtech-validator/extracted/simple-jwt.png.jwt",
    "1edtech-validator/extracted/simple-jwt_v1.jwt",
    "1edtech-validator/clr20/simple.jwt",
]


@pytest.mark.parametrize("name", ONE_EDTECH)
async def test_1edtech_header_jwk_is_valid_but_unbound(name: str, vweb: VirtualWeb) -> None:
    """The signature verifies with the key in the token; nothing the issuer publishes lists
    it (its profile and jwks.json answer 404), so the issuer is not proven."""
    result = await verify(
        (OB3JWT / name).read_text(), now=at("2026-12-06T00:00:00Z"), fetcher=vweb.fetcher()
    )
    proof = next(c for c in result.checks if c.name == "proof")
    assert proof.passed and "jwk header" in (proof.detail or "")
    assert failed(result) == {"issuer": "ISSUER_KEY_NOT_BOUND"}
    if "sub" not in jose.parse_jws((OB3JWT / name).read_text()).payload:
        assert {"code": "JWT_CLAIM_MISSING", "detail": "the token has no sub claim"} in (
            result.warnings
        )


async def test_1edtech_header_jwk_bound_by_the_issuer_jwks(vweb: VirtualWeb) -> None:
    name = "1edtech-validator/extracted/simple-jwt.svg.jwt"
    jwk = load(OB3JWT / "keys.json")["keys"][name]["publicKeyJwk"]
    vweb.serve("https://1edtech.edu/.well-known/jwks.json", {"keys": [jwk]})
    result = await verify(
        (OB3JWT / name).read_text(), now=at("2026-12-06T00:00:00Z"), fetcher=vweb.fetcher()
    )
    assert result.verified, result.to_dict()
    issuer = next(c for c in result.checks if c.name == "issuer")
    assert "JWK Set https://1edtech.edu/.well-known/jwks.json" in (issuer.detail or "")
    # an entry naming another issuer does not count (OB 3.0 impl. guide, key provenance)
    vweb.serve(
        "https://1edtech.edu/.well-known/jwks.json",
        {"keys": [{**jwk, "iss": "https://1edtech.edu/issuers/other"}]},
    )
    again = await verify(
        (OB3JWT / name).read_text(), now=at("2026-12-06T00:00:00Z"), fetcher=vweb.fetcher()
    )
    assert failed(again) == {"issuer": "ISSUER_KEY_NOT_BOUND"}


async def test_1edtech_unreachable_issuer_is_an_environment_failure(vweb: VirtualWeb) -> None:
    name = "1edtech-validator/extracted/simple-jwt.svg.jwt"
    result = await verify(
        (OB3JWT / name).read_text(), now=NOW, fetcher=vweb.fetcher(allow_private=False)
    )
    assert failed(result) == {"issuer": "ISSUER_KEYS_UNAVAILABLE"}
    assert result.exit_code() == 3


async def test_token_without_kid_or_jwk(vweb: VirtualWeb) -> None:
    token = (OB3JWT / "1edtech-validator/ob30/simple.jwt").read_text()
    result = await verify(token, now=NOW, fetcher=vweb.fetcher())
    assert failed(result) == {"proof": "JWT_KEY_NOT_FOUND"}


async def test_velocity_kid_is_not_resolvable() -> None:
    token = (OB3JWT / "1edtech-validator/ob30/velocity.jwt").read_text()
    result = await verify(token, now=at("2026-12-06T00:00:00Z"))
    assert failed(result) == {"proof": "methodNotSupported"}


# --- W3C vc-jose-cose test suite -----------------------------------------------------------------


def controller_document() -> dict[str, Any]:
    """The suite's issuer https://example.issuer/vc-jose-cose with its public keys."""
    methods = []
    for name in ("vm-p256.json", "vm-p384.json", "vm-ed25519.json"):
        vm = load(JOSE / name)
        methods.append({k: v for k, v in vm.items() if k != "secretKeyJwk"})
    ids = [vm["id"] for vm in methods]
    return {
        "@context": ["https://www.w3.org/ns/cid/v1"],
        "id": "https://example.issuer/vc-jose-cose",
        "verificationMethod": methods,
        "assertionMethod": ids,
        "authentication": ids,
    }


JOSE_CASES = {
    # test-mapping number: (input, expected failed checks; {} = verified)
    6: ("credential-jose-minimal.txt", {}),
    8: ("credential-issuer-match-signed.txt", {}),
    9: ("credential-jose-unknown-extensions.txt", {"format": "JWT_ALG_UNSUPPORTED"}),
    12: ("credential-jose-bad-signature.txt", {"proof": "PROOF_VERIFICATION_ERROR"}),
    13: ("credential-jose-bad-media-type.txt", {"format": "JWT_MEDIA_TYPE"}),
    14: ("presentation-jose-bad-media-type.txt", {"format": "JWT_MEDIA_TYPE"}),
    15: ("credential-jose-vc-vp-claims.txt", {"format": "JWT_FORMAT_ERROR"}),
    16: ("presentation-jose-bad-credential.txt", {"credential": "INVALID_ENVELOPED_CREDENTIAL"}),
}


@pytest.mark.parametrize("number", sorted(JOSE_CASES))
async def test_vc_jose_cose_suite(number: int, vweb: VirtualWeb) -> None:
    name, expected = JOSE_CASES[number]
    table = {t["number"]: t for t in load(FIX / "vc-jose-cose/expected-results.json")["tests"]}
    assert table[number]["input_file"] == f"input/{name}"
    assert (table[number]["expected_result"] == "success") == (expected == {})
    vweb.serve("https://example.issuer/vc-jose-cose", controller_document())
    result = await verify(
        (JOSE / name).read_text(), now=at("2024-12-16T00:00:00Z"), fetcher=vweb.fetcher()
    )
    assert failed(result) == expected, result.to_dict()


async def test_vc_jose_cose_presentation_with_three_envelopes(vweb: VirtualWeb) -> None:
    """Case 7: the presentation and its vc+jwt credential verify; the SD-JWT and COSE
    credentials inside are named, not verified (UNSUPPORTED_FORMAT), so the whole fails."""
    vweb.serve("https://example.issuer/vc-jose-cose", controller_document())
    result = await verify(
        (JOSE / "presentation-jose-multiple.txt").read_text(),
        now=at("2024-12-16T00:00:00Z"),
        fetcher=vweb.fetcher(),
    )
    assert result.kind == "presentation" and result.format == "vc-jose"
    passed = {c.name for c in result.checks if c.passed}
    assert {"structure", "format", "proof", "holder", "validity"} <= passed
    assert [r.verified for r in result.credential_results] == [True, False, False]
    assert [r.codes() for r in result.credential_results[1:]] == [
        ["UNSUPPORTED_FORMAT"],
        ["UNSUPPORTED_FORMAT"],
    ]
    late = await verify(
        (JOSE / "presentation-jose-multiple.txt").read_text(),
        now=at("2025-01-01T00:00:00Z"),
        fetcher=vweb.fetcher(),
    )
    assert failed(late)["validity"] == "VALIDITY_PERIOD_ERROR"  # exp 2024-12-17


async def test_unsecured_json_is_not_verified() -> None:
    """Cases 10 and 11: a credential with no proof and no envelope."""
    result = await verify(load(JOSE / "credential-minimal.json"), now=NOW)
    assert not result.verified


async def test_kid_naming_no_issuer_key(vweb: VirtualWeb) -> None:
    doc = controller_document()
    doc["verificationMethod"] = doc["verificationMethod"][:1]
    doc["assertionMethod"] = doc["authentication"] = [doc["verificationMethod"][0]["id"]]
    vweb.serve("https://example.issuer/vc-jose-cose", doc)
    result = await verify(
        (JOSE / "credential-issuer-match-signed.txt").read_text(),
        now=NOW,
        fetcher=vweb.fetcher(),
    )
    assert failed(result) == {"proof": "JWT_KEY_NOT_FOUND"}


def test_trusted_keys_in_a_copy_are_not_mutated() -> None:
    doc = controller_document()
    before = copy.deepcopy(doc)
    jose.key_of_verification_method(doc["verificationMethod"][0])
    assert doc == before


def test_fixture_paths_exist() -> None:
    assert Path(JOSE / "vm-p256.json").is_file() and (OB3JWT / "keys.json").is_file()
    assert isinstance(datetime.now(UTC), datetime)


async def test_jwt_presentation_challenge_and_domain(key: Ed25519Key) -> None:
    """A VC-JWT 1.1 presentation (``vp`` claim, credentials as JWS strings) signed by its
    holder: ``nonce``/``aud`` answer the verifier's challenge and domain."""
    holder = Ed25519Key.from_seed(bytes(32))
    vc_token = jose.sign_credential_jwt(v1_credential(key.did), key, issued_at=NOW())
    vp = {
        "@context": [V1],
        "type": ["VerifiablePresentation"],
        "verifiableCredential": [vc_token],
    }
    token = sign_raw(
        {"alg": "EdDSA", "typ": "JWT", "kid": holder.verification_method},
        {"iss": holder.did, "nonce": "c0ffee", "aud": "verifier.example", "vp": vp},
        okp(holder),
    )
    result = await verify(token, challenge="c0ffee", domain="verifier.example", now=NOW)
    assert result.verified, result.to_dict()
    assert result.kind == "presentation" and result.format == "vc-jwt"
    assert {c.name for c in result.checks} >= {"holder", "challenge", "domain", "credential"}
    assert result.credential_results[0].format == "vc-jwt"
    wrong = await verify(token, challenge="other", domain="elsewhere.example", now=NOW)
    assert failed(wrong) == {
        "challenge": "INVALID_CHALLENGE_ERROR",
        "domain": "INVALID_DOMAIN_ERROR",
    }
    # signed by someone who is not the holder it names
    forged = sign_raw(
        {"alg": "EdDSA", "kid": key.verification_method}, {"iss": holder.did, "vp": vp}, okp(key)
    )
    result = await verify(forged, now=NOW)
    assert failed(result) == {"holder": "HOLDER_MISMATCH"}
