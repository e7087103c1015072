"""HTTP routes of badge designs and awards: ``/achievements`` and the public ``/images/...``.

Writes need the ``issue`` scope, reads the ``read`` scope. A design is sent as an OB 3.0
``Achievement`` without ``id`` (the issuer assigns it); ``image.id`` may be a ``data:`` URL, which
is stored and replaced by its stable ``/images/{sha256}.{png|svg}`` URL. Images are public and
content-addressed, so they are served ``immutable``. An award answers with the signed badge in
the OB-schema shape (``proof`` as an array), its id, its public page and the recipient's personal
claim link; a failed award stores nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from aiohttp import web

from vc_issuer.badges.achievements import AchievementService, StoredAchievement
from vc_issuer.badges.awards import Awarder, Recipient
from vc_issuer.badges.notify import ClaimNotice
from vc_issuer.core.credentials import format_datetime
from vc_issuer.errors import (
    EmailNotConfiguredError,
    InvalidRecipientError,
    MalformedInputError,
    MissingRecipientError,
    NoRecipientEmailError,
)
from vc_issuer.http import display
from vc_issuer.http.auth import requires
from vc_issuer.http.middlewares import read_json_object
from vc_issuer.http.openapi import AUTH_ERRORS as _AUTH
from vc_issuer.http.openapi import (
    CACHE_HEADERS,
    FORMER_CLAIM_LINK,
    IF_NONE_MATCH,
    json_spec,
    object_of,
    path_param,
    strings,
)
from vc_issuer.http.openapi import problem_spec as _problem
from vc_issuer.http.problems import json_response
from vc_issuer.http.public import etag_matches
from vc_issuer.http.routes import Route
from vc_issuer.http.state import ServiceState, state_of
from vc_issuer.http.vcapi import securing_from_options

JSON: Final = "application/json"
#: One year, never revalidated: an image URL names the SHA-256 of its bytes.
IMAGE_CACHE_CONTROL: Final = "public, max-age=31536000, immutable"
_IF_MATCH = re.compile(r'^\s*(?:W/)?"?(\d{1,9})"?\s*$')
_TRUE: Final = frozenset({"1", "true", "yes"})
_FALSE: Final = frozenset({"", "0", "false", "no"})


def service_of(request: web.Request) -> AchievementService:
    return state_of(request).achievements


def _stored(stored: StoredAchievement, status: int = 200) -> web.Response:
    """One design; ``ETag`` is its version, for ``If-Match`` on the next ``PUT``."""
    return json_response(
        stored.to_json(),
        status,
        {"ETag": f'"{stored.version}"', "Location": f"/achievements/{stored.key}"},
    )


def _flag(request: web.Request, name: str) -> bool:
    value = request.query.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise MalformedInputError(f"?{name} must be 1 or 0 (true or false)", field=name)


# --- designs -------------------------------------------------------------------------------------


@requires("issue")
async def create_achievement(request: web.Request) -> web.Response:
    """POST /achievements (an OB Achievement without id) -> 201 the stored design."""
    body = await read_json_object(request)
    stored = await service_of(request).create(body)
    return _stored(stored, 201)


async def list_achievements(request: web.Request) -> web.StreamResponse:
    """GET /achievements: the public catalog (browsers, JSON-LD clients, callers without a
    token), else the admin listing."""
    if display.public_read(request):
        return await display.catalog(request, service_of(request))
    return await _list_achievements(request)


@requires("read")
async def _list_achievements(request: web.Request) -> web.Response:
    """The admin GET /achievements[?all=1]: current versions, archived ones only with ``all``."""
    items = await service_of(request).list(include_archived=_flag(request, "all"))
    return json_response({"achievements": [s.to_json() for s in items]})


def _version_query(request: web.Request) -> int | None:
    raw = request.query.get("version")
    if raw is None:
        return None
    if not raw.isdigit() or not 0 < int(raw) < 10**9:
        raise MalformedInputError("?version must be a positive integer", field="version")
    return int(raw)


async def get_achievement(request: web.Request) -> web.StreamResponse:
    """GET /achievements/{id}: an achievement id resolves here. The public view (its page or
    its OB Achievement) for browsers, JSON-LD clients and callers without a token, else the
    admin view."""
    if display.public_read(request):
        return await display.achievement(request, service_of(request))
    return await _get_achievement(request)


@requires("read")
async def _get_achievement(request: web.Request) -> web.Response:
    """The admin GET /achievements/{id}[?version=N]: by key or URL-encoded full id."""
    stored = await service_of(request).get(request.match_info["id"], _version_query(request))
    return _stored(stored)


def _expected_version(request: web.Request, body: dict[str, Any]) -> int | None:
    """From ``If-Match: "N"`` and/or the body's ``expectedVersion`` (they must agree)."""
    from_body = body.pop("expectedVersion", None)
    if from_body is not None and (
        isinstance(from_body, bool) or not isinstance(from_body, int) or from_body < 1
    ):
        raise MalformedInputError(
            "expectedVersion must be a positive integer", field="expectedVersion"
        )
    header = request.headers.get("If-Match")
    from_header: int | None = None
    if header is not None and header.strip() != "*":
        match = _IF_MATCH.match(header)
        if match is None:
            raise MalformedInputError(
                'If-Match must be the version ETag, e.g. "2"', field="If-Match"
            )
        from_header = int(match.group(1))
    if from_body is not None and from_header is not None and from_body != from_header:
        raise MalformedInputError(
            f"If-Match ({from_header}) and expectedVersion ({from_body}) disagree",
            field="expectedVersion",
        )
    return from_header if from_header is not None else from_body


