"""A small virtual web for verifier tests: real HTTPS and HTTP servers on 127.0.0.1 that answer
for public-looking names (example.org, example.issuer, ...).

Only DNS is virtual. A SafeFetcher built by :meth:`VirtualWeb.fetcher` resolves those names to
127.0.0.1 (``lookup``) and connects through an aiohttp connector whose resolver sends port 443
to the HTTPS server and port 80 to the HTTP server; TLS is verified against a test CA made
here, for exactly those names. The fetcher keeps every check it makes in production (address
classes, plain http only to loopback, redirects re-checked, size caps), so a test that turns
``allow_private`` off sees the real refusal.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestServer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from did_methods.fetch import SafeFetcher

HOSTS = (
    "example.org",
    "www.example.org",
    "example.com",
    "example.issuer",
    "issuer.example",
    "1edtech.edu",
    "example.edu",
    "badges.example",
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Page = bytes | str | dict[str, Any] | list[Any] | tuple[int, dict[str, str], bytes] | Handler


def _name(value: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, value)])


@dataclass
class Tls:
    """A throw-away CA and a server certificate for :data:`HOSTS`."""

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes

    @classmethod
    def make(cls, hosts: Sequence[str] = HOSTS) -> Tls:
        now = dt.datetime.now(dt.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = (
            x509.CertificateBuilder()
            .subject_name(_name("vc-issuer test CA"))
            .issuer_name(_name("vc-issuer test CA"))
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = [x509.DNSName(h) for h in hosts]
        names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(hosts[0]))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        return cls(
            ca.public_bytes(serialization.Encoding.PEM),
            cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        with tempfile.TemporaryDirectory() as tmp:
            cert, key = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
            cert.write_bytes(self.cert_pem)
            key.write_bytes(self.key_pem)
            ctx.load_cert_chain(cert, key)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.ca_pem.decode("ascii"))


class _PortMap(AbstractResolver):
    """aiohttp resolver: a virtual host's port 443/80 goes to the local HTTPS/HTTP server."""

    def __init__(self, web_: VirtualWeb) -> None:
        self.web = web_

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host not in HOSTS and host != "127.0.0.1":
            raise OSError(f"unknown host {host}")
        mapped = {443: self.web.https_port, 80: self.web.http_port}.get(port, port)
        return [
            ResolveResult(
                hostname=host,
                host="127.0.0.1",
                port=mapped,
                family=socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
        ]

    async def close(self) -> None:
        return None


async def lookup(host: str, port: int) -> list[tuple[int, str]]:
    """Virtual DNS: every test host is 127.0.0.1 (a private address the fetcher must refuse
    unless told otherwise); anything else does not exist."""
    if host in HOSTS:
        return [(socket.AF_INET, "127.0.0.1")]
    raise OSError(f"unknown host {host}")


@dataclass
class VirtualWeb:
    """``pages`` maps absolute URLs (``https://example.org/x``) to what is served there."""

    tls: Tls
    pages: dict[str, Page] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    https_port: int = 0
    http_port: int = 0
    _servers: list[TestServer] = field(default_factory=list)
    _sessions: list[aiohttp.ClientSession] = field(default_factory=list)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        https = TestServer(app, host="127.0.0.1", port=0)
        await https.start_server(ssl=self.tls.server_context())
        http_app = web.Application()
        http_app.router.add_route("GET", "/{tail:.*}", self._handle)
        http = TestServer(http_app, host="127.0.0.1", port=0)
        await http.start_server()
        self._servers = [https, http]
        assert https.port is not None and http.port is not None
        self.https_port, self.http_port = https.port, http.port

    async def close(self) -> None:
        for session in self._sessions:
            await session.close()
        for server in self._servers:
            await server.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        scheme = "https" if request.secure else "http"
        url = f"{scheme}://{request.host}{request.path_qs}"
        self.requests.append(url)
        page = self.pages.get(url)
        if page is None:
            return web.Response(status=404, text="not found")
        if callable(page):
            return await page(request)
        if isinstance(page, tuple):
            status, headers, body = page
            return web.Response(status=status, headers=headers, body=body)
        if isinstance(page, (dict, list)):
            return web.json_response(page)
        body = page.encode("utf-8") if isinstance(page, str) else page
        return web.Response(body=body, content_type="application/octet-stream")

    def serve(self, url: str, page: Page) -> None:
        self.pages[url] = page

    def serve_file(self, url: str, path: Path) -> None:
        self.pages[url] = path.read_bytes()

    def fetcher(self, *, allow_private: bool = True) -> SafeFetcher:
        """A SafeFetcher that reaches this web; ``allow_private=False`` is production policy
        (the virtual hosts resolve to 127.0.0.1, which it must then refuse)."""
        connector = aiohttp.TCPConnector(
            resolver=_PortMap(self), use_dns_cache=False, ssl=self.tls.client_context()
        )
        session = aiohttp.ClientSession(connector=connector, trust_env=False)
        self._sessions.append(session)
        return SafeFetcher(
            allow_private=allow_private,
            lookup=lookup,
            session=session,
            ssl=self.tls.client_context(),
            connect_timeout=3,
            read_timeout=3,
        )


def json_bytes(value: Any) -> bytes:
    return json.dumps(value).encode("utf-8")


_TLS: list[Tls] = []


def shared_tls() -> Tls:
    """One CA and certificate per test session (key generation is not free)."""
    if not _TLS:
        _TLS.append(Tls.make())
    return _TLS[0]


async def started_web() -> VirtualWeb:
    web_ = VirtualWeb(shared_tls())
    await web_.start()
    return web_
