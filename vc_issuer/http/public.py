"""Public routes: status lists, did:web documents, the universal-resolver driver, OpenAPI, health.

Status lists are what every verifier of our credentials fetches, so they are cacheable:
``Cache-Control: max-age`` from the list's ``ttl``, a strong ``ETag`` over the exact bytes, and
304 for a matching ``If-None-Match``.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from did_methods.errors import DIDError
from vc_issuer.errors import NotFoundError, StoreError, did_error_class
from vc_issuer.http.openapi import (
    CACHE_HEADERS,
    IF_NONE_MATCH,
    json_content,
    openapi_document,
    path_param,
    problem_spec,
    schema_ref,
)
from vc_issuer.http.problems import PROBLEM_JSON, json_bytes, problem
from vc_issuer.http.routes import ROUTES_KEY, Route, Routes
from vc_issuer.http.state import ServiceState, state_of

VC_LD_JSON = "application/vc+ld+json"
JSON = "application/json"
DID_JSON = "application/did+json"
DID_RESOLUTION = 'application/ld+json;profile="https://w3id.org/did-resolution"'
DEFAULT_LIST_MAX_AGE = 300


def _wants_plain_json(request: web.Request) -> bool:
    """``application/json`` only when the client asks for it over the VC media types."""
    accept = request.headers.get("Accept", "")
    best: tuple[float, str] | None = None
    for part in accept.split(","):
        media, *params = [p.strip() for p in part.split(";")]
        media = media.lower()
        q = 1.0
        for p in params:
            if p.lower().startswith("q="):
                try:
                    q = float(p[2:])
                except ValueError:
                    q = 0.0
        if media in (VC_LD_JSON, "application/vc", "application/ld+json", "*/*", "application/*"):
            rank = (q, VC_LD_JSON)
        elif media == JSON:
            rank = (q, JSON)
        else:
            continue
        # On equal q the VC media type wins.
        if best is None or rank[0] > best[0] or (rank[0] == best[0] and rank[1] == VC_LD_JSON):
            best = rank
    return best is not None and best[1] == JSON and best[0] > 0


def etag_of(body: bytes) -> str:
    """A strong ETag over the exact bytes served."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def etag_matches(header: str | None, etag: str) -> bool:
    """``If-None-Match`` (weak comparison, ``*``, a list) against ``etag``."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return etag in tags


def list_max_age(credential: dict[str, Any]) -> int:
    subject = credential.get("credentialSubject")
    ttl = subject.get("ttl") if isinstance(subject, dict) else None
    if isinstance(ttl, int) and not isinstance(ttl, bool) and ttl >= 0:
        return ttl // 1000
    return DEFAULT_LIST_MAX_AGE


async def status_list(request: web.Request) -> web.StreamResponse:
    """GET /status-lists/{id}: the signed status list credential."""
    state = state_of(request)
    credential = await state.issuer.status_list_credential(request.match_info["id"])
    body = json_bytes(credential)
    etag = etag_of(body)
    headers = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={list_max_age(credential)}",
        "Vary": "Accept",
    }
    if etag_matches(request.headers.get("If-None-Match"), etag):
        return web.Response(status=304, headers=headers)
    content_type = JSON if _wants_plain_json(request) else VC_LD_JSON
    return web.Response(body=body, content_type=content_type, headers=headers)


async def did_document(request: web.Request) -> web.Response:
    """GET /.well-known/did.json (or /{path}/did.json): the did:web issuer's DID document."""
    state = state_of(request)
    document = state.issuer.did_document()
    if document is None:
        raise NotFoundError(
            f"the issuer {state.issuer.did} has no hosted DID document (only did:web issuers"
            " have one; a did:key document is derived from the DID itself)"
        )
    if request.path != did_web_document_path(state.issuer.did):
        raise NotFoundError(f"no DID document at {request.path}")
    return web.Response(
        body=json_bytes(document),
        content_type=DID_JSON if "@context" not in document else "application/did+ld+json",
        headers={"Cache-Control": "public, max-age=300"},
    )


def did_web_document_path(did: str) -> str | None:
    """Where a did:web DID's document lives: ``/.well-known/did.json`` or ``/a/b/did.json``."""
    if not did.startswith("did:web:"):
        return None
    parts = did.removeprefix("did:web:").split(":")
    if len(parts) == 1:
        return "/.well-known/did.json"
    return "/" + "/".join(unquote(p) for p in parts[1:]) + "/did.json"


