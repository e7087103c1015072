"""HTTP throughput and latency of ``vc-issuer serve`` over loopback.

Starts ``vc-issuer serve`` as a subprocess on a fresh home (SQLite by default), creates an
``issue``-scoped token with ``vc-issuer tokens create``, then drives the server with an aiohttp
client at 1, 16 and 64 concurrent clients: ``POST /credentials/issue`` (an Open Badges 3.0
credential, VC 2.0, eddsa-rdfc-2022, with status entries) and ``POST /credentials/verify`` (a
credential issued before the run). Prints req/s and p50/p99 latency per level and a summary
line against the issue's target: issue >= 300 req/s with p99 < 100 ms at 16 concurrent.

    python bench/bench_http.py [--requests 600 | --seconds 5] [--workers 2]
                               [--database-url postgresql://...] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
CREDENTIAL = FIXTURES / "interop" / "vc2-ob303-eddsa-rdfc-2022.unsigned.json"
LEVELS = (1, 16, 64)
TARGET_RPS = 300.0
TARGET_P99_MS = 100.0
TARGET_LEVEL = 16


@dataclass
class Result:
    route: str
    concurrency: int
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli() -> list[str]:
    exe = shutil.which("vc-issuer", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "vc_issuer.cli.main"]


def _percentile(sorted_ms: list[float], q: float) -> float:
    if not sorted_ms:
        return float("nan")
    k = min(len(sorted_ms) - 1, max(0, round(q * (len(sorted_ms) - 1))))
    return sorted_ms[k]


def _credential(did: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(CREDENTIAL.read_text("utf-8"))
    doc.pop("credentialStatus", None)
    doc.pop("id", None)
    doc["issuer"] = {**doc["issuer"], "id": did}
    return doc


class Server:
    """A ``vc-issuer serve`` subprocess on a fresh home; stopped with SIGTERM."""

    def __init__(
        self, home: Path, workers: int, database_url: str | None, cli: list[str] | None = None
    ) -> None:
        self.home = home
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        args = [
            *(cli or _cli()), "serve", "--home", str(home), "--host", "127.0.0.1",
            "--port", str(self.port), "--workers", str(workers),
        ]  # fmt: skip
        if database_url:
            args += ["--database-url", database_url]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.log = open(home.parent / "serve.log", "w+b")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=self.log, env=env, start_new_session=True
        )
        self.did = ""

    def wait_ready(self, timeout: float = 60.0) -> None:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline().decode()
            if not line:
                break
            if m := re.match(r"issuer DID: (\S+)", line):
                self.did = m.group(1)
            if line.startswith("listening on"):
                return
        self.stop()
        self.log.seek(0)
        raise SystemExit("server did not start:\n" + self.log.read().decode()[-3000:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def _token(home: Path, cli: list[str] | None = None) -> str:
    out = subprocess.run(
        [
            *(cli or _cli()),
            "tokens",
            "create",
            "--home",
            str(home),
            "--scope",
            "issue",
            "--name",
            "bench",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return str(json.loads(out.stdout)["token"])


async def _drive(
    session: aiohttp.ClientSession,
    url: str,
    make_body: Any,
    headers: dict[str, str],
    ok: int,
    concurrency: int,
    requests: int | None,
    seconds: float | None,
    route: str,
) -> Result:
    latencies: list[float] = []
    errors = 0
    issued = 0
    stop_at = time.perf_counter() + seconds if seconds else None

    async def client() -> None:
        nonlocal errors, issued
        while True:
            if requests is not None:
                if issued >= requests:
                    return
            elif stop_at is not None and time.perf_counter() >= stop_at:
                return
            issued += 1
            body = make_body()
            t0 = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as resp:
                await resp.read()
                status = resp.status
            latencies.append((time.perf_counter() - t0) * 1000)
            if status != ok:
                errors += 1
                if errors == 1:
                    print(f"  unexpected {status} from {route}", file=sys.stderr)

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - t0
    latencies.sort()
    return Result(
        route=route,
        concurrency=concurrency,
        requests=len(latencies),
        errors=errors,
        seconds=round(elapsed, 3),
        rps=round(len(latencies) / elapsed, 1) if elapsed else 0.0,
        p50_ms=round(_percentile(latencies, 0.50), 2),
        p99_ms=round(_percentile(latencies, 0.99), 2),
    )


async def _bench(server: Server, token: str, args: argparse.Namespace) -> list[Result]:
    credential = _credential(server.did)
    issue_headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    issue_body = json.dumps({"credential": credential}).encode()
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    results: list[Result] = []
    async with aiohttp.ClientSession(connector=connector) as session:
        async with session.post(
            server.base + "/credentials/issue", data=issue_body, headers=issue_headers
        ) as resp:
            if resp.status != 201:
                raise SystemExit(f"warm-up issue failed: {resp.status} {await resp.text()}")
            signed = (await resp.json())["verifiableCredential"]
        verify_body = json.dumps({"verifiableCredential": signed}).encode()
        async with session.post(
            server.base + "/credentials/verify",
            data=verify_body,
            headers={"Content-Type": "application/json"},
        ) as resp:
            if resp.status != 200:
                raise SystemExit(f"warm-up verify failed: {resp.status} {await resp.text()}")
        plans = (
            ("issue", "/credentials/issue", issue_headers, 201, issue_body),
            ("verify", "/credentials/verify", {"Content-Type": "application/json"}, 200,
             verify_body),
        )  # fmt: skip
        for route, path, headers, ok, body in plans:
            for level in args.levels:
                res = await _drive(
                    session,
                    server.base + path,
                    lambda b=body: b,
                    headers,
                    ok,
                    level,
                    None if args.seconds else args.requests,
                    args.seconds,
                    route,
                )
                results.append(res)
                print(
                    f"{route:6} c={level:<3} n={res.requests:<6} err={res.errors:<3} "
                    f"{res.rps:8.1f} req/s  p50 {res.p50_ms:7.2f} ms  p99 {res.p99_ms:7.2f} ms",
                    flush=True,
                )
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=600, help="requests per level (default 600)")
    ap.add_argument("--seconds", type=float, help="run each level this long instead")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--database-url", help="postgresql:// URL (default: SQLite in a temp home)")
    ap.add_argument("--levels", type=lambda s: [int(x) for x in s.split(",")], default=LEVELS)
    ap.add_argument("--json", action="store_true", help="also print the results as JSON")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="vc-bench-http-") as tmp:
        home = Path(tmp) / "home"
        server = Server(home, args.workers, args.database_url)
        try:
            server.wait_ready()
            token = _token(home)
            store = "postgresql" if args.database_url else "sqlite"
            print(f"vc-issuer serve: workers={args.workers} store={store} {server.base}")
            results = asyncio.run(_bench(server, token, args))
        finally:
            server.stop()

    at = next((r for r in results if r.route == "issue" and r.concurrency == TARGET_LEVEL), None)
    if at is not None:
        met = at.rps >= TARGET_RPS and at.p99_ms < TARGET_P99_MS and at.errors == 0
        print(
            f"target (issue >= {TARGET_RPS:.0f} req/s, p99 < {TARGET_P99_MS:.0f} ms at "
            f"{TARGET_LEVEL} concurrent): {at.rps:.1f} req/s, p99 {at.p99_ms:.2f} ms -> "
            f"{'MET' if met else 'NOT MET'}"
        )
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))


if __name__ == "__main__":
    main()
