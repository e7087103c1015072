"""did:web and the safe fetcher against a real aiohttp server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import socket
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from did_methods.errors import (
    ForbiddenAddress,
    InsecureTransport,
    InvalidDID,
    InvalidDocument,
    NetworkError,
    NotFound,
    ResponseTooLarge,
)
from did_methods.fetch import SafeFetcher, fetch_json
from did_methods.web import WebResolver, build_did_web_document

MULTIBASE = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
MiB = 1_048_576

ServerFactory = Callable[..., Awaitable[TestServer]]


def did_for(request: web.Request, *path: str) -> str:
    return "did:web:" + request.host.replace(":", "%3A") + "".join(":" + p for p in path)


def make_app(hits: Counter[str], delays: dict[str, float]) -> web.Application:
    routes = web.RouteTableDef()

    @routes.get("/.well-known/did.json")
    async def root(request: web.Request) -> web.Response:
        hits["root"] += 1
        return web.json_response(
            build_did_web_document(did_for(request), MULTIBASE, key_id="key-1")
        )

    @routes.get("/user/alice/did.json")
    async def alice(request: web.Request) -> web.Response:
        hits["alice"] += 1
        await asyncio.sleep(delays.get("alice", 0.0))
        doc = build_did_web_document(did_for(request, "user", "alice"), MULTIBASE)
        return web.Response(body=json.dumps(doc), content_type="application/did+json")

    @routes.get("/slow/did.json")
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response(build_did_web_document(did_for(request, "slow"), MULTIBASE))

    @routes.get("/trickle/did.json")
    async def trickle(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        for _ in range(40):
            await resp.write(b" ")
            await asyncio.sleep(0.1)
        await resp.write_eof()
        return resp

    @routes.get("/big/did.json")
    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b" " * (2 * MiB), content_type="application/json")

    @routes.get("/bigchunked/did.json")
    async def big_chunked(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        try:
            for _ in range(40):
                await resp.write(b" " * 65536)
        except (ConnectionError, RuntimeError):
            pass
        return resp

    @routes.get("/justenough/did.json")
    async def just_enough(request: web.Request) -> web.Response:
        doc = build_did_web_document(did_for(request, "justenough"), MULTIBASE)
        raw = json.dumps(doc).encode()
        return web.Response(body=raw + b" " * (MiB - len(raw)), content_type="application/json")

    @routes.get("/mismatch/did.json")
    async def mismatch(request: web.Request) -> web.Response:
        return web.json_response(build_did_web_document("did:web:evil.example", MULTIBASE))

    @routes.get("/error/did.json")
    async def error(request: web.Request) -> web.Response:
        return web.Response(status=500, text="boom")

    @routes.get("/gone/did.json")
    async def gone(request: web.Request) -> web.Response:
        return web.Response(status=410)

    @routes.get("/notjson/did.json")
    async def notjson(request: web.Request) -> web.Response:
        return web.Response(text="<html>hello</html>", content_type="text/html")

    @routes.get("/array/did.json")
    async def array(request: web.Request) -> web.Response:
        return web.Response(text="[1, 2]", content_type="application/json")

    @routes.get("/nan/did.json")
    async def nan(request: web.Request) -> web.Response:
        return web.Response(text='{"id": NaN}', content_type="application/json")

    @routes.get("/moved/did.json")
    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/target/moved/did.json")

    @routes.get("/target/moved/did.json")
    async def moved_target(request: web.Request) -> web.Response:
        hits["moved-target"] += 1
        return web.json_response(build_did_web_document(did_for(request, "moved"), MULTIBASE))

    @routes.get("/loop/did.json")
    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop/did.json")

    @routes.get("/chain/{n}")
    async def chain(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        if n > 0:
            raise web.HTTPTemporaryRedirect(f"/chain/{n - 1}")
        return web.json_response({"ok": True})

    @routes.get("/nolocation")
    async def nolocation(request: web.Request) -> web.Response:
        return web.Response(status=302)

    @routes.get("/escape")
    async def escape(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    @routes.get("/status.json")
    async def status(request: web.Request) -> web.Response:
        hits["status"] += 1
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304, headers={"ETag": '"v1"'})
        return web.json_response(
            {"list": "x"},
            headers={"ETag": '"v1"', "Cache-Control": "public, max-age=60"},
        )

    @routes.get("/echo-host")
    async def echo_host(request: web.Request) -> web.Response:
        return web.json_response({"host": request.host, "accept": request.headers.get("Accept")})

    app = web.Application()
    app.add_routes(routes)
    return app


@pytest.fixture
def hits() -> Counter[str]:
    return Counter()


@pytest.fixture
def delays() -> dict[str, float]:
    return {}


@pytest.fixture
async def server(
    aiohttp_server: ServerFactory, hits: Counter[str], delays: dict[str, float]
) -> TestServer:
    return await aiohttp_server(make_app(hits, delays), host="127.0.0.1")


@pytest.fixture
def base(server: TestServer) -> str:
    return f"did:web:127.0.0.1%3A{server.port}"


@pytest.fixture
async def resolver() -> AsyncIterator[WebResolver]:
    r = WebResolver(allow_private=True, connect_timeout=1.0, read_timeout=0.5)
    yield r
    await r.close()


async def test_resolves_well_known(resolver: WebResolver, base: str) -> None:
    doc = await resolver.resolve(base)
    assert doc["id"] == base
    assert doc["assertionMethod"] == [f"{base}#key-1"]
    assert resolver.url_for(base).startswith("http://127.0.0.1:")


async def test_resolves_path(resolver: WebResolver, base: str) -> None:
    did = base + ":user:alice"
    doc = await resolver.resolve(did)
    assert doc["id"] == did
    assert doc["verificationMethod"][0]["publicKeyMultibase"] == MULTIBASE


async def test_localhost_name_works_when_allowed(resolver: WebResolver, server: TestServer) -> None:
    did = f"did:web:localhost%3A{server.port}:user:alice"
    try:
        doc = await resolver.resolve(did)
    except NetworkError:  # localhost may resolve to ::1 first where nothing listens
        infos = socket.getaddrinfo("localhost", server.port, type=socket.SOCK_STREAM)
        assert any(i[4][0] == "::1" for i in infos)
        return
    assert doc["id"] == did


async def test_404_is_not_found(resolver: WebResolver, base: str) -> None:
    with pytest.raises(NotFound) as info:
        await resolver.resolve(base + ":nobody")
    assert info.value.code == "notFound"
    with pytest.raises(NotFound):
        await resolver.resolve(base + ":gone")


async def test_500_is_network_error(resolver: WebResolver, base: str) -> None:
    with pytest.raises(NetworkError) as info:
        await resolver.resolve(base + ":error")
    assert info.value.code == "networkError"
    assert "500" in info.value.message


async def test_slow_server_times_out(resolver: WebResolver, base: str) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(NetworkError) as info:
        await resolver.resolve(base + ":slow")
    assert type(info.value) is NetworkError
    assert "timed out" in info.value.message
    assert loop.time() - start < 3


async def test_trickling_server_hits_the_total_deadline(resolver: WebResolver, base: str) -> None:
    # a byte every 0.1 s never trips the 0.5 s read timeout; the 1.5 s total deadline stops it
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(NetworkError) as info:
        await resolver.resolve(base + ":trickle")
    assert "timed out" in info.value.message
    assert loop.time() - start < 3.5


@pytest.mark.parametrize("path", [":big", ":bigchunked"])
async def test_oversized_body_is_refused(resolver: WebResolver, base: str, path: str) -> None:
    with pytest.raises(ResponseTooLarge) as info:
        await resolver.resolve(base + path)
    assert info.value.code == "responseTooLarge"
    assert isinstance(info.value, InvalidDocument)


async def test_body_of_exactly_the_cap_is_accepted(resolver: WebResolver, base: str) -> None:
    doc = await resolver.resolve(base + ":justenough")
    assert doc["id"] == base + ":justenough"


async def test_mismatched_id_is_invalid_document(resolver: WebResolver, base: str) -> None:
    with pytest.raises(InvalidDocument) as info:
        await resolver.resolve(base + ":mismatch")
    assert info.value.code == "invalidDidDocument"
    assert "did:web:evil.example" in info.value.message


@pytest.mark.parametrize("path", [":notjson", ":array", ":nan"])
async def test_not_a_json_object_is_invalid_document(
    resolver: WebResolver, base: str, path: str
) -> None:
    with pytest.raises(InvalidDocument) as info:
        await resolver.resolve(base + path)
    assert info.value.code == "invalidDidDocument"


async def test_redirect_to_another_allowed_path(
    resolver: WebResolver, base: str, hits: Counter[str]
) -> None:
    doc = await resolver.resolve(base + ":moved")
    assert doc["id"] == base + ":moved"
    assert hits["moved-target"] == 1


async def test_redirect_loop_stops(resolver: WebResolver, base: str) -> None:
    with pytest.raises(NetworkError) as info:
        await resolver.resolve(base + ":loop")
    assert "too many redirects" in info.value.message


async def test_loopback_is_refused_without_allow_private(base: str, server: TestServer) -> None:
    async with _closing(WebResolver()) as strict:
        for did in (base, f"did:web:localhost%3A{server.port}"):
            with pytest.raises(ForbiddenAddress) as info:
                await strict.resolve(did)
            assert info.value.code == "forbiddenAddress"
            assert "loopback" in info.value.message
        assert strict.url_for(base).startswith("https://")


async def test_malformed_did_fails_before_any_request(
    resolver: WebResolver, hits: Counter[str]
) -> None:
    with pytest.raises(InvalidDID):
        await resolver.resolve("did:web:127.0.0.1%3A1:..")
    assert not hits


async def test_ttl_cache_with_injected_clock(
    server: TestServer, base: str, hits: Counter[str]
) -> None:
    now = [1000.0]
    async with _closing(WebResolver(allow_private=True, cache_ttl=300, clock=lambda: now[0])) as r:
        did = base + ":user:alice"
        first = await r.resolve(did)
        first["id"] = "tampered"
        second = await r.resolve(did)
        assert second["id"] == did  # the cache hands out copies
        assert hits["alice"] == 1
        now[0] += 299
        await r.resolve(did)
        assert hits["alice"] == 1
        now[0] += 2
        await r.resolve(did)
        assert hits["alice"] == 2
        r.clear_cache()
        await r.resolve(did)
        assert hits["alice"] == 3


async def test_failures_are_not_cached(resolver: WebResolver, base: str) -> None:
    for _ in range(2):
        with pytest.raises(InvalidDocument):
            await resolver.resolve(base + ":mismatch")


async def test_concurrent_resolutions_share_one_fetch(
    resolver: WebResolver, base: str, hits: Counter[str], delays: dict[str, float]
) -> None:
    delays["alice"] = 0.2
    docs = await asyncio.gather(*(resolver.resolve(base + ":user:alice") for _ in range(5)))
    assert hits["alice"] == 1
    assert all(d["id"] == base + ":user:alice" for d in docs)
    docs[0]["id"] = "x"
    assert docs[1]["id"] == base + ":user:alice"


# --------------------------------------------------------------------------- fetcher


def url(server: TestServer, path: str, host: str = "127.0.0.1") -> str:
    return f"http://{host}:{server.port}{path}"


async def test_fetch_json_result(server: TestServer) -> None:
    result = await fetch_json(url(server, "/status.json"), allow_private=True)
    assert result.status == 200
    assert result.json == {"list": "x"}
    assert result.etag == '"v1"'
    assert result.max_age == 60
    assert result.content_type == "application/json"
    assert result.body == b'{"list": "x"}'
    assert not result.not_modified


async def test_conditional_request_gives_304(server: TestServer) -> None:
    async with SafeFetcher(allow_private=True) as fetcher:
        first = await fetcher.fetch_json(url(server, "/status.json"))
        again = await fetcher.fetch_json(url(server, "/status.json"), etag=first.etag)
        assert again.status == 304 and again.not_modified
        assert again.json is None and again.body == b""


async def test_redirect_chain_limit(server: TestServer) -> None:
    async with SafeFetcher(allow_private=True, max_redirects=5) as fetcher:
        ok = await fetcher.fetch_json(url(server, "/chain/5"))
        assert ok.json == {"ok": True}
        assert len(ok.redirects) == 5
        with pytest.raises(NetworkError, match="too many redirects"):
            await fetcher.fetch_json(url(server, "/chain/6"))
        with pytest.raises(NetworkError, match="without Location"):
            await fetcher.fetch_json(url(server, "/nolocation"))


async def test_redirect_to_a_forbidden_address_is_refused(server: TestServer) -> None:
    # Only 127.0.0.1 is allowed; every hop is checked, so the redirects below are refused
    # before anything connects to them.
    async with SafeFetcher(allow_networks=["127.0.0.1/32"]) as fetcher:
        ok = await fetcher.fetch_json(url(server, "/status.json"))
        assert ok.json == {"list": "x"}
        for target, reason in [
            (f"http://127.0.0.2:{server.port}/status.json", "loopback"),
            ("http://169.254.169.254/latest/meta-data/", "link-local"),
            ("https://10.0.0.1/did.json", "private"),
            (f"http://[::ffff:127.0.0.1]:{server.port}/status.json", "ipv4-mapped"),
            (f"http://[::1]:{server.port}/status.json", "loopback"),
        ]:
            with pytest.raises(ForbiddenAddress) as info:
                await fetcher.fetch_json(url(server, "/escape?to=" + _q(target)))
            assert reason in info.value.message, target


async def test_a_trusted_origin_is_reached_on_loopback_and_nothing_else(server: TestServer) -> None:
    """allow_origins: one's own local server (one origin) is reachable without allow_private;
    the same host on another port, and a redirect away from the trusted origin, are not."""
    own = f"http://127.0.0.1:{server.port}"
    hint = "--allow-private-hosts allows it"
    async with SafeFetcher(allow_origins=[own + "/any/path"], refusal_hint=hint) as fetcher:
        assert fetcher.trusts_origin(f"HTTP://127.0.0.1:{server.port}/status.json")
        assert not fetcher.trusts_origin(f"http://127.0.0.1:{server.port + 1}/")
        ok = await fetcher.fetch_json(url(server, "/status.json"))
        assert ok.json == {"list": "x"}
        with pytest.raises(ForbiddenAddress) as info:  # another port: another origin
            await fetcher.fetch_json(f"http://127.0.0.1:{server.port + 1}/status.json")
        assert info.value.message == (
            "refusing to connect to loopback address 127.0.0.1 (--allow-private-hosts allows it)"
        )
        target = f"http://127.0.0.2:{server.port}/status.json"
        with pytest.raises(ForbiddenAddress, match=r"loopback address 127\.0\.0\.2 \(--allow"):
            await fetcher.fetch_json(url(server, "/escape?to=" + _q(target)))
    async with _closing(WebResolver(fetcher=SafeFetcher(allow_origins=[own]))) as web_resolver:
        # a did:web of the trusted origin is fetched over plain http, as with allow_private
        assert web_resolver.url_for(f"did:web:127.0.0.1%3A{server.port}").startswith("http://")
        assert web_resolver.url_for("did:web:127.0.0.1%3A1").startswith("https://")


async def test_redirect_to_other_schemes_is_refused(server: TestServer) -> None:
    async with SafeFetcher(allow_private=True) as fetcher:
        for target in ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1/"]:
            with pytest.raises(InsecureTransport):
                await fetcher.fetch_json(url(server, "/escape?to=" + _q(target)))


async def test_plain_http_to_a_public_host_is_refused() -> None:
    with pytest.raises(InsecureTransport):
        await fetch_json("http://8.8.8.8/x.json", allow_private=True)
    with pytest.raises(InsecureTransport):
        await fetch_json("file:///etc/passwd")
    with pytest.raises(NetworkError, match="credentials"):
        await fetch_json("https://user:pw@example.com/x.json")


async def test_pinned_addresses_defeat_dns_rebinding(server: TestServer) -> None:
    answers: list[list[tuple[int, str]]] = [
        [(socket.AF_INET, "127.0.0.1")],
        [(socket.AF_INET, "10.9.9.9")],
    ]
    calls: list[str] = []

    async def lookup(host: str, port: int) -> list[tuple[int, str]]:
        calls.append(host)
        return answers[min(len(calls) - 1, 1)]

    async with SafeFetcher(
        allow_networks=["127.0.0.1/32"], lookup=lookup, connect_timeout=1, read_timeout=1
    ) as fetcher:
        result = await fetcher.fetch_json(url(server, "/echo-host", host="rebind.test"))
        # checked once, connected to the checked address, Host header kept for the server
        assert calls == ["rebind.test"]
        assert result.json["host"] == f"rebind.test:{server.port}"
        with pytest.raises(ForbiddenAddress):
            await fetcher.fetch_json(url(server, "/echo-host", host="rebind.test"))


async def test_a_host_with_one_bad_address_is_refused_entirely(server: TestServer) -> None:
    async def lookup(host: str, port: int) -> list[tuple[int, str]]:
        return [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET, "10.0.0.7")]

    async with SafeFetcher(allow_networks=["127.0.0.1/32"], lookup=lookup) as fetcher:
        with pytest.raises(ForbiddenAddress, match=r"10\.0\.0\.7"):
            await fetcher.fetch_json(url(server, "/status.json", host="mixed.test"))


async def test_external_session_still_checks(server: TestServer) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        with pytest.raises(ForbiddenAddress):
            await fetch_json(url(server, "/status.json"), session=session)
        result = await fetch_json(url(server, "/status.json"), session=session, allow_private=True)
        assert result.json == {"list": "x"}
        assert not session.closed


async def test_unreachable_port_is_network_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(NetworkError) as info:
        await fetch_json(f"http://127.0.0.1:{port}/x", allow_private=True, connect_timeout=1)
    assert type(info.value) is NetworkError


async def test_did_json_accept_header(resolver: WebResolver, server: TestServer) -> None:
    async with SafeFetcher(allow_private=True) as fetcher:
        result = await fetcher.fetch_json(url(server, "/echo-host"), accept="application/did+json")
        assert result.json["accept"] == "application/did+json"


def _q(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


class _closing:
    """``async with`` for objects with ``async close()``."""

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    async def __aenter__(self) -> Any:
        return self.obj

    async def __aexit__(self, *exc: object) -> None:
        await self.obj.close()
