"""Open Badges 2.0 (issue 11, item 3): hosted and signed assertions, baked images, recipients.

The 1EdTech validator's fixtures are served by a real local HTTPS/HTTP server under the names
they use (url-map.json: example.org, www.example.org), and fetched by the project's SafeFetcher;
only DNS is virtual (tests/vc_issuer/_web.py). ``allow_private=False`` is production policy:
the virtual hosts resolve to 127.0.0.1, which must then be refused.
"""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from joserfc import jws
from joserfc.jwk import RSAKey

from vc_issuer.badges import ob2
from vc_issuer.badges.baking import (
    ITxt,
    bake_png,
    baked_payload,
    default_badge_png,
    encode_png,
    parse_png,
)
from vc_issuer.badges.recipient import check_recipient, identity_hash
from vc_issuer.badges.verify import verify_input
from vc_issuer.errors import (
    NoRecipientIdentityError,
    RecipientMismatchError,
    UnknownHashAlgorithmError,
)
from vc_issuer.services.verifier import VerificationResult

from ._helpers import FIX, load
from ._web import VirtualWeb

OB2 = FIX / "open-badges-2.0"
VALIDATOR = OB2 / "1edtech-validator-ob20"
ASSETS = VALIDATOR / "assets"
HOSTED = "https://example.org/beths-robotics-badge.json"
NOW = datetime(2026, 12, 6, tzinfo=UTC)
EMAIL = "nobody@example.org"


@pytest.fixture
def vweb(vweb: VirtualWeb) -> VirtualWeb:
    """The 1EdTech validator's virtual web (url-map.json)."""
    for path in ASSETS.iterdir():
        for base in ("https://example.org/", "http://example.org/", "https://www.example.org/"):
            vweb.serve_file(base + path.name, path)
    return vweb


async def check(
    vweb: VirtualWeb, source: Any, *, allow_private: bool = True, email: str | None = None
) -> VerificationResult:
    return await verify_input(
        source,
        fetcher=vweb.fetcher(allow_private=allow_private),
        now=lambda: NOW,
        recipient_email=email,
    )


def failed(result: VerificationResult) -> dict[str, str | None]:
    return {c.name: c.code for c in result.checks if not c.passed}


def warned(result: VerificationResult) -> list[str]:
    return [w["code"] for w in result.warnings]


# --- the 1EdTech fixtures, case by case (expected-results.json) ----------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("simple.jwt", {}),
        ("simple-not-revoked.jwt", {}),
        ("simple-revoked.jwt", {"revocation": "CREDENTIAL_REVOKED"}),
    ],
)
async def test_signed_assertions(vweb: VirtualWeb, name: str, expected: dict[str, str]) -> None:
    result = await check(vweb, (VALIDATOR / name).read_text(), email=EMAIL)
    assert result.format == "ob2-signed"
    assert failed(result) == expected, result.to_dict()
    assert [c.name for c in result.checks] == [
        "structure", "badge", "issuer", "proof", "validity", "revocation", "recipient",
    ]  # fmt: skip
    proof = next(c for c in result.checks if c.name == "proof")
    assert proof.passed and "http://example.org/key" in (proof.detail or "")
    if expected:
        revoked = next(e for e in result.errors if e["check"] == "revocation")
        assert revoked["revocationReason"] == "A good reason, for sure"
    assert result.notes and "Open Badges 2.0" in result.notes[0]


async def test_signature_only_verifies_with_its_own_key(vweb: VirtualWeb) -> None:
    # simple.jwt names key1; serve key2's PEM under key1's URL (same owner): signature fails
    key1 = load(ASSETS / "key1.json")
    key1["publicKeyPem"] = load(ASSETS / "key2.json")["publicKeyPem"]
    vweb.serve("http://example.org/key1.json", key1)
    result = await check(vweb, (VALIDATOR / "simple.jwt").read_text())
    assert failed(result) == {"proof": "PROOF_VERIFICATION_ERROR"}