@requires("issue")
async def update_achievement(request: web.Request) -> web.Response:
    """PUT /achievements/{id}: the whole new design, stored as the next version."""
    body = await read_json_object(request)
    expected = _expected_version(request, body)
    stored = await service_of(request).update(
        request.match_info["id"], body, replace=True, expected_version=expected
    )
    return _stored(stored)


@requires("issue")
async def archive_achievement(request: web.Request) -> web.Response:
    """POST /achievements/{id}/archive: no more awards; issued badges are untouched."""
    stored = await service_of(request).archive(request.match_info["id"])
    return _stored(stored)


# --- awards --------------------------------------------------------------------------------------


def _opt_str(obj: Mapping[str, Any], name: str, field: str) -> str | None:
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRecipientError(f"{field} must be a string", field=field)
    return value


def recipient_from_body(body: Mapping[str, Any]) -> Recipient:
    """``{recipient: {id?, email?, name?}, evidence?}`` -> a checked ``Recipient``."""
    raw = body.get("recipient")
    if raw is None:
        raise MissingRecipientError(
            "the request needs a recipient {id: DID} or {email}",
            field="recipient",
        )
    if not isinstance(raw, Mapping):
        raise InvalidRecipientError(
            "recipient must be an object {id?, email?, name?}",
            field="recipient",
        )
    evidence = body.get("evidence")
    if evidence is None:
        items: tuple[dict[str, Any], ...] = ()
    elif isinstance(evidence, Mapping):
        items = (dict(evidence),)
    elif isinstance(evidence, list) and all(isinstance(e, Mapping) for e in evidence):
        items = tuple(dict(e) for e in evidence)
    else:
        raise MalformedInputError(
            "evidence must be an Evidence object or a list of them", field="evidence"
        )
    return Recipient(
        did=_opt_str(raw, "id", "recipient.id"),
        email=_opt_str(raw, "email", "recipient.email"),
        name=_opt_str(raw, "name", "recipient.name"),
        evidence=items,
    )


def _awarded_date(body: Mapping[str, Any]) -> datetime | None:
    value = body.get("awardedDate")
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedInputError("awardedDate must be a date-time string", field="awardedDate")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedInputError(
            f"awardedDate {value!r} is not an ISO 8601 date-time", field="awardedDate"
        ) from None
    if moment.tzinfo is None:
        raise MalformedInputError(
            "awardedDate needs a time zone (e.g. 2024-05-01T09:00:00Z)", field="awardedDate"
        )
    return moment


