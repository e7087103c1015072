"""The W3C VC API routes against a real server: issue, verify, presentations, status, read."""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import quote

import pytest

from vc_issuer.core.keys import Ed25519Key
from vc_issuer.core.proofs import sign

from .conftest import V1, V2, Env, EnvFactory, load_fixture

PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


async def assert_problem(resp: Any, status: int | tuple[int, ...], code: str | None = None) -> Any:
    statuses = (status,) if isinstance(status, int) else status
    body = await resp.json(content_type=None)
    assert resp.status in statuses, body
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    assert set(body) >= PROBLEM_KEYS, body
    assert body["status"] == resp.status
    if code is not None:
        assert body["code"] == code, body
    return body


# --- issue ---------------------------------------------------------------------------------------


async def test_issue_vc2_returns_201_signed_with_status(env: Env) -> None:
    resp = await env.client.post(
        "/credentials/issue", json={"credential": env.credential()}, headers=env.auth("issue")
    )
    assert resp.status == 201
    assert resp.headers["Content-Type"].startswith("application/json")
    vc = (await resp.json())["verifiableCredential"]
    assert vc["issuer"] == env.did
    assert vc["id"].startswith("urn:uuid:")
    assert "validFrom" in vc
    assert vc["proof"]["type"] == "DataIntegrityProof"
    assert vc["proof"]["cryptosuite"] == "eddsa-rdfc-2022"
    purposes = sorted(e["statusPurpose"] for e in vc["credentialStatus"])
    assert purposes == ["revocation", "suspension"]
    for entry in vc["credentialStatus"]:
        assert entry["type"] == "BitstringStatusListEntry"
        assert entry["statusListCredential"].startswith(env.base_url + "/status-lists/")
        assert isinstance(entry["statusListIndex"], str)
    assert resp.headers["Location"] == "/credentials/" + quote(vc["id"], safe="")


async def test_issue_vc11_gets_statuslist2021_when_asked(env: Env) -> None:
    cred = load_fixture("interop", "vc1-degree.unsigned.json")
    cred["issuer"] = env.did
    vc = await env.issue(cred, status=True)
    assert vc["@context"][0] == V1
    assert vc["issuanceDate"] == "2024-03-01T12:00:00Z"
    assert {e["type"] for e in vc["credentialStatus"]} == {"StatusList2021Entry"}
    resp = await env.client.post("/credentials/verify", json={"verifiableCredential": vc})
    assert resp.status == 200, await resp.text()


async def test_issue_open_badge_keeps_issuer_profile(env: Env) -> None:
    cred = load_fixture("interop", "vc2-ob303-eddsa-rdfc-2022.unsigned.json")
    cred["issuer"]["id"] = env.did
    del cred["id"]
    cred.pop("credentialStatus", None)  # the fixture's list lives on example.com
    vc = await env.issue(cred)
    assert vc["issuer"] == {"id": env.did, "type": ["Profile"], "name": "Example Corp"}
    resp = await env.client.post("/credentials/verify", json={"verifiableCredential": vc})
    body = await resp.json()
    assert resp.status == 200 and body["verified"] is True, body


async def test_issue_options(env: Env) -> None:
    vc = await env.issue(credentialId="urn:uuid:11111111-2222-3333-4444-555555555555")
    assert vc["id"] == "urn:uuid:11111111-2222-3333-4444-555555555555"

    vc = await env.issue(type="Ed25519Signature2020")
    assert vc["proof"]["type"] == "Ed25519Signature2020"

    vc = await env.issue(type="DataIntegrityProof", cryptosuite="eddsa-rdfc-2022")
    assert vc["proof"]["cryptosuite"] == "eddsa-rdfc-2022"

    vc = await env.issue(type=["DataIntegrityProof", "Ed25519Signature2020"])
    assert sorted(p["type"] for p in vc["proof"]) == ["DataIntegrityProof", "Ed25519Signature2020"]

    vc = await env.issue(status=False)
    assert "credentialStatus" not in vc

    # unknown option keys are ignored
    vc = await env.issue(mandatoryPointers=["/issuer"], somethingElse={"x": 1})
    assert "proof" in vc
    for vc in [await env.issue(type="Ed25519Signature2020", status=False)]:
        resp = await env.client.post("/credentials/verify", json={"verifiableCredential": vc})
        assert resp.status == 200


async def test_issue_idempotency_key_returns_first_result(env: Env) -> None:
    body = {"credential": env.credential()}
    headers = {**env.auth("issue"), "Idempotency-Key": "order-42"}
    first = await (await env.client.post("/credentials/issue", json=body, headers=headers)).json()
    again = await (await env.client.post("/credentials/issue", json=body, headers=headers)).json()
    assert first == again


