"""Store contract for claim links (SQLite and PostgreSQL): hashed tokens, expiry, revocation."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from vc_issuer.errors import ConflictError, MalformedInputError, NotFoundError
from vc_issuer.store import ClaimRecord, Store, open_store

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def claim(**changes: object) -> ClaimRecord:
    base = ClaimRecord(
        id=secrets.token_hex(8),
        token_hash=hashlib.sha256(secrets.token_bytes(32)).hexdigest(),
        credential_id="urn:uuid:award-1",
        created_at=T0,
        expires_at=T0 + timedelta(days=30),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


async def test_migrated_to_version_4(store: Store) -> None:
    assert await store.schema_version() >= 4


async def test_create_get_find_round_trip(store: Store) -> None:
    rec = claim()
    stored = await store.create_claim(rec)
    assert stored == rec
    assert await store.get_claim(rec.id) == rec
    found = await store.find_claim(rec.token_hash)
    assert found is not None and found.id == rec.id
    assert found.created_at == T0 and found.expires_at.tzinfo is not None
    assert found.revoked_at is None and found.last_used_at is None
    assert await store.get_claim("nope-nope") is None
    assert await store.find_claim("0" * 64) is None


async def test_batch_is_all_or_nothing(store: Store) -> None:
    first = claim()
    await store.create_claim(first)
    fresh = claim()
    with pytest.raises(ConflictError):
        await store.create_claims([fresh, claim(token_hash=first.token_hash)])
    assert await store.get_claim(fresh.id) is None
    with pytest.raises(ConflictError):
        await store.create_claim(claim(id=first.id))
    many = [claim(credential_id=f"urn:uuid:c-{i}") for i in range(50)]
    assert len(await store.create_claims(many)) == 50
    assert await store.create_claims([]) == []


async def test_list_newest_first_and_by_credential(store: Store) -> None:
    a = claim(created_at=T0)
    b = claim(created_at=T0 + timedelta(minutes=1))
    other = claim(credential_id="urn:uuid:other")
    await store.create_claims([a, b, other])
    mine = await store.list_claims(credential_id="urn:uuid:award-1")
    assert [c.id for c in mine] == [b.id, a.id]
    assert len(await store.list_claims()) == 3
    assert len(await store.list_claims(limit=1)) == 1
    with pytest.raises(MalformedInputError):
        await store.list_claims(limit=-1)


async def test_revoke_keeps_first_time_and_touch(store: Store) -> None:
    rec = claim()
    await store.create_claim(rec)
    when = T0 + timedelta(days=1)
    revoked = await store.revoke_claim(rec.id, when)
    assert revoked.revoked_at == when
    again = await store.revoke_claim(rec.id, when + timedelta(days=1))
    assert again.revoked_at == when
    with pytest.raises(NotFoundError):
        await store.revoke_claim("no-such-claim", when)
    assert await store.touch_claim(rec.id, when + timedelta(hours=2))
    got = await store.get_claim(rec.id)
    assert got is not None and got.last_used_at == when + timedelta(hours=2)
    assert not await store.touch_claim("no-such-claim", when)


async def test_bad_records_are_refused(store: Store) -> None:
    with pytest.raises(MalformedInputError):
        await store.create_claim(claim(expires_at=T0))
    with pytest.raises(MalformedInputError):
        await store.create_claim(claim(credential_id=""))
    with pytest.raises(MalformedInputError):
        await store.create_claim(claim(token_hash="short"))
    with pytest.raises(MalformedInputError):
        await store.create_claim(claim(created_at=datetime(2030, 1, 1)))  # naive


async def test_claims_survive_reopen(store_url: str) -> None:
    rec = claim()
    async with open_store(store_url) as s:
        await s.create_claim(rec)
    async with open_store(store_url) as s:
        assert await s.get_claim(rec.id) == rec
