"""A 10,000-request flood of ``POST /nonce`` against a real `vc-issuer serve` (issue 9, item 5):
the rows in the store stay bounded, on SQLite and on PostgreSQL.

Every ``c_nonce`` is a row. The rate limit bounds how fast one client creates them and the purge
task bounds how long they stay, so at any moment the store holds at most (docs/limits.md)

    burst + rate x (nonce_ttl + purge_grace + purge_interval)

rows per client and worker: 10 + 10 x (2 + 0 + 1) = 40 here, against 10,000 before the limits.
Once the flood stops, the purge empties the table.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from vc_issuer.services.limits import LimitsConfig

from ._live_server import PG_URL, LiveServer, free_port, pg_schema, serve_configured

FLOOD = 10_000
LIMITS = LimitsConfig(rate=10, burst=10, nonce_ttl=2, purge_interval=1)
LIMITS_TOML = f"""
[limits]
rate = {LIMITS.rate}
burst = {LIMITS.burst}
nonce_ttl = {LIMITS.nonce_ttl}
purge_interval = {LIMITS.purge_interval}
"""
BOUND = LIMITS.row_bound()

Count = Callable[[], Awaitable[int]]


def _serve(folder: Path, database_url: str | None = None) -> tuple[LiveServer, str]:
    server = serve_configured(folder, LIMITS_TOML, database_url=database_url)
    return server, server.wait_ready()


async def _flood(url: str, count: Count) -> tuple[Counter[int], list[int]]:
    """FLOOD requests from 32 concurrent senders; the row count sampled along the way."""
    statuses: Counter[int] = Counter()
    samples: list[int] = []
    sent = 0
    done = asyncio.Event()

    async def sender(http: aiohttp.ClientSession) -> None:
        nonlocal sent
        while sent < FLOOD:
            sent += 1
            async with http.post("/nonce") as resp:
                await resp.read()
                statuses[resp.status] += 1

    async def sampler() -> None:
        while not done.is_set():
            samples.append(await count())
            await asyncio.sleep(0.1)

    connector = aiohttp.TCPConnector(limit=32)
    async with aiohttp.ClientSession(url, connector=connector) as http:
        watch = asyncio.create_task(sampler())
        await asyncio.gather(*(sender(http) for _ in range(32)))
        done.set()
        await watch
    samples.append(await count())
    return statuses, samples


async def _drained(count: Count, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    rows = await count()
    while rows and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        rows = await count()
    return rows


async def _check_flood(server: LiveServer, url: str, count: Count) -> None:
    started = time.monotonic()
    statuses, samples = await _flood(url, count)
    elapsed = time.monotonic() - started
    print(f"flood: {dict(statuses)} in {elapsed:.1f} s, rows max {max(samples)} (bound {BOUND})")
    assert sum(statuses.values()) == FLOOD
    assert set(statuses) <= {200, 429}, statuses
    # rows created: the bucket lets through at most the burst and then the rate
    assert statuses[200] <= LIMITS.burst + LIMITS.rate * elapsed + 1, (statuses, elapsed)
    assert statuses[429] >= FLOOD - statuses[200]
    assert max(samples) <= BOUND, (max(samples), BOUND, samples)
    assert await _drained(count) == 0  # the purge removes every expired nonce
    purged = server.events("store.purged")
    assert purged and sum(r["rows"] for r in purged) >= statuses[200] - max(samples)


async def test_sqlite_store_stays_bounded_under_a_nonce_flood(tmp_path: Path) -> None:
    server, url = await asyncio.to_thread(_serve, tmp_path)
    db = tmp_path / "home" / "store.sqlite3"

    async def count() -> int:
        def read() -> int:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
                return int(conn.execute("SELECT count(*) FROM exchanges").fetchone()[0])

        return await asyncio.to_thread(read)

    try:
        await _check_flood(server, url, count)
    finally:
        assert server.stop() == 0


async def test_postgresql_store_stays_bounded_under_a_nonce_flood(tmp_path: Path) -> None:
    server = None
    async with pg_schema("vcf_") as (admin, schema):
        try:
            url_db = f"{PG_URL}?search_path={schema}"
            server, url = await asyncio.to_thread(_serve, tmp_path, url_db)

            async def count() -> int:
                return int(await admin.fetchval(f'SELECT count(*) FROM "{schema}".exchanges'))

            await _check_flood(server, url, count)
        finally:
            if server is not None:
                assert server.stop() == 0


async def test_the_first_purge_runs_at_start(tmp_path: Path) -> None:
    """Rows that expired while the server was down are gone right after the next start, long
    before the first interval ends."""
    port = free_port()
    never = "\n[limits]\nnonce_ttl = 0.5\npurge_interval = 0\n"  # this one never purges
    first = serve_configured(tmp_path, never, port=port, log_name="first.log")
    url = await asyncio.to_thread(first.wait_ready)
    async with aiohttp.ClientSession(url) as http:
        for _ in range(5):
            async with http.post("/nonce") as resp:
                assert resp.status == 200
    assert first.stop() == 0
    assert not first.events("store.purged")
    await asyncio.sleep(0.6)  # every nonce has expired (nonce_ttl 0.5 s)
    second = serve_configured(
        tmp_path, "", "--purge-interval", "3600", port=port, log_name="second.log"
    )
    try:
        await asyncio.to_thread(second.wait_ready)
        record = await asyncio.to_thread(second.wait_event, "store.purged")
        assert record["rows"] == 5
    finally:
        assert second.stop() == 0
