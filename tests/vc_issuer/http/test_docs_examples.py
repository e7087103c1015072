"""The example files docs/http-api.md sends do what the page says, against a real server."""

from __future__ import annotations

import json
from pathlib import Path

from vc_issuer.core.jose import looks_like_jws

from .conftest import Env

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "examples"


async def test_unsigned_example_issues_as_a_jwt_in_our_name(env: Env) -> None:
    text = (EXAMPLES / "unsigned.json").read_text("utf-8").replace("ISSUER_DID", env.did)
    resp = await env.client.post(
        "/credentials/issue",
        json={"credential": json.loads(text)},
        headers={**env.auth("issue"), "Accept": "application/vc+jwt"},
    )
    token = await resp.text()
    assert resp.status == 201, token
    assert resp.headers["Content-Type"].startswith("application/vc+jwt")
    assert looks_like_jws(token)
    verdict = await env.client.post(
        "/credentials/verify", data=token, headers={"Content-Type": "application/vc+jwt"}
    )
    body = await verdict.json()
    assert verdict.status == 200 and body["verified"] is True, body
    assert body["format"] == "vc-jose"


async def test_vp_example_verifies_with_its_challenge_and_domain(env: Env) -> None:
    vp = json.loads((EXAMPLES / "vp.json").read_text("utf-8"))
    options = {"challenge": "c0ffee", "domain": "verifier.example"}
    resp = await env.client.post(
        "/presentations/verify", json={"verifiablePresentation": vp, "options": options}
    )
    body = await resp.json()
    assert resp.status == 200 and body["verified"] is True, body
    assert {"challenge", "domain", "holder", "credential"} <= {c["name"] for c in body["checks"]}
    wrong = await env.client.post(
        "/presentations/verify",
        json={"verifiablePresentation": vp, "options": {**options, "challenge": "other"}},
    )
    problem = await wrong.json(content_type=None)
    assert wrong.status == 422 and problem["code"] == "INVALID_CHALLENGE_ERROR", problem
