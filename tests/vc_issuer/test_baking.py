"""Baked badges: PNG iTXt and SVG element, checked with an independent chunk reader."""

from __future__ import annotations

import json
import struct
import zlib
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vc_issuer.badges.baking import (
    MAX_IMAGE_BYTES,
    bake,
    bake_png,
    bake_svg,
    default_badge_png,
    default_badge_svg,
    detect_image_type,
    looks_like_image,
    parse_png,
    unbake,
    unbake_png,
    unbake_svg,
    unbake_text,
)
from vc_issuer.core.keys import Ed25519Key
from vc_issuer.errors import (
    DuplicateBakedCredentialError,
    InputTooLargeError,
    InvalidImageError,
    MalformedInputError,
    NoBakedCredentialError,
    ParsingError,
    UnsupportedImageError,
    VCIssuerError,
)
from vc_issuer.services.verifier import verify_credential

from ._helpers import signed_award

SIG = b"\x89PNG\r\n\x1a\n"
CRED: dict[str, Any] = {"id": "urn:uuid:1", "type": ["VerifiableCredential"], "name": "Ünïcode ✓"}


# --- an independent PNG reader (does not use vc_issuer.badges.baking) -----------------------


def chunks_of(png: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of each chunk; asserts every length and CRC on the way."""
    assert png[:8] == SIG
    out: list[tuple[bytes, bytes]] = []
    pos = 8
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        ctype = png[pos + 4 : pos + 8]
        data = png[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", png[pos + 8 + length : pos + 12 + length])
        assert len(data) == length
        assert zlib.crc32(ctype + data) & 0xFFFFFFFF == crc, ctype
        out.append((ctype, data))
        pos += 12 + length
    assert pos == len(png)
    return out


def chunk(ctype: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data))


def itxt(text: bytes, keyword: bytes = b"openbadgecredential", flag: int = 0) -> bytes:
    if flag:
        text = zlib.compress(text)
    return chunk(b"iTXt", keyword + b"\x00" + bytes([flag, 0]) + b"\x00\x00" + text)


def decode_rgba(png: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and unfiltered rows of an 8-bit RGBA PNG using filter type 0."""
    parts = chunks_of(png)
    assert parts[0][0] == b"IHDR" and parts[-1] == (b"IEND", b"")
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", parts[0][1])
    assert (depth, color, interlace) == (8, 6, 0)
    raw = zlib.decompress(b"".join(d for t, d in parts if t == b"IDAT"))
    stride = 1 + 4 * width
    assert len(raw) == stride * height
    rows = [raw[i * stride : (i + 1) * stride] for i in range(height)]
    assert all(r[0] == 0 for r in rows)
    return width, height, [r[1:] for r in rows]


def tiny_png() -> bytes:
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    return (
        SIG
        + chunk(b"IHDR", ihdr)
        + chunk(b"tEXt", b"Comment\x00kept as is")
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00\xff"))
        + chunk(b"IEND", b"")
    )


def credential_chunks(png: bytes) -> list[bytes]:
    return [d for t, d in chunks_of(png) if t == b"iTXt" and d.startswith(b"openbadgecredential\0")]


# --- PNG ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [tiny_png, default_badge_png], ids=["tiny", "default"])
def test_png_round_trip_and_chunk_format(make: Any) -> None:
    png = make()
    baked = bake_png(png, CRED)
    assert unbake_png(baked) == CRED
    assert unbake(baked) == CRED
    parts = chunks_of(baked)
    (data,) = credential_chunks(baked)
    # keyword, NUL, compression flag 0, method 0, empty language tag, empty translated keyword
    prefix = b"openbadgecredential\x00\x00\x00\x00\x00"
    assert data.startswith(prefix)
    text = data[len(prefix) :].decode("utf-8")
    assert text == json.dumps(CRED, separators=(",", ":"), ensure_ascii=False)
    # placed just before IEND; every other chunk unchanged and in order
    assert parts[-2] == (b"iTXt", data) and parts[-1] == (b"IEND", b"")
    assert [p for p in parts if p[0] != b"iTXt"] == chunks_of(png)


def test_rebake_replaces_the_credential() -> None:
    once = bake_png(tiny_png(), CRED)
    twice = bake_png(once, {"id": "urn:uuid:2"})
    thrice = bake_png(twice, {"id": "urn:uuid:2"})
    assert len(credential_chunks(twice)) == 1
    assert unbake_png(twice) == {"id": "urn:uuid:2"}
    assert thrice == twice
    assert len(thrice) < len(once) + 20


def test_baked_png_still_decodes() -> None:
    baked = bake_png(default_badge_png(), CRED)
    width, height, rows = decode_rgba(baked)
    assert (width, height) == (256, 256)
    assert rows[0][0:4] == b"\x00\x00\x00\x00"  # transparent corner
    assert rows[100][128 * 4 + 3] == 255  # opaque centre


def test_json_text_is_baked_verbatim() -> None:
    text = '{ "id" : "urn:uuid:1" }'
    assert credential_chunks(bake_png(tiny_png(), text))[0].endswith(text.encode())
    with pytest.raises(MalformedInputError, match="expected a JSON object"):
        bake_png(tiny_png(), "[1]")
    # a VC-JWT is baked as the token itself (OB 3.0 §5.3); any other non-JSON text is refused
    jwt = "eyJhbGciOiJFZERTQSJ9.e30.sig"
    assert credential_chunks(bake_png(tiny_png(), jwt))[0].endswith(jwt.encode())
    with pytest.raises(ParsingError):
        bake_png(tiny_png(), "eyJhbGciOiJFZERTQSJ9 e30 sig")


def with_chunks(png: bytes, *extra: bytes) -> bytes:
    """Insert raw chunks right after IHDR."""
    at = 8 + 12 + 13
    return png[:at] + b"".join(extra) + png[at:]


def test_two_credential_chunks_are_refused() -> None:
    doc = json.dumps(CRED).encode()
    png = with_chunks(tiny_png(), itxt(doc), itxt(b'{"other":1}'))
    with pytest.raises(DuplicateBakedCredentialError) as info:
        unbake_png(png)
    assert info.value.code == "DUPLICATE_BAKED_CREDENTIAL"
    assert "2 Open Badges credentials" in info.value.detail
    # baking cleans such a file up: exactly one afterwards
    assert len(credential_chunks(bake_png(png, CRED))) == 1


def test_png_without_credential() -> None:
    with pytest.raises(NoBakedCredentialError) as info:
        unbake(with_chunks(tiny_png(), itxt(b"{}", keyword=b"openbadges")))
    assert info.value.code == "NO_BAKED_CREDENTIAL"


def test_compressed_credential_chunk_is_read() -> None:
    png = with_chunks(tiny_png(), itxt(json.dumps(CRED).encode(), flag=1))
    assert unbake_png(png) == CRED


def test_compressed_bomb_is_refused() -> None:
    bomb = zlib.compress(b"{" + b" " * (6 * 1024 * 1024), 9)
    data = b"openbadgecredential\x00\x01\x00\x00\x00" + bomb
    with pytest.raises(InputTooLargeError):
        unbake_png(with_chunks(tiny_png(), chunk(b"iTXt", data)))


def test_credential_text_must_be_a_json_object() -> None:
    png = with_chunks(tiny_png(), itxt(b'["not", "an", "object"]'))
    with pytest.raises(MalformedInputError, match="credential baked in the PNG is unusable"):
        unbake_png(png)
    png = with_chunks(tiny_png(), itxt(b"{not json"))
    with pytest.raises(ParsingError, match="credential baked in the PNG is unusable"):
        unbake_png(png)


def test_vc_jwt_baked_credential_is_named() -> None:
    png = with_chunks(tiny_png(), itxt(b"eyJhbGciOiJFZERTQSJ9.e30.c2ln"))
    with pytest.raises(MalformedInputError, match="VC-JWT") as info:
        unbake_png(png)
    assert info.value.code == "UNSUPPORTED_BAKED_FORMAT"


def test_unbake_text_is_verbatim() -> None:
    text = '{ "id" : "urn:uuid:1",\n "n": 1.0 }'
    assert unbake_text(bake(tiny_png(), text)) == text
    assert json.loads(unbake_text(bake(SVG, text))) == json.loads(text)


def test_bad_crc_is_refused() -> None:
    baked = bytearray(bake_png(tiny_png(), CRED))
    baked[-20] ^= 0x01  # inside the credential text
    with pytest.raises(InvalidImageError, match=r"iTXt at byte \d+ has a wrong CRC"):
        unbake(bytes(baked))


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda p: p[:-5], "truncated PNG"),
        (lambda p: p + b"junk", "4 bytes after IEND"),
        (lambda p: p[:8] + chunk(b"tEXt", b"a\0b") + p[8:], "first chunk is not IHDR"),
        (lambda p: with_chunks(p, chunk(b"t3Xt", b"")), "invalid PNG chunk type"),
        (lambda p: p[:12] + b"IHDX" + p[16:], "wrong CRC"),
        (lambda p: b"\x89PNG\r\n\x1a\x00" + p[8:], None),
    ],
)
def test_damaged_png_is_refused(damage: Any, match: str | None) -> None:
    png = damage(tiny_png())
    with pytest.raises((InvalidImageError, UnsupportedImageError), match=match):
        unbake(png)
    with pytest.raises(InvalidImageError, match=match):
        parse_png(png)


