"""The W3C VC API routes: issue, verify (credentials and presentations), status, read.

Request shapes follow the VC API: ``{credential, options}``, ``{verifiableCredential, options}``,
``{verifiablePresentation, options}``. Unknown option keys are ignored (clients and conformance
suites send their own); known ones are type-checked, and a wrong type is a 400, never ignored.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from aiohttp import web

from vc_issuer.core.credentials import issuer_id
from vc_issuer.core.jose import (
    credential_id,
    enveloped_token,
    looks_like_jws,
    parse_data_url,
)
from vc_issuer.core.suites import SUITES
from vc_issuer.errors import (
    MalformedInputError,
    NotFoundError,
    UnsupportedCryptosuiteError,
    VCIssuerError,
)
from vc_issuer.http import offload
from vc_issuer.http.auth import PRINCIPAL_KEY, Principal, requires
from vc_issuer.http.middlewares import optional_string, read_json_object, required_string
from vc_issuer.http.openapi import (
    AUTH_ERRORS,
    BODY_ERRORS,
    json_body,
    json_spec,
    path_param,
    problem_spec,
    schema_ref,
    verification_failed,
)
from vc_issuer.http.problems import PROBLEM_JSON, json_bytes, json_response, problem
from vc_issuer.http.routes import Route
from vc_issuer.http.state import ServiceState, state_of
from vc_issuer.services.issuer import Securing
from vc_issuer.services.verifier import VerificationResult, check_names

JSON = "application/json"

# VC API proof options -> our suite names.
_DATA_INTEGRITY = "DataIntegrityProof"
_ED25519_2020 = "Ed25519Signature2020"
_EDDSA_RDFC_2022 = "eddsa-rdfc-2022"
_CRYPTOSUITES = tuple(s.cryptosuite for s in SUITES.values() if s.cryptosuite is not None)
_STATUS_ENTRY_TYPES = ("BitstringStatusListEntry", "StatusList2021Entry")
# Failed checks whose code means "the request was malformed" rather than "did not verify".
_BAD_REQUEST_CODES = frozenset(
    {"MALFORMED_VALUE_ERROR", "PARSING_ERROR", "JSON_TOO_DEEP", "MALFORMED_JWS"}
)


def _options(body: Mapping[str, Any]) -> dict[str, Any]:
    options = body.get("options", {})
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise MalformedInputError("options must be a JSON object", field="options")
    return options


def _opt_str(options: Mapping[str, Any], name: str) -> str | None:
    """``options[name]``: None when absent, else a non-empty string (named ``options.name``)."""
    return optional_string(options, name, label=f"options.{name}")


def suites_from_options(options: Mapping[str, Any]) -> list[str] | None:
    """``type`` (DataIntegrityProof | Ed25519Signature2020, or a list of both) and
    ``cryptosuite`` (any Data Integrity cryptosuite we sign with) -> suite names; None = the
    issuer's default. Which key signs is the issuer's business (one per key type)."""
    raw_type = options.get("type")
    cryptosuite = _opt_str(options, "cryptosuite")
    if raw_type is None:
        types: list[str] = []
    elif isinstance(raw_type, str):
        types = [raw_type]
    elif isinstance(raw_type, list) and raw_type and all(isinstance(t, str) for t in raw_type):
        types = list(raw_type)
    else:
        raise MalformedInputError(
            "options.type must be a string or a list of strings", field="type"
        )
    if cryptosuite is not None and cryptosuite not in _CRYPTOSUITES:
        raise UnsupportedCryptosuiteError(
            f"cryptosuite {cryptosuite!r} is not supported; use one of {', '.join(_CRYPTOSUITES)}",
            field="cryptosuite",
        )
    if not types:
        return [cryptosuite] if cryptosuite else None
    suites: list[str] = []
    for t in types:
        if t == _DATA_INTEGRITY:
            suites.append(cryptosuite or _EDDSA_RDFC_2022)
        elif t == _ED25519_2020:
            if cryptosuite is not None and len(types) == 1:
                raise MalformedInputError(
                    "Ed25519Signature2020 has no cryptosuite option", field="cryptosuite"
                )
            suites.append(_ED25519_2020)
        else:
            raise UnsupportedCryptosuiteError(
                f"proof type {t!r} is not supported; use {_DATA_INTEGRITY} ({_EDDSA_RDFC_2022})"
                f" or {_ED25519_2020}",
                field="type",
            )
    return list(dict.fromkeys(suites))


#: ``options.format`` values: an embedded proof, or a JWS (EnvelopedVerifiableCredential).
_FORMATS = {"ldp": "ldp", "ldp_vc": "ldp", "jwt": "jwt", "vc+jwt": "jwt", "jwt_vc_json": "jwt"}


def _format_option(options: Mapping[str, Any], accept: str) -> str:
    """``options.format`` (``ldp`` default, or ``jwt``), or ``Accept: application/vc+jwt``."""
    value = options.get("format")
    wants_token = _accepts_jwt(accept)
    if value is None:
        return "jwt" if wants_token else "ldp"
    if not isinstance(value, str) or value.lower() not in _FORMATS:
        raise MalformedInputError(
            "options.format must be ldp or jwt", field="format", allowed=sorted(_FORMATS)
        )
    chosen = _FORMATS[value.lower()]
    if wants_token and chosen != "jwt":
        raise MalformedInputError("Accept asks for a JWT but options.format is ldp", field="format")
    return chosen


def securing_from_options(options: Mapping[str, Any], accept: str = "") -> Securing:
    """``format``, ``type``/``cryptosuite``, ``alg`` and ``verificationMethod`` (which key)
    of VC API issue options (the award API takes the same)."""
    secured_as = _format_option(options, accept)
    suites = suites_from_options(options)
    if secured_as == "jwt" and suites is not None:
        raise MalformedInputError("a JWT takes no proof type or cryptosuite", field="type")
    alg = _opt_str(options, "alg")
    if alg is not None and secured_as != "jwt":
        raise MalformedInputError("options.alg applies to options.format jwt", field="alg")
    return Securing(
        "jwt" if secured_as == "jwt" else "ldp",
        tuple(suites) if suites else None,
        _opt_str(options, "verificationMethod"),
        alg,
    )


def _accepts_jwt(accept: str) -> bool:
    types = {part.split(";", 1)[0].strip().lower() for part in accept.split(",")}
    return bool(types & {"application/vc+jwt", "application/jwt"}) and not (
        types & {"application/json", "application/ld+json", "application/vc+ld+json"}
    )


def _status_option(options: Mapping[str, Any]) -> bool | None:
    """True: attach status; false: none; absent: the issuer's default (VC 2.0 gets status,
    VC 1.1 only when the home asks for it)."""
    value = options.get("status")
    if value is not None and not isinstance(value, bool):
        raise MalformedInputError("options.status must be true or false", field="status")
    return value


# --- issue ---------------------------------------------------------------------------------------


def scoped_idempotency(principal: Principal, key: str, body: Mapping[str, Any]) -> tuple[str, str]:
    """The stored key (the caller's key within the token that sent it, so another token cannot
    reach its credential) and the hash of the request it is bound to (the body without the key).
    """
    if not isinstance(key, str) or not 1 <= len(key) <= 255:
        raise MalformedInputError("an idempotency key must be a string of 1 to 255 characters")
    owner = f"token:{principal.token_id}" if principal.token_id else f"local:{principal.name}"
    scoped = "api:" + hashlib.sha256(f"{owner}\n{key}".encode()).hexdigest()
    options = body.get("options")
    unkeyed = dict(body)
    if isinstance(options, Mapping):
        unkeyed["options"] = {k: v for k, v in options.items() if k != "idempotencyKey"}
        if not unkeyed["options"]:
            del unkeyed["options"]  # {"options": {}} is the request without options
    text = json.dumps(unkeyed, sort_keys=True, separators=(",", ":"))
    return scoped, "sha256:" + hashlib.sha256(text.encode()).hexdigest()


@requires("issue")
async def issue_credential(request: web.Request) -> web.Response:
    """POST /credentials/issue -> 201 {verifiableCredential}."""
    state = state_of(request)
    body = await read_json_object(request)
    if "credential" not in body:
        raise MalformedInputError("the request needs a credential", field="credential")
    credential = body["credential"]
    if not isinstance(credential, dict):
        raise MalformedInputError("credential must be a JSON object", field="credential")
    options = _options(body)
    # The VC API requires the caller to name the issuer; the library would fill it in.
    if "type" not in credential:
        raise MalformedInputError("credential type is missing", field="type")
    if "issuer" not in credential:
        raise MalformedInputError("credential issuer is missing", field="issuer")
    issuer_id(credential)  # a URL, or an object with an id
    key = request.headers.get("Idempotency-Key") or _opt_str(options, "idempotencyKey")
    accept = request.headers.get("Accept", "")
    securing = securing_from_options(options, accept)
    secured_as = securing.secured_as
    # the same body asking for a JWT (by Accept) is another request than asking for JSON-LD
    hashed = body if secured_as == "ldp" else {**body, "securedAs": secured_as}
    scoped, request_hash = (
        scoped_idempotency(request[PRINCIPAL_KEY], key, hashed) if key else (None, None)
    )
    signed = await state.issuer.issue(
        credential,
        status=_status_option(options),
        idempotency_key=scoped,
        credential_id=_opt_str(options, "credentialId"),
        request_hash=request_hash,
        **securing.options(),
    )
    if secured_as == "jwt":
        media, _token = parse_data_url(signed["id"])
        doc_id = jose_document_id(signed)
        location = "/credentials/" + quote(doc_id, safe="")
        if _accepts_jwt(accept):
            return web.Response(
                status=201,
                text=enveloped_token(signed),
                content_type=media,
                headers={"Location": location},
            )
        return json_response({"verifiableCredential": signed}, 201, {"Location": location})
    location = "/credentials/" + quote(str(signed.get("id", "")), safe="")
    return json_response({"verifiableCredential": signed}, 201, {"Location": location})


def jose_document_id(enveloped: Mapping[str, Any]) -> str:
    """The credential id inside an EnvelopedVerifiableCredential we issued (for Location)."""
    return credential_id(enveloped)


# --- verify --------------------------------------------------------------------------------------


def _checks_option(options: Mapping[str, Any]) -> frozenset[str]:
    """``options.checks``: the checks to run (all when absent); an unknown name is a 400."""
    checks = options.get("checks")
    if checks is None:
        return check_names(None)
    if not isinstance(checks, list) or not all(isinstance(c, str) for c in checks):
        raise MalformedInputError("options.checks must be a list of strings", field="checks")
    return check_names(checks)


def verification_response(result: VerificationResult) -> web.Response:
    """200 when verified; else 400 (malformed input) or 422 with problem details merged in."""
    body = result.to_dict()
    if result.verified:
        return json_response(body)
    first = next((e for e in result.errors if isinstance(e, Mapping)), {})
    code = str(first.get("code") or "VERIFICATION_ERROR")
    status = 400 if code in _BAD_REQUEST_CODES else 422
    detail = str(first.get("detail") or "the document did not verify")
    check = first.get("check")
    body.update(
        problem(
            status,
            code,
            "Verification failed",
            f"{check}: {detail}" if check else detail,
        )
    )
    return web.Response(status=status, body=json_bytes(body), content_type=PROBLEM_JSON)


def _failed(exc: VCIssuerError, kind: str) -> web.Response:
    """A request we cannot even start verifying: same body shape, verified false."""
    err = exc.to_problem()
    body: dict[str, Any] = {
        "verified": False,
        "kind": kind,
        "checks": [{"name": "request", "passed": False, "code": exc.code, "detail": exc.detail}],
        "errors": [{**err, "check": "request"}],
        "warnings": [],
    }
    body.update(err)
    return web.Response(status=exc.http_status, body=json_bytes(body), content_type=PROBLEM_JSON)


_IMAGE_TYPES = frozenset({"image/png", "image/svg+xml"})
#: Bodies that are a compact JWS as text (VC-JOSE-COSE §6.1, RFC 7519 §10.3.1), verified as is.
_TOKEN_TYPES = frozenset({"application/vc+jwt", "application/vp+jwt", "application/jwt"})


async def _raw_body(request: web.Request, what: str) -> bytes:
    data = await request.read()  # too large: aiohttp's 413, answered by error_middleware
    if not data.strip():
        raise MalformedInputError(f"the request body is empty; send {what}")
    return data


async def verify_credential_route(request: web.Request) -> web.Response:
    """POST /credentials/verify (public), one entry point for every format:

    - JSON ``{verifiableCredential, options}``: ``verifiableCredential`` is a credential with a
      Data Integrity proof, an EnvelopedVerifiableCredential, a compact JWS string, or an
      Open Badges 2.0 assertion (hosted JSON); ``options.recipientEmail`` adds the recipient
      check;
    - a raw JWT (``Content-Type: application/vc+jwt``, ``application/jwt``);
    - a baked PNG/SVG badge (``image/png``, ``image/svg+xml``), OB 3.0 or OB 2.0.
    """
    recipient: str | None = None
    media: str | None = None
    checks = check_names(None)
    try:
        value: Any
        if request.content_type in _IMAGE_TYPES:
            media = request.content_type
            value = await _raw_body(request, "a baked PNG or SVG badge")
        elif request.content_type in _TOKEN_TYPES:
            media = request.content_type
            value = (await _raw_body(request, "a compact JWS")).decode("ascii", "replace")
        else:
            body = await read_json_object(request)
            options = _options(body)
            checks = _checks_option(options)
            recipient = _opt_str(options, "recipientEmail")
            if "verifiableCredential" not in body:
                raise MalformedInputError(
                    "the request needs a verifiableCredential", field="verifiableCredential"
                )
            value = body["verifiableCredential"]
            if not isinstance(value, (dict, str)):
                raise MalformedInputError(
                    "verifiableCredential must be a JSON object or a compact JWS string",
                    field="verifiableCredential",
                )
            if isinstance(value, str) and not looks_like_jws(value):
                raise MalformedInputError(
                    "a verifiableCredential string must be a compact JWS (a VC-JWT)",
                    field="verifiableCredential",
                )
    except VCIssuerError as exc:
        if exc.http_status == 413:
            raise
        return _failed(exc, "credential")
    try:
        result = await offload.verify(
            request, value, media_type=media, recipient_email=recipient, checks=checks
        )
    except VCIssuerError as exc:  # unreadable: not JSON, no baked credential, fetch failed
        return _failed(exc, "credential")
    return verification_response(result)


async def verify_presentation_route(request: web.Request) -> web.Response:
    """POST /presentations/verify (public): signed or unsigned, with challenge and domain."""
    try:
        body = await read_json_object(request)
        options = _options(body)
        checks = _checks_option(options)
        challenge = _opt_str(options, "challenge")
        domain = _opt_str(options, "domain")
        if "verifiablePresentation" not in body:
            raise MalformedInputError(
                "the request needs a verifiablePresentation", field="verifiablePresentation"
            )
        vp = body["verifiablePresentation"]
        if not isinstance(vp, dict):
            raise MalformedInputError(
                "verifiablePresentation must be a JSON object", field="verifiablePresentation"
            )
    except VCIssuerError as exc:
        if exc.http_status == 413:
            raise
        return _failed(exc, "presentation")
    result = await offload.verify_vp(request, vp, challenge=challenge, domain=domain, checks=checks)
    return verification_response(result)


# --- status and read -----------------------------------------------------------------------------


def _purpose(body: Mapping[str, Any]) -> str:
    status = body.get("credentialStatus")
    raw: list[Any] = status if isinstance(status, list) else [status]
    entries = [e for e in raw if isinstance(e, dict)]
    if status is None or not entries or len(entries) != len(raw):
        raise MalformedInputError(
            "credentialStatus must be an object {type, statusPurpose}", field="credentialStatus"
        )
    purposes: set[str] = set()
    for entry in entries:
        etype = entry.get("type")
        if etype is not None and etype not in _STATUS_ENTRY_TYPES:
            raise MalformedInputError(
                f"credentialStatus type {etype!r} is not supported; use"
                f" {' or '.join(_STATUS_ENTRY_TYPES)}",
                field="credentialStatus.type",
            )
        purpose = entry.get("statusPurpose")
        if not isinstance(purpose, str) or not purpose:
            raise MalformedInputError(
                "credentialStatus.statusPurpose must be revocation, suspension or message",
                field="credentialStatus.statusPurpose",
            )
        purposes.add(purpose)
    if len(purposes) != 1:
        raise MalformedInputError("change one status purpose per request", field="credentialStatus")
    return purposes.pop()


def status_value(value: object) -> bool | int:
    """A status to set: true/false for one-bit purposes; for a multi-bit entry (``message``)
    the value as an integer or as ``statusMessage`` writes it (``"0x2"``)."""
    if isinstance(value, bool | int):
        return value
    if isinstance(value, str) and re.fullmatch(r"0x[0-9A-Fa-f]{1,2}", value):
        return int(value, 16)
    raise MalformedInputError(
        "status must be true or false, or for a message status a value like 0x2 or 2",
        field="status",
    )


@requires("status")
async def update_status(request: web.Request) -> web.Response:
    """POST /credentials/status: revoke, suspend or reinstate an issued credential, or set the
    value of its multi-bit ``message`` status."""
    state = state_of(request)
    body = await read_json_object(request)
    credential_id = required_string(body, "credentialId")
    purpose = _purpose(body)
    value = status_value(body.get("status"))
    reason = body.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 1000):
        raise MalformedInputError("reason must be a string of at most 1000 characters")
    actor = request[PRINCIPAL_KEY].actor
    change = await state.issuer.set_status(
        credential_id, purpose, value, actor=actor, reason=reason
    )
    return json_response(change)


@requires("read")
async def get_credential(request: web.Request) -> web.Response:
    """GET /credentials/{id}: the credential as issued (and stored)."""
    state = state_of(request)
    credential_id = request.match_info["id"]
    credential = await state.issuer.get_credential(credential_id)
    if credential is None:
        raise NotFoundError(f"no credential {credential_id!r} was issued here")
    return json_response(credential)


def routes(services: ServiceState) -> list[Route]:
    """The routes of this module, with their OpenAPI operations."""

    def verify_responses(what: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """What the verify routes answer about ``what`` (a credential or a presentation)."""
        return {
            "200": json_spec("Verified", schema_ref("VerificationResult")),
            "400": verification_failed(f"Malformed request or {what}"),
            "413": problem_spec("Request body larger than the limit"),
            **(extra or {}),
            "422": verification_failed(f"The {what} does not verify"),
        }

    return [
        Route(
            "POST",
            "/credentials/issue",
            issue_credential,
            {
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
                "requestBody": json_body(schema_ref("IssueCredentialRequest")),
                "responses": {
                    "201": {
                        "description": "Issued (with Accept: application/vc+jwt and format jwt:"
                        " the bare token)",
                        "content": {
                            "application/json": {"schema": schema_ref("IssueCredentialResponse")},
                            "application/vc+jwt": {"schema": {"type": "string"}},
                        },
                    },
                    **BODY_ERRORS,
                    **AUTH_ERRORS,
                    "422": problem_spec(
                        "Credential cannot be signed (e.g. undefined JSON-LD terms)"
                    ),
                },
            },
        ),
        Route(
            "POST",
            "/credentials/verify",
            verify_credential_route,
            {
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
                        "application/json": {"schema": schema_ref("VerifyCredentialRequest")},
                        "application/vc+jwt": {"schema": {"type": "string"}},
                        "application/jwt": {"schema": {"type": "string"}},
                        "image/png": {"schema": {"type": "string", "format": "binary"}},
                        "image/svg+xml": {"schema": {"type": "string"}},
                    },
                },
                "responses": verify_responses(
                    "credential",
                    {"415": verification_failed("UNSUPPORTED_IMAGE: an image neither PNG nor SVG")},
                ),
            },
        ),
        Route(
            "POST",
            "/presentations/verify",
            verify_presentation_route,
            {
                "operationId": "verifyPresentation",
                "summary": "Verify a presentation (signed or unsigned) and every credential in it",
                "security": [],
                "requestBody": json_body(schema_ref("VerifyPresentationRequest")),
                "responses": verify_responses("presentation"),
            },
        ),
        Route(
            "POST",
            "/credentials/status",
            update_status,
            {
                "operationId": "updateCredentialStatus",
                "summary": "Revoke, suspend or reinstate an issued credential",
                "security": [{"bearer": ["status"]}],
                "requestBody": json_body(schema_ref("UpdateStatusRequest")),
                "responses": {
                    "200": json_spec("Status set", schema_ref("StatusChange")),
                    **BODY_ERRORS,
                    **AUTH_ERRORS,
                    "404": problem_spec("No such credential was issued here"),
                    "409": problem_spec(
                        "Not allowed (revocation is permanent; no such status entry)"
                    ),
                },
            },
        ),
        Route(
            "GET",
            "/credentials/{id:.+}",
            get_credential,
            {
                "operationId": "getCredential",
                "summary": "The stored credential as issued",
                "security": [{"bearer": ["read"]}],
                "parameters": [path_param("id")],
                "responses": {
                    "200": json_spec("The credential", schema_ref("Credential")),
                    **AUTH_ERRORS,
                    "404": problem_spec("No such credential"),
                },
            },
        ),
    ]


__all__ = ["routes", "suites_from_options", "verification_response"]
