"""did:web over real TLS: the pinned connection still verifies the certificate for the name."""

from __future__ import annotations

import gzip
import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from did_methods.errors import InsecureTransport, NetworkError, ResponseTooLarge
from did_methods.fetch import SafeFetcher
from did_methods.registry import Resolver
from did_methods.web import WebResolver, build_did_web_document

TLS = Path(__file__).resolve().parents[1] / "fixtures" / "did" / "tls"
MULTIBASE = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
ServerFactory = Callable[..., Awaitable[TestServer]]


async def lookup(host: str, port: int) -> Sequence[tuple[int, str]]:
    """A tiny DNS: public.test is a public address, every other *.test name is 127.0.0.1."""
    if host == "public.test":
        return [(socket.AF_INET, "93.184.216.34")]
    if host.endswith(".test"):
        return [(socket.AF_INET, "127.0.0.1")]
    raise OSError(f"unknown host {host}")


def client_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(TLS / "did.test.crt"))
    return ctx


@pytest.fixture
async def tls_server(aiohttp_server: ServerFactory) -> TestServer:
    async def did_json(request: web.Request) -> web.Response:
        did = "did:web:" + request.host.replace(":", "%3A")
        return web.json_response(build_did_web_document(did, MULTIBASE, key_id="key-1"))

    async def http_redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://public.test/.well-known/did.json")

    async def bomb(request: web.Request) -> web.Response:
        body = gzip.compress(b" " * (8 * 1_048_576))
        return web.Response(
            body=body, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}
        )

    app = web.Application()
    app.router.add_get("/.well-known/did.json", did_json)
    app.router.add_get("/downgrade/did.json", http_redirect)
    app.router.add_get("/bomb/did.json", bomb)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(TLS / "did.test.crt", TLS / "did.test.key")
    return await aiohttp_server(app, host="127.0.0.1", ssl=server_ctx)


def fetcher() -> SafeFetcher:
    return SafeFetcher(
        allow_networks=["127.0.0.1/32"],
        lookup=lookup,
        ssl=client_context(),
        connect_timeout=2,
        read_timeout=2,
    )


async def test_did_web_over_tls(tls_server: TestServer) -> None:
    did = f"did:web:did.test%3A{tls_server.port}"
    f = fetcher()
    async with Resolver(web=WebResolver(fetcher=f)) as r:
        assert r.web.url_for(did) == f"https://did.test:{tls_server.port}/.well-known/did.json"
        doc = await r.resolve(did)
        assert doc["id"] == did
        vm = await r.dereference(f"{did}#key-1")
        assert vm["publicKeyMultibase"] == MULTIBASE
    await f.close()


async def test_certificate_must_match_the_name(tls_server: TestServer) -> None:
    async with fetcher() as f:
        with pytest.raises(NetworkError) as info:
            await f.fetch_json(f"https://other.test:{tls_server.port}/.well-known/did.json")
        assert "other.test" in info.value.message


async def test_untrusted_certificate_is_refused(tls_server: TestServer) -> None:
    async with SafeFetcher(allow_networks=["127.0.0.1/32"], lookup=lookup) as f:
        with pytest.raises(NetworkError):
            await f.fetch_json(f"https://did.test:{tls_server.port}/.well-known/did.json")


async def test_redirect_from_https_to_http_is_refused(tls_server: TestServer) -> None:
    async with fetcher() as f:
        with pytest.raises(InsecureTransport):
            # public.test is a public address: plain http is refused before connecting
            await f.fetch_json(f"https://did.test:{tls_server.port}/downgrade/did.json")


async def test_gzip_bomb_hits_the_cap_after_decompression(tls_server: TestServer) -> None:
    async with fetcher() as f:
        with pytest.raises(ResponseTooLarge):
            await f.fetch_json(f"https://did.test:{tls_server.port}/bomb/did.json")
