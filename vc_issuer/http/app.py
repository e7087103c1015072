"""The aiohttp application factory.

``create_app(issuer)`` wires routes, limits, auth and the verifier's seams. The verifier checks
this issuer's own status lists without a network round trip (they are read from the store, with
the same proof and issuer checks as any fetched list) and resolves our own did:web document
locally; everything else goes over the network with the private-address rules
(``allow_private`` lifts them, for tests and local setups only).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from did_methods.fetch import SafeFetcher
from did_methods.registry import DIDResolver, Resolver
from vc_issuer.core.resolver import StaticResolver
from vc_issuer.errors import VCIssuerError
from vc_issuer.http.auth import AUTH_KEY, Authenticator
from vc_issuer.http.middlewares import (
    DEFAULT_MAX_BODY,
    DEFAULT_MAX_DEPTH,
    MAX_BODY_KEY,
    MAX_DEPTH_KEY,
    body_cap_middleware,
    cors_middleware,
    error_middleware,
    request_id_middleware,
)
from vc_issuer.http.problems import json_bytes
from vc_issuer.http.public import etag_matches, etag_of
from vc_issuer.http.state import STATE_KEY, ServiceState
from vc_issuer.services.issuer import LIST_PATH, Issuer
from vc_issuer.services.status_check import FetchResult, SafeFetch, StatusListChecker
from vc_issuer.services.workpool import PoolLimits

log = logging.getLogger("vc_issuer.http")


class LocalFirstFetch:
    """The status checker's fetch: our own lists straight from the issuer, others over HTTP.

    Own lists answer with ``no-cache`` and an ETag, so the checker revalidates on every check
    (a status change is visible at once) and re-verifies only when the list really changed.
    """

    def __init__(self, issuer: Issuer, remote: SafeFetch) -> None:
        self.issuer = issuer
        self.remote = remote
        self.prefix = issuer.base_url + LIST_PATH

    async def __call__(self, url: str, headers: Mapping[str, str]) -> FetchResult:
        if url.startswith(self.prefix):
            list_id = url[len(self.prefix) :].split("#", 1)[0]
            if list_id and "/" not in list_id and "?" not in list_id:
                return await self._local(list_id, headers)
        return await self.remote(url, headers)

    async def _local(self, list_id: str, headers: Mapping[str, str]) -> FetchResult:
        try:
            credential = await self.issuer.status_list_credential(list_id)
        except VCIssuerError as exc:
            return exc.http_status, {}, b""
        body = json_bytes(credential)
        etag = etag_of(body)
        out = {"ETag": etag, "Cache-Control": "no-cache", "Content-Type": "application/vc+ld+json"}
        sent = {k.lower(): v for k, v in headers.items()}.get("if-none-match")
        if etag_matches(sent, etag):
            return 304, out, b""
        return 200, out, body

    async def close(self) -> None:
        await self.remote.close()


def _own_resolver(issuer: Issuer, fallback: DIDResolver) -> DIDResolver:
    document = issuer.did_document()
    if document is None:
        return fallback
    return StaticResolver({issuer.did: document}, fallback=fallback)


def create_app(
    issuer: Issuer,
    *,
    auth: bool = True,
    allow_private: bool = False,
    max_body: int = DEFAULT_MAX_BODY,
    max_depth: int = DEFAULT_MAX_DEPTH,
    base_url: str | None = None,
    status_checker: StatusListChecker | None = None,
    resolver: DIDResolver | None = None,
    close_issuer: bool = False,
    fetcher: SafeFetcher | None = None,
    work_limits: PoolLimits | None = None,
) -> web.Application:
    """The VC API application over ``issuer``.

    ``auth=False`` makes every caller an admin (local conformance runs; the CLI refuses it on
    non-loopback addresses). ``allow_private`` lets the verifier fetch DID documents and status
    lists from private and loopback hosts (over plain http too). ``close_issuer`` closes the
    issuer (and its store) when the app shuts down. ``fetcher`` fetches the documents a
    verified badge names (OB 2.0 assertions, issuer keys); by default one owned by the app.
    """
    if max_body < 1024:
        raise ValueError("max_body must be at least 1024 bytes")
    if max_depth < 8:
        raise ValueError("max_depth must be at least 8")
    app = web.Application(
        client_max_size=max_body,
        middlewares=[cors_middleware, request_id_middleware, error_middleware, body_cap_middleware],
    )
    app[MAX_BODY_KEY] = max_body
    app[MAX_DEPTH_KEY] = max_depth
    app[AUTH_KEY] = Authenticator(issuer.store, enabled=auth)

    # Callers' input is verified in worker processes, which build these edges themselves;
    # injected ones (tests, embedders) live only here, so then verification stays in-process.
    pooled = resolver is None and status_checker is None and fetcher is None
    owned: list[Any] = []
    network = Resolver(allow_private=allow_private)
    owned.append(network)
    verify_resolver = resolver if resolver is not None else _own_resolver(issuer, network)
    if status_checker is None:
        remote = SafeFetch(allow_private=allow_private)
        fetch = LocalFirstFetch(issuer, remote)
        owned.append(fetch)
        status_checker = StatusListChecker(
            fetch=fetch,
            allow_private=allow_private,
            verify_list=_list_verifier(verify_resolver, issuer),
        )
    if fetcher is None:
        fetcher = SafeFetcher(allow_private=allow_private)
        owned.append(fetcher)
    app[STATE_KEY] = ServiceState(
        issuer=issuer,
        resolver=verify_resolver,
        network_resolver=network,
        status_checker=status_checker,
        allow_private=allow_private,
        base_url=(base_url or issuer.base_url).rstrip("/"),
        owned=owned,
        fetcher=fetcher,
    )

    from vc_issuer.http import offload

    spec = (
        offload.VerifySpec(
            did=issuer.did,
            did_document=issuer.did_document(),
            list_prefix=issuer.base_url + LIST_PATH,
            allow_private=allow_private,
            loader=issuer.loader,
            resources=issuer.resources,
        )
        if pooled
        else None
    )
    offload.setup(app, spec, work_limits)
    if pooled:
        offload.offload_issuing(app, issuer)

    from vc_issuer.http import public, vcapi

    vcapi.add_routes(app)
    public.add_routes(app, issuer.did)
    from vc_issuer.http import exchanges

    exchanges.add_routes(app)
    from vc_issuer.http import oid4vci

    oid4vci.add_routes(app)
    from vc_issuer.http import claims

    claims.add_routes(app)
    from vc_issuer.http import achievements

    achievements.add_routes(app)
    from vc_issuer.http.pages import setup_pages

    setup_pages(app)
    from vc_issuer.http import display

    display.add_routes(app)

    async def _cleanup(app: web.Application) -> None:
        for item in reversed(app[STATE_KEY].owned):
            try:
                out = item.close()
                if inspect.isawaitable(out):
                    await out
            except Exception:  # cleanup must go on
                log.exception("closing %r failed", item)
        if close_issuer:
            await issuer.close()

    app.on_cleanup.append(_cleanup)
    if not auth:
        log.warning("authentication is DISABLED: every caller may issue and change status")
    return app


def _list_verifier(resolver: DIDResolver, issuer: Issuer) -> Any:
    """List credentials are verified with the same resolver (our own DID resolves locally)."""
    from vc_issuer.services.status_check import credential_verifier

    return credential_verifier(resolver, loader=issuer.loader)


__all__ = ["LocalFirstFetch", "create_app"]
