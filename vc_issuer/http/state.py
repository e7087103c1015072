"""What the routes share: the issuer, the verifier's resolver and status checker, settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from did_methods.fetch import SafeFetcher
from did_methods.registry import DIDResolver, Resolver
from vc_issuer.services.issuer import Issuer
from vc_issuer.services.status_check import StatusListChecker


@dataclass
class ServiceState:
    issuer: Issuer
    resolver: DIDResolver
    """Verifies proofs: our own DID document first, then did:key / did:web."""
    network_resolver: Resolver
    """Resolves any DID for the universal-resolver route (private-address rules apply)."""
    status_checker: StatusListChecker
    allow_private: bool = False
    base_url: str = ""
    owned: list[Any] = field(default_factory=list)
    """Objects created by the app (closed on cleanup)."""
    fetcher: SafeFetcher | None = None
    """Fetches what verified documents name (OB 2.0 chains, issuer keys); None: per request."""
    extra: Mapping[str, Any] = field(default_factory=dict)


STATE_KEY = web.AppKey("vc_issuer_state", ServiceState)


def state_of(request: web.Request) -> ServiceState:
    return request.app[STATE_KEY]


__all__ = ["STATE_KEY", "ServiceState", "state_of"]
