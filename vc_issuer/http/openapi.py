"""The OpenAPI 3.1 description of every route, as a plain dict (served at /openapi.json).

The operations live in the route declarations (``Route.doc``, next to their handlers); this
module holds the shared schemas and helpers and assembles the document from a route table.
A test checks that every served route is described and that real responses match.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from vc_issuer import __version__
from vc_issuer.http.routes import Route
from vc_issuer.services.limits import LimitsConfig

_REF = "#/components/schemas/"


def schema_ref(name: str) -> dict[str, Any]:
    return {"$ref": _REF + name}


def json_content(schema: dict[str, Any], media: str = "application/json") -> dict[str, Any]:
    return {"content": {media: {"schema": schema}}}


def problem_spec(description: str) -> dict[str, Any]:
    """A problem+json response of ``description`` (route modules share it)."""
    return {
        "description": description,
        **json_content(schema_ref("Problem"), "application/problem+json"),
    }


def verification_failed(description: str) -> dict[str, Any]:
    return {
        "description": description,
        **json_content(schema_ref("VerificationProblem"), "application/problem+json"),
    }


def html_content() -> dict[str, Any]:
    return {"content": {"text/html": {"schema": {"type": "string"}}}}


def html_spec(description: str) -> dict[str, Any]:
    """An HTML page response described as ``description``."""
    return {"description": description, **html_content()}


def json_body(
    schema: dict[str, Any], media: str = "application/json", *, required: bool = True
) -> dict[str, Any]:
    """A request body of ``schema``."""
    return {"required": required, **json_content(schema, media)}


def json_spec(
    description: str,
    schema: dict[str, Any] | None = None,
    headers: dict[str, Any] | None = None,
    media: str = "application/json",
) -> dict[str, Any]:
    """A response of ``schema`` (any object by default) described as ``description``."""
    out = {"description": description, **json_content(schema or {"type": "object"}, media)}
    if headers:
        out["headers"] = headers
    return out


def strings(*names: str) -> dict[str, Any]:
    """String members, one a name: most members of the request and response objects are."""
    return {name: {"type": "string"} for name in names}


def object_of(description: str, properties: dict[str, Any]) -> dict[str, Any]:
    """A described object of ``properties`` (a nested member of a request or response)."""
    return {"type": "object", "description": description, "properties": properties}


def path_param(name: str, description: str | None = None) -> dict[str, Any]:
    """A required string path variable."""
    out: dict[str, Any] = {"name": name, "in": "path", "required": True}
    out["schema"] = {"type": "string"}
    if description:
        out["description"] = description
    return out


#: ``claimUrl``: the former name of ``claimLink`` that award and claim responses still carry.
FORMER_CLAIM_LINK: dict[str, Any] = {
    "type": "string",
    "deprecated": True,
    "description": "The former name of claimLink (the same personal link)",
}

#: The request header of a conditional GET (answered 304 when the ETag matches).
IF_NONE_MATCH: dict[str, Any] = {
    "name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"},
}  # fmt: skip
#: The response headers of a cacheable resource.
CACHE_HEADERS: dict[str, Any] = {
    "ETag": {"schema": {"type": "string"}},
    "Cache-Control": {"schema": {"type": "string"}},
}
PAGE_ID = path_param(
    "page_id", "The unguessable page id (a UUID) returned when the credential was issued"
)
VERIFY_FORM: dict[str, Any] = {
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
BODY_ERRORS = {
    "400": problem_spec("Malformed request or credential"),
    "413": problem_spec("Request body larger than the limit (1 MiB by default)"),
}

_SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details; code is stable (docs/errors.md).",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": {
            **strings("type", "title", "detail", "code"),
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
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
            "credential": schema_ref("Credential"),
            "options": schema_ref("IssueCredentialOptions"),
        },
    },
    "IssueCredentialResponse": {
        "type": "object",
        "required": ["verifiableCredential"],
        "properties": {
            "verifiableCredential": {
                "oneOf": [schema_ref("Credential"), schema_ref("EnvelopedVerifiableCredential")]
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
            "options": schema_ref("VerifyOptions"),
        },
    },
    "VerifyPresentationRequest": {
        "type": "object",
        "required": ["verifiablePresentation"],
        "properties": {
            "verifiablePresentation": {"type": "object"},
            "options": schema_ref("VerifyOptions"),
        },
    },
    "Check": {
        "type": "object",
        "required": ["name", "passed"],
        "properties": {
            **strings("name", "code", "detail"),
            "passed": {"type": "boolean"},
            "status": object_of(
                "a multi-bit status: its value, size in bits and message",
                {**strings("value", "message"), "size": {"type": "integer"}},
            ),
        },
    },
    "VerificationResult": {
        "type": "object",
        "required": ["verified", "checks", "warnings", "errors"],
        "properties": {
            "verified": {"type": "boolean"},
            "kind": {"type": "string", "enum": ["credential", "presentation"]},
            "checks": {"type": "array", "items": schema_ref("Check")},
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
                "items": {"allOf": [schema_ref("Problem"), {"required": ["check"]}]},
            },
            "credentialResults": {
                "type": "array",
                "items": schema_ref("VerificationResult"),
            },
        },
    },
    "VerificationProblem": {
        "description": "A failed verification: the result (verified false) and problem details.",
        "allOf": [
            schema_ref("VerificationResult"),
            schema_ref("Problem"),
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
            **strings("credentialId", "purpose", "statusListId", "statusListIndex", "message"),
            "old": {"type": ["boolean", "string"], "description": "0x-hex for message"},
            "new": {"type": ["boolean", "string"], "description": "0x-hex for message"},
            "changed": {"type": "boolean"},
            "statusSize": {"type": "integer"},
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
            "didDocument": {"oneOf": [schema_ref("DIDDocument"), {"type": "null"}]},
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


def openapi_document(routes: Iterable[Route], base_url: str | None = None) -> dict[str, Any]:
    """The OpenAPI document of ``routes`` (the app's table); ``base_url`` becomes the single
    server entry."""
    paths: dict[str, Any] = {}
    for route in routes:
        paths.setdefault(route.openapi_path, {})[route.method.lower()] = copy.deepcopy(route.doc)
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
        "paths": paths,
        "components": {
            "schemas": copy.deepcopy(_SCHEMAS),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
    _add_guard_responses(doc["paths"])
    if base_url:
        doc["servers"] = [{"url": base_url}]
    return doc


def _add_guard_responses(paths: dict[str, Any]) -> None:
    """What the guards in front of every route may answer (http/ratelimit.py): request text
    hygiene on every operation, and 429 on the anonymous routes limited by default."""
    limits = LimitsConfig()
    for path, item in paths.items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            responses.setdefault(
                "400", problem_spec("NUL or a lone surrogate in the path, query or a header")
            )
            responses.setdefault("414", problem_spec("Path or query longer than the limit"))
            concrete = path.replace("{", "").replace("}", "")  # /claim/{token} -> /claim/token
            if limits.covers(method.upper(), concrete):
                responses.setdefault(
                    "429", problem_spec("Too many anonymous requests from this client")
                )


__all__ = [
    "AUTH_ERRORS",
    "BODY_ERRORS",
    "CACHE_HEADERS",
    "IF_NONE_MATCH",
    "PAGE_ID",
    "VERIFY_FORM",
    "html_content",
    "html_spec",
    "json_body",
    "json_content",
    "json_spec",
    "openapi_document",
    "path_param",
    "problem_spec",
    "schema_ref",
    "verification_failed",
]
