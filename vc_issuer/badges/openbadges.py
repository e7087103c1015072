"""Open Badges 3.0: achievements (badge designs), issuer profiles, awards and schema checks.

Pure functions over JSON-shaped data. Nothing here signs, stores or fetches: the issuer pipeline
signs what :func:`build_award` returns, the store keeps :meth:`Achievement.to_record`. The JSON
Schemas ship inside the package (``vc_issuer/schemas``) and are never fetched, nor are their
``$ref`` targets.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import re
import secrets
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any, Final

from jsonschema import Draft201909Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT201909

from vc_issuer.core import work
from vc_issuer.core.credentials import check_link, format_datetime, is_url
from vc_issuer.core.jsonparse import json_type as _json_type
from vc_issuer.errors import (
    AchievementArchivedError,
    MalformedInputError,
    MissingRecipientError,
    SchemaValidationError,
)

VC_V2_CONTEXT: Final = "https://www.w3.org/ns/credentials/v2"
OB_CONTEXT: Final = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
ACHIEVEMENT_CREDENTIAL_SCHEMA_URL: Final = (
    "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
)
ENDORSEMENT_CREDENTIAL_SCHEMA_URL: Final = (
    "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_endorsementcredential_schema.json"
)
#: ``credentialSchema.type``. VC 2.0 defines ``JsonSchema``; 1EdTech's examples use
#: ``1EdTechJsonSchemaValidator2019``, which only the (unpublished) OB ``extensions.json`` context
#: defines, so with VC 2.0 + OB 3.0.3 alone it fails JSON-LD safe mode.
SCHEMA_VALIDATOR_TYPE: Final = "JsonSchema"
EDTECH_SCHEMA_VALIDATOR_TYPE: Final = "1EdTechJsonSchemaValidator2019"

ACHIEVEMENT_SCHEMA_FILE: Final = "ob_v3p0_achievementcredential_schema.json"
ENDORSEMENT_SCHEMA_FILE: Final = "ob_v3p0_endorsementcredential_schema.gh-pages.json"

#: OB 3.0 AchievementType vocabulary; other values must use the ``ext:`` prefix.
ACHIEVEMENT_TYPES: Final = frozenset(
    {
        "Achievement", "ApprenticeshipCertificate", "Assessment", "Assignment",
        "AssociateDegree", "Award", "Badge", "BachelorDegree", "Certificate",
        "CertificateOfCompletion", "Certification", "CommunityService", "Competency", "Course",
        "CoCurricular", "Degree", "Diploma", "DoctoralDegree", "Fieldwork",
        "GeneralEducationDevelopment", "JourneymanCertificate", "LearningProgram", "License",
        "Membership", "ProfessionalDoctorate", "QualityAssuranceCredential", "MasterCertificate",
        "MasterDegree", "MicroCredential", "ResearchDoctorate", "SecondarySchoolDiploma",
    }
)  # fmt: skip

#: OB 3.0 AlignmentTargetType vocabulary; other values must use the ``ext:`` prefix.
ALIGNMENT_TARGET_TYPES: Final = frozenset(
    {"ceasn:Competency", "ceterms:Credential", "CFItem", "CFRubric", "CFRubricCriterion",
     "CFRubricCriterionLevel", "CTDL"}
)  # fmt: skip

#: OB 3.0 ResultType vocabulary; other values must use the ``ext:`` prefix.
RESULT_TYPES: Final = frozenset(
    {"GradePointAverage", "LetterGrade", "Percent", "PerformanceLevel", "PredictedScore",
     "RawScore", "Result", "RubricCriterion", "RubricCriterionLevel", "RubricScore",
     "ScaledScore", "Status"}
)  # fmt: skip

# The schema's own pattern for extension values (unanchored, as 1EdTech wrote it).
_EXT = re.compile(r"(ext:)[a-z|A-Z|0-9|.|-|_]+")

# Optional OB 3.0 Achievement properties kept verbatim (not modelled, but defined by the
# context or the schema, so they survive a round trip).
_PASSTHROUGH_ACHIEVEMENT_KEYS: Final = frozenset(
    {"creator", "creditsAvailable", "endorsement", "endorsementJwt", "fieldOfStudy",
     "humanCode", "inLanguage", "otherIdentifier", "related", "specialization"}
)  # fmt: skip
_MODELLED_ACHIEVEMENT_KEYS: Final = frozenset(
    {"id", "type", "name", "description", "criteria", "image", "achievementType", "tag",
     "alignment", "resultDescription", "version"}
)  # fmt: skip
_ALIGNMENT_KEYS: Final = frozenset(
    {"type", "targetName", "targetUrl", "targetFramework", "targetCode", "targetType",
     "targetDescription"}
)  # fmt: skip

MAX_VALID_FOR_MONTHS: Final = 1200


# --- field checks --------------------------------------------------------------------------------


def _given(members: Mapping[str, Any]) -> dict[str, Any]:
    """The members that have a value: OB leaves an absent optional member out (never null)."""
    return {key: value for key, value in members.items() if value is not None}


def _bad(path: str, message: str) -> MalformedInputError:
    return MalformedInputError(f"{path}: {message}", field=path)


def _require(obj: Mapping[str, Any], keys: tuple[str, ...], path: str) -> None:
    """Every missing member at once (not one per attempt): ``field`` names the first,
    ``missing`` all of them."""
    missing = [f"{path}.{key}" for key in keys if key not in obj]
    if len(missing) == 1:
        raise _bad(missing[0], "is required")
    if missing:
        raise MalformedInputError(
            f"{', '.join(missing)}: are required", field=missing[0], missing=missing
        )


def _object(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _bad(path, f"must be an object, got {_json_type(value)}")
    return value


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise _bad(path, f"must be a string, got {_json_type(value)}")
    if not value.strip():
        raise _bad(path, "must not be empty")
    return value


def _opt_string(obj: Mapping[str, Any], key: str, path: str) -> str | None:
    if key not in obj or obj[key] is None:
        return None
    return _string(obj[key], f"{path}.{key}")


def _uri(value: Any, path: str) -> str:
    _string(value, path)
    if not is_url(value):
        raise _bad(path, f"must be an absolute URI, got {value!r}")
    return str(value)


def _link(value: Any, path: str, *, image: bool = False) -> str:
    """A URI that is stored and shown as a link: http(s) only (``UNSAFE_URL`` otherwise)."""
    return check_link(_uri(value, path), path, image=image)


def _opt_link(obj: Mapping[str, Any], key: str, path: str) -> str | None:
    if key not in obj or obj[key] is None:
        return None
    return _link(obj[key], f"{path}.{key}")


def _opt_uri(obj: Mapping[str, Any], key: str, path: str) -> str | None:
    if key not in obj or obj[key] is None:
        return None
    return _uri(obj[key], f"{path}.{key}")


def _array(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise _bad(path, f"must be an array, got {_json_type(value)}")
    return value


def _types(value: Any, path: str, required: str) -> list[str]:
    """OB types are unordered sets; a lone string is accepted on input."""
    items = [value] if isinstance(value, str) else _array(value, path)
    for i, item in enumerate(items):
        _string(item, f"{path}[{i}]")
    if required not in items:
        raise _bad(path, f"must contain {required!r}")
    return list(items)


def _vocab(value: Any, path: str, allowed: frozenset[str]) -> str:
    text = _string(value, path)
    if text not in allowed and not _EXT.search(text):
        raise _bad(path, f"{text!r} is not in the OB 3.0 vocabulary and has no 'ext:' prefix")
    return text


def _no_unknown_keys(obj: Mapping[str, Any], allowed: Iterable[str], path: str) -> None:
    allowed_set = set(allowed)
    unknown = sorted(k for k in obj if k not in allowed_set)
    if unknown:
        raise _bad(
            f"{path}.{unknown[0]}",
            "is not an OB 3.0 property here (it would not survive JSON-LD safe mode)",
        )


# --- models --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Criteria:
    """What a learner must do: a narrative (Markdown), a URL describing it, or both."""

    narrative: str | None = None
    id: str | None = None

    def __post_init__(self) -> None:
        if self.narrative is None and self.id is None:
            raise _bad("criteria", "needs a narrative or an id (criteria URL)")

    @classmethod
    def from_json(cls, obj: Any, path: str = "criteria") -> Criteria:
        obj = _object(obj, path)
        _no_unknown_keys(obj, ("id", "narrative"), path)
        narrative = _opt_string(obj, "narrative", path)
        crit_id = _opt_link(obj, "id", path)
        if narrative is None and crit_id is None:
            raise _bad(path, "needs a narrative or an id (criteria URL)")
        return cls(narrative=narrative, id=crit_id)

    def to_json(self) -> dict[str, Any]:
        return _given({"id": self.id, "narrative": self.narrative})


@dataclass(frozen=True)
class Image:
    """An OB Image: ``id`` is an http(s) URL or a data: URI."""

    id: str
    caption: str | None = None

    @classmethod
    def from_json(cls, obj: Any, path: str = "image", *, allow_path: bool = False) -> Image:
        if isinstance(obj, str):  # OB allows the bare id
            obj = {"id": obj, "type": "Image"}
        obj = _object(obj, path)
        _no_unknown_keys(obj, ("id", "type", "caption"), path)
        if "type" in obj and obj["type"] != "Image":
            raise _bad(f"{path}.type", f"must be 'Image', got {obj['type']!r}")
        if "id" not in obj:
            raise _bad(f"{path}.id", "is required")
        image_id = (
            _string(obj["id"], f"{path}.id")
            if allow_path
            else _link(obj["id"], f"{path}.id", image=True)
        )
        return cls(id=image_id, caption=_opt_string(obj, "caption", path))

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "type": "Image", **_given({"caption": self.caption})}


@dataclass(frozen=True)
class Alignment:
    """A link from an achievement to a node of a skill or competency framework."""

    target_name: str
    target_url: str
    target_framework: str | None = None
    target_code: str | None = None
    target_type: str | None = None
    target_description: str | None = None

    @classmethod
    def from_json(cls, obj: Any, path: str = "alignment") -> Alignment:
        obj = _object(obj, path)
        _no_unknown_keys(obj, _ALIGNMENT_KEYS, path)
        if "type" in obj:
            _types(obj["type"], f"{path}.type", "Alignment")
        _require(obj, ("targetName", "targetUrl"), path)
        target_type = obj.get("targetType")
        return cls(
            target_name=_string(obj["targetName"], f"{path}.targetName"),
            target_url=_link(obj["targetUrl"], f"{path}.targetUrl"),
            target_framework=_opt_string(obj, "targetFramework", path),
            target_code=_opt_string(obj, "targetCode", path),
            target_type=(
                None
                if target_type is None
                else _vocab(target_type, f"{path}.targetType", ALIGNMENT_TARGET_TYPES)
            ),
            target_description=_opt_string(obj, "targetDescription", path),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "type": ["Alignment"],
            "targetName": self.target_name,
            "targetUrl": self.target_url,
            **_given(
                {
                    "targetFramework": self.target_framework,
                    "targetCode": self.target_code,
                    "targetType": self.target_type,
                    "targetDescription": self.target_description,
                }
            ),
        }


def _result_description(obj: Any, path: str) -> dict[str, Any]:
    """Checked but kept as JSON: the rubric structure is rich and rarely edited by hand."""
    obj = _object(obj, path)
    _require(obj, ("id", "type", "name", "resultType"), path)
    _uri(obj["id"], f"{path}.id")
    _types(obj["type"], f"{path}.type", "ResultDescription")
    _string(obj["name"], f"{path}.name")
    _vocab(obj["resultType"], f"{path}.resultType", RESULT_TYPES)
    out = dict(obj)
    if isinstance(out["type"], str):
        out["type"] = [out["type"]]
    return out


@dataclass(frozen=True)
class Achievement:
    """A badge design: what is certified, how it is earned, what it aligns to.

    ``valid_for_months`` (awards expire that many calendar months after the award) and
    ``archived`` are issuer-side rules, not OB properties: they live in :meth:`to_record`,
    never in :meth:`to_json`.
    """

    name: str
    description: str
    criteria: Criteria
    id: str | None = None
    image: Image | None = None
    achievement_type: str | None = None
    tags: tuple[str, ...] = ()
    alignments: tuple[Alignment, ...] = ()
    result_descriptions: tuple[dict[str, Any], ...] = ()
    version: str | None = None
    valid_for_months: int | None = None
    archived: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_valid_for_months(self.valid_for_months)

    @classmethod
    def from_json(
        cls,
        obj: Any,
        *,
        require_id: bool = True,
        allow_image_path: bool = False,
        valid_for_months: int | None = None,
        archived: bool = False,
    ) -> Achievement:
        """Strictly read an OB 3.0 Achievement object.

        ``require_id=False`` accepts a new design (the store assigns the id);
        ``allow_image_path=True`` lets ``image.id`` be a local file path the caller will store.
        """
        path = "achievement"
        obj = _object(obj, path)
        _no_unknown_keys(obj, _MODELLED_ACHIEVEMENT_KEYS | _PASSTHROUGH_ACHIEVEMENT_KEYS, path)
        required = ("id", "type") if require_id else ()
        _require(obj, (*required, "name", "description", "criteria"), path)
        if "type" in obj:
            _types(obj["type"], f"{path}.type", "Achievement")
        ach_id = _uri(obj["id"], f"{path}.id") if "id" in obj else None
        tags = tuple(
            _string(t, f"{path}.tag[{i}]")
            for i, t in enumerate(_array(obj.get("tag", []), f"{path}.tag"))
        )
        alignments = tuple(
            Alignment.from_json(a, f"{path}.alignment[{i}]")
            for i, a in enumerate(_array(obj.get("alignment", []), f"{path}.alignment"))
        )
        results = tuple(
            _result_description(r, f"{path}.resultDescription[{i}]")
            for i, r in enumerate(
                _array(obj.get("resultDescription", []), f"{path}.resultDescription")
            )
        )
        ach_type = obj.get("achievementType")
        return cls(
            id=ach_id,
            name=_string(obj["name"], f"{path}.name"),
            description=_string(obj["description"], f"{path}.description"),
            criteria=Criteria.from_json(obj["criteria"], f"{path}.criteria"),
            image=(
                None
                if obj.get("image") is None
                else Image.from_json(obj["image"], f"{path}.image", allow_path=allow_image_path)
            ),
            achievement_type=(
                None
                if ach_type is None
                else _vocab(ach_type, f"{path}.achievementType", ACHIEVEMENT_TYPES)
            ),
            tags=tags,
            alignments=alignments,
            result_descriptions=results,
            version=_opt_string(obj, "version", path),
            valid_for_months=valid_for_months,
            archived=archived,
            extra={k: obj[k] for k in sorted(_PASSTHROUGH_ACHIEVEMENT_KEYS) if k in obj},
        )

    def to_json(self) -> dict[str, Any]:
        """The OB 3.0 Achievement object embedded in awards (needs an ``id``)."""
        if self.id is None:
            raise _bad("achievement.id", "is required to embed the achievement in a credential")
        out: dict[str, Any] = {
            "id": self.id,
            "type": ["Achievement"],
            "name": self.name,
            "description": self.description,
            "criteria": self.criteria.to_json(),
            **_given(
                {
                    "image": None if self.image is None else self.image.to_json(),
                    "achievementType": self.achievement_type,
                    "tag": list(self.tags) or None,
                    "alignment": [a.to_json() for a in self.alignments] or None,
                    "resultDescription": [dict(r) for r in self.result_descriptions] or None,
                    "version": self.version,
                }
            ),
        }
        out.update(self.extra)
        return out

    def to_record(self) -> dict[str, Any]:
        """JSON for storage: the OB object plus the issuer-side rules."""
        return {
            "achievement": self.to_json(),
            "validForMonths": self.valid_for_months,
            "archived": self.archived,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Achievement:
        record = _object(record, "record")
        months = record.get("validForMonths")
        archived = record.get("archived", False)
        if not isinstance(archived, bool):
            raise _bad("record.archived", "must be a boolean")
        if months is not None and (isinstance(months, bool) or not isinstance(months, int)):
            raise _bad("record.validForMonths", "must be an integer or null")
        return cls.from_json(record.get("achievement"), valid_for_months=months, archived=archived)

    def valid_until(self, awarded: datetime) -> datetime | None:
        """When an award made at ``awarded`` expires under the validity rule (None: never)."""
        if self.valid_for_months is None:
            return None
        return add_months(awarded, self.valid_for_months)


def _check_valid_for_months(months: int | None) -> None:
    if months is None:
        return
    if isinstance(months, bool) or not isinstance(months, int):
        raise _bad("validForMonths", "must be an integer")
    if not 1 <= months <= MAX_VALID_FOR_MONTHS:
        raise _bad("validForMonths", f"must be between 1 and {MAX_VALID_FOR_MONTHS}")


def add_months(moment: datetime, months: int) -> datetime:
    """Calendar months later; the day is clamped (31 Jan + 1 month = 28/29 Feb)."""
    years, month0 = divmod(moment.month - 1 + months, 12)
    year, month = moment.year + years, month0 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


@dataclass(frozen=True)
class IssuerProfile:
    """The issuer as OB shows it: ``id`` is the issuer's DID (or URL)."""

    id: str
    name: str
    url: str | None = None
    email: str | None = None
    image: Image | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        _uri(self.id, "issuer.id")
        _string(self.name, "issuer.name")
        if self.url is not None:
            _link(self.url, "issuer.url")
        if self.email is not None and "@" not in _string(self.email, "issuer.email"):
            raise _bad("issuer.email", f"is not an email address: {self.email!r}")

    @classmethod
    def from_json(cls, obj: Any) -> IssuerProfile:
        path = "issuer"
        obj = _object(obj, path)
        _no_unknown_keys(obj, ("id", "type", "name", "url", "email", "image", "description"), path)
        if "type" in obj:
            _types(obj["type"], f"{path}.type", "Profile")
        _require(obj, ("id", "name"), path)
        return cls(
            id=_uri(obj["id"], f"{path}.id"),
            name=_string(obj["name"], f"{path}.name"),
            url=_opt_link(obj, "url", path),
            email=_opt_string(obj, "email", path),
            image=None
            if obj.get("image") is None
            else Image.from_json(obj["image"], f"{path}.image"),
            description=_opt_string(obj, "description", path),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": ["Profile"],
            "name": self.name,
            **_given(
                {
                    "url": self.url,
                    "email": self.email,
                    "image": None if self.image is None else self.image.to_json(),
                    "description": self.description,
                }
            ),
        }