@pytest.mark.parametrize(
    "data",
    [
        b"GIF89a\x01\x00\x01\x00",
        b"\xff\xd8\xff\xe0\x00\x10JFIF",
        b"RIFF\x00\x00\x00\x00WEBPVP8 ",
        b'{"@context": []}',
        b"<html><body/></html>",
        b"",
    ],
)
def test_non_png_non_svg_is_unsupported(data: bytes) -> None:
    for fn in (detect_image_type, unbake, lambda d: bake(d, CRED)):
        with pytest.raises(UnsupportedImageError) as info:
            fn(data)
        assert info.value.code == "UNSUPPORTED_IMAGE"
        assert info.value.http_status == 415
    assert not looks_like_image(data)


def test_oversized_image_is_refused() -> None:
    big = SIG + b"\x00" * MAX_IMAGE_BYTES
    for fn in (detect_image_type, unbake, unbake_png, lambda d: bake_png(d, CRED)):
        with pytest.raises(InputTooLargeError) as info:
            fn(big)
        assert info.value.code == "INPUT_TOO_LARGE"


def test_baking_cannot_grow_past_the_limit() -> None:
    filler = chunk(b"tEXt", b"x\x00" + b"y" * (MAX_IMAGE_BYTES - 200))
    png = with_chunks(tiny_png(), filler)
    assert len(png) <= MAX_IMAGE_BYTES
    with pytest.raises(InputTooLargeError):
        bake_png(png, {"pad": "z" * 1000})


