"""HTTP throughput of ``vc-issuer serve`` measured with an external load generator (``wrk``).

In-process clients (``bench_http.py``) share the machine's Python with the server; ``wrk`` is a
C load generator, so its figures are the server's, not the client's. Starts ``vc-issuer serve``
on a fresh home (SQLite by default), then for each route runs ``wrk -t2 -c16 -d15s`` with a Lua
script that sends a distinct body on every request (no cache can flatter us):

- ``issue``: ``POST /credentials/issue``, an Open Badges 3.0 credential whose subject name
  carries the request counter;
- ``verify``: ``POST /credentials/verify``, cycling through ``--distinct`` credentials issued
  before the run (each differs in its subject name and status index).

Besides req/s and latency it prints the server's CPU per request (user + system time of the
server's whole process group over the run, divided by the requests wrk completed).

    python bench/bench_wrk.py [--workers 1,2] [--seconds 15] [--connections 16] [--distinct 2000]
        [--baseline OTHER/venv/bin/vc-issuer --rounds 5]

``--baseline`` runs another build of the server (an older commit in its own virtualenv) in
alternation with this one, round after round, and prints the medians with this build's req/s as
a change against the baseline's: on a shared VM one run moves about 10 % either way, so a
before/after comparison from two separate runs says little.

Needs the ``wrk`` Debian package.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))
from bench_http import Server, _cli, _credential, _token

from tests._proc import group_cpu_seconds  # the /proc readings the hostile tests use

ISSUE_LUA = r"""
local counter = 0
local template = [==[%(body)s]==]
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(token)s"
request = function()
  counter = counter + 1
  local name = "learner-" .. counter .. "-" .. math.random(1, 1e9)
  local body = string.gsub(template, "__NAME__", name)
  return wrk.format(nil, "/credentials/issue", nil, body)
