"""Human pages: the public credential page ``/c/{page_id}`` and the ``/verify`` page.

Server-rendered (Jinja2, autoescaped), no JavaScript: learners share the page link, employers
paste, upload or point at a credential and read each check in plain words. Errors on these
paths are HTML pages (with the right status), not problem+json: a person reads them.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote, unquote_to_bytes, urlencode

import jinja2
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Handler

from vc_issuer.badges import sharing
from vc_issuer.badges.achievements import ACHIEVEMENT_PATH, IMAGE_PATH, achievement_key
from vc_issuer.badges.baking import (
    MAX_IMAGE_BYTES,
    ImageType,
    bake_png,
    bake_svg,
    default_badge_png,
    default_badge_svg,
    detect_image_type,
    looks_like_image,
)
from vc_issuer.badges.claims import WalletLinks
from vc_issuer.badges.openbadges import ob_schema_compatible, validate_ob_credential
from vc_issuer.badges.verify import verify_input
from vc_issuer.core import jose
from vc_issuer.core.credentials import is_http_url
from vc_issuer.errors import (
    JsonNumberInvalidError,
    JsonStringInvalidError,
    JsonTooDeepError,
    JsonTooLargeError,
    NotFoundError,
    VCIssuerError,
)
from vc_issuer.http import offload
from vc_issuer.http.middlewares import DEFAULT_MAX_BODY, MAX_BODY_KEY
from vc_issuer.http.openapi import PAGE_ID, VERIFY_FORM, html_spec, json_spec, path_param
from vc_issuer.http.routes import Route
from vc_issuer.http.state import ImageLoader, ServiceState, state_of
from vc_issuer.services.verifier import FORMATS, Check, VerificationResult

HERE: Final = Path(__file__).resolve().parent.parent
TEMPLATES_DIR: Final = HERE / "templates"
STATIC_DIR: Final = HERE / "static"
#: Largest upload (or fetched document) the verify page reads; the app's ``max_body`` caps it too.
MAX_UPLOAD_BYTES: Final = MAX_IMAGE_BYTES
HTML: Final = "text/html"
_STATIC_FILES: Final = {"pages.css": "text/css"}
_OB_TYPES: Final = {"OpenBadgeCredential", "AchievementCredential"}


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=jinja2.select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # `x is http_url`: a stored link is rendered as a link only when it is http(s); credentials
    # stored before links were checked may hold javascript: or data: URLs, shown as text.
    env.tests["http_url"] = is_http_url
    return env


def render(
    template: str, /, status: int = 200, *, external_images: bool = False, **context: Any
) -> web.Response:
    """A page; ``external_images`` lets it show https images the issuer chose to host
    elsewhere (a logo, a badge image), and nothing else from outside."""
    body = _env().get_template(template).render(**context)
    images = "'self' data: https:" if external_images else "'self' data:"
    return web.Response(
        status=status,
        text=body,
        content_type=HTML,
        charset="utf-8",
        headers={
            "Content-Security-Policy": f"default-src 'self'; img-src {images}; "
            "style-src 'self'; script-src 'none'; frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


# --- what a person reads -------------------------------------------------------------------------


@dataclass
class Line:
    """One check as a sentence: ``ok`` True/False (None = not applicable / informative)."""

    title: str
    ok: bool | None
    text: str


@dataclass
class Verdict:
    """The headline (``Valid``, ``Expired``, ``Revoked``, ``Suspended``, ``Not verified``)."""

    label: str
    ok: bool
    explanation: str
    lines: list[Line] = field(default_factory=list)


def did_web_domain(did: str) -> str | None:
    """The host a did:web DID proves control of (``did:web:example.com:u:1`` -> example.com)."""
    if not did.startswith("did:web:"):
        return None
    return unquote(did.removeprefix("did:web:").split(":", 1)[0]) or None


def _issuer(credential: Mapping[str, Any]) -> tuple[str, str | None]:
    """(DID, name); a name that only repeats the DID (an unnamed issuer's default) is None, so
    a page never reads "signed by did:key:X (did:key:X)"."""
    value = credential.get("issuer")
    if isinstance(value, Mapping):
        did, name = str(value.get("id", "")), value.get("name")
        return did, name if isinstance(name, str) and name.strip() and name != did else None
    return (value if isinstance(value, str) else ""), None


def _date(value: Any) -> str | None:
    """A credential date-time as the pages print it (read like the share links read it); an
    unreadable string is shown as it stands."""
    moment = sharing.parse_moment(value)
    if moment is None:
        return value if isinstance(value, str) else None
    return moment.strftime("%d %B %Y, %H:%M UTC")


def _is_ob(credential: Mapping[str, Any]) -> bool:
    types = credential.get("type")
    names = types if isinstance(types, list) else [types]
    return any(t in _OB_TYPES for t in names)


def _schema_errors(credential: Mapping[str, Any]) -> list[str]:
    """OB schema messages; several status entries (VC 2.0 allows a list, the OB schema wants
    one object) are checked one at a time."""
    shaped = ob_schema_compatible(credential)
    status = shaped.get("credentialStatus")
    if not isinstance(status, list) or not status:
        return validate_ob_credential(shaped)
    errors: list[str] = []
    for entry in status:
        for error in validate_ob_credential({**shaped, "credentialStatus": entry}):
            if error not in errors:
                errors.append(error)
    return errors


def schema_line(credential: Any) -> Line:
    if not isinstance(credential, Mapping) or not _is_ob(credential):
        return Line("Badge format", None, "Not an Open Badge, so the badge schema does not apply.")
    errors = _schema_errors(credential)
    if not errors:
        return Line("Badge format", True, "It follows the Open Badges 3.0 format.")
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return Line(
        "Badge format", False, f"It does not follow the Open Badges 3.0 format: {errors[0]}{more}."
    )


_PLAIN_LINES: Final = {
    # name: (title, text when passed (None: the check's detail), text when failed)
    "format": ("Packaging", None, "It is not packaged as its format requires"),
    "claims": (
        "Token claims",
        "The token's issuer, subject, id and dates agree with the credential.",
        "The token's claims contradict the credential inside it",
    ),
    "assertion": ("Badge record", None, "The badge record could not be confirmed"),
    "badge": ("Badge", None, "The badge description could not be fetched"),
    "scope": (
        "Issuer's web site",
        None,
        "The badge is not hosted where its issuer says its badges live",
    ),
    "revocation": ("Revocation", None, "The issuer has revoked this badge"),
    "recipient": ("Recipient", None, "It was not awarded to that address"),
}


def _plain_line(check: Check) -> Line | None:
    entry = _PLAIN_LINES.get(check.name)
    if entry is None:
        return None
    title, passed, failed = entry
    detail = check.detail or ""
    if check.passed:
        text = passed or (detail[:1].upper() + detail[1:] + ".")
        return Line(title, True, text)
    return Line(title, False, f"{failed}: {detail} ({check.code}).")


def _check_line(check: Check, credential: Mapping[str, Any]) -> Line:
    name, ok, detail = check.name, check.passed, check.detail or ""
    plain = _plain_line(check)
    if plain is not None:
        return plain
    if name == "structure":
        if ok:
            return Line("Format", True, f"It is a well-formed verifiable credential ({detail}).")
        return Line("Format", False, f"This is not a well-formed credential: {detail}.")
    if name == "proof":
        if ok:
            return Line(
                "Signature",
                True,
                "The digital signature is intact: nothing was changed since it was signed.",
            )
        return Line(
            "Signature",
            False,
            "The digital signature does not match: the credential was changed after it was"
            f" signed, or someone else signed it ({check.code}: {detail}).",
        )
    if name == "issuer" and _badge_issuer(credential) is not None:  # Open Badges 2.0
        if ok:
            return Line("Issuer", True, f"The issuer's profile was fetched: {detail}.")
        return Line("Issuer", False, f"The issuer's profile could not be fetched: {detail}.")
    if name == "issuer":
        did, issuer_name = _issuer(credential)
        who = f"{issuer_name} ({did})" if issuer_name else did
        if ok:
            domain = did_web_domain(did)
            proof = (
                f" The key is published by the web site {domain}, so whoever signed it"
                f" controls {domain}."
                if domain
                else ""
            )
            return Line("Issuer", True, f"It was signed by its issuer, {who}.{proof}")
        return Line("Issuer", False, f"It was not signed by the issuer it names: {detail}.")
    if name == "validity":
        start = _date(credential.get("validFrom") or credential.get("issuanceDate"))
        end = _date(credential.get("validUntil") or credential.get("expirationDate"))
        if ok:
            text = f"It is valid now (from {start}" if start else "It is valid now ("
            text += f" until {end})." if end else (") and does not expire." if start else ")")
            return Line("Dates", True, text.replace("()", "").replace("( ", "("))
        if detail.startswith("expired"):
            return Line("Dates", False, f"It expired on {end}.")
        return Line("Dates", False, f"It is not valid yet: it starts on {start}.")
    if name.startswith("status"):
        purpose = name.partition(":")[2] or "status"
        title = f"{purpose.capitalize()} status" if purpose != "status" else "Status"
        if ok:
            return Line(title, True, f"The issuer has not {_past(purpose)} it.")
        if check.code == "CREDENTIAL_REVOKED":
            return Line(title, False, "The issuer has revoked this credential.")
        if check.code == "CREDENTIAL_SUSPENDED":
            return Line(title, False, "The issuer has suspended this credential for now.")
        return Line(title, False, f"Its {purpose} status could not be checked: {detail}.")
    return Line(
        name.capitalize(), ok, detail if ok else f"The check could not be completed: {detail}."
    )


def _past(purpose: str) -> str:
    return {"revocation": "revoked", "suspension": "suspended"}.get(purpose, f"changed ({purpose})")


def verdict_of(result: VerificationResult, credential: Any, schema: Line | None = None) -> Verdict:
    """Headline first by what matters most to a reader: revoked, suspended, expired, broken."""
    cred: Mapping[str, Any] = credential if isinstance(credential, Mapping) else {}
    lines = [_check_line(c, cred) for c in result.checks]
    if schema is not None:
        lines.append(schema)
    if result.format is not None:
        lines.append(Line("Format", None, f"Checked as: {FORMATS.get(result.format)}."))
    lines += [Line("Keep in mind", None, note) for note in result.notes]
    codes = set(result.codes())
    failed_names = {c.name for c in result.checks if not c.passed}
    if "CREDENTIAL_REVOKED" in codes:
        return Verdict("Revoked", False, "The issuer has revoked this credential.", lines)
    if "CREDENTIAL_SUSPENDED" in codes:
        return Verdict("Suspended", False, "The issuer has suspended this credential.", lines)
    bad_other = failed_names - {"validity"}
    if "validity" in failed_names and not bad_other:
        check = next(c for c in result.checks if c.name == "validity")
        if (check.detail or "").startswith("expired"):
            return Verdict("Expired", False, "This credential was genuine but has expired.", lines)
        return Verdict("Not yet valid", False, "This credential is not valid yet.", lines)
    if result.verified and (schema is None or schema.ok is not False):
        return Verdict("Valid", True, "This credential is genuine and currently valid.", lines)
    return Verdict(
        "Not verified", False, "This credential could not be verified. Do not rely on it.", lines
    )


async def verify_for_page(state: ServiceState, credential: Any) -> Verdict:
    """The verdict on one of our own credentials (a JSON credential, or the envelope of a JWT)."""
    return (await verify_input_for_page(state, credential))[0]


async def verify_input_for_page(
    state: ServiceState,
    data: Any,
    recipient: str | None = None,
    request: web.Request | None = None,
) -> tuple[Verdict, Any]:
    """Verify anything the page was given; the verdict and the credential as read. With the
    ``request``, in the app's worker pool (vc_issuer.http.offload), never on the event loop.

    Raises a VCIssuerError when the input cannot be read at all.
    """
    if request is not None:  # callers' input: verified in the work pool
        result = await offload.verify(request, data, recipient_email=recipient)
    else:
        result = await verify_input(data, recipient_email=recipient, **state.verify_seams())
    document = result.document if result.document is not None else data
    ob3 = result.format in ("data-integrity", "vc-jwt", "vc-jose")
    structure_ok = bool(result.checks) and result.checks[0].passed
    schema = schema_line(document) if ob3 and structure_ok else None
    return verdict_of(result, document, schema), document


def _badge_issuer(document: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """An Open Badges 2.0 assertion's fetched Profile (badge.issuer), else None."""
    badge = document.get("badge")
    issuer = badge.get("issuer") if isinstance(badge, Mapping) else None
    return issuer if isinstance(issuer, Mapping) else None


def display_fields(document: Any) -> dict[str, Any]:
    """Name, issuer and recipient to show above the checks, for OB 3.0 and OB 2.0 alike."""
    cred: Mapping[str, Any] = document if isinstance(document, Mapping) else {}
    profile = _badge_issuer(cred)
    if profile is not None:
        badge = cred["badge"]
        name = profile.get("name")
        return {
            "name": str(badge.get("name") or ""),
            "issuer_did": str(profile.get("id") or ""),
            "issuer_name": name if isinstance(name, str) else None,
            "recipient": None,
        }
    issuer_did, issuer_name = _issuer(cred)
    return {
        "name": str(_achievement(cred).get("name") or cred.get("name") or ""),
        "issuer_did": issuer_did,
        "issuer_name": issuer_name,
        "recipient": _subject_name(cred),
    }


# --- credential page -----------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _achievement(credential: Mapping[str, Any]) -> Mapping[str, Any]:
    subject = _as_list(credential.get("credentialSubject"))
    first = subject[0] if subject and isinstance(subject[0], Mapping) else {}
    ach = first.get("achievement")
    return ach if isinstance(ach, Mapping) else {}


def _subject_name(credential: Mapping[str, Any]) -> str | None:
    subject = _as_list(credential.get("credentialSubject"))
    first = subject[0] if subject and isinstance(subject[0], Mapping) else {}
    name = first.get("name")
    return name if isinstance(name, str) else None


def _data_url_bytes(url: str) -> bytes | None:
    header, sep, payload = url.partition(",")
    if not sep:
        return None
    if not header.endswith(";base64"):
        return unquote_to_bytes(payload)
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return None


async def badge_source(request: web.Request, credential: Mapping[str, Any]) -> bytes | None:
    """The achievement's own image when it is a data: URL or one of our URLs, else None."""
    image = _achievement(credential).get("image")
    url = image.get("id") if isinstance(image, Mapping) else image
    if not isinstance(url, str):
        return None
    data: bytes | None = None
    if url.startswith("data:"):
        data = _data_url_bytes(url)
    elif url.startswith(state_of(request).base_url + "/"):
        try:
            data = await state_of(request).image_loader(url)
        except VCIssuerError:
            data = None
    if data is None:
        return None
    try:
        detect_image_type(data)
    except VCIssuerError:
        return None
    return data


async def page_record(request: web.Request) -> Any:
    """The stored credential of ``/c/{page_id}...``; an HTML 404 when there is none."""
    state = state_of(request)
    page_id = request.match_info["page_id"]
    record = await state.issuer.store.get_credential_by_page_id(page_id)
    if record is None:
        raise web.HTTPNotFound(text="no such credential page")
    return record


def own_path(request: web.Request, url: str, prefix: str) -> str | None:
    """``url`` as a path on this server when it is one of our ``prefix`` URLs (under the
    issuer's base URL or the one being served), else None."""
    state = state_of(request)
    for base in dict.fromkeys((state.base_url, state.issuer.base_url)):
        if url.startswith(base + prefix):
            return url[len(base) :]
    return None


def badge_facts(
    request: web.Request, record: Any, kind: ImageType | None = None
) -> sharing.BadgeFacts:
    """What the share links, the embed card and oEmbed say about one credential page. The
    card's image is the achievement's own stored image (immutable, cached) when it has one,
    else the page's baked badge."""
    state = state_of(request)
    cred = sharing.shown_credential(record.credential)
    page_url = f"{state.base_url}/c/{record.page_id}"
    image = _achievement(cred).get("image")
    image_id = image.get("id") if isinstance(image, Mapping) else image
    own = own_path(request, image_id, IMAGE_PATH) if isinstance(image_id, str) else None
    image_url = state.base_url + own if own else f"{page_url}/badge.{kind or 'png'}"
    return sharing.facts_from_credential(
        cred, page_url=page_url, image_url=image_url, issuer_name=_issuer(cred)[1]
    )


async def catalog_path(request: web.Request, achievement_id: Any) -> str | None:
    """The path of the achievement's catalog page when it is one of our stored designs (a
    credential may name an id under our URL that was never stored: no link to a 404)."""
    if not isinstance(achievement_id, str):
        return None
    path = own_path(request, achievement_id, ACHIEVEMENT_PATH)
    if path is None:
        return None
    try:
        key = achievement_key(achievement_id)
    except VCIssuerError:
        return None
    found = await state_of(request).issuer.store.get_achievement(key)
    return path if found is not None else None


def embed_html(facts: sharing.BadgeFacts, width: int = sharing.CARD_WIDTH) -> str:
    """The embeddable card: plain HTML with inline styles (it lands on other sites), no
    script; the same facts as oEmbed."""
    return (
        _env().get_template("_embed_card.html").render(card=facts, inline=True, width=width).strip()
    )


async def wallet_for_page(
    request: web.Request, credential_id: str
) -> tuple[WalletLinks | None, str | None]:
    """For ``/c/{page_id}?claim=TOKEN``: the wallet links if TOKEN is a live claim of this
    credential, else (None, a message for the learner); (None, None) without ``claim``."""
    token = request.query.get("claim")
    if not token:
        return None, None
    try:
        return await state_of(request).claims.wallet_links(token, credential_id=credential_id), None
    except NotFoundError:
        return None, "This claim link is not valid for this badge."
    except VCIssuerError as exc:
        if exc.http_status == 410:
            return None, exc.detail
        raise


async def credential_page(request: web.Request) -> web.Response:
    """GET /c/{page_id}: the public page of one issued credential."""
    state = state_of(request)
    record = await page_record(request)
    verdict, shown = await verify_input_for_page(state, record.credential, request=request)
    cred: dict[str, Any] = shown if isinstance(shown, dict) else record.credential
    ach = _achievement(cred)
    issuer_did, issuer_name = _issuer(cred)
    page_url = f"{state.base_url}/c/{record.page_id}"
    source = await badge_source(request, cred)
    kind: ImageType = detect_image_type(source) if source is not None else "svg"
    name = str(ach.get("name") or cred.get("name") or "Badge")
    description = str(ach.get("description") or cred.get("description") or "")
    criteria = ach.get("criteria") if isinstance(ach.get("criteria"), Mapping) else {}
    alignments = [a for a in _as_list(ach.get("alignment")) if isinstance(a, Mapping)]
    wallet, claim_error = await wallet_for_page(request, record.id)
    facts = badge_facts(request, record, kind)
    ach_id = ach.get("id")
    response = render(
        "credential.html",
        title=name,
        page_url=page_url,
        base=f"/c/{record.page_id}",
        oembed_url=f"{state.base_url}/oembed?{urlencode({'url': page_url, 'format': 'json'})}",
        facts=facts,
        linkedin_url=sharing.linkedin_add_to_profile(facts),
        share_links=sharing.share_links(facts),
        embed_snippet=embed_html(facts),
        shareable=verdict.ok or verdict.label == "Expired",
        achievement_path=await catalog_path(request, ach_id),
        issuer_is_us=issuer_did == state.issuer.did,
        og_image=f"{page_url}/badge.png",
        badge_src=f"/c/{record.page_id}/badge.{kind}",
        name=name,
        description=description,
        criteria=criteria,
        alignments=alignments,
        tags=[t for t in _as_list(ach.get("tag")) if isinstance(t, str)],
        issuer_did=issuer_did,
        issuer_name=issuer_name,
        issuer_domain=did_web_domain(issuer_did),
        recipient=_subject_name(cred),
        awarded=_date(cred.get("awardedDate") or cred.get("validFrom") or cred.get("issuanceDate")),
        expires=_date(cred.get("validUntil") or cred.get("expirationDate")),
        verdict=verdict,
        credential_id=cred.get("id"),
        wallet=wallet,
        claim_error=claim_error,
    )
    if "claim" in request.query:  # personal links: never cached, never indexed
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Robots-Tag"] = "noindex"
    return response


def download_shape(credential: Mapping[str, Any]) -> dict[str, Any]:
    """What the downloads carry: an Open Badge in the OB-schema shape (``proof`` an array, one
    status object), as the award API returns it; any other credential as stored. Both shapes
    are the same RDF graph, so the signature verifies either way."""
    if _is_ob(credential):
        return ob_schema_compatible(credential)
    return dict(credential)


async def credential_json(request: web.Request) -> web.Response:
    """GET /c/{page_id}/credential.json: the credential as issued (Open Badges in OB shape)."""
    record = await page_record(request)
    body = json.dumps(download_shape(record.credential), ensure_ascii=False, indent=2).encode(
        "utf-8"
    )
    return web.Response(
        body=body,
        content_type="application/vc+ld+json",
        headers={"Content-Disposition": 'attachment; filename="credential.json"'},
    )


async def baked_badge(request: web.Request) -> web.Response:
    """GET /c/{page_id}/badge.png|svg: the badge image with the credential baked in."""
    record = await page_record(request)
    payload: dict[str, Any] | str = download_shape(record.credential)
    cred: Mapping[str, Any] = record.credential
    if jose.is_enveloped(record.credential):  # issued as a JWT: bake the token (OB 3.0 §5.3)
        payload = jose.enveloped_token(record.credential)
        cred = jose.peek_document(payload) or {}
    kind = request.match_info["kind"]
    source = await badge_source(request, cred)
    name = str(_achievement(cred).get("name") or cred.get("name") or "Badge")
    if kind == "png":
        image = source if source is not None and detect_image_type(source) == "png" else None
        baked = bake_png(image or default_badge_png(), payload)
        media = "image/png"
    else:
        image = source if source is not None and detect_image_type(source) == "svg" else None
        baked = bake_svg(image or default_badge_svg(name), payload)
        media = "image/svg+xml"
    return web.Response(
        body=baked,
        content_type=media,
        headers={
            "Content-Disposition": f'inline; filename="badge.{kind}"',
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        },
    )


# --- verify page ---------------------------------------------------------------------------------


_STRICT_JSON_CODES: Final = frozenset(
    cls.code
    for cls in (JsonNumberInvalidError, JsonStringInvalidError, JsonTooDeepError, JsonTooLargeError)
)


class PageInputError(Exception):
    """Input the verify page cannot read, said in plain words."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def upload_limit(app: web.Application) -> int:
    return min(MAX_UPLOAD_BYTES, app.get(MAX_BODY_KEY, DEFAULT_MAX_BODY))


def _too_large(limit: int) -> PageInputError:
    return PageInputError(
        f"That file is too large. The limit is {limit // 1024} KiB"
        f" ({limit / (1024 * 1024):.1f} MiB).",
        413,
    )


def _what(data: bytes) -> str:
    """How the page names what it was given."""
    if looks_like_image(data):
        return "a baked badge image"
    return "JSON" if data.lstrip().startswith(b"{") else "a JWT"


def _unreadable(exc: VCIssuerError, source: str) -> PageInputError:
    """Input we cannot even start checking, said in plain words."""
    if exc.code in _STRICT_JSON_CODES:  # the same code as the API gives, for support requests
        return PageInputError(f"That credential cannot be accepted ({exc.code}): {exc.detail}")
    if exc.code in ("NO_BAKED_CREDENTIAL", "DUPLICATE_BAKED_CREDENTIAL", "INVALID_IMAGE"):
        return PageInputError(f"We could not read a credential from that image: {exc.detail}")
    if exc.code in ("FETCH_FAILED", "FORBIDDEN_ADDRESS"):
        return PageInputError(f"We could not fetch that address: {exc.detail}")
    if exc.code == "INPUT_TOO_LARGE":
        return PageInputError(f"That {source} is too large: {exc.detail}", 413)
    if exc.code == "PARSING_ERROR" and source == "file":
        return PageInputError("That file is neither JSON, a JWT, nor a PNG or SVG badge image.")
    return PageInputError(f"That is not a JSON credential or a JWT: {exc.detail}")


async def _read_form(request: web.Request, limit: int) -> tuple[bytes | None, str, str, str]:
    """(uploaded file bytes or None, pasted text, URL, recipient email) from the form."""
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    try:
        form = await request.post()
    except web.HTTPRequestEntityTooLarge:
        raise _too_large(limit) from None
    except (ValueError, AssertionError, UnicodeDecodeError, HttpProcessingError):
        # aiohttp's multipart reader raises these on a malformed body: the sender's fault.
        raise PageInputError("The form could not be read. Please try again.") from None
    upload: bytes | None = None
    item = form.get("file")
    if isinstance(item, web.FileField):
        data = item.file.read(limit + 1)
        if len(data) > limit:
            raise _too_large(limit)
        upload = data or None
    pasted = form.get("json")
    url = form.get("url")
    email = form.get("recipient")
    return (
        upload,
        pasted.strip() if isinstance(pasted, str) else "",
        url.strip() if isinstance(url, str) else "",
        email.strip() if isinstance(email, str) else "",
    )


async def verify_form(request: web.Request) -> web.Response:
    """GET /verify: paste JSON, upload a JSON file or a baked image, or give a URL."""
    return render("verify.html", title="Verify a credential", limit=upload_limit(request.app))


async def verify_submit(request: web.Request) -> web.Response:
    """POST /verify: verify what was given (any format) and explain each check."""
    state = state_of(request)
    limit = upload_limit(request.app)
    pasted = email = ""
    try:
        upload, pasted, url, email = await _read_form(request, limit)
        data: bytes | str
        if upload is not None:
            data, source = upload, "file"
            how = f"an uploaded file ({_what(upload)})"
        elif pasted:
            if len(pasted.encode("utf-8")) > limit:
                raise _too_large(limit)
            data, how, source = pasted, f"pasted {_what(pasted.encode('utf-8'))}", "text"
        elif url:
            if not url.startswith(("https://", "http://")):
                raise PageInputError("The address must start with https://.")
            data, how, source = url, f"the address {url}", "address"
        else:
            raise PageInputError("Paste a credential, choose a file, or give an address.")
        if email and ("@" not in email or len(email) > 320):
            raise PageInputError("The recipient email address does not look like one.")
        try:
            verdict, document = await verify_input_for_page(
                state, data, email or None, request=request
            )
        except VCIssuerError as exc:
            raise _unreadable(exc, source) from None
    except PageInputError as exc:
        return render(
            "verify.html",
            status=exc.status,
            title="Verify a credential",
            limit=limit,
            error=exc.message,
            pasted=pasted,
            recipient_email=email,
        )
    return render(
        "verify.html",
        title=f"{verdict.label}: verification result",
        limit=limit,
        verdict=verdict,
        source=how,
        recipient_email=email,
        **display_fields(document),
    )


# --- static and errors ---------------------------------------------------------------------------


@functools.cache
def _static_bytes(name: str) -> bytes:
    """Read once: the package's static files do not change while the server runs."""
    return (STATIC_DIR / name).read_bytes()


async def static_file(request: web.Request) -> web.Response:
    """GET /static/{name}: the pages' stylesheet."""
    name = request.match_info["name"]
    media = _STATIC_FILES.get(name)
    if media is None:
        raise web.HTTPNotFound(text="no such file")
    return web.Response(
        body=_static_bytes(name),
        content_type=media,
        headers={"Cache-Control": "public, max-age=3600"},
    )


def _is_page(path: str) -> bool:
    return path == "/verify" or path.startswith(("/c/", "/static/"))


_ERROR_TITLES: Final = {
    404: "Page not found",
    405: "Not allowed",
    413: "Upload too large",
    500: "Something went wrong",
}


@web.middleware
async def html_errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Problem responses on page paths become readable HTML pages with the same status."""
    response = await handler(request)
    if not _is_page(request.path) or response.status < 400:
        return response
    if response.content_type == HTML:
        return response
    detail = ""
    if isinstance(response, web.Response) and response.body is not None:
        try:
            body = json.loads(bytes(response.body))  # type: ignore[arg-type]
            detail = str(body.get("detail") or "")
        except (ValueError, TypeError, AttributeError):
            detail = ""
    status = response.status
    if status == 404:
        detail = "There is no credential at this address. Check the link you were given."
    elif status == 413:
        limit = upload_limit(request.app)
        detail = f"That upload is too large. The limit is {limit // 1024} KiB."
    page = render(
        "error.html",
        status=status,
        title=_ERROR_TITLES.get(status, "Error"),
        message=detail or "The request could not be completed.",
    )
    if "Allow" in response.headers:
        page.headers["Allow"] = response.headers["Allow"]
    return page


def routes(services: ServiceState) -> list[Route]:
    """The routes of this module, with their OpenAPI operations."""
    not_found = {"404": html_spec("No credential at this page id")}
    return [
        Route(
            "GET",
            "/c/{page_id}",
            credential_page,
            {
                "operationId": "credentialPage",
                "summary": "Public credential page (HTML): badge, details, verification result",
                "security": [],
                "parameters": [PAGE_ID],
                "responses": {
                    "200": html_spec("The page"),
                    **not_found,
                },
            },
            head=True,
        ),
        Route(
            "GET",
            "/c/{page_id}/credential.json",
            credential_json,
            {
                "operationId": "credentialPageJson",
                "summary": "The credential of a public page, as issued",
                "security": [],
                "parameters": [PAGE_ID],
                "responses": {
                    "200": json_spec("The credential", media="application/vc+ld+json"),
                    **not_found,
                },
            },
            head=True,
        ),
        Route(
            "GET",
            "/c/{page_id}/badge.{kind:png|svg}",
            baked_badge,
            {
                "operationId": "credentialPageBadge",
                "summary": "The badge image with the credential baked in (PNG or SVG)",
                "security": [],
                "parameters": [
                    PAGE_ID,
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
                    **not_found,
                },
            },
            head=True,
        ),
        Route(
            "GET",
            "/verify",
            verify_form,
            {
                "operationId": "verifyPage",
                "summary": "Verify page (HTML): paste JSON, upload JSON or a baked image, or a URL",
                "security": [],
                "responses": {"200": html_spec("The form")},
            },
            head=True,
        ),
        Route(
            "POST",
            "/verify",
            verify_submit,
            {
                "operationId": "verifyPageSubmit",
                "summary": "Verify what the form sent; each check in plain words (HTML)",
                "security": [],
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {"schema": VERIFY_FORM},
                        "application/x-www-form-urlencoded": {"schema": VERIFY_FORM},
                    },
                },
                "responses": {
                    "200": html_spec("The result (verified or not)"),
                    "400": html_spec("Nothing usable was sent"),
                    "413": html_spec("Upload too large"),
                },
            },
        ),
        Route(
            "GET",
            "/static/{name}",
            static_file,
            {
                "operationId": "pageStatic",
                "summary": "Stylesheet of the pages",
                "security": [],
                "parameters": [path_param("name")],
                "responses": {
                    "200": {
                        "description": "The file",
                        "content": {"text/css": {"schema": {"type": "string"}}},
                    },
                    "404": html_spec("No such file"),
                },
            },
            head=True,
        ),
    ]


__all__ = [
    "MAX_UPLOAD_BYTES",
    "ImageLoader",
    "Line",
    "Verdict",
    "badge_facts",
    "badge_source",
    "did_web_domain",
    "display_fields",
    "download_shape",
    "embed_html",
    "own_path",
    "page_record",
    "render",
    "routes",
    "verdict_of",
    "verify_for_page",
]
