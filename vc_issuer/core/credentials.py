"""Structure checks for verifiable credentials and presentations (VCDM 1.1 and 2.0).

Pure functions: they look at the JSON shape only, before any JSON-LD or cryptography, so a bad
document is refused with a precise message instead of failing somewhere deep in a pipeline.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal

from vc_issuer.core.jsonparse import DEFAULT_LIMITS, DocumentLimits, parse_json_object
from vc_issuer.core.jsonparse import json_type as _json_type
from vc_issuer.core.related import parse_digest_multibase, parse_digest_sri
from vc_issuer.errors import MalformedInputError, UnsafeUrlError

VC_V1_CONTEXT = "https://www.w3.org/2018/credentials/v1"
VC_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"

Version = Literal["1.1", "2.0"]

_DATETIME = re.compile(
    r"^(?P<year>-?\d{4,})-(?P<month>\d{2})-(?P<day>\d{2})"
    r"T(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})(?P<fraction>\.\d+)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?$"
)
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")


def utcnow() -> datetime:
    """The default clock of every service (an aware UTC datetime); tests inject their own."""
    return datetime.now(UTC)


# --- parsing -------------------------------------------------------------------------------------


def parse_json_document(
    data: str | bytes | bytearray, limits: DocumentLimits = DEFAULT_LIMITS, *, what: str = "input"
) -> dict[str, Any]:
    """Parse JSON text that must be an object (a credential, presentation or proof document),
    with the strict parser and its limits (:mod:`vc_issuer.core.jsonparse`)."""
    return parse_json_object(data, limits, what=what)


def parse_xml_datetime(value: Any, name: str, *, require_timezone: bool = True) -> datetime:
    """Parse an XML Schema dateTime (dateTimeStamp when a timezone is required) to aware UTC.

    A dateTime without a timezone is read as UTC; VCDM 1.1 documents in the wild carry them.
    """
    if not isinstance(value, str):
        raise MalformedInputError(f"{name} must be a dateTime string, got {_json_type(value)}")
    m = _DATETIME.match(value)
    if m is None:
        raise MalformedInputError(f"{name} is not an XML Schema dateTime: {value!r}")
    if require_timezone and m["tz"] is None:
        raise MalformedInputError(f"{name} must carry a timezone (Z or ±hh:mm): {value!r}")
    tz: timezone = UTC
    if m["tz"] not in (None, "Z"):
        sign = -1 if m["tz"][0] == "-" else 1
        hours, minutes = int(m["tz"][1:3]), int(m["tz"][4:6])
        if hours > 14 or minutes > 59 or (hours == 14 and minutes):
            raise MalformedInputError(f"{name} has an invalid timezone offset: {value!r}")
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    micro = int((m["fraction"] or ".0")[1:7].ljust(6, "0"))
    try:
        parsed = datetime(
            int(m["year"]), int(m["month"]), int(m["day"]),
            int(m["hour"]), int(m["minute"]), int(m["second"]), micro, tzinfo=tz,
        )  # fmt: skip
    except ValueError as exc:
        raise MalformedInputError(
            f"{name} is not a valid date and time ({exc}): {value!r}"
        ) from None
    return parsed.astimezone(UTC)


def format_datetime(moment: datetime) -> str:
    """dateTimeStamp with second precision and ``Z``, as issuers conventionally write it."""
    if moment.tzinfo is None:
        raise MalformedInputError("datetime must be timezone-aware")
    m = moment.astimezone(UTC)
    # not strftime: %Y does not zero-pad years below 1000 on every platform
    return f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}Z"


def is_url(value: Any) -> bool:
    """An absolute IRI: a scheme followed by something without whitespace."""
    return isinstance(value, str) and _URL.match(value) is not None


_HTTP_URL = re.compile(r"^https?://[^\s/?#]+\S*$", re.IGNORECASE)
_DATA_IMAGE = re.compile(r"^data:image/(png|svg\+xml|jpeg|gif|webp)[;,]", re.IGNORECASE)


def is_http_url(value: Any) -> bool:
    """An ``http(s)`` URL with a host: the only kind of link stored, or shown as a link."""
    return isinstance(value, str) and _HTTP_URL.match(value) is not None


def check_link(value: Any, path: str, *, image: bool = False) -> str:
    """``value`` if it is a link we may store: ``http(s)``, or for an image also a
    ``data:image/...`` URI (OB 3.0 allows data URIs for images). ``javascript:``, ``vbscript:``,
    other ``data:`` and every other scheme are refused with ``UNSAFE_URL``."""
    if is_http_url(value) or (image and isinstance(value, str) and _DATA_IMAGE.match(value)):
        return str(value)
    allowed = "an http(s) URL or a data:image/ URI" if image else "an http(s) URL"
    shown = repr(value[:80]) if isinstance(value, str) else _json_type(value)
    raise UnsafeUrlError(f"{path} must be {allowed}, got {shown}", field=path)


def check_links(document: Any) -> None:
    """Refuse (``UNSAFE_URL``) a document whose links would be shown to people: every
    ``criteria.id``, ``targetUrl``, ``image`` (or ``image.id``) and the issuer's ``url``
    (Open Badges names). Iterative, so any nesting is fine."""
    stack: list[tuple[Any, str]] = [(document, "credential")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, list):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(item))
            continue
        if not isinstance(item, dict):
            continue
        for key, value in item.items():
            where = f"{path}.{key}"
            if key == "targetUrl" and value is not None:
                check_link(value, where)
            elif key == "criteria" and isinstance(value, dict) and "id" in value:
                check_link(value["id"], f"{where}.id")
            elif key == "image" and isinstance(value, str):
                check_link(value, where, image=True)
            elif key == "image" and isinstance(value, dict) and "id" in value:
                check_link(value["id"], f"{where}.id", image=True)
            elif key == "issuer" and isinstance(value, dict) and "url" in value:
                check_link(value["url"], f"{where}.url")
            stack.append((value, where))


# --- credentials ---------------------------------------------------------------------------------


def _require_object(document: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(document, Mapping):
        raise MalformedInputError(f"{what} must be a JSON object, got {_json_type(document)}")
    return document


def _required(document: Mapping[str, Any], name: str) -> Any:
    """The member ``name``; absent or null, MalformedInputError saying it is missing."""
    value = document.get(name)
    if value is None:
        raise MalformedInputError(f"{name} is missing")
    return value


def each_located(value: Any, name: str) -> Iterator[tuple[str, Any]]:
    """The items of a member that holds one value or an array of them, each with the path
    messages name it by: ``name`` for a lone value, ``name[i]`` in an array."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield f"{name}[{i}]", item
    else:
        yield name, value


