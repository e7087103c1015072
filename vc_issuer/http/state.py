"""What the routes share: every service a handler needs, built once and passed in.

``build_services`` (vc_issuer.http.services) makes a ``ServiceState``; ``create_app`` puts it on
the app and handlers read it with ``state_of(request)``. Nothing is built on import or while
routes are mounted, so the mount order does not matter and two apps never share state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypedDict

from aiohttp import web

from did_methods.fetch import SafeFetcher
from did_methods.registry import DIDResolver, Resolver
from vc_issuer.badges.achievements import AchievementService
from vc_issuer.badges.claims import ClaimService
from vc_issuer.core.jsonld import ContextLoader
from vc_issuer.core.related import ResourceBytes
from vc_issuer.email.outbox import Mailer
from vc_issuer.http.auth import Authenticator
from vc_issuer.services.issuer import Issuer
from vc_issuer.services.status_check import StatusListChecker
from vc_issuer.wallets.exchanges import ExchangeService
from vc_issuer.wallets.oid4vci import OID4VCIService

ImageLoader = Callable[[str], Awaitable[bytes | None]]
"""Bytes of an image stored at one of our own URLs (achievement images), else None."""


class VerifySeams(TypedDict):
    """What every verification through the app uses (``verify_input(x, **seams)``)."""

    resolver: DIDResolver
    loader: ContextLoader | None
    status_checker: StatusListChecker
    allow_private_hosts: bool
    fetcher: SafeFetcher | None
    resources: ResourceBytes


@dataclass(frozen=True)
class ServiceState:
    """Every service a route needs, built once (``build_services``); the store is
    ``issuer.store`` and the clock ``issuer.now``. To add a service, add a field here and
    build it in ``build_services``: handlers read it with ``state_of(request).name``."""

    issuer: Issuer
    resolver: DIDResolver
    """Verifies proofs: our own DID document first, then did:key / did:web."""
    network_resolver: Resolver
    """Resolves any DID for the universal-resolver route (private-address rules apply)."""
    status_checker: StatusListChecker
    achievements: AchievementService
    exchanges: ExchangeService
    oid4vci: OID4VCIService
    claims: ClaimService
    image_loader: ImageLoader
    authenticator: Authenticator
    """Bearer tokens from the store; disabled, every caller is an admin (local runs only)."""
    allow_private: bool = False
    base_url: str = ""
    fetcher: SafeFetcher | None = None
    """Fetches what verified documents name (OB 2.0 chains, issuer keys); None: per request."""
    mailer: Mailer | None = None
    """Sends the outbox (``[email]`` configured); None: ``notify`` is refused."""
    mail_poll: float = 5.0
    owned: tuple[Any, ...] = ()
    """Objects built for these services, closed (in reverse) when the app shuts down."""
    work: Any = None
    """The worker pool (``vc_issuer.http.offload.Offload``) that verifies callers' input and
    signs credentials off the event loop; ``create_app`` starts and stops it with the app."""

    def verify_seams(self) -> VerifySeams:
        """The verifier's seams, the same for the API and the pages: our own DID and status
        lists resolve locally, the rest follows the private-address rules."""
        return VerifySeams(
            resolver=self.resolver,
            loader=self.issuer.loader,
            status_checker=self.status_checker,
            allow_private_hosts=self.allow_private,
            fetcher=self.fetcher,
            resources=self.issuer.resources,
        )


STATE_KEY = web.AppKey("vc_issuer_state", ServiceState)


def state_of(request: web.Request) -> ServiceState:
    return request.app[STATE_KEY]


__all__ = ["STATE_KEY", "ImageLoader", "ServiceState", "VerifySeams", "state_of"]
