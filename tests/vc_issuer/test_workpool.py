"""The worker pool (vc_issuer.services.workpool): real worker processes, real limits."""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import time
from typing import Any

import pytest

from vc_issuer.core import work
from vc_issuer.errors import (
    InternalError,
    ServerBusyError,
    VCIssuerError,
    WorkBudgetExceededError,
    all_error_classes,
)
from vc_issuer.services.workpool import PoolLimits, WorkPool, call_parent, in_worker


def _add(a: int, b: int) -> tuple[int, bool, int]:
    return a + b, in_worker(), os.getpid()


async def _async_double(x: int) -> int:
    await asyncio.sleep(0)
    return 2 * x


def _spin_cooperatively() -> None:
    while True:
        work.charge()


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _sleep(seconds: float) -> str:
    time.sleep(seconds)
    return "slept"


def _hog_memory() -> int:
    block = bytearray(2 << 30)  # over the 1 GiB cap of these tests
    return len(block)


def _raise_ours() -> None:
    raise VCIssuerError("from the worker", where="worker")


def _raise_other() -> None:
    raise KeyError("boom")


def _ask_parent(x: int) -> Any:
    return call_parent("triple", x)


def _limits(**kw: Any) -> PoolLimits:
    base: dict[str, Any] = {"workers": 1, "queue": 4, "cpu_seconds": 0.3, "wall_seconds": 20}
    base.update(kw)
    return PoolLimits(**base)


@pytest.fixture
async def pool() -> Any:
    p = WorkPool(_limits(memory_bytes=1 << 30))
    yield p
    await p.close()


async def test_runs_in_a_worker_process(pool: WorkPool) -> None:
    total, inside, pid = await pool.run(_add, 2, 3)
    assert (total, inside) == (5, True)
    assert pid != os.getpid()
    assert await pool.run(_async_double, 21) == 42
    # persistent: the same worker serves the next call
    assert (await pool.run(_add, 1, 1))[2] == pid


async def test_over_budget_is_the_work_limit_error_and_the_worker_lives_on(pool: WorkPool) -> None:
    _, _, pid = await pool.run(_add, 0, 0)
    with pytest.raises(WorkBudgetExceededError) as caught:
        await pool.run(_spin_cooperatively)
    assert caught.value.code == "WORK_BUDGET_EXCEEDED"
    assert caught.value.extra["limit"] == "cpu"
    assert (await pool.run(_add, 0, 0))[2] == pid
    assert pool.replaced == 0


async def test_a_worker_killed_mid_request_is_replaced(pool: WorkPool) -> None:
    _, _, first = await pool.run(_add, 0, 0)
    with pytest.raises(WorkBudgetExceededError) as caught:
        await pool.run(_die)
    assert caught.value.extra["limit"] == "worker"
    total, _, second = await pool.run(_add, 1, 2)
    assert total == 3 and second != first
    assert pool.replaced == 1


async def test_wall_clock_overrun_kills_and_replaces() -> None:
    p = WorkPool(_limits(wall_seconds=0.5))
    try:
        _, _, first = await p.run(_add, 0, 0)
        with pytest.raises(WorkBudgetExceededError) as caught:
            await p.run(_sleep, 30)
        assert caught.value.extra["limit"] == "wall"
        assert (await p.run(_add, 0, 0))[2] != first
    finally:
        await p.close()


async def test_memory_cap_fails_the_request_not_the_server(pool: WorkPool) -> None:
    with pytest.raises(WorkBudgetExceededError) as caught:
        await pool.run(_hog_memory)
    assert caught.value.extra["limit"] in ("memory", "worker")
    assert (await pool.run(_add, 4, 4))[0] == 8


async def test_errors_cross_the_process_boundary(pool: WorkPool) -> None:
    with pytest.raises(VCIssuerError) as caught:
        await pool.run(_raise_ours)
    assert caught.value.extra == {"where": "worker"}
    with pytest.raises(InternalError):
        await pool.run(_raise_other)


async def test_parent_callbacks(pool: WorkPool) -> None:
    async def triple(x: int) -> int:
        return 3 * x

    assert await pool.run(_ask_parent, 5, callbacks={"triple": triple}) == 15
    with pytest.raises(InternalError):
        await pool.run(_ask_parent, 5)


