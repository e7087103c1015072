"""Idempotency that cannot leak (issue 9, item 4) against a real `vc-issuer serve`: keys are
scoped to the token that made them and bound to a hash of the request."""

from __future__ import annotations

import aiohttp

from ._live_server import Live, open_badge


async def _issue(
    http: aiohttp.ClientSession, auth: dict[str, str], body: dict[str, object], key: str
) -> aiohttp.ClientResponse:
    return await http.post(
        "/credentials/issue", json=body, headers={**auth, "Idempotency-Key": key}
    )


async def test_another_tokens_key_never_returns_its_credential(
    http: aiohttp.ClientSession, live: Live
) -> None:
    alice, mallory = live.new_token("issue"), live.new_token("issue")
    secret_badge = {"credential": open_badge(live.did, "Alice's badge")}
    first = await _issue(http, alice, secret_badge, "order-1")
    assert first.status == 201, await first.text()
    alices = (await first.json())["verifiableCredential"]
    again = await _issue(http, alice, secret_badge, "order-1")
    assert (await again.json())["verifiableCredential"] == alices  # a true retry
    probe = {"credential": open_badge(live.did, "Mallory's probe")}
    theirs = await _issue(http, mallory, probe, "order-1")
    assert theirs.status == 201, await theirs.text()
    got = (await theirs.json())["verifiableCredential"]
    assert got["id"] != alices["id"] and got["name"] == "Mallory's probe"
    # Alice's body under the key: Mallory's own key, bound to Mallory's first request
    same = await _issue(http, mallory, secret_badge, "order-1")
    assert same.status == 409 and (await same.json())["code"] == "IDEMPOTENCY_KEY_REUSED"


async def test_same_key_with_another_body_is_a_conflict(
    http: aiohttp.ClientSession, live: Live
) -> None:
    body = {"credential": open_badge(live.did, "One")}
    first = await _issue(http, live.auth, body, "k-2")
    assert first.status == 201
    other = {"credential": open_badge(live.did, "Two")}
    resp = await _issue(http, live.auth, other, "k-2")
    assert resp.status == 409, await resp.text()
    assert (await resp.json())["code"] == "IDEMPOTENCY_KEY_REUSED"
    # the key in the options is the same key; the body without it is the same request
    keyed = {**body, "options": {"idempotencyKey": "k-2"}}
    resp = await http.post("/credentials/issue", json=keyed, headers=live.auth)
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["verifiableCredential"]["id"] == (await first.json())[
        "verifiableCredential"
    ]["id"]