# --- SVG -----------------------------------------------------------------------------------------


SVG = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
<!-- a comment with <svg> inside -->
<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" data-x="a>b">
  <circle cx="5" cy="5" r="4" fill="red"/>
</svg>
"""
OB = "{https://purl.imsglobal.org/ob/v3p0}credential"


def svg_credentials(svg: bytes) -> list[str]:
    root = ElementTree.fromstring(svg)
    return [el.text or "" for el in root.iter(OB)]


def test_svg_round_trip_and_structure() -> None:
    baked = bake_svg(SVG, CRED)
    assert unbake_svg(baked) == CRED and unbake(baked) == CRED
    root = ElementTree.fromstring(baked)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root[0].tag == OB  # first child of the root
    assert json.loads(root[0].text or "") == CRED
    assert b'xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"' in baked
    assert b"<openbadges:credential><![CDATA[{" in baked
    # everything else untouched
    assert baked.startswith(SVG[: SVG.index(b"<svg ")])
    assert baked.endswith(SVG[SVG.index(b"\n  <circle") :])


def test_svg_rebake_replaces() -> None:
    once = bake_svg(SVG, CRED)
    twice = bake_svg(once, {"id": "urn:uuid:2"})
    assert len(svg_credentials(twice)) == 1
    assert unbake_svg(twice) == {"id": "urn:uuid:2"}
    assert twice.count(b"xmlns:openbadges=") == 1
    assert bake_svg(twice, {"id": "urn:uuid:2"}) == twice


def test_svg_credential_in_another_prefix_is_replaced() -> None:
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:ob="https://purl.imsglobal.org/ob/v3p0">'
        b'<g><ob:credential><![CDATA[{"old":1}]]></ob:credential></g><ob:credential/></svg>'
    )
    with pytest.raises(DuplicateBakedCredentialError):
        unbake_svg(svg)
    baked = bake_svg(svg, CRED)
    assert svg_credentials(baked) == [json.dumps(CRED, separators=(",", ":"))]
    assert b"<g></g>" in baked


def test_svg_self_closing_and_prefixed_roots() -> None:
    baked = bake_svg(b'<svg xmlns="http://www.w3.org/2000/svg" />', CRED)
    assert unbake_svg(baked) == CRED and baked.endswith(b"</svg>")
    prefixed = b'<s:svg xmlns:s="http://www.w3.org/2000/svg"><s:g/></s:svg>'
    assert unbake(bake(prefixed, CRED)) == CRED
    assert unbake(bake(b"<svg/>", CRED)) == CRED  # no namespace at all: still accepted


def test_cdata_terminator_inside_the_json() -> None:
    tricky = {"narrative": "a ]]> b <![CDATA[ c ]]>", "x": "</openbadges:credential>"}
    assert unbake_svg(bake_svg(SVG, tricky)) == tricky


def test_svg_without_credential() -> None:
    with pytest.raises(NoBakedCredentialError):
        unbake_svg(SVG)


@pytest.mark.parametrize(
    ("svg", "error", "match"),
    [
        (
            b'<!DOCTYPE svg [<!ENTITY lol "lol">]><svg>&lol;</svg>',
            InvalidImageError,
            "entity declarations are not allowed",
        ),
        (
            b'<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg>&x;</svg>',
            InvalidImageError,
            "entity declarations are not allowed",
        ),
        (
            b'<!DOCTYPE svg SYSTEM "http://127.0.0.1:9/evil.dtd"><svg>&x;</svg>',
            InvalidImageError,
            "undefined entity references are not allowed",
        ),
        (b"<svg><g></svg>", InvalidImageError, "invalid SVG: mismatched tag"),
        (b"<svg>", InvalidImageError, "invalid SVG"),
        (b"<html><svg/></html>", UnsupportedImageError, "root element is not <svg> but 'html'"),
        (
            b'<svg xmlns="http://example.com/not-svg"/>',
            UnsupportedImageError,
            "root element is not <svg>",
        ),
        (
            b'<?xml version="1.0" encoding="cp037"?><svg/>',
            UnsupportedImageError,
            "SVG encoding 'cp037' is not supported",
        ),
        (
            "<svg/>".encode("utf-16"),
            UnsupportedImageError,
            "UTF-16|neither a PNG nor an SVG",
        ),
    ],
)
def test_bad_svg_is_refused(svg: bytes, error: type[VCIssuerError], match: str) -> None:
    with pytest.raises(error, match=match):
        bake(svg, CRED)
    with pytest.raises(error, match=match):
        unbake(svg)


def test_latin1_svg_keeps_its_bytes() -> None:
    svg = b'<?xml version="1.0" encoding="ISO-8859-1"?><svg><title>caf\xe9</title></svg>'
    baked = bake(svg, CRED)
    assert b"<title>caf\xe9</title>" in baked
    assert unbake(baked) == CRED


def test_prefix_bound_elsewhere_is_refused() -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="http://openbadges.org"/>'
    with pytest.raises(InvalidImageError, match="binds the prefix 'openbadges'"):
        bake_svg(svg, CRED)


def test_svg_credential_must_be_json() -> None:
    svg = b'<svg xmlns:o="https://purl.imsglobal.org/ob/v3p0"><o:credential>hi</o:credential></svg>'
    with pytest.raises(ParsingError, match="credential baked in the SVG is unusable"):
        unbake_svg(svg)


# --- default images -------------------------------------------------------------------------------


def test_default_badge_png_is_a_256px_rgba_medal() -> None:
    png = default_badge_png("#aa3300")
    width, height, rows = decode_rgba(png)
    assert (width, height) == (256, 256)
    assert rows[2][2 * 4 : 2 * 4 + 4] == b"\x00\x00\x00\x00"
    assert rows[100][128 * 4 : 128 * 4 + 4] == b"\xff\xff\xff\xff"  # white star in the middle
    assert rows[100][40 * 4 : 40 * 4 + 4] == b"\xaa\x33\x00\xff"  # medal rim in the given colour
    assert rows[240][92 * 4 + 3] == 255  # a ribbon tail
    assert detect_image_type(png) == "png"
    assert default_badge_png("#aa3300") == png  # deterministic


def test_default_badge_svg_escapes_the_name_and_bakes() -> None:
    svg = default_badge_svg('Data & <Python> "Basics"', color="#107c41")
    root = ElementTree.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = [el.text for el in root.iter("{http://www.w3.org/2000/svg}text")]
    assert texts == ['Data & <Python> "Basics"']
    assert b"#107c41" in svg
    assert unbake(bake(svg, CRED)) == CRED
    long = default_badge_svg("x" * 100)
    assert ("x" * 27 + "…").encode() in long


@pytest.mark.parametrize("color", ["blue", "#12345", "#1234567", "#gggggg", ""])
def test_default_badge_colour_must_be_hex(color: str) -> None:
    with pytest.raises(MalformedInputError, match="color must look like"):
        default_badge_svg("x", color=color)
    with pytest.raises(MalformedInputError, match="color must look like"):
        default_badge_png(color)


# --- properties ---------------------------------------------------------------------------------

# JSON text: no NUL and no lone surrogate (the parser refuses both, baked or not)
texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=20,
)
json_objects = st.dictionaries(texts, json_values, max_size=6)
BASE_PNG = tiny_png()
BASE_SVG = SVG


@settings(max_examples=150, deadline=None)
@given(first=json_objects, second=json_objects)
def test_bake_unbake_round_trip_png_and_svg(first: dict[str, Any], second: dict[str, Any]) -> None:
    for image in (BASE_PNG, BASE_SVG):
        baked = bake(image, first)
        assert unbake(baked) == first
        rebaked = bake(baked, second)
        assert unbake(rebaked) == second
    assert len(credential_chunks(bake(BASE_PNG, first))) == 1


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_damaged_baked_images_give_errors_not_crashes(data: st.DataObject) -> None:
    image = data.draw(st.sampled_from([bake(BASE_PNG, CRED), bake(BASE_SVG, CRED)]))
    buf = bytearray(image)
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        pos = data.draw(st.integers(0, max(0, len(buf) - 1)))
        if op == "flip" and buf:
            buf[pos] ^= data.draw(st.integers(1, 255))
        elif op == "cut":
            del buf[pos : pos + data.draw(st.integers(1, 16))]
        else:
            buf[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
    try:
        result = unbake(bytes(buf))
    except VCIssuerError:
        return
    assert isinstance(result, dict)


# --- a signed badge survives baking ---------------------------------------------------------------


def signed_badge(key: Ed25519Key) -> dict[str, Any]:
    baker = ("https://badges.example.edu/a/1", "Baker", "Bakes badges.", "Bake one.")
    return signed_award(key, baker, valid_for_months=12, email="baker@example.edu")


@pytest.mark.parametrize(
    "image", [default_badge_png(), default_badge_svg("Baker")], ids=["png", "svg"]
)
async def test_signed_credential_still_verifies_after_baking(image: bytes) -> None:
    key = Ed25519Key.generate()
    credential = signed_badge(key)
    baked = bake(bake(image, {"old": True}), credential)
    out = unbake(baked)
    assert out == credential
    now = lambda: datetime(2024, 6, 1, tzinfo=UTC)  # noqa: E731
    result = await verify_credential(out, now=now)
    assert result.verified, result

    # tamper with the baked text (keeping the image well-formed): no longer verifies
    text = json.dumps(credential, separators=(",", ":"))
    forged = text.replace('"name":"Baker"', '"name":"Master Baker"')
    assert forged != text
    tampered = unbake(bake(image, forged))
    assert not (await verify_credential(tampered, now=now)).verified
