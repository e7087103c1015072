"""Store contract for achievements, images and idempotency lookups (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from vc_issuer.errors import ConflictError, MalformedInputError, NotFoundError
from vc_issuer.store import CredentialRecord, Store, open_store
from vc_issuer.store.migrations.sqlite import MIGRATIONS as SQLITE_MIGRATIONS

from ._records import bare_credential

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def data(name: str) -> dict[str, object]:
    return {"achievement": {"name": name, "nested": {"ü": [1, 2.5, None]}}, "validForMonths": 24}


async def test_create_get_and_history(store: Store) -> None:
    created = await store.create_achievement("a1", data("First"))
    assert (created.id, created.version, created.archived) == ("a1", 1, False)
    assert created.created_at.tzinfo is not None
    got = await store.get_achievement("a1")
    assert got is not None and got.data == data("First") and got.version == 1

    updated = await store.update_achievement("a1", data("Second"), expected_version=1)
    assert updated.version == 2 and updated.data == data("Second")
    assert updated.created_at == created.created_at
    current = await store.get_achievement("a1")
    assert current is not None and current.version == 2 and current.data == data("Second")
    old = await store.get_achievement("a1", version=1)
    assert old is not None and old.version == 1 and old.data == data("First")
    assert await store.get_achievement("a1", version=7) is None
    assert await store.get_achievement("nope") is None


async def test_create_twice_conflicts(store: Store) -> None:
    await store.create_achievement("a1", data("x"))
    with pytest.raises(ConflictError):
        await store.create_achievement("a1", data("y"))
    got = await store.get_achievement("a1")
    assert got is not None and got.data == data("x")


async def test_update_lost_update_and_unknown(store: Store) -> None:
    await store.create_achievement("a1", data("x"))
    await store.update_achievement("a1", data("y"))
    with pytest.raises(ConflictError) as info:
        await store.update_achievement("a1", data("z"), expected_version=1)
    assert info.value.code == "VERSION_CONFLICT"
    got = await store.get_achievement("a1")
    assert got is not None and got.version == 2 and got.data == data("y")
    with pytest.raises(NotFoundError):
        await store.update_achievement("ghost", data("z"))


async def test_concurrent_updates_get_distinct_versions(store: Store) -> None:
    await store.create_achievement("a1", data("v1"))
    out = await asyncio.gather(*(store.update_achievement("a1", data(f"u{i}")) for i in range(8)))
    assert sorted(r.version for r in out) == list(range(2, 10))


async def test_archive_and_list(store: Store) -> None:
    for n in ("a", "b", "c"):
        await store.create_achievement(n, data(n))
    archived = await store.set_achievement_archived("b", True)
    assert archived.archived and archived.version == 1
    assert [r.id for r in await store.list_achievements()] == ["a", "c"]
    assert [r.id for r in await store.list_achievements(include_archived=True)] == ["a", "b", "c"]
    again = await store.set_achievement_archived("b", True)  # idempotent
    assert again.archived
    old = await store.get_achievement("b", version=1)
    assert old is not None and old.archived  # the flag is the current one
    restored = await store.set_achievement_archived("b", False)
    assert not restored.archived
    with pytest.raises(NotFoundError):
        await store.set_achievement_archived("ghost", True)


async def test_bad_achievement_input(store: Store) -> None:
    with pytest.raises(MalformedInputError):
        await store.create_achievement("", data("x"))
    with pytest.raises(MalformedInputError):
        await store.create_achievement("a", ["not", "an", "object"])  # type: ignore[arg-type]


async def test_images_by_hash(store: Store) -> None:
    digest = hashlib.sha256(PNG).hexdigest()
    assert await store.put_image(digest, "image/png", PNG) is True
    assert await store.put_image(digest, "image/png", PNG) is False
    image = await store.get_image(digest)
    assert image is not None
    assert (image.sha256, image.media_type, image.data) == (digest, "image/png", PNG)
    assert await store.get_image("0" * 64) is None
    with pytest.raises(MalformedInputError):
        await store.put_image("0" * 64, "image/png", PNG)  # hash does not match the bytes
    with pytest.raises(MalformedInputError) as info:
        await store.put_image(digest, "image/gif", PNG)
    assert info.value.code == "UNSUPPORTED_IMAGE"


def _record(n: int, key: str | None) -> CredentialRecord:
    return bare_credential(
        f"urn:uuid:00000000-0000-4000-8000-{n:012d}",
        issued_at=datetime(2025, 1, 1, tzinfo=UTC),
        credential={"id": n},
        idempotency_key=key,
    )


async def test_credential_refs(store: Store) -> None:
    records = [_record(n, f"k{n}" if n % 2 else None) for n in range(1200)]
    await store.put_credentials(records)
    keys = [f"k{n}" for n in range(1200)]  # half of them were never stored
    refs = await store.credential_refs(keys)
    assert set(refs) == {f"k{n}" for n in range(1, 1200, 2)}
    assert refs["k7"].id == records[7].id and refs["k7"].page_id == records[7].page_id
    assert await store.credential_refs([]) == {}
    with pytest.raises(MalformedInputError):
        await store.credential_refs([""])


async def test_reopening_keeps_achievements(store_url: str) -> None:
    async with open_store(store_url) as first:
        assert await first.schema_version() >= 2
        await first.create_achievement("kept", data("kept"))
    async with open_store(store_url) as again:  # re-running migrations is a no-op
        got = await again.get_achievement("kept")
        assert got is not None and got.data == data("kept")


async def test_sqlite_version_one_store_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
        " applied_at TEXT NOT NULL)"
    )
    for statement in SQLITE_MIGRATIONS[0].statements:
        conn.execute(statement)
    conn.execute("INSERT INTO schema_version VALUES (1, 'initial', '2025-01-01T00:00:00.000000Z')")
    conn.commit()
    conn.close()
    async with open_store(path) as store:
        assert await store.schema_version() == len(SQLITE_MIGRATIONS) >= 2
        await store.create_achievement("new", data("new"))
        assert [r.id for r in await store.list_achievements()] == ["new"]
