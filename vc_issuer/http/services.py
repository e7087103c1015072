"""Builds every service the HTTP routes use, once, from an opened issuer.

The verifier checks this issuer's own status lists without a network round trip (they are read
from the store, with the same proof and issuer checks as any fetched list) and resolves our own
did:web document locally; everything else goes over the network with the private-address rules
(``allow_private`` lifts them, for tests and local setups only).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypedDict

from did_methods.fetch import SafeFetcher
from did_methods.registry import DIDResolver, Resolver
from vc_issuer.badges.achievements import IMAGE_PATH, AchievementService
from vc_issuer.badges.claims import ClaimService
from vc_issuer.core.resolver import StaticResolver
from vc_issuer.email import mailer_for
from vc_issuer.email.outbox import Mailer
from vc_issuer.errors import VCIssuerError
from vc_issuer.http.auth import Authenticator
from vc_issuer.http.offload import make_offload
from vc_issuer.http.problems import json_bytes
from vc_issuer.http.public import etag_matches, etag_of
from vc_issuer.http.state import ImageLoader, ServiceState
from vc_issuer.services.home import load_home, open_issuer
from vc_issuer.services.issuer import LIST_PATH, Issuer
from vc_issuer.services.status_check import (
    FetchResult,
    SafeFetch,
    StatusListChecker,
    credential_verifier,
)
from vc_issuer.services.workpool import PoolLimits
from vc_issuer.wallets.exchanges import ExchangeService
from vc_issuer.wallets.oid4vci import OID4VCIService


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


def image_loader(service: AchievementService, *base_urls: str) -> ImageLoader:
    """The pages' hook: bytes of an image at one of our ``/images/`` URLs, else None."""
    prefixes = tuple(
        dict.fromkeys(b.rstrip("/") + IMAGE_PATH for b in (service.base_url, *base_urls))
    )

    async def load(url: str) -> bytes | None:
        for prefix in prefixes:
            if url.startswith(prefix):
                try:
                    return (await service.image(url[len(prefix) :])).data
                except VCIssuerError:
                    return None
        return None

    return load


class _Flows(TypedDict):
    """The issuing flows, under their ``ServiceState`` field names."""

    achievements: AchievementService
    exchanges: ExchangeService
    oid4vci: OID4VCIService
    claims: ClaimService


def _flows(issuer: Issuer, public_url: str, resolver: DIDResolver) -> _Flows:
    """How a badge reaches a learner: its design, a VC API exchange or an OpenID4VCI offer,
    and the claim link that makes either on demand. Links point at ``public_url``."""
    exchanges = ExchangeService(issuer, base_url=public_url, resolver=resolver, now=issuer.now)
    offers = OID4VCIService(issuer, base_url=public_url)
    return _Flows(
        achievements=AchievementService(issuer.store, base_url=issuer.base_url),
        exchanges=exchanges,
        oid4vci=offers,
        claims=ClaimService(
            issuer, base_url=public_url, exchanges=exchanges, offers=offers, now=issuer.now
        ),
    )


async def open_services(home: Path, *, base_url: str | None = None, **options: Any) -> ServiceState:
    """The services over the issuer home at ``home`` (``base_url`` overrides the home's), with
    its mailer when ``[email]`` is configured; the issuer closes with the app."""
    cfg = load_home(home)
    if base_url:
        cfg = dataclasses.replace(cfg, base_url=base_url.rstrip("/"))
    issuer = await open_issuer(cfg)
    try:
        mailer = mailer_for(cfg.home, issuer)  # None without [email]
        return build_services(issuer, mailer=mailer, close_issuer=True, **options)
    except BaseException:
        await issuer.close()
        raise


def build_services(
    issuer: Issuer,
    *,
    auth: bool = True,
    allow_private: bool = False,
    base_url: str | None = None,
    status_checker: StatusListChecker | None = None,
    resolver: DIDResolver | None = None,
    fetcher: SafeFetcher | None = None,
    mailer: Mailer | None = None,
    mail_poll: float = 5.0,
    close_issuer: bool = False,
    work_limits: PoolLimits | None = None,
    work: Any = None,
) -> ServiceState:
    """Every service of the HTTP app over ``issuer``.

    ``auth=False`` makes every caller an admin (local conformance runs; the CLI refuses it on
    non-loopback addresses). ``allow_private`` lets the verifier fetch DID documents and status
    lists from private and loopback hosts (over plain http too). ``close_issuer`` closes the
    issuer (and its store) when the app shuts down. ``fetcher`` fetches the documents a
    verified badge names (OB 2.0 assertions, issuer keys); by default one owned by the app.
    ``mailer`` sends the outbox while the app runs. What is built here is closed on cleanup.
    Callers' input that needs more than a small document's work is verified (and credentials
    signed) in a pool of worker processes sized by ``work_limits`` (docs/limits.md), or in
    ``work`` when given; with an injected resolver, status checker or fetcher (they live only
    in this process) verification stays in-process.
    """
    pooled = resolver is None and status_checker is None and fetcher is None
    owned: list[Any] = [issuer] if close_issuer else []
    public_url = (base_url or issuer.base_url).rstrip("/")
    network = Resolver(allow_private=allow_private)
    owned.append(network)
    verify_resolver = resolver if resolver is not None else _own_resolver(issuer, network)
    if status_checker is None:
        fetch = LocalFirstFetch(issuer, SafeFetch(allow_private=allow_private))
        owned.append(fetch)
        status_checker = StatusListChecker(
            fetch=fetch,
            allow_private=allow_private,
            verify_list=credential_verifier(verify_resolver, loader=issuer.loader),
        )
    if fetcher is None:
        fetcher = SafeFetcher(allow_private=allow_private)
        owned.append(fetcher)
    flows = _flows(issuer, public_url, verify_resolver)
    return ServiceState(
        issuer=issuer,
        resolver=verify_resolver,
        network_resolver=network,
        status_checker=status_checker,
        **flows,
        image_loader=image_loader(flows["achievements"], public_url),
        authenticator=Authenticator(issuer.store, enabled=auth),
        allow_private=allow_private,
        base_url=public_url,
        fetcher=fetcher,
        mailer=mailer,
        mail_poll=mail_poll,
        owned=tuple(owned),
        work=work
        if work is not None
        else make_offload(issuer, allow_private=allow_private, pooled=pooled, limits=work_limits),
    )


__all__ = ["LocalFirstFetch", "build_services", "image_loader", "open_services"]
