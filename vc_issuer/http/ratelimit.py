"""Guards in front of the routes: request text hygiene, per-client rate limits on anonymous
routes, and the periodic purge of expired rows.

:func:`hygiene_middleware` is one of the app's default middlewares; :func:`install_limits` adds
the rate limiter and the purge task (``vc-issuer serve`` does). The rate limiter is an in-memory
token bucket per client address (an LRU of at most ``max_clients`` buckets, so memory stays
bounded whatever the number of addresses); each worker process keeps its own, so with
``--workers N`` a client gets up to N times the rate. A request carrying a valid API token is
never counted against the anonymous bucket.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler

from vc_issuer.core.jsonparse import bad_text
from vc_issuer.errors import (
    RateLimitedError,
    RequestTextInvalidError,
    URITooLongError,
    VCIssuerError,
)
from vc_issuer.http.auth import AUTH_KEY
from vc_issuer.http.problems import error_response
from vc_issuer.http.state import STATE_KEY
from vc_issuer.services.limits import LimitsConfig, purge_forever

MAX_PATH_CHARS: Final = 2048
MAX_QUERY_CHARS: Final = 4096
MAX_QUERY_FIELDS: Final = 64


class TokenBuckets:
    """One token bucket per client key, the least recently seen forgotten beyond ``max_clients``.

    ``take(key)`` spends one token and answers 0, or answers how many seconds until a token is
    available (nothing spent). A forgotten client starts again with a full bucket, so the LRU
    trades a little precision under address floods for a fixed memory ceiling.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        max_clients: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str) -> float:
        now = self.clock()
        tokens, last = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait


RATE_LIMITER_KEY: Final = web.AppKey("vc_issuer_rate_limiter", TokenBuckets)
LIMITS_KEY: Final = web.AppKey("vc_issuer_limits", LimitsConfig)


def client_key(request: web.Request, limits: LimitsConfig) -> str:
    """The client's address: the connection's peer, or with ``trust_forwarded`` the last
    ``X-Forwarded-For`` entry (the one our own proxy appended; earlier ones are the client's
    word and are ignored)."""
    if limits.trust_forwarded:
        forwarded = request.headers.get("X-Forwarded-For", "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last[:64]
    return request.remote or "unknown"


async def _has_valid_token(request: web.Request) -> bool:
    if "Authorization" not in request.headers:
        return False
    try:
        await request.app[AUTH_KEY].authenticate(request)
    except VCIssuerError:
        return False
    return True


@web.middleware
async def rate_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """429 ``RATE_LIMITED`` with ``Retry-After`` once a client's bucket is empty."""
    limits = request.app[LIMITS_KEY]
    if limits.rate <= 0 or not limits.covers(request.method, request.path):
        return await handler(request)
    if await _has_valid_token(request):
        return await handler(request)
    wait = request.app[RATE_LIMITER_KEY].take(client_key(request, limits))
    if wait <= 0:
        return await handler(request)
    retry = max(1, math.ceil(wait))
    exc = RateLimitedError(
        f"too many requests from this client; the limit is {limits.rate:g} per second"
        f" (burst {limits.burst}); retry after {retry} s",
        retryAfter=retry,
    )
    response = error_response(exc)
    response.headers["Retry-After"] = str(retry)
    return response


@web.middleware
async def hygiene_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a path, query or header holding NUL or a lone surrogate (REQUEST_TEXT_INVALID),
    and absurdly long paths or queries (URI_TOO_LONG), before any route sees them."""
    if len(request.path) > MAX_PATH_CHARS or len(request.query_string) > MAX_QUERY_CHARS:
        raise URITooLongError(
            f"the path is limited to {MAX_PATH_CHARS} characters and the query to {MAX_QUERY_CHARS}"
        )
    if len(request.query) > MAX_QUERY_FIELDS:
        raise URITooLongError(f"the query is limited to {MAX_QUERY_FIELDS} fields")
    query, headers = request.query, request.headers
    # One scan of all the request's text (this runs on every request); where only on a hit.
    if bad_text("".join((request.path, *query.keys(), *query.values(), *headers.keys(),
                         *headers.values()))) is not None:  # fmt: skip
        checks = [("the path", request.path)]
        checks.extend(("a query parameter", k + v) for k, v in query.items())
        checks.extend(("a header", k + v) for k, v in headers.items())
        for where, text in checks:
            why = bad_text(text)
            if why is not None:
                raise RequestTextInvalidError(f"{where} holds {why}")
    return await handler(request)


def install_limits(app: web.Application, limits: LimitsConfig) -> None:
    """The rate limiter (innermost middleware), the c_nonce lifetime and the purge task
    (started with the app, first run at once). ``vc-issuer serve`` installs them; the request
    text hygiene is one of the default middlewares (app.py)."""
    app[LIMITS_KEY] = limits
    app[RATE_LIMITER_KEY] = TokenBuckets(limits.rate or 1.0, limits.burst, limits.max_clients)
    app.middlewares.append(rate_limit_middleware)
    oid4vci = app[STATE_KEY].oid4vci
    oid4vci.config = replace(oid4vci.config, nonce_ttl=timedelta(seconds=limits.nonce_ttl))
    if limits.purge_interval > 0:
        app.cleanup_ctx.append(_purge_context)


async def _purge_context(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(purge_forever(app[STATE_KEY].issuer.store, app[LIMITS_KEY]))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


__all__ = [
    "LIMITS_KEY",
    "RATE_LIMITER_KEY",
    "TokenBuckets",
    "client_key",
    "hygiene_middleware",
    "install_limits",
    "rate_limit_middleware",
]
