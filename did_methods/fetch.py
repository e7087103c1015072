"""A careful HTTPS JSON fetcher for documents named by untrusted input (did:web, status lists).

A credential can make a verifier fetch any URL. Without care that is a server-side request
forgery: the verifier reaching its own loopback, cloud metadata (169.254.169.254) or intranet.
So: https only; the host name is resolved here and every address must be public unicast
(unless ``allow_private``, listed in ``allow_networks``, or the URL's origin is one of
``allow_origins``); plain http only to an allowed loopback address (tests, local development);
the connection goes to exactly the addresses that were checked (a pinning aiohttp resolver, so
DNS rebinding between check and connect does not work); redirects are followed by hand and each
hop is checked again; timeouts and a streamed body cap bound the work.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import socket
import ssl as ssl_module
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from did_methods.errors import (
    ForbiddenAddress,
    Gone,
    InsecureTransport,
    InvalidDocument,
    NetworkError,
    NotFound,
    ResponseTooLarge,
)

DEFAULT_MAX_BYTES = 1_048_576
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 10.0
DEFAULT_MAX_REDIRECTS = 5
USER_AGENT = "vc-issuer-did-methods/0.1"
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK = 65_536

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_SHARED_V4 = ipaddress.IPv4Network("100.64.0.0/10")
_THIS_NETWORK_V4 = ipaddress.IPv4Network("0.0.0.0/8")
_PRIVATE_V4 = tuple(
    ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)
# Special-purpose blocks named explicitly, so the answer does not depend on the Python version's
# copy of the IANA registry (3.11 and 3.13 disagree on a few).
_RESERVED_V4 = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "240.0.0.0/4",
    )
)
_RESERVED_V6 = tuple(
    ipaddress.IPv6Network(n)
    for n in ("100::/64", "2001::/23", "2001:db8::/32", "3fff::/20", "5f00::/16")
)
_BROADCAST_V4 = ipaddress.IPv4Address("255.255.255.255")
_UNIQUE_LOCAL_V6 = ipaddress.IPv6Network("fc00::/7")
_SITE_LOCAL_V6 = ipaddress.IPv6Network("fec0::/10")
_IPV4_COMPAT_V6 = ipaddress.IPv6Network("::/96")
_NAT64_V6 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_SIX_TO_FOUR_V6 = ipaddress.IPv6Network("2002::/16")


# --------------------------------------------------------------------------- addresses


def classify_address(address: str | IPAddress) -> str | None:
    """Why ``address`` is not a public unicast address (a short stable name), or None.

    Names: loopback, private, link-local, shared-address-space, unspecified, multicast,
    broadcast, reserved, unique-local, site-local, ipv4-mapped, ipv4-compatible, and
    ``nat64:<name>`` / ``6to4:<name>`` for IPv6 forms that embed a non-public IPv4 address.
    """
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv4Address):
        return _classify_v4(ip)
    if ip.ipv4_mapped is not None:
        return "ipv4-mapped"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_multicast:
        return "multicast"
    if ip.is_link_local:
        return "link-local"
    if ip in _SITE_LOCAL_V6:
        return "site-local"
    if ip in _UNIQUE_LOCAL_V6:
        return "unique-local"
    if ip in _IPV4_COMPAT_V6:
        return "ipv4-compatible"
    embedded: tuple[str, ipaddress.IPv4Address] | None = None
    if any(ip in net for net in _NAT64_V6):
        embedded = ("nat64", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    elif ip in _SIX_TO_FOUR_V6:
        embedded = ("6to4", ipaddress.IPv4Address((int(ip) >> 80) & 0xFFFFFFFF))
    if embedded is not None:
        inner = _classify_v4(embedded[1])
        return None if inner is None else f"{embedded[0]}:{inner}"
    if any(ip in net for net in _RESERVED_V6) or not ip.is_global:
        return "reserved"
    return None


def _classify_v4(ip: ipaddress.IPv4Address) -> str | None:
    if ip.is_unspecified:
        return "unspecified"
    if ip in _THIS_NETWORK_V4:
        return "reserved"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip in _SHARED_V4:
        return "shared-address-space"
    if ip == _BROADCAST_V4:
        return "broadcast"
    if ip.is_multicast:
        return "multicast"
    if any(ip in net for net in _PRIVATE_V4):
        return "private"
    if any(ip in net for net in _RESERVED_V4) or not ip.is_global:
        return "reserved"
    return None


def is_public_address(address: str | IPAddress) -> bool:
    return classify_address(address) is None


Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: ``async lookup(host, port) -> [(family, address), ...]``; injectable for tests.
Lookup = Callable[[str, int], Awaitable[Sequence[tuple[int, str]]]]


def parse_networks(networks: Iterable[str | Network]) -> tuple[Network, ...]:
    """``["10.1.0.0/16", "127.0.0.1"]`` -> networks; a bad entry raises ValueError."""
    return tuple(
        n
        if isinstance(n, ipaddress.IPv4Network | ipaddress.IPv6Network)
        else ipaddress.ip_network(n)
        for n in networks
    )


def check_address(
    address: str | IPAddress,
    *,
    allow_private: bool = False,
    allow_networks: Iterable[Network] = (),
) -> None:
    """Raise ForbiddenAddress unless the address is public, or allowed explicitly.

    ``allow_private`` allows every address; ``allow_networks`` only the listed networks
    (say, one internal status-list server), which is the narrower choice for production.
    """
    if allow_private:
        return
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if any(ip.version == net.version and ip in net for net in allow_networks):
        return
    reason = classify_address(address)
    if reason is not None:
        raise ForbiddenAddress(f"refusing to connect to {reason} address {address}")


def _is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


async def system_lookup(host: str, port: int) -> list[tuple[int, str]]:
    """The operating system's resolver (getaddrinfo), as (family, address) pairs."""
    loop = asyncio.get_running_loop()
    raw = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [(int(family), str(sockaddr[0])) for family, _t, _p, _c, sockaddr in raw]