async def test_full_queue_is_server_busy_with_retry_after() -> None:
    p = WorkPool(_limits(queue=1))
    try:
        first = asyncio.create_task(p.run(_sleep, 1.0))
        await asyncio.sleep(0.05)
        second = asyncio.create_task(p.run(_sleep, 0))  # waits in the queue
        await asyncio.sleep(0.05)
        with pytest.raises(ServerBusyError) as caught:
            await p.run(_sleep, 0)
        assert caught.value.code == "SERVER_BUSY" and caught.value.http_status == 503
        assert caught.value.extra["retryAfter"] == 1
        assert await first == "slept" and await second == "slept"
    finally:
        await p.close()


@pytest.mark.parametrize("cls", all_error_classes(), ids=lambda c: c.__name__)
def test_every_error_class_pickles(cls: type[VCIssuerError]) -> None:
    exc = cls("detail text", field="x")
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is cls
    assert (back.detail, back.extra, back.code) == ("detail text", {"field": "x"}, cls.code)


def _burn(seconds: float) -> float:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
    return time.process_time()


async def test_many_calls_accumulate_cpu_without_tripping_the_kernel_limit() -> None:
    """RLIMIT_CPU moves with each call: a long-lived worker is not killed for its total."""
    p = WorkPool(_limits(cpu_seconds=0.5))
    try:
        _, _, pid = await p.run(_add, 0, 0)
        for _ in range(8):
            await p.run(_burn, 0.3)  # 2.4 s in all, each call within its budget
        assert (await p.run(_add, 0, 0))[2] == pid
        assert p.replaced == 0
    finally:
        await p.close()


async def test_code_that_ignores_the_budget_is_killed_by_the_kernel() -> None:
    p = WorkPool(_limits(cpu_seconds=0.2))
    try:
        with pytest.raises(WorkBudgetExceededError) as caught:
            await p.run(_burn, 10.0)
        assert caught.value.extra["limit"] == "worker"
        assert p.replaced == 1
        assert (await p.run(_add, 1, 1))[0] == 2
    finally:
        await p.close()


def _stamp(label: str) -> tuple[str, float]:
    return label, time.monotonic()


@pytest.mark.parametrize(
    ("earlier", "later", "served_first"),
    [
        (1_000_000, 2_000, "later"),  # a small credential does not wait behind a 1 MiB document
        (2_100, 2_000, "earlier"),  # ordered by exact size, one a few bytes longer starved
    ],
)
async def test_queue_order_lighter_first_without_starving(
    earlier: int, later: int, served_first: str
) -> None:
    p = WorkPool(_limits())
    try:
        busy = asyncio.create_task(p.run(_sleep, 0.5))
        await asyncio.sleep(0.05)
        first = asyncio.create_task(p.run(_stamp, "earlier", weight=earlier))
        await asyncio.sleep(0.05)
        second = asyncio.create_task(p.run(_stamp, "later", weight=later))
        await busy
        stamps = sorted([await first, await second], key=lambda stamp: stamp[1])
        assert stamps[0][0] == served_first
    finally:
        await p.close()


def test_limits_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VC_ISSUER_WORK_CPU_SECONDS", "1.5")
    monkeypatch.setenv("VC_ISSUER_WORK_MEMORY_MIB", "512")
    limits = PoolLimits.default(queue=7)
    assert (limits.cpu_seconds, limits.memory_bytes, limits.queue) == (1.5, 512 << 20, 7)
    monkeypatch.setenv("VC_ISSUER_WORK_QUEUE", "many")
    with pytest.raises(VCIssuerError) as caught:
        PoolLimits.default()
    assert caught.value.code == "CONFIG_ERROR"


def _nap_stamp(label: str, seconds: float) -> tuple[float, float]:
    start = time.monotonic()
    time.sleep(seconds)
    return start, time.monotonic()


async def test_heavy_calls_never_hold_the_last_worker() -> None:
    p = WorkPool(_limits(workers=2, heavy_bytes=1_000))
    try:
        await asyncio.gather(p.run(_add, 0, 0), p.run(_add, 0, 0))  # both workers started
        heavy = [asyncio.create_task(p.run(_nap_stamp, f"h{i}", 0.4, weight=5_000))
                 for i in range(2)]  # fmt: skip
        await asyncio.sleep(0.1)
        _, light_done = await p.run(_nap_stamp, "light", 0.0, weight=10)
        first, second = sorted([await t for t in heavy])
        assert light_done < first[1]  # the light call did not wait for any heavy one
        assert second[0] >= first[1]  # the heavy ones ran one after the other
    finally:
        await p.close()
