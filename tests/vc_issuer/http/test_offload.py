"""Where a caller's work runs: a small honest credential is verified and signed on the event
loop within ``work.INLINE_STEPS``; a small document that needs more is handed to the worker
pool, which finishes it under the full budget. Real issuer home, real pool processes."""

from __future__ import annotations

import copy
import gc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from vc_issuer.core import jsonld, work
from vc_issuer.errors import WorkBudgetExceededError
from vc_issuer.http import build_services, create_app, create_token
from vc_issuer.http.offload import Offload, settle
from vc_issuer.services.home import init_home, open_issuer
from vc_issuer.services.workpool import PoolLimits

from .conftest import V2, free_port, post_issue

Client = TestClient[web.Request, web.Application]


class Served:
    def __init__(self, client: Client, token: str, calls: list[str]) -> None:
        self.client, self.token, self.calls = client, token, calls

    async def issue(self, credential: dict[str, Any]) -> dict[str, Any]:
        return await post_issue(self.client, self.token, credential)

    async def verify(self, vc: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        resp = await self.client.post("/credentials/verify", json={"verifiableCredential": vc})
        body: dict[str, Any] = await resp.json()
        return resp.status, body


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    port = free_port()
    issuer = await open_issuer(init_home(tmp_path / "home", base_url=f"http://127.0.0.1:{port}"))
    services = build_services(
        issuer, allow_private=True, work_limits=PoolLimits(workers=1, prestart=True)
    )
    assert isinstance(services.work, Offload) and services.work.spec is not None
    pool = services.work.pool
    calls: list[str] = []
    run = pool.run

    async def counted(fn: Any, *args: Any, **kwargs: Any) -> Any:  # what reaches the pool
        calls.append(fn.__name__)
        return await run(fn, *args, **kwargs)

    pool.run = counted  # type: ignore[method-assign]
    client: Client = TestClient(TestServer(create_app(services), host="127.0.0.1", port=port))
    await client.start_server()
    token, _ = await create_token(issuer.store, "t", ["issue"])
    yield Served(client, token, calls)
    await client.close()
    await issuer.close()


def _credential(subject: str) -> dict[str, Any]:
    return {
        "@context": [V2],
        "type": ["VerifiableCredential"],
        "issuer": "",
        "credentialSubject": {"id": subject},
    }


def _crowd(credential: dict[str, Any], n: int = 1_000) -> dict[str, Any]:
    """``credential`` with ``n`` distinct subjects: small (~60 kB), several thousand steps."""
    crowded = copy.deepcopy(credential)
    crowded["credentialSubject"] = [
        {"id": f"did:example:s{i}", "name": f"learner {i}"} for i in range(n)
    ]
    return crowded


async def _signed(served: Served) -> dict[str, Any]:
    resp = await served.client.get("/healthz")
    did = (await resp.json())["issuer"]
    credential = _credential("did:example:learner")
    credential["issuer"] = did
    return await served.issue(credential)


async def test_honest_issue_and_verify_stay_on_the_event_loop(served: Served) -> None:
    signed = await _signed(served)
    status, report = await served.verify(signed)
    assert (status, report["verified"]) == (200, True), report
    assert served.calls == []  # neither signing nor verifying needed the pool


async def test_a_small_costly_document_is_finished_by_the_pool(served: Served) -> None:
    signed = await _signed(served)
    forged = _crowd(signed)  # past INLINE_STEPS, well within the pool's budget
    status, report = await served.verify(forged)
    assert served.calls == ["_verify_in_worker"]
    assert (status, report["verified"]) == (422, False), report
    assert report["code"] == "PROOF_VERIFICATION_ERROR"  # the pool's full answer, not a limit


async def test_signing_a_costly_credential_moves_to_the_pool(served: Served) -> None:
    resp = await served.client.get("/healthz")
    credential = _crowd(_credential("did:example:learner"))
    credential["issuer"] = (await resp.json())["issuer"]
    vc = await served.issue(credential)
    assert served.calls == ["_finish_record"]
    status, report = await served.verify(vc)  # verifying it needs the pool too
    assert (status, report["verified"]) == (200, True), report
    assert served.calls == ["_finish_record", "_verify_in_worker"]


def test_the_inline_budget_says_when_steps_ran_out() -> None:
    spent = work.WorkBudget(max_steps=work.INLINE_STEPS)
    with pytest.raises(WorkBudgetExceededError), work.budget(spent):
        for _ in range(work.INLINE_STEPS + 1024):
            work.charge()
    assert spent.spent
    deep = work.WorkBudget(max_depth=3)
    with pytest.raises(WorkBudgetExceededError), work.budget(deep):
        for _ in range(5):
            deep.enter()
    assert not deep.spent  # the nesting limit is final: the pool would answer the same


def test_settle_warms_the_pinned_contexts_then_freezes_what_is_alive() -> None:
    """What a server process and each pool worker do once started: later full collections
    walk only what requests leave behind, not the ~120,000 objects alive at start."""
    loader = jsonld.ContextLoader()
    assert len(loader._processed) == 0
    try:
        settle(loader)
        assert len(loader._processed) > 0
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