def _bad_credentials(did: str) -> list[tuple[str, Any, str | None]]:
    base: dict[str, Any] = {
        "@context": [V2],
        "type": ["VerifiableCredential"],
        "issuer": did,
        "credentialSubject": {"id": "did:example:alice"},
    }

    def without(name: str) -> dict[str, Any]:
        return {k: v for k, v in base.items() if k != name}

    def with_(**fields: Any) -> dict[str, Any]:
        return {**copy.deepcopy(base), **fields}

    return [
        ("subject null", with_(credentialSubject=None), None),
        ("subject true", with_(credentialSubject=True), None),
        ("subject number", with_(credentialSubject=42), None),
        ("subject string", with_(credentialSubject="did:example:alice"), None),
        ("subject array of strings", with_(credentialSubject=["a", "b"]), None),
        ("subject empty array", with_(credentialSubject=[]), None),
        ("no @context", without("@context"), None),
        ("@context string", with_(**{"@context": V2}), None),
        ("@context wrong first", with_(**{"@context": ["https://example.com/ctx"]}), None),
        ("no type", without("type"), None),
        ("type without VerifiableCredential", with_(type=["Other"]), None),
        ("no issuer", without("issuer"), None),
        ("other issuer", with_(issuer="did:example:mallory"), "FOREIGN_ISSUER"),
        ("other issuer object", with_(issuer={"id": "did:example:mallory"}), "FOREIGN_ISSUER"),
        ("issuer not a URL", with_(issuer="not a url"), None),
        ("undefined term", with_(credentialSubject={"id": "did:x:1", "undefinedTerm": 1}),
         "DATA_LOSS_DETECTION_ERROR"),
        ("validFrom after validUntil",
         with_(validFrom="2030-01-01T00:00:00Z", validUntil="2029-01-01T00:00:00Z"), None),
        ("bad validFrom", with_(validFrom="yesterday"), None),
        ("credentialStatus string", with_(credentialStatus="revoked"), None),
        ("credentialStatus without type",
         with_(credentialStatus={"id": "https://example.com/s#1"}), None),
        ("credentialStatus bad index",
         with_(credentialStatus={
             "type": "BitstringStatusListEntry", "statusPurpose": "revocation",
             "statusListIndex": "-1", "statusListCredential": "https://example.com/l"}), None),
        ("has a proof already", with_(proof={"type": "DataIntegrityProof"}), None),
    ]  # fmt: skip


@pytest.mark.parametrize("index", range(len(_bad_credentials("did:x:y"))))
async def test_issue_bad_credential_is_4xx_problem(env: Env, index: int) -> None:
    name, credential, code = _bad_credentials(env.did)[index]
    resp = await env.client.post(
        "/credentials/issue", json={"credential": credential}, headers=env.auth("issue")
    )
    await assert_problem(resp, (400, 422), code)
    assert resp.status != 401, name


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"credential": None},
        {"credential": "a string"},
        {"credential": ["array"]},
        {"options": {}},
        {"credential": {}, "options": "x"},
    ],
)
async def test_issue_bad_request_shapes(env: Env, body: Any) -> None:
    resp = await env.client.post("/credentials/issue", json=body, headers=env.auth("issue"))
    await assert_problem(resp, 400)


@pytest.mark.parametrize(
    "options",
    [
        {"type": "RsaSignature2018"},
        {"cryptosuite": "ecdsa-rdfc-2019"},
        {"type": 5},
        {"status": "yes"},
        {"credentialId": 7},
    ],
)
async def test_issue_bad_options(env: Env, options: dict[str, Any]) -> None:
    resp = await env.client.post(
        "/credentials/issue",
        json={"credential": env.credential(), "options": options},
        headers=env.auth("issue"),
    )
    await assert_problem(resp, (400, 422))


# --- verify --------------------------------------------------------------------------------------


async def test_verify_issued_credential(env: Env) -> None:
    vc = await env.issue()
    resp = await env.client.post(
        "/credentials/verify",
        json={"verifiableCredential": vc, "options": {"x": 1}},
    )
    body = await resp.json()
    assert resp.status == 200, body
    assert body["verified"] is True
    assert body["errors"] == []
    assert isinstance(body["warnings"], list)
    names = {c["name"] for c in body["checks"]}
    assert {"structure", "proof", "issuer", "validity", "status:revocation"} <= names


async def test_verify_tampered_credential_is_422_with_result_and_problem(env: Env) -> None:
    vc = await env.issue()
    vc["credentialSubject"]["name"] = "Mallory"
    resp = await env.client.post("/credentials/verify", json={"verifiableCredential": vc})
    body = await assert_problem(resp, 422, "PROOF_VERIFICATION_ERROR")
    assert body["verified"] is False
    assert body["errors"] and isinstance(body["checks"], list)
    assert "warnings" in body


