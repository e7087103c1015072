"""Input hygiene everywhere (issue 9, item 7), against a real `vc-issuer serve` and the CLI:

* non-finite and oversized numbers, lone surrogates, NUL characters, too many values: a 400
  problem with its own code at parse time, on JSON bodies, the /verify page (pasted text, JWT
  payloads, credentials baked in images, which obey the body's caps) and the CLI, never a 500;
* request paths, queries and headers with NUL or lone surrogates, or absurd lengths;
* only http(s) links are stored (UNSAFE_URL), and a stored credential from before that rule
  shows its non-http links as text;
* SVG images with scripts, handlers, foreignObject, outside references or DTDs (UNSAFE_SVG).
"""

from __future__ import annotations

import base64
import json
import socket
import sqlite3
import subprocess
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from vc_issuer.badges.baking import (
    PNG_KEYWORD,
    ITxt,
    PngChunk,
    check_svg_safety,
    default_badge_png,
    encode_png,
    parse_png,
)
from vc_issuer.errors import InvalidImageError, UnsafeSvgError

from ._live_server import V2, Live, cli, open_badge

SVG_NS = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'


async def _problem(resp: aiohttp.ClientResponse, status: int, code: str) -> dict[str, Any]:
    text = await resp.text()
    assert resp.status == status, text
    assert resp.content_type == "application/problem+json", text
    body: dict[str, Any] = json.loads(text)
    assert body["code"] == code, body
    return body


# --- JSON bodies ---------------------------------------------------------------------------------

DEEP = '{"verifiableCredential": ' + "[" * 100 + "]" * 100 + "}"
BAD_BODIES = [
    ('{"verifiableCredential": NaN}', "JSON_NUMBER_INVALID"),
    ('{"verifiableCredential": {"n": Infinity}}', "JSON_NUMBER_INVALID"),
    ('{"verifiableCredential": [-Infinity]}', "JSON_NUMBER_INVALID"),
    ('{"verifiableCredential": {"n": 1e400}}', "JSON_NUMBER_INVALID"),
    ('{"verifiableCredential": {"n": ' + "9" * 4301 + "}}", "JSON_NUMBER_INVALID"),
    ('{"verifiableCredential": {"\\ud800": 1}}', "JSON_STRING_INVALID"),
    ('{"verifiableCredential": {"id": "urn:x\\udfff"}}', "JSON_STRING_INVALID"),
    ('{"verifiableCredential": {"id": "urn:x\\u0000"}}', "JSON_STRING_INVALID"),
    ('{"verifiableCredential": {"credentialSubject": [' + "{},"*1000 + "{}]}}", "JSON_TOO_LARGE"),
    (DEEP, "JSON_TOO_DEEP"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "code"), BAD_BODIES)
async def test_bad_json_bodies_are_refused_at_parse_time(live: Live, body: str, code: str) -> None:
    async with aiohttp.ClientSession(live.url) as http:
        for path, headers in (
            ("/credentials/verify", {}),  # anonymous
            ("/credentials/issue", live.auth),
            ("/presentations/verify", {}),
        ):
            resp = await http.post(
                path, data=body.encode(), headers={**headers, "Content-Type": "application/json"}
            )
            await _problem(resp, 400, code)


async def test_nul_in_an_id_is_refused_before_the_store(live: Live) -> None:
    """PostgreSQL rejects NUL in text: it used to surface as a 503 on public routes."""
    credential = open_badge(live.did)
    credential["id"] = "urn:uuid:\u0000"
    async with aiohttp.ClientSession(live.url) as http:
        resp = await http.post(
            "/credentials/issue", json={"credential": credential}, headers=live.auth
        )
        body = await _problem(resp, 400, "JSON_STRING_INVALID")
        assert "NUL" in body["detail"]


# --- the /verify page: pasted text, JWT payloads, baked images ------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _png_with(text: str, *, compressed: bool = False) -> bytes:
    chunks = parse_png(default_badge_png())
    if compressed:
        body = PNG_KEYWORD + b"\x00\x01\x00\x00\x00" + zlib.compress(text.encode(), 9)
        chunk = PngChunk(b"iTXt", body)
    else:
        chunk = ITxt(PNG_KEYWORD, text).encode()
    return encode_png([*chunks[:-1], chunk, chunks[-1]])