HOSTED_CASES: list[tuple[str, dict[str, str], list[str]]] = [
    ("basic-assertion.json", {}, []),
    ("basic-assertion-no-public-key.json", {}, []),
    ("basic-assertion-with-language.json", {}, []),
    ("assertion-with-endorsements.json", {}, []),
    ("basic-assertion-expired.json", {"validity": "VALIDITY_PERIOD_ERROR"}, []),
    ("basic-assertion-expired-before-issued.json", {"validity": "VALIDITY_PERIOD_ERROR"}, []),
    ("basic-assertion-in-future.json", {"validity": "VALIDITY_PERIOD_ERROR"}, []),
    ("basic-assertion-invalid-context.json", {"structure": "OB2_INVALID_DOCUMENT"}, []),
    ("basic-assertion-invalid-type.json", {"structure": "OB2_INVALID_DOCUMENT"}, []),
    ("assertion-with-data-image.json", {"structure": "OB2_INVALID_DOCUMENT"}, []),
    # the issuer's verification policy (allowedOrigins / startsWith); the issuers declare ids
    # without ".json" but are linked and served with it: a warning, as the validators do
    ("basic-assertion-with-allowed-origins.json", {}, ["OB2_ID_MISMATCH"]),
    ("basic-assertion-with-allowed-origins-valid-starts-with.json", {}, ["OB2_ID_MISMATCH"]),
    (
        "basic-assertion-with-allowed-origins-invalid-starts-with.json",
        {"scope": "OB2_VERIFICATION_SCOPE"},
        ["OB2_ID_MISMATCH"],
    ),
    (
        "basic-assertion-with-allowed-origins-valid-multiple-starts-with.json",
        {},
        ["OB2_ID_MISMATCH"],
    ),
    (
        "basic-assertion-with-allowed-origins-invalid-multiple-starts-with.json",
        {"scope": "OB2_VERIFICATION_SCOPE"},
        ["OB2_ID_MISMATCH"],
    ),
    ("warning-with-redirection.json", {}, ["OB2_ID_MISMATCH"]),
    # bad-issuer.json declares a urn:uuid id: not its URL, and not a host to check against
    ("warning-issuer-non-http.json", {}, ["OB2_ID_MISMATCH", "OB2_SCOPE_NOT_CHECKED"]),
]


@pytest.mark.parametrize(("name", "expected", "warnings_"), HOSTED_CASES)
async def test_hosted_assertions(
    vweb: VirtualWeb, name: str, expected: dict[str, str], warnings_: list[str]
) -> None:
    document = load(VALIDATOR / name)
    vweb.serve(document["id"], document)
    # given as its JSON (the hosted copy is what counts) and as its URL
    for source in (json.dumps(document), document["id"]):
        result = await check(vweb, source)
        assert result.format == "ob2-hosted"
        assert failed(result) == expected, result.to_dict()
        assert sorted(set(warned(result))) == warnings_


async def test_baked_png_with_a_hosted_assertion(vweb: VirtualWeb) -> None:
    png = (VALIDATOR / "simple-badge.png").read_bytes()
    assert baked_payload(png).version == "ob2"
    vweb.serve(HOSTED, load(VALIDATOR / "basic-assertion.json"))
    result = await check(vweb, png, email=EMAIL)
    assert result.verified, result.to_dict()
    assert result.format == "ob2-hosted"
    assert HOSTED in vweb.requests  # re-fetched from its URL, not trusted from the image


async def test_baked_png_with_a_bare_url_and_svg_assertion(vweb: VirtualWeb) -> None:
    vweb.serve(HOSTED, load(VALIDATOR / "basic-assertion.json"))
    chunks = parse_png(default_badge_png())
    text = ITxt(b"openbadges", HOSTED).encode()
    png = encode_png([*chunks[:-1], text, chunks[-1]])
    assert (await check(vweb, png)).verified
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="http://openbadges.org">'
        f'<openbadges:assertion verify="{HOSTED}"/></svg>'
    ).encode()
    result = await check(vweb, svg)
    assert result.verified and result.format == "ob2-hosted"
    signed = (VALIDATOR / "simple.jwt").read_text().strip()
    svg_signed = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="http://openbadges.org">'
        f'<openbadges:assertion verify="{signed}"></openbadges:assertion></svg>'
    ).encode()
    assert (await check(vweb, svg_signed)).format == "ob2-signed"


async def test_an_image_with_both_an_ob3_and_an_ob2_credential_is_ambiguous(
    vweb: VirtualWeb,
) -> None:
    png = bake_png(default_badge_png(), {"@context": ["https://www.w3.org/ns/credentials/v2"]})
    chunks = parse_png(png)
    both = encode_png([*chunks[:-1], ITxt(b"openbadges", HOSTED).encode(), chunks[-1]])
    with pytest.raises(Exception) as info:
        await check(vweb, both)
    assert getattr(info.value, "code", None) == "DUPLICATE_BAKED_CREDENTIAL"


# --- bad input -----------------------------------------------------------------------------------


