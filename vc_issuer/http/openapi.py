"""The OpenAPI 3.1 description of every route, as a plain dict (served at /openapi.json).

Kept by hand, next to the routes; a test checks that every registered route is described here
and that real responses validate against these schemas.
"""

from __future__ import annotations

import copy
from typing import Any

from vc_issuer import __version__

_REF = "#/components/schemas/"


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": _REF + name}


def _json(schema: dict[str, Any], media: str = "application/json") -> dict[str, Any]:
    return {"content": {media: {"schema": schema}}}


def problem_spec(description: str) -> dict[str, Any]:
    """A problem+json response of ``description`` (route modules share it)."""
    return {"description": description, **_json(_ref("Problem"), "application/problem+json")}


def _verification_failed(description: str) -> dict[str, Any]:
    return {
        "description": description,
        **_json(_ref("VerificationProblem"), "application/problem+json"),
    }


def _html() -> dict[str, Any]:
    return {"content": {"text/html": {"schema": {"type": "string"}}}}


_PAGE_ID: dict[str, Any] = {
    "name": "page_id", "in": "path", "required": True, "schema": {"type": "string"},
    "description": "The unguessable page id (a UUID) returned when the credential was issued",
}  # fmt: skip
_VERIFY_FORM: dict[str, Any] = {
    "type": "object",
    "properties": {
        "json": {"type": "string", "description": "Pasted credential JSON"},
        "file": {"type": "string", "format": "binary",
                 "description": "A JSON file or a baked PNG/SVG badge"},
        "url": {"type": "string", "description": "Address of a credential or baked badge"},
    },
}  # fmt: skip


AUTH_ERRORS = {
    "401": problem_spec("No token, or an unknown, revoked or expired token"),
    "403": problem_spec("The token lacks the route's scope"),
}
_BODY_ERRORS = {
    "400": problem_spec("Malformed request or credential"),
    "413": problem_spec("Request body larger than the limit (1 MiB by default)"),
}

_SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details; code is stable (docs/errors.md).",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"},
            "code": {"type": "string"},
        },
        "additionalProperties": True,
    },
    "Credential": {
        "type": "object",
        "description": "A W3C Verifiable Credential (VC 2.0 or 1.1 JSON-LD).",
        "required": ["@context"],
        "properties": {
            "@context": {"type": "array", "items": {"type": ["string", "object"]}},
            "id": {"type": "string"},
            "type": {"type": ["string", "array"], "items": {"type": "string"}},
            "issuer": {"type": ["string", "object"]},
            "credentialSubject": {"type": ["object", "array"]},
            "credentialStatus": {"type": ["object", "array"]},
            "proof": {"type": ["object", "array"]},
        },
        "additionalProperties": True,
    },
    "IssueCredentialOptions": {
        "type": "object",
        "description": "Unknown keys are ignored.",
        "properties": {
            "credentialId": {"type": "string", "description": "id to give the credential"},
            "type": {
                "oneOf": [
                    {"type": "string", "enum": ["DataIntegrityProof", "Ed25519Signature2020"]},
                    {
                        "type": "array",
                        "items": {
                            "type": "string",
                            "enum": ["DataIntegrityProof", "Ed25519Signature2020"],
                        },
                    },
                ]
            },
            "cryptosuite": {
                "type": "string",
                "enum": [
                    "eddsa-rdfc-2022",
                    "eddsa-jcs-2022",
                    "ecdsa-rdfc-2019",
                    "ecdsa-jcs-2019",
                    "ecdsa-sd-2023",
                ],
                "description": "signed with the issuer's key of a type the suite takes (Ed25519"
                " for eddsa-*, P-256 then P-384 for ecdsa-*); NO_KEY_FOR_SUITE (422) when the"
                " issuer has none",
            },
            "verificationMethod": {
                "type": "string",
                "description": "which of the issuer's keys signs: a verification method id, its"
                " fragment, or a key type (ed25519, p256, p384)",
            },
            "alg": {
                "type": "string",
                "enum": ["EdDSA", "ES256", "ES384"],
                "description": "format jwt only: the JWS algorithm, hence the key (default"
                " EdDSA when the issuer has an Ed25519 key)",
            },
            "status": {
                "type": "boolean",
                "description": "attach status entries (true) or none (false); absent: VC 2.0"
                " credentials get them, VC 1.1 ones only when the home says so",
            },
            "idempotencyKey": {"type": "string", "maxLength": 255},
            "format": {
                "type": "string",
                "enum": ["ldp", "jwt"],
                "description": "ldp (default): an embedded Data Integrity proof. jwt: a JWS"
                " (EdDSA, ES256 or ES384, see alg), returned as an"
                " EnvelopedVerifiableCredential (data:application/vc+jwt for VC 2.0,"
                " data:application/jwt for a VC 1.1 VC-JWT); also chosen by"
                " Accept: application/vc+jwt, which returns the bare token. No type or"
                " cryptosuite with jwt.",
            },
        },
        "additionalProperties": True,
    },
    "EnvelopedVerifiableCredential": {
        "type": "object",
        "description": "A credential secured by an enveloping proof (VCDM 2.0 §4.13): the id is"
        " a data: URL of the token.",
        "required": ["@context", "id", "type"],
        "properties": {
            "@context": {"type": ["string", "array"]},
            "id": {"type": "string", "pattern": "^data:"},
            "type": {"const": "EnvelopedVerifiableCredential"},
        },
    },
    "IssueCredentialRequest": {
        "type": "object",
        "required": ["credential"],
        "properties": {
            "credential": _ref("Credential"),
            "options": _ref("IssueCredentialOptions"),
        },
    },
    "IssueCredentialResponse": {
        "type": "object",
        "required": ["verifiableCredential"],
        "properties": {
            "verifiableCredential": {
                "oneOf": [_ref("Credential"), _ref("EnvelopedVerifiableCredential")]
            }
        },
    },
    "VerifyOptions": {
        "type": "object",
        "description": "Unknown keys are ignored; an unknown name in checks is a 400.",
        "properties": {
            "checks": {
                "type": "array",
                "description": "the checks to run (all when absent); structure always runs",
                "items": {
                    "type": "string",
                    "enum": [
                        "structure",
                        "proof",
                        "issuer",
                        "validity",
                        "credentialStatus",
                        "relatedResource",
                    ],
                },
            },
            "challenge": {"type": "string"},
            "domain": {"type": "string"},
            "recipientEmail": {
                "type": "string",
                "description": "also check the badge was awarded to this address (the salted"
                " identity hash of OB 2.0 recipient / OB 3.0 identifier): a recipient check",
            },
        },
        "additionalProperties": True,
    },
    "VerifyCredentialRequest": {
        "type": "object",
        "required": ["verifiableCredential"],
        "properties": {
            "verifiableCredential": {
                "description": "A credential with a Data Integrity proof, an"
                " EnvelopedVerifiableCredential, an Open Badges 2.0 hosted assertion, or a"
                " compact JWS (VC-JWT, VC 2.0 JOSE, OB 2.0 signed assertion).",
                "oneOf": [{"type": "object"}, {"type": "string"}],
            },
            "options": _ref("VerifyOptions"),
        },
    },
    "VerifyPresentationRequest": {
        "type": "object",
        "required": ["verifiablePresentation"],
        "properties": {
            "verifiablePresentation": {"type": "object"},
            "options": _ref("VerifyOptions"),
        },
    },
    "Check": {
        "type": "object",
        "required": ["name", "passed"],
        "properties": {
            "name": {"type": "string"},
            "passed": {"type": "boolean"},
            "code": {"type": "string"},
            "detail": {"type": "string"},
            "status": {
                "type": "object",
                "description": "a multi-bit status: its value, size in bits and message",
                "properties": {
                    "value": {"type": "string"},
                    "size": {"type": "integer"},
                    "message": {"type": "string"},
                },
            },
        },
    },
    "VerificationResult": {
        "type": "object",
        "required": ["verified", "checks", "warnings", "errors"],
        "properties": {
            "verified": {"type": "boolean"},
            "kind": {"type": "string", "enum": ["credential", "presentation"]},
            "checks": {"type": "array", "items": _ref("Check")},
            "format": {
                "type": "string",
                "enum": ["data-integrity", "vc-jwt", "vc-jose", "ob2-hosted", "ob2-signed"],
            },
            "formatName": {"type": "string"},
            "notes": {
                "type": "array",
                "items": {"type": "string"},
                "description": "what this format cannot prove (Open Badges 2.0)",
            },
            "warnings": {"type": "array", "items": {"type": "object"}},
            "errors": {
                "type": "array",
                "description": "one problem object per failed check, with the check's name",
                "items": {"allOf": [_ref("Problem"), {"required": ["check"]}]},
            },
            "credentialResults": {
                "type": "array",
                "items": _ref("VerificationResult"),
            },
        },
    },
    "VerificationProblem": {
        "description": "A failed verification: the result (verified false) and problem details.",
        "allOf": [
            _ref("VerificationResult"),
            _ref("Problem"),
            {"properties": {"verified": {"const": False}}},
        ],
    },
    "UpdateStatusRequest": {
        "type": "object",
        "required": ["credentialId", "credentialStatus", "status"],
        "properties": {
            "credentialId": {"type": "string"},
            "credentialStatus": {
                "type": "object",
                "required": ["statusPurpose"],
                "properties": {
                    "type": {
                        "type": "string",
                        "enum": ["BitstringStatusListEntry", "StatusList2021Entry"],
                    },
                    "statusPurpose": {
                        "type": "string",
                        "enum": ["revocation", "suspension", "message"],
                    },
                },
            },
            "status": {
                "description": "revocation/suspension: true sets the bit; message: the value"
                " (an integer, or 0x-hex as statusMessage writes it)",
                "oneOf": [
                    {"type": "boolean"},
                    {"type": "integer", "minimum": 0, "maximum": 255},
                    {"type": "string", "pattern": "^0x[0-9A-Fa-f]{1,2}$"},
                ],
            },
            "reason": {"type": "string", "maxLength": 1000},
        },
    },
    "StatusChange": {
        "type": "object",
        "required": ["credentialId", "purpose", "old", "new", "changed"],
        "properties": {
            "credentialId": {"type": "string"},
            "purpose": {"type": "string"},
            "old": {"type": ["boolean", "string"], "description": "0x-hex for message"},
            "new": {"type": ["boolean", "string"], "description": "0x-hex for message"},
            "changed": {"type": "boolean"},
            "statusListId": {"type": "string"},
            "statusListIndex": {"type": "string"},
            "statusSize": {"type": "integer"},
            "message": {"type": "string"},
        },
    },
    "DIDDocument": {
        "type": "object",
        "required": ["id"],
        "properties": {"id": {"type": "string"}},
        "additionalProperties": True,
    },
    "DIDResolutionResult": {
        "type": "object",
        "required": ["didDocument", "didResolutionMetadata", "didDocumentMetadata"],
        "properties": {
            "@context": {"type": ["string", "array"]},
            "didDocument": {"oneOf": [_ref("DIDDocument"), {"type": "null"}]},
            "didResolutionMetadata": {"type": "object"},
            "didDocumentMetadata": {"type": "object"},
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "issuer", "store"],
        "properties": {
            "status": {"const": "ok"},
            "issuer": {"type": "string"},
            "store": {
                "type": "object",
                "properties": {
                    "backend": {"type": "string"},
                    "schemaVersion": {"type": "integer"},
                },
            },
        },
    },
}

