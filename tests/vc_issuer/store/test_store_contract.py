"""Contract suite for the Store interface: each test runs against SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest

from vc_issuer.errors import (
    ConfigError,
    ConflictError,
    MalformedInputError,
    NotFoundError,
    StoreError,
)
from vc_issuer.store import CredentialRecord, Store, open_store
from vc_issuer.store.migrations.postgres import MIGRATIONS as PG_MIGRATIONS
from vc_issuer.store.migrations.sqlite import MIGRATIONS as SQLITE_MIGRATIONS

BSL = "BitstringStatusList"
T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def record(n: int, *, key: str | None = None, **changes: Any) -> CredentialRecord:
    fields: dict[str, Any] = {
        "id": f"urn:uuid:00000000-0000-4000-8000-{n:012d}",
        "subject_id": f"did:example:learner{n % 3}",
        "types": ["VerifiableCredential", "OpenBadgeCredential"],
        "issued_at": T0 + timedelta(seconds=n),
        "valid_from": T0,
        "valid_until": T0 + timedelta(days=365),
        "status_entries": [
            {
                "id": f"https://issuer.example/status-lists/abc#{n}",
                "type": "BitstringStatusListEntry",
                "statusPurpose": "revocation",
                "statusListIndex": str(n),
                "statusListCredential": "https://issuer.example/status-lists/abc",
            }
        ],
        "credential": {
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "id": f"urn:uuid:00000000-0000-4000-8000-{n:012d}",
            "type": ["VerifiableCredential", "OpenBadgeCredential"],
            "credentialSubject": {"name": "Zoë Ångström ✓", "z": 1, "a": [1.5, None, True]},
        },
        "idempotency_key": key,
    }
    fields.update(changes)
    return CredentialRecord(**fields)


# --- migrations ---------------------------------------------------------------------------------


async def test_migrations_apply_once_and_are_idempotent(store_url: str) -> None:
    latest = len(SQLITE_MIGRATIONS)
    assert latest == len(PG_MIGRATIONS)
    async with open_store(store_url, migrate=False) as fresh:
        assert await fresh.schema_version() == 0
        assert await fresh.migrate() == latest
        assert await fresh.migrate() == latest  # second run: nothing to do, no error
        await fresh.set_meta("issuer_did", "did:key:z6Mk")
    async with open_store(store_url) as again:  # reopening migrates again: keeps the data
        assert await again.schema_version() == latest
        assert await again.get_meta("issuer_did") == "did:key:z6Mk"


async def test_concurrent_migrations_on_a_fresh_store(store_url: str) -> None:
    stores = [await open_store(store_url, migrate=False) for _ in range(4)]
    try:
        versions = await asyncio.gather(*(s.migrate() for s in stores))
        assert set(versions) == {len(SQLITE_MIGRATIONS)}
    finally:
        for s in stores:
            await s.close()


async def test_newer_schema_is_refused(store: Store, store_url: str, backend: str) -> None:
    if backend == "sqlite":
        import sqlite3

        conn = sqlite3.connect(store_url)
        conn.execute("INSERT INTO schema_version VALUES (999, 'future', 'x')")
        conn.commit()
        conn.close()
    else:
        conn2 = await asyncpg.connect(store_url)
        await conn2.execute("INSERT INTO schema_version (version, name) VALUES (999, 'future')")
        await conn2.close()
    with pytest.raises(StoreError, match="newer than this software"):
        await open_store(store_url)


# --- credential records -------------------------------------------------------------------------


async def test_record_round_trip(store: Store) -> None:
    rec = record(7, key="req-7")
    assert await store.put_credential(rec) == rec
    got = await store.get_credential(rec.id)
    assert got == rec
    assert got is not None and got.issued_at.tzinfo is not None
    assert got.issued_at.utcoffset() == timedelta(0)
    assert list(got.credential) == list(rec.credential)  # key order kept, as signed
    assert await store.get_by_idempotency_key("req-7") == rec
    assert await store.get_credential_by_page_id(rec.page_id) == rec
    assert await store.get_credential("urn:uuid:nope") is None
    assert await store.get_by_idempotency_key("nope") is None


async def test_times_are_normalised_to_utc_and_naive_times_refused(store: Store) -> None:
    plus2 = timezone(timedelta(hours=2))
    rec = record(1, issued_at=datetime(2025, 1, 1, 14, 0, tzinfo=plus2), valid_until=None)
    await store.put_credential(rec)
    got = await store.get_credential(rec.id)
    assert got is not None
    assert got.issued_at == datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    assert got.issued_at.tzinfo == UTC
    assert got.valid_until is None
    with pytest.raises(MalformedInputError, match="naive"):
        await store.put_credential(record(2, issued_at=datetime(2025, 1, 1)))


def test_page_ids_are_unguessable_uuid4() -> None:
    a, b = record(1), record(2)
    assert a.page_id != b.page_id
    assert len(a.page_id) == 36 and a.page_id[14] == "4"


async def test_list_and_count_credentials(store: Store) -> None:
    for n in range(10):
        await store.put_credential(record(n))
    assert await store.count_credentials() == 10
    newest_first = await store.list_credentials(limit=4)
    assert [r.id for r in newest_first] == [record(n).id for n in (9, 8, 7, 6)]
    page2 = await store.list_credentials(limit=4, offset=4)
    assert [r.id for r in page2] == [record(n).id for n in (5, 4, 3, 2)]
    mine = await store.list_credentials(subject_id="did:example:learner0")
    assert sorted(r.id for r in mine) == sorted(record(n).id for n in (0, 3, 6, 9))
    with pytest.raises(MalformedInputError):
        await store.list_credentials(limit=-1)


async def test_same_id_without_key_is_a_conflict(store: Store) -> None:
    await store.put_credential(record(1))
    with pytest.raises(ConflictError) as err:
        await store.put_credential(record(1))
    assert err.value.code == "CONFLICT"
    with pytest.raises(ConflictError):
        await store.put_credential(record(1, key="another"))
    assert await store.count_credentials() == 1


async def test_idempotency_key_returns_the_first_record(store: Store) -> None:
    first = await store.put_credential(record(1, key="k"))
    again = await store.put_credential(record(2, key="k"))  # a retry that built a new id
    assert again == first
    assert await store.get_credential(record(2).id) is None
    assert await store.count_credentials() == 1


async def test_idempotency_under_20_concurrent_puts(store: Store) -> None:
    results = await asyncio.gather(
        *(store.put_credential(record(n, key="retry-me")) for n in range(20))
    )
    assert await store.count_credentials() == 1
    assert len({r.id for r in results}) == 1
    assert len({r.page_id for r in results}) == 1
    assert await store.get_by_idempotency_key("retry-me") == results[0]


async def test_idempotency_across_two_store_instances(store: Store, store_url: str) -> None:
    async with open_store(store_url) as other:
        results = await asyncio.gather(
            *(
                (store if n % 2 else other).put_credential(record(n, key="shared"))
                for n in range(20)
            )
        )
    assert len({r.id for r in results}) == 1
    assert await store.count_credentials() == 1


async def test_batch_put(store: Store) -> None:
    await store.put_credential(record(0, key="k0"))
    out = await store.put_credentials([record(1, key="k1"), record(50, key="k0"), record(2)])
    assert [r.id for r in out] == [record(1).id, record(0).id, record(2).id]
    assert await store.count_credentials() == 3
    with pytest.raises(ConflictError):  # one conflict rolls the whole batch back
        await store.put_credentials([record(3), record(2)])
    assert await store.get_credential(record(3).id) is None


async def test_malformed_records_are_refused(store: Store) -> None:
    with pytest.raises(MalformedInputError):
        await store.put_credential(record(1, id=""))
    with pytest.raises(MalformedInputError):
        await store.put_credential(record(1, types="VerifiableCredential"))
    with pytest.raises(MalformedInputError):
        await store.put_credential(record(1, key=""))


# --- status bits and audit ----------------------------------------------------------------------


async def test_status_change_writes_audit_with_old_and_new(store: Store) -> None:
    list_id, idx = await store.allocate_index(BSL, "revocation", 1024)
    before = await store.get_status_list(list_id)
    assert before is not None and before.version == 1 and not before.bit(idx)

    cid = record(1).id
    assert await store.set_status_bit(
        list_id, idx, True, actor="admin", reason="fraud", credential_id=cid, purpose="revocation"
    ) == (False, True)
    after = await store.get_status_list(list_id)
    assert after is not None and after.bit(idx) and after.version == 2
    assert after.set_count == 1
    assert after.updated_at >= before.updated_at

    # Unchanged bit: no write, no version bump, no second audit row.
    assert await store.set_status_bit(list_id, idx, True, actor="admin", credential_id=cid) == (
        True,
        True,
    )
    assert (await store.get_status_list(list_id)).version == 2  # type: ignore[union-attr]

    assert await store.set_status_bit(
        list_id, idx, False, actor="ops", reason="mistake", credential_id=cid
    ) == (True, False)

    log = await store.audit_log(cid)
    assert [(e.actor, e.old, e.new, e.reason) for e in log] == [
        ("admin", False, True, "fraud"),
        ("ops", True, False, "mistake"),
    ]
    assert all(e.list_id == list_id and e.index == idx for e in log)
    assert all(e.purpose == "revocation" and e.at.tzinfo is not None for e in log)
    assert log[0].at <= log[1].at
    assert await store.audit_log("urn:other") == []
    assert len(await store.audit_log()) == 2
    assert len(await store.audit_log(list_id=list_id)) == 2


async def test_status_change_errors(store: Store) -> None:
    list_id, idx = await store.allocate_index(BSL, "suspension", 64)
    free = next(i for i in range(64) if i != idx)
    with pytest.raises(NotFoundError):
        await store.set_status_bit("no-such-list", 0, True, actor="a")
    with pytest.raises(MalformedInputError):
        await store.set_status_bit(list_id, 64, True, actor="a")
    with pytest.raises(MalformedInputError):
        await store.set_status_bit(list_id, -1, True, actor="a")
    with pytest.raises(NotFoundError, match="never allocated"):
        await store.set_status_bit(list_id, free, True, actor="a")
    with pytest.raises(MalformedInputError, match="purpose"):
        await store.set_status_bit(list_id, idx, True, actor="a", purpose="revocation")
    with pytest.raises(MalformedInputError, match="actor"):
        await store.set_status_bit(list_id, idx, True, actor="")
    assert await store.audit_log() == []


async def test_list_credential_versions(store: Store) -> None:
    list_id, idx = await store.allocate_index(BSL, "revocation", 64)
    lst = await store.get_status_list(list_id)
    assert lst is not None and lst.credential is None and not lst.credential_is_current
    assert await store.save_list_credential(list_id, 1, {"v": 1})
    await store.set_status_bit(list_id, idx, True, actor="a")
    lst = await store.get_status_list(list_id)
    assert lst is not None and lst.credential == {"v": 1} and not lst.credential_is_current
    assert await store.save_list_credential(list_id, 2, {"v": 2, "a": 0})
    assert not await store.save_list_credential(list_id, 1, {"v": 1})  # stale writer loses
    lst = await store.get_status_list(list_id)
    assert lst is not None and lst.credential == {"v": 2, "a": 0} and lst.credential_is_current
    assert list(lst.credential) == ["v", "a"]
    with pytest.raises(MalformedInputError):
        await store.save_list_credential(list_id, 3, {"v": 3})  # bits of v3 do not exist
    with pytest.raises(NotFoundError):
        await store.save_list_credential("nope", 1, {})


async def test_status_changes_concurrent_with_allocation_lose_nothing(store: Store) -> None:
    first = await store.allocate_indices(BSL, "revocation", 4096, 100)
    list_id = first[0][0]
    results = await asyncio.gather(
        *(store.allocate_index(BSL, "revocation", 4096) for _ in range(200)),
        *(store.set_status_bit(lid, i, True, actor="t", credential_id=f"c{i}") for lid, i in first),
    )
    new = results[:200]
    lst = await store.get_status_list(list_id)
    assert lst is not None
    assert lst.allocated == 300 and lst.version == 101
    assert all(lst.bit(i) for _, i in first)
    assert lst.set_count == 100
    assert len(set(new) | set(first)) == 300
    assert len(await store.audit_log()) == 100


# --- tokens and meta ----------------------------------------------------------------------------


async def test_tokens_crud(store: Store) -> None:
    later = datetime.now(UTC) + timedelta(days=1)
    a = await store.create_token("hash-a", "ci", ["issue", "read"], later)
    b = await store.create_token("hash-b", "admin", ["admin"])
    assert a.id != b.id and a.is_active() and b.is_active()
    got = await store.get_token_by_hash("hash-a")
    assert got is not None
    assert (got.id, got.name, got.scopes, got.revoked_at) == (a.id, "ci", ["issue", "read"], None)
    assert got.expires_at == later
    assert not got.is_active(later + timedelta(seconds=1))
    assert await store.get_token_by_hash("unknown") is None
    assert [t.id for t in await store.list_tokens()] == [a.id, b.id]

    assert await store.revoke_token(a.id) is True
    assert await store.revoke_token(a.id) is False
    revoked = await store.get_token_by_hash("hash-a")
    assert revoked is not None and revoked.revoked_at is not None and not revoked.is_active()
    with pytest.raises(NotFoundError):
        await store.revoke_token("no-such-token")
    with pytest.raises(ConflictError):
        await store.create_token("hash-b", "dup", ["read"])
    with pytest.raises(MalformedInputError):
        await store.create_token("hash-c", "x", "read")  # a string is not a list of scopes
    with pytest.raises(MalformedInputError, match="naive"):
        await store.create_token("hash-d", "x", ["read"], datetime(2030, 1, 1))


async def test_meta(store: Store) -> None:
    assert await store.get_meta("issuer_did") is None
    await store.set_meta("issuer_did", "did:web:example.com")
    await store.set_meta("issuer_did", "did:web:example.org")
    assert await store.get_meta("issuer_did") == "did:web:example.org"
    with pytest.raises(MalformedInputError):
        await store.set_meta("", "x")


async def test_a_closed_store_refuses_with_store_error(store_url: str) -> None:
    store = await open_store(store_url)
    await store.close()
    with pytest.raises(StoreError):
        await store.get_meta("issuer_did")
    with pytest.raises(StoreError):
        await store.set_meta("issuer_did", "did:key:z6Mk")
    outcomes = await asyncio.gather(  # coalesced: every waiting caller gets the error
        *(store.allocate_index(BSL, "revocation", 64) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(o, StoreError) for o in outcomes), outcomes


# --- opening ------------------------------------------------------------------------------------


async def test_open_store_errors(tmp_path: Any) -> None:
    with pytest.raises(StoreError, match="cannot connect") as err:
        await open_store("postgresql://postgres:secret@127.0.0.1:1/test", connect_timeout=2)
    assert "secret" not in str(err.value)
    with pytest.raises(ConfigError):
        await open_store("mysql://x/y")
    with pytest.raises(StoreError, match="does not exist"):
        await open_store(tmp_path / "missing" / "store.sqlite3")


async def test_sqlite_url_and_pragmas(tmp_path: Any) -> None:
    path = tmp_path / "s.sqlite3"
    async with open_store(f"sqlite:///{path}") as s:
        await s.set_meta("k", "v")
    import sqlite3

    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT value FROM meta").fetchone()[0] == "v"
    conn.close()
