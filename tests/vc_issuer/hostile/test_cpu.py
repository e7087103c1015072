"""Bounded CPU per request, off the event loop (issue 9, item 1) against a real
`vc-issuer serve`: the issue's payloads each get their precise code (or verify), and /healthz
and honest requests keep answering while hostile requests run. No timing assertions: the
server's own budget is what bounds each request (docs/limits.md)."""

from __future__ import annotations

import asyncio
import copy
import json
import zlib
from typing import Any

import aiohttp
import pytest

from vc_issuer.badges.baking import PNG_KEYWORD, PngChunk, default_badge_png, encode_png, parse_png

from ._live_server import V2, Live, inline_context_credential, open_badge

#: The work-limit family: the per-request budget (CPU, steps, nesting, worker memory) and
#: RDFC-1.0's own N-degree limits; which one trips first depends on the payload's shape.
WORK_LIMIT = {"WORK_BUDGET_EXCEEDED", "CANONICALIZATION_LIMIT_EXCEEDED"}


async def _issue(http: aiohttp.ClientSession, live: Live, credential: dict[str, Any]) -> Any:
    resp = await http.post("/credentials/issue", json={"credential": credential}, headers=live.auth)
    assert resp.status == 201, await resp.text()
    return (await resp.json())["verifiableCredential"]


async def _verify(http: aiohttp.ClientSession, vc: Any) -> tuple[int, dict[str, Any]]:
    resp = await http.post("/credentials/verify", json={"verifiableCredential": vc})
    return resp.status, json.loads(await resp.text())


def _with_subjects(signed: dict[str, Any], subjects: list[Any]) -> dict[str, Any]:
    """A signed credential whose subjects were swapped: the proof check must canonicalize it."""
    forged = copy.deepcopy(signed)
    forged["credentialSubject"] = subjects
    return forged


def _cycle(signed: dict[str, Any], n: int) -> dict[str, Any]:
    """A signed credential carrying an ``n``-node blank-node cycle, in arrays of at most 1,000
    nodes (``ring0``, ``ring1``...): within the JSON caps, so the work budget is what stops it."""
    forged = copy.deepcopy(signed)
    nodes = [{"@id": f"_:b{i}", "next": f"_:b{(i + 1) % n}"} for i in range(n)]
    parts = [nodes[i : i + 1000] for i in range(0, n, 1000)]
    terms: dict[str, Any] = {f"ring{k}": f"https://ex.org/ring{k}" for k in range(len(parts))}
    terms["next"] = {"@id": "https://ex.org/next", "@type": "@id"}
    forged["@context"] = [*signed["@context"], terms]
    for k, part in enumerate(parts):
        forged[f"ring{k}"] = part
    return forged


@pytest.fixture(scope="module")
def signed(live: Live) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        async with aiohttp.ClientSession(live.url) as http:
            vc: dict[str, Any] = await _issue(http, live, open_badge(live.did))
            return vc

    return asyncio.run(go())


async def test_ten_thousand_subjects_are_refused_before_any_work(
    http: aiohttp.ClientSession, signed: dict[str, Any]
) -> None:
    status, body = await _verify(http, _with_subjects(signed, [{"name": "x"}] * 10_000))
    assert status == 400, body
    assert body["code"] == "JSON_TOO_LARGE" and body["verified"] is False


async def test_a_thousand_subjects_within_the_caps_verify_as_forged(
    http: aiohttp.ClientSession, signed: dict[str, Any]
) -> None:
    """The node map is linear: the largest array the caps allow is checked, not refused."""
    status, body = await _verify(http, _with_subjects(signed, [{"name": "x"}] * 1_000))
    assert (status, body["verified"]) == (422, False), body
    assert body["code"] == "PROOF_VERIFICATION_ERROR"


async def test_four_thousand_distinct_values_issue_and_verify(
    http: aiohttp.ClientSession, live: Live
) -> None:
    cred = open_badge(live.did)
    # one property holds at most 1,000 values (JSON_TOO_LARGE beyond); four hold 4,000
    tags = {f"tag{k}": f"https://example.org/tag{k}" for k in range(4)}
    cred["@context"] = [*cred["@context"], tags]
    for k in range(4):
        cred["credentialSubject"][f"tag{k}"] = [f"value {k}.{i}" for i in range(1_000)]
    vc = await _issue(http, live, cred)
    status, body = await _verify(http, vc)
    assert (status, body["verified"]) == (200, True), body


async def test_a_1200_node_blank_node_cycle_is_the_work_limit_error(
    http: aiohttp.ClientSession, signed: dict[str, Any]
) -> None:
    status, body = await _verify(http, _cycle(signed, 1_200))
    assert status == 422, body
    assert body["code"] == "WORK_BUDGET_EXCEEDED"
    assert body["errors"][0]["limit"] == "depth"


async def test_the_cycle_inside_a_presentation(
    http: aiohttp.ClientSession, signed: dict[str, Any]
) -> None:
    vp = {"@context": [V2], "type": ["VerifiablePresentation"],
          "verifiableCredential": [_cycle(signed, 1_200)]}  # fmt: skip
    resp = await http.post("/presentations/verify", json={"verifiablePresentation": vp})
    body = json.loads(await resp.text())
    assert resp.status == 422, body
    assert body["code"] == "WORK_BUDGET_EXCEEDED"


def _bomb_png(credential: dict[str, Any]) -> bytes:
    """A small PNG whose compressed iTXt credential inflates to a large document."""
    chunks = parse_png(default_badge_png(size=16))
    text = json.dumps(credential, separators=(",", ":")).encode()
    body = PNG_KEYWORD + b"\x00\x01\x00" + b"\x00" + b"\x00" + zlib.compress(text, 9)
    return encode_png([*chunks[:-1], PngChunk(b"iTXt", body), chunks[-1]])


async def test_a_small_baked_png_that_inflates_to_8000_subjects(
    http: aiohttp.ClientSession, signed: dict[str, Any]
) -> None:
    png = _bomb_png(_with_subjects(signed, [{"name": "x"}] * 8_000))
    assert len(png) < 20_000
    resp = await http.post("/credentials/verify", data=png, headers={"Content-Type": "image/png"})
    body = json.loads(await resp.text())
    # the inflated credential obeys the JSON body's caps: refused at parse time
    assert resp.status in (400, 413, 422), body
    assert body["code"] in WORK_LIMIT | {"INPUT_TOO_LARGE", "JSON_TOO_LARGE"}


async def test_healthz_and_honest_verification_answer_while_eight_hostile_requests_run(
    http: aiohttp.ClientSession, signed: dict[str, Any]
) -> None:
    # each processes a fresh ~400 kB inline context (within the JSON caps): ~0.3 s of a
    # worker's CPU apiece, so the eight keep both workers busy for a while
    attacks = [
        asyncio.create_task(_verify(http, inline_context_credential(signed))) for _ in range(8)
    ]
    await asyncio.sleep(0.3)  # let them reach the server (not a timing assertion)
    health = await http.get("/healthz")
    assert health.status == 200
    honest_status, honest = await _verify(http, signed)
    pending_while_answered = sum(not t.done() for t in attacks)
    outcomes = await asyncio.gather(*attacks)
    assert (honest_status, honest["verified"]) == (200, True), honest
    assert pending_while_answered > 0  # /healthz and the honest request did not wait for them
    for status, body in outcomes:  # verified (unused terms change nothing) or over budget
        assert (status, body["verified"]) == (200, True) or (
            status == 422 and body["code"] in WORK_LIMIT
        ), body
