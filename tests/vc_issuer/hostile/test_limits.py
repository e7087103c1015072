"""Limits that hold under concurrency (issue 9, item 5) against a real `vc-issuer serve`:
attempt counters are checked and counted in the store, so concurrent guesses evaluate at most
the limit."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from ._live_server import Live, open_badge

PRE_AUTH = "urn:ietf:params:oauth:grant-type:pre-authorized_code"


async def _offer_with_pin(http: aiohttp.ClientSession, live: Live) -> tuple[str, str]:
    resp = await http.post(
        "/credentials/issue", json={"credential": open_badge(live.did)}, headers=live.auth
    )
    assert resp.status == 201, await resp.text()
    award_id = (await resp.json())["verifiableCredential"]["id"]
    resp = await http.post(
        "/oid4vci/offers", json={"credentialId": award_id, "txCode": True}, headers=live.auth
    )
    assert resp.status == 201, await resp.text()
    offer: dict[str, Any] = await resp.json()
    code = offer["credentialOffer"]["grants"][PRE_AUTH]["pre-authorized_code"]
    return code, str(offer["txCode"])


async def _token(http: aiohttp.ClientSession, code: str, pin: str) -> tuple[int, dict[str, Any]]:
    form = {"grant_type": PRE_AUTH, "pre-authorized_code": code, "tx_code": pin}
    resp = await http.post("/token", data=form)
    return resp.status, json.loads(await resp.text())


async def test_fifty_concurrent_wrong_pins_then_the_right_one_is_refused(
    http: aiohttp.ClientSession, live: Live
) -> None:
    code, pin = await _offer_with_pin(http, live)
    wrong = [f"{(int(pin) + 1 + i) % 10 ** len(pin):0{len(pin)}d}" for i in range(50)]
    answers = await asyncio.gather(*(_token(http, code, w) for w in wrong))
    assert all(status == 400 for status, _ in answers), answers
    assert {body["error"] for _, body in answers} == {"invalid_grant"}
    left = [b["error_description"] for _, b in answers if "left" in b["error_description"]]
    assert len(left) <= 4  # at most 5 guesses were evaluated; the fifth voids the offer
    status, body = await _token(http, code, pin)
    assert (status, body["error"]) == (400, "invalid_grant"), body


async def test_the_right_pin_within_the_limit_still_works(
    http: aiohttp.ClientSession, live: Live
) -> None:
    code, pin = await _offer_with_pin(http, live)
    wrong = f"{(int(pin) + 1) % 10 ** len(pin):0{len(pin)}d}"
    for _ in range(4):
        status, body = await _token(http, code, wrong)
        assert (status, body["error"]) == (400, "invalid_grant")
    status, body = await _token(http, code, pin)
    assert status == 200 and body["token_type"] == "Bearer", body