@pytest.mark.parametrize(
    "mutate",
    [
        lambda vc: vc.update(proof="not a proof"),
        lambda vc: vc.update(proof={}),
        lambda vc: vc.update(proof=[1, 2]),
        lambda vc: vc["proof"].update(proofValue="zzzz"),
        lambda vc: vc["proof"].update(proofValue=12),
        lambda vc: vc["proof"].update(verificationMethod="did:key:nope#nope"),
        lambda vc: vc["proof"].update(cryptosuite="unknown-2099"),
        lambda vc: vc["proof"].update(created="not a date"),
        lambda vc: vc["proof"].pop("proofPurpose"),
        lambda vc: vc.pop("proof"),
        lambda vc: vc.update({"@context": "nope"}),
        lambda vc: vc.update(credentialStatus={"type": "BitstringStatusListEntry"}),
    ],
)
async def test_verify_malformed_is_4xx_never_500(env: Env, mutate: Any) -> None:
    vc = await env.issue(status=False)
    mutate(vc)
    resp = await env.client.post("/credentials/verify", json={"verifiableCredential": vc})
    body = await assert_problem(resp, (400, 422))
    assert body["verified"] is False


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"verifiableCredential": None},
        {"verifiableCredential": 5},
        {"verifiableCredential": "{}", "options": {}},
        {"verifiableCredential": {}, "options": []},
        {"verifiableCredential": {}, "options": {"checks": "proof"}},
    ],
)
async def test_verify_bad_requests_are_400(env: Env, body: Any) -> None:
    resp = await env.client.post("/credentials/verify", json=body)
    result = await assert_problem(resp, 400)
    assert result["verified"] is False and result["errors"]


async def test_verify_credential_sent_as_json_string_is_4xx(env: Env) -> None:
    vc = await env.issue(status=False)
    resp = await env.client.post(
        "/credentials/verify", json={"verifiableCredential": json.dumps(vc)}
    )
    await assert_problem(resp, 400, "MALFORMED_VALUE_ERROR")


async def test_verify_routes_are_public(env: Env) -> None:
    vc = await env.issue(status=False)
    resp = await env.client.post(
        "/credentials/verify",
        json={"verifiableCredential": vc},
        headers={"Authorization": "Bearer garbage"},
    )
    assert resp.status == 200


# --- presentations -------------------------------------------------------------------------------


def _presentation(vcs: list[Any], holder: str | None = None) -> dict[str, Any]:
    vp: dict[str, Any] = {
        "@context": [V2],
        "type": ["VerifiablePresentation"],
        "verifiableCredential": vcs,
    }
    if holder:
        vp["holder"] = holder
    return vp


async def test_presentation_unsigned(env: Env) -> None:
    vc = await env.issue()
    resp = await env.client.post(
        "/presentations/verify", json={"verifiablePresentation": _presentation([vc])}
    )
    body = await resp.json()
    assert resp.status == 200, body
    assert body["verified"] is True
    assert body["credentialResults"][0]["verified"] is True
    assert any(w["code"] == "PRESENTATION_NOT_SIGNED" for w in body["warnings"])


@pytest.mark.parametrize("suite", ["eddsa-rdfc-2022", "Ed25519Signature2020"])
async def test_presentation_signed_with_challenge_and_domain(env: Env, suite: str) -> None:
    holder = Ed25519Key.generate()
    vc = await env.issue()
    vp = sign(
        _presentation([vc], holder.did),
        holder,
        suite=suite,
        purpose="authentication",
        challenge="c-123",
        domain="verifier.example",
    )
    ok = await env.client.post(
        "/presentations/verify",
        json={
            "verifiablePresentation": vp,
            "options": {"challenge": "c-123", "domain": "verifier.example", "unknown": True},
        },
    )
    body = await ok.json()
    assert ok.status == 200, body
    assert body["verified"] is True

    wrong = await env.client.post(
        "/presentations/verify",
        json={"verifiablePresentation": vp, "options": {"challenge": "other"}},
    )
    result = await assert_problem(wrong, 422, "INVALID_CHALLENGE_ERROR")
    assert result["verified"] is False

    wrong_domain = await env.client.post(
        "/presentations/verify",
        json={"verifiablePresentation": vp, "options": {"domain": "evil.example"}},
    )
    await assert_problem(wrong_domain, 422, "INVALID_DOMAIN_ERROR")


async def test_presentation_with_tampered_credential_fails(env: Env) -> None:
    vc = await env.issue()
    vc["credentialSubject"]["name"] = "Eve"
    resp = await env.client.post(
        "/presentations/verify", json={"verifiablePresentation": _presentation([vc])}
    )
    body = await assert_problem(resp, 422)
    assert body["credentialResults"][0]["verified"] is False


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"verifiablePresentation": "x"},
        {"verifiablePresentation": {"type": "VerifiablePresentation"}},
        {"verifiablePresentation": {}, "options": {"challenge": 5}},
    ],
)
async def test_presentation_bad_requests(env: Env, body: Any) -> None:
    resp = await env.client.post("/presentations/verify", json=body)
    await assert_problem(resp, 400)


