"""Badge designs over a real SQLite store: versions, archive, images by hash, issuer profile."""

from __future__ import annotations

import base64
import hashlib

import pytest

from vc_issuer.badges.achievements import (
    AchievementService,
    achievement_key,
    check_image_bytes,
)
from vc_issuer.badges.baking import bake, default_badge_png, default_badge_svg
from vc_issuer.errors import (
    AchievementArchivedError,
    ConflictError,
    InputTooLargeError,
    InvalidImageError,
    MalformedInputError,
    NotFoundError,
    UnsupportedImageError,
    VCIssuerError,
)
from vc_issuer.store import Store

from ._helpers import python_101 as design

BASE = "https://badges.example.edu"
PNG = default_badge_png()
SVG = default_badge_svg("Python 101")


@pytest.fixture
def service(store: Store) -> AchievementService:
    return AchievementService(store, base_url=BASE + "/")


async def test_create_assigns_id_and_version(service: AchievementService) -> None:
    stored = await service.create(design(), valid_for_months=24)
    assert stored.version == 1 and not stored.archived
    assert stored.id == f"{BASE}/achievements/{stored.key}"
    ob = stored.achievement.to_json()
    assert ob["id"] == stored.id and ob["type"] == ["Achievement"] and ob["version"] == "1"
    assert ob["alignment"][0]["targetCode"] == "S1.2"
    assert stored.achievement.valid_for_months == 24
    shown = stored.to_json()
    assert shown["validForMonths"] == 24 and shown["key"] == stored.key
    again = await service.get(stored.id)  # by URL
    assert again == await service.get(stored.key)  # or by key
    assert again.achievement == stored.achievement


async def test_valid_for_months_from_the_file(service: AchievementService) -> None:
    stored = await service.create(design(validForMonths=12))
    assert stored.achievement.valid_for_months == 12
    assert "validForMonths" not in stored.achievement.to_json()


async def test_bad_designs_are_refused_with_codes(service: AchievementService) -> None:
    with pytest.raises(MalformedInputError) as info:
        await service.create(design(name=""))
    assert info.value.extra["field"] == "achievement.name"
    with pytest.raises(MalformedInputError):
        await service.create(design(id="https://elsewhere.example/a"))
    with pytest.raises(MalformedInputError):
        await service.create(design(validForMonths=0))
    with pytest.raises(MalformedInputError):
        await service.create(design(color="red"))  # not an OB property
    assert await service.list(include_archived=True) == []


async def test_update_makes_a_new_version_and_keeps_the_old(service: AchievementService) -> None:
    first = await service.create(design(), valid_for_months=24)
    second = await service.update(first.key, {"description": "Now with tests.", "tag": None})
    assert second.version == 2 and second.id == first.id
    assert second.achievement.description == "Now with tests."
    assert second.achievement.tags == ()
    assert second.achievement.version == "2"
    assert second.achievement.valid_for_months == 24  # settings carry over
    old = await service.get(first.key, version=1)
    assert old.achievement.description == design()["description"]
    assert old.achievement.version == "1"
    third = await service.update(first.id, design(name="Python 102"), replace=True)
    assert third.version == 3 and third.achievement.name == "Python 102"
    assert third.achievement.tags == ("python", "programming")
    with pytest.raises(ConflictError):
        await service.update(first.key, {"name": "x"}, expected_version=1)
    with pytest.raises(NotFoundError) as info:
        await service.get(first.key, version=9)
    assert info.value.code == "ACHIEVEMENT_NOT_FOUND"


async def test_bad_update_stores_nothing(service: AchievementService) -> None:
    first = await service.create(design())
    with pytest.raises(MalformedInputError):
        await service.update(first.key, {"criteria": {}})
    assert (await service.get(first.key)).version == 1


async def test_archive_and_list(service: AchievementService) -> None:
    a = await service.create(design(name="A"))
    b = await service.create(design(name="B"))
    archived = await service.archive(a.id)
    assert archived.archived and archived.version == 1
    assert [s.key for s in await service.list()] == [b.key]
    assert {s.key for s in await service.list(include_archived=True)} == {a.key, b.key}
    with pytest.raises(AchievementArchivedError) as info:
        await service.awardable(a.key)
    assert info.value.code == "ACHIEVEMENT_ARCHIVED"
    assert (await service.awardable(b.key)).key == b.key
    restored = await service.archive(a.key, archived=False)
    assert not restored.archived


@pytest.mark.parametrize(
    "ref", ["nope", "https://badges.example.edu/achievements/nope", "", "urn:uuid:xyz"]
)
async def test_unknown_achievement(service: AchievementService, ref: str) -> None:
    with pytest.raises((NotFoundError, MalformedInputError)) as info:
        await service.get(ref)
    assert info.value.code in ("ACHIEVEMENT_NOT_FOUND", "MALFORMED_VALUE_ERROR")
    with pytest.raises((NotFoundError, MalformedInputError)):
        await service.archive(ref)


async def test_unknown_uuid_is_not_found(service: AchievementService) -> None:
    key = "0b6c0d4e-8a8b-4a57-9a52-2b1d5f6b1c11"
    assert achievement_key(f"{BASE}/achievements/{key}") == key
    with pytest.raises(NotFoundError) as info:
        await service.awardable(key)
    assert info.value.code == "ACHIEVEMENT_NOT_FOUND" and info.value.http_status == 404


