"""did:web: DID <-> URL mapping, a caching resolver, and documents for hosting our own DID.

Mapping (did:web method spec): ':' separates host and path segments; a port is written
``%3A<port>`` in the host segment; no path means ``/.well-known``; then ``/did.json``.
"""

from __future__ import annotations

import asyncio
import copy
import ipaddress
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote, unquote

from did_methods.errors import InvalidDID, InvalidDocument
from did_methods.fetch import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_BYTES,
    DEFAULT_READ_TIMEOUT,
    SafeFetcher,
)
from did_methods.key import DID_CONTEXT_V1, MULTIKEY_CONTEXT_V1, SIGNING_RELATIONSHIPS
from did_methods.multikey import MultibaseError, decode_ed25519_public

DID_WEB_PREFIX = "did:web:"
DID_JSON_ACCEPT = "application/did+json, application/did+ld+json;q=0.9, application/json;q=0.8"

# DID Core ABNF: idchar = ALPHA / DIGIT / "." / "-" / "_" / pct-encoded; segments split by ':'.
_SEGMENT = r"(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})+"
_MSID_RE = re.compile(rf"{_SEGMENT}(?::{_SEGMENT})*")
_LABEL_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_UNSAFE_PATH_CHARS = frozenset("/\\?#\x00")


def _bad(did: str, why: str) -> InvalidDID:
    shown = did if len(did) <= 120 else did[:120] + "..."
    return InvalidDID(f"invalid did:web {shown!r}: {why}")


def _check_host(host: str, did: str) -> None:
    if not host:
        raise _bad(did, "empty host")
    if len(host) > 253:
        raise _bad(did, "host name longer than 253 characters")
    try:
        ipaddress.IPv4Address(host)
        return
    except ValueError:
        pass
    labels = host.split(".")
    if any(not _LABEL_RE.fullmatch(label) for label in labels):
        raise _bad(did, f"host {host!r} is not a valid domain name")
    if labels[-1].isdigit():
        raise _bad(did, f"host {host!r} looks like a malformed IP address")


def parse_did_web(did: str) -> tuple[str, int | None, list[str]]:
    """Split a did:web into (host, port, decoded path segments), validating each part."""
    if not isinstance(did, str):
        raise InvalidDID("a DID must be a string")
    if not did.startswith(DID_WEB_PREFIX):
        raise InvalidDID(f"not a did:web DID: {did[:120]!r}")
    msid = did[len(DID_WEB_PREFIX) :]
    if not msid:
        raise _bad(did, "empty method-specific identifier")
    if not _MSID_RE.fullmatch(msid):
        raise _bad(
            did,
            "only letters, digits, '.', '-', '_' and %XX escapes are allowed, "
            "in non-empty ':'-separated segments",
        )
    segments = msid.split(":")
    try:
        host_part = unquote(segments[0], errors="strict")
    except UnicodeDecodeError as exc:
        raise _bad(did, "host is not UTF-8 once decoded") from exc
    host, sep, port_text = host_part.partition(":")
    port: int | None = None
    if sep:
        if not port_text.isdigit() or not (1 <= int(port_text) <= 65535) or len(port_text) > 5:
            raise _bad(did, f"invalid port {port_text!r}")
        port = int(port_text)
    if "%" in host:
        raise _bad(did, "only ':' (%3A, before the port) may be percent-encoded in the host")
    _check_host(host, did)
    path: list[str] = []
    for raw in segments[1:]:
        try:
            seg = unquote(raw, errors="strict")
        except UnicodeDecodeError as exc:
            raise _bad(did, f"path segment {raw!r} is not UTF-8 once decoded") from exc
        if seg in (".", ".."):
            raise _bad(did, f"path segment {raw!r} would traverse directories")
        if any(c in _UNSAFE_PATH_CHARS or ord(c) < 0x20 or c == "\x7f" for c in seg):
            raise _bad(did, f"path segment {raw!r} decodes to a separator or control character")
        path.append(seg)
    return host, port, path


def did_web_base_url(did: str) -> str:
    """The https origin and path a did:web DID proves (where its issuer serves from)."""
    host, port, path = parse_did_web(did)
    authority = host.lower() if port is None else f"{host.lower()}:{port}"
    return f"https://{authority}" + "".join("/" + quote(s, safe="-._~") for s in path)


def did_web_to_url(did: str) -> str:
    """The HTTPS URL of a did:web's document."""
    base = did_web_base_url(did)
    return base + ("/did.json" if parse_did_web(did)[2] else "/.well-known/did.json")


def did_url_for_host(
    host: str, port: int | None = None, path: str | Sequence[str] | None = None
) -> str:
    """The did:web that resolves to our own ``did.json`` on ``host[:port]/path``.

    ``path`` is "a/b" or ["a", "b"]; with no path the document lives at /.well-known/did.json.
    """
    if port is not None and not (isinstance(port, int) and 1 <= port <= 65535):
        raise ValueError(f"invalid port {port!r}")
    if path is None:
        segments: list[str] = []
    elif isinstance(path, str):
        segments = [p for p in path.split("/") if p]
    else:
        segments = list(path)
    msid = host.lower() + (f"%3A{port}" if port is not None else "")
    for seg in segments:
        if not seg:
            raise ValueError("empty path segment")
        msid += ":" + quote(seg, safe="-._~").replace("~", "%7E")
    did = DID_WEB_PREFIX + msid
    try:
        parse_did_web(did)
    except InvalidDID as exc:
        raise ValueError(str(exc)) from exc
    return did


