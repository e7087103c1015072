"""/achievements, /images and baked-image verification over a real app on 127.0.0.1.

Designs are created, versioned and archived through the API; awards come back signed in the
OB-schema shape and verify; the credential page bakes the achievement's stored image; the verify
API takes a baked PNG/SVG as the raw body. Bad input gives a precise code and stores nothing.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import quote

import pytest

from vc_issuer.badges.baking import (
    bake_png,
    bake_svg,
    default_badge_png,
    default_badge_svg,
    encode_png,
    parse_png,
    unbake,
    unbake_png,
    unbake_svg,
)

from .._helpers import python_101
from .conftest import Env, EnvFactory

PNG = default_badge_png(color="#b3261e", size=64)  # not the default badge: we can tell them apart
SVG = default_badge_svg("Rust 201", color="#0b6e4f")
JSON = {"Content-Type": "application/json"}


def data_url(data: bytes, media: str) -> str:
    return f"data:{media};base64," + base64.b64encode(data).decode()


def design(**overrides: Any) -> dict[str, Any]:
    """The service tests' design as a client posts it: with an image as a data: URL; a None
    override leaves that property out."""
    image = {"id": data_url(PNG, "image/png"), "type": "Image"}
    return python_101(**{"image": image, **overrides})


async def create(env: Env, **overrides: Any) -> dict[str, Any]:
    resp = await env.client.post(
        "/achievements", json=design(**overrides), headers=env.auth("issue")
    )
    assert resp.status == 201, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def award(env: Env, key: str, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
    resp = await env.client.post(
        f"/achievements/{key}/awards", json=body, headers=env.auth("issue")
    )
    assert resp.status == status, await resp.text()
    out: dict[str, Any] = await resp.json(content_type=None)
    return out


async def problem(resp: Any, status: int, code: str) -> dict[str, Any]:
    text = await resp.text()
    assert resp.status == status, text
    assert resp.headers["Content-Type"].startswith("application/problem+json"), text
    body: dict[str, Any] = await resp.json(content_type=None)
    assert body["code"] == code, body
    return body


def page_path(page_url: str, env: Env) -> str:
    assert page_url.startswith(env.base_url + "/c/")
    return page_url[len(env.base_url) :]


# --- designs ---------------------------------------------------------------------------------


async def test_create_get_list_update_archive(env: Env) -> None:
    created = await create(env)
    key = created["key"]
    assert created["id"] == f"{env.base_url}/achievements/{key}"
    assert created["version"] == 1 and created["archived"] is False
    image_url = created["achievement"]["image"]["id"]
    sha = hashlib.sha256(PNG).hexdigest()
    assert image_url == f"{env.base_url}/images/{sha}.png"  # the data: URL was stored
    assert created["achievement"]["alignment"][0]["targetCode"] == "S1.2"

    for ref in (key, quote(created["id"], safe="")):  # the key or the URL-encoded full id
        resp = await env.client.get(f"/achievements/{ref}", headers=env.auth("read"))
        assert resp.status == 200, await resp.text()
        assert resp.headers["ETag"] == '"1"'
        assert (await resp.json())["achievement"] == created["achievement"]

    resp = await env.client.put(
        f"/achievements/{key}",
        json=design(description="Now with tests."),
        headers={**env.auth("issue"), "If-Match": '"1"'},
    )
    assert resp.status == 200, await resp.text()
    v2 = await resp.json()
    assert v2["version"] == 2 and v2["achievement"]["description"] == "Now with tests."
    assert resp.headers["ETag"] == '"2"'

    # a writer that still holds version 1 is refused, not silently overwritten
    resp = await env.client.put(
        f"/achievements/{key}",
        json=design(name="Lost update"),
        headers={**env.auth("issue"), "If-Match": '"1"'},
    )
    await problem(resp, 409, "VERSION_CONFLICT")
    resp = await env.client.put(
        f"/achievements/{key}",
        json={**design(name="Python 102"), "expectedVersion": 2},
        headers=env.auth("issue"),
    )
    assert resp.status == 200 and (await resp.json())["version"] == 3
    resp = await env.client.put(
        f"/achievements/{key}",
        json={**design(), "expectedVersion": 2},
        headers={**env.auth("issue"), "If-Match": '"3"'},
    )
    await problem(resp, 400, "MALFORMED_VALUE_ERROR")

    resp = await env.client.get(f"/achievements/{key}?version=1", headers=env.auth("read"))
    assert (await resp.json())["achievement"]["description"] == design()["description"]

    resp = await env.client.get("/achievements", headers=env.auth("read"))
    assert [a["key"] for a in (await resp.json())["achievements"]] == [key]

    resp = await env.client.post(f"/achievements/{key}/archive", headers=env.auth("issue"))
    assert resp.status == 200 and (await resp.json())["archived"] is True
    resp = await env.client.get("/achievements", headers=env.auth("read"))
    assert (await resp.json())["achievements"] == []
    resp = await env.client.get("/achievements?all=1", headers=env.auth("read"))
    listed = (await resp.json())["achievements"]
    assert [(a["key"], a["archived"], a["version"]) for a in listed] == [(key, True, 3)]


async def test_unknown_achievement_is_404(env: Env) -> None:
    for ref in ("00000000-0000-4000-8000-000000000000", "nope", quote("https://x/a/b", safe="")):
        resp = await env.client.get(f"/achievements/{ref}", headers=env.auth("read"))
        await problem(resp, 404, "ACHIEVEMENT_NOT_FOUND")
        resp = await env.client.post(f"/achievements/{ref}/archive", headers=env.auth("issue"))
        await problem(resp, 404, "ACHIEVEMENT_NOT_FOUND")
        resp = await env.client.put(
            f"/achievements/{ref}", json=design(), headers=env.auth("issue")
        )
        await problem(resp, 404, "ACHIEVEMENT_NOT_FOUND")


async def test_id_is_assigned_by_the_issuer(env: Env) -> None:
    resp = await env.client.post(
        "/achievements", json=design(id="https://evil.example/a/1"), headers=env.auth("issue")
    )
    await problem(resp, 400, "MALFORMED_VALUE_ERROR")
    assert await env.issuer.store.list_achievements(include_archived=True) == []


# --- images ----------------------------------------------------------------------------------


async def test_images_are_public_immutable_and_content_typed(env: Env) -> None:
    png_design = await create(env)
    svg_design = await create(env, image={"id": data_url(SVG, "image/svg+xml"), "type": "Image"})
    for stored, data, media in ((png_design, PNG, "image/png"), (svg_design, SVG, "image/svg+xml")):
        path = stored["achievement"]["image"]["id"][len(env.base_url) :]
        resp = await env.client.get(path)  # no token: badge images are public
        assert resp.status == 200
        assert resp.content_type == media
        assert await resp.read() == data
        assert "immutable" in resp.headers["Cache-Control"]
        assert "max-age=31536000" in resp.headers["Cache-Control"]
        etag = resp.headers["ETag"]
        assert etag == f'"{hashlib.sha256(data).hexdigest()}"'
        again = await env.client.get(path, headers={"If-None-Match": etag})
        assert again.status == 304 and await again.read() == b""
        # a cache may send the tag back weak, or in a list (RFC 9110 weak comparison)
        weak = await env.client.get(path, headers={"If-None-Match": f'"x", W/{etag}'})
        assert weak.status == 304

    sha = hashlib.sha256(PNG).hexdigest()
    for name in (f"{sha}.svg", f"{'0' * 64}.png", "x.png", f"{sha}.gif", f"{sha.upper()}.png"):
        await problem(await env.client.get(f"/images/{name}"), 404, "IMAGE_NOT_FOUND")


# --- awards, page, downloads -----------------------------------------------------------------


async def test_award_verifies_and_the_page_bakes_the_stored_image(env: Env) -> None:
    key = (await create(env))["key"]
    out = await award(
        env,
        key,
        {
            "recipient": {"id": "did:example:learner", "name": "Ada Lovelace"},
            "evidence": {"id": "https://lms.example/p/1", "type": ["Evidence"], "name": "Project"},
            "awardedDate": "2024-05-01T09:00:00Z",
        },
    )
    vc = out["verifiableCredential"]
    assert out["created"] is True
    assert "OpenBadgeCredential" in vc["type"]
    assert isinstance(vc["proof"], list)  # the OB schema's shape
    assert isinstance(vc["credentialStatus"], dict)
    assert vc["credentialSubject"]["id"] == "did:example:learner"
    assert vc["awardedDate"] == "2024-05-01T09:00:00Z"
    assert out["credentialId"] == vc["id"]

    resp = await env.client.post("/credentials/verify", json={"verifiableCredential": vc})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["verified"] is True

    # the same recipient again: the first award, not a second credential
    before = await env.issuer.store.count_credentials()
    again = await award(env, key, {"recipient": {"id": "did:example:learner"}}, status=200)
    assert again["created"] is False and again["credentialId"] == out["credentialId"]
    assert await env.issuer.store.count_credentials() == before

    assert out["claimLink"].startswith(env.base_url + "/claim/")  # personal, not the page
    assert out["claimUrl"] == out["claimLink"]  # the deprecated name, same personal link
    assert out["pageUrl"].startswith(env.base_url + "/c/")
    base = page_path(out["pageUrl"], env)
    page = await env.client.get(base)
    html = await page.text()
    assert page.status == 200 and "Python 101" in html and "Ada Lovelace" in html
    assert f"{base}/badge.png" in html  # the stored image is a PNG
    assert 'data-verdict="Valid"' in html or ">Valid<" in html

    # downloads carry the same shape the award API returned, baked into the stored image
    resp = await env.client.get(f"{base}/credential.json")
    assert await resp.json(content_type=None) == vc
    resp = await env.client.get(f"{base}/badge.png")
    baked = await resp.read()
    assert resp.content_type == "image/png"
    assert unbake_png(baked) == vc
    assert baked == bake_png(PNG, vc)  # our image, not the default badge
    resp = await env.client.get(f"{base}/badge.svg")  # no stored SVG: the default badge
    assert unbake_svg(await resp.read()) == vc


async def test_svg_design_is_baked_as_svg(env: Env) -> None:
    key = (await create(env, image={"id": data_url(SVG, "image/svg+xml")}))["key"]
    out = await award(env, key, {"recipient": {"email": "ada@example.edu"}})
    vc = out["verifiableCredential"]
    assert vc["credentialSubject"]["identifier"][0]["identityHash"].startswith("sha256$")
    base = page_path(out["pageUrl"], env)
    assert f"{base}/badge.svg" in await (await env.client.get(base)).text()
    baked = await (await env.client.get(f"{base}/badge.svg")).read()
    assert baked == bake_svg(SVG, vc) and unbake(baked) == vc


async def test_issued_vc_api_credential_download_is_unchanged(env: Env) -> None:
    """Not an Open Badge: the download stays exactly as issued (proof an object)."""
    cred = await env.issue()
    record = await env.issuer.get_record(cred["id"])
    resp = await env.client.get(f"/c/{record.page_id}/credential.json")
    assert await resp.json(content_type=None) == cred


# --- verify a baked image --------------------------------------------------------------------


async def test_verify_api_accepts_baked_images(env: Env) -> None:
    key = (await create(env))["key"]
    vc = (await award(env, key, {"recipient": {"id": "did:example:b"}}))["verifiableCredential"]
    as_json = await env.client.post("/credentials/verify", json={"verifiableCredential": vc})
    expected = await as_json.json()
    for data, media in ((bake_png(PNG, vc), "image/png"), (bake_svg(SVG, vc), "image/svg+xml")):
        resp = await env.client.post(
            "/credentials/verify", data=data, headers={"Content-Type": media}
        )
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        assert body["verified"] is True
        assert [c["name"] for c in body["checks"]] == [c["name"] for c in expected["checks"]]

    tampered = {**vc, "credentialSubject": {**vc["credentialSubject"], "id": "did:example:eve"}}
    resp = await env.client.post(
        "/credentials/verify", data=bake_png(PNG, tampered), headers={"Content-Type": "image/png"}
    )
    assert resp.status == 422
    assert (await resp.json(content_type=None))["verified"] is False


async def test_verify_api_image_errors(make_env: EnvFactory) -> None:
    env = await make_env(allow_private=True, max_body=64 * 1024)
    png = {"Content-Type": "image/png"}
    resp = await env.client.post("/credentials/verify", data=PNG, headers=png)
    body = await problem(resp, 400, "NO_BAKED_CREDENTIAL")
    assert body["verified"] is False and body["checks"][0]["code"] == "NO_BAKED_CREDENTIAL"
    resp = await env.client.post("/credentials/verify", data=b"GIF89a....", headers=png)
    await problem(resp, 415, "UNSUPPORTED_IMAGE")
    resp = await env.client.post("/credentials/verify", data=b"", headers=png)
    await problem(resp, 400, "MALFORMED_VALUE_ERROR")
    chunks = parse_png(bake_png(PNG, {"id": "urn:uuid:1"}))
    baked_chunk = next(c for c in chunks if c.type == b"iTXt")
    twice = encode_png([*chunks[:-1], baked_chunk, chunks[-1]])
    resp = await env.client.post("/credentials/verify", data=twice, headers=png)
    await problem(resp, 400, "DUPLICATE_BAKED_CREDENTIAL")
    resp = await env.client.post("/credentials/verify", data=PNG + b"\0" * (70 * 1024), headers=png)
    await problem(resp, 413, "INPUT_TOO_LARGE")


# --- bad input: clear errors, nothing half-issued --------------------------------------------


async def test_bad_awards_issue_nothing(env: Env) -> None:
    key = (await create(env))["key"]
    store = env.issuer.store
    cases: list[tuple[str, Any, int, str]] = [
        ("00000000-0000-4000-8000-000000000000", {"recipient": {"id": "did:example:a"}}, 404,
         "ACHIEVEMENT_NOT_FOUND"),
        ("not-an-id", {"recipient": {"id": "did:example:a"}}, 404, "ACHIEVEMENT_NOT_FOUND"),
        (key, {}, 400, "MISSING_RECIPIENT"),
        (key, {"recipient": {}}, 400, "MISSING_RECIPIENT"),
        (key, {"recipient": {"name": "Only A Name"}}, 400, "MISSING_RECIPIENT"),
        (key, {"recipient": {"id": "alice"}}, 400, "INVALID_RECIPIENT"),
        (key, {"recipient": {"email": "not-an-email"}}, 400, "INVALID_RECIPIENT"),
        (key, {"recipient": {"id": 7}}, 400, "INVALID_RECIPIENT"),
        (key, {"recipient": "did:example:a"}, 400, "INVALID_RECIPIENT"),
        (key, {"recipient": {"id": "did:example:a"}, "awardedDate": "yesterday"}, 400,
         "MALFORMED_VALUE_ERROR"),
        (key, {"recipient": {"id": "did:example:a"}, "awardedDate": "2024-05-01T09:00:00"}, 400,
         "MALFORMED_VALUE_ERROR"),
        (key, {"recipient": {"id": "did:example:a"}, "evidence": ["x"]}, 400,
         "MALFORMED_VALUE_ERROR"),
        # evidence the OB schema refuses is caught before anything is signed
        (key, {"recipient": {"id": "did:example:a"}, "evidence": [{"id": 5}]}, 422,
         "SCHEMA_VALIDATION_ERROR"),
    ]  # fmt: skip
    for ref, body, status, code in cases:
        resp = await env.client.post(
            f"/achievements/{ref}/awards", json=body, headers=env.auth("issue")
        )
        await problem(resp, status, code)
    assert await store.count_credentials() == 0

    await env.client.post(f"/achievements/{key}/archive", headers=env.auth("issue"))
    resp = await env.client.post(
        f"/achievements/{key}/awards",
        json={"recipient": {"id": "did:example:a"}},
        headers=env.auth("issue"),
    )
    await problem(resp, 409, "ACHIEVEMENT_ARCHIVED")
    assert await store.count_credentials() == 0
    assert await store.list_credentials() == []


@pytest.mark.parametrize(
    ("image", "status", "code"),
    [
        (data_url(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "image/gif"), 415, "UNSUPPORTED_IMAGE"),
        (data_url(b"\x89PNG\r\n\x1a\nbroken", "image/png"), 400, "INVALID_IMAGE"),
        ("data:image/png;base64,@@@", 400, "MALFORMED_VALUE_ERROR"),
        ("/etc/passwd", 400, "MALFORMED_VALUE_ERROR"),  # the API never reads server files
    ],
)
async def test_bad_images_store_nothing(env: Env, image: str, status: int, code: str) -> None:
    resp = await env.client.post(
        "/achievements", json=design(image={"id": image}), headers=env.auth("issue")
    )
    await problem(resp, status, code)
    assert await env.issuer.store.list_achievements(include_archived=True) == []


async def test_oversized_uploads_are_413(make_env: EnvFactory) -> None:
    env = await make_env(allow_private=True, max_body=4 * 1024 * 1024)
    big_png = PNG + b"\0" * (1024 * 1024)  # over the 1 MiB image cap, under the body cap
    resp = await env.client.post(
        "/achievements",
        json=design(image={"id": data_url(big_png, "image/png")}),
        headers=env.auth("issue"),
    )
    await problem(resp, 413, "INPUT_TOO_LARGE")
    resp = await env.client.post(
        "/achievements",
        data=b'{"name": "' + b"x" * (5 * 1024 * 1024) + b'"}',
        headers={**env.auth("issue"), **JSON},
    )
    await problem(resp, 413, "INPUT_TOO_LARGE")
    assert await env.issuer.store.list_achievements(include_archived=True) == []


# --- auth matrix -----------------------------------------------------------------------------


async def test_auth_matrix(env: Env) -> None:
    key = (await create(env))["key"]
    routes: list[tuple[str, str, str, Any]] = [
        ("POST", "/achievements", "issue", design()),
        ("GET", "/achievements", "read", None),
        ("GET", f"/achievements/{key}", "read", None),
        ("PUT", f"/achievements/{key}", "issue", design()),
        ("POST", f"/achievements/{key}/awards", "issue", {"recipient": {"id": "did:example:z"}}),
        ("POST", f"/achievements/{key}/archive", "issue", None),
    ]
    for method, path, scope, body in routes:
        resp = await env.client.request(method, path, json=body)
        if method == "GET":  # no token: the public catalog view (test_pages_display.py)
            assert resp.status == 200, await resp.text()
            public = await resp.json()
            items = public["achievements"] if path == "/achievements" else [public]
            assert items and all("key" not in i and i["type"] == ["Achievement"] for i in items)
        else:
            await problem(resp, 401, "UNAUTHORIZED")
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        bad = await env.client.request(
            method, path, json=body, headers={"Authorization": "Bearer vci_x"}
        )
        await problem(bad, 401, "UNAUTHORIZED")
        wrong = "read" if scope == "issue" else "issue"
        for token in (wrong, "status"):
            resp = await env.client.request(method, path, json=body, headers=env.auth(token))
            await problem(resp, 403, "FORBIDDEN")
        resp = await env.client.request(method, path, json=body, headers=env.auth(scope))
        assert resp.status in (200, 201), (method, path, await resp.text())
        resp = await env.client.request(method, path, json=body, headers=env.auth("admin"))
        assert resp.status < 400, (method, path, await resp.text())