_PATHS: dict[str, Any] = {
    "/credentials/issue": {
        "post": {
            "operationId": "issueCredential",
            "summary": "Issue a credential (sign, attach status, store)",
            "security": [{"bearer": ["issue"]}],
            "parameters": [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "maxLength": 255},
                }
            ],
            "requestBody": {"required": True, **_json(_ref("IssueCredentialRequest"))},
            "responses": {
                "201": {
                    "description": "Issued (with Accept: application/vc+jwt and format jwt:"
                    " the bare token)",
                    "content": {
                        "application/json": {"schema": _ref("IssueCredentialResponse")},
                        "application/vc+jwt": {"schema": {"type": "string"}},
                    },
                },
                **_BODY_ERRORS,
                **AUTH_ERRORS,
                "422": problem_spec("Credential cannot be signed (e.g. undefined JSON-LD terms)"),
            },
        }
    },
    "/credentials/verify": {
        "post": {
            "operationId": "verifyCredential",
            "summary": "Verify a credential: structure, proofs, issuer, validity, status",
            "description": "One entry point for every format. Send {verifiableCredential,"
            " options} as JSON (Data Integrity, enveloped JOSE, OB 2.0 hosted JSON, or a JWS"
            " string); a compact JWS as the raw body (application/vc+jwt, application/vp+jwt,"
            " application/jwt); or a baked Open Badge image as the raw body (image/png or"
            " image/svg+xml, OB 3.0 or OB 2.0): it is unbaked, then verified; an image"
            " without a credential is a 400 NO_BAKED_CREDENTIAL. The result names the"
            " format it found.",
            "security": [],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": _ref("VerifyCredentialRequest")},
                    "application/vc+jwt": {"schema": {"type": "string"}},
                    "application/jwt": {"schema": {"type": "string"}},
                    "image/png": {"schema": {"type": "string", "format": "binary"}},
                    "image/svg+xml": {"schema": {"type": "string"}},
                },
            },
            "responses": {
                "200": {"description": "Verified", **_json(_ref("VerificationResult"))},
                "400": _verification_failed("Malformed request or credential"),
                "413": problem_spec("Request body larger than the limit"),
                "415": _verification_failed("UNSUPPORTED_IMAGE: an image neither PNG nor SVG"),
                "422": _verification_failed("The credential does not verify"),
            },
        }
    },
    "/presentations/verify": {
        "post": {
            "operationId": "verifyPresentation",
            "summary": "Verify a presentation (signed or unsigned) and every credential in it",
            "security": [],
            "requestBody": {"required": True, **_json(_ref("VerifyPresentationRequest"))},
            "responses": {
                "200": {"description": "Verified", **_json(_ref("VerificationResult"))},
                "400": _verification_failed("Malformed request or presentation"),
                "413": problem_spec("Request body larger than the limit"),
                "422": _verification_failed("The presentation does not verify"),
            },
        }
    },
    "/credentials/status": {
        "post": {
            "operationId": "updateCredentialStatus",
            "summary": "Revoke, suspend or reinstate an issued credential",
            "security": [{"bearer": ["status"]}],
            "requestBody": {"required": True, **_json(_ref("UpdateStatusRequest"))},
            "responses": {
                "200": {"description": "Status set", **_json(_ref("StatusChange"))},
                **_BODY_ERRORS,
                **AUTH_ERRORS,
                "404": problem_spec("No such credential was issued here"),
                "409": problem_spec("Not allowed (revocation is permanent; no such status entry)"),
            },
        }
    },
    "/credentials/{id}": {
        "get": {
            "operationId": "getCredential",
            "summary": "The stored credential as issued",
            "security": [{"bearer": ["read"]}],
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": {"description": "The credential", **_json(_ref("Credential"))},
                **AUTH_ERRORS,
                "404": problem_spec("No such credential"),
            },
        }
    },
    "/status-lists/{id}": {
        "get": {
            "operationId": "getStatusList",
            "summary": "The signed status list credential (cacheable; ETag and 304)",
            "security": [],
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
                {
                    "name": "If-None-Match",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string"},
                },
            ],
            "responses": {
                "200": {
                    "description": "The list credential; application/json on request",
                    "headers": {
                        "ETag": {"schema": {"type": "string"}},
                        "Cache-Control": {"schema": {"type": "string"}},
                    },
                    "content": {
                        "application/vc+ld+json": {"schema": _ref("Credential")},
                        "application/json": {"schema": _ref("Credential")},
                    },
                },
                "304": {"description": "Not modified"},
                "404": problem_spec("No such status list"),
            },
        }
    },
    "/.well-known/did.json": {
        "get": {
            "operationId": "getDidDocument",
            "summary": "The issuer's did:web document (404 for a did:key issuer)",
            "security": [],
            "responses": {
                "200": {
                    "description": "DID document",
                    **_json(_ref("DIDDocument"), "application/did+json"),
                },
                "404": problem_spec("Not a did:web issuer (or a path-based did:web)"),
            },
        }
    },
    "/1.0/identifiers/{did}": {
        "get": {
            "operationId": "resolveDid",
            "summary": "Resolve a DID (universal-resolver driver shape)",
            "security": [],
            "parameters": [
                {"name": "did", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": {
                    "description": "DID Resolution result",
                    **_json(
                        _ref("DIDResolutionResult"),
                        'application/ld+json;profile="https://w3id.org/did-resolution"',
                    ),
                },
                "400": problem_spec("Invalid DID, or a did:web host that is not allowed"),
                "404": problem_spec("DID not found"),
                "501": problem_spec("DID method not supported"),
                "502": problem_spec("did:web host unreachable or its document unusable"),
            },
        }
    },
    "/openapi.json": {
        "get": {
            "operationId": "getOpenApi",
            "summary": "This document",
            "security": [],
            "responses": {"200": {"description": "OpenAPI 3.1", **_json({"type": "object"})}},
        }
    },
    "/c/{page_id}": {
        "get": {
            "operationId": "credentialPage",
            "summary": "Public credential page (HTML): badge, details, verification result",
            "security": [],
            "parameters": [_PAGE_ID],
            "responses": {
                "200": {"description": "The page", **_html()},
                "404": {"description": "No credential at this page id", **_html()},
            },
        }
    },
    "/c/{page_id}/credential.json": {
        "get": {
            "operationId": "credentialPageJson",
            "summary": "The credential of a public page, as issued",
            "security": [],
            "parameters": [_PAGE_ID],
            "responses": {
                "200": {
                    "description": "The credential",
                    **_json({"type": "object"}, "application/vc+ld+json"),
                },
                "404": {"description": "No credential at this page id", **_html()},
            },
        }
    },
    "/c/{page_id}/badge.{kind}": {
        "get": {
            "operationId": "credentialPageBadge",
            "summary": "The badge image with the credential baked in (PNG or SVG)",
            "security": [],
            "parameters": [
                _PAGE_ID,
                {
                    "name": "kind",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "enum": ["png", "svg"]},
                },
            ],
            "responses": {
                "200": {
                    "description": "The baked image",
                    "content": {
                        "image/png": {"schema": {"type": "string", "format": "binary"}},
                        "image/svg+xml": {"schema": {"type": "string"}},
                    },
                },
                "404": {"description": "No credential at this page id", **_html()},
            },
        }
    },
    "/verify": {
        "get": {
            "operationId": "verifyPage",
            "summary": "Verify page (HTML): paste JSON, upload JSON or a baked image, or a URL",
            "security": [],
            "responses": {"200": {"description": "The form", **_html()}},
        },
        "post": {
            "operationId": "verifyPageSubmit",
            "summary": "Verify what the form sent; each check in plain words (HTML)",
            "security": [],
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {"schema": _VERIFY_FORM},
                    "application/x-www-form-urlencoded": {"schema": _VERIFY_FORM},
                },
            },
            "responses": {
                "200": {"description": "The result (verified or not)", **_html()},
                "400": {"description": "Nothing usable was sent", **_html()},
                "413": {"description": "Upload too large", **_html()},
            },
        },
    },
    "/static/{name}": {
        "get": {
            "operationId": "pageStatic",
            "summary": "Stylesheet of the pages",
            "security": [],
            "parameters": [
                {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": {
                    "description": "The file",
                    "content": {"text/css": {"schema": {"type": "string"}}},
                },
                "404": {"description": "No such file", **_html()},
            },
        }
    },
    "/healthz": {
        "get": {
            "operationId": "health",
            "summary": "Liveness and store reachability",
            "security": [],
            "responses": {
                "200": {"description": "Healthy", **_json(_ref("Health"))},
                "503": problem_spec("Store unreachable"),
            },
        }
    },
}


