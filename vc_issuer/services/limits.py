"""Limits of the running service (``[limits]`` in config.toml, ``serve`` flags) and the periodic
purge of expired rows.

Anonymous routes create rows (a ``c_nonce``, a claim session, an exchange step); a per-client
token bucket bounds how fast one client creates them and the purge bounds how long they stay,
so rows alive at any time are at most ``burst + rate x (ttl + purge_interval)`` per client and
worker. The bucket itself lives in :mod:`vc_issuer.http.ratelimit` (it needs the request).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from vc_issuer.core.credentials import utcnow
from vc_issuer.errors import ConfigError
from vc_issuer.store import Store

log = logging.getLogger("vc_issuer.limits")

DEFAULT_LIMITED_ROUTES: tuple[str, ...] = (
    "POST /nonce",
    "POST /token",
    "GET /claim/",
    "POST /claim/",
    "POST /exchanges/",
)
"""Anonymous routes that create rows or cost work: ``METHOD /path``, a trailing ``/`` matches the
path and everything under it. The verify routes are not here by default (conformance suites and
the HTTP bench call them from one address); ``extra_routes`` adds them."""

VERIFY_ROUTES: tuple[str, ...] = (
    "POST /credentials/verify",
    "POST /presentations/verify",
    "POST /verify",
)


@dataclass(frozen=True)
class LimitsConfig:
    """Per-client rate limits of anonymous routes and the purge of expired rows."""

    rate: float = 10.0
    """Requests per second each client may make on the limited routes (0: no limit)."""
    burst: int = 60
    """Requests a client may make at once before the rate applies."""
    max_clients: int = 10_000
    """Clients whose buckets are remembered (least recently seen are forgotten first)."""
    trust_forwarded: bool = False
    """Take the client address from the last ``X-Forwarded-For`` entry (behind a proxy that
    sets it); otherwise from the connection."""
    routes: tuple[str, ...] = DEFAULT_LIMITED_ROUTES
    extra_routes: tuple[str, ...] = ()
    purge_interval: float = 300.0
    """Seconds between purges of expired rows; the first runs at start (0: never)."""
    purge_grace: float = 0.0
    """Rows are purged this many seconds after they expire."""
    nonce_ttl: float = 300.0
    """Lifetime in seconds of an OpenID4VCI ``c_nonce`` (``POST /nonce``)."""

    def __post_init__(self) -> None:
        if self.rate < 0 or self.burst < 1 or self.max_clients < 1:
            raise ConfigError("limits: rate must be >= 0, burst and max_clients >= 1")
        if self.purge_interval < 0 or self.purge_grace < 0 or self.nonce_ttl <= 0:
            raise ConfigError("limits: purge_interval, purge_grace >= 0 and nonce_ttl > 0")
        for route in (*self.routes, *self.extra_routes):
            method, _, path = route.partition(" ")
            if not method.isupper() or not path.startswith("/"):
                raise ConfigError(f"limits: a route is 'METHOD /path', got {route!r}")

    @cached_property
    def limited_routes(self) -> dict[str, tuple[frozenset[str], tuple[str, ...]]]:
        """Per method: the exact paths, and the prefixes (a route ending in ``/``), limited.
        Split once: :meth:`covers` runs on every request."""
        out: dict[str, tuple[set[str], list[str]]] = {}
        for route in (*self.routes, *self.extra_routes):
            method, _, path = route.partition(" ")
            exact, prefixes = out.setdefault(method, (set(), []))
            (prefixes.append if path.endswith("/") else exact.add)(path)
        return {m: (frozenset(e), tuple(p)) for m, (e, p) in out.items()}

    def covers(self, method: str, path: str) -> bool:
        """Whether requests ``method path`` are rate-limited (anonymous ones)."""
        limited = self.limited_routes.get(method)
        if limited is None:
            return False
        exact, prefixes = limited
        return path in exact or path.startswith(prefixes)

    def row_bound(self) -> float:
        """Rows one client can keep alive on one worker: ``burst + rate x (ttl + interval)``."""
        return self.burst + self.rate * (self.nonce_ttl + self.purge_grace + self.purge_interval)


_NUMBERS = ("rate", "purge_interval", "purge_grace", "nonce_ttl")
_INTEGERS = ("burst", "max_clients")


def limits_from_toml(raw: Mapping[str, Any]) -> LimitsConfig:
    """``[limits]`` of config.toml (every key optional)."""
    known = {*_NUMBERS, *_INTEGERS, "trust_forwarded", "routes", "extra_routes"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"[limits]: unknown setting {unknown[0]!r}")
    values: dict[str, Any] = {}
    for key in _NUMBERS:
        if key in raw:
            if not isinstance(raw[key], (int, float)) or isinstance(raw[key], bool):
                raise ConfigError(f"[limits] {key} must be a number")
            values[key] = float(raw[key])
    for key in _INTEGERS:
        if key in raw:
            if not isinstance(raw[key], int) or isinstance(raw[key], bool):
                raise ConfigError(f"[limits] {key} must be an integer")
            values[key] = raw[key]
    if "trust_forwarded" in raw:
        if not isinstance(raw["trust_forwarded"], bool):
            raise ConfigError("[limits] trust_forwarded must be true or false")
        values["trust_forwarded"] = raw["trust_forwarded"]
    for key in ("routes", "extra_routes"):
        if key in raw:
            items = raw[key]
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise ConfigError(f"[limits] {key} must be a list of 'METHOD /path' strings")
            values[key] = tuple(items)
    return LimitsConfig(**values)


async def purge_forever(
    store: Store,
    limits: LimitsConfig,
    *,
    now: Callable[[], datetime] = utcnow,
) -> None:
    """Delete expired nonces, offers, claim sessions and exchanges every ``purge_interval``
    seconds, starting at once; a failed purge is logged and retried at the next tick."""
    grace = timedelta(seconds=limits.purge_grace)
    while True:
        try:
            removed = await store.purge_expired(now(), grace=grace)
        except asyncio.CancelledError:
            raise
        except Exception:  # the store may be briefly unavailable; try again next time
            log.exception("purging expired rows failed", extra={"event": "store.purge_failed"})
        else:
            if removed:
                log.info(
                    "purged %d expired rows",
                    removed,
                    extra={"event": "store.purged", "fields": {"rows": removed}},
                )
        await asyncio.sleep(limits.purge_interval)


__all__ = [
    "DEFAULT_LIMITED_ROUTES",
    "VERIFY_ROUTES",
    "LimitsConfig",
    "limits_from_toml",
    "purge_forever",
]