def _credential_text(subjects: Any) -> str:
    doc = {"@context": [V2], "type": ["VerifiableCredential"], "issuer": "did:example:1",
           "credentialSubject": subjects}  # fmt: skip
    return json.dumps(doc)


async def _verify_page(http: aiohttp.ClientSession, **fields: Any) -> tuple[int, str]:
    form = aiohttp.FormData()
    for name, value in fields.items():
        if isinstance(value, bytes):
            form.add_field(name, value, filename="badge.png", content_type="image/png")
        else:
            form.add_field(name, value)
    resp = await http.post("/verify", data=form)
    return resp.status, await resp.text()


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"json": '{"@context": [], "n": NaN}'}, "JSON_NUMBER_INVALID"),
        ({"json": '{"k\\u0000": 1}'}, "JSON_STRING_INVALID"),
        # a JWT whose payload holds 1e400 (its signature is never reached)
        ({"json": _b64(b'{"alg":"EdDSA"}') + "." + _b64(b'{"vc": 1e400}') + ".c2ln"},
         "JSON_NUMBER_INVALID"),
        # a 2 kB PNG whose compressed credential inflates to 8,000 subjects
        ({"file": _png_with(_credential_text([{"name": "x"}] * 8000), compressed=True)},
         "JSON_TOO_LARGE"),
        ({"file": _png_with(_credential_text({"name": "x"}))}, None),  # readable: checked
        ({"file": _png_with('{"a": ' + "[" * 70 + "]" * 70 + "}")}, "JSON_TOO_DEEP"),
        ({"file": _png_with('{"a": ' + "1" * 100 + "}")}, "JSON_NUMBER_INVALID"),
    ],
)  # fmt: skip
async def test_verify_page_refuses_bad_json_with_its_code(
    live: Live, fields: dict[str, Any], code: str | None
) -> None:
    async with aiohttp.ClientSession(live.url) as http:
        status, text = await _verify_page(http, **fields)
    if code is None:  # a readable credential: checked, not refused
        assert status == 200, text
        return
    assert status == 400, text
    assert f"({code})" in text


# --- request text ---------------------------------------------------------------------------------


async def test_nul_in_path_or_query_is_refused(live: Live) -> None:
    async with aiohttp.ClientSession(live.url) as http:
        for target in ("/status-lists/abc%00def", "/healthz?x=%00", "/claim/a%00b"):
            resp = await http.get(target)
            await _problem(resp, 400, "REQUEST_TEXT_INVALID")
        resp = await http.get("/c/abc%00def")  # a page: the same refusal, as HTML
        assert resp.status == 400
        assert "the path holds a NUL character" in await resp.text()


async def test_absurd_paths_and_queries_are_refused(live: Live) -> None:
    async with aiohttp.ClientSession(live.url) as http:
        await _problem(await http.get("/status-lists/" + "a" * 3000), 414, "URI_TOO_LONG")
        await _problem(await http.get("/healthz?" + "x=1&" * 100), 414, "URI_TOO_LONG")
        await _problem(await http.get("/healthz?q=" + "y" * 5000), 414, "URI_TOO_LONG")


def test_a_header_that_is_not_utf8_is_refused(live: Live) -> None:
    """Invalid UTF-8 in a header value reaches the app as lone surrogates."""
    split = urlsplit(live.url)
    with socket.create_connection((split.hostname, split.port), timeout=30) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Name: \xed\xa0\x80\xff\r\n"
                     b"Connection: close\r\n\r\n")  # fmt: skip
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), answer
    assert json.loads(body)["code"] == "REQUEST_TEXT_INVALID"


# --- links ----------------------------------------------------------------------------------------


def _achievement(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": "Python 101",
        "description": "Writes and tests small Python programs.",
        "criteria": {"narrative": "Pass the final project.", "id": "https://example.org/c"},
    }
    doc.update(overrides)
    return doc


ALIGN = {"type": ["Alignment"], "targetName": "Skill", "targetUrl": "https://esco.example/s"}


