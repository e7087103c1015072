"""Fixtures the vc_issuer tests share (tests/vc_issuer/store/ has its own, on both backends)."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from did_methods.registry import Resolver
from vc_issuer.core.keys import Ed25519Key, parse_key
from vc_issuer.store import Store, open_store

from ._helpers import DI, init_home, issue_plain, load
from ._web import VirtualWeb, started_web

BADGES_BASE = "https://badges.example.edu"
PG_URL = os.environ.get("VC_ISSUER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
SKIP_PG = os.environ.get("VC_ISSUER_SKIP_PG") == "1"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """A real SQLite store in a fresh file."""
    async with open_store(tmp_path / "store.sqlite3") as s:
        yield s


async def _pg_schema() -> tuple[asyncpg.Connection, str]:
    try:
        admin = await asyncpg.connect(PG_URL, timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL at {PG_URL} is unreachable ({exc!r})", pytrace=False)
    schema = "vci_" + secrets.token_hex(6)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    return admin, schema


@pytest.fixture(params=["sqlite", "postgresql"])
async def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A real store on each backend: SQLite in a fresh file, PostgreSQL in a fresh schema."""
    if request.param == "sqlite":
        async with open_store(tmp_path / "store.sqlite3") as store:
            yield store
        return
    if SKIP_PG:
        pytest.skip("VC_ISSUER_SKIP_PG=1")
    admin, schema = await _pg_schema()
    try:
        async with open_store(f"{PG_URL}?search_path={schema}") as store:
            yield store
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()


@pytest.fixture
async def resolver() -> AsyncIterator[Resolver]:
    """The default DID resolver (did:key, did:web), closed after the test."""
    async with Resolver() as r:
        yield r


@pytest.fixture
def home(tmp_path: Path) -> str:
    """A home made by `vc-issuer init` for BADGES_BASE, issuer "Example U" (the CLI tests';
    a module may define its own)."""
    return init_home(tmp_path, BADGES_BASE, "--name", "Example U")


@pytest.fixture
def award_id(home: str) -> str:
    """A plain credential issued in ``home``."""
    return issue_plain(home)


@pytest.fixture
async def vweb() -> AsyncIterator[VirtualWeb]:
    """A virtual web the fetchers reach instead of the network; a module adds its pages."""
    web = await started_web()
    try:
        yield web
    finally:
        await web.close()


@pytest.fixture(scope="module")
def issuer_key() -> Ed25519Key:
    """The W3C vc-di-eddsa test vectors' key pair."""
    return parse_key(load(DI / "keyPair.json"))
