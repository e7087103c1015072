"""RFC 9457 problem details: the one shape of every error the server answers with.

Errors raised by the library already carry a stable ``code`` and an HTTP status; aiohttp's own
errors (404, 405, 413, ...) are translated here so that no route ever answers with HTML or a
traceback.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from vc_issuer.errors import (
    AuthenticationError,
    HeadersTooLargeError,
    HTTPProtocolError,
    InputTooLargeError,
    InternalError,
    LengthRequiredError,
    MalformedInputError,
    MethodNotAllowedError,
    NotAcceptableError,
    NotFoundError,
    PermissionDeniedError,
    RequestTimeoutError,
    ServiceUnavailableError,
    UnsupportedMediaTypeError,
    URITooLongError,
    VCIssuerError,
    type_url,
)

PROBLEM_JSON = "application/problem+json"
INTERNAL_ERROR = InternalError.code

# The error class of each HTTP-level status that has no library raise site (routing, limits).
_HTTP_ERRORS: dict[int, type[VCIssuerError]] = {
    cls.http_status: cls
    for cls in (
        MalformedInputError,
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        MethodNotAllowedError,
        NotAcceptableError,
        RequestTimeoutError,
        LengthRequiredError,
        InputTooLargeError,
        URITooLongError,
        UnsupportedMediaTypeError,
        HeadersTooLargeError,
        InternalError,
        ServiceUnavailableError,
    )
}


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    """A problem object with the project's ``type`` URL convention."""
    body: dict[str, Any] = {
        "type": type_url(code),
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    body.update(extra)
    return body


def http_problem(status: int, detail: str | None = None) -> dict[str, Any]:
    """The problem for a bare HTTP status (routing errors, limits)."""
    cls = _HTTP_ERRORS.get(status, HTTPProtocolError)
    return problem(status, cls.code, cls.title, detail or cls.title)


def json_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON; text that is not Unicode (a lone surrogate echoed from input) is
    written as a ``\\uXXXX`` escape instead of failing the response."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, separators=(",", ":")).encode("ascii")


def json_response(
    value: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A JSON (``application/json``) response, compact and UTF-8."""
    return web.Response(
        status=status, body=json_bytes(value), content_type="application/json", headers=headers
    )


def problem_response(
    body: Mapping[str, Any], *, headers: Mapping[str, str] | None = None
) -> web.Response:
    status = body.get("status")
    if not isinstance(status, int) or not 400 <= status <= 599:
        status = 500
    out = dict(headers or {})
    if status == 401:
        out.setdefault("WWW-Authenticate", 'Bearer realm="vc-issuer"')
    return web.Response(
        status=status, body=json_bytes(dict(body)), content_type=PROBLEM_JSON, headers=out
    )


def error_response(exc: VCIssuerError) -> web.Response:
    """The response for a library error: its own status, code and detail (and a
    ``Retry-After`` header when the error says when to retry, as SERVER_BUSY does)."""
    retry = exc.extra.get("retryAfter")
    headers = {"Retry-After": str(retry)} if isinstance(retry, int) else None
    return problem_response(exc.to_problem(), headers=headers)


__all__ = [
    "INTERNAL_ERROR",
    "PROBLEM_JSON",
    "error_response",
    "http_problem",
    "json_bytes",
    "json_response",
    "problem",
    "problem_response",
]
