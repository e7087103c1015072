"""HTTP routes of personal claim links.

``POST /claims`` (scope ``issue``) makes one for an award; ``DELETE /claims/{id}`` (scope
``issue``) withdraws it. ``GET /claim/{token}`` is the learner's page: public, the unguessable
token being the capability. Every visit opens a fresh single-use VC API exchange and OpenID4VCI
offer (``Accept: application/json`` gets the same links as JSON). An unknown token is a 404
page, an expired or revoked one a 410 page.
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from vc_issuer.badges.claims import ClaimService, claim_summary, parse_claim_ttl
from vc_issuer.errors import MalformedInputError, VCIssuerError
from vc_issuer.http.auth import requires
from vc_issuer.http.middlewares import read_json_object, required_string
from vc_issuer.http.openapi import AUTH_ERRORS as _AUTH
from vc_issuer.http.openapi import (
    FORMER_CLAIM_LINK,
    json_body,
    json_spec,
    object_of,
    path_param,
    strings,
)
from vc_issuer.http.openapi import problem_spec as _problem
from vc_issuer.http.pages import render
from vc_issuer.http.problems import json_response
from vc_issuer.http.routes import Route
from vc_issuer.http.state import ServiceState, state_of

JSON: Final = "application/json"
_NO_STORE: Final = {"Cache-Control": "no-store"}


def service_of(request: web.Request) -> ClaimService:
    return state_of(request).claims


def _json(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return json_response(value, status, {**_NO_STORE, **(headers or {})})


def _wants_json(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return JSON in accept and "text/html" not in accept


@requires("issue")
async def create_claim(request: web.Request) -> web.Response:
    """POST /claims {credentialId, expires?} -> 201 {id, claimLink, expires, credentialId}."""
    body = await read_json_object(request)
    credential_id = required_string(body, "credentialId")
    expires = body.get("expires")
    if expires is not None and not isinstance(expires, str):
        raise MalformedInputError("expires must be a duration such as 30d", field="expires")
    created = await service_of(request).create(
        credential_id, ttl=parse_claim_ttl(expires) if expires is not None else None
    )
    return _json(created.to_dict(), 201, {"Location": created.url})


@requires("issue")
async def revoke_claim(request: web.Request) -> web.Response:
    """DELETE /claims/{id}: withdraw a claim link (answers the stored claim)."""
    record = await service_of(request).revoke(request.match_info["id"])
    return _json(claim_summary(record))


_TITLES: Final = {404: "Claim link not found", 410: "Claim link no longer works"}


async def claim_page(request: web.Request) -> web.Response:
    """GET /claim/{token}: the learner's own page with fresh wallet links and QR codes."""
    service = service_of(request)
    token = request.match_info["token"]
    if _wants_json(request):
        links = await service.wallet_links(token)
        return _json(links.to_dict())
    try:
        links = await service.wallet_links(token)
    except VCIssuerError as exc:
        if exc.http_status not in _TITLES:
            raise
        resp = render(
            "error.html",
            status=exc.http_status,
            title=_TITLES[exc.http_status],
            message=exc.detail,
        )
        resp.headers.update(_NO_STORE)
        return resp
    record = await service.store.get_credential(links.claim.credential_id)
    page_id = record.page_id if record is not None else ""
    resp = render(
        "claim.html",
        title=f"Claim {links.badge_name}",
        wallet=links,
        page_url=f"/c/{page_id}",
        expires=links.claim.expires_at.strftime("%d %B %Y"),
    )
    resp.headers.update(_NO_STORE)
    return resp


# --- OpenAPI -------------------------------------------------------------------------------------


def _page_or_problem(description: str) -> dict[str, Any]:
    """Problem JSON for programs (Accept: application/json), an HTML page for everyone else."""
    out = _problem(description + " (an HTML page unless JSON is asked for)")
    out["content"]["text/html"] = {"schema": {"type": "string"}}
    return out


_CLAIM: Final = {
    "type": "object",
    "required": ["id", "credentialId", "expires"],
    "properties": {
        **strings("id", "credentialId"),
        "claimLink": {
            "type": "string",
            "description": "The learner's personal claim link (shown once; never share it)",
        },
        "claimUrl": FORMER_CLAIM_LINK,
        **strings("expires", "created", "revoked", "lastUsed"),
    },
}
_LINKS: Final = {
    "type": "object",
    "required": ["claimLink", "credentialId", "badgeName", "expires", "lcw", "oid4vci"],
    "properties": {
        **strings("claimId", "credentialId", "badgeName", "expires"),
        "claimLink": {"type": "string", "description": "This personal claim link"},
        "claimUrl": FORMER_CLAIM_LINK,
        "lcw": object_of(
            "A fresh single-use VC API exchange (Learner Credential Wallet)",
            strings("deepLink", "interactionUrl", "exchangeUrl", "qrSvgUrl", "expires"),
        ),
        "oid4vci": object_of(
            "A fresh OpenID4VCI pre-authorized offer (by reference)",
            {
                **strings("credentialOfferUri", "credentialOfferUrl", "txCode", "expires"),
                "txCodeRequired": {"type": "boolean"},
            },
        ),
    },
}

_CLAIM_IN: Final = {
    "type": "object",
    "required": ["credentialId"],
    "properties": {
        "credentialId": {"type": "string"},
        "expires": {"type": "string", "description": "Lifetime: 30d (default), 2w, 12h"},
    },
}


def routes(services: ServiceState) -> list[Route]:
    """The routes of this module, with their OpenAPI operations."""
    return [
        Route(
            "POST",
            "/claims",
            create_claim,
            {
                "operationId": "createClaim",
                "summary": "Make a personal claim link for an award (to send to the learner)",
                "security": [{"bearer": ["issue"]}],
                "requestBody": json_body(_CLAIM_IN),
                "responses": {
                    "201": json_spec("The claim link", _CLAIM),
                    "400": _problem("Malformed request"),
                    **_AUTH,
                    "404": _problem("No such credential"),
                    "413": _problem("Request body too large"),
                },
            },
        ),
        Route(
            "DELETE",
            "/claims/{id}",
            revoke_claim,
            {
                "operationId": "revokeClaim",
                "summary": "Withdraw a claim link",
                "security": [{"bearer": ["issue"]}],
                "parameters": [path_param("id")],
                "responses": {
                    "200": json_spec("The claim", _CLAIM),
                    **_AUTH,
                    "404": _problem("No such claim link"),
                },
            },
        ),
        Route(
            "GET",
            "/claim/{token}",
            claim_page,
            {
                "operationId": "claimPage",
                "summary": "The learner's claim page: fresh wallet links and QR codes",
                "security": [],
                "parameters": [path_param("token", "The claim token (256 random bits)")],
                "responses": {
                    "200": {
                        "description": "HTML page, or the links as JSON (Accept: application/json)",
                        "content": {
                            "text/html": {"schema": {"type": "string"}},
                            JSON: {"schema": _LINKS},
                        },
                    },
                    "404": _page_or_problem("No such claim link"),
                    "410": _page_or_problem(
                        "CLAIM_EXPIRED, CLAIM_REVOKED or CREDENTIAL_NOT_DELIVERABLE"
                    ),
                },
            },
        ),
    ]


__all__ = ["routes", "service_of"]