@pytest.mark.parametrize(
    ("design", "field"),
    [
        (_achievement(criteria={"id": "javascript:alert(1)"}), "achievement.criteria.id"),
        (_achievement(criteria={"id": "JaVaScRiPt:alert(1)"}), "achievement.criteria.id"),
        (_achievement(criteria={"id": "vbscript:msgbox(1)"}), "achievement.criteria.id"),
        (_achievement(alignment=[{**ALIGN, "targetUrl": "data:text/html,<script>x</script>"}]),
         "achievement.alignment[0].targetUrl"),
        (_achievement(alignment=[{**ALIGN, "targetUrl": "file:///etc/passwd"}]),
         "achievement.alignment[0].targetUrl"),
    ],
)  # fmt: skip
async def test_non_http_links_are_not_stored(
    live: Live, design: dict[str, Any], field: str
) -> None:
    async with aiohttp.ClientSession(live.url) as http:
        resp = await http.post("/achievements", json=design, headers=live.auth)
        body = await _problem(resp, 400, "UNSAFE_URL")
        assert body["field"] == field
        credential = open_badge(live.did)
        credential["credentialSubject"]["achievement"]["criteria"]["id"] = "javascript:alert(1)"
        resp = await http.post(
            "/credentials/issue", json={"credential": credential}, headers=live.auth
        )
        await _problem(resp, 400, "UNSAFE_URL")


async def test_an_image_may_be_a_data_uri(live: Live) -> None:
    png = base64.b64encode(default_badge_png()).decode()
    design = _achievement(image={"id": f"data:image/png;base64,{png}", "type": "Image"})
    async with aiohttp.ClientSession(live.url) as http:
        resp = await http.post("/achievements", json=design, headers=live.auth)
        assert resp.status == 201, await resp.text()


async def test_stored_non_http_links_are_shown_as_text(live: Live) -> None:
    """A credential stored before links were checked: its page shows the link, not an <a>."""
    credential = open_badge(live.did)
    achievement = credential["credentialSubject"]["achievement"]
    achievement["criteria"]["id"] = "https://example.org/criteria"
    achievement["alignment"] = [{**ALIGN, "targetUrl": "https://example.org/skill"}]
    async with aiohttp.ClientSession(live.url) as http:
        resp = await http.post(
            "/credentials/issue", json={"credential": credential}, headers=live.auth
        )
        assert resp.status == 201, await resp.text()
        credential_id = (await resp.json())["verifiableCredential"]["id"]
        with sqlite3.connect(live.home / "store.sqlite3") as db:
            page_id, stored = db.execute(
                "SELECT page_id, credential FROM credentials WHERE id = ?", (credential_id,)
            ).fetchone()
            stored = stored.replace("https://example.org/criteria", "javascript:alert(1)")
            stored = stored.replace("https://example.org/skill", "javascript:alert(2)")
            db.execute("UPDATE credentials SET credential = ? WHERE id = ?",
                       (stored, credential_id))  # fmt: skip
        resp = await http.get(f"/c/{page_id}", headers={"Accept": "text/html"})
        text = await resp.text()
    assert resp.status == 200, text
    assert 'href="javascript:' not in text.lower()
    assert "javascript:alert(1)" in text  # shown as text


# --- SVG ------------------------------------------------------------------------------------------

UNSAFE_SVGS = {
    "script": f"<svg {SVG_NS}><script>alert(1)</script></svg>",
    "namespaced script": f'<svg {SVG_NS}><s:script xmlns:s="http://www.w3.org/2000/svg"/></svg>',
    "onload": f'<svg {SVG_NS} onload="alert(1)"><rect/></svg>',
    "onclick on a child": f'<svg {SVG_NS}><rect onclick="alert(1)"/></svg>',
    "foreignObject": f"<svg {SVG_NS}><foreignObject><p>x</p></foreignObject></svg>",
    "external href": f'<svg {SVG_NS}><image href="https://evil.example/x.png"/></svg>',
    "external xlink:href": f'<svg {SVG_NS}><use xlink:href="https://evil.example/s.svg#a"/></svg>',
    "javascript href": f'<svg {SVG_NS}><a href="javascript:alert(1)"><rect/></a></svg>',
    "css url": f'<svg {SVG_NS}><rect style="fill:url(https://evil.example/x)"/></svg>',
    "style import": f"<svg {SVG_NS}><style>@import 'https://evil.example/x.css';</style></svg>",
    "animated href": f'<svg {SVG_NS}><a><set attributeName="href" to="javascript:x"/></a></svg>',
    "doctype": f"<!DOCTYPE svg><svg {SVG_NS}><rect/></svg>",
    "entity": f'<!DOCTYPE svg [<!ENTITY x "y">]><svg {SVG_NS}>&x;</svg>',
    "stylesheet": f'<?xml-stylesheet href="https://evil.example/x.css"?><svg {SVG_NS}/>',
}