# --- recipients ----------------------------------------------------------------------------------


def normalize_email(email: str) -> str:
    """Trim and lowercase, so one person gets one hash whatever the CSV spelling."""
    if not isinstance(email, str):
        raise _bad("recipient.email", f"must be a string, got {_json_type(email)}")
    value = email.strip().lower()
    local, at, domain = value.partition("@")
    if not at or not local or not domain or any(c.isspace() for c in value) or "@" in domain:
        raise _bad("recipient.email", f"is not an email address: {email!r}")
    return value


def hash_email(email: str, salt: str) -> str:
    """OB IdentityHash: ``sha256$`` + hex SHA-256 of the normalized email followed by the salt."""
    digest = hashlib.sha256((normalize_email(email) + salt).encode("utf-8")).hexdigest()
    return "sha256$" + digest


def email_identity(email: str, salt: str) -> dict[str, Any]:
    """A hashed, salted ``emailAddress`` IdentityObject for ``credentialSubject.identifier``."""
    return {
        "type": "IdentityObject",
        "identityHash": hash_email(email, salt),
        "identityType": "emailAddress",
        "hashed": True,
        "salt": salt,
    }


def identity_matches(identity: Mapping[str, Any], email: str) -> bool:
    """Whether an IdentityObject designates ``email`` (hashed or plain)."""
    if identity.get("identityType") != "emailAddress":
        return False
    value = identity.get("identityHash")
    if not isinstance(value, str):
        return False
    if identity.get("hashed") is not True:
        return value.strip().lower() == normalize_email(email)
    algo, _, hexdigest = value.partition("$")
    if algo != "sha256":
        return False
    salt = identity.get("salt") or ""
    expected = hash_email(email, salt if isinstance(salt, str) else "").partition("$")[2]
    return secrets.compare_digest(expected, hexdigest.lower())


