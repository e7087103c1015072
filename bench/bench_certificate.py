"""Printable certificate rendering: p50/p95 of one landscape PDF page, and the HTTP route.

Renders the certificate of one signed Open Badge N times for each kind of badge image (the
achievement's PNG, an SVG, none: the default vector medal), valid and revoked, and prints the
percentiles. The issue's target: p50 under 200 ms. The first render of a process (font
registration, ReportLab's imports) is reported apart as the cold start.

Then serves the badge from a real server and times ``GET /c/{page_id}/certificate.pdf`` (the
page's verification, which the PDF's status line needs, plus the rendering).

    python bench/bench_certificate.py [--count 50]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import socket
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from vc_issuer.badges.achievements import AchievementService
from vc_issuer.badges.awards import Awarder, Recipient
from vc_issuer.badges.baking import default_badge_png, default_badge_svg
from vc_issuer.http import build_services, create_app
from vc_issuer.services.home import init_home, open_issuer

PNG = default_badge_png(color="#0b6e4f", size=256)
DESIGN = {
    "name": "Python 101",
    "description": "Writes and tests small Python programs.",
    "criteria": {"narrative": "Pass the final project."},
    "image": {"id": "data:image/png;base64," + base64.b64encode(PNG).decode()},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def bench_render(credential: dict[str, Any], page_url: str, count: int) -> dict[str, Any]:
    images = {
        "png": PNG,
        "svg": default_badge_svg("Python 101"),
        "none": None,
    }
    t0 = time.perf_counter()
    from vc_issuer.badges.certificate import (
        CertificateData,
        Standing,
        render_certificate,
    )

    data = CertificateData.from_credential(credential, page_url)
    valid = Standing("Valid", True, "This credential is genuine and currently valid.")
    revoked = Standing("Revoked", False, "The issuer has revoked this credential.")
    render_certificate(data, image=images["png"], standing=valid)
    out: dict[str, Any] = {"cold_start_ms": round((time.perf_counter() - t0) * 1000, 1)}
    for name, image in images.items():
        for standing in (valid, revoked):
            samples = []
            size = 0
            for _ in range(count):
                t = time.perf_counter()
                pdf = render_certificate(data, image=image, standing=standing)
                samples.append(time.perf_counter() - t)
                size = len(pdf)
            key = f"render_{name}_{standing.label.lower()}"
            out[key] = {**percentiles(samples), "pdf_bytes": size}
    return out


async def sample_badge() -> tuple[dict[str, Any], str]:
    """A signed Open Badge and its page URL (no server needed to render its certificate)."""
    with tempfile.TemporaryDirectory() as tmp:
        base = "https://badges.example.edu"
        cfg = init_home(Path(tmp) / "home", base_url=base, issuer_name="Bench University")
        async with await open_issuer(cfg) as issuer:
            service = AchievementService(issuer.store, base_url=base)
            stored = await service.create(DESIGN)
            award = await Awarder(issuer, service).award(
                stored.key, Recipient(did="did:example:ada", name="Ada Lovelace")
            )
        return award.credential, award.claim_url


async def bench_http(count: int) -> dict[str, Any]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        cfg = init_home(Path(tmp) / "home", base_url=base, issuer_name="Bench University")
        issuer = await open_issuer(cfg)
        service = AchievementService(issuer.store, base_url=base)
        stored = await service.create(DESIGN)
        award = await Awarder(issuer, service).award(
            stored.key, Recipient(did="did:example:ada", name="Ada Lovelace")
        )
        runner = web.AppRunner(
            create_app(build_services(issuer, allow_private=True, close_issuer=True))
        )
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        samples = []
        try:
            async with aiohttp.ClientSession() as http:
                url = award.claim_url + "/certificate.pdf"
                async with http.get(url) as resp:  # warm-up
                    assert resp.status == 200, await resp.text()
                for _ in range(count):
                    t = time.perf_counter()
                    async with http.get(url) as resp:
                        await resp.read()
                    samples.append(time.perf_counter() - t)
        finally:
            await runner.cleanup()
        return percentiles(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=50, help="renders per case (default 50)")
    args = parser.parse_args()
    credential, page_url = asyncio.run(sample_badge())
    result = bench_render(credential, page_url, args.count)  # first: its cold start is real
    result["http_get_certificate"] = asyncio.run(bench_http(args.count))
    result["count"] = args.count
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
