"""Browser wallets and verifiers on other origins can call the public routes; the issuer's
protected routes stay same-origin."""

from __future__ import annotations

import pytest

from vc_issuer.http.middlewares import cors_applies

from .conftest import Env

ORIGIN = {"Origin": "https://wallet.example"}


def preflight(method: str = "POST") -> dict[str, str]:
    return {
        **ORIGIN,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type",
    }


@pytest.mark.parametrize("path", ["/token", "/credential", "/nonce", "/credentials/verify"])
async def test_preflight_of_wallet_and_verifier_routes(env: Env, path: str) -> None:
    resp = await env.client.options(path, headers=preflight())
    assert resp.status == 204
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in resp.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in resp.headers["Access-Control-Allow-Headers"]


async def test_public_answers_carry_the_cors_header(env: Env) -> None:
    vc = await env.issue()
    resp = await env.client.post(
        "/credentials/verify", json={"verifiableCredential": vc}, headers=ORIGIN
    )
    assert resp.status == 200
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    meta = await env.client.get("/.well-known/openid-credential-issuer", headers=ORIGIN)
    assert meta.headers["Access-Control-Allow-Origin"] == "*"
    # errors too, so a browser wallet can read the problem details
    bad = await env.client.post("/credentials/verify", data=b"not json", headers=ORIGIN)
    assert bad.status == 400
    assert bad.headers["Access-Control-Allow-Origin"] == "*"


async def test_protected_issuer_routes_stay_same_origin(env: Env) -> None:
    resp = await env.client.options("/credentials/issue", headers=preflight())
    assert "Access-Control-Allow-Origin" not in resp.headers
    assert resp.status == 405
    issued = await env.client.post(
        "/credentials/issue",
        json={"credential": env.credential()},
        headers={**ORIGIN, **env.auth("issue")},
    )
    assert issued.status == 201
    assert "Access-Control-Allow-Origin" not in issued.headers


@pytest.mark.parametrize(
    ("path", "cors"),
    [
        ("/credential", True),
        ("/credentials/issue", False),
        ("/credentials/status", False),
        ("/credentials/urn:uuid:1", False),
        ("/status-lists/abc", True),
        ("/achievements", False),
        ("/claims", False),
        ("/tokenx", False),
    ],
)
def test_cors_route_selection(path: str, cors: bool) -> None:
    assert cors_applies(path) is cors
