"""The public display side: ``/`` (home), ``/issuer`` (profile), the badge catalog, oEmbed and
the printable certificate.

One address serves people and programs (content negotiation, :mod:`vc_issuer.http.negotiate`):
a browser gets a server-rendered page, a program JSON. An achievement's ``id`` is its URL here,
``{base}/achievements/{key}``, the same URL the admin API has always used: the admin API keeps
answering a request that carries a token (read scope) and asks for JSON, so existing clients and
the achievement ids embedded in issued badges keep their meaning. Everyone else (a browser, a
JSON-LD client, a program without a token) gets the public view: the OB 3.0 Achievement
(``application/ld+json``, with ``@context``) or its page, archived designs included (issued
badges point at them), while ``/achievements`` lists only the current, non-archived ones.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, Final
from urllib.parse import urlsplit

from aiohttp import web

from vc_issuer import __version__
from vc_issuer.badges import sharing
from vc_issuer.badges.achievements import IMAGE_PATH, AchievementService, StoredAchievement
from vc_issuer.badges.certificate import CertificateData, Standing, render_certificate
from vc_issuer.badges.openbadges import OB_CONTEXT, VC_V2_CONTEXT, IssuerProfile
from vc_issuer.errors import (
    CredentialPageNotFoundError,
    ForeignUrlError,
    FormatNotSupportedError,
    MalformedInputError,
    NotFoundError,
)
from vc_issuer.http.auth import AUTH_KEY
from vc_issuer.http.negotiate import JSON, JSON_LD, preferred, wants_html
from vc_issuer.http.openapi import path_param, problem_spec, strings
from vc_issuer.http.pages import (
    badge_facts,
    badge_source,
    did_web_domain,
    embed_html,
    own_path,
    page_record,
    render,
    verify_input_for_page,
)
from vc_issuer.http.problems import json_bytes
from vc_issuer.http.routes import Route
from vc_issuer.http.state import ServiceState, state_of

PROFILE_PATH: Final = "/issuer"
CONTEXT: Final = [VC_V2_CONTEXT, OB_CONTEXT]
#: Public views may be cached briefly; a profile or design change shows within a minute.
PUBLIC_CACHE: Final = "public, max-age=60"
_PAGE_PATH = re.compile(r"^/c/([A-Za-z0-9-]{1,64})/?$")
_ADMIN_QUERY: Final = frozenset({"all", "version"})


# --- who gets which view --------------------------------------------------------------------------


def public_read(request: web.Request) -> bool:
    """Whether a GET of ``/achievements[/{id}]`` gets the public view: browsers and JSON-LD
    clients always; callers with no token when tokens are required, unless they use the admin
    API's own query parameters (``all``, ``version``), which still need the read scope."""
    if wants_html(request) or _asks_json_ld(request):
        return True
    if _ADMIN_QUERY & set(request.query):
        return False
    return "Authorization" not in request.headers and request.app[AUTH_KEY].enabled


def _asks_json_ld(request: web.Request) -> bool:
    """``application/ld+json`` named and ranked at least as high as plain JSON (``*/*``, as
    curl sends, names neither and keeps the admin API for token holders)."""
    accept = request.headers.get("Accept", "")
    return JSON_LD in accept.lower() and preferred(request, (JSON_LD, JSON)) == JSON_LD


def _json(request: web.Request, doc: Any, *, linked_data: bool) -> web.Response:
    """``doc`` as ``application/ld+json`` when it is a JSON-LD document the client asked for
    as such, else as ``application/json`` (the same bytes)."""
    media = JSON_LD if linked_data and _asks_json_ld(request) else JSON
    return web.Response(
        body=json_bytes(doc),
        content_type=media,
        headers={"Vary": "Accept, Authorization", "Cache-Control": PUBLIC_CACHE},
    )


