"""The one SQL layer: homes made by the old hand-written backends open, the migrations build exactly
``schema.metadata``, and the dialect pieces stay the only per-database SQL."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import sqlalchemy as sa

from tests.vc_issuer.store.legacy_schema import POSTGRES, SQLITE
from vc_issuer.store import StoreLocation, open_store
from vc_issuer.store.dialects import PIECES, _pg_sql, expand
from vc_issuer.store.migrations import LATEST, STEPS
from vc_issuer.store.schema import metadata

BSL = "BitstringStatusList"
ISSUED = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


async def _legacy_store(store_url: str, backend: str) -> None:
    """A version-4 store exactly as the hand-written backends left it, with one credential."""
    if backend == "sqlite":
        conn = sqlite3.connect(store_url)
        conn.execute(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at TEXT NOT NULL)"
        )
        for version, name, statements in SQLITE:
            for statement in statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version VALUES (?, ?, '2025-01-01T00:00:00.000000Z')",
                (version, name),
            )
        conn.execute(
            "INSERT INTO credentials VALUES ('urn:x:1', 'page-1', 'did:x:a',"
            " '[\"VerifiableCredential\"]', '2025-03-01T12:00:00.123456Z', NULL, NULL, '[]',"
            " '{\"z\":1,\"a\":2}', 'key-1', '2025-03-01T12:00:01.000000Z')"
        )
        conn.commit()
        conn.close()
        return
    conn2 = await asyncpg.connect(store_url)
    try:
        await conn2.execute(
            "CREATE TABLE schema_version (version integer PRIMARY KEY,"
            " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for version, name, statements in POSTGRES:
            for statement in statements:
                await conn2.execute(statement)
            await conn2.execute(
                "INSERT INTO schema_version (version, name) VALUES ($1, $2)", version, name
            )
        await conn2.execute(
            "INSERT INTO credentials (id, page_id, subject_id, types, issued_at, status_entries,"
            " credential, idempotency_key) VALUES ('urn:x:1', 'page-1', 'did:x:a',"
            " ARRAY['VerifiableCredential'], $1, '[]', '{\"z\":1,\"a\":2}', 'key-1')",
            ISSUED,
        )
    finally:
        await conn2.close()


async def test_a_store_made_by_the_old_backends_opens_and_works(
    store_url: str, backend: str
) -> None:
    await _legacy_store(store_url, backend)
    async with open_store(store_url) as store:
        assert await store.schema_version() == LATEST >= 5
        old = await store.get_by_idempotency_key("key-1")
        assert old is not None
        assert (old.id, old.page_id, old.types, old.issued_at) == (
            "urn:x:1",
            "page-1",
            ["VerifiableCredential"],
            ISSUED,
        )
        assert list(old.credential) == ["z", "a"]  # key order as stored
        list_id, index = await store.allocate_index(BSL, "revocation", 64)
        assert await store.set_status_bit(list_id, index, True, actor="t") == (False, True)
        await store.create_achievement("a", {"name": "A"})
        assert [a.id for a in await store.list_achievements()] == ["a"]


def _columns(conn: sa.Connection) -> dict[str, set[tuple[str, bool]]]:
    inspector = sa.inspect(conn)
    return {
        table: {(c["name"], bool(c["nullable"])) for c in inspector.get_columns(table)}
        for table in inspector.get_table_names()
    }


async def test_migrations_build_exactly_the_schema_the_queries_use(
    store_url: str, backend: str
) -> None:
    async with open_store(store_url):
        pass
    expected = {
        t.name: {(c.name, bool(c.nullable)) for c in t.columns} for t in metadata.sorted_tables
    }
    if backend == "sqlite":
        engine = sa.create_engine(f"sqlite:///{store_url}")
        with engine.connect() as conn:
            found = _columns(conn)
        engine.dispose()
    else:
        from sqlalchemy.ext.asyncio import create_async_engine

        schema = store_url.rsplit("search_path=", 1)[1]
        url = store_url.split("?", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        aengine = create_async_engine(
            url, connect_args={"server_settings": {"search_path": schema}}
        )
        async with aengine.connect() as aconn:
            found = await aconn.run_sync(_columns)
        await aengine.dispose()
    assert found == expected


def test_steps_are_numbered_and_the_pieces_cover_both_databases() -> None:
    assert [s.version for s in STEPS] == list(range(1, LATEST + 1))
    assert set(PIECES["sqlite"]) == set(PIECES["postgresql"])


def test_placeholders_become_numbered_for_asyncpg() -> None:
    sql, names = _pg_sql("SELECT :a, :b, :a FROM t WHERE x::text = :c AND f = {FALSE}")
    assert sql == "SELECT $1, $2, $1 FROM t WHERE x::text = $3 AND f = false"
    assert names == ("a", "b", "c")
    assert expand("k", ["x", "y"]) == ("(:k0, :k1)", {"k0": "x", "k1": "y"})


async def test_location_reopens_the_same_store(store_url: str, tmp_path: Path) -> None:
    async with open_store(store_url) as store:
        await store.set_meta("where", "here")
        location = store.location()
        assert isinstance(location, StoreLocation)
    options: dict[str, Any] = dict(location.options)
    async with open_store(location.url, **options) as again:
        assert await again.get_meta("where") == "here"
    async with open_store(":memory:") as memory:
        assert memory.location() is None
