"""Middlewares and the access log: limits first, then problem details for every failure.

Order (outermost first): request id -> errors -> body cap. The error middleware is the only place
that turns exceptions into responses, so a handler can raise any ``VCIssuerError`` and a bug
becomes a logged 500 problem, never a traceback on the wire.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Handler

from vc_issuer.core.jsonparse import DocumentLimits, parse_json_object
from vc_issuer.errors import (
    InputTooLargeError,
    MalformedInputError,
    VCIssuerError,
)
from vc_issuer.http.problems import (
    PROBLEM_JSON,
    error_response,
    http_problem,
    problem_response,
)

log = logging.getLogger("vc_issuer.http")
access_log = logging.getLogger("vc_issuer.http.access")

DEFAULT_MAX_BODY = 1 << 20
DEFAULT_MAX_DEPTH = 64

MAX_BODY_KEY = web.AppKey("max_body", int)
MAX_DEPTH_KEY = web.AppKey("max_depth", int)
REQUEST_ID_KEY = web.RequestKey("request_id", str)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Echo a sane ``X-Request-Id`` (or make one) so logs and clients can correlate."""
    given = request.headers.get("X-Request-Id", "")
    rid = given if _REQUEST_ID.match(given) else secrets.token_hex(8)
    request[REQUEST_ID_KEY] = rid
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers["X-Request-Id"] = rid
        raise
    response.headers["X-Request-Id"] = rid
    return response


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error becomes ``application/problem+json`` with a stable code."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # 304 and redirects pass through
        if exc.content_type == PROBLEM_JSON:
            return _from_http_exception(exc)
        detail = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else None
        if exc.status == 405:
            allowed = sorted(getattr(exc, "allowed_methods", ()) or ())
            detail = f"{request.method} is not allowed on {request.path}" + (
                f"; allowed: {', '.join(allowed)}" if allowed else ""
            )
            resp = problem_response(http_problem(405, detail))
            if allowed:
                resp.headers["Allow"] = ",".join(allowed)
            return resp
        if exc.status == 404:
            detail = f"no route for {request.method} {request.path}"
        elif exc.status == 413:
            limit = request.app.get(MAX_BODY_KEY, DEFAULT_MAX_BODY)
            return error_response(
                InputTooLargeError(f"the request body exceeds {limit} bytes", limit=limit)
            )
        return problem_response(http_problem(exc.status, detail))
    except VCIssuerError as exc:
        if exc.http_status >= 500:
            log.warning("request failed: %s: %s", exc.code, exc.detail)
        return error_response(exc)
    except (asyncio.CancelledError, KeyboardInterrupt):
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, redact_path(request.path))
        return problem_response(
            http_problem(500, "the server could not complete the request; see its log")
        )


def _from_http_exception(exc: web.HTTPException) -> web.Response:
    resp = web.Response(
        status=exc.status, body=exc.body, content_type=PROBLEM_JSON, headers=exc.headers
    )
    return resp


@web.middleware
async def body_cap_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse an announced oversized body before reading it (aiohttp caps chunked bodies)."""
    limit = request.app.get(MAX_BODY_KEY, DEFAULT_MAX_BODY)
    length = request.content_length
    if length is not None and length > limit:
        raise InputTooLargeError(
            f"the request body is {length} bytes; the limit is {limit}", limit=limit
        )
    return await handler(request)


def json_depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value (iterative: no recursion on hostile input)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in item)
    return deepest


def required_string(body: Mapping[str, Any], name: str, *, label: str | None = None) -> str:
    """``body[name]`` when it is a non-empty string, else a MALFORMED_INPUT naming the field
    (``label`` names it in the message when the member is nested, e.g. ``options.domain``)."""
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise MalformedInputError(f"{label or name} must be a non-empty string", field=name)
    return value


def optional_string(body: Mapping[str, Any], name: str, *, label: str | None = None) -> str | None:
    """``body[name]``, None when absent or null; anything else must be a non-empty string."""
    return None if body.get(name) is None else required_string(body, name, label=label)


def request_limits(request: web.Request) -> DocumentLimits:
    """The JSON limits of this app: its body cap and depth, the parser's other defaults."""
    return DocumentLimits(
        max_bytes=request.app.get(MAX_BODY_KEY, DEFAULT_MAX_BODY),
        max_depth=request.app.get(MAX_DEPTH_KEY, DEFAULT_MAX_DEPTH),
    )


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, through the strict parser within the app's caps (an
    oversized body raises aiohttp's 413, which ``error_middleware`` answers as INPUT_TOO_LARGE)."""
    raw = await request.read()
    if not raw.strip():
        raise MalformedInputError("the request body is empty; send a JSON object")
    return parse_json_object(raw, request_limits(request), what="the request body")


# URLs that are bearer capabilities: whoever reads the path holds the secret. The learner's claim
# link, a VC API exchange (and its interaction and QR code URLs) and an OpenID4VCI offer (which
# answers its pre-authorized code while pending). Logs keep a short hash of the segment instead;
# for claim tokens it is the first characters of the hash the store keeps, so an operator can
# still match a log line to its claim.
_SECRET_SEGMENT = re.compile(r"(/claim/|/exchanges/|/interactions/|/oid4vci/offers/)([^/]+)")
# Query parameters whose values are never secret and are worth reading in a log; every other
# value (``?claim=``, ``?code=``, ``?token=``, anything new) is logged as a hash.
_PLAIN_QUERY_PARAMS = frozenset({"all", "iuv", "version"})
_QUERY_PAIR = re.compile(r"([^&=]*)=([^&]*)")
HASH_MARK = "sha256:"


