"""Issuing throughput with status allocation and storage, against signing alone.

Issues the Open Badges 3.0 interop credential (eddsa-rdfc-2022) through ``Issuer`` on a fresh
store and prints issues/s for: signing only (same document shape, status entries included, no
store), ``issue`` one at a time, ``issue`` with N requests in flight (allocations coalesce into
shared transactions), and ``issue_many`` batches; then revoke latency. The issue's target is
that issuing with status and storage costs at most 15% more time than signing alone.

    python bench/bench_issue.py [--count 500] [--database-url postgresql://...] [--json]
    python bench/bench_issue.py --processes 4     # 4 processes issuing into one store
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

from _scratch import scratch_store

from vc_issuer.core.keys import load_key_file
from vc_issuer.core.proofs import sign
from vc_issuer.core.status import bsl_entry
from vc_issuer.services.issuer import Issuer
from vc_issuer.store import open_store

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
CREDENTIAL = FIXTURES / "interop" / "vc2-ob303-eddsa-rdfc-2022.unsigned.json"
KEY = FIXTURES / "generated-interop" / "issuer-key.json"
BASE = "https://issuer.example"


def _credential() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(CREDENTIAL.read_text("utf-8"))
    doc.pop("credentialStatus", None)
    doc.pop("id", None)
    return doc


def _rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def bench_sign_only(issuer: Issuer, count: int, purposes: list[str]) -> float:
    """The floor: sign documents of the issued shape (fresh id, status entries), nothing else."""
    base = _credential()
    base["issuer"] = {**base["issuer"], "id": issuer.did}
    docs = []
    for i in range(count):
        doc = dict(base, id=f"urn:uuid:{uuid.uuid4()}")
        entries = [bsl_entry(f"{BASE}/status-lists/x", i, p) for p in purposes]
        doc["credentialStatus"] = entries[0] if len(entries) == 1 else entries
        docs.append(doc)
    t0 = time.perf_counter()
    for doc in docs:
        sign(doc, issuer.key, suite="eddsa-rdfc-2022")
    return _rate(count, time.perf_counter() - t0)


async def bench_issue_sequential(issuer: Issuer, count: int, purposes: list[str]) -> float:
    cred = _credential()
    t0 = time.perf_counter()
    for _ in range(count):
        await issuer.issue(cred, status_purposes=purposes)
    return _rate(count, time.perf_counter() - t0)


async def bench_issue_concurrent(
    issuer: Issuer, count: int, purposes: list[str], in_flight: int
) -> float:
    cred = _credential()
    sem = asyncio.Semaphore(in_flight)

    async def one() -> None:
        async with sem:
            await issuer.issue(cred, status_purposes=purposes)

    t0 = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    return _rate(count, time.perf_counter() - t0)


async def bench_issue_many(issuer: Issuer, count: int, purposes: list[str], batch: int) -> float:
    cred = _credential()
    t0 = time.perf_counter()
    done = 0
    while done < count:
        n = min(batch, count - done)
        out = await issuer.issue_many([cred] * n, status_purposes=purposes)
        bad = [o for o in out if not isinstance(o, dict)]
        if bad:
            raise SystemExit(f"issue_many failed: {bad[0]}")
        done += n
    return _rate(count, time.perf_counter() - t0)


async def bench_revoke(issuer: Issuer, count: int) -> dict[str, float]:
    records = await issuer.store.list_credentials(limit=count)
    samples: list[float] = []
    for record in records:
        t0 = time.perf_counter()
        await issuer.revoke(record.id, actor="bench")
        samples.append(time.perf_counter() - t0)
    samples.sort()
    return {
        "p50_ms": statistics.median(samples) * 1000,
        "p99_ms": samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1000,
        "n": len(samples),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    purposes = args.purposes.split(",")
    async with scratch_store(args.database_url) as (store, _url):
        key = load_key_file(KEY)
        issuer = Issuer(key=key, did=key.did, store=store, base_url=BASE)
        await issuer.issue(_credential(), status_purposes=purposes)  # warm caches, lists
        sign_only = bench_sign_only(issuer, args.count, purposes)
        sequential = await bench_issue_sequential(issuer, args.count, purposes)
        concurrent = await bench_issue_concurrent(issuer, args.count, purposes, args.in_flight)
        many = await bench_issue_many(issuer, args.count, purposes, args.batch)
        revoke = await bench_revoke(issuer, min(args.count, 200))
    return {
        "backend": "postgresql" if args.database_url else "sqlite",
        "count": args.count,
        "purposes": purposes,
        "sign_only_per_s": sign_only,
        "issue_sequential_per_s": sequential,
        f"issue_{args.in_flight}_in_flight_per_s": concurrent,
        f"issue_many_batch_{args.batch}_per_s": many,
        "overhead_sequential_pct": (sign_only / sequential - 1) * 100,
        "overhead_in_flight_pct": (sign_only / concurrent - 1) * 100,
        "overhead_issue_many_pct": (sign_only / many - 1) * 100,
        "revoke_latency": revoke,
    }


def _worker(url: str, count: int, purposes: list[str], in_flight: int, start: Any, q: Any) -> None:
    async def go() -> None:
        async with open_store(url) as store:
            key = load_key_file(KEY)
            issuer = Issuer(key=key, did=key.did, store=store, base_url=BASE)
            await issuer.issue(_credential(), status_purposes=purposes)  # warm up
            start.wait()
            t0 = time.perf_counter()
            await bench_issue_concurrent(issuer, count, purposes, in_flight)
            q.put(time.perf_counter() - t0)

    asyncio.run(go())


async def run_processes(args: argparse.Namespace) -> dict[str, Any]:
    """``--processes N``: N processes issue ``count`` credentials each into one store."""
    purposes = args.purposes.split(",")
    async with scratch_store(args.database_url) as (store, url):
        ctx = multiprocessing.get_context("spawn")
        start, q = ctx.Event(), ctx.Queue()
        procs = [
            ctx.Process(target=_worker, args=(url, args.count, purposes, args.in_flight, start, q))
            for _ in range(args.processes)
        ]
        for p in procs:
            p.start()
        await asyncio.sleep(0)
        while await store.count_credentials() < args.processes:  # all warmed up
            await asyncio.sleep(0.05)
        t0 = time.perf_counter()
        start.set()
        for p in procs:
            await asyncio.to_thread(p.join)
        wall = time.perf_counter() - t0
        if any(p.exitcode != 0 for p in procs):
            raise SystemExit("a worker process failed")
        total = await store.count_credentials()
        indices = 0
        for lst in await store.list_status_lists():
            indices += len(set(await store.allocated_indices(lst.id)))
    issued = args.processes * args.count
    return {
        "backend": "postgresql" if args.database_url else "sqlite",
        "processes": args.processes,
        "issued": issued,
        "records": total,
        "distinct_indices_allocated": indices,
        "issue_per_s": _rate(issued, wall),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=500, help="credentials per measurement")
    parser.add_argument("--in-flight", type=int, default=32, help="concurrent issue() calls")
    parser.add_argument("--batch", type=int, default=250, help="issue_many batch size")
    parser.add_argument("--purposes", default="revocation,suspension")
    parser.add_argument("--database-url", help="postgresql:// URL (default: SQLite in a tmp dir)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--processes", type=int, default=1, help="issuing processes (one store)")
    args = parser.parse_args()
    if args.processes > 1:
        out = asyncio.run(run_processes(args))
        print(json.dumps(out, indent=2))
        return
    result = asyncio.run(run(args))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"backend {result['backend']}, {args.count} credentials, purposes {args.purposes}")
    for name, value in result.items():
        if name.endswith("_per_s"):
            print(f"  {name:<34} {value:10.1f}")
        elif name.endswith("_pct"):
            print(f"  {name:<34} {value:+9.1f}%")
    rl = result["revoke_latency"]
    print(f"  revoke latency p50 {rl['p50_ms']:.2f} ms, p99 {rl['p99_ms']:.2f} ms (n={rl['n']})")


if __name__ == "__main__":
    main()