def _page(template: str, /, status: int = 200, **context: Any) -> web.Response:
    response = render(template, status, external_images=True, **context)
    response.headers["Vary"] = "Accept, Authorization"
    if status == 200:
        response.headers["Cache-Control"] = PUBLIC_CACHE
    return response


def _not_found_page(message: str) -> web.Response:
    return render("error.html", 404, title="Page not found", message=message)


# --- the issuer profile ---------------------------------------------------------------------------


def profile_service(request: web.Request) -> AchievementService:
    """The profile lives beside the designs (store metadata, read on every request so that
    ``vc-issuer profile set`` shows at once in every worker)."""
    issuer = state_of(request).issuer
    return AchievementService(issuer.store, base_url=issuer.base_url)


async def current_profile(request: web.Request) -> IssuerProfile:
    issuer = state_of(request).issuer
    return await profile_service(request).profile(issuer.did, issuer.issuer_name)


def image_src(request: web.Request, url: str | None) -> str | None:
    """Where a page loads an image from: our own ``/images/`` by path, ``data:`` and https
    URLs as given (the page's policy allows them), anything else not at all."""
    if not url:
        return None
    own = own_path(request, url, IMAGE_PATH)
    if own is not None:
        return own
    return url if url.startswith(("data:image/", "https://")) else None


def _profile_view(request: web.Request, profile: IssuerProfile) -> dict[str, Any]:
    """What the pages show of the profile (``name`` None when the issuer has none yet)."""
    return {
        "did": profile.id,
        "name": profile.name if profile.name != profile.id else None,
        "url": profile.url,
        "email": profile.email,
        "description": profile.description,
        "logo": image_src(request, profile.image.id if profile.image else None),
        "domain": did_web_domain(profile.id),
    }


def profile_document(profile: IssuerProfile) -> dict[str, Any]:
    """The OB 3.0 Profile as a JSON-LD document of its own."""
    return {"@context": CONTEXT, **profile.to_json()}


async def issuer_profile(request: web.Request) -> web.Response:
    """GET /issuer: the issuer's profile page, or its OB 3.0 Profile as JSON."""
    profile = await current_profile(request)
    if not wants_html(request):
        return _json(request, profile_document(profile), linked_data=True)
    achievements = await profile_service(request).list()
    view = _profile_view(request, profile)
    return _page(
        "issuer.html",
        title=view["name"] or "Issuer",
        profile=view,
        achievements=[_achievement_view(request, s) for s in achievements],
    )


async def home(request: web.Request) -> web.Response:
    """GET /: who runs this server and where to go (a page), or the same as JSON."""
    state = state_of(request)
    profile = await current_profile(request)
    base = state.base_url
    links = {
        "issuer": base + PROFILE_PATH,
        "achievements": base + "/achievements",
        "verify": base + "/verify",
        "openapi": base + "/openapi.json",
        "issue": base + "/credentials/issue",
        "verifyCredential": base + "/credentials/verify",
        "health": base + "/healthz",
    }
    if not wants_html(request):
        doc = {
            "service": "vc-issuer",
            "version": __version__,
            "issuer": profile.to_json(),
            "links": links,
        }
        return _json(request, doc, linked_data=False)
    view = _profile_view(request, profile)
    return _page("home.html", title=view["name"] or "Verifiable credentials", profile=view)


# --- the catalog ----------------------------------------------------------------------------------


def _achievement_view(request: web.Request, stored: StoredAchievement) -> dict[str, Any]:
    ach = stored.achievement
    return {
        "id": stored.id,
        "path": own_path(request, stored.id, "/achievements/") or stored.id,
        "name": ach.name,
        "description": ach.description,
        "type": ach.achievement_type,
        "image": image_src(request, ach.image.id if ach.image else None),
        "image_alt": (ach.image.caption if ach.image and ach.image.caption else None)
        or f"Badge image for {ach.name}",
        "criteria": ach.criteria,
        "alignments": [a.to_json() for a in ach.alignments],  # as on credential pages
        "tags": ach.tags,
        "version": ach.version,
        "archived": stored.archived,
        "valid_for_months": ach.valid_for_months,
    }