async def test_id_differs_from_the_url(vweb: VirtualWeb) -> None:
    vweb.serve("https://example.org/copy.json", load(VALIDATOR / "basic-assertion.json"))
    result = await check(vweb, "https://example.org/copy.json")
    assert failed(result) == {"assertion": "OB2_ID_MISMATCH"}
    assert result.exit_code() == 1


async def test_redirect_to_another_origin(vweb: VirtualWeb) -> None:
    document = load(VALIDATOR / "basic-assertion.json")
    document["id"] = "https://example.org/moved.json"

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("https://example.com/elsewhere.json")

    vweb.serve("https://example.org/moved.json", moved)
    vweb.serve("https://example.com/elsewhere.json", document)
    result = await check(vweb, document)
    assert failed(result) == {"assertion": "OB2_CROSS_ORIGIN_REDIRECT"}


async def test_redirect_on_the_same_host_is_followed(vweb: VirtualWeb) -> None:
    document = load(VALIDATOR / "basic-assertion.json")

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("https://example.org/beths-robotics-badge.json")

    vweb.serve("https://example.org/old.json", moved)
    vweb.serve(HOSTED, document)
    result = await check(vweb, {**document, "id": HOSTED})
    assert result.verified, result.to_dict()


async def test_private_address_is_refused(vweb: VirtualWeb) -> None:
    vweb.serve(HOSTED, load(VALIDATOR / "basic-assertion.json"))
    result = await check(vweb, load(VALIDATOR / "basic-assertion.json"), allow_private=False)
    assert failed(result) == {"assertion": "FORBIDDEN_ADDRESS"}
    assert not any(url.startswith("https://example.org") for url in vweb.requests)
    # the same through the URL form of the input: refused before anything is fetched
    with pytest.raises(Exception) as info:
        await check(vweb, HOSTED, allow_private=False)
    assert getattr(info.value, "code", None) == "FORBIDDEN_ADDRESS"
    # and for a signed assertion, at its BadgeClass
    signed = await check(vweb, (VALIDATOR / "simple.jwt").read_text(), allow_private=False)
    assert failed(signed) == {"badge": "FORBIDDEN_ADDRESS"}


@pytest.mark.parametrize("status", [404, 500])
async def test_badgeclass_fetch_failure(vweb: VirtualWeb, status: int) -> None:
    vweb.serve(HOSTED, load(VALIDATOR / "basic-assertion.json"))
    vweb.serve("https://example.org/robotics-badge.json", (status, {}, b"no"))
    result = await check(vweb, HOSTED)
    assert failed(result) == {"badge": "OB2_FETCH_FAILED"}
    assert result.exit_code() == 3


async def test_issuer_fetch_failure(vweb: VirtualWeb) -> None:
    vweb.serve(HOSTED, load(VALIDATOR / "basic-assertion.json"))
    vweb.serve("https://example.org/organization.json", (404, {}, b""))
    result = await check(vweb, HOSTED)
    assert failed(result) == {"issuer": "OB2_FETCH_FAILED"}


async def test_issuer_that_is_not_json(vweb: VirtualWeb) -> None:
    vweb.serve(HOSTED, load(VALIDATOR / "basic-assertion.json"))
    vweb.serve("https://example.org/organization.json", b"<html>")
    result = await check(vweb, HOSTED)
    assert failed(result) == {"issuer": "OB2_FETCH_FAILED"}


async def test_gone_and_revoked_hosted_assertions(vweb: VirtualWeb) -> None:
    vweb.serve(HOSTED, (410, {}, b""))
    result = await check(vweb, HOSTED)
    assert failed(result) == {"assertion": "CREDENTIAL_REVOKED"}
    revoked = load(OB2 / "spec-examples/revoked-hosted-assertion.json")
    assert revoked["revoked"] is True
    vweb.serve(revoked["id"], revoked)
    result = await check(vweb, revoked["id"])
    assert failed(result) == {"revocation": "CREDENTIAL_REVOKED"}
    assert "trenchcoat" in (result.checks[0].detail or "")


async def test_hosted_assertion_listed_in_the_revocation_list(vweb: VirtualWeb) -> None:
    document = load(VALIDATOR / "basic-assertion.json")
    document["id"] = "https://example.org/beths-robotics-badge-revoked.json"
    document["badge"] = "https://example.org/badge-from-organization-with-revocation-list.json"
    vweb.serve(document["id"], document)
    result = await check(vweb, document["id"])
    assert failed(result) == {"revocation": "CREDENTIAL_REVOKED"}


