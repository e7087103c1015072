"""A throwaway store for a benchmark: SQLite in a temporary folder, or a fresh PostgreSQL schema
that is dropped afterwards, so a run never touches real data."""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from vc_issuer.store import Store, is_postgres_url, open_store


@asynccontextmanager
async def scratch_store(database_url: str | None) -> AsyncIterator[tuple[Store, str]]:
    """The open store and the URL other processes can open it by."""
    with tempfile.TemporaryDirectory() as tmp:
        if database_url is None:
            url = str(Path(tmp) / "bench.sqlite3")
            async with open_store(url) as store:
                yield store, url
            return
        if not is_postgres_url(database_url):
            raise SystemExit("--database-url must be a postgresql:// URL")
        schema = "bench_" + secrets.token_hex(4)
        admin = await asyncpg.connect(database_url)
        try:
            await admin.execute(f'CREATE SCHEMA "{schema}"')
            sep = "&" if "?" in database_url else "?"
            url = f"{database_url}{sep}search_path={schema}"
            async with open_store(url) as store:
                yield store, url
        finally:
            await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            await admin.close()
