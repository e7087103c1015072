"""HTTP routes of VC API exchanges (the Learner Credential Wallet's claim flow).

``POST /exchanges`` (scope ``issue``) opens one; ``GET /exchanges/{id}`` (scope ``read``) shows
its state. The wallet side is public, the unguessable exchange id being the capability:
``GET /interactions/{id}?iuv=1``, ``POST /exchanges/{id}``, ``GET /exchanges/{id}/qr.svg``.
"""

from __future__ import annotations

import html
from typing import Any

from aiohttp import web

from vc_issuer.core.credentials import format_datetime
from vc_issuer.errors import MalformedInputError
from vc_issuer.http.auth import requires
from vc_issuer.http.middlewares import read_json_object
from vc_issuer.http.openapi import AUTH_ERRORS as _AUTH
from vc_issuer.http.openapi import json_body, json_spec, path_param, strings
from vc_issuer.http.openapi import problem_spec as _problem
from vc_issuer.http.problems import json_response
from vc_issuer.http.routes import Route
from vc_issuer.http.state import ServiceState, state_of
from vc_issuer.store import ExchangeRecord
from vc_issuer.wallets.exchanges import ExchangeService, parse_ttl, qr_svg

JSON = "application/json"
SVG = "image/svg+xml"


def service_of(request: web.Request) -> ExchangeService:
    return state_of(request).exchanges


def _summary(service: ExchangeService, record: ExchangeRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        **service.links(record).to_dict(),
        "state": record.state,
        "protocol": record.kind,
        "created": format_datetime(record.created_at),
    }
    if record.credential_id is not None:
        out["credentialId"] = record.credential_id
    if record.result is not None:
        out["result"] = record.result
    return out


@requires("issue")
async def create_exchange(request: web.Request) -> web.Response:
    """POST /exchanges {credentialId | credential, ttl?} -> 201 links, deep link and QR."""
    service = service_of(request)
    body = await read_json_object(request)
    credential_id = body.get("credentialId")
    template = body.get("credential")
    if credential_id is not None and not isinstance(credential_id, str):
        raise MalformedInputError("credentialId must be a string", field="credentialId")
    ttl_value = body.get("ttl")
    if ttl_value is not None and not isinstance(ttl_value, str):
        raise MalformedInputError("ttl must be a duration string such as 15m", field="ttl")
    record, links = await service.create(
        credential_id=credential_id,
        template=template,
        ttl=parse_ttl(ttl_value) if ttl_value is not None else None,
    )
    out = _summary(service, record)
    out["qrSvg"] = qr_svg(links.interaction_url)
    resp = json_response(out, 201)
    resp.headers["Location"] = links.exchange_url
    return resp


@requires("read")
async def get_exchange(request: web.Request) -> web.Response:
    """GET /exchanges/{id}: state and result, for the issuer."""
    service = service_of(request)
    record = await service.get(request.match_info["id"])
    return json_response(_summary(service, record))