def build_did_web_document(
    did: str, public_key_multibase: str, *, key_id: str | None = None
) -> dict[str, Any]:
    """A Multikey-form DID document for our own did:web, listing one Ed25519 key.

    The fragment defaults to the key's multibase value, as did:key does, so a rotated key gets
    a new id and credentials signed with the old one keep pointing at the old id.
    """
    parse_did_web(did)
    try:
        decode_ed25519_public(public_key_multibase)
    except MultibaseError as exc:
        raise ValueError(f"not an Ed25519 Multikey public key: {exc}") from exc
    fragment = key_id if key_id is not None else public_key_multibase
    fragment = fragment.removeprefix("#")
    if not fragment or any(c in fragment for c in "#/?"):
        raise ValueError(f"invalid key id fragment {key_id!r}")
    vm_id = f"{did}#{fragment}"
    doc: dict[str, Any] = {
        "@context": [DID_CONTEXT_V1, MULTIKEY_CONTEXT_V1],
        "id": did,
        "verificationMethod": [
            {
                "id": vm_id,
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": public_key_multibase,
            }
        ],
    }
    for relationship in SIGNING_RELATIONSHIPS:
        doc[relationship] = [vm_id]
    return doc


def _is_loopback_host(host: str) -> bool:
    h = host.lower().rstrip(".")
    if h == "localhost" or h.endswith(".localhost"):
        return True
    try:
        return ipaddress.IPv4Address(h).is_loopback
    except ValueError:
        return False


class WebResolver:
    """Resolves did:web over HTTPS through a SafeFetcher, with a TTL cache of good documents.

    When private addresses may be reached (``allow_private``, or the fetcher's
    ``allow_networks``) and ``loopback_http`` is on (default), a loopback host (localhost,
    127.0.0.0/8) is fetched over plain http: that is how tests and local development run.
    """

    def __init__(
        self,
        *,
        allow_private: bool = False,
        cache_ttl: float = 300.0,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        max_bytes: int = DEFAULT_MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
        fetcher: SafeFetcher | None = None,
        loopback_http: bool = True,
        max_cache_entries: int = 1024,
    ) -> None:
        self.allow_private = fetcher.allow_private if fetcher is not None else allow_private
        self.cache_ttl = cache_ttl
        self.loopback_http = loopback_http
        self._clock = clock
        self._own_fetcher = fetcher is None
        self._fetcher = fetcher or SafeFetcher(
            allow_private=allow_private,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_bytes=max_bytes,
        )
        self._max_entries = max_cache_entries
        self._cache: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[dict[str, Any]]] = {}

    def url_for(self, did: str) -> str:
        url = did_web_to_url(did)
        host, _port, _path = parse_did_web(did)
        may_reach_loopback = (
            self._fetcher.allow_private
            or bool(self._fetcher.allow_networks)
            or self._fetcher.trusts_origin("http://" + url.removeprefix("https://"))
        )
        if self.loopback_http and may_reach_loopback and _is_loopback_host(host):
            return "http://" + url.removeprefix("https://")
        return url

    async def resolve(self, did: str) -> dict[str, Any]:
        """The DID document; raises InvalidDID, NotFound, NetworkError, InvalidDocument."""
        url = self.url_for(did)
        now = self._clock()
        hit = self._cache.get(did)
        if hit is not None:
            if hit[0] > now:
                self._cache.move_to_end(did)
                return copy.deepcopy(hit[1])
            del self._cache[did]
        pending = self._inflight.get(did)
        if pending is not None:
            return copy.deepcopy(await asyncio.shield(pending))
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._inflight[did] = future
        try:
            doc = await self._fetch(did, url)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: nobody else may be waiting
            raise
        else:
            future.set_result(doc)
            if self.cache_ttl > 0:
                self._cache[did] = (self._clock() + self.cache_ttl, doc)
                while len(self._cache) > self._max_entries:
                    self._cache.popitem(last=False)
            return copy.deepcopy(doc)
        finally:
            self._inflight.pop(did, None)

    async def _fetch(self, did: str, url: str) -> dict[str, Any]:
        result = await self._fetcher.fetch_json(url, accept=DID_JSON_ACCEPT)
        doc = result.json
        if not isinstance(doc, dict):
            raise InvalidDocument(f"the document at {result.url} is not a JSON object")
        if doc.get("id") != did:
            raise InvalidDocument(
                f"the document at {result.url} has id {str(doc.get('id'))[:120]!r}, not {did!r}"
            )
        return doc

    def clear_cache(self) -> None:
        self._cache.clear()

    async def close(self) -> None:
        if self._own_fetcher:
            await self._fetcher.close()

    async def __aenter__(self) -> WebResolver:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
