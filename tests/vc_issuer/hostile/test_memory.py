"""Bounded memory (issue 9, item 2) against a real `vc-issuer serve`: inline contexts from
callers pin nothing, and the status entries and lists of one credential are capped. Memory is
read from /proc (the server and its worker processes): a bound, not a timing. The ceilings are
those of docs/limits.md."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from tests._proc import descendants, rss
from vc_issuer.core.status import bsl_entry

from ._live_server import V2, Live, inline_context_credential, open_badge

MiB = 1024 * 1024
#: docs/limits.md: what a flood of new inline contexts may add to the server and its workers
#: (before the fix: 5-6 MiB retained per request, so this flood alone added ~350 MiB).
FLOOD_GROWTH_CEILING = 150 * MiB
#: docs/limits.md: no worker process grows past this (RLIMIT_AS caps it at 1 GiB virtual).
WORKER_RSS_CEILING = 512 * MiB


def total_rss(pid: int) -> tuple[int, int]:
    """(RSS of the server and every process under it, the largest single descendant's)."""
    kids = [rss(p) for p in descendants(pid)]
    return rss(pid) + sum(kids), max(kids, default=0)


async def test_an_inline_context_flood_pins_no_memory(
    http: aiohttp.ClientSession, live: Live
) -> None:
    resp = await http.post(
        "/credentials/issue", json={"credential": open_badge(live.did)}, headers=live.auth
    )
    assert resp.status == 201, await resp.text()
    signed = (await resp.json())["verifiableCredential"]

    async def one() -> tuple[int, str]:
        body = {"verifiableCredential": inline_context_credential(signed)}
        resp = await http.post("/credentials/verify", json=body)
        answer = json.loads(await resp.text())
        return resp.status, answer.get("code") or f"verified={answer['verified']}"

    await asyncio.gather(*(one() for _ in range(4)))  # workers warm, caches at rest
    before, _ = total_rss(live.server.proc.pid)
    answers: list[tuple[int, str]] = []
    for _ in range(15):
        answers += await asyncio.gather(*(one() for _ in range(4)))
    after, largest_worker = total_rss(live.server.proc.pid)
    # each answered: unused terms change no statement, so the proof still verifies (or the
    # processing ran over its budget)
    assert set(answers) <= {(200, "verified=True"), (422, "WORK_BUDGET_EXCEEDED")}, answers
    assert after - before < FLOOD_GROWTH_CEILING, (before // MiB, after // MiB)
    assert largest_worker < WORKER_RSS_CEILING


@pytest.mark.parametrize(
    ("entries", "what"),
    [
        ([bsl_entry(f"https://lists.example/{i}", 1, "revocation") for i in range(32)], "32 lists"),
        ([bsl_entry("https://lists.example/a", i, "revocation") for i in range(9)], "9 entries"),
        ([bsl_entry(f"https://lists.example/{i}", 1, "revocation") for i in range(5)], "5 lists"),
    ],
)
async def test_status_entries_and_lists_per_credential_are_capped(
    http: aiohttp.ClientSession, live: Live, entries: list[dict[str, Any]], what: str
) -> None:
    cred = open_badge(live.did)
    cred["@context"] = [V2, cred["@context"][1]]
    cred["credentialStatus"] = entries
    body = {"verifiableCredential": cred, "options": {"checks": ["credentialStatus"]}}
    resp = await http.post("/credentials/verify", json=body)
    answer = json.loads(await resp.text())
    assert (resp.status, answer["code"]) == (422, "STATUS_LIMIT_EXCEEDED"), (what, answer)
