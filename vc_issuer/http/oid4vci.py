"""OpenID4VCI routes: metadata, offers, /token, /nonce, /credential.

Errors of the OAuth-facing endpoints (``/token``, ``/nonce``, ``/credential``) use the specs' own
shape, ``{"error", "error_description"}`` as ``application/json`` (RFC 6749 5.2, OpenID4VCI 8.3.1),
not problem+json: wallets parse that shape. Everything else (offers API, size limits, routing)
answers problem+json like the rest of the service.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import parse_qsl

from aiohttp import web

from vc_issuer.errors import (
    CredentialNotDeliverableError,
    MalformedInputError,
    OAuthError,
)
from vc_issuer.http.auth import requires
from vc_issuer.http.middlewares import read_json_object, required_string
from vc_issuer.http.openapi import json_content, path_param, strings
from vc_issuer.http.openapi import problem_spec as _problem
from vc_issuer.http.problems import json_response
from vc_issuer.http.routes import Route
from vc_issuer.http.state import ServiceState, state_of
from vc_issuer.wallets.oid4vci import (
    AS_METADATA_PATH,
    CONFIGURATIONS,
    CREDENTIAL_PATH,
    ISSUER_METADATA_PATH,
    NONCE_PATH,
    OFFERS_PATH,
    TOKEN_PATH,
    OID4VCIService,
    oauth_error_body,
)

_NO_STORE: Final = {"Cache-Control": "no-store"}
_FORM: Final = "application/x-www-form-urlencoded"


def service_of(request: web.Request) -> OID4VCIService:
    return state_of(request).oid4vci


def oauth_error_response(exc: OAuthError, *, token_sent: bool = True) -> web.Response:
    headers = dict(_NO_STORE)
    if exc.http_status == 401:
        challenge = 'Bearer realm="vc-issuer"'
        if token_sent:
            challenge += f', error="{exc.code}"'
        headers["WWW-Authenticate"] = challenge
    return json_response(oauth_error_body(exc), exc.http_status, headers)


async def issuer_metadata(request: web.Request) -> web.Response:
    return json_response(service_of(request).issuer_metadata())


async def authorization_server_metadata(request: web.Request) -> web.Response:
    return json_response(service_of(request).authorization_server_metadata())


@requires("issue")
async def create_offer(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    credential_id = required_string(body, "credentialId")
    tx_code = body.get("txCode", False)
    if not isinstance(tx_code, bool):
        raise MalformedInputError("txCode must be true or false", field="txCode")
    try:
        created = await service_of(request).create_offer(credential_id, tx_code=tx_code)
    except OAuthError as exc:  # a revoked or suspended award: say so in the service's own shape
        raise CredentialNotDeliverableError(exc.detail) from None
    return json_response(created.to_dict(), 201, {**_NO_STORE, "Location": created.offer_url})


async def get_offer(request: web.Request) -> web.Response:
    try:
        offer = await service_of(request).get_offer(request.match_info["id"])
    except OAuthError as exc:  # the award was revoked or suspended after the offer was made
        raise CredentialNotDeliverableError(exc.detail) from None
    return json_response(offer, headers=_NO_STORE)


async def token(request: web.Request) -> web.Response:
    try:
        form = await _read_form(request)
        out = await service_of(request).token(form)
    except OAuthError as exc:
        return oauth_error_response(exc)
    return json_response(out, headers={**_NO_STORE, "Pragma": "no-cache"})


async def nonce(request: web.Request) -> web.Response:
    return json_response(await service_of(request).nonce(), headers=_NO_STORE)


async def credential(request: web.Request) -> web.Response:
    authorization = request.headers.get("Authorization")
    body: Any = None
    body_error: str | None = None
    try:
        body = await read_json_object(request)
    except MalformedInputError as exc:
        body_error = exc.detail
    try:
        out = await service_of(request).credential(authorization, body, body_error=body_error)
    except OAuthError as exc:
        return oauth_error_response(exc, token_sent=authorization is not None)
    return json_response(out, headers=_NO_STORE)


async def _read_form(request: web.Request) -> dict[str, str]:
    """The token request's form parameters; a repeated parameter is refused (RFC 6749 3.2)."""
    if request.content_type != _FORM:
        raise OAuthError(f"the token request must be {_FORM}")
    raw = await request.read()
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise OAuthError("the token request body is not a valid form") from None
    out: dict[str, str] = {}
    for name, value in pairs:
        if name in out:
            raise OAuthError(f"the parameter {name} is repeated")
        out[name] = value
    return out


# --- OpenAPI -------------------------------------------------------------------------------------

_OAUTH_ERROR: Final[dict[str, Any]] = {
    "type": "object",
    "description": "OAuth 2.0 / OpenID4VCI error (the specs' shape, not problem+json)",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
}
_PROBLEM: Final[dict[str, Any]] = {"$ref": "#/components/schemas/Problem"}
_OBJECT: Final[dict[str, Any]] = {"type": "object", "additionalProperties": True}


def _oauth(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {"schema": _OAUTH_ERROR},
            "application/problem+json": {"schema": _PROBLEM},
        },
    }