def _notice(
    request: web.Request, body: Mapping[str, Any], recipient: Recipient, ttl_seconds: float
) -> ClaimNotice | None:
    """``"notify": true``: the claim link and its email go into the award's transaction."""
    notify = body.get("notify", False)
    if not isinstance(notify, bool):
        raise MalformedInputError("notify must be true or false", field="notify")
    if not notify:
        return None
    if state_of(request).mailer is None:
        raise EmailNotConfiguredError(
            "this server sends no email: add [email] to the home's config.toml"
        )
    if recipient.email is None:
        raise NoRecipientEmailError(
            "notify needs recipient.email: a claim link is only sent to its owner",
            field="recipient.email",
        )
    return ClaimNotice(state_of(request).issuer.base_url, ttl_seconds)


@requires("issue")
async def award_achievement(request: web.Request) -> web.Response:
    """POST /achievements/{id}/awards -> 201 {verifiableCredential, credentialId, pageUrl,
    claimLink}; the same recipient again -> 200 with the first award (unless ``repeat``). Every
    call makes a new personal claim link (``claimLink``), e.g. to re-send a lost one.
    ``options`` as for /credentials/issue (``format: "jwt"``, ``cryptosuite``, ``alg``,
    ``verificationMethod``): a JWT award's ``verifiableCredential`` is its envelope."""
    state = state_of(request)
    service = state.achievements
    body = await read_json_object(request)
    repeat = body.get("repeat", False)
    if not isinstance(repeat, bool):
        raise MalformedInputError("repeat must be true or false", field="repeat")
    recipient = recipient_from_body(body)
    awarded = _awarded_date(body)
    claims = state.claims
    notice = _notice(request, body, recipient, claims.ttl.total_seconds())
    options = body.get("options", {})
    if not isinstance(options, dict):
        raise MalformedInputError("options must be a JSON object", field="options")
    securing = securing_from_options(options)  # format, cryptosuite, alg, verificationMethod
    # A fresh Awarder per request: it reads the issuer profile as it is now.
    awarder = Awarder(state.issuer, service, attach=notice, securing=securing)
    award = await awarder.award(request.match_info["id"], recipient, awarded=awarded, repeat=repeat)
    if award.claim_link:  # made with the award, and its email queued in the same transaction
        (made,) = await claims.list(credential_id=award.credential_id, limit=1)  # a new award
        claim_link, expires = award.claim_link, format_datetime(made.expires_at)
        if state.mailer is not None:
            state.mailer.wake()
    else:
        claim = await claims.create(award.credential_id)
        claim_link, expires = claim.url, claim.to_dict()["expires"]
    out = {
        "verifiableCredential": award.credential,
        "credentialId": award.credential_id,
        "pageUrl": award.page_url,
        "claimLink": claim_link,
        "claimUrl": claim_link,  # deprecated name of claimLink (kept for older clients)
        "claimExpires": expires,
        "created": award.created,
        "notified": award.notified == "queued",
    }
    return json_response(out, 201 if award.created else 200, {"Location": award.page_url})


# --- images --------------------------------------------------------------------------------------


async def get_image(request: web.Request) -> web.StreamResponse:
    """GET /images/{sha256}.{png|svg} (public): content-addressed, cached forever."""
    record = await service_of(request).image(request.match_info["name"])
    etag = f'"{record.sha256}"'
    headers = {
        "ETag": etag,
        "Cache-Control": IMAGE_CACHE_CONTROL,
        "X-Content-Type-Options": "nosniff",
        # An SVG opened directly must not run anything on our origin.
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    }
    if etag_matches(request.headers.get("If-None-Match"), etag):
        return web.Response(status=304, headers=headers)
    return web.Response(body=record.data, content_type=record.media_type, headers=headers)


# --- OpenAPI -------------------------------------------------------------------------------------