@pytest.mark.parametrize("name", sorted(UNSAFE_SVGS))
def test_unsafe_svgs_are_refused(name: str) -> None:
    with pytest.raises(UnsafeSvgError) as info:
        check_svg_safety(UNSAFE_SVGS[name].encode())
    assert info.value.code == "UNSAFE_SVG"
    assert isinstance(info.value, InvalidImageError)


def test_safe_svgs_pass() -> None:
    check_svg_safety(
        f'<svg {SVG_NS}><defs><linearGradient id="g"/></defs><rect fill="url(#g)"/>'
        '<use href="#g"/><image href="data:image/png;base64,AAAA"/></svg>'.encode()
    )


async def test_unsafe_svg_achievement_images_are_refused(live: Live) -> None:
    svg = base64.b64encode(UNSAFE_SVGS["onload"].encode()).decode()
    design = _achievement(image={"id": f"data:image/svg+xml;base64,{svg}", "type": "Image"})
    async with aiohttp.ClientSession(live.url) as http:
        resp = await http.post("/achievements", json=design, headers=live.auth)
        await _problem(resp, 400, "UNSAFE_SVG")


# --- the CLI --------------------------------------------------------------------------------------


def test_cli_commands_share_the_parser_and_its_codes(live: Live, tmp_path: Path) -> None:
    key = tmp_path / "key.json"
    subprocess.run(cli("keys", "generate", "--out", str(key)), check=True, capture_output=True)
    bad = tmp_path / "bad.json"
    bad.write_text('{"@context": ["https://www.w3.org/ns/credentials/v2"], "n": NaN}')
    for args in (
        ["verify", str(bad)],
        ["sign", "--key", str(key), str(bad)],
        ["issue", "--home", str(live.home), str(bad)],
    ):
        result = subprocess.run(cli(*args), capture_output=True, text=True, check=False)
        assert result.returncode == 2, (args, result.stderr)
        assert (
            result.stderr
            == f"error: JSON_NUMBER_INVALID: {bad} holds NaN, which is not a JSON number\n"
        )


async def test_cli_jsonl_rows_use_the_parser(live: Live, tmp_path: Path) -> None:
    async with aiohttp.ClientSession(live.url) as http:
        resp = await http.post("/achievements", json=_achievement(), headers=live.auth)
        assert resp.status == 201, await resp.text()
        achievement_id = (await resp.json())["id"]
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"email": "ada@example.org", "n": 1e400}\n{"email": "b\\u0000@x.org"}\n')
    out = tmp_path / "out.csv"
    args = ["award", achievement_id, "--home", str(live.home), "--jsonl", str(rows)]
    result = subprocess.run(
        cli(*args, "--out", str(out)), capture_output=True, text=True, check=False
    )
    assert result.returncode == 2, result.stderr
    text = out.read_text()
    assert "JSON_NUMBER_INVALID" in text and "JSON_STRING_INVALID" in text, text


@pytest.mark.parametrize(
    ("profile", "field"),
    [
        ({"url": "javascript:alert(1)"}, "issuer.url"),
        ({"url": "data:text/html,x"}, "issuer.url"),
        ({"image": "data:text/html;base64,PHNjcmlwdD4="}, "issuer.image.id"),
        ({"image": {"id": "vbscript:x", "type": "Image"}}, "issuer.image.id"),
    ],
)
def test_issuer_profile_links_are_http(profile: dict[str, Any], field: str) -> None:
    from vc_issuer.badges.openbadges import IssuerProfile
    from vc_issuer.errors import UnsafeUrlError

    with pytest.raises(UnsafeUrlError) as info:
        IssuerProfile.from_json({"id": "did:example:1", "name": "Academy", **profile})
    assert info.value.code == "UNSAFE_URL"
    assert info.value.extra["field"] == field
    ok = IssuerProfile.from_json(
        {"id": "did:example:1", "name": "Academy", "url": "https://academy.example",
         "image": "data:image/png;base64,iVBORw0KGgo="}
    )  # fmt: skip
    assert ok.url == "https://academy.example"
