"""Per-client rate limits on anonymous routes (issue 9, item 5), against a real `vc-issuer serve`
with ``[limits]`` in its config.toml and flags on the command line:

* POST /nonce, POST /token, GET /claim/..., POST /exchanges/{id} answer 429 ``RATE_LIMITED``
  with ``Retry-After`` once a client's bucket is empty;
* a request with a valid API token is not counted; a made-up token is;
* the verify routes are not limited by default, and ``extra_routes`` adds them;
* ``X-Forwarded-For`` is ignored unless ``trust_forwarded`` is set.

The bucket itself (refill, LRU bound) is tested with an injected clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from vc_issuer.errors import ConfigError
from vc_issuer.http.ratelimit import TokenBuckets
from vc_issuer.services.limits import LimitsConfig, limits_from_toml

from ._live_server import Live, LiveServer, serve_configured

# --- the bucket ----------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_bucket_spends_the_burst_then_refills_at_the_rate() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=2.0, burst=3, max_clients=10, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)  # one token every 1/rate seconds
    assert buckets.take("b") == 0.0  # another client has its own bucket
    clock.now = 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("a") == pytest.approx(0.5)
    clock.now = 100.0
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]  # refills up to the burst
    assert buckets.take("a") > 0


def test_bucket_memory_is_bounded_by_max_clients() -> None:
    buckets = TokenBuckets(rate=1.0, burst=1, max_clients=100, clock=Clock())
    for i in range(10_000):
        buckets.take(f"10.0.{i // 256}.{i % 256}")
    assert len(buckets) == 100


def test_route_matching_and_config() -> None:
    limits = LimitsConfig()
    assert limits.covers("POST", "/nonce")
    assert limits.covers("GET", "/claim/abc")
    assert limits.covers("POST", "/exchanges/ex1")
    assert not limits.covers("POST", "/exchanges")  # creating one needs a token
    assert not limits.covers("GET", "/nonce")
    assert not limits.covers("POST", "/credentials/verify")
    extra = limits_from_toml({"extra_routes": ["POST /credentials/verify"], "rate": 1})
    assert extra.covers("POST", "/credentials/verify")
    assert extra.rate == 1.0
    for bad in ({"rate": "fast"}, {"burst": 0}, {"routes": ["/nonce"]}, {"speed": 1}):
        with pytest.raises(ConfigError):
            limits_from_toml(bad)
    assert LimitsConfig(rate=5, burst=10, nonce_ttl=2, purge_interval=1).row_bound() == 25


# --- a live server --------------------------------------------------------------------------------


LIMITS_TOML = """
[limits]
rate = 0.5
burst = 5
extra_routes = ["POST /presentations/verify"]
"""


def _serve(folder: Path, *flags: str) -> tuple[LiveServer, str]:
    server = serve_configured(folder, LIMITS_TOML, *flags)
    return server, server.wait_ready()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("ratelimits")
    server, url = _serve(folder)
    try:
        anonymous = Live(server, url, "", server.value("issuer DID:"), folder / "home")
        anonymous.auth = anonymous.new_token("admin")
        yield anonymous
    finally:
        server.stop()


async def _until_limited(
    http: aiohttp.ClientSession, method: str, path: str, **kwargs: object
) -> aiohttp.ClientResponse:
    """Send until the first 429 (within burst + a few requests)."""
    for _ in range(12):
        resp = await http.request(method, path, **kwargs)  # type: ignore[arg-type]
        await resp.read()
        if resp.status == 429:
            return resp
    raise AssertionError(f"{method} {path} was never limited")


async def _assert_rate_limited(resp: aiohttp.ClientResponse) -> None:
    assert resp.status == 429
    assert resp.content_type == "application/problem+json"
    body = await resp.json(content_type=None)
    assert body["code"] == "RATE_LIMITED"
    assert int(resp.headers["Retry-After"]) >= 1
    assert body["retryAfter"] == int(resp.headers["Retry-After"])


@pytest.mark.parametrize(
    ("method", "path", "forwarded"),
    [
        ("POST", "/nonce", "198.51.100.1"),
        ("POST", "/token", "198.51.100.2"),
        ("GET", "/claim/not-a-real-token", "198.51.100.3"),
        ("POST", "/exchanges/not-a-real-exchange", "198.51.100.4"),
    ],
)
async def test_anonymous_routes_are_limited_per_client(
    live: Live, method: str, path: str, forwarded: str
) -> None:
    async with aiohttp.ClientSession(live.url) as http:
        # X-Forwarded-For is not trusted here: every test shares the loopback bucket, so a
        # fresh address in the header must not buy a fresh bucket
        resp = await _until_limited(
            http, method, path, headers={"X-Forwarded-For": forwarded}, json={}
        )
        await _assert_rate_limited(resp)


async def test_token_authenticated_requests_are_not_limited(live: Live) -> None:
    async with aiohttp.ClientSession(live.url) as http:
        await _until_limited(http, "POST", "/nonce")
        for _ in range(10):
            resp = await http.post("/nonce", headers=live.auth)
            assert resp.status == 200, await resp.text()
        fake = {"Authorization": "Bearer vci_made-up"}
        resp = await http.post("/nonce", headers=fake)
        await _assert_rate_limited(resp)


async def test_verify_routes_are_limited_only_when_listed(live: Live) -> None:
    async with aiohttp.ClientSession(live.url) as http:
        for _ in range(12):  # /credentials/verify is not listed: never 429
            resp = await http.post("/credentials/verify", json={"verifiableCredential": {}})
            assert resp.status != 429
        resp = await _until_limited(
            http, "POST", "/presentations/verify", json={"verifiablePresentation": {}}
        )
        await _assert_rate_limited(resp)


async def test_forwarded_for_is_used_only_when_trusted(tmp_path: Path) -> None:
    server, url = await asyncio.to_thread(_serve, tmp_path, "--trust-forwarded-for")
    try:
        async with aiohttp.ClientSession(url) as http:
            first = {"X-Forwarded-For": "203.0.113.9, 198.51.100.7"}
            await _until_limited(http, "POST", "/nonce", headers=first)
            # the client's own (spoofable) entries are ignored: only the last one counts
            again = {"X-Forwarded-For": "192.0.2.1, 198.51.100.7"}
            resp = await http.post("/nonce", headers=again)
            await _assert_rate_limited(resp)
            other = {"X-Forwarded-For": "198.51.100.8"}
            resp = await http.post("/nonce", headers=other)
            assert resp.status == 200, await resp.text()
    finally:
        server.stop()


async def test_a_flag_turns_the_limit_off(tmp_path: Path) -> None:
    server, url = await asyncio.to_thread(_serve, tmp_path, "--rate-limit", "0")
    try:
        async with aiohttp.ClientSession(url) as http:
            for _ in range(20):
                resp = await http.post("/nonce")
                assert resp.status == 200, await resp.text()
    finally:
        server.stop()
