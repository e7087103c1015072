"""What the W3C suites ask of the VC API, one test per rule, over a real server: options.checks,
default status for VC 1.1, the data model's refusals, and multi-bit status set over HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from vc_issuer.http import build_services, create_app, create_token
from vc_issuer.services.home import init_home, load_home, open_issuer

from .conftest import V1, V2, Env, free_port

FIX = Path(__file__).resolve().parents[2] / "fixtures"
PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}
MESSAGE_CONFIG = """
[status.message]
size = 2
messages = ["pending_review", "accepted", "rejected", "undefined"]
reference = "https://example.org/status-dictionary/"
"""


@pytest.fixture
async def message_env(tmp_path: Path) -> AsyncIterator[Env]:
    """An issuer whose home adds a 2-bit message status to every VC 2.0 credential."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    cfg = init_home(tmp_path / "home", base_url=base_url)
    config = cfg.home / "config.toml"
    text = config.read_text("utf-8").replace(
        'purposes = [\n    "revocation",\n    "suspension",\n]',
        'purposes = ["revocation", "suspension", "message"]',
    )
    assert '"message"' in text, text
    config.write_text(text + MESSAGE_CONFIG, "utf-8")
    issuer = await open_issuer(load_home(cfg.home))
    client: TestClient[web.Request, web.Application] = TestClient(
        TestServer(
            create_app(build_services(issuer, allow_private=True)), host="127.0.0.1", port=port
        )
    )
    await client.start_server()
    env = Env(client, issuer, base_url, port)
    for scope in ("issue", "status", "read", "admin"):
        env.tokens[scope], _ = await create_token(issuer.store, f"test-{scope}", [scope])
    try:
        yield env
    finally:
        await client.close()
        await issuer.close()


async def verify(env: Env, vc: Any, **options: Any) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"verifiableCredential": vc}
    if options:
        body["options"] = options
    resp = await env.client.post("/credentials/verify", json=body)
    return resp.status, await resp.json(content_type=None)


# --- options.checks ----------------------------------------------------------------------------


async def test_options_checks_is_honoured(env: Env) -> None:
    """The vc-api verifier suite's "MUST verify a valid VC": checks ["proof"], an https issuer
    that does not control the did:key that signed it."""
    vector = json.loads((FIX / "vc-di-eddsa/eddsa-rdfc-2022/signedDataInt.json").read_text())
    status, body = await verify(env, vector, checks=["proof"])
    assert status == 200, body
    assert [c["name"] for c in body["checks"]] == ["structure", "proof"]
    assert body["warnings"][0]["code"] == "CHECKS_NOT_RUN"
    status, body = await verify(env, vector)
    assert status == 422 and body["code"] == "ISSUER_MISMATCH"
    assert [c["name"] for c in body["checks"]] == ["structure", "proof", "issuer", "validity"]
    for problem in body["errors"]:
        assert set(problem) >= PROBLEM_KEYS | {"check"}
    status, body = await verify(env, vector, checks=["proof", "expiration"])
    assert status == 400 and body["code"] == "MALFORMED_VALUE_ERROR" and body["field"] == "checks"


# --- issuing -------------------------------------------------------------------------------


async def test_vc11_issued_with_default_options_has_no_status(env: Env) -> None:
    cred = {
        "@context": [V1],
        "type": ["VerifiableCredential"],
        "issuer": env.did,
        "issuanceDate": "2024-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:alice"},
    }
    plain = await env.issue(cred)
    assert "credentialStatus" not in plain
    assert plain["@context"] == [V1, "https://w3id.org/security/data-integrity/v2"]
    asked = await env.issue(cred, status=True)
    assert {e["type"] for e in asked["credentialStatus"]} == {"StatusList2021Entry"}


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"credentialSubject": {}}, 400, "MALFORMED_VALUE_ERROR"),
        ({"credentialSchema": {"type": "JsonSchema"}}, 400, "MALFORMED_VALUE_ERROR"),
        ({"relatedResource": [{"id": V2}]}, 400, "MALFORMED_VALUE_ERROR"),
        ({"relatedResource": [{"id": V2, "digestMultibase": "u" + "A" * 43}]},
         422, "RELATED_RESOURCE_DIGEST_MISMATCH"),
    ],
)  # fmt: skip
async def test_data_model_refusals(
    env: Env, fields: dict[str, Any], status: int, code: str
) -> None:
    resp = await env.client.post(
        "/credentials/issue", json={"credential": env.credential(**fields)}, headers=env.auth()
    )
    body = await resp.json(content_type=None)
    assert (resp.status, body["code"]) == (status, code), body


async def test_credential_status_of_another_type_is_accepted(env: Env) -> None:
    cred = env.credential(credentialStatus={"type": "CredentialStatusList2017"})
    cred["@context"] = [
        V2,
        {"CredentialStatusList2017": "https://ex.org/#CredentialStatusList2017"},
    ]
    vc = await env.issue(cred)
    assert vc["credentialStatus"] == {"type": "CredentialStatusList2017"}
    status, body = await verify(env, vc)
    assert status == 200 and body["warnings"][0]["code"] == "STATUS_NOT_CHECKED", body


# --- multi-bit status over HTTP ---------------------------------------------------------------


async def set_message(env: Env, credential_id: str, value: Any) -> tuple[int, dict[str, Any]]:
    resp = await env.client.post(
        "/credentials/status",
        json={
            "credentialId": credential_id,
            "credentialStatus": {"type": "BitstringStatusListEntry", "statusPurpose": "message"},
            "status": value,
        },
        headers=env.auth("status"),
    )
    return resp.status, await resp.json(content_type=None)


async def test_message_status_set_and_verified_over_http(message_env: Env) -> None:
    env = message_env
    vc = await env.issue()
    entry = vc["credentialStatus"][-1]
    assert (entry["statusPurpose"], entry["statusSize"]) == ("message", 2)
    assert entry["statusReference"] == "https://example.org/status-dictionary/"
    assert (await verify(env, vc))[0] == 200

    status, change = await set_message(env, vc["id"], "0x2")
    assert status == 200, change
    assert (change["old"], change["new"], change["message"]) == ("0x0", "0x2", "rejected")
    status, body = await verify(env, vc)
    assert status == 422 and body["code"] == "CREDENTIAL_STATUS_MESSAGE"
    check = next(c for c in body["checks"] if c["name"] == "status:message")
    assert check["status"] == {"value": "0x2", "size": 2, "message": "rejected"}

    for bad in ("0x4", True, "two", 7):
        status, problem = await set_message(env, vc["id"], bad)
        assert (status, problem["code"]) == (400, "MALFORMED_VALUE_ERROR"), problem
    status, change = await set_message(env, vc["id"], 0)
    assert (status, change["new"]) == (200, "0x0")
    assert (await verify(env, vc))[0] == 200