async def resolve_checked(
    host: str,
    port: int,
    *,
    allow_private: bool,
    allow_networks: Iterable[Network] = (),
    require_loopback: bool = False,
    timeout: float = DEFAULT_CONNECT_TIMEOUT,
    lookup: Lookup | None = None,
) -> list[ResolveResult]:
    """Resolve ``host`` and check every address; one bad address refuses the host.

    Refusing the whole host (not just filtering) matters: a name answering both a public and
    a private address is exactly what a rebinding attacker serves.
    """
    literal = _ip_literal(host)
    if literal is not None:
        infos: list[tuple[int, str]] = [
            (socket.AF_INET6 if literal.version == 6 else socket.AF_INET, str(literal))
        ]
    else:
        try:
            async with asyncio.timeout(timeout):
                raw = await (lookup or system_lookup)(host, port)
        except TimeoutError as exc:
            raise NetworkError(f"resolving {host} timed out") from exc
        except (OSError, UnicodeError) as exc:
            raise NetworkError(f"cannot resolve host {host}: {exc}") from exc
        infos = []
        for family, addr in raw:
            if (family, addr) not in infos:
                infos.append((family, addr))
        if not infos:
            raise NetworkError(f"host {host} has no addresses")
    for _family, addr in infos:
        try:
            check_address(addr, allow_private=allow_private, allow_networks=allow_networks)
        except ValueError as exc:
            raise NetworkError(f"resolver gave a malformed address {addr!r} for {host}") from exc
        if require_loopback and not _is_loopback(addr):
            raise InsecureTransport(
                f"plain http is only allowed to loopback hosts; {host} resolves to {addr}"
            )
    return [
        ResolveResult(
            hostname=host,
            host=addr,
            port=port,
            family=family,
            proto=socket.IPPROTO_TCP,
            flags=socket.AI_NUMERICHOST,
        )
        for family, addr in infos
    ]


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