end
"""

VERIFY_LUA = r"""
local bodies = {}
for line in io.lines("%(path)s") do bodies[#bodies + 1] = line end
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = (i %% #bodies) + 1
  return wrk.format(nil, "/credentials/verify", nil, bodies[i])
end
"""


async def _issue_many(base: str, token: str, credential: dict[str, Any], n: int) -> list[str]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    out: list[str] = []
    async with aiohttp.ClientSession() as session:
        sem = asyncio.Semaphore(16)

        async def one(k: int) -> None:
            doc = json.loads(json.dumps(credential).replace("__NAME__", f"verify-{k}"))
            async with (
                sem,
                session.post(
                    base + "/credentials/issue", json={"credential": doc}, headers=headers
                ) as resp,
            ):
                if resp.status != 201:
                    raise SystemExit(f"issue failed: {resp.status} {await resp.text()}")
                signed = (await resp.json())["verifiableCredential"]
                out.append(json.dumps({"verifiableCredential": signed}, separators=(",", ":")))

        await asyncio.gather(*(one(k) for k in range(n)))
    return out


def _wrk(base: str, script: Path, args: argparse.Namespace, pgid: int) -> dict[str, float]:
    cpu_before = group_cpu_seconds(pgid)
    cmd = [
        "wrk", "-t2", f"-c{args.connections}", f"-d{args.seconds}s", "--latency",
        "-s", str(script), base,
    ]  # fmt: skip
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    cpu = group_cpu_seconds(pgid) - cpu_before
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]

    def pct(label: str) -> float:
        m = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)", out)
        if not m:
            return float("nan")
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "rps": rps,
        "p50_ms": pct("50"),
        "p99_ms": pct("99"),
        "non2xx": float(non2xx.group(1)) if non2xx else 0.0,
        "cpu_ms": 1000 * cpu / max(total, 1),
    }


def _run_once(
    cli: list[str], workers: int, args: argparse.Namespace
) -> dict[str, dict[str, float]]:
    """One server (``cli``'s ``vc-issuer``) on a fresh home: issue, then verify, under wrk."""
    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="vc-bench-wrk-") as tmp:
        home = Path(tmp) / "home"
        server = Server(home, workers, args.database_url, cli=cli)
        try:
            server.wait_ready()
            token = _token(home, cli)
            credential = _credential(server.did)
            credential["credentialSubject"]["name"] = "__NAME__"
            issue_lua = Path(tmp) / "issue.lua"
            body = json.dumps({"credential": credential}, separators=(",", ":"))
            issue_lua.write_text(ISSUE_LUA % {"body": body, "token": token})
            bodies = asyncio.run(_issue_many(server.base, token, credential, args.distinct))
            lines = Path(tmp) / "verify-bodies.jsonl"
            lines.write_text("\n".join(bodies) + "\n")
            verify_lua = Path(tmp) / "verify.lua"
            verify_lua.write_text(VERIFY_LUA % {"path": lines})
            for route, script in (("issue", issue_lua), ("verify", verify_lua)):
                out[route] = _wrk(server.base, script, args, server.proc.pid)
        finally:
            server.stop()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--distinct", type=int, default=2000, help="credentials to cycle in verify")
    ap.add_argument("--database-url", help="postgresql:// URL (default: SQLite in a temp home)")
    ap.add_argument(
        "--baseline",
        help="another vc-issuer executable (e.g. an older checkout's venv/bin/vc-issuer), "
        "measured in alternation with this one",
    )
    ap.add_argument("--rounds", type=int, default=1, help="repetitions; medians are printed")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")

    codes = [("this", _cli())]
    if args.baseline:
        codes.append(("baseline", [args.baseline]))
    print(f"wrk -t2 -c{args.connections} -d{args.seconds}s, distinct body per request")
    print(
        f"{'code':8} {'workers':>7} {'route':6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}"
        f" {'non-2xx':>8} {'cpu ms/req':>10}"
    )
    seen: dict[tuple[str, int, str], list[dict[str, float]]] = {}
    for round_ in range(args.rounds):
        # alternate the order: neither code always runs on a machine the other just warmed
        order = codes if round_ % 2 == 0 else codes[::-1]
        for workers in (int(w) for w in args.workers.split(",")):
            for name, cli in order:
                for route, r in _run_once(cli, workers, args).items():
                    seen.setdefault((name, workers, route), []).append(r)
                    print(
                        f"{name:8} {workers:>7} {route:6} {r['rps']:8.1f} {r['p50_ms']:8.2f} "
                        f"{r['p99_ms']:8.2f} {int(r['non2xx']):>8} {r['cpu_ms']:10.3f}",
                        flush=True,
                    )
    if args.rounds > 1 or args.baseline:
        _print_medians(seen, args.baseline is not None)


def _print_medians(seen: dict[tuple[str, int, str], list[dict[str, float]]], vs: bool) -> None:
    """Medians over the rounds, and this build against the baseline as the median of the
    per-round ratios: the two builds of one round ran back to back, so a slow spell of the VM
    (they move req/s by 10-20 % here) mostly hits both."""
    print("\nmedians")
    print(
        f"{'code':8} {'workers':>7} {'route':6} {'req/s':>8} {'cpu ms/req':>10}"
        f" {'req/s vs baseline':>18} {'cpu vs baseline':>16}"
    )
    for (name, workers, route), rows in sorted(seen.items()):
        rps = statistics.median(r["rps"] for r in rows)
        cpu = statistics.median(r["cpu_ms"] for r in rows)
        rps_change = cpu_change = ""
        if vs and name == "this":
            pairs = list(zip(rows, seen[("baseline", workers, route)], strict=True))
            rps_ratio = statistics.median(a["rps"] / b["rps"] for a, b in pairs)
            cpu_ratio = statistics.median(a["cpu_ms"] / b["cpu_ms"] for a, b in pairs)
            rps_change = f"{100 * (rps_ratio - 1):+.1f} %"
            cpu_change = f"{100 * (cpu_ratio - 1):+.1f} %"
        print(
            f"{name:8} {workers:>7} {route:6} {rps:8.1f} {cpu:10.3f} {rps_change:>18}"
            f" {cpu_change:>16}"
        )


if __name__ == "__main__":
    main()