async def test_spec_example_signed_assertion_key_not_linked(vweb: VirtualWeb) -> None:
    result = await check(vweb, (OB2 / "spec-examples/signed-assertion.jws").read_text())
    assert failed(result) == {"proof": "OB2_KEY_NOT_TRUSTED"}


async def test_not_an_assertion_url(vweb: VirtualWeb) -> None:
    result = await check(vweb, "https://example.org/robotics-badge.json")
    assert not result.verified
    assert failed(result) == {"assertion": "OB2_ID_MISMATCH"} or "structure" in failed(result)


# --- signed assertions made here (RSA key generated in the test) ---------------------------------


@pytest.fixture
def rsa() -> RSAKey:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return RSAKey.generate_key(2048)


def publish(vweb: VirtualWeb, rsa: RSAKey, *, owner: str | None = None) -> dict[str, Any]:
    """An issuer on https://badges.example with one RSA key, a BadgeClass and an assertion."""
    base = "https://badges.example"
    issuer = {
        "@context": "https://w3id.org/openbadges/v2",
        "type": "Issuer",
        "id": f"{base}/issuer.json",
        "name": "Badges Example",
        "url": base,
        "publicKey": f"{base}/key.json",
        "revocationList": f"{base}/revoked.json",
    }
    pem = rsa.as_pem(private=False)
    vweb.serve(issuer["id"], issuer)
    vweb.serve(
        f"{base}/key.json",
        {
            "@context": "https://w3id.org/openbadges/v2",
            "type": "CryptographicKey",
            "id": f"{base}/key.json",
            "owner": owner or issuer["id"],
            "publicKeyPem": pem.decode() if isinstance(pem, bytes) else pem,
        },
    )
    vweb.serve(
        f"{base}/badge.json",
        {
            "@context": "https://w3id.org/openbadges/v2",
            "type": "BadgeClass",
            "id": f"{base}/badge.json",
            "name": "Signed Badge",
            "description": "d",
            "image": f"{base}/b.png",
            "criteria": {"narrative": "n"},
            "issuer": issuer["id"],
        },
    )
    vweb.serve(f"{base}/revoked.json", {"revokedAssertions": ["urn:uuid:revoked"]})
    return {
        "@context": "https://w3id.org/openbadges/v2",
        "type": "Assertion",
        "id": "urn:uuid:1f0e0f7e-5b4e-4a5e-9c0c-0b7b1c2d3e4f",
        "recipient": {"type": "email", "hashed": True, "salt": "s",
                      "identity": identity_hash("sha256", "ada@example.org", "s")},
        "badge": f"{base}/badge.json",
        "issuedOn": "2024-01-01T00:00:00Z",
        "verification": {"type": "signed", "creator": f"{base}/key.json"},
    }  # fmt: skip


def rs256(payload: dict[str, Any], key: RSAKey) -> str:
    return jws.serialize_compact({"alg": "RS256"}, json.dumps(payload).encode(), key)


async def test_our_signed_assertion(vweb: VirtualWeb, rsa: RSAKey) -> None:
    assertion = publish(vweb, rsa)
    result = await check(vweb, rs256(assertion, rsa), email="Ada@Example.org")
    assert result.verified, result.to_dict()
    assert result.document["badge"]["issuer"]["name"] == "Badges Example"
    revoked = await check(vweb, rs256({**assertion, "id": "urn:uuid:revoked"}, rsa))
    assert failed(revoked) == {"revocation": "CREDENTIAL_REVOKED"}


async def test_signed_assertion_tampered(vweb: VirtualWeb, rsa: RSAKey) -> None:
    token = rs256(publish(vweb, rsa), rsa)
    header, payload, signature = token.split(".")
    other = rs256({"x": 1}, rsa).split(".")[1]
    result = await check(vweb, f"{header}.{payload}.{signature}")
    assert result.verified
    tampered = await check(vweb, f"{header}.{other}.{signature}")
    assert not tampered.verified


async def test_signed_assertion_key_owned_by_another_issuer(vweb: VirtualWeb, rsa: RSAKey) -> None:
    assertion = publish(vweb, rsa, owner="https://badges.example/someone-else.json")
    result = await check(vweb, rs256(assertion, rsa))
    assert failed(result) == {"proof": "OB2_KEY_NOT_TRUSTED"}


async def test_signed_assertion_creator_not_linked(vweb: VirtualWeb, rsa: RSAKey) -> None:
    assertion = publish(vweb, rsa)
    assertion["verification"]["creator"] = "https://badges.example/other-key.json"
    result = await check(vweb, rs256(assertion, rsa))
    assert failed(result) == {"proof": "OB2_KEY_NOT_TRUSTED"}