def _wants_html(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "text/html" in accept and JSON not in accept


async def interaction(request: web.Request) -> web.Response:
    """GET /interactions/{id}?iuv=1: protocols (JSON) for wallets, a QR page for people."""
    service = service_of(request)
    exchange_id = request.match_info["id"]
    if not _wants_html(request):
        return json_response(await service.protocols(exchange_id))
    record = await service.open_exchange(exchange_id)
    links = service.links(record)
    page = _PAGE.format(
        qr=qr_svg(links.interaction_url, scale=6),
        deep_link=html.escape(links.deep_link, quote=True),
        interaction=html.escape(links.interaction_url, quote=True),
        expires=html.escape(links.to_dict()["expires"]),
    )
    return web.Response(text=page, content_type="text/html", charset="utf-8")


async def participate(request: web.Request) -> web.Response:
    """POST /exchanges/{id}: ``{}`` -> presentation request; DIDAuth VP -> the credential."""
    service = service_of(request)
    raw = await request.read()
    body = {} if not raw.strip() else await read_json_object(request)
    return json_response(await service.participate(request.match_info["id"], body))


async def qr_code(request: web.Request) -> web.Response:
    """GET /exchanges/{id}/qr.svg: the interaction URL as an SVG QR code."""
    service = service_of(request)
    record = await service.get(request.match_info["id"])
    svg = qr_svg(service.links(record).interaction_url)
    return web.Response(
        text=svg, content_type=SVG, charset="utf-8", headers={"Cache-Control": "no-store"}
    )


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Claim your credential</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 32rem; margin: 2rem auto;">
<h1>Claim your credential</h1>
<p>Scan this code with the Learner Credential Wallet, or open the link on your phone.</p>
<div style="max-width: 20rem">{qr}</div>
<p><a href="{deep_link}">Open in Learner Credential Wallet</a></p>
<p><small>Wallet interaction URL: <code>{interaction}</code><br>
This link works once and expires at {expires}.</small></p>
</body></html>
"""


_ID = path_param("id", "The unguessable exchange id (256 random bits)")
_LINKS = {
    "type": "object",
    "required": [
        "exchangeId", "exchangeUrl", "interactionUrl", "deepLink", "qrSvgUrl", "expires", "state",
    ],
    "properties": {
        **strings(
            "exchangeId", "exchangeUrl", "qrSvgUrl", "expires", "created", "protocol",
            "credentialId",
        ),
        "interactionUrl": {"type": "string", "description": "For wallets: ...?iuv=1"},
        "deepLink": {"type": "string", "description": "Learner Credential Wallet deep link"},
        "qrSvg": {"type": "string", "description": "The interaction URL as an SVG QR code"},
        "state": {"type": "string", "enum": ["pending", "active", "complete", "expired", "failed"]},
        "result": {"type": "object"},
    },
}  # fmt: skip
_GONE = {
    "404": _problem("No such exchange"),
    "409": _problem("EXCHANGE_ALREADY_USED: the credential was already claimed"),
    "410": _problem("EXCHANGE_EXPIRED"),
}

_EXCHANGE_IN = {
    "type": "object",
    "properties": {
        "credentialId": {"type": "string"},
        "credential": {"type": "object"},
        "ttl": {"type": "string", "description": "15m, 2h, 3d"},
    },
}


def routes(services: ServiceState) -> list[Route]:
    """The routes of this module, with their OpenAPI operations."""
    too_large = _problem("Request body too large")
    return [
        Route(
            "POST",
            "/exchanges",
            create_exchange,
            {
                "operationId": "createExchange",
                "summary": "Open a VC API exchange for a stored award or a credential template",
                "security": [{"bearer": ["issue"]}],
                "requestBody": json_body(_EXCHANGE_IN),
                "responses": {
                    "201": json_spec("The exchange and its links", _LINKS),
                    "400": _problem("Malformed request"),
                    **_AUTH,
                    "404": _problem("No such credential"),
                    "413": too_large,
                },
            },
        ),
        Route(
            "GET",
            "/exchanges/{id}",
            get_exchange,
            {
                "operationId": "getExchange",
                "summary": "State and result of an exchange (for the issuer)",
                "security": [{"bearer": ["read"]}],
                "parameters": [_ID],
                "responses": {
                    "200": json_spec("The exchange", _LINKS),
                    **_AUTH,
                    "404": _problem("No such exchange"),
                },
            },
        ),
        Route(
            "POST",
            "/exchanges/{id}",
            participate,
            {
                "operationId": "participateInExchange",
                "summary": "Wallet step: {} -> presentation request; DIDAuth VP -> credential",
                "security": [],
                "parameters": [_ID],
                "requestBody": json_body(
                    {
                        "type": "object",
                        "properties": {"verifiablePresentation": {"type": "object"}},
                    },
                    required=False,
                ),
                "responses": {
                    "200": json_spec(
                        "A verifiablePresentationRequest, or a verifiablePresentation holding"
                        " the credential bound to the holder"
                    ),
                    "400": _problem("Malformed request or presentation"),
                    **_GONE,
                    "413": too_large,
                    "422": _problem("Presentation did not verify (INVALID_CHALLENGE_ERROR, ...)"),
                },
            },
        ),
        Route(
            "GET",
            "/exchanges/{id}/qr.svg",
            qr_code,
            {
                "operationId": "exchangeQrCode",
                "summary": "The interaction URL as an SVG QR code",
                "security": [],
                "parameters": [_ID],
                "responses": {
                    "200": {
                        "description": "SVG",
                        "content": {SVG: {"schema": {"type": "string"}}},
                    },
                    "404": _problem("No such exchange"),
                },
            },
        ),
        Route(
            "GET",
            "/interactions/{id}",
            interaction,
            {
                "operationId": "exchangeInteraction",
                "summary": "Wallet protocols for an exchange (JSON), or a QR page (HTML)",
                "security": [],
                "parameters": [
                    _ID,
                    {"name": "iuv", "in": "query", "required": False, "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {
                        "description": "{protocols: {vcapi, iu, lcw}} or an HTML page",
                        "content": {
                            JSON: {"schema": {"type": "object", "required": ["protocols"]}},
                            "text/html": {"schema": {"type": "string"}},
                        },
                    },
                    **_GONE,
                },
            },
        ),
    ]


__all__ = ["routes", "service_of"]
