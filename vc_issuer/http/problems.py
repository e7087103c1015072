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

from vc_issuer.errors import PROBLEM_BASE, VCIssuerError

PROBLEM_JSON = "application/problem+json"
INTERNAL_ERROR = "INTERNAL_ERROR"

# Codes for the HTTP-level errors that have no library class.
_HTTP_CODES: dict[int, tuple[str, str]] = {
    400: ("MALFORMED_VALUE_ERROR", "Bad request"),
    401: ("UNAUTHORIZED", "Authentication required"),
    403: ("FORBIDDEN", "Insufficient scope"),
    404: ("NOT_FOUND", "Not found"),
    405: ("METHOD_NOT_ALLOWED", "Method not allowed"),
    406: ("NOT_ACCEPTABLE", "Not acceptable"),
    408: ("REQUEST_TIMEOUT", "Request timeout"),
    411: ("LENGTH_REQUIRED", "Length required"),
    413: ("INPUT_TOO_LARGE", "Input exceeds the size limit"),
    414: ("URI_TOO_LONG", "URI too long"),
    415: ("UNSUPPORTED_MEDIA_TYPE", "Unsupported media type"),
    431: ("HEADERS_TOO_LARGE", "Request header fields too large"),
    500: (INTERNAL_ERROR, "Internal server error"),
    503: ("SERVICE_UNAVAILABLE", "Service unavailable"),
}


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    """A problem object with the project's ``type`` URL convention."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    body.update(extra)
    return body


def http_problem(status: int, detail: str | None = None) -> dict[str, Any]:
    """The problem for a bare HTTP status (routing errors, limits)."""
    code, title = _HTTP_CODES.get(status, (f"HTTP_{status}", "HTTP error"))
    return problem(status, code, title, detail or title)


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


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
    """The response for a library error: its own status, code and detail."""
    return problem_response(exc.to_problem())


__all__ = [
    "INTERNAL_ERROR",
    "PROBLEM_JSON",
    "error_response",
    "http_problem",
    "json_bytes",
    "problem",
    "problem_response",
]