def achievement_document(stored: StoredAchievement, profile: IssuerProfile) -> dict[str, Any]:
    """The OB 3.0 Achievement as a JSON-LD document; ``creator`` (OB's Profile of who made the
    design) is the issuer unless the design names another."""
    doc = {"@context": CONTEXT, **stored.achievement.to_json()}
    doc.setdefault("creator", profile.to_json())
    return doc


async def catalog(request: web.Request, service: AchievementService) -> web.Response:
    """The public ``GET /achievements``: current, non-archived designs, as a page or JSON."""
    profile = await current_profile(request)
    items = await service.list(include_archived=False)
    if not wants_html(request):
        doc = {
            "issuer": profile.to_json(),
            "achievements": [s.achievement.to_json() for s in items],
        }
        return _json(request, doc, linked_data=False)
    view = _profile_view(request, profile)
    return _page(
        "achievements.html",
        title=f"Badges from {view['name']}" if view["name"] else "Badges",
        profile=view,
        achievements=[_achievement_view(request, s) for s in items],
    )


async def achievement(request: web.Request, service: AchievementService) -> web.Response:
    """The public ``GET /achievements/{id}``: what the badge certifies and how to earn it."""
    html = wants_html(request)
    try:
        stored = await service.get(request.match_info["id"])
    except NotFoundError:
        if html:
            return _not_found_page("There is no badge at this address. Check the link.")
        raise
    profile = await current_profile(request)
    if not html:
        return _json(request, achievement_document(stored, profile), linked_data=True)
    view = _achievement_view(request, stored)
    return _page(
        "achievement.html",
        title=view["name"],
        achievement=view,
        profile=_profile_view(request, profile),
    )


# --- oEmbed ---------------------------------------------------------------------------------------