def secret_hash(value: str) -> str:
    """What a log shows of a secret: ``sha256:`` and the first 12 hex digits of its hash."""
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return HASH_MARK + digest[:12]


def redact_path(path: str) -> str:
    """``path`` with its bearer-secret segment replaced by :func:`secret_hash`."""
    m = _SECRET_SEGMENT.match(path)
    if m is None:
        return path
    return m.group(1) + secret_hash(m.group(2)) + path[m.end() :]


def _redact_pair(m: re.Match[str]) -> str:
    name, value = m.group(1), m.group(2)
    if not value or unquote_plus(name).lower() in _PLAIN_QUERY_PARAMS:
        return m.group(0)
    return f"{name}={secret_hash(unquote_plus(value))}"


def redact_query(query: str) -> str:
    """A raw query string with every value hashed except those of known harmless parameters."""
    return _QUERY_PAIR.sub(_redact_pair, query)


class JsonAccessLogger(AbstractAccessLogger):
    """One JSON object per request: method, path, status, duration, size, request id, pid.

    Bearer secrets in the URL (claim tokens, exchange and offer ids, query values) are logged
    as short hashes: access logs are read by more people, and kept longer, than the store.
    """

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        record: dict[str, Any] = {
            "event": "http.request",
            "method": request.method,
            "path": redact_path(request.path),
            "status": response.status,
            "duration_ms": round(time * 1000, 3),
            "bytes": response.body_length,
            "remote": request.remote,
            "request_id": response.headers.get("X-Request-Id"),
            "user_agent": request.headers.get("User-Agent"),
            "pid": os.getpid(),
        }
        query = request.query_string
        if query:
            record["query"] = redact_query(query)
        self.logger.info(json.dumps(record, separators=(",", ":")))

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


__all__ = [
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_DEPTH",
    "MAX_BODY_KEY",
    "MAX_DEPTH_KEY",
    "REQUEST_ID_KEY",
    "JsonAccessLogger",
    "access_log",
    "body_cap_middleware",
    "error_middleware",
    "json_depth",
    "optional_string",
    "read_json_object",
    "redact_path",
    "redact_query",
    "request_id_middleware",
    "request_limits",
    "required_string",
    "secret_hash",
]


# Routes that browser-based wallets and verifiers call from other origins. Only public routes
# (and the OpenID4VCI credential endpoint, whose bearer token is not an ambient credential) get
# CORS; the issuer's own protected routes stay same-origin, including those that share a prefix
# with public ones (``GET /exchanges/{id}`` needs a ``read`` token while ``POST`` is the wallet's).
_CORS_PREFIXES: tuple[str, ...] = (
    "/.well-known/",
    "/oid4vci/offers/",
    "/exchanges/",
    "/interactions/",
    "/status-lists/",
    "/credentials/verify",
    "/presentations/verify",
    "/1.0/identifiers/",
    "/images/",
)
_CORS_EXACT: frozenset[str] = frozenset({"/token", "/nonce", "/credential"})
CORS_ALLOW_HEADERS = "Authorization, Content-Type, Accept, X-Request-Id"
CORS_MAX_AGE = "600"


def cors_applies(path: str, handler: object = None) -> bool:
    """Whether ``path`` is a cross-origin route (wallets, verifiers, status and DID fetches).

    ``handler`` is the route's handler when known: one guarded by an API-token scope
    (:func:`vc_issuer.http.auth.requires`) never gets CORS, whatever its path.
    """
    if getattr(handler, "required_scope", None) is not None:
        return False
    if path in _CORS_EXACT:
        return True
    return path.startswith(_CORS_PREFIXES)


async def _preflight_target(request: web.Request, method: str) -> object | None:
    """The handler a preflight asks about (the route of ``method`` on the same path); None when
    there is no such route."""
    match = await request.app.router.resolve(request.clone(method=method))
    if match.http_exception is not None:
        return None
    return match.handler


@web.middleware
async def cors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer preflights and add ``Access-Control-Allow-Origin: *`` on cross-origin routes.

    No cookies are ever used, so a wildcard origin grants nothing a script could not already do
    with the same request from a server.
    """
    if not cors_applies(request.path):
        return await handler(request)
    preflight = request.headers.get("Access-Control-Request-Method")
    if request.method == "OPTIONS" and preflight is not None:
        target = await _preflight_target(request, preflight.upper())
        if target is None or not cors_applies(request.path, target):
            return await handler(request)
        return web.Response(
            status=204,
            headers={
                "Access-Control-Allow-Origin": "*",
                "Access-Control-Allow-Methods": "GET, POST, HEAD, OPTIONS",
                "Access-Control-Allow-Headers": CORS_ALLOW_HEADERS,
                "Access-Control-Max-Age": CORS_MAX_AGE,
            },
        )
    if not cors_applies(request.path, request.match_info.handler):
        return await handler(request)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers["Access-Control-Allow-Origin"] = "*"
        raise
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = (
        "ETag, Location, WWW-Authenticate, X-Request-Id"
    )
    return response