def _public(
    description: str, schema: dict[str, Any], *, ld: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A 200 that is JSON (admin or public), JSON-LD (public) or a page (public)."""
    content: dict[str, Any] = {JSON: {"schema": schema}}
    if ld is not None:
        content["application/ld+json"] = {"schema": ld}
    content["text/html"] = {"schema": {"type": "string"}}
    return {"description": description, "content": content, "headers": _ETAG}


_ID: Final = path_param("id", "The achievement's key (a UUID) or its full id, URL-encoded")
_ACHIEVEMENT_IN: Final = {
    "type": "object",
    "description": "An OB 3.0 Achievement without id (name, description, criteria, image,"
    " achievementType, tag, alignment, resultDescription, ...) plus validForMonths;"
    " image.id may be a data: URL of a PNG or SVG, which is stored.",
    "properties": {
        **strings("name", "description"),
        "criteria": {"type": "object"},
        "image": {"type": ["object", "string"]},
        "validForMonths": {"type": ["integer", "null"]},
        "expectedVersion": {"type": "integer", "minimum": 1, "description": "PUT only"},
    },
    "additionalProperties": True,
}
_STORED: Final = {
    "type": "object",
    "required": ["id", "key", "version", "archived", "achievement"],
    "properties": {
        **strings("id", "key", "created", "updated"),
        "version": {"type": "integer"},
        "archived": {"type": "boolean"},
        "validForMonths": {"type": ["integer", "null"]},
        "achievement": {"type": "object"},
    },
}
_ETAG: Final = {"ETag": {"schema": {"type": "string"}, "description": "The version, quoted"}}
_AWARD_IN: Final = {
    "type": "object",
    "required": ["recipient"],
    "properties": {
        "recipient": object_of(
            "A DID (id) and/or an email (hashed in the badge); name is optional",
            strings("id", "email", "name"),
        ),
        "evidence": {"type": ["object", "array"]},
        "awardedDate": {"type": "string", "format": "date-time"},
        "repeat": {"type": "boolean", "description": "issue again even if awarded before"},
        "notify": {
            "type": "boolean",
            "description": "email the claim link to recipient.email (queued with the award)",
        },
    },
}
_AWARD_OUT: Final = {
    "type": "object",
    "required": ["verifiableCredential", "credentialId", "pageUrl", "claimLink"],
    "properties": {
        "verifiableCredential": {"type": "object"},
        "credentialId": {"type": "string"},
        "pageUrl": {"type": "string", "description": "The badge's public page (shareable)"},
        "claimLink": {
            "type": "string",
            "description": "The learner's personal claim link (/claim/...): send it to them only,"
            " never share it",
        },
        "claimUrl": FORMER_CLAIM_LINK,
        "claimExpires": {"type": "string"},
        "created": {"type": "boolean"},
        "notified": {
            "type": "boolean",
            "description": "true: the claim email is queued (sent by the server's outbox)",
        },
    },
}
_BODY: Final = {
    "400": _problem("Malformed request or design (e.g. UNSUPPORTED_IMAGE, INVALID_IMAGE)"),
    "413": _problem("Request body or image larger than the limit"),
    "415": _problem("UNSUPPORTED_IMAGE: the image is neither a PNG nor an SVG"),
}


def routes(services: ServiceState) -> list[Route]:
    """The routes of this module, with their OpenAPI operations."""
    body = {"required": True, "content": {JSON: {"schema": _ACHIEVEMENT_IN}}}
    return [
        Route(
            "POST",
            "/achievements",
            create_achievement,
            {
                "operationId": "createAchievement",
                "summary": "Store a new badge design (version 1)",
                "security": [{"bearer": ["issue"]}],
                "requestBody": body,
                "responses": {
                    "201": json_spec("The stored design", _STORED, _ETAG),
                    **_BODY,
                    **_AUTH,
                },
            },
        ),
        Route(
            "GET",
            "/achievements",
            list_achievements,
            {
                "operationId": "listAchievements",
                "summary": "With a read token: the current designs (archived ones with ?all=1)."
                " Without one, for browsers or JSON-LD clients: the public catalog",
                "security": [{}, {"bearer": ["read"]}],
                "parameters": [
                    {
                        "name": "all",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["0", "1", "true", "false"]},
                    }
                ],
                "responses": {
                    "200": _public(
                        "The designs (admin), or the public catalog",
                        {
                            "anyOf": [
                                {
                                    "type": "object",
                                    "required": ["achievements"],
                                    "properties": {
                                        "achievements": {"type": "array", "items": _STORED}
                                    },
                                },
                                display.CATALOG_SCHEMA,
                            ]
                        },
                    ),
                    "400": _problem("Bad query parameter"),
                    **_AUTH,
                },
            },
        ),
        Route(
            "GET",
            "/achievements/{id}",
            get_achievement,
            {
                "operationId": "getAchievement",
                "summary": "An achievement id resolves here. With a read token: the stored design"
                " (its current version, or ?version=N). Without one, for browsers or JSON-LD"
                " clients: the public view (a page, or the OB 3.0 Achievement)",
                "security": [{}, {"bearer": ["read"]}],
                "parameters": [
                    _ID,
                    {
                        "name": "version",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1},
                    },
                ],
                "responses": {
                    "200": _public(
                        "The design (admin, with its version as ETag), or the public view",
                        {"anyOf": [_STORED, display.ACHIEVEMENT_SCHEMA]},
                        ld=display.ACHIEVEMENT_SCHEMA,
                    ),
                    "400": _problem("Bad query parameter"),
                    **_AUTH,
                    "404": {
                        "description": "ACHIEVEMENT_NOT_FOUND (a page for browsers)",
                        "content": {
                            **_problem("")["content"],
                            "text/html": {"schema": {"type": "string"}},
                        },
                    },
                },
            },
        ),
        Route(
            "PUT",
            "/achievements/{id}",
            update_achievement,
            {
                "operationId": "updateAchievement",
                "summary": "Store the next version of a design (issued badges stay valid)",
                "security": [{"bearer": ["issue"]}],
                "parameters": [
                    _ID,
                    {
                        "name": "If-Match",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string"},
                        "description": 'The version being replaced, e.g. "2"',
                    },
                ],
                "requestBody": body,
                "responses": {
                    "200": json_spec("The new version", _STORED, _ETAG),
                    **_BODY,
                    **_AUTH,
                    "404": _problem("ACHIEVEMENT_NOT_FOUND"),
                    "409": _problem("VERSION_CONFLICT: changed meanwhile"),
                },
            },
        ),
        Route(
            "POST",
            "/achievements/{id}/archive",
            archive_achievement,
            {
                "operationId": "archiveAchievement",
                "summary": "Archive a design: no more awards (issued badges are untouched)",
                "security": [{"bearer": ["issue"]}],
                "parameters": [_ID],
                "responses": {
                    "200": json_spec("The archived design", _STORED, _ETAG),
                    **_AUTH,
                    "404": _problem("ACHIEVEMENT_NOT_FOUND"),
                },
            },
        ),
        Route(
            "POST",
            "/achievements/{id}/awards",
            award_achievement,
            {
                "operationId": "awardAchievement",
                "summary": "Award the badge to one recipient (signed OpenBadgeCredential)",
                "security": [{"bearer": ["issue"]}],
                "parameters": [_ID],
                "requestBody": {"required": True, "content": {JSON: {"schema": _AWARD_IN}}},
                "responses": {
                    "201": json_spec("Awarded", _AWARD_OUT),
                    "200": json_spec(
                        "Awarded before to this recipient: the first award", _AWARD_OUT
                    ),
                    "400": _problem(
                        "MISSING_RECIPIENT, INVALID_RECIPIENT, SCHEMA_VALIDATION_ERROR, ..."
                    ),
                    **_AUTH,
                    "404": _problem("ACHIEVEMENT_NOT_FOUND"),
                    "409": _problem("ACHIEVEMENT_ARCHIVED, or the status list is full"),
                    "413": _problem("Request body larger than the limit"),
                    "422": _problem(
                        "SCHEMA_VALIDATION_ERROR (the OB schema refuses it, nothing is signed),"
                        " or the badge cannot be signed"
                    ),
                },
            },
        ),
        Route(
            "GET",
            "/images/{name}",
            get_image,
            {
                "operationId": "getImage",
                "summary": "A stored badge image, {sha256}.png or {sha256}.svg (immutable)",
                "security": [],
                "parameters": [
                    path_param("name", "{sha256}.png or {sha256}.svg"),
                    IF_NONE_MATCH,
                ],
                "responses": {
                    "200": {
                        "description": "The image",
                        "headers": CACHE_HEADERS,
                        "content": {
                            "image/png": {"schema": {"type": "string", "format": "binary"}},
                            "image/svg+xml": {"schema": {"type": "string"}},
                        },
                    },
                    "304": {"description": "Not modified"},
                    "404": _problem("IMAGE_NOT_FOUND"),
                },
            },
        ),
    ]


__all__ = [
    "IMAGE_CACHE_CONTROL",
    "recipient_from_body",
    "routes",
]
