"""The pure index picker: uniform among free slots, never an allocated one."""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from vc_issuer.store import get_bit, pick_free, set_bit
from vc_issuer.store.base import free_indices


@settings(max_examples=200, deadline=None)
@given(
    size=st.integers(1, 700),
    data=st.data(),
)
def test_pick_free_never_returns_an_allocated_slot(size: int, data: st.DataObject) -> None:
    taken = data.draw(st.sets(st.integers(0, size - 1)))
    alloc = bytearray((size + 7) // 8)
    for i in taken:
        set_bit(alloc, i, True)
    count = data.draw(st.integers(0, size - len(taken)))
    seed = data.draw(st.integers(0, 2**32))
    picked = pick_free(alloc, size, len(taken), count, random.Random(seed))
    assert len(picked) == count == len(set(picked))
    assert not set(picked) & taken
    assert all(0 <= i < size for i in picked)
    assert all(get_bit(alloc, i) for i in picked)  # marked
    assert sorted(free_indices(alloc, size)) == sorted(set(range(size)) - taken - set(picked))


def test_dense_list_picks_uniformly_among_the_few_free_slots() -> None:
    size = 4096
    free = {5, 1000, 2047, 4095}
    counts: Counter[int] = Counter()
    rng = random.Random(1)
    for _ in range(4000):
        alloc = bytearray(b"\xff" * (size // 8))
        for i in free:
            set_bit(alloc, i, False)
        (i,) = pick_free(alloc, size, size - len(free), 1, rng)
        counts[i] += 1
    assert set(counts) == free
    assert all(850 <= c <= 1150 for c in counts.values()), counts


def test_bit_order_is_msb_first() -> None:
    bits = bytearray(2)
    set_bit(bits, 0, True)
    set_bit(bits, 9, True)
    assert bytes(bits) == b"\x80\x40"
    assert get_bit(bits, 0) and get_bit(bits, 9) and not get_bit(bits, 1)
    set_bit(bits, 0, False)
    assert bytes(bits) == b"\x00\x40"
