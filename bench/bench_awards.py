"""Batch awarding throughput: N Open Badges awards with status on a fresh store.

Builds a recipients CSV (half DIDs, half emails with evidence), awards one achievement to every
row through ``Awarder.award_many`` (schema check, revocation status entry, eddsa-rdfc-2022
signature, storage) and prints awards/s and the total time; then runs the same file again
(idempotent: nothing is issued) and prints that time too. The issue's target: 10,000 awards in
under 20 s on a 2-core machine with SQLite.

    python bench/bench_awards.py [--count 10000] [--chunk 500] [--workers N]
                                 [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import time
from typing import Any

from _scratch import scratch_store

from vc_issuer.badges.awards import Awarder, read_csv_rows
from vc_issuer.core.keys import Ed25519Key
from vc_issuer.services.issuer import Issuer

BASE = "https://badges.example.edu"


def recipients_csv(count: int) -> str:
    lines = ["did,email,name,evidence_url"]
    for i in range(count):
        if i % 2:
            lines.append(f",learner{i}@example.edu,Learner {i},https://example.edu/work/{i}")
        else:
            lines.append(f"did:example:learner{i},,Learner {i},")
    return "\n".join(lines) + "\n"


async def run(args: argparse.Namespace) -> dict[str, Any]:
    text = recipients_csv(args.count)
    async with scratch_store(args.database_url) as (store, _url):
        key = Ed25519Key.generate()
        issuer = Issuer(key=key, did=key.did, store=store, base_url=BASE, issuer_name="Bench U")
        awarder = Awarder(issuer, chunk_size=args.chunk, workers=args.workers)
        badge = await awarder.achievements.create(
            {
                "name": "Python 101",
                "description": "Writes and tests small Python programs.",
                "criteria": {"narrative": "Pass the final project."},
                "achievementType": "Course",
                "alignment": [{"targetName": "Programming", "targetUrl": "https://esco.example/p"}],
            },
            valid_for_months=24,
        )
        t0 = time.perf_counter()
        first = await awarder.award_many(
            badge.key, read_csv_rows(io.StringIO(text)), keep_results=False
        )
        elapsed = time.perf_counter() - t0
        t1 = time.perf_counter()
        second = await awarder.award_many(
            badge.key, read_csv_rows(io.StringIO(text)), keep_results=False
        )
        rerun = time.perf_counter() - t1
        stored = await store.count_credentials()
    if first.issued != args.count or second.issued != 0 or stored != args.count:
        raise SystemExit(f"unexpected outcome: {first.to_dict()} then {second.to_dict()}")
    return {
        "backend": "postgresql" if args.database_url else "sqlite",
        "awards": args.count,
        "chunk": args.chunk,
        "workers": args.workers,
        "total_s": round(elapsed, 2),
        "awards_per_s": round(args.count / elapsed, 1),
        "rerun_s": round(rerun, 2),
        "rerun_issued": second.issued,
        "target_met": elapsed < 20.0 if args.count == 10_000 else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--chunk", type=int, default=500)
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="signing processes (default: cores)",
    )
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args()
    out = asyncio.run(run(args))
    if args.json:
        print(json.dumps(out))
        return
    print(
        f"backend {out['backend']}, {out['awards']} awards with status, chunks of {out['chunk']},"
        f" {out['workers']} worker process(es)"
    )
    print(f"  total                 {out['total_s']:8.2f} s")
    print(f"  awards/s              {out['awards_per_s']:8.1f}")
    print(f"  same file again       {out['rerun_s']:8.2f} s ({out['rerun_issued']} issued)")
    if out["target_met"] is not None:
        print(f"  target < 20 s         {'met' if out['target_met'] else 'MISSED'}")


if __name__ == "__main__":
    main()