def _dimension(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or not 0 < int(raw) < 100_000:
        raise MalformedInputError(f"?{name} must be a positive integer (pixels)", field=name)
    return int(raw)


def _page_id_of(request: web.Request, url: str) -> str:
    """The page id of one of our ``/c/{page_id}`` URLs (query and fragment ignored: a pasted
    link may carry either, and a claim token is never embedded)."""
    parts = urlsplit(url)
    state = state_of(request)
    ours = {
        (urlsplit(base).scheme, urlsplit(base).netloc.lower(), urlsplit(base).path.rstrip("/"))
        for base in (state.base_url, state.issuer.base_url)
    }
    for scheme, netloc, prefix in ours:
        if (parts.scheme, parts.netloc.lower()) == (scheme, netloc) and parts.path.startswith(
            prefix + "/"
        ):
            match = _PAGE_PATH.match(parts.path[len(prefix) :])
            if match is None:
                raise CredentialPageNotFoundError(
                    f"{url} is not a credential page of this server (/c/{{page_id}})", url=url
                )
            return match.group(1)
    raise ForeignUrlError(
        f"{url} is not on this server ({state.base_url}); oEmbed describes only its own"
        " credential pages",
        url=url,
    )


async def oembed(request: web.Request) -> web.Response:
    """GET /oembed?url=PAGE[&format=json|xml][&maxwidth=N]: the badge card as an oEmbed
    ``rich`` answer, so a site or CMS embeds the card when someone pastes the page's link."""
    fmt = request.query.get("format", "json")
    if fmt not in ("json", "xml"):
        raise FormatNotSupportedError(
            f"format {fmt!r} is not supported; use format=json or format=xml", field="format"
        )
    url = request.query.get("url", "").strip()
    if not url:
        raise MalformedInputError(
            "?url= (a credential page of this server) is required", field="url"
        )
    if len(url) > 2048:
        raise MalformedInputError("?url= is longer than 2048 characters", field="url")
    page_id = _page_id_of(request, url)
    record = await state_of(request).issuer.store.get_credential_by_page_id(page_id)
    if record is None:
        raise CredentialPageNotFoundError(f"there is no credential page at {url}", url=url)
    width = sharing.card_width(_dimension(request, "maxwidth"))
    height = sharing.CARD_HEIGHT
    maxheight = _dimension(request, "maxheight")
    if maxheight is not None:
        height = min(height, maxheight)
    facts = badge_facts(request, record)
    profile = await current_profile(request)
    body = sharing.oembed_response(
        facts,
        embed_html(facts, width),
        provider_name=profile.name,
        provider_url=state_of(request).base_url,
        width=width,
        height=height,
    )
    return web.Response(
        body=sharing.oembed_xml(body) if fmt == "xml" else json_bytes(body),
        content_type="text/xml" if fmt == "xml" else JSON,
        headers={"Cache-Control": "public, max-age=3600", "Access-Control-Allow-Origin": "*"},
    )


# --- the certificate ------------------------------------------------------------------------------


async def certificate_pdf(request: web.Request) -> web.Response:
    """GET /c/{page_id}/certificate.pdf[?paper=a4|letter]: the printable certificate, with the
    standing the page shows right now (a revoked badge prints as revoked)."""
    paper = request.query.get("paper", "a4").strip().lower()
    if paper not in ("a4", "letter"):
        raise MalformedInputError("?paper must be a4 or letter", field="paper")
    record = await page_record(request)
    state = state_of(request)
    verdict, shown = await verify_input_for_page(state, record.credential, request=request)
    cred = shown if isinstance(shown, dict) else sharing.shown_credential(record.credential)
    image = await badge_source(request, cred)
    data = CertificateData.from_credential(cred, f"{state.base_url}/c/{record.page_id}")
    # ~20 ms of drawing, off the event loop so other requests keep flowing meanwhile.
    pdf = await asyncio.to_thread(
        render_certificate,
        data,
        image=image,
        standing=Standing(verdict.label, verdict.ok, verdict.explanation),
        paper=paper,
    )
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={
            "Content-Disposition": 'inline; filename="certificate.pdf"',
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
        },
    )


# --- OpenAPI --------------------------------------------------------------------------------------

_HTML_PAGE: Final = {"text/html": {"schema": {"type": "string"}}}


def _ob_object(
    description: str, *, names: tuple[str, ...], objects: tuple[str, ...], required: tuple[str, ...]
) -> dict[str, Any]:
    """The schema of an OB 3.0 JSON-LD object as the public views serve it: an ``id``, a
    ``type`` array, string members ``names`` and object members ``objects`` (``required`` is
    in addition to id and type)."""
    return {
        "type": "object",
        "description": description,
        "required": ["id", "type", *required],
        "properties": {
            **strings("id", *names),
            "type": {"type": "array", "items": {"type": "string"}},
            **{name: {"type": "object"} for name in objects},
        },
    }


PROFILE_SCHEMA: Final = _ob_object(
    "An OB 3.0 Profile (the issuer; id is its DID)",
    names=("name", "url", "email", "description"),
    objects=("image",),
    required=("name",),
)
ACHIEVEMENT_SCHEMA: Final = _ob_object(
    "An OB 3.0 Achievement (the public view of a design)",
    names=("name", "description"),
    objects=("criteria",),
    required=("name", "description", "criteria"),
)
CATALOG_SCHEMA: Final = {
    "type": "object",
    "description": "The public catalog: the issuer and its current, non-archived achievements",
    "required": ["issuer", "achievements"],
    "properties": {
        "issuer": PROFILE_SCHEMA,
        "achievements": {"type": "array", "items": ACHIEVEMENT_SCHEMA},
    },
}
_OEMBED_SCHEMA: Final = {
    "type": "object",
    "required": ["version", "type", "html", "width", "height", "title", "provider_name"],
    "properties": {
        "version": {"const": "1.0"},
        "type": {"const": "rich"},
        **strings("title", "html", "provider_name", "provider_url", "author_name"),
        "width": {"type": "integer"},
        "height": {"type": "integer"},
        "cache_age": {"type": "integer"},
    },
}