# --- status and read -----------------------------------------------------------------------------


async def _verify_codes(env: Env, vc: Any) -> tuple[int, list[str]]:
    resp = await env.client.post("/credentials/verify", json={"verifiableCredential": vc})
    body = await resp.json(content_type=None)
    return resp.status, [c.get("code") for c in body["checks"] if not c["passed"]]


async def test_revoke_then_verify_fails(env: Env) -> None:
    vc = await env.issue()
    assert (await _verify_codes(env, vc)) == (200, [])
    resp = await env.set_status(vc["id"], "revocation", True)
    body = await resp.json()
    assert resp.status == 200, body
    assert body["changed"] is True and body["new"] is True
    assert await _verify_codes(env, vc) == (422, ["CREDENTIAL_REVOKED"])
    # revocation is permanent
    await assert_problem(await env.set_status(vc["id"], "revocation", False), 409)
    # again: idempotent
    again = await (await env.set_status(vc["id"], "revocation", True)).json()
    assert again["changed"] is False


async def test_suspend_and_reinstate(env: Env) -> None:
    vc = await env.issue()
    assert (await env.set_status(vc["id"], "suspension", True)).status == 200
    assert await _verify_codes(env, vc) == (422, ["CREDENTIAL_SUSPENDED"])
    assert (await env.set_status(vc["id"], "suspension", False)).status == 200
    assert await _verify_codes(env, vc) == (200, [])


async def test_status_audit_actor_is_the_token(env: Env) -> None:
    vc = await env.issue()
    await env.set_status(vc["id"], "suspension", True)
    log = await env.issuer.store.audit_log(vc["id"])
    assert log[-1].actor.endswith(":test-status")


async def test_status_unknown_credential_is_404(env: Env) -> None:
    resp = await env.set_status("urn:uuid:00000000-0000-0000-0000-000000000000", "revocation", True)
    await assert_problem(resp, 404, "NOT_FOUND")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"credentialId": "urn:x", "status": True},
        {"credentialId": "urn:x", "credentialStatus": {"statusPurpose": "revocation"}},
        {"credentialId": "urn:x", "credentialStatus": {"statusPurpose": "revocation"},
         "status": "yes"},
        {"credentialId": 5, "credentialStatus": {"statusPurpose": "revocation"}, "status": True},
        {"credentialId": "urn:x", "credentialStatus": "revocation", "status": True},
        {"credentialId": "urn:x", "status": True,
         "credentialStatus": {"type": "Foo", "statusPurpose": "revocation"}},
    ],
)  # fmt: skip
async def test_status_bad_requests(env: Env, body: Any) -> None:
    resp = await env.client.post("/credentials/status", json=body, headers=env.auth("status"))
    await assert_problem(resp, 400)


async def test_status_unknown_purpose(env: Env) -> None:
    vc = await env.issue()
    await assert_problem(await env.set_status(vc["id"], "refresh", True), 400)
    # message is a purpose we know, but this issuer gave the credential no such entry
    await assert_problem(await env.set_status(vc["id"], "message", True), 409, "NO_STATUS_ENTRY")


async def test_status_of_credential_issued_without_status_is_409(env: Env) -> None:
    vc = await env.issue(status=False)
    await assert_problem(await env.set_status(vc["id"], "revocation", True), 409)


async def test_get_credential(env: Env) -> None:
    vc = await env.issue()
    resp = await env.client.get(
        "/credentials/" + quote(vc["id"], safe=""), headers=env.auth("read")
    )
    assert resp.status == 200
    assert await resp.json() == vc
    url_id = "https://example.com/credentials/1?x=y"
    vc2 = await env.issue(env.credential(id=url_id))
    resp = await env.client.get("/credentials/" + quote(url_id, safe=""), headers=env.auth("read"))
    assert await resp.json() == vc2
    missing = await env.client.get("/credentials/urn%3Auuid%3Anope", headers=env.auth("read"))
    await assert_problem(missing, 404, "NOT_FOUND")


async def test_no_auth_app(make_env: EnvFactory) -> None:
    env = await make_env(auth=False)
    resp = await env.client.post("/credentials/issue", json={"credential": env.credential()})
    assert resp.status == 201
    vc = (await resp.json())["verifiableCredential"]
    resp = await env.client.post(
        "/credentials/status",
        json={"credentialId": vc["id"], "credentialStatus": {"statusPurpose": "revocation"},
              "status": True},
    )  # fmt: skip
    assert resp.status == 200
    assert (await env.issuer.store.audit_log(vc["id"]))[-1].actor == "no-auth"
