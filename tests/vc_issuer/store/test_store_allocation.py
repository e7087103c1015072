"""Status index allocation: distinct under concurrency and across processes, random, crash-safe."""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import signal
import statistics
import sys
from pathlib import Path

import pytest

from vc_issuer.errors import MalformedInputError
from vc_issuer.store import Store, open_store
from vc_issuer.store.migrations.sqlite import MIGRATIONS as SQLITE_MIGRATIONS

from .._helpers import start_worker

BSL = "BitstringStatusList"
SL21 = "StatusList2021"
BIG = 131_072
WORKER = Path(__file__).with_name("store_worker.py")


@pytest.mark.parametrize("own_transaction", [False, True], ids=["coalesced", "one-tx-each"])
async def test_2000_concurrent_allocations_are_distinct(
    store: Store, own_transaction: bool
) -> None:
    # An explicit rng gives each call its own transaction: they then race on the list's lock.
    rng = random.SystemRandom() if own_transaction else None
    got = await asyncio.gather(
        *(store.allocate_index(BSL, "revocation", BIG, rng) for _ in range(2000))
    )
    assert len(set(got)) == 2000
    (list_id,) = {lid for lid, _ in got}
    assert await store.allocated_indices(list_id) == sorted(i for _, i in got)
    lst = await store.get_status_list(list_id)
    assert lst is not None
    assert (lst.kind, lst.purpose, lst.size, lst.allocated, lst.full) == (
        BSL,
        "revocation",
        BIG,
        2000,
        False,
    )
    assert lst.bits == bytes(BIG // 8)  # allocating sets no status bit


async def test_concurrent_batches_are_distinct(store: Store) -> None:
    batches = await asyncio.gather(
        *(store.allocate_indices(BSL, "revocation", BIG, 250) for _ in range(8))
    )
    flat = [pair for batch in batches for pair in batch]
    assert len(flat) == 2000 and len(set(flat)) == 2000


async def test_indices_are_random_not_sequential(store: Store) -> None:
    got = [i for _, i in await store.allocate_indices(BSL, "revocation", BIG, 1000)]
    singles = [(await store.allocate_index(BSL, "revocation", BIG))[1] for _ in range(200)]
    for sample in (got, singles):
        assert sample != sorted(sample)
        steps = [b - a for a, b in itertools.pairwise(sample)]
        assert sum(1 for s in steps if s == 1) < len(steps) / 20  # not a counter
        assert max(sample) - min(sample) > BIG * 0.9  # spread over the whole list
    # Roughly uniform: 8 equal buckets each hold 1000/8 = 125 +- a wide margin.
    buckets = [0] * 8
    for i in got:
        buckets[i * 8 // BIG] += 1
    assert all(70 <= b <= 180 for b in buckets), buckets
    assert abs(statistics.mean(got) - BIG / 2) < BIG * 0.06


async def test_seeded_rng_is_used(store: Store) -> None:
    a = await store.allocate_indices(BSL, "revocation", BIG, 5, random.Random(7))
    expected = random.Random(7)
    assert [i for _, i in a] == [expected.randrange(BIG) for _ in range(5)]


async def test_small_list_fills_then_a_new_list_starts(store: Store) -> None:
    singles = [await store.allocate_index(BSL, "revocation", 64) for _ in range(64)]
    (first,) = {lid for lid, _ in singles}
    assert sorted(i for _, i in singles) == list(range(64))  # every slot, each once
    lst = await store.get_status_list(first)
    assert lst is not None and lst.full and lst.allocated == 64

    nxt, idx = await store.allocate_index(BSL, "revocation", 64)
    assert nxt != first and 0 <= idx < 64

    batch = await store.allocate_indices(BSL, "revocation", 64, 100)  # spans two lists
    assert len(set(batch)) == 100
    by_list: dict[str, list[int]] = {}
    for lid, i in batch:
        by_list.setdefault(lid, []).append(i)
    assert nxt in by_list and len(by_list) == 2
    assert len(by_list[nxt]) == 63
    assert sorted(by_list[nxt] + [idx]) == list(range(64))

    lists = await store.list_status_lists()
    assert [lst.id for lst in lists][:2] == [first, nxt]
    assert [lst.full for lst in lists] == [True, True, False]
    assert [lst.allocated for lst in lists] == [64, 64, 37]


async def test_kinds_purposes_and_sizes_have_separate_lists(store: Store) -> None:
    a = await store.allocate_index(BSL, "revocation", 64)
    b = await store.allocate_index(BSL, "suspension", 64)
    c = await store.allocate_index(SL21, "revocation", 64)
    d = await store.allocate_index(BSL, "revocation", 128)
    assert len({a[0], b[0], c[0], d[0]}) == 4
    kinds = {lst.id: (lst.kind, lst.purpose, lst.size) for lst in await store.list_status_lists()}
    assert kinds[c[0]] == (SL21, "revocation", 64)
    assert kinds[d[0]] == (BSL, "revocation", 128)


async def test_bad_allocation_requests(store: Store) -> None:
    with pytest.raises(MalformedInputError):
        await store.allocate_index("RevocationList2020", "revocation", 64)
    with pytest.raises(MalformedInputError):
        await store.allocate_index(BSL, "", 64)
    with pytest.raises(MalformedInputError):
        await store.allocate_index(BSL, "revocation", 0)
    with pytest.raises(MalformedInputError):
        await store.allocate_indices(BSL, "revocation", 64, -1)
    assert await store.allocate_indices(BSL, "revocation", 64, 0) == []
    assert await store.list_status_lists() == []


async def _spawn(url: str, count: int, size: int, *, wait: bool) -> asyncio.subprocess.Process:
    args = [url, str(count), str(size)] + (["--wait"] if wait else [])
    return await start_worker(WORKER, *args, timeout=60)


def _pairs(lines: list[bytes]) -> list[tuple[str, int]]:
    out = []
    for line in lines:
        parts = line.split()
        if len(parts) == 2:
            out.append((parts[0].decode(), int(parts[1])))
    return out


async def test_separate_processes_never_collide(store: Store, store_url: str) -> None:
    """Two other processes and this one allocate from the same store at the same time."""
    size = 1024  # small enough that the lists fill and roll over during the run
    workers = [await _spawn(store_url, 300, size, wait=True) for _ in range(2)]
    for w in workers:
        assert w.stdin is not None
        w.stdin.write(b"go\n")
        await w.stdin.drain()
    mine_task = asyncio.gather(*(store.allocate_index(BSL, "revocation", size) for _ in range(300)))
    outs = await asyncio.gather(*(asyncio.wait_for(w.communicate(), 120) for w in workers))
    mine = list(await mine_task)
    theirs: list[tuple[str, int]] = []
    for (stdout, stderr), w in zip(outs, workers, strict=True):
        assert w.returncode == 0, stderr.decode()[-2000:]
        theirs += _pairs(stdout.splitlines())
    everything = mine + theirs
    assert len(everything) == 900
    assert len(set(everything)) == 900, "an index was handed out twice"
    lists = await store.list_status_lists()
    assert sum(lst.allocated for lst in lists) == 900
    stored = {(lst.id, i) for lst in lists for i in await store.allocated_indices(lst.id)}
    assert stored == set(everything)
    assert sum(lst.full for lst in lists) == len(lists) - 1  # one current list at the end


async def test_four_processes_open_a_fresh_store_and_allocate(store_url: str) -> None:
    """Four processes start at once on a store nobody created yet: migrations and WAL setup race."""
    args = [str(WORKER), store_url, "100", "512"]
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        for _ in range(4)
    ]
    outs = await asyncio.gather(*(asyncio.wait_for(p.communicate(), 120) for p in procs))
    pairs: list[tuple[str, int]] = []
    for (stdout, stderr), p in zip(outs, procs, strict=True):
        assert p.returncode == 0, stderr.decode()[-2000:]
        pairs += _pairs(stdout.splitlines())
    assert len(pairs) == 400 and len(set(pairs)) == 400
    async with open_store(store_url) as store:
        assert await store.schema_version() == len(SQLITE_MIGRATIONS)
        lists = await store.list_status_lists()
        assert sum(lst.allocated for lst in lists) == 400


async def test_allocation_is_committed_before_it_is_returned(store_url: str) -> None:
    """SIGKILL a process mid-run: everything it returned is in the store and never reissued."""
    size = 256
    async with open_store(store_url):
        pass  # migrate first so the worker's start-up is quick
    proc = await _spawn(store_url, 100_000, size, wait=False)
    assert proc.stdout is not None
    lines = [await asyncio.wait_for(proc.stdout.readline(), 60) for _ in range(150)]
    os.kill(proc.pid, signal.SIGKILL)
    await proc.wait()
    returned = _pairs(lines)
    assert len(returned) == 150

    async with open_store(store_url) as reopened:
        lists = {lst.id: lst for lst in await reopened.list_status_lists()}
        allocated = {(lid, i) for lid in lists for i in await reopened.allocated_indices(lid)}
        assert set(returned) <= allocated
        for lid, lst in lists.items():  # the counters agree with the allocation rows
            assert lst.allocated == len(await reopened.allocated_indices(lid))
        fresh = await reopened.allocate_indices(BSL, "revocation", size, 300)
        assert not set(fresh) & allocated
        assert len(set(fresh)) == 300
