"""Block allocation for multi-bit status (``statusSize`` > 1): an entry owns ``block``
consecutive bits, on both backends; the picker never hands out a block with a used bit."""

from __future__ import annotations

import asyncio
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vc_issuer.errors import MalformedInputError, NotFoundError
from vc_issuer.store import Store, get_bit, set_bit
from vc_issuer.store.base import pick_free_blocks

BSL = "BitstringStatusList"


async def test_blocks_fill_a_list_then_a_new_one_starts(store: Store) -> None:
    got = await store.allocate_blocks(BSL, "message", 64, 4, 16)
    (first,) = {lid for lid, _ in got}
    assert sorted(e for _, e in got) == list(range(16))  # every entry of 4 bits, once
    assert await store.allocated_indices(first) == list(range(64))
    lst = await store.get_status_list(first)
    assert lst is not None and lst.full and lst.allocated == 64 and lst.purpose == "message"

    more = await store.allocate_blocks(BSL, "message", 64, 4, 20)  # spans two new lists
    by_list: dict[str, list[int]] = {}
    for lid, e in more:
        by_list.setdefault(lid, []).append(e)
    assert first not in by_list and sorted(map(len, by_list.values())) == [4, 16]
    for lid, entries in by_list.items():
        bits = sorted(4 * e + k for e in entries for k in range(4))
        assert await store.allocated_indices(lid) == bits
    # the bits of a block can be set like any allocated bit
    lid, entry = more[0]
    assert await store.set_status_bit(lid, 4 * entry + 3, True, actor="t") == (False, True)


async def test_concurrent_block_allocations_never_overlap(store: Store) -> None:
    batches = await asyncio.gather(
        *(store.allocate_blocks(BSL, "message", 4096, 2, 25) for _ in range(8))
    )
    pairs = [p for batch in batches for p in batch]
    assert len(set(pairs)) == 200
    spread = [e for _, e in pairs]
    assert max(spread) - min(spread) > 1024  # drawn at random, not counted up


async def test_bad_block_requests(store: Store) -> None:
    for size, block in ((64, 0), (64, 65), (64, 3), (64, True)):
        with pytest.raises(MalformedInputError):
            await store.allocate_blocks(BSL, "message", size, block, 1)
    assert await store.allocate_blocks(BSL, "message", 64, 2, 0) == []


@settings(max_examples=150, deadline=None)
@given(block=st.sampled_from([2, 3, 4, 8]), entries=st.integers(1, 60), data=st.data())
def test_pick_free_blocks_takes_whole_free_blocks(
    block: int, entries: int, data: st.DataObject
) -> None:
    size = block * entries
    alloc = bytearray((size + 7) // 8)
    taken = data.draw(st.sets(st.integers(0, entries - 1)))
    for e in taken:
        for k in range(block):
            set_bit(alloc, e * block + k, True)
    count = data.draw(st.integers(0, entries - len(taken)))
    rng = random.Random(data.draw(st.integers(0, 2**32)))
    picked = pick_free_blocks(alloc, size, len(taken) * block, block, count, rng)
    assert len(set(picked)) == count and not set(picked) & taken
    for e in picked:
        assert all(get_bit(alloc, e * block + k) for k in range(block))
    assert sum(get_bit(alloc, i) for i in range(size)) == (len(taken) + count) * block


async def test_a_multi_bit_value_is_written_whole_in_one_transaction(store: Store) -> None:
    ((lid, entry),) = await store.allocate_blocks(BSL, "message", 64, 4, 1)
    start = 4 * entry
    old = await store.set_status_bits(lid, start, (True, False, True, True), actor="admin")
    assert old == (False, False, False, False)
    lst = await store.get_status_list(lid)
    assert lst is not None
    assert [get_bit(lst.bits, start + k) for k in range(4)] == [True, False, True, True]
    assert lst.version == 2  # one write, one version, however many bits changed
    audit = await store.audit_log(list_id=lid)
    assert sorted((a.index, a.old, a.new) for a in audit) == [
        (start, False, True),
        (start + 2, False, True),
        (start + 3, False, True),
    ]
    # the same value again writes nothing
    assert await store.set_status_bits(lid, start, (True, False, True, True), actor="admin") == (
        True,
        False,
        True,
        True,
    )
    again = await store.get_status_list(lid)
    assert again is not None and again.version == 2


async def test_a_run_reaching_an_unallocated_bit_writes_no_bit(store: Store) -> None:
    ((lid, entry),) = await store.allocate_blocks(BSL, "message", 64, 4, 1)
    # five bits from the block's start: the fifth is another (unallocated) entry's, or past the
    # list's end; either way not one bit of the run is written
    with pytest.raises((NotFoundError, MalformedInputError)):
        await store.set_status_bits(lid, 4 * entry, (True,) * 5, actor="admin")
    lst = await store.get_status_list(lid)
    assert lst is not None and lst.version == 1
    assert not any(get_bit(lst.bits, 4 * entry + k) for k in range(4))
    assert await store.audit_log(list_id=lid) == []
