"""Bearer tokens with scopes; only their SHA-256 is stored.

Tokens are 256-bit random strings, so a plain SHA-256 (no salt, no slow hash) is enough: the
hash cannot be reversed, and a store leak gives no usable token. No token, an unknown, revoked
or expired one -> 401; a valid token without the route's scope -> 403. ``admin`` holds every
scope.
"""

from __future__ import annotations

import functools
import hmac
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import web

from vc_issuer.errors import (
    AuthenticationError,
    MalformedInputError,
    PermissionDeniedError,
    TokenInactiveError,
    UnknownScopeError,
)
from vc_issuer.services.tokens import hash_secret as hash_token
from vc_issuer.services.tokens import parse_duration
from vc_issuer.store import Store, TokenRecord

SCOPES: tuple[str, ...] = ("issue", "status", "read", "admin")
TOKEN_PREFIX = "vci_"

_BEARER = re.compile(r"^Bearer[ \t]+([A-Za-z0-9._~+/\-]+=*)[ \t]*$", re.IGNORECASE)


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def parse_scopes(values: Iterable[str]) -> list[str]:
    """Scopes from ``--scope`` values (repeatable, or comma separated), validated and deduped."""
    out: list[str] = []
    for value in values:
        for part in value.split(","):
            scope = part.strip()
            if not scope:
                continue
            if scope not in SCOPES:
                raise UnknownScopeError(f"unknown scope {scope!r}; use one of {', '.join(SCOPES)}")
            if scope not in out:
                out.append(scope)
    if not out:
        raise MalformedInputError(f"give at least one scope ({', '.join(SCOPES)})")
    return out


def parse_expiry(value: str | None, now: datetime | None = None) -> datetime | None:
    """``30d``, ``12h``, ``90m``, ``2w`` or an ISO 8601 date-time with a zone; None = never."""
    if value is None or value in ("", "never"):
        return None
    now = now or datetime.now(UTC)
    life = parse_duration(value)
    if life is not None:
        if not life:
            raise MalformedInputError("--expires must be in the future")
        return now + life
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedInputError(
            f"--expires takes a duration (30d, 12h) or an ISO 8601 date-time, got {value!r}"
        ) from None
    if moment.tzinfo is None:
        raise MalformedInputError("--expires date-time needs a time zone (e.g. Z)")
    if moment <= now:
        raise MalformedInputError("--expires must be in the future")
    return moment


async def create_token(
    store: Store, name: str, scopes: Sequence[str], expires_at: datetime | None = None
) -> tuple[str, TokenRecord]:
    """Make a token, store its hash; the clear token is returned once and never stored."""
    scopes = parse_scopes(scopes)
    token = generate_token()
    record = await store.create_token(hash_token(token), name, scopes, expires_at)
    return token, record


@dataclass(frozen=True)
class Principal:
    """Who called: a token (by id and name), or the local operator with auth disabled."""

    token_id: str | None
    name: str
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def actor(self) -> str:
        """The audit-log actor for status changes."""
        return f"token:{self.token_id}:{self.name}" if self.token_id else self.name

    def has(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes


ANONYMOUS_ADMIN = Principal(None, "no-auth", frozenset(SCOPES))


class Authenticator:
    """Looks bearer tokens up by hash; with ``enabled=False`` every caller is admin."""

    def __init__(self, store: Store | None, *, enabled: bool = True) -> None:
        if enabled and store is None:
            raise ValueError("authentication needs a store")
        self.store = store
        self.enabled = enabled

    async def authenticate(self, request: web.Request) -> Principal:
        if not self.enabled:
            return ANONYMOUS_ADMIN
        header = request.headers.get("Authorization")
        if header is None:
            raise AuthenticationError("this route needs a bearer token (Authorization: Bearer ...)")
        m = _BEARER.match(header)
        if m is None:
            raise AuthenticationError("the Authorization header is not a bearer token")
        assert self.store is not None
        digest = hash_token(m.group(1))
        record = await self.store.get_token_by_hash(digest)
        if record is None or not hmac.compare_digest(record.token_hash, digest):
            raise AuthenticationError("unknown token")
        if not record.is_active():
            why = "revoked" if record.revoked_at is not None else "expired"
            raise TokenInactiveError(f"the token is {why}")
        return Principal(record.id, record.name, frozenset(record.scopes))

    async def require(self, request: web.Request, scope: str) -> Principal:
        principal = await self.authenticate(request)
        if not principal.has(scope):
            raise PermissionDeniedError(
                f"this route needs the {scope!r} scope; the token has"
                f" {', '.join(sorted(principal.scopes)) or 'none'}",
                required_scope=scope,
            )
        request[PRINCIPAL_KEY] = principal
        return principal


AUTH_KEY = web.AppKey("authenticator", Authenticator)
PRINCIPAL_KEY = web.RequestKey("principal", Principal)

RouteHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def requires(scope: str) -> Callable[[RouteHandler], RouteHandler]:
    """Route decorator: authenticate and check ``scope`` before the handler runs."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")

    def wrap(handler: RouteHandler) -> RouteHandler:
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            await request.app[AUTH_KEY].require(request, scope)
            return await handler(request)

        guarded.__dict__["required_scope"] = scope
        return guarded

    return wrap


__all__ = [
    "ANONYMOUS_ADMIN",
    "AUTH_KEY",
    "PRINCIPAL_KEY",
    "SCOPES",
    "TOKEN_PREFIX",
    "Authenticator",
    "Principal",
    "create_token",
    "generate_token",
    "hash_token",
    "parse_expiry",
    "parse_scopes",
    "requires",
]
