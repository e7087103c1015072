"""Fixtures the vc_issuer tests share (tests/vc_issuer/store/ has its own, on both backends)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from did_methods.registry import Resolver
from vc_issuer.store import Store, open_store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """A real SQLite store in a fresh file."""
    async with open_store(tmp_path / "store.sqlite3") as s:
        yield s


@pytest.fixture
async def resolver() -> AsyncIterator[Resolver]:
    """The default DID resolver (did:key, did:web), closed after the test."""
    async with Resolver() as r:
        yield r