async def resolve_identifier(request: web.Request) -> web.Response:
    """GET /1.0/identifiers/{did}: a DID Resolution result (universal-resolver driver shape)."""
    state = state_of(request)
    did = request.match_info["did"]
    own = state.issuer.did_document()
    if did == state.issuer.did and own is not None:
        result: dict[str, Any] = {
            "@context": "https://w3id.org/did-resolution/v1",
            "didDocument": own,
            "didResolutionMetadata": {"contentType": DID_JSON},
            "didDocumentMetadata": {},
        }
    else:
        try:
            result = await state.network_resolver.resolve_with_metadata(did)
        except DIDError as exc:  # defensive: resolve_with_metadata reports errors in-band
            result = {
                "@context": "https://w3id.org/did-resolution/v1",
                "didDocument": None,
                "didResolutionMetadata": {"error": exc.code, "errorMessage": exc.message},
                "didDocumentMetadata": {},
            }
    meta = result.get("didResolutionMetadata") or {}
    error = meta.get("error")
    if error is None:
        return web.Response(body=json_bytes(result), headers={"Content-Type": DID_RESOLUTION})
    cls = did_error_class(str(error))  # the one DID error mapping: its status and type URL
    detail = str(meta.get("errorMessage") or error)
    body = {**result, **problem(cls.http_status, str(error), cls.title, detail)}
    body["type"] = cls.type_url
    status = cls.http_status
    return web.Response(status=status, body=json_bytes(body), content_type=PROBLEM_JSON)


async def openapi_json(request: web.Request) -> web.Response:
    table: Routes = request.app[ROUTES_KEY]
    return web.Response(
        body=json_bytes(openapi_document(table, state_of(request).base_url)),
        content_type="application/json",
    )


async def healthz(request: web.Request) -> web.Response:
    """Liveness and store reachability (for load balancers and orchestrators)."""
    state = state_of(request)
    try:
        version = await state.issuer.store.schema_version()
    except StoreError as exc:
        raise StoreError(f"the store is not reachable: {exc.detail}") from None
    body = {
        "status": "ok",
        "issuer": state.issuer.did,
        "store": {"backend": getattr(state.issuer.store, "backend", "unknown"),
                  "schemaVersion": version},
    }  # fmt: skip
    return web.Response(
        body=json_bytes(body),
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def routes(services: ServiceState) -> list[Route]:
    """The routes of this module, with their OpenAPI operations."""
    table = [
        Route(
            "GET",
            "/status-lists/{id}",
            status_list,
            {
                "operationId": "getStatusList",
                "summary": "The signed status list credential (cacheable; ETag and 304)",
                "security": [],
                "parameters": [
                    path_param("id"),
                    IF_NONE_MATCH,
                ],
                "responses": {
                    "200": {
                        "description": "The list credential; application/json on request",
                        "headers": CACHE_HEADERS,
                        "content": {
                            "application/vc+ld+json": {"schema": schema_ref("Credential")},
                            "application/json": {"schema": schema_ref("Credential")},
                        },
                    },
                    "304": {"description": "Not modified"},
                    "404": problem_spec("No such status list"),
                },
            },
            head=True,
        ),
        Route(
            "GET",
            "/1.0/identifiers/{did}",
            resolve_identifier,
            {
                "operationId": "resolveDid",
                "summary": "Resolve a DID (universal-resolver driver shape)",
                "security": [],
                "parameters": [path_param("did")],
                "responses": {
                    "200": {
                        "description": "DID Resolution result",
                        **json_content(
                            schema_ref("DIDResolutionResult"),
                            'application/ld+json;profile="https://w3id.org/did-resolution"',
                        ),
                    },
                    "400": problem_spec("Invalid DID, or a did:web host that is not allowed"),
                    "404": problem_spec("DID not found"),
                    "501": problem_spec("DID method not supported"),
                    "502": problem_spec("did:web host unreachable or its document unusable"),
                },
            },
            head=True,
        ),
        Route(
            "GET",
            "/openapi.json",
            openapi_json,
            {
                "operationId": "getOpenApi",
                "summary": "This document",
                "security": [],
                "responses": {
                    "200": {"description": "OpenAPI 3.1", **json_content({"type": "object"})}
                },
            },
            head=True,
        ),
        Route(
            "GET",
            "/healthz",
            healthz,
            {
                "operationId": "health",
                "summary": "Liveness and store reachability",
                "security": [],
                "responses": {
                    "200": {"description": "Healthy", **json_content(schema_ref("Health"))},
                    "503": problem_spec("Store unreachable"),
                },
            },
            head=True,
        ),
        Route(
            "GET",
            "/.well-known/did.json",
            did_document,
            {
                "operationId": "getDidDocument",
                "summary": "The issuer's did:web document (404 for a did:key issuer)",
                "security": [],
                "responses": {
                    "200": {
                        "description": "DID document",
                        **json_content(schema_ref("DIDDocument"), "application/did+json"),
                    },
                    "404": problem_spec("Not a did:web issuer (or a path-based did:web)"),
                },
            },
            head=True,
        ),
    ]
    path = did_web_document_path(services.issuer.did)
    if path is not None and path != "/.well-known/did.json":  # a path-based did:web issuer
        own = table[-1]
        doc = {**own.doc, "operationId": "getPathDidDocument",
               "summary": "The issuer's path-based did:web document"}  # fmt: skip
        table.append(Route("GET", path, did_document, doc, head=True))
    return table


__all__ = ["did_web_document_path", "etag_matches", "etag_of", "list_max_age", "routes"]
