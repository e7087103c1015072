"""Store contract for wallet exchanges (SQLite and PostgreSQL): single use under concurrency."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from vc_issuer.errors import ConflictError, MalformedInputError
from vc_issuer.store import KEEP, Store, new_exchange_id, open_store

from ._records import T0, exchange


async def test_create_and_get_round_trip(store: Store) -> None:
    rec = exchange(template={"type": ["VerifiableCredential"], "credentialSubject": {}})
    created = await store.create_exchange(rec)
    assert created.version == 1
    got = await store.get_exchange(rec.id)
    assert got is not None
    assert (got.id, got.kind, got.state, got.credential_id) == (
        rec.id,
        "vcapi",
        "pending",
        "urn:uuid:award-1",
    )
    assert got.template == rec.template and got.data == rec.data and got.result is None
    assert got.created_at == T0 and got.expires_at == T0 + timedelta(minutes=15)
    assert got.expires_at.tzinfo is not None and got.version == 1
    assert got.lookup_hash is None
    assert await store.get_exchange(new_exchange_id()) is None


async def test_ids_are_unguessable_and_unique() -> None:
    ids = {new_exchange_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) >= 43 for i in ids)


async def test_duplicate_id_or_lookup_conflicts(store: Store) -> None:
    rec = exchange(lookup_hash="h-1")
    await store.create_exchange(rec)
    with pytest.raises(ConflictError):
        await store.create_exchange(replace(rec, lookup_hash=None))
    with pytest.raises(ConflictError):
        await store.create_exchange(exchange(lookup_hash="h-1"))


@pytest.mark.parametrize(
    "changes",
    [
        {"kind": "oauth"},
        {"state": "done"},
        {"credential_id": None},
        {"credential_id": ""},
        {"id": "short"},
        {"created_at": datetime(2030, 1, 1, 12, 0)},
        {"expires_at": T0},
        {"data": ["not", "an", "object"]},
        {"lookup_hash": ""},
    ],
)
async def test_bad_records_are_refused(store: Store, changes: dict[str, object]) -> None:
    with pytest.raises(MalformedInputError):
        await store.create_exchange(exchange(**changes))


async def test_template_only_exchange(store: Store) -> None:
    rec = exchange(credential_id=None, template={"credentialSubject": {"name": "A"}})
    await store.create_exchange(rec)
    got = await store.get_exchange(rec.id)
    assert got is not None and got.credential_id is None
    assert got.template == {"credentialSubject": {"name": "A"}}


async def test_find_by_lookup_hash_and_kind(store: Store) -> None:
    rec = exchange(kind="oid4vci", lookup_hash="sha256:code")
    await store.create_exchange(rec)
    found = await store.find_exchange("oid4vci", "sha256:code")
    assert found is not None and found.id == rec.id
    assert await store.find_exchange("vcapi", "sha256:code") is None
    assert await store.find_exchange("oid4vci", "sha256:other") is None


async def test_transition_is_compare_and_set(store: Store) -> None:
    rec = exchange()
    await store.create_exchange(rec)
    assert await store.transition_exchange(rec.id, ["pending"], "active", data={"challenge": "c2"})
    got = await store.get_exchange(rec.id)
    assert got is not None and got.state == "active" and got.data == {"challenge": "c2"}
    assert got.version == 2
    # Wrong source state: nothing moves, nothing is written.
    assert not await store.transition_exchange(rec.id, ["pending"], "complete", result={"x": 1})
    again = await store.get_exchange(rec.id)
    assert again is not None and again.state == "active" and again.result is None
    assert again.version == 2
    assert await store.transition_exchange(
        rec.id, ["pending", "active"], "complete", result={"credential": {"id": "c"}}
    )
    done = await store.get_exchange(rec.id)
    assert done is not None and done.state == "complete"
    assert done.result == {"credential": {"id": "c"}} and done.data == {"challenge": "c2"}
    assert not await store.transition_exchange(rec.id, ["pending", "active"], "complete")
    assert not await store.transition_exchange(new_exchange_id(), ["pending"], "active")


async def test_transition_refuses_bad_states(store: Store) -> None:
    rec = exchange()
    await store.create_exchange(rec)
    with pytest.raises(MalformedInputError):
        await store.transition_exchange(rec.id, ["pending"], "finished")
    with pytest.raises(MalformedInputError):
        await store.transition_exchange(rec.id, [], "active")


async def test_transition_respects_expiry_when_given_now(store: Store) -> None:
    rec = exchange()
    await store.create_exchange(rec)
    late = T0 + timedelta(minutes=15)
    assert not await store.transition_exchange(rec.id, ["pending"], "active", now=late)
    got = await store.get_exchange(rec.id)
    assert got is not None and got.state == "pending" and got.is_expired(late)
    early = T0 + timedelta(minutes=14, seconds=59)
    assert await store.transition_exchange(rec.id, ["pending"], "active", now=early)


async def test_transition_swaps_lookup_hash(store: Store) -> None:
    rec = exchange(kind="oid4vci", lookup_hash="code-hash")
    other = exchange(kind="oid4vci", lookup_hash="taken")
    await store.create_exchange(rec)
    await store.create_exchange(other)
    with pytest.raises(ConflictError):
        await store.transition_exchange(rec.id, ["pending"], "active", lookup_hash="taken")
    still = await store.get_exchange(rec.id)
    assert still is not None and still.state == "pending" and still.lookup_hash == "code-hash"
    assert await store.transition_exchange(rec.id, ["pending"], "active", lookup_hash="token-hash")
    assert await store.find_exchange("oid4vci", "code-hash") is None
    found = await store.find_exchange("oid4vci", "token-hash")
    assert found is not None and found.id == rec.id
    assert await store.transition_exchange(rec.id, ["active"], "active", lookup_hash=KEEP)
    kept = await store.get_exchange(rec.id)
    assert kept is not None and kept.lookup_hash == "token-hash"
    assert await store.transition_exchange(rec.id, ["active"], "complete", lookup_hash=None)
    cleared = await store.get_exchange(rec.id)
    assert cleared is not None and cleared.lookup_hash is None


async def test_concurrent_completion_has_exactly_one_winner(store: Store) -> None:
    rec = exchange()
    await store.create_exchange(rec)
    outcomes = await asyncio.gather(
        *(
            store.transition_exchange(rec.id, ["pending"], "complete", result={"winner": n})
            for n in range(40)
        )
    )
    assert outcomes.count(True) == 1
    got = await store.get_exchange(rec.id)
    assert got is not None and got.result == {"winner": outcomes.index(True)}


async def test_two_store_instances_race_one_winner(store_url: str) -> None:
    """Two pools (as two server processes would have) still complete an exchange once."""
    async with open_store(store_url) as a, open_store(store_url) as b:
        rec = exchange()
        await a.create_exchange(rec)
        outcomes = await asyncio.gather(
            *(s.transition_exchange(rec.id, ["pending", "active"], "complete") for s in [a, b] * 15)
        )
        assert outcomes.count(True) == 1


async def test_update_data_guards_state_and_version(store: Store) -> None:
    rec = exchange(kind="oid4vci")
    await store.create_exchange(rec)
    assert await store.update_exchange_data(rec.id, {"attempts": 1}, "pending", expected_version=1)
    # A second writer that read version 1 loses: no lost update of the counter.
    assert not await store.update_exchange_data(
        rec.id, {"attempts": 1}, "pending", expected_version=1
    )
    got = await store.get_exchange(rec.id)
    assert got is not None and got.data == {"attempts": 1} and got.version == 2
    assert not await store.update_exchange_data(rec.id, {"attempts": 9}, "active")
    assert await store.update_exchange_data(rec.id, {"attempts": 2}, "pending")
    got = await store.get_exchange(rec.id)
    assert got is not None and got.data == {"attempts": 2} and got.version == 3
    with pytest.raises(MalformedInputError):
        await store.update_exchange_data(rec.id, {"attempts": 3}, "bogus")


async def test_concurrent_counter_increments_are_not_lost(store: Store) -> None:
    rec = exchange(kind="oid4vci", data={"attempts": 0})
    await store.create_exchange(rec)

    async def bump() -> None:
        while True:
            cur = await store.get_exchange(rec.id)
            assert cur is not None
            data = {"attempts": cur.data["attempts"] + 1}
            if await store.update_exchange_data(
                rec.id, data, "pending", expected_version=cur.version
            ):
                return

    await asyncio.gather(*(bump() for _ in range(10)))
    got = await store.get_exchange(rec.id)
    assert got is not None and got.data == {"attempts": 10}


async def test_list_newest_first_and_filtered(store: Store) -> None:
    a = exchange(created_at=T0, expires_at=T0 + timedelta(minutes=5))
    b = exchange(
        created_at=T0 + timedelta(seconds=1),
        expires_at=T0 + timedelta(hours=1),
        kind="oid4vci",
    )
    c = exchange(
        created_at=T0 + timedelta(seconds=2),
        expires_at=T0 + timedelta(minutes=1),
        credential_id="urn:uuid:award-2",
    )
    for r in (a, b, c):
        await store.create_exchange(r)
    assert await store.transition_exchange(c.id, ["pending"], "complete")
    listed = await store.list_exchanges()
    assert [r.id for r in listed] == [c.id, b.id, a.id]
    assert [r.id for r in await store.list_exchanges(kind="oid4vci")] == [b.id]
    assert [r.id for r in await store.list_exchanges(credential_id="urn:uuid:award-2")] == [c.id]
    assert len(await store.list_exchanges(limit=1)) == 1
    states = {r.id: r.state for r in await store.list_exchanges()}
    assert states == {a.id: "pending", b.id: "pending", c.id: "complete"}
    with pytest.raises(MalformedInputError):
        await store.list_exchanges(limit=-1)