def openapi_document(
    base_url: str | None = None, did_document_path: str | None = None
) -> dict[str, Any]:
    """The OpenAPI document; ``base_url`` becomes the single server entry, and a path-based
    did:web issuer's document path is listed next to ``/.well-known/did.json``."""
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "vc-issuer VC API",
            "version": __version__,
            "description": (
                "W3C VC API (issue, verify, status) plus status-list and did:web hosting. "
                "Errors are application/problem+json with a stable code."
            ),
        },
        "paths": copy.deepcopy(_PATHS),
        "components": {
            "schemas": copy.deepcopy(_SCHEMAS),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
    from vc_issuer.http.exchanges import openapi_paths as exchange_paths

    doc["paths"].update(exchange_paths())
    from vc_issuer.http.oid4vci import openapi_paths

    doc["paths"].update(openapi_paths())
    from vc_issuer.http.claims import openapi_paths as claim_paths

    doc["paths"].update(claim_paths())
    from vc_issuer.http.achievements import openapi_paths as achievement_paths

    doc["paths"].update(achievement_paths())
    from vc_issuer.http.display import openapi_paths as display_paths

    doc["paths"].update(display_paths())
    if base_url:
        doc["servers"] = [{"url": base_url}]
    if did_document_path and did_document_path not in doc["paths"]:
        item = copy.deepcopy(doc["paths"]["/.well-known/did.json"])
        item["get"]["operationId"] = "getPathDidDocument"
        item["get"]["summary"] = "The issuer's path-based did:web document"
        doc["paths"][did_document_path] = item
    return doc


__all__ = ["AUTH_ERRORS", "openapi_document", "problem_spec"]
