"""Badge designs (OB 3.0 Achievements) kept in the store: create, update, list, show, archive.

An update stores a *new version*; earlier versions stay readable and credentials already issued
keep the achievement they embedded (signed), so they stay valid. Images are stored in the store
by the SHA-256 of their bytes and served at ``{base_url}/images/{sha256}.{ext}``: the URL never
changes while the bytes do not. Only PNG and SVG are accepted (the two formats a badge can be
baked into), up to a size cap. Reading local files is the caller's job (``read_file``): the
service itself does no file I/O.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import unquote_to_bytes

from vc_issuer.badges.baking import (
    check_svg_safety,
    detect_image_type,
    media_type,
    png_credential_texts,
    svg_credential_texts,
)
from vc_issuer.badges.openbadges import Achievement, IssuerProfile
from vc_issuer.core.credentials import format_datetime, is_url
from vc_issuer.errors import (
    AchievementArchivedError,
    AchievementNotFoundError,
    ConfigError,
    ImageNotFoundError,
    InputTooLargeError,
    InvalidImageError,
    MalformedInputError,
    NotFoundError,
)
from vc_issuer.store import AchievementRecord, ImageRecord, Store

DEFAULT_MAX_IMAGE_BYTES: Final = 1024 * 1024
ACHIEVEMENT_PATH: Final = "/achievements/"
IMAGE_PATH: Final = "/images/"
PROFILE_META_KEY: Final = "issuer_profile"
_EXTENSIONS: Final = {"png": "png", "svg": "svg"}
_IMAGE_NAME = re.compile(r"^([0-9a-f]{64})\.(png|svg)$")
_KEY = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
#: Keys of an achievement file that are issuer-side settings, not OB properties.
SETTING_KEYS: Final = frozenset({"validForMonths"})

ReadFile = Callable[[str], bytes]

_UNSET: Final[Any] = object()


@dataclass(frozen=True)
class StoredAchievement:
    """One version of a stored badge design."""

    key: str
    version: int
    achievement: Achievement
    archived: bool
    created_at: datetime
    updated_at: datetime

    @property
    def id(self) -> str:
        """The OB ``Achievement.id`` (a URL under the issuer's base URL)."""
        assert self.achievement.id is not None
        return self.achievement.id

    def to_json(self) -> dict[str, Any]:
        """The OB object plus the issuer-side settings, as the CLI and the API show it."""
        return {
            "id": self.id,
            "key": self.key,
            "version": self.version,
            "archived": self.archived,
            "validForMonths": self.achievement.valid_for_months,
            "created": format_datetime(self.created_at),
            "updated": format_datetime(self.updated_at),
            "achievement": self.achievement.to_json(),
        }


def _from_record(record: AchievementRecord) -> StoredAchievement:
    data = dict(record.data)
    data["archived"] = record.archived
    return StoredAchievement(
        key=record.id,
        version=record.version,
        achievement=Achievement.from_record(data),
        archived=record.archived,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def check_image_bytes(data: bytes, max_bytes: int = DEFAULT_MAX_IMAGE_BYTES) -> str:
    """``"png"`` or ``"svg"`` for a well-formed, safe image under the cap; else a coded error."""
    if not isinstance(data, (bytes, bytearray)):
        raise MalformedInputError("the image must be bytes")
    if len(data) > max_bytes:
        raise InputTooLargeError(
            f"the image is {len(data)} bytes; badge images are limited to {max_bytes} bytes",
            limit=max_bytes,
        )
    if not data:
        raise InvalidImageError("the image is empty")
    kind = detect_image_type(bytes(data))  # UNSUPPORTED_IMAGE unless PNG or SVG
    # Parse it fully: a damaged PNG or an SVG with entity declarations is refused here
    # (INVALID_IMAGE), not later when a credential is baked into it.
    if kind == "png":
        png_credential_texts(bytes(data))
    else:
        check_svg_safety(bytes(data))  # UNSAFE_SVG: scripts, handlers, outside references
        svg_credential_texts(bytes(data))
    return kind


def _data_uri_bytes(uri: str) -> bytes:
    head, sep, payload = uri.partition(",")
    if not sep:
        raise MalformedInputError("image.id: a data: URI needs a comma", field="image.id")
    if head.endswith(";base64"):
        try:
            return base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedInputError(
                "image.id: the data: URI is not valid base64", field="image.id"
            ) from None
    return unquote_to_bytes(payload)


def achievement_key(ref: str) -> str:
    """The store key of an achievement given as its key or as its full URL."""
    if not isinstance(ref, str) or not ref:
        raise MalformedInputError("an achievement id is required", field="achievement")
    tail = ref.rstrip("/").rsplit("/", 1)[-1] if "/" in ref else ref
    tail = tail.removeprefix("urn:uuid:").lower()
    if not _KEY.match(tail):
        raise AchievementNotFoundError(f"no achievement {ref!r}")
    return tail


class AchievementService:
    """Badge designs over a ``Store``; ``base_url`` makes their ids and image URLs."""

    def __init__(
        self,
        store: Store,
        *,
        base_url: str,
        max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    ) -> None:
        base = base_url.rstrip("/")
        if not base.startswith(("https://", "http://")):
            raise ConfigError(f"base_url must be an http(s) URL, got {base_url!r}")
        if isinstance(max_image_bytes, bool) or max_image_bytes < 1:
            raise ConfigError("max_image_bytes must be a positive integer")
        self.store = store
        self.base_url = base
        self.max_image_bytes = max_image_bytes

    # --- URLs ------------------------------------------------------------------------------------

    def achievement_url(self, key: str) -> str:
        return f"{self.base_url}{ACHIEVEMENT_PATH}{key}"

    def image_url(self, sha256: str, kind: str) -> str:
        return f"{self.base_url}{IMAGE_PATH}{sha256}.{_EXTENSIONS[kind]}"

    # --- images ----------------------------------------------------------------------------------

    async def store_image(self, data: bytes) -> str:
        """Check and keep a PNG or SVG; returns its stable URL (storing twice is a no-op)."""
        kind = check_image_bytes(data, self.max_image_bytes)
        digest = hashlib.sha256(data).hexdigest()
        await self.store.put_image(digest, media_type(kind), bytes(data))  # type: ignore[arg-type]
        return self.image_url(digest, kind)

    async def image(self, name: str) -> ImageRecord:
        """The image served at ``/images/{name}`` (``{sha256}.png`` or ``{sha256}.svg``)."""
        match = _IMAGE_NAME.match(name)
        record = None if match is None else await self.store.get_image(match.group(1))
        if record is None or match is None:
            raise ImageNotFoundError(f"no image {name!r}")
        if media_type(match.group(2)) != record.media_type:  # type: ignore[arg-type]
            raise ImageNotFoundError(f"no image {name!r}")
        return record

    async def image_bytes_for(self, achievement: Achievement) -> bytes | None:
        """The stored bytes of an achievement's image (None if it has none or it is external)."""
        if achievement.image is None:
            return None
        prefix = self.base_url + IMAGE_PATH
        if not achievement.image.id.startswith(prefix):
            return None
        try:
            return (await self.image(achievement.image.id[len(prefix) :])).data
        except NotFoundError:
            return None

    async def _resolve_image(self, obj: dict[str, Any], read_file: ReadFile | None) -> None:
        """Replace a local path or a data: URI in ``image`` by the stored image's URL."""
        image = obj.get("image")
        if image is None:
            return
        if isinstance(image, str):
            image = {"id": image, "type": "Image"}
        if not isinstance(image, Mapping) or not isinstance(image.get("id"), str):
            return  # Achievement.from_json reports the exact problem
        image = dict(image)
        ref: str = image["id"]
        if ref.startswith("data:"):
            image["id"] = await self.store_image(_data_uri_bytes(ref))
        elif ref.startswith(("https://", "http://")):
            pass  # hosted elsewhere: kept as given
        elif is_url(ref) and not re.match(r"^[A-Za-z]:[\\/]", ref):
            raise MalformedInputError(
                f"image.id {ref!r}: use an http(s) URL, a data: URI or a local PNG/SVG file",
                field="image.id",
            )
        elif read_file is None:
            raise MalformedInputError(
                f"image.id {ref!r} is a local path; only the CLI can read local files",
                field="image.id",
            )
        else:
            image["id"] = await self.store_image(read_file(ref))
        obj["image"] = image

    # --- designs ---------------------------------------------------------------------------------

    async def _prepare(
        self,
        obj: Mapping[str, Any],
        key: str,
        version: int,
        valid_for_months: Any,
        read_file: ReadFile | None,
    ) -> Achievement:
        if not isinstance(obj, Mapping):
            raise MalformedInputError("an achievement must be a JSON object", field="achievement")
        doc = dict(obj)
        months = doc.pop("validForMonths", None)
        if valid_for_months is not _UNSET:
            months = valid_for_months
        url = self.achievement_url(key)
        if "id" in doc and doc["id"] != url:
            raise MalformedInputError(
                f"achievement.id is assigned by the issuer ({url}); leave it out",
                field="achievement.id",
            )
        doc["id"] = url
        doc.setdefault("type", ["Achievement"])
        doc.setdefault("version", str(version))
        # Check everything but the image first: a bad design stores no image.
        Achievement.from_json(
            {k: v for k, v in doc.items() if k != "image"}, valid_for_months=months
        )
        await self._resolve_image(doc, read_file)
        return Achievement.from_json(doc, valid_for_months=months)

    async def create(
        self,
        obj: Mapping[str, Any],
        *,
        valid_for_months: int | None = _UNSET,
        read_file: ReadFile | None = None,
    ) -> StoredAchievement:
        """Store a new design (an OB Achievement without ``id``); version 1."""
        key = str(uuid.uuid4())
        achievement = await self._prepare(obj, key, 1, valid_for_months, read_file)
        record = await self.store.create_achievement(key, achievement.to_record())
        return _from_record(record)

    async def get(self, ref: str, version: int | None = None) -> StoredAchievement:
        """By key or full URL; ``ACHIEVEMENT_NOT_FOUND`` if unknown."""
        key = achievement_key(ref)
        record = await self.store.get_achievement(key, version)
        if record is None:
            what = f"{ref!r}" if version is None else f"{ref!r} version {version}"
            raise AchievementNotFoundError(f"no achievement {what}")
        return _from_record(record)

    async def list(self, *, include_archived: bool = False) -> list[StoredAchievement]:
        records = await self.store.list_achievements(include_archived=include_archived)
        return [_from_record(r) for r in records]

    async def update(
        self,
        ref: str,
        changes: Mapping[str, Any],
        *,
        replace: bool = False,
        valid_for_months: int | None = _UNSET,
        expected_version: int | None = None,
        read_file: ReadFile | None = None,
    ) -> StoredAchievement:
        """Store the next version. ``replace``: ``changes`` is the whole design; otherwise its
        top-level properties are merged into the current one (``None`` removes a property)."""
        current = await self.get(ref)
        if not isinstance(changes, Mapping):
            raise MalformedInputError("achievement changes must be a JSON object")
        if replace:
            doc = dict(changes)
        else:
            doc = current.achievement.to_json()
            for name, value in changes.items():
                if value is None:
                    doc.pop(name, None)
                else:
                    doc[name] = value
        if doc.get("version") == str(current.version):
            doc.pop("version")  # the automatic version label follows the stored version
        if valid_for_months is _UNSET and "validForMonths" not in doc:
            valid_for_months = current.achievement.valid_for_months
        version = current.version + 1
        achievement = await self._prepare(doc, current.key, version, valid_for_months, read_file)
        record = await self.store.update_achievement(
            current.key,
            achievement.to_record(),
            expected_version=current.version if expected_version is None else expected_version,
        )
        return _from_record(record)

    async def archive(self, ref: str, archived: bool = True) -> StoredAchievement:
        """Archived designs can no longer be awarded; issued badges are untouched."""
        key = achievement_key(ref)
        try:
            record = await self.store.set_achievement_archived(key, archived)
        except NotFoundError:
            raise AchievementNotFoundError(f"no achievement {ref!r}") from None
        return _from_record(record)

    async def awardable(self, ref: str) -> StoredAchievement:
        """The current version, refused (``ACHIEVEMENT_ARCHIVED``) when archived."""
        stored = await self.get(ref)
        if stored.archived:
            raise AchievementArchivedError(
                f"achievement {stored.id} is archived: it can no longer be awarded",
                field="achievement",
            )
        return stored

    # --- issuer profile --------------------------------------------------------------------------

    async def profile(self, did: str, default_name: str | None = None) -> IssuerProfile:
        """The OB issuer Profile shown in badges (name, url, email, image, description)."""
        raw = await self.store.get_meta(PROFILE_META_KEY)
        if raw is None:
            return IssuerProfile(id=did, name=default_name or did)
        obj = json.loads(raw)
        obj["id"] = did
        return IssuerProfile.from_json(obj)

    async def set_profile(
        self, did: str, obj: Mapping[str, Any], *, read_file: ReadFile | None = None
    ) -> IssuerProfile:
        doc = dict(obj)
        if "id" in doc and doc["id"] != did:
            raise MalformedInputError(
                f"issuer.id must be this issuer's DID ({did})", field="issuer.id"
            )
        doc["id"] = did
        IssuerProfile.from_json({k: v for k, v in doc.items() if k != "image"})
        await self._resolve_image(doc, read_file)
        profile = IssuerProfile.from_json(doc)
        stored = profile.to_json()
        stored.pop("id")
        await self.store.set_meta(PROFILE_META_KEY, json.dumps(stored, ensure_ascii=False))
        return profile


__all__ = [
    "DEFAULT_MAX_IMAGE_BYTES",
    "AchievementService",
    "StoredAchievement",
    "achievement_key",
    "check_image_bytes",
]
