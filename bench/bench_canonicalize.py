"""Time canonicalization of the Open Badges 3.0 vector (document and proof config).

Prints ops/s and p50/p99 latency for ``vc_issuer.core.jsonld.canonicalize`` (safe mode on), and
for a plain pyld URDNA2015 pipeline over the same pinned contexts as the baseline.

    python bench/bench_canonicalize.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pyld import jsonld as pyld

from vc_issuer.core.jsonld import canonicalize, default_loader

VECTOR = (
    Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "open-badges-3.0"
) / "ldp-eddsa-rdfc-2022"


def _documents() -> tuple[dict[str, Any], dict[str, Any]]:
    document = json.loads((VECTOR / "unsigned.json").read_text("utf-8"))
    config = json.loads((VECTOR / "proof-options.json").read_text("utf-8"))
    config["@context"] = document["@context"]
    return document, config


def _measure(fn: Callable[[], object], seconds: float) -> dict[str, float]:
    for _ in range(20):
        fn()
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    samples.sort()
    return {
        "ops_per_s": len(samples) / sum(samples),
        "p50_ms": statistics.median(samples) * 1000,
        "p99_ms": samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1000,
        "n": len(samples),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    parser.add_argument("--no-baseline", action="store_true", help="skip the pyld baseline")
    args = parser.parse_args()

    document, config = _documents()
    expected_doc = (VECTOR / "document-canon.txt").read_text("utf-8")
    expected_proof = (VECTOR / "proof-canon.txt").read_text("utf-8")
    assert canonicalize(document) == expected_doc
    assert canonicalize(config) == expected_proof
    loader = default_loader()

    def pyld_canon(doc: dict[str, Any]) -> str:
        out: str = pyld.normalize(
            doc,
            {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": loader},
        )
        return out

    rows: list[tuple[str, dict[str, float]]] = [
        ("vc_issuer document", _measure(lambda: canonicalize(document), args.seconds)),
        ("vc_issuer proof config", _measure(lambda: canonicalize(config), args.seconds)),
    ]
    if not args.no_baseline:
        assert pyld_canon(document) == expected_doc
        rows += [
            ("pyld document", _measure(lambda: pyld_canon(document), args.seconds)),
            ("pyld proof config", _measure(lambda: pyld_canon(config), args.seconds)),
        ]
    print(f"{'case':<24} {'ops/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'n':>7}")
    for name, r in rows:
        print(
            f"{name:<24} {r['ops_per_s']:>9.0f} {r['p50_ms']:>8.3f} {r['p99_ms']:>8.3f} "
            f"{int(r['n']):>7}"
        )
    if not args.no_baseline:
        speedup = rows[0][1]["ops_per_s"] / rows[2][1]["ops_per_s"]
        print(f"document speed-up over plain pyld: {speedup:.1f}x")


if __name__ == "__main__":
    main()
