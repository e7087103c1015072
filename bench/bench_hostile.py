"""Hostile floods against a real ``vc-issuer serve`` (issue 9, item 9).

Starts ``vc-issuer serve`` on a fresh home (SQLite), issues one honest credential, then runs
each attack while a probe GETs ``/healthz`` every 20 ms and honest clients issue and verify in
a loop. Prints per attack: the answers it got (status and code), the worst and p99 ``/healthz``
latency during it, the peak RSS of the server and every process under it (its verification
workers) read from /proc, the rows the store gained, and honest issue / verify req/s during the
attack.

    python bench/bench_hostile.py [--only subjects,cycle,...] [--json]

Attacks: ``subjects`` (credentialSubject = 10,000 x {"name": "x"}, 8 at a time), ``distinct``
(4,000 distinct values of one property), ``cycle`` (a 1,200-node blank-node cycle), ``png`` (a
small baked PNG whose compressed credential inflates to 8,000 subjects), ``contexts`` (60
requests, each with a new ~400 kB inline @context), ``status`` (credentials naming 32 status
lists), ``nonce`` (POST /nonce 10,000 times).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import copy
import json
import secrets
import shutil
import sqlite3
import sys
import tempfile
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import bench_http  # the same server launcher (bench/ is on sys.path when run as a script)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests._proc import tree_rss  # the /proc readings the hostile tests use

V2 = "https://www.w3.org/ns/credentials/v2"
OB = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
MiB = 1024 * 1024


def _badge(did: str) -> dict[str, Any]:
    return {
        "@context": [V2, OB],
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": "Rust Foundations",
        "issuer": {"id": did, "type": ["Profile"], "name": "Example Academy"},
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "name": "Ada",
            "achievement": {
                "id": "urn:uuid:6f1f52c2-1a55-4b51-9c7e-0e3b1ff2d5a1",
                "type": ["Achievement"],
                "name": "Rust Foundations",
                "criteria": {"narrative": "Pass the final project."},
            },
        },
    }


# --- the server ------------------------------------------------------------------------------


class Server(bench_http.Server):
    """bench_http's server, plus the store's row count."""

    def __init__(self, home: Path, workers: int) -> None:
        super().__init__(home, workers, None)
        self.token = ""

    def wait_ready(self, timeout: float = 120.0) -> None:
        super().wait_ready(timeout)
        self.token = bench_http._token(self.home)

    def rows(self) -> int:
        db = sqlite3.connect(f"file:{self.home / 'store.sqlite3'}?mode=ro", uri=True)
        try:
            names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            return sum(db.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names)
        finally:
            db.close()


# --- measuring -------------------------------------------------------------------------------


@dataclass
class Figures:
    attack: str
    requests: int
    answers: dict[str, int]
    seconds: float
    healthz_worst_ms: float
    healthz_p99_ms: float
    healthz_failed: int
    peak_rss_mib: float
    rss_before_mib: float
    rows_created: int
    honest_issue_rps: float
    honest_verify_rps: float
    honest_failed: int = 0
    notes: list[str] = field(default_factory=list)


class Probe:
    """/healthz every 20 ms, RSS every 100 ms, honest issue + verify clients."""

    def __init__(self, http: aiohttp.ClientSession, server: Server, signed: Any) -> None:
        self.http, self.server, self.signed = http, server, signed
        self.latencies: list[float] = []
        self.health_failed = 0
        self.peak = 0
        self.issued = self.verified = self.honest_failed = 0
        self.stop = asyncio.Event()

    async def healthz(self) -> None:
        while not self.stop.is_set():
            t0 = time.perf_counter()
            try:
                async with self.http.get("/healthz") as r:
                    await r.read()
                    if r.status != 200:
                        self.health_failed += 1
            except aiohttp.ClientError:
                self.health_failed += 1
            self.latencies.append((time.perf_counter() - t0) * 1000)
            await asyncio.sleep(0.02)

    async def memory(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, tree_rss(self.server.proc.pid))
            await asyncio.sleep(0.1)

    async def honest_issue(self) -> None:
        auth = {"Authorization": f"Bearer {self.server.token}"}
        while not self.stop.is_set():
            body = {"credential": _badge(self.server.did)}
            async with self.http.post("/credentials/issue", json=body, headers=auth) as r:
                await r.read()
                if r.status == 201:
                    self.issued += 1
                else:
                    self.honest_failed += 1

    async def honest_verify(self) -> None:
        while not self.stop.is_set():
            body = {"verifiableCredential": self.signed}
            async with self.http.post("/credentials/verify", json=body) as r:
                await r.read()
                if r.status == 200:
                    self.verified += 1
                else:
                    self.honest_failed += 1


async def run_attack(
    name: str,
    http: aiohttp.ClientSession,
    server: Server,
    signed: Any,
    attack: Callable[[], Awaitable[list[str]]],
) -> Figures:
    await asyncio.sleep(1.0)  # let the previous attack's work drain
    rows0 = server.rows()
    rss0 = tree_rss(server.proc.pid)
    probe = Probe(http, server, signed)
    tasks = [asyncio.create_task(c) for c in (probe.healthz(), probe.memory(),
             probe.honest_issue(), probe.honest_verify())]  # fmt: skip
    t0 = time.perf_counter()
    answers = await attack()
    seconds = time.perf_counter() - t0
    probe.stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    lat = sorted(probe.latencies) or [float("nan")]
    return Figures(
        attack=name,
        requests=len(answers),
        answers=dict(collections.Counter(answers)),
        seconds=round(seconds, 2),
        healthz_worst_ms=round(lat[-1], 1),
        healthz_p99_ms=round(lat[min(len(lat) - 1, int(0.99 * len(lat)))], 1),
        healthz_failed=probe.health_failed,
        peak_rss_mib=round(max(probe.peak, rss0) / MiB, 1),
        rss_before_mib=round(rss0 / MiB, 1),
        rows_created=server.rows() - rows0,
        honest_issue_rps=round(probe.issued / seconds, 1),
        honest_verify_rps=round(probe.verified / seconds, 1),
        honest_failed=probe.honest_failed,
    )


async def _post(http: aiohttp.ClientSession, path: str, **kw: Any) -> str:
    try:
        async with http.post(path, **kw) as r:
            text = await r.text()
            try:
                answer = json.loads(text)
                code = answer.get("code") or ("verified" if answer.get("verified") else "")
            except ValueError:
                code = ""
            return f"{r.status} {code}".strip()
    except aiohttp.ClientError as exc:
        return f"error {type(exc).__name__}"


async def _waves(n: int, width: int, make: Callable[[], Awaitable[str]]) -> list[str]:
    out: list[str] = []
    for start in range(0, n, width):
        out += await asyncio.gather(*(make() for _ in range(min(width, n - start))))
    return out


def _forged(signed: dict[str, Any], subjects: list[Any]) -> dict[str, Any]:
    forged = copy.deepcopy(signed)
    forged["credentialSubject"] = subjects
    return forged


def _bomb_png(credential: dict[str, Any]) -> bytes:
    from vc_issuer.badges.baking import (
        PNG_KEYWORD,
        PngChunk,
        default_badge_png,
        encode_png,
        parse_png,
    )

    chunks = parse_png(default_badge_png(size=16))
    text = json.dumps(credential, separators=(",", ":")).encode()
    body = PNG_KEYWORD + b"\x00\x01\x00\x00\x00" + zlib.compress(text, 9)
    return encode_png([*chunks[:-1], PngChunk(b"iTXt", body), chunks[-1]])


def attacks(
    http: aiohttp.ClientSession, server: Server, signed: dict[str, Any]
) -> dict[str, Callable[[], Awaitable[list[str]]]]:
    verify = "/credentials/verify"
    auth = {"Authorization": f"Bearer {server.token}"}
    subjects = _forged(signed, [{"name": "x"}] * 10_000)
    distinct = _badge(server.did)
    distinct["@context"] = [V2, OB, {"tag": "https://example.org/tag"}]
    distinct["credentialSubject"]["tag"] = [f"value {i}" for i in range(4_000)]
    cycle = copy.deepcopy(signed)
    n = 1_200
    cycle["@context"] = [*signed["@context"], {"ring": "https://ex.org/ring",
                         "next": {"@id": "https://ex.org/next", "@type": "@id"}}]  # fmt: skip
    cycle["ring"] = [{"@id": f"_:b{i}", "next": f"_:b{(i + 1) % n}"} for i in range(n)]
    png = _bomb_png(_forged(signed, [{"name": "x"}] * 8_000))
    lists = copy.deepcopy(signed)
    lists["credentialStatus"] = [
        {"id": f"https://lists.example/{i}#1", "type": "BitstringStatusListEntry",
         "statusPurpose": "revocation", "statusListIndex": "1",
         "statusListCredential": f"https://lists.example/{i}"}
        for i in range(32)
    ]  # fmt: skip

    def inline(split: bool = False) -> dict[str, Any]:
        tag = secrets.token_hex(4)
        names = [f"t{i}x{tag}" for i in range(400 * 1024 // 50)]
        step = 1000 if split else len(names)  # split: within the JSON caps, so it is processed
        contexts = [
            {name: f"https://example.org/{tag}/{name}" for name in names[i : i + step]}
            for i in range(0, len(names), step)
        ]
        return {**signed, "@context": [*signed["@context"], *contexts]}

    # The same attacks shaped to pass the JSON caps (at most 1,000 values an array): they reach
    # the work budget and the pool instead of being refused at parse time.
    subjects_1k = _forged(signed, [{"name": "x"}] * 1_000)
    distinct_4x1k = _badge(server.did)
    distinct_4x1k["@context"] = [V2, OB, {f"tag{k}": f"https://example.org/tag{k}"
                                          for k in range(4)}]  # fmt: skip
    for k in range(4):
        distinct_4x1k["credentialSubject"][f"tag{k}"] = [f"v{k}.{i}" for i in range(1_000)]
    split_cycle = copy.deepcopy(signed)
    nodes = [{"@id": f"_:b{i}", "next": f"_:b{(i + 1) % n}"} for i in range(n)]
    split_cycle["@context"] = [*signed["@context"], {"ring0": "https://ex.org/ring0",
        "ring1": "https://ex.org/ring1",
        "next": {"@id": "https://ex.org/next", "@type": "@id"}}]  # fmt: skip
    split_cycle["ring0"], split_cycle["ring1"] = nodes[:600], nodes[600:]

    return {
        "subjects": lambda: _waves(16, 8, lambda: _post(
            http, verify, json={"verifiableCredential": subjects})),
        "distinct": lambda: _waves(8, 8, lambda: _post(
            http, "/credentials/issue", json={"credential": distinct}, headers=auth)),
        "cycle": lambda: _waves(16, 8, lambda: _post(
            http, verify, json={"verifiableCredential": cycle})),
        "png": lambda: _waves(16, 8, lambda: _post(
            http, verify, data=png, headers={"Content-Type": "image/png"})),
        "contexts": lambda: _waves(60, 4, lambda: _post(
            http, verify, json={"verifiableCredential": inline()})),
        "subjects-1k": lambda: _waves(16, 8, lambda: _post(
            http, verify, json={"verifiableCredential": subjects_1k})),
        "distinct-4x1k": lambda: _waves(8, 8, lambda: _post(
            http, "/credentials/issue", json={"credential": distinct_4x1k}, headers=auth)),
        "cycle-split": lambda: _waves(16, 8, lambda: _post(
            http, verify, json={"verifiableCredential": split_cycle})),
        "contexts-split": lambda: _waves(60, 4, lambda: _post(
            http, verify, json={"verifiableCredential": inline(split=True)})),
        "status": lambda: _waves(32, 8, lambda: _post(
            http, verify, json={"verifiableCredential": lists})),
        "nonce": lambda: _waves(10_000, 32, lambda: _post(http, "/nonce")),
    }  # fmt: skip


async def main_async(args: argparse.Namespace) -> list[Figures]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-hostile-"))
    server = Server(tmp / "home", args.workers)
    try:
        server.wait_ready()
        connector = aiohttp.TCPConnector(limit=200)
        timeout = aiohttp.ClientTimeout(total=600)
        async with aiohttp.ClientSession(server.base, connector=connector, timeout=timeout) as http:
            auth = {"Authorization": f"Bearer {server.token}"}
            async with http.post(
                "/credentials/issue", json={"credential": _badge(server.did)}, headers=auth
            ) as r:
                signed = (await r.json())["verifiableCredential"]
            table = attacks(http, server, signed)
            chosen = args.only or list(table)
            unknown = sorted(set(chosen) - set(table))
            if unknown:
                raise SystemExit(f"unknown attack(s) {unknown}; the attacks are {list(table)}")
            out = []
            for name in chosen:
                fig = await run_attack(name, http, server, signed, table[name])
                out.append(fig)
                print(
                    f"{fig.attack:9} n={fig.requests:<6} {fig.seconds:6.1f} s  "
                    f"healthz worst {fig.healthz_worst_ms:7.1f} ms p99 {fig.healthz_p99_ms:7.1f} ms"
                    f"  peak RSS {fig.peak_rss_mib:6.1f} MiB (before {fig.rss_before_mib:.0f})"
                    f"  rows +{fig.rows_created:<6}  honest issue {fig.honest_issue_rps:5.1f}/s"
                    f" verify {fig.honest_verify_rps:5.1f}/s  answers {fig.answers}",
                    flush=True,
                )
            return out
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", type=lambda s: s.split(","), help="comma-separated attack names")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    figures = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps([asdict(f) for f in figures], indent=2))


if __name__ == "__main__":
    main()
