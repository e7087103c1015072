"""Status index allocation and record storage throughput, on SQLite and PostgreSQL.

    python bench/bench_store.py [--n 2000] [--batch 1000] [--pg-url URL | --no-pg] [--json]

Each backend starts from an empty store (a temporary SQLite file with WAL + synchronous=FULL; a
fresh PostgreSQL schema, dropped afterwards) and times, with lists of 131,072 entries:
  * allocate_index one after another (one committed transaction each),
  * allocate_index for --n concurrent callers (asyncio.gather; overlapping calls share commits),
  * allocate_indices in batches of --batch (one transaction per batch),
  * put_credential one after another, and set_status_bit (revoke) one after another.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg

from vc_issuer.store import CredentialRecord, Store, open_store

SIZE = 131_072
BSL = "BitstringStatusList"


def _record(n: int) -> CredentialRecord:
    cid = f"urn:uuid:{secrets.token_hex(16)}"
    return CredentialRecord(
        id=cid,
        subject_id=f"did:example:{n}",
        types=["VerifiableCredential", "OpenBadgeCredential"],
        issued_at=datetime.now(UTC),
        valid_from=datetime.now(UTC),
        valid_until=None,
        status_entries=[{"type": "BitstringStatusListEntry", "statusListIndex": str(n)}],
        credential={"id": cid, "credentialSubject": {"name": "x" * 200}, "proof": {"v": "z" * 88}},
        idempotency_key=f"k{n}-{secrets.token_hex(4)}",
    )


async def _timed(label: str, n: int, fn: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
    start = time.perf_counter()
    await fn()
    elapsed = time.perf_counter() - start
    return {"op": label, "n": n, "seconds": round(elapsed, 4), "per_second": round(n / elapsed, 1)}


async def bench(store: Store, n: int, batch: int) -> list[dict[str, Any]]:
    seq_n = max(1, n // 4)
    rows = []

    async def sequential() -> None:
        for _ in range(seq_n):
            await store.allocate_index(BSL, "revocation", SIZE)

    rows.append(await _timed("allocate_index, sequential", seq_n, sequential))

    async def concurrent() -> None:
        await asyncio.gather(*(store.allocate_index(BSL, "suspension", SIZE) for _ in range(n)))

    rows.append(await _timed(f"allocate_index, {n} concurrent", n, concurrent))

    batches = max(1, (n * 4) // batch)

    async def batched() -> None:
        for _ in range(batches):
            await store.allocate_indices(BSL, "revocation", SIZE, batch)

    rows.append(await _timed(f"allocate_indices, batches of {batch}", batches * batch, batched))

    records = [_record(i) for i in range(seq_n)]

    async def puts() -> None:
        for r in records:
            await store.put_credential(r)

    rows.append(await _timed("put_credential, sequential", seq_n, puts))

    pairs = await store.allocate_indices(BSL, "revocation", SIZE, seq_n)

    async def revokes() -> None:
        for list_id, idx in pairs:
            await store.set_status_bit(list_id, idx, True, actor="bench", reason="bench")

    row = await _timed("set_status_bit (revoke), sequential", seq_n, revokes)
    row["latency_ms"] = round(1000 * row["seconds"] / seq_n, 3)
    rows.append(row)
    return rows


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "VC_ISSUER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    results: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        async with open_store(os.path.join(tmp, "bench.sqlite3")) as store:
            results["sqlite"] = await bench(store, args.n, args.batch)

    if not args.no_pg:
        schema = "bench_" + secrets.token_hex(6)
        try:
            admin = await asyncpg.connect(args.pg_url, timeout=5)
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            print(f"PostgreSQL at {args.pg_url} unreachable: {exc!r}", file=sys.stderr)
            return 3
        try:
            async with open_store(args.pg_url, schema=schema) as store:
                results["postgresql"] = await bench(store, args.n, args.batch)
        finally:
            await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            await admin.close()

    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{'backend':<11} {'operation':<40} {'n':>7} {'ops/s':>11}")
    for backend, rows in results.items():
        for r in rows:
            extra = f"   ({r['latency_ms']} ms each)" if "latency_ms" in r else ""
            print(f"{backend:<11} {r['op']:<40} {r['n']:>7} {r['per_second']:>11,.0f}{extra}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