def _typed_list(items: Any, path: str, type_name: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, item in enumerate(_array(items, path)):
        obj = dict(_object(item, f"{path}[{i}]"))
        if "type" not in obj:
            obj["type"] = [type_name]
        else:
            obj["type"] = _types(obj["type"], f"{path}[{i}].type", type_name)
        out.append(obj)
    return out


# --- awards --------------------------------------------------------------------------------------


def build_award(
    achievement: Achievement,
    issuer_profile: IssuerProfile,
    *,
    awarded: datetime,
    recipient_did: str | None = None,
    email: str | None = None,
    name: str | None = None,
    evidence: list[dict[str, Any]] | None = None,
    results: list[dict[str, Any]] | None = None,
    credential_id: str | None = None,
    salt: str | None = None,
    validate: bool = True,
    schema_type: str = SCHEMA_VALIDATOR_TYPE,
) -> dict[str, Any]:
    """An unsigned OpenBadgeCredential (VC 2.0 + OB context 3.0.3) for one recipient.

    The recipient is ``recipient_did`` (``credentialSubject.id``) and/or ``email`` (a salted,
    hashed IdentityObject; ``salt`` defaults to 16 random bytes in hex). ``awardedDate`` sits on
    the credential, where OB 3.0 defines it. ``validate`` runs the AchievementCredential schema.
    """
    if achievement.archived:
        raise AchievementArchivedError(
            f"achievement {achievement.id} is archived: it can no longer be awarded",
            field="achievement",
        )
    if awarded.tzinfo is None:
        raise _bad("awarded", "must be timezone-aware")
    if recipient_did is None and email is None:
        raise MissingRecipientError(
            "the recipient needs a DID or an email address",
            field="recipient",
        )
    subject: dict[str, Any] = {"type": ["AchievementSubject"]}
    if recipient_did is not None:
        subject["id"] = _uri(recipient_did, "recipient.id")
    if email is not None:
        subject["identifier"] = [
            email_identity(email, salt if salt is not None else secrets.token_hex(16))
        ]
    if name is not None:
        subject["name"] = _string(name, "recipient.name")
    subject["achievement"] = achievement.to_json()
    if results:
        subject["result"] = _typed_list(results, "results", "Result")

    if credential_id is None:
        credential_id = f"urn:uuid:{uuid.uuid4()}"
    credential: dict[str, Any] = {
        "@context": [VC_V2_CONTEXT, OB_CONTEXT],
        "id": _uri(credential_id, "credential.id"),
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": achievement.name,
        "issuer": issuer_profile.to_json(),
        "validFrom": format_datetime(awarded),
    }
    until = achievement.valid_until(awarded)
    if until is not None:
        credential["validUntil"] = format_datetime(until)
    credential["awardedDate"] = format_datetime(awarded)
    credential["credentialSubject"] = subject
    if evidence:
        credential["evidence"] = _typed_list(evidence, "evidence", "Evidence")
    credential["credentialSchema"] = [
        {"id": ACHIEVEMENT_CREDENTIAL_SCHEMA_URL, "type": schema_type}
    ]
    if validate:
        check_ob_credential(credential)
    return credential


# --- JSON Schema ---------------------------------------------------------------------------------


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _is_date_time(value: object) -> bool:
    """RFC 3339 date-time, checked here because jsonschema skips formats it cannot check."""
    if not isinstance(value, str):
        return True
    if _RFC3339.match(value) is None:
        return False
    try:
        datetime.fromisoformat(value.replace("z", "Z").replace("t", "T").replace("Z", "+00:00"))
    except ValueError:
        return value[17:19] == "60"  # leap second: valid RFC 3339, unknown to datetime
    return True


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    checker.checks("date-time")(_is_date_time)
    return checker


def _load_schema(filename: str) -> dict[str, Any]:
    text = resources.files("vc_issuer").joinpath("schemas", filename).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _no_retrieval(uri: str) -> Resource[Any]:
    raise NoSuchResource(uri)  # offline: a remote $ref is an error, never a download


@cache
def _validator(filename: str) -> Draft201909Validator:
    schema = _load_schema(filename)
    registry: Registry[Any] = Registry(retrieve=_no_retrieval).with_resource(  # type: ignore[call-arg]
        schema["$id"], DRAFT201909.create_resource(schema)
    )
    return Draft201909Validator(schema, registry=registry, format_checker=_format_checker())


def _error_path(error: ValidationError) -> str:
    out = ""
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(root)"


def _error_message(error: ValidationError) -> str:
    if error.validator == "type":
        return f"must be of type {error.validator_value}, got {_json_type(error.instance)}"
    if error.validator == "required":
        return error.message
    if error.validator in ("oneOf", "anyOf") and error.context:
        best = min(error.context, key=lambda e: len(e.message))
        return _error_message(best)
    message = error.message
    return message if len(message) <= 200 else message[:197] + "..."


def _charged(errors: Iterable[ValidationError]) -> Iterator[ValidationError]:
    """Schema errors, each charged to the request's work budget (vc_issuer.core.work): a
    document built to fail every rule fails with WORK_BUDGET_EXCEEDED, not after minutes."""
    for error in errors:
        work.charge(64)
        yield error


def _validate(filename: str, credential: Any) -> list[str]:
    validator = _validator(filename)
    errors = sorted(
        _charged(validator.iter_errors(credential)), key=lambda e: list(map(str, e.absolute_path))
    )
    return [f"{_error_path(e)}: {_error_message(e)}" for e in errors]


def validate_ob_credential(credential: Any) -> list[str]:
    """Messages (``path: problem``) from the OB 3.0 AchievementCredential schema; [] if valid."""
    return _validate(ACHIEVEMENT_SCHEMA_FILE, credential)


def validate_endorsement_credential(credential: Any) -> list[str]:
    """Messages from the OB 3.0 EndorsementCredential schema; [] if valid."""
    return _validate(ENDORSEMENT_SCHEMA_FILE, credential)


def _check(validate: Callable[[Any], list[str]], credential: Any, what: str) -> None:
    errors = validate(credential)
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise SchemaValidationError(f"not a valid OB 3.0 {what}: {errors[0]}{more}", errors=errors)


def check_ob_credential(credential: Any) -> None:
    """Raise SchemaValidationError (with every message in ``errors``) unless the schema passes."""
    _check(validate_ob_credential, credential, "AchievementCredential")


def check_endorsement_credential(credential: Any) -> None:
    _check(validate_endorsement_credential, credential, "EndorsementCredential")


def ob_schema_compatible(signed: Mapping[str, Any]) -> dict[str, Any]:
    """The same credential shaped as the OB schema wants: ``proof`` an array, one status object.

    Neither changes the RDF graph (``proof`` is a graph container, ``credentialStatus`` has no
    list container), so every signature still verifies.
    """
    out = dict(signed)
    proof = out.get("proof")
    if isinstance(proof, Mapping):
        out["proof"] = [dict(proof)]
    status = out.get("credentialStatus")
    if isinstance(status, list) and len(status) == 1:
        out["credentialStatus"] = status[0]
    return out


__all__ = [
    "ACHIEVEMENT_CREDENTIAL_SCHEMA_URL",
    "ACHIEVEMENT_TYPES",
    "EDTECH_SCHEMA_VALIDATOR_TYPE",
    "OB_CONTEXT",
    "SCHEMA_VALIDATOR_TYPE",
    "VC_V2_CONTEXT",
    "Achievement",
    "Alignment",
    "Criteria",
    "Image",
    "IssuerProfile",
    "add_months",
    "build_award",
    "check_endorsement_credential",
    "check_ob_credential",
    "email_identity",
    "hash_email",
    "identity_matches",
    "normalize_email",
    "ob_schema_compatible",
    "validate_endorsement_credential",
    "validate_ob_credential",
]
