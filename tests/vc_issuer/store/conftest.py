"""Backends for the store contract suite: every test runs on SQLite and on PostgreSQL.

PostgreSQL tests get a fresh random schema (dropped afterwards) so parallel runs never meet. An
unreachable server is a failure, not a skip, unless VC_ISSUER_SKIP_PG=1.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator

import asyncpg
import pytest

from vc_issuer.store import Store, open_store

PG_URL = os.environ.get("VC_ISSUER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
SKIP_PG = os.environ.get("VC_ISSUER_SKIP_PG") == "1"


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def store_url(backend: str, tmp_path: os.PathLike[str]) -> AsyncIterator[str]:
    """A location for a brand-new, empty store of the requested backend."""
    if backend == "sqlite":
        yield os.path.join(tmp_path, "store.sqlite3")
        return
    if SKIP_PG:
        pytest.skip("VC_ISSUER_SKIP_PG=1")
    schema = "vct_" + secrets.token_hex(6)
    try:
        admin = await asyncpg.connect(PG_URL, timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        pytest.fail(
            f"PostgreSQL at {PG_URL} is unreachable ({exc!r}); start it or set VC_ISSUER_SKIP_PG=1",
            pytrace=False,
        )
    try:
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        yield f"{PG_URL}?search_path={schema}"
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    async with open_store(store_url) as s:
        yield s
