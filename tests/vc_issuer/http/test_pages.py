"""The HTML pages over a real aiohttp server: statuses, content types, error pages."""

from __future__ import annotations

import aiohttp

from vc_issuer.badges.baking import bake_png, default_badge_png, unbake_png

from .conftest import Env


async def test_unknown_page_is_html_404(env: Env) -> None:
    resp = await env.client.get("/c/00000000-0000-4000-8000-000000000000")
    assert resp.status == 404
    assert resp.content_type == "text/html"
    assert "There is no credential at this address" in await resp.text()


async def test_page_downloads_are_baked(env: Env) -> None:
    cred = await env.issue()
    record = await env.issuer.get_record(cred["id"])
    resp = await env.client.get(f"/c/{record.page_id}/badge.png")
    assert resp.status == 200 and resp.content_type == "image/png"
    assert unbake_png(await resp.read()) == cred
    page = await env.client.get(f"/c/{record.page_id}")
    assert page.status == 200
    assert 'property="og:image"' in await page.text()


async def test_verify_upload_too_large_is_friendly_413(env: Env) -> None:
    form = aiohttp.FormData()
    form.add_field("file", b"x" * (2 << 20), filename="big.json")
    resp = await env.client.post("/verify", data=form)
    assert resp.status == 413
    assert resp.content_type == "text/html"
    assert "too large" in await resp.text()


async def test_verify_form_urlencoded_and_multipart(env: Env) -> None:
    cred = await env.issue()
    resp = await env.client.post("/verify", data={"json": "not json"})
    assert resp.status == 400 and "not a JSON credential" in await resp.text()
    form = aiohttp.FormData()
    form.add_field("file", bake_png(default_badge_png(), cred), filename="b.png")
    resp = await env.client.post("/verify", data=form)
    assert resp.status == 200
    assert 'data-verdict="Valid"' in await resp.text()


async def test_html_error_pages_keep_the_request_id(env: Env) -> None:
    headers = {"X-Request-Id": "page-req-1"}
    resp = await env.client.get("/c/00000000-0000-4000-8000-000000000000", headers=headers)
    assert resp.status == 404 and resp.content_type == "text/html"
    assert resp.headers["X-Request-Id"] == "page-req-1"
    resp = await env.client.put("/verify", headers=headers)
    assert resp.status == 405 and resp.content_type == "text/html"
    assert resp.headers["X-Request-Id"] == "page-req-1"
    assert "POST" in resp.headers["Allow"]