def _objects(value: Any, name: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """:func:`each_located`, refusing an item that is not a JSON object."""
    for where, item in each_located(value, name):
        if not isinstance(item, Mapping):
            raise MalformedInputError(f"{where} must be an object, got {_json_type(item)}")
        yield where, item


def check_context(document: Mapping[str, Any]) -> Version:
    """``@context`` is a non-empty array starting with the VC v1 or v2 URL; returns the version."""
    ctx = _required(document, "@context")
    if not isinstance(ctx, list):
        raise MalformedInputError(f"@context must be an array, got {_json_type(ctx)}")
    if not ctx:
        raise MalformedInputError("@context must not be empty")
    for i, item in enumerate(ctx):
        if not isinstance(item, (str, dict)):
            raise MalformedInputError(f"@context[{i}] must be a URL or an object")
    if ctx[0] == VC_V2_CONTEXT:
        return "2.0"
    if ctx[0] == VC_V1_CONTEXT:
        return "1.1"
    raise MalformedInputError(
        f"@context[0] must be {VC_V2_CONTEXT} or {VC_V1_CONTEXT}, got {ctx[0]!r}"
    )


def _types(document: Mapping[str, Any], what: str) -> list[str]:
    t = document.get("type")
    if t is None:
        raise MalformedInputError(f"{what} type is missing")
    types = [t] if isinstance(t, str) else t
    if not isinstance(types, list) or not all(isinstance(x, str) and x for x in types):
        raise MalformedInputError(f"{what} type must be a string or an array of strings")
    return types


def issuer_id(credential: Mapping[str, Any]) -> str:
    """The issuer URL, whether ``issuer`` is a string or an object with ``id``."""
    issuer = _required(credential, "issuer")
    if isinstance(issuer, Mapping):
        issuer = issuer.get("id")
        if issuer is None:
            raise MalformedInputError("issuer object must have an id")
    if not is_url(issuer):
        raise MalformedInputError(f"issuer must be a URL, got {issuer!r}")
    assert isinstance(issuer, str)
    return issuer


def _check_id(document: Mapping[str, Any], what: str) -> None:
    if "id" in document and not is_url(document["id"]):
        raise MalformedInputError(f"{what} id must be a URL, got {document['id']!r}")


def _check_subjects(credential: Mapping[str, Any]) -> None:
    subject = _required(credential, "credentialSubject")
    if subject == []:
        raise MalformedInputError("credentialSubject must not be an empty array")
    for where, item in _objects(subject, "credentialSubject"):
        if not item:
            # VCDM 2.0 §4.8: each subject "MUST be the subject of one or more claims"
            raise MalformedInputError(f"{where} makes no claim: it must not be an empty object")
        _check_id(item, where)


def _check_typed_objects(
    credential: Mapping[str, Any], name: str, *, id_required: bool = False
) -> None:
    value = credential.get(name)
    if value is None:
        return
    for where, item in _objects(value, name):
        _types(item, where)
        if id_required and "id" not in item:
            raise MalformedInputError(f"{where} id is missing (a URL is required)")
        _check_id(item, where)


def _check_related_resources(credential: Mapping[str, Any]) -> None:
    """VCDM 2.0 §5.3: one or more objects, each with a unique ``id`` and a well-formed
    ``digestSRI`` or ``digestMultibase`` (whether the digests match is checked elsewhere)."""
    value = credential.get("relatedResource")
    if value is None:
        return
    if value == []:
        raise MalformedInputError("relatedResource must not be an empty array")
    seen: set[str] = set()
    for where, item in _objects(value, "relatedResource"):
        if "id" not in item:
            raise MalformedInputError(f"{where} id is missing")
        _check_id(item, where)
        if item["id"] in seen:
            raise MalformedInputError(f"{where} id {item['id']!r} is not unique")
        seen.add(item["id"])
        if "digestSRI" not in item and "digestMultibase" not in item:
            raise MalformedInputError(f"{where} needs a digestSRI or a digestMultibase")
        if "digestSRI" in item:
            parse_digest_sri(item["digestSRI"], f"{where}.digestSRI")
        if "digestMultibase" in item:
            parse_digest_multibase(item["digestMultibase"], f"{where}.digestMultibase")
        media_type = item.get("mediaType")
        if media_type is not None and (not isinstance(media_type, str) or "/" not in media_type):
            raise MalformedInputError(f"{where} mediaType must be a media type string")


def _check_envelope(
    document: Any, what: str, required_type: str
) -> tuple[Mapping[str, Any], Version]:
    """What credentials and presentations share: a JSON object with a VC ``@context``, a
    ``type`` that includes ``required_type``, and a URL ``id`` if any. Returns the object and
    its data model version."""
    checked = _require_object(document, what)
    version = check_context(checked)
    if required_type not in _types(checked, what):
        raise MalformedInputError(f"{what} type must include {required_type}")
    _check_id(checked, what)
    return checked, version


def validity_period(
    credential: Mapping[str, Any], version: Version | None = None
) -> tuple[datetime | None, datetime | None]:
    """(valid from, valid until) as aware datetimes, from the fields of the credential's version."""
    version = version or check_context(credential)
    if version == "2.0":
        start_name, end_name, tz = "validFrom", "validUntil", True
    else:
        start_name, end_name, tz = "issuanceDate", "expirationDate", False
    start = credential.get(start_name)
    end = credential.get(end_name)
    start_dt = None if start is None else parse_xml_datetime(start, start_name, require_timezone=tz)
    end_dt = None if end is None else parse_xml_datetime(end, end_name, require_timezone=tz)
    return start_dt, end_dt


def validate_credential(credential: Any) -> Version:
    """Check the shape of a credential; returns its data model version or raises
    MalformedInputError naming the first problem."""
    cred, version = _check_envelope(credential, "credential", "VerifiableCredential")
    issuer_id(cred)
    _check_subjects(cred)
    if version == "1.1" and "issuanceDate" not in cred:
        raise MalformedInputError("issuanceDate is missing (required by VC 1.1)")
    if version == "2.0":
        for old in ("issuanceDate", "expirationDate"):
            if old in cred:
                raise MalformedInputError(
                    f"{old} is a VC 1.1 property; VC 2.0 uses validFrom/validUntil"
                )
    start, end = validity_period(cred, version)
    if start is not None and end is not None and start > end:
        names = (
            ("validFrom", "validUntil") if version == "2.0" else ("issuanceDate", "expirationDate")
        )
        raise MalformedInputError(f"{names[0]} is later than {names[1]}")
    _check_typed_objects(cred, "credentialStatus")
    _check_typed_objects(cred, "credentialSchema", id_required=True)
    _check_typed_objects(cred, "evidence")
    _check_typed_objects(cred, "termsOfUse")
    _check_typed_objects(cred, "refreshService")
    _check_related_resources(cred)
    return version


# --- presentations -------------------------------------------------------------------------------


def is_presentation(document: Any) -> bool:
    """True when ``type`` names VerifiablePresentation (used to route verify requests)."""
    if not isinstance(document, Mapping):
        return False
    t = document.get("type")
    return t == "VerifiablePresentation" or (isinstance(t, list) and "VerifiablePresentation" in t)


def holder_id(presentation: Mapping[str, Any]) -> str | None:
    holder = presentation.get("holder")
    if holder is None:
        return None
    if isinstance(holder, Mapping):
        holder = holder.get("id")
    if not is_url(holder):
        raise MalformedInputError(f"holder must be a URL or an object with an id, got {holder!r}")
    assert isinstance(holder, str)
    return holder


def members(document: Mapping[str, Any], name: str) -> list[Any]:
    """A member that may hold one value or an array of them, as a list (absent: empty)."""
    value = document.get(name)
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def embedded_credentials(presentation: Mapping[str, Any]) -> list[Any]:
    return members(presentation, "verifiableCredential")


def validate_presentation(presentation: Any) -> Version:
    """Check the shape of a presentation (not the credentials inside it)."""
    vp, version = _check_envelope(presentation, "presentation", "VerifiablePresentation")
    holder_id(vp)
    vcs = vp.get("verifiableCredential")
    if vcs is not None:
        items = vcs if isinstance(vcs, list) else [vcs]
        for i, item in enumerate(items):
            if not isinstance(item, Mapping):
                raise MalformedInputError(
                    f"verifiableCredential[{i}] must be an object, got {_json_type(item)}"
                )
    return version