async def test_signed_assertion_with_alg_none(vweb: VirtualWeb, rsa: RSAKey) -> None:
    import base64

    assertion = publish(vweb, rsa)
    b64 = lambda d: base64.urlsafe_b64encode(d).rstrip(b"=").decode()  # noqa: E731
    header = b64(json.dumps({"alg": "none"}).encode())
    token = f"{header}.{b64(json.dumps(assertion).encode())}.c2ln"
    result = await check(vweb, token)
    assert failed(result) == {"structure": "JWT_ALG_NONE"}


# --- recipient -----------------------------------------------------------------------------------


def test_recipient_hashes() -> None:
    facts = load(OB2 / "expected-results.json")["recipient_identity"]
    assertion = load(VALIDATOR / "basic-assertion.json")
    assert identity_hash("sha256", facts["plaintext"], facts["salt"]) == facts["identity"]
    assert "awarded to nobody@example.org" in check_recipient(assertion, EMAIL)
    assert check_recipient(assertion, "  NOBODY@example.org ")  # trimmed, lowercased
    with pytest.raises(RecipientMismatchError) as info:
        check_recipient(assertion, "other@example.org")
    assert info.value.code == "RECIPIENT_MISMATCH"
    spec = load(OB2 / "expected-results.json")["spec_example_hashes"][0]
    unsalted = {"recipient": {"type": "email", "hashed": True, "identity": spec["identity"]}}
    assert check_recipient(unsalted, spec["plaintext"])


def test_recipient_md5_plaintext_and_unknown_algorithm() -> None:
    md5 = {"recipient": {"type": "email", "hashed": True, "salt": "x",
                         "identity": identity_hash("md5", "a@b.org", "x").upper()}}  # fmt: skip
    md5["recipient"]["identity"] = "md5$" + md5["recipient"]["identity"][4:]
    assert check_recipient(md5, "a@b.org")
    plain = {"recipient": {"type": "email", "hashed": False, "identity": "a@b.org"}}
    assert "plain text" in check_recipient(plain, "A@B.org")
    for identity in ("sha512$abcd", "sha1$abcd", "abcd"):
        unknown = {"recipient": {"type": "email", "hashed": True, "identity": identity}}
        with pytest.raises(UnknownHashAlgorithmError) as info:
            check_recipient(unknown, "a@b.org")
        assert info.value.code == "UNKNOWN_HASH_ALGORITHM"
    with pytest.raises(NoRecipientIdentityError):
        check_recipient({"recipient": {"type": "url", "identity": "https://x"}}, "a@b.org")


def test_ob3_identity_object() -> None:
    """OB 3.0 IdentityHash example: "a@example.com" with salt "Kosher"."""
    credential = {
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityHash": "sha256$b5809d8a92f8858436d7e6b87c12eb"
                    "c0ae1eac4baecc2c0b913aee2c922ef399",
                    "identityType": "emailAddress",
                    "hashed": True,
                    "salt": "Kosher",
                }
            ],
        }
    }
    assert "credentialSubject[0].identifier[0]" in check_recipient(credential, "a@example.com")
    with pytest.raises(RecipientMismatchError):
        check_recipient(credential, "b@example.com")


async def test_recipient_check_in_the_report(vweb: VirtualWeb) -> None:
    vweb.serve(HOSTED, load(VALIDATOR / "basic-assertion.json"))
    ok = await check(vweb, HOSTED, email=EMAIL)
    assert ok.verified and ok.checks[-1].name == "recipient" and ok.checks[-1].passed
    no = await check(vweb, HOSTED, email="other@example.org")
    assert failed(no) == {"recipient": "RECIPIENT_MISMATCH"} and not no.verified
    vweb.serve(HOSTED, {**load(VALIDATOR / "basic-assertion.json"),
                        "recipient": {"type": "email", "hashed": True,
                                      "identity": "sha512$00"}})  # fmt: skip
    bad = await check(vweb, HOSTED, email=EMAIL)
    assert failed(bad) == {"recipient": "UNKNOWN_HASH_ALGORITHM"}


def test_ob2_detection() -> None:
    assert ob2.is_ob2(load(VALIDATOR / "basic-assertion.json"))
    assert ob2.is_ob2(load(VALIDATOR / "basic-assertion-invalid-context.json"))
    assert not ob2.is_ob2({"@context": [{"x": 1}], "type": "VerifiableCredential"})