def routes(services: ServiceState) -> list[Route]:
    """The routes of this module, with their OpenAPI operations."""
    too_large = _problem("Request body larger than the limit")
    return [
        Route(
            "GET",
            ISSUER_METADATA_PATH,
            issuer_metadata,
            {
                "operationId": "oid4vciIssuerMetadata",
                "summary": "OpenID4VCI Credential Issuer Metadata",
                "security": [],
                "responses": {"200": {"description": "Metadata", **json_content(_OBJECT)}},
            },
        ),
        Route(
            "GET",
            AS_METADATA_PATH,
            authorization_server_metadata,
            {
                "operationId": "oauthAuthorizationServerMetadata",
                "summary": "OAuth 2.0 Authorization Server Metadata (pre-authorized code only)",
                "security": [],
                "responses": {"200": {"description": "Metadata", **json_content(_OBJECT)}},
            },
        ),
        Route(
            "POST",
            OFFERS_PATH,
            create_offer,
            {
                "operationId": "createCredentialOffer",
                "summary": "Offer a stored award to a wallet (OpenID4VCI pre-authorized code)",
                "security": [{"bearer": ["issue"]}],
                "requestBody": {
                    "required": True,
                    **json_content(
                        {
                            "type": "object",
                            "required": ["credentialId"],
                            "properties": {
                                "credentialId": {"type": "string", "minLength": 1},
                                "txCode": {"type": "boolean"},
                            },
                        }
                    ),
                },
                "responses": {
                    "201": {
                        "description": "The offer, its URIs, and the tx_code (shown once)",
                        **json_content(
                            {
                                "type": "object",
                                "required": [
                                    "offerId",
                                    "credentialOffer",
                                    "credentialOfferUri",
                                    "credentialOfferRefUri",
                                    "expires",
                                ],
                                "properties": {
                                    **strings(
                                        "offerId",
                                        "credentialId",
                                        "credentialOfferUri",
                                        "credentialOfferRefUri",
                                        "credentialOfferUrl",
                                        "txCode",
                                        "expires",
                                    ),
                                    "credentialOffer": _OBJECT,
                                },
                            }
                        ),
                    },
                    "400": _problem("Malformed request"),
                    "401": _problem("No token, or an unknown, revoked or expired token"),
                    "403": _problem("The token lacks the issue scope"),
                    "404": _problem("No such credential was issued here"),
                    "410": _problem("CREDENTIAL_NOT_DELIVERABLE: the award is revoked/suspended"),
                    "413": too_large,
                },
            },
        ),
        Route(
            "GET",
            OFFERS_PATH + "/{id}",
            get_offer,
            {
                "operationId": "getCredentialOffer",
                "summary": "A credential offer by reference (credential_offer_uri)",
                "security": [],
                "parameters": [path_param("id")],
                "responses": {
                    "200": {"description": "The Credential Offer", **json_content(_OBJECT)},
                    "404": _problem("Unknown, used or expired offer"),
                },
            },
        ),
        Route(
            "POST",
            TOKEN_PATH,
            token,
            {
                "operationId": "oauthToken",
                "summary": "Token endpoint: redeem a pre-authorized code (and tx_code)",
                "security": [],
                "requestBody": {
                    "required": True,
                    **json_content(
                        {
                            "type": "object",
                            "properties": strings("grant_type", "pre-authorized_code", "tx_code"),
                        },
                        _FORM,
                    ),
                },
                "responses": {
                    "200": {
                        "description": "Access token",
                        **json_content(
                            {
                                "type": "object",
                                "required": ["access_token", "token_type", "expires_in"],
                                "properties": {
                                    "access_token": {"type": "string"},
                                    "token_type": {"const": "Bearer"},
                                    "expires_in": {"type": "integer"},
                                },
                            }
                        ),
                    },
                    "400": _oauth("invalid_request, invalid_grant, unsupported_grant_type, ..."),
                    "413": too_large,
                },
            },
        ),
        Route(
            "POST",
            NONCE_PATH,
            nonce,
            {
                "operationId": "oid4vciNonce",
                "summary": "A fresh single-use c_nonce for key proofs",
                "security": [],
                "responses": {
                    "200": {
                        "description": "The nonce",
                        **json_content(
                            {
                                "type": "object",
                                "required": ["c_nonce"],
                                "properties": {"c_nonce": {"type": "string"}},
                            }
                        ),
                    },
                    "413": too_large,
                },
            },
        ),
        Route(
            "POST",
            CREDENTIAL_PATH,
            credential,
            {
                "operationId": "oid4vciCredential",
                "summary": "Credential endpoint: an ldp_vc or a jwt_vc_json (compact VC-JWT)"
                " bound to the key proof's holder (ES256 or EdDSA proofs)",
                "security": [{"bearer": []}],
                "requestBody": {
                    "required": True,
                    **json_content(
                        {
                            "type": "object",
                            "properties": {
                                "credential_configuration_id": {
                                    "type": "string",
                                    "enum": list(CONFIGURATIONS),
                                },
                                "proof": _OBJECT,
                                "proofs": _OBJECT,
                            },
                        }
                    ),
                },
                "responses": {
                    "200": {
                        "description": "The credential",
                        **json_content(
                            {
                                "type": "object",
                                "required": ["credentials"],
                                "properties": {
                                    "credentials": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["credential"],
                                            "properties": {
                                                "credential": {
                                                    "oneOf": [
                                                        _OBJECT,  # ldp_vc
                                                        {"type": "string"},  # jwt_vc_json
                                                    ]
                                                }
                                            },
                                        },
                                    }
                                },
                            }
                        ),
                    },
                    "400": _oauth(
                        "invalid_credential_request, unknown_credential_configuration,"
                        " invalid_proof, invalid_nonce, credential_request_denied"
                    ),
                    "401": {
                        **_oauth("invalid_token: missing, unknown, expired or used token"),
                        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
                    },
                    "413": too_large,
                },
            },
        ),
    ]


__all__ = ["oauth_error_response", "routes", "service_of"]