class _PinnedResolver(AbstractResolver):
    """Answers aiohttp's connector with the addresses the fetcher has just checked."""

    def __init__(
        self,
        *,
        allow_private: bool,
        allow_networks: tuple[Network, ...],
        timeout: float,
        lookup: Lookup | None,
    ) -> None:
        self._allow_private = allow_private
        self._allow_networks = allow_networks
        self._timeout = timeout
        self._lookup = lookup
        self._pins: dict[tuple[str, int], tuple[list[ResolveResult], int]] = {}

    @contextlib.contextmanager
    def pinned(self, host: str, port: int, results: list[ResolveResult]) -> Any:
        key = (host, port)
        _old, count = self._pins.get(key, ([], 0))
        self._pins[key] = (results, count + 1)
        try:
            yield
        finally:
            current, count = self._pins[key]
            if count <= 1:
                del self._pins[key]
            else:
                self._pins[key] = (current, count - 1)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> list[ResolveResult]:
        pinned = self._pins.get((host, port))
        if pinned is not None:
            results = pinned[0]
        else:  # not expected: aiohttp asked for a host we did not pin; check it ourselves
            results = await resolve_checked(
                host,
                port,
                allow_private=self._allow_private,
                allow_networks=self._allow_networks,
                timeout=self._timeout,
                lookup=self._lookup,
            )
        if family in (socket.AF_INET, socket.AF_INET6):
            results = [r for r in results if r["family"] == family]
        if not results:
            raise OSError(f"no checked address for {host}")
        return results

    async def close(self) -> None:
        self._pins.clear()


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class FetchResult:
    """One fetched resource. ``status`` is 200, or 304 for a conditional request."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    json: Any = None
    redirects: tuple[str, ...] = field(default=())

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")

    @property
    def content_type(self) -> str | None:
        value = self.headers.get("content-type")
        return value.split(";", 1)[0].strip().lower() if value else None

    @property
    def max_age(self) -> int | None:
        """Cache-Control max-age in seconds (0 for no-store/no-cache), or None."""
        cc = self.headers.get("cache-control")
        if not cc:
            return None
        directives = [d.strip().lower() for d in cc.split(",")]
        if "no-store" in directives or "no-cache" in directives:
            return 0
        for d in directives:
            if d.startswith("max-age="):
                with contextlib.suppress(ValueError):
                    return max(0, int(d[8:].strip().strip('"')))
        return None


def parse_json_body(body: bytes, url: str = "") -> Any:
    """Strict JSON: UTF-8 (or the UTF-16/32 JSON allows), no NaN/Infinity."""

    def _no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    where = f" at {url}" if url else ""
    try:
        return json.loads(body, parse_constant=_no_constants)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidDocument(f"response{where} is not JSON: {exc}") from exc


# --------------------------------------------------------------------------- fetcher


def url_origin(url: str | URL) -> str:
    """``scheme://host:port`` with the port always written (``https://a.example:443``), so two
    spellings of one origin compare equal; ValueError if ``url`` has no scheme or host."""
    parsed = URL(url) if isinstance(url, str) else url
    host = parsed.raw_host
    if not parsed.scheme or not host or parsed.port is None:
        raise ValueError(f"not an absolute http(s) URL: {url}")
    shown = f"[{host}]" if ":" in host else host
    return f"{parsed.scheme.lower()}://{shown.lower()}:{parsed.port}"


class SafeFetcher:
    """Reusable fetcher (keeps one aiohttp session); close it, or use ``async with``.

    ``allow_origins`` names origins (``http://127.0.0.1:8080``) that may be reached on a private
    or loopback address although ``allow_private`` is off: one's own local issuer, trusted
    because the caller runs it, while every other private address stays refused (redirects
    are checked hop by hop, so a trusted origin cannot redirect elsewhere). ``refusal_hint``
    is appended to the message of a refused address: how the caller's user allows it (a flag).

    Passing an external ``session`` keeps the checks (resolve, refuse, per-redirect) but the
    external session's own resolver makes the connection, so the DNS-rebinding pin is lost.
    """

    def __init__(
        self,
        *,
        allow_private: bool = False,
        allow_networks: Iterable[str | Network] = (),
        allow_origins: Iterable[str] = (),
        refusal_hint: str = "",
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
        session: aiohttp.ClientSession | None = None,
        ssl: ssl_module.SSLContext | bool = True,
        user_agent: str = USER_AGENT,
        lookup: Lookup | None = None,
    ) -> None:
        if connect_timeout <= 0 or read_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        if max_redirects < 0:
            raise ValueError("max_redirects must not be negative")
        self.allow_private = allow_private
        self.allow_networks = parse_networks(allow_networks)
        self.allow_origins = frozenset(url_origin(o) for o in allow_origins)
        self.refusal_hint = refusal_hint
        self._lookup = lookup
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self._ssl = ssl
        self._user_agent = user_agent
        self._external = session
        self._session: aiohttp.ClientSession | None = None
        self._resolver: _PinnedResolver | None = None

    def trusts_origin(self, url: str | URL) -> bool:
        """Whether ``url``'s origin is one of ``allow_origins`` (reachable on any address)."""
        try:
            return url_origin(url) in self.allow_origins
        except ValueError:
            return False

    async def __aenter__(self) -> SafeFetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
            self._resolver = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._external is not None:
            return self._external
        if self._session is None or self._session.closed:
            self._resolver = _PinnedResolver(
                allow_private=self.allow_private,
                allow_networks=self.allow_networks,
                timeout=self.connect_timeout,
                lookup=self._lookup,
            )
            connector = aiohttp.TCPConnector(
                resolver=self._resolver, use_dns_cache=False, ssl=self._ssl, limit=32
            )
            self._session = aiohttp.ClientSession(
                connector=connector, trust_env=False, cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    async def fetch(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = "application/json",
        max_bytes: int | None = None,
    ) -> FetchResult:
        """GET ``url`` following checked redirects; the body as bytes (``json`` is None).

        ``etag`` / ``last_modified`` make the request conditional; a 304 comes back as a
        FetchResult with ``status == 304`` and an empty body.
        """
        limit = self.max_bytes if max_bytes is None else max_bytes
        request_headers = {"Accept": accept, "User-Agent": self._user_agent}
        if etag:
            request_headers["If-None-Match"] = etag
        if last_modified:
            request_headers["If-Modified-Since"] = last_modified
        if headers:
            request_headers.update(headers)

        current = _parse_url(url)
        seen: list[str] = []
        for _hop in range(self.max_redirects + 1):
            status, resp_headers, body, location = await self._one_hop(
                current, request_headers, limit
            )
            if location is None:
                return FetchResult(
                    url=str(current),
                    status=status,
                    headers=resp_headers,
                    body=body,
                    redirects=tuple(seen),
                )
            seen.append(str(current))
            try:
                current = _parse_url(str(current.join(URL(location))))
            except ValueError as exc:
                raise NetworkError(f"bad redirect Location {location!r}: {exc}") from exc
        raise NetworkError(f"too many redirects (more than {self.max_redirects}) from {url}")

    async def fetch_json(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = "application/json",
        max_bytes: int | None = None,
    ) -> FetchResult:
        """Like :meth:`fetch`, with ``json`` parsed (InvalidDocument if it is not JSON)."""
        result = await self.fetch(
            url,
            headers=headers,
            etag=etag,
            last_modified=last_modified,
            accept=accept,
            max_bytes=max_bytes,
        )
        if result.not_modified:
            return result
        return FetchResult(
            url=result.url,
            status=result.status,
            headers=result.headers,
            body=result.body,
            json=parse_json_body(result.body, result.url),
            redirects=result.redirects,
        )

    async def _one_hop(
        self, url: URL, headers: Mapping[str, str], limit: int
    ) -> tuple[int, dict[str, str], bytes, str | None]:
        host = url.raw_host
        port = url.port
        assert host is not None and port is not None  # _parse_url guarantees both
        plain_http = url.scheme == "http"
        try:
            addresses = await resolve_checked(
                host,
                port,
                allow_private=self.allow_private or self.trusts_origin(url),
                allow_networks=self.allow_networks,
                require_loopback=plain_http,
                timeout=self.connect_timeout,
                lookup=self._lookup,
            )
        except ForbiddenAddress as exc:
            if not self.refusal_hint:
                raise
            raise ForbiddenAddress(f"{exc.message} ({self.refusal_hint})") from None
        conditional = any(k.lower() in ("if-none-match", "if-modified-since") for k in headers)
        session = self._get_session()
        timeout = aiohttp.ClientTimeout(
            total=self.connect_timeout + self.read_timeout,
            connect=self.connect_timeout,
            sock_read=self.read_timeout,
        )
        pin: contextlib.AbstractContextManager[Any] = (
            self._resolver.pinned(host, port, addresses)
            if self._resolver is not None and session is self._session
            else contextlib.nullcontext()
        )
        try:
            with pin:
                async with session.get(
                    url,
                    headers=dict(headers),
                    allow_redirects=False,
                    timeout=timeout,
                    ssl=self._ssl,
                ) as resp:
                    resp_headers = _lower_headers(resp.headers)
                    if resp.status in _REDIRECT_STATUSES:
                        location = resp.headers.get("Location")
                        if not location:
                            raise NetworkError(
                                f"redirect {resp.status} without Location from {url}"
                            )
                        return resp.status, resp_headers, b"", location
                    if resp.status == 304 and conditional:
                        return 304, resp_headers, b"", None
                    if resp.status == 410:
                        raise Gone(f"{url} answered 410 (gone)")
                    if resp.status == 404:
                        raise NotFound(f"{url} answered 404")
                    if resp.status != 200:
                        raise NetworkError(f"{url} answered HTTP {resp.status}")
                    body = await _read_capped(resp, limit, url)
                    return 200, resp_headers, body, None
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise NetworkError(f"fetching {url} timed out") from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"fetching {url} failed: {exc}") from exc
        except OSError as exc:
            raise NetworkError(f"fetching {url} failed: {exc}") from exc


async def _read_capped(resp: aiohttp.ClientResponse, limit: int, url: URL) -> bytes:
    declared = resp.headers.get("Content-Length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise ResponseTooLarge(f"{url} declares {int(declared)} bytes, over the {limit}-byte cap")
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise ResponseTooLarge(f"{url} sent more than the {limit}-byte cap")
        chunks.append(chunk)
    return b"".join(chunks)


def _lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def _parse_url(url: str) -> URL:
    try:
        parsed = URL(url)
    except (ValueError, TypeError) as exc:
        raise NetworkError(f"not a valid URL: {url!r}") from exc
    if parsed.scheme not in ("https", "http"):
        raise InsecureTransport(
            f"only https URLs may be fetched, not {parsed.scheme or 'a relative URL'}: {url}"
        )
    if not parsed.raw_host:
        raise NetworkError(f"URL has no host: {url}")
    if parsed.user is not None or parsed.password is not None:
        raise NetworkError(f"URL must not carry credentials: {parsed.with_user(None)}")
    if parsed.port is None:
        raise NetworkError(f"URL has no usable port: {url}")
    return parsed.with_fragment(None)


async def fetch_json(
    url: str,
    *,
    allow_private: bool = False,
    allow_networks: Iterable[str | Network] = (),
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
    headers: Mapping[str, str] | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
    accept: str = "application/json",
    session: aiohttp.ClientSession | None = None,
) -> FetchResult:
    """One-shot :meth:`SafeFetcher.fetch_json`. For many fetches keep a SafeFetcher instead."""
    async with SafeFetcher(
        allow_private=allow_private,
        allow_networks=allow_networks,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_bytes=max_bytes,
        max_redirects=max_redirects,
        session=session,
    ) as fetcher:
        return await fetcher.fetch_json(
            url, headers=headers, etag=etag, last_modified=last_modified, accept=accept
        )