def routes(services: ServiceState) -> list[Route]:
    """The routes of this module, with their OpenAPI operations."""

    def negotiated(description: str, schema: dict[str, Any], *media: str) -> dict[str, Any]:
        content = {m: {"schema": schema} for m in media}
        return {"description": description, "content": {**content, **_HTML_PAGE}}

    pixels = {"type": "integer", "minimum": 1, "maximum": 99999}
    return [
        Route(
            "GET",
            "/",
            home,
            {
                "operationId": "home",
                "summary": "Who runs this server and where to go: a page for browsers, JSON"
                " (issuer profile and links) for programs",
                "security": [],
                "responses": {
                    "200": negotiated(
                        "The home page, or the service description",
                        {
                            "type": "object",
                            "required": ["service", "version", "issuer", "links"],
                            "properties": {
                                "service": {"type": "string"},
                                "version": {"type": "string"},
                                "issuer": PROFILE_SCHEMA,
                                "links": {"type": "object"},
                            },
                        },
                        JSON,
                    )
                },
            },
        ),
        Route(
            "GET",
            PROFILE_PATH,
            issuer_profile,
            {
                "operationId": "issuerProfile",
                "summary": "The issuer profile: a page, or the OB 3.0 Profile (JSON-LD)",
                "security": [],
                "responses": {
                    "200": negotiated("The issuer profile", PROFILE_SCHEMA, JSON, JSON_LD)
                },
            },
        ),
        Route(
            "GET",
            "/oembed",
            oembed,
            {
                "operationId": "oembed",
                "summary": "oEmbed (rich) for a credential page of this server: its badge card",
                "security": [],
                "parameters": [
                    {
                        "name": "url",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string"},
                        "description": "A credential page of this server, {base}/c/{page_id}",
                    },
                    {
                        "name": "format",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string"},
                        "description": "json (the default) or xml",
                    },
                    {"name": "maxwidth", "in": "query", "required": False, "schema": pixels},
                    {"name": "maxheight", "in": "query", "required": False, "schema": pixels},
                ],
                "responses": {
                    "200": {
                        "description": "The card",
                        "content": {
                            JSON: {"schema": _OEMBED_SCHEMA},
                            "text/xml": {"schema": {"type": "string"}},
                        },
                    },
                    "400": problem_spec(
                        "No url, a bad maxwidth/maxheight, or FORMAT_NOT_SUPPORTED (a format"
                        " other than json or xml)"
                    ),
                    "404": problem_spec("URL_NOT_ON_THIS_SERVER, or CREDENTIAL_PAGE_NOT_FOUND"),
                },
            },
        ),
        Route(
            "GET",
            "/c/{page_id}/certificate.pdf",
            certificate_pdf,
            {
                "operationId": "credentialCertificate",
                "summary": "The printable certificate (PDF, landscape), with the current standing",
                "security": [],
                "parameters": [
                    path_param("page_id"),
                    {
                        "name": "paper",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["a4", "letter"]},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "The certificate",
                        "content": {
                            "application/pdf": {"schema": {"type": "string", "format": "binary"}}
                        },
                    },
                    "400": {"description": "paper other than a4 or letter", "content": _HTML_PAGE},
                    "404": {"description": "No credential at this page id", "content": _HTML_PAGE},
                },
            },
        ),
    ]


__all__ = [
    "ACHIEVEMENT_SCHEMA",
    "CATALOG_SCHEMA",
    "PROFILE_PATH",
    "PROFILE_SCHEMA",
    "achievement",
    "achievement_document",
    "catalog",
    "current_profile",
    "profile_document",
    "public_read",
    "routes",
]