# --- images -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "ext", "media"), [(PNG, "png", "image/png"), (SVG, "svg", "image/svg+xml")]
)
async def test_local_image_is_stored_and_served_by_hash(
    service: AchievementService, data: bytes, ext: str, media: str
) -> None:
    read: list[str] = []

    def read_file(path: str) -> bytes:
        read.append(path)
        return data

    stored = await service.create(
        design(image={"id": "badge-file", "caption": "c"}), read_file=read_file
    )
    digest = hashlib.sha256(data).hexdigest()
    url = f"{BASE}/images/{digest}.{ext}"
    assert read == ["badge-file"]
    assert stored.achievement.image is not None
    assert stored.achievement.image.id == url and stored.achievement.image.caption == "c"
    image = await service.image(f"{digest}.{ext}")
    assert image.data == data and image.media_type == media
    assert await service.image_bytes_for(stored.achievement) == data
    other = "svg" if ext == "png" else "png"
    with pytest.raises(NotFoundError) as info:
        await service.image(f"{digest}.{other}")
    assert info.value.code == "IMAGE_NOT_FOUND"
    # the same bytes twice: the same URL (the store keeps one copy)
    again = await service.create(design(name="Other", image="again"), read_file=read_file)
    assert again.achievement.image is not None and again.achievement.image.id == url


async def test_data_uri_image_is_stored(service: AchievementService) -> None:
    uri = "data:image/png;base64," + base64.b64encode(PNG).decode()
    stored = await service.create(design(image=uri))
    assert stored.achievement.image is not None
    assert stored.achievement.image.id.startswith(f"{BASE}/images/")
    assert await service.image_bytes_for(stored.achievement) == PNG


async def test_external_image_url_is_kept(service: AchievementService) -> None:
    stored = await service.create(design(image="https://cdn.example/badge.png"))
    assert stored.achievement.image is not None
    assert stored.achievement.image.id == "https://cdn.example/badge.png"
    assert await service.image_bytes_for(stored.achievement) is None


async def test_local_path_needs_a_reader(service: AchievementService) -> None:
    with pytest.raises(MalformedInputError) as info:
        await service.create(design(image="badge.png"))
    assert info.value.extra["field"] == "image.id"


@pytest.mark.parametrize(
    ("data", "error", "code"),
    [
        (b"GIF89a\x01\x00\x01\x00", UnsupportedImageError, "UNSUPPORTED_IMAGE"),
        (b"\xff\xd8\xff\xe0 JFIF", UnsupportedImageError, "UNSUPPORTED_IMAGE"),
        (b"", InvalidImageError, "INVALID_IMAGE"),
        (PNG[:40], InvalidImageError, "INVALID_IMAGE"),
        (
            b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x "y">]><svg xmlns="http://www.w3.org/2000/svg">&x;</svg>',
            InvalidImageError,
            "UNSAFE_SVG",
        ),
    ],
)
async def test_bad_images_are_refused_and_nothing_is_stored(
    service: AchievementService, store: Store, data: bytes, error: type[VCIssuerError], code: str
) -> None:
    with pytest.raises(error) as info:
        await service.create(design(image="x"), read_file=lambda _: data)
    assert info.value.code == code
    assert await service.list(include_archived=True) == []
    assert await store.get_image(hashlib.sha256(data).hexdigest()) is None


async def test_oversized_image_is_refused(store: Store) -> None:
    small = AchievementService(store, base_url=BASE, max_image_bytes=len(PNG) - 1)
    with pytest.raises(InputTooLargeError) as info:
        await small.create(design(image="x"), read_file=lambda _: PNG)
    assert info.value.code == "INPUT_TOO_LARGE" and info.value.http_status == 413
    assert await small.list(include_archived=True) == []
    with pytest.raises(InputTooLargeError):
        check_image_bytes(b"\x89PNG\r\n\x1a\n" + bytes(2 * 1024 * 1024))


async def test_a_baked_png_is_still_a_png(service: AchievementService) -> None:
    baked = bake(PNG, {"id": "urn:x", "type": ["VerifiableCredential"]})
    assert check_image_bytes(baked) == "png"


async def test_bad_design_stores_no_image(service: AchievementService, store: Store) -> None:
    with pytest.raises(MalformedInputError):
        await service.create(design(description=""), read_file=lambda _: PNG)
    assert await store.get_image(hashlib.sha256(PNG).hexdigest()) is None


# --- issuer profile ---------------------------------------------------------------------------


async def test_issuer_profile(service: AchievementService) -> None:
    did = "did:web:badges.example.edu"
    default = await service.profile(did, "Example University")
    assert default.to_json() == {"id": did, "type": ["Profile"], "name": "Example University"}
    saved = await service.set_profile(
        did,
        {
            "name": "Example U",
            "url": "https://example.edu",
            "email": "badges@example.edu",
            "description": "Since 1890",
            "image": "logo",
        },
        read_file=lambda _: SVG,
    )
    assert saved.image is not None and saved.image.id.endswith(".svg")
    loaded = await service.profile(did)
    assert loaded == saved and loaded.url == "https://example.edu"
    with pytest.raises(MalformedInputError):
        await service.set_profile(did, {"id": "did:web:other.example", "name": "x"})
    with pytest.raises(MalformedInputError):
        await service.set_profile(did, {"name": "x", "email": "not-an-email"})
