"""One `vc-issuer serve` per hostile test module, and a client session for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from tests.vc_issuer.hostile._live_server import Live, live_home


@pytest.fixture(scope="module")
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    """A server on a fresh home for the module; whatever the module sent it, its log holds no
    traceback (hostile input gets a coded answer, never a crash)."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    with live_home(tmp_path_factory.mktemp(name)) as running:
        yield running
    assert "Traceback" not in running.server.log_text()


@pytest.fixture
async def http(live: Live) -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(limit=100)
    async with aiohttp.ClientSession(live.url, connector=connector) as session:
        yield session
