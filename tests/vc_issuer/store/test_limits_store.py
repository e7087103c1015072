"""Store contract for limits (SQLite and PostgreSQL): attempts checked and counted atomically,
expired exchanges purged, the request hash of an idempotency key kept."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from vc_issuer.errors import MalformedInputError
from vc_issuer.store import ExchangeRecord, Store, new_exchange_id, open_store

from . import _records
from ._records import T0, bare_credential


def exchange(**changes: object) -> ExchangeRecord:
    return _records.exchange(kind="oid4vci", data={}, **changes)


async def test_attempts_count_up_to_the_limit_then_stop(store: Store) -> None:
    rec = await store.create_exchange(exchange())
    assert [await store.count_attempt(rec.id, 3) for _ in range(5)] == [1, 2, 3, 0, 0]
    got = await store.get_exchange(rec.id)
    assert got is not None and got.attempts == 3
    assert await store.count_attempt(new_exchange_id(), 3) == 0  # unknown exchange
    await store.transition_exchange(rec.id, ["pending"], "failed")
    assert await store.count_attempt(rec.id, 10) == 0  # not in the state asked for
    with pytest.raises(MalformedInputError):
        await store.count_attempt(rec.id, 0)


async def test_concurrent_attempts_never_pass_the_limit(store_url: str) -> None:
    """50 callers on two connections' worth of stores: exactly 5 get a count, 1..5 each once."""
    async with open_store(store_url) as a, open_store(store_url) as b:
        rec = await a.create_exchange(exchange())
        counts = await asyncio.gather(
            *(([a, b][i % 2]).count_attempt(rec.id, 5) for i in range(50))
        )
        assert sorted(c for c in counts if c) == [1, 2, 3, 4, 5]
        assert counts.count(0) == 45


async def test_purge_removes_expired_undelivered_exchanges_only(store: Store) -> None:
    old = await store.create_exchange(exchange())
    delivered = await store.create_exchange(exchange())
    await store.transition_exchange(delivered.id, ["pending"], "complete", result={"x": 1})
    live = await store.create_exchange(exchange(expires_at=T0 + timedelta(days=1)))
    assert await store.count_exchanges() == 3
    after = T0 + timedelta(hours=1)
    assert await store.purge_expired(after, grace=timedelta(hours=2)) == 0  # within grace
    assert await store.purge_expired(after) == 1
    assert await store.get_exchange(old.id) is None
    assert await store.get_exchange(delivered.id) is not None  # the issuer's record of it
    assert await store.get_exchange(live.id) is not None
    assert await store.count_exchanges() == 2


async def test_request_hash_round_trips(store: Store) -> None:
    rec = bare_credential("urn:uuid:c-1", idempotency_key="k-1", request_hash="sha256:abc")
    await store.put_credential(rec)
    got = await store.get_by_idempotency_key("k-1")
    assert got is not None and got.request_hash == "sha256:abc"
