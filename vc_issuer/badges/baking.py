"""Baked badges: an Open Badges 3.0 credential carried inside its PNG or SVG image.

Pure bytes in, bytes out. PNG: one uncompressed ``iTXt`` chunk with keyword
``openbadgecredential`` (OB 3.0 §5.3). SVG: one ``<openbadges:credential>`` element with the
JSON in CDATA, namespace ``https://purl.imsglobal.org/ob/v3p0``. Re-baking replaces the
credential, so an image never carries two. Every other byte of the image is kept as it was.

XML is read with expat configured like defusedxml: entity declarations and external entities
are refused, nothing is ever fetched.
"""

from __future__ import annotations

import json
import math
import re
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final, Literal
from xml.parsers import expat
from xml.sax.saxutils import escape as xml_escape

from vc_issuer.core.credentials import parse_json_document
from vc_issuer.core.jsonparse import check_json_value
from vc_issuer.errors import (
    DuplicateBakedCredentialError,
    InputTooLargeError,
    InvalidImageError,
    MalformedInputError,
    NoBakedCredentialError,
    UnsafeSvgError,
    UnsupportedBakedFormatError,
    UnsupportedImageError,
)

ImageType = Literal["png", "svg"]

MAX_IMAGE_BYTES: Final = 5 * 1024 * 1024
#: Cap on a compressed iTXt credential once inflated (zip-bomb guard).
MAX_CREDENTIAL_BYTES: Final = 4 * 1024 * 1024

PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
PNG_KEYWORD: Final = b"openbadgecredential"
#: Open Badges 2.0 (and 1.x) baking: iTXt (or, in very old badges, tEXt) keyword ``openbadges``.
OB2_PNG_KEYWORD: Final = b"openbadges"
OB_SVG_NAMESPACE: Final = "https://purl.imsglobal.org/ob/v3p0"
OB2_SVG_NAMESPACE: Final = "http://openbadges.org"
SVG_NAMESPACE: Final = "http://www.w3.org/2000/svg"
SVG_PREFIX: Final = "openbadges"

_CHUNK_TYPE = re.compile(rb"^[A-Za-z]{4}$")
_SVG_ROOT_HINT = re.compile(rb"<(?:[A-Za-z_][\w.\-]*:)?svg[\s>/]")


# --- common --------------------------------------------------------------------------------------


def _check_size(data: bytes, what: str = "image") -> None:
    if not isinstance(data, (bytes, bytearray)):
        raise MalformedInputError(f"the {what} must be bytes, got {type(data).__name__}")
    if len(data) > MAX_IMAGE_BYTES:
        raise InputTooLargeError(
            f"the {what} is {len(data)} bytes; the limit is {MAX_IMAGE_BYTES} bytes",
            limit=MAX_IMAGE_BYTES,
        )


def detect_image_type(data: bytes) -> ImageType:
    """``"png"`` or ``"svg"`` from the content (never from a file name or a Content-Type)."""
    _check_size(data)
    if data.startswith(PNG_SIGNATURE):
        return "png"
    head = bytes(data[:4096]).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<") and _SVG_ROOT_HINT.search(data) is not None:
        return "svg"
    raise UnsupportedImageError("the image is neither a PNG nor an SVG")


def looks_like_image(data: bytes) -> bool:
    """Cheap test for adapters that accept either JSON or a baked image."""
    if data.startswith(PNG_SIGNATURE):
        return True
    head = bytes(data[:4096]).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"<") and _SVG_ROOT_HINT.search(data[:65536]) is not None


def credential_text(
    credential: Mapping[str, Any] | str | bytes, *, ascii_only: bool = False
) -> str:
    """The text to bake: compact JSON for a dict; a given JSON text is checked, kept as is; a
    compact JWS (a VC-JWT, OB 3.0 §5.3) is baked as the token itself."""
    if isinstance(credential, Mapping):
        check_json_value(credential)  # what unbaking would refuse is never baked
        return json.dumps(
            credential, separators=(",", ":"), ensure_ascii=ascii_only, allow_nan=False
        )
    if isinstance(credential, (bytes, bytearray)):
        try:
            credential = bytes(credential).decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedInputError("the credential is not UTF-8 text") from None
    if not isinstance(credential, str):
        raise MalformedInputError(
            f"the credential must be a JSON object or its text, got {type(credential).__name__}"
        )
    if _COMPACT_JWS.match(credential.strip()):
        return credential.strip()
    parse_json_document(credential)  # must be a JSON object
    if ascii_only and not credential.isascii():
        return json.dumps(json.loads(credential), separators=(",", ":"), ensure_ascii=True)
    return credential


_COMPACT_JWS = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$")


def _parse_baked(text: str, where: str) -> dict[str, Any]:
    if _COMPACT_JWS.match(text.strip()):
        raise UnsupportedBakedFormatError(
            f"the {where} carries a VC-JWT (compact JWS); only JSON credentials with an "
            "embedded proof are supported",
        )
    try:
        return parse_json_document(text)
    except MalformedInputError as exc:
        raise type(exc)(f"the credential baked in the {where} is unusable: {exc.detail}") from None


# --- PNG -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PngChunk:
    type: bytes
    data: bytes

    def encode(self) -> bytes:
        crc = zlib.crc32(self.type + self.data) & 0xFFFFFFFF
        return struct.pack(">I", len(self.data)) + self.type + self.data + struct.pack(">I", crc)


def parse_png(png: bytes) -> list[PngChunk]:
    """Every chunk, after checking signature, lengths, CRCs and the IHDR … IEND frame."""
    _check_size(png)
    if not png.startswith(PNG_SIGNATURE):
        raise InvalidImageError("not a PNG: the 8-byte signature is missing")
    chunks: list[PngChunk] = []
    pos = len(PNG_SIGNATURE)
    end = len(png)
    while True:
        if pos + 8 > end:
            raise InvalidImageError(f"truncated PNG: no IEND chunk (ends at byte {end})")
        length, ctype = struct.unpack(">I4s", png[pos : pos + 8])
        if length > 0x7FFFFFFF or pos + 12 + length > end:
            raise InvalidImageError(f"truncated PNG: chunk at byte {pos} runs past the end")
        if _CHUNK_TYPE.match(ctype) is None:
            raise InvalidImageError(f"invalid PNG chunk type {ctype!r} at byte {pos}")
        data = bytes(png[pos + 8 : pos + 8 + length])
        (crc,) = struct.unpack(">I", png[pos + 8 + length : pos + 12 + length])
        if zlib.crc32(ctype + data) & 0xFFFFFFFF != crc:
            name = ctype.decode("ascii")
            raise InvalidImageError(f"PNG chunk {name} at byte {pos} has a wrong CRC")
        if not chunks and ctype != b"IHDR":
            raise InvalidImageError("invalid PNG: the first chunk is not IHDR")
        chunks.append(PngChunk(ctype, data))
        pos += 12 + length
        if ctype == b"IEND":
            break
    if pos != end:
        raise InvalidImageError(f"invalid PNG: {end - pos} bytes after IEND")
    if len(chunks[0].data) != 13:
        raise InvalidImageError("invalid PNG: IHDR must hold 13 bytes")
    if not any(c.type == b"IDAT" for c in chunks):
        raise InvalidImageError("invalid PNG: no IDAT chunk")
    return chunks


def encode_png(chunks: list[PngChunk]) -> bytes:
    return PNG_SIGNATURE + b"".join(c.encode() for c in chunks)


@dataclass(frozen=True)
class ITxt:
    """A decoded iTXt chunk (PNG 1.2 §11.3.4.5)."""

    keyword: bytes
    text: str
    compressed: bool = False
    language: bytes = b""
    translated_keyword: str = ""

    def encode(self) -> PngChunk:
        """Uncompressed, as OB 3.0 asks."""
        if not 1 <= len(self.keyword) <= 79 or b"\x00" in self.keyword:
            raise MalformedInputError("iTXt keyword must be 1-79 bytes without NUL")
        body = (
            self.keyword
            + b"\x00\x00\x00"  # keyword end, compression flag 0, method 0
            + self.language
            + b"\x00"
            + self.translated_keyword.encode("utf-8")
            + b"\x00"
            + self.text.encode("utf-8")
        )
        return PngChunk(b"iTXt", body)

    @classmethod
    def decode(cls, data: bytes) -> ITxt:
        try:
            keyword, rest = data.split(b"\x00", 1)
            flag, method = rest[0], rest[1]
            language, rest = rest[2:].split(b"\x00", 1)
            translated, text = rest.split(b"\x00", 1)
        except (ValueError, IndexError):
            raise InvalidImageError("malformed iTXt chunk") from None
        if flag not in (0, 1) or (flag == 1 and method != 0):
            raise InvalidImageError(f"iTXt chunk has an unknown compression ({flag}, {method})")
        if flag == 1:
            inflater = zlib.decompressobj()
            try:
                text = inflater.decompress(text, MAX_CREDENTIAL_BYTES)
            except zlib.error as exc:
                raise InvalidImageError(f"compressed iTXt chunk is corrupt: {exc}") from None
            if inflater.unconsumed_tail:
                raise InputTooLargeError(
                    f"compressed credential inflates beyond {MAX_CREDENTIAL_BYTES} bytes"
                )
        try:
            return cls(
                keyword=keyword,
                text=text.decode("utf-8"),
                compressed=flag == 1,
                language=language,
                translated_keyword=translated.decode("utf-8"),
            )
        except UnicodeDecodeError:
            raise InvalidImageError("iTXt chunk text is not UTF-8") from None


def _is_credential_chunk(chunk: PngChunk) -> bool:
    return chunk.type == b"iTXt" and chunk.data.split(b"\x00", 1)[0] == PNG_KEYWORD


def png_credential_texts(png: bytes) -> list[str]:
    """The text of every ``openbadgecredential`` iTXt chunk, in file order."""
    return [ITxt.decode(c.data).text for c in parse_png(png) if _is_credential_chunk(c)]


def bake_png(png: bytes, credential: Mapping[str, Any] | str | bytes) -> bytes:
    """The PNG with exactly one credential chunk (just before IEND); any earlier one is replaced."""
    chunks = [c for c in parse_png(png) if not _is_credential_chunk(c)]
    chunk = ITxt(PNG_KEYWORD, credential_text(credential)).encode()
    out = encode_png([*chunks[:-1], chunk, chunks[-1]])
    _check_size(out, "baked image")
    return out


def _single(texts: list[str], kind: str) -> str:
    if not texts:
        raise NoBakedCredentialError(f"the {kind} carries no Open Badges credential")
    if len(texts) > 1:
        raise DuplicateBakedCredentialError(
            f"the {kind} carries {len(texts)} Open Badges credentials; exactly one is allowed"
        )
    return texts[0]


def unbake_png(png: bytes) -> dict[str, Any]:
    return _parse_baked(_single(png_credential_texts(png), "PNG"), "PNG")


# --- SVG -----------------------------------------------------------------------------------------


class _UnsafeXml(Exception):
    pass


@dataclass
class _SvgScan:
    """Byte positions found by one expat pass (positions index the input bytes)."""

    root_name: str = ""
    root_start: int = -1
    root_prefixes: dict[str, str] = field(default_factory=dict)
    credentials: list[tuple[int, int]] = field(default_factory=list)  # [start, end) of each
    texts: list[str] = field(default_factory=list)
    verify: list[str | None] = field(default_factory=list)  # each credential's verify attribute
    assertions: list[str] = field(default_factory=list)  # OB 2.0: verify attribute, else text


def _tag_end(data: bytes, pos: int) -> int:
    """Index just past the ``>`` of the tag starting at ``pos`` (quotes respected)."""
    quote = 0
    for i in range(pos, len(data)):
        ch = data[i]
        if quote:
            if ch == quote:
                quote = 0
        elif ch in (0x22, 0x27):
            quote = ch
        elif ch == 0x3E:
            return i + 1
    raise InvalidImageError("invalid SVG: unterminated tag")


def _forbid(what: str) -> Any:
    def handler(*_args: Any) -> Any:
        raise _UnsafeXml(what)

    return handler


def _guarded_parser() -> Any:
    """An expat parser configured like defusedxml: no parameter entities, and entity
    declarations, external and undefined entity references raise ``_UnsafeXml``."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.EntityDeclHandler = _forbid("entity declarations are not allowed")
    parser.UnparsedEntityDeclHandler = _forbid("entity declarations are not allowed")
    parser.ExternalEntityRefHandler = _forbid("external entities are not allowed")
    parser.SkippedEntityHandler = _forbid("undefined entity references are not allowed")
    return parser


def _parse_svg(parser: Any, source: bytes, unsafe: type[InvalidImageError]) -> None:
    """Run ``parser`` over ``source``; a refusal is ``unsafe``, bad XML ``INVALID_IMAGE``."""
    try:
        parser.Parse(source, True)
    except _UnsafeXml as exc:
        raise unsafe(f"unsafe SVG: {exc}") from None
    except expat.ExpatError as exc:
        raise InvalidImageError(f"invalid SVG: {expat.errors.messages[exc.code]} "
                                f"(line {exc.lineno}, column {exc.offset})") from None  # fmt: skip
    except (LookupError, ValueError, UnicodeError) as exc:  # e.g. an encoding expat cannot use
        raise InvalidImageError(f"invalid SVG: {exc}") from None


def _scan_svg(data: bytes) -> _SvgScan:
    _check_size(data)
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in data[:512]:
        raise UnsupportedImageError("UTF-16 SVG is not supported; use UTF-8")
    declared = _XML_ENCODING.match(data)
    if declared is not None and declared.group(1).lower() not in _SVG_ENCODINGS:
        # the credential is inserted as ASCII: only ASCII-compatible encodings stay intact
        name = declared.group(1).decode("ascii")
        raise UnsupportedImageError(f"SVG encoding {name!r} is not supported; use UTF-8")
    cred_name = f"{OB_SVG_NAMESPACE} credential"
    assertion_name = f"{OB2_SVG_NAMESPACE} assertion"
    source = bytes(data)
    scan = _SvgScan()
    pending: dict[str, str] = {}
    depth = 0
    cred_depth = 0  # > 0 while inside an outermost credential (or OB 2.0 assertion) element
    assertion_verify = ""
    parts: list[str] = []
    parser = _guarded_parser()

    def start_ns(prefix: str | None, uri: str) -> None:
        if depth == 0:
            pending[prefix or ""] = uri

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal depth, cred_depth, assertion_verify
        if depth == 0:
            scan.root_name = name
            scan.root_start = parser.CurrentByteIndex
            scan.root_prefixes = dict(pending)
        if cred_depth:
            cred_depth += 1
        elif name == cred_name:
            cred_depth = 1
            scan.credentials.append((parser.CurrentByteIndex, -1))
            scan.verify.append(attrs.get("verify"))
            parts.clear()
        elif name == assertion_name:
            cred_depth = 1
            assertion_verify = attrs.get("verify") or ""
            parts.clear()
        depth += 1

    def end(name: str) -> None:
        nonlocal depth, cred_depth, assertion_verify
        depth -= 1
        if cred_depth:
            cred_depth -= 1
            if cred_depth == 0 and name == assertion_name:
                scan.assertions.append(assertion_verify.strip() or "".join(parts).strip())
            elif cred_depth == 0:
                begin = scan.credentials[-1][0]
                start_end = _tag_end(source, begin)
                if source[start_end - 2 : start_end] == b"/>":  # <x/>: no end tag
                    scan.credentials[-1] = (begin, start_end)
                else:
                    scan.credentials[-1] = (begin, _tag_end(source, parser.CurrentByteIndex))
                scan.texts.append("".join(parts))

    def chars(text: str) -> None:
        if cred_depth:
            parts.append(text)

    parser.StartNamespaceDeclHandler = start_ns
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    _parse_svg(parser, source, InvalidImageError)
    local = scan.root_name.rsplit(" ", 1)[-1]
    namespace = scan.root_name.rsplit(" ", 1)[0] if " " in scan.root_name else ""
    if local != "svg" or namespace not in ("", SVG_NAMESPACE):
        raise UnsupportedImageError(f"the XML root element is not <svg> but {local!r}")
    return scan


# Elements that run code or pull in other documents; compared in lower case, without namespace.
_SVG_ACTIVE_ELEMENTS: Final = frozenset(
    {"script", "foreignobject", "iframe", "embed", "object", "handler", "listener"}
)
_SVG_CSS_URL = re.compile(r"url\(\s*['\"]?\s*([^'\")\s]*)", re.IGNORECASE)
_SVG_CSS_IMPORT = re.compile(r"@import", re.IGNORECASE)


def _svg_reference_ok(ref: str) -> bool:
    """A reference an image may hold: a fragment of itself or an embedded data: image."""
    ref = ref.strip()
    return ref.startswith("#") or ref.lower().startswith("data:image/")


def check_svg_safety(svg: bytes) -> None:
    """Refuse (``UNSAFE_SVG``) an SVG that could run code or load anything when shown: a
    DOCTYPE or entity declaration, ``<script>``, ``<foreignObject>`` (and other embedding
    elements), ``on*`` event attributes, and references (``href``, ``xlink:href``, CSS
    ``url()`` and ``@import``) to anything but ``#fragment`` or a ``data:image/`` URI.

    One expat pass with entity expansion off (like defusedxml); stored images are served to
    browsers, so this runs before an image is kept, whatever the page's CSP.
    """
    _check_size(svg)
    parser = _guarded_parser()
    in_style = 0

    def refuse(what: str) -> Any:
        raise _UnsafeXml(what)

    def css(text: str, where: str) -> None:
        if _SVG_CSS_IMPORT.search(text):
            refuse(f"{where} uses @import")
        for m in _SVG_CSS_URL.finditer(text):
            if not _svg_reference_ok(m.group(1)):
                refuse(f"{where} refers to {m.group(1)[:60]!r} outside the image")

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal in_style
        local = name.rsplit(" ", 1)[-1].lower()
        if local in _SVG_ACTIVE_ELEMENTS:
            refuse(f"<{local}> elements are not allowed")
        if local == "style":
            in_style += 1
        for key, value in attrs.items():
            attr = key.rsplit(" ", 1)[-1].lower()
            if attr.startswith("on"):
                refuse(f"event handler attributes ({attr}) are not allowed")
            if attr == "href" and not _svg_reference_ok(value):
                refuse(f"<{local}> refers to {value[:60]!r} outside the image")
            if attr == "attributename" and value.rsplit(":", 1)[-1].lower() == "href":
                refuse(f"<{local}> may not animate a reference")
            if "url(" in value.lower() or "@import" in value.lower():
                css(value, f"the {attr} attribute of <{local}>")

    def end(name: str) -> None:
        nonlocal in_style
        if name.rsplit(" ", 1)[-1].lower() == "style":
            in_style -= 1

    def chars(text: str) -> None:
        if in_style:
            css(text, "a <style> element")

    def doctype(*_args: Any) -> None:
        refuse("a DOCTYPE is not allowed")

    parser.StartDoctypeDeclHandler = doctype
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    parser.ProcessingInstructionHandler = lambda target, _data: (
        refuse("an xml-stylesheet instruction is not allowed")
        if target.lower() == "xml-stylesheet"
        else None
    )
    _parse_svg(parser, bytes(svg), UnsafeSvgError)


_XML_ENCODING = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?\sencoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']"
)
_SVG_ENCODINGS: Final = frozenset(
    {b"utf-8", b"utf8", b"us-ascii", b"ascii", b"iso-8859-1", b"latin1", b"latin-1"}
)


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def bake_svg(svg: bytes, credential: Mapping[str, Any] | str | bytes) -> bytes:
    """The SVG with one ``openbadges:credential`` child first in the root; earlier ones removed."""
    scan = _scan_svg(svg)
    data = bytes(svg)
    declared = scan.root_prefixes.get(SVG_PREFIX)
    if declared is not None and declared != OB_SVG_NAMESPACE:
        raise InvalidImageError(
            f"the SVG binds the prefix {SVG_PREFIX!r} to {declared!r}, not {OB_SVG_NAMESPACE!r}"
        )
    root_end = _tag_end(data, scan.root_start)
    self_closing = data[root_end - 2 : root_end] == b"/>"
    tag_close = root_end - 2 if self_closing else root_end - 1
    start_tag = data[scan.root_start : tag_close]
    if declared is None:
        start_tag += f' xmlns:{SVG_PREFIX}="{OB_SVG_NAMESPACE}"'.encode("ascii")
    text = credential_text(credential, ascii_only=True)
    if _COMPACT_JWS.match(text):  # OB 3.0 §5.3.2: a JWS goes in the verify attribute
        element = f'<{SVG_PREFIX}:credential verify="{text}"/>'.encode("ascii")
    else:
        element = (
            f"<{SVG_PREFIX}:credential>" + _cdata(text) + f"</{SVG_PREFIX}:credential>"
        ).encode("ascii")

    if self_closing:
        qname = re.match(rb"<([^\s/>]+)", start_tag)
        assert qname is not None  # expat accepted the tag
        body = b"</" + qname.group(1) + b">"
        rest = data[root_end:]
    else:
        # drop earlier credentials: each spans its start tag .. the end of its end tag
        kept: list[bytes] = []
        pos = root_end
        for begin, end in scan.credentials:
            kept.append(data[pos:begin])
            pos = end
        kept.append(data[pos:])
        body, rest = b"", b"".join(kept)
    out = data[: scan.root_start] + start_tag + b">" + element + body + rest
    _check_size(out, "baked image")
    check = _scan_svg(out)
    if len(check.texts) != 1:  # pragma: no cover - defensive: never emit an ambiguous badge
        raise InvalidImageError("baking produced an SVG without exactly one credential")
    return out


def svg_credential_texts(svg: bytes) -> list[str]:
    return _scan_svg(svg).texts


def svg_credential_payloads(svg: bytes) -> list[str]:
    """Each OB 3.0 credential as baked: its ``verify`` attribute (a JWS) or its JSON text."""
    scan = _scan_svg(svg)
    return [(v or t).strip() for v, t in zip(scan.verify, scan.texts, strict=True)]


def unbake_svg(svg: bytes) -> dict[str, Any]:
    return _parse_baked(_single(svg_credential_texts(svg), "SVG").strip(), "SVG")


# --- dispatch ------------------------------------------------------------------------------------


def bake(image: bytes, credential: Mapping[str, Any] | str | bytes) -> bytes:
    """Bake into a PNG or an SVG, whichever ``image`` is."""
    if detect_image_type(image) == "png":
        return bake_png(image, credential)
    return bake_svg(image, credential)


def unbake(data: bytes) -> dict[str, Any]:
    """The credential baked into a PNG or SVG."""
    if detect_image_type(data) == "png":
        return unbake_png(data)
    return unbake_svg(data)


def unbake_text(data: bytes) -> str:
    """The baked credential's text exactly as stored (for verifiers that take raw JSON)."""
    if detect_image_type(data) == "png":
        return _single(png_credential_texts(data), "PNG")
    return _single(svg_credential_texts(data), "SVG").strip()


@dataclass(frozen=True)
class BakedPayload:
    """What a badge image carries, unparsed: ``ob3`` (JSON or a JWS) or ``ob2`` (JSON, a JWS,
    or the URL of a hosted assertion)."""

    version: Literal["ob3", "ob2"]
    text: str


def _ob2_png_texts(png: bytes) -> list[str]:
    texts: list[str] = []
    for chunk in parse_png(png):
        keyword = chunk.data.split(b"\x00", 1)[0]
        if keyword != OB2_PNG_KEYWORD:
            continue
        if chunk.type == b"iTXt":
            texts.append(ITxt.decode(chunk.data).text.strip())
        elif chunk.type == b"tEXt":  # OB 1.0 badges: latin-1 text, a bare URL
            texts.append(chunk.data.split(b"\x00", 1)[1].decode("latin-1").strip())
    return texts


def baked_payload(data: bytes) -> BakedPayload:
    """The one credential a PNG or SVG carries, OB 3.0 or OB 2.0 (never both, never two)."""
    if detect_image_type(data) == "png":
        ob3, ob2 = png_credential_texts(data), _ob2_png_texts(data)
        kind = "PNG"
    else:
        ob3, scan = svg_credential_payloads(data), _scan_svg(data)
        ob2, kind = scan.assertions, "SVG"
    text = _single([*ob3, *ob2], kind)
    return BakedPayload("ob3" if ob3 else "ob2", text)


def media_type(kind: ImageType) -> str:
    return "image/png" if kind == "png" else "image/svg+xml"


# --- default badge images ------------------------------------------------------------------------

DEFAULT_COLOR: Final = "#1f6feb"
_HEX_COLOR = re.compile(r"^#([0-9a-fA-F]{6})$")
RGB = tuple[int, int, int]


def _rgb(color: str) -> RGB:
    m = _HEX_COLOR.match(color) if isinstance(color, str) else None
    if m is None:
        raise MalformedInputError(f"color must look like #1f6feb, got {color!r}")
    value = int(m.group(1), 16)
    return (value >> 16) & 255, (value >> 8) & 255, value & 255


def _shade(rgb: RGB, factor: float) -> RGB:
    """factor < 1 darkens, > 1 mixes towards white."""
    if factor <= 1:
        return (round(rgb[0] * factor), round(rgb[1] * factor), round(rgb[2] * factor))
    t = factor - 1
    return (
        round(rgb[0] + (255 - rgb[0]) * t),
        round(rgb[1] + (255 - rgb[1]) * t),
        round(rgb[2] + (255 - rgb[2]) * t),
    )


def _hex(rgb: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _star(cx: float, cy: float, outer: float, inner: float) -> list[tuple[float, float]]:
    points = []
    for i in range(10):
        r = outer if i % 2 == 0 else inner
        angle = -math.pi / 2 + i * math.pi / 5
        points.append((cx + r * math.cos(angle), cy + r * math.sin(angle)))
    return points


def _geometry(size: int) -> dict[str, Any]:
    s = size / 256
    cx, cy = 128 * s, 100 * s
    left = [(70, 150), (122, 172), (98, 252), (78, 230), (46, 236)]
    right = [(134, 172), (186, 150), (210, 236), (178, 230), (158, 252)]
    return {
        "center": (cx, cy),
        "outer": 92 * s,
        "ring": (80 * s, 74 * s),
        "inner": 74 * s,
        "star": _star(cx, cy, 42 * s, 18 * s),
        "ribbons": tuple([(x * s, y * s) for x, y in tail] for tail in (left, right)),
    }


def default_badge_svg(name: str, color: str = DEFAULT_COLOR) -> bytes:
    """A medal with a star and the achievement name, for achievements without an image."""
    if not isinstance(name, str) or not name.strip():
        raise MalformedInputError("the badge name must be a non-empty string")
    base = _rgb(color)
    g = _geometry(256)
    label = name.strip()
    if len(label) > 28:
        label = label[:27] + "…"
    font = 15 if len(label) <= 18 else 11

    def pts(points: list[tuple[float, float]]) -> str:
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in points)

    cx, cy = g["center"]
    svg = f"""<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="{SVG_NAMESPACE}" width="256" height="256" viewBox="0 0 256 256" role="img" aria-label="{xml_escape(label, {'"': "&quot;"})}">
<title>{xml_escape(name.strip())}</title>
<polygon points="{pts(g["ribbons"][0])}" fill="{_hex(_shade(base, 0.7))}"/>
<polygon points="{pts(g["ribbons"][1])}" fill="{_hex(_shade(base, 0.7))}"/>
<circle cx="{cx:.0f}" cy="{cy:.0f}" r="{g["outer"]:.0f}" fill="{_hex(base)}"/>
<circle cx="{cx:.0f}" cy="{cy:.0f}" r="{g["ring"][0] - 3:.0f}" fill="none" stroke="#ffffff" stroke-width="6"/>
<circle cx="{cx:.0f}" cy="{cy:.0f}" r="{g["inner"]:.0f}" fill="{_hex(_shade(base, 1.25))}"/>
<polygon points="{pts(g["star"])}" fill="#ffffff"/>
<rect x="20" y="{cy + 46:.0f}" width="216" height="30" rx="6" fill="{_hex(_shade(base, 0.55))}"/>
<text x="128" y="{cy + 66:.0f}" text-anchor="middle" font-family="sans-serif" font-size="{font}" font-weight="bold" fill="#ffffff">{xml_escape(label)}</text>
</svg>
"""  # noqa: E501
    return svg.encode("utf-8")


def _polygon_coverage(px: float, py: float, poly: list[tuple[float, float]]) -> float:
    """Anti-aliased coverage of a simple polygon at a pixel centre (signed edge distance)."""
    inside = False
    nearest = math.inf
    n = len(poly)
    for i in range(n):
        x1, y1 = poly[i]
        x2, y2 = poly[(i + 1) % n]
        if (y1 > py) != (y2 > py) and px < x1 + (py - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
        ex, ey = x2 - x1, y2 - y1
        t = max(0.0, min(1.0, ((px - x1) * ex + (py - y1) * ey) / (ex * ex + ey * ey)))
        nearest = min(nearest, math.hypot(px - x1 - t * ex, py - y1 - t * ey))
    signed = nearest if inside else -nearest
    return max(0.0, min(1.0, signed + 0.5))


def _over(dst: list[float], rgb: RGB, alpha: float) -> None:
    if alpha <= 0:
        return
    a0 = dst[3]
    a = alpha + a0 * (1 - alpha)
    for k in range(3):
        dst[k] = (rgb[k] * alpha + dst[k] * a0 * (1 - alpha)) / a
    dst[3] = a


@lru_cache(maxsize=16)
def default_badge_png(color: str = DEFAULT_COLOR, size: int = 256) -> bytes:
    """The same medal as :func:`default_badge_svg` (without text), drawn without dependencies."""
    if isinstance(size, bool) or not isinstance(size, int) or not 16 <= size <= 1024:
        raise MalformedInputError("size must be an integer between 16 and 1024")
    base = _rgb(color)
    g = _geometry(size)
    cx, cy = g["center"]
    ribbon_rgb = _shade(base, 0.7)
    light = _shade(base, 1.25)
    ribbons = g["ribbons"]
    star = g["star"]
    star_reach = max(math.hypot(x - cx, y - cy) for x, y in star) + 1
    ring_out, ring_in = g["ring"]
    rows = []
    for y in range(size):
        row = bytearray(b"\x00")  # filter type None
        py = y + 0.5
        for x in range(size):
            px = x + 0.5
            pixel = [0.0, 0.0, 0.0, 0.0]
            dist = math.hypot(px - cx, py - cy)
            if py > cy:
                for poly in ribbons:
                    _over(pixel, ribbon_rgb, _polygon_coverage(px, py, poly))
            _over(pixel, base, max(0.0, min(1.0, g["outer"] - dist + 0.5)))
            ring = min(ring_out - dist, dist - ring_in) + 0.5
            _over(pixel, (255, 255, 255), max(0.0, min(1.0, ring)))
            _over(pixel, light, max(0.0, min(1.0, g["inner"] - 3 - dist + 0.5)))
            if dist < star_reach:
                _over(pixel, (255, 255, 255), _polygon_coverage(px, py, star))
            row += bytes((round(pixel[0]), round(pixel[1]), round(pixel[2]), round(pixel[3] * 255)))
        rows.append(bytes(row))
    ihdr = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return encode_png(
        [
            PngChunk(b"IHDR", ihdr),
            PngChunk(b"IDAT", zlib.compress(b"".join(rows), 9)),
            PngChunk(b"IEND", b""),
        ]
    )


def default_badge(kind: ImageType, name: str, color: str = DEFAULT_COLOR) -> bytes:
    return default_badge_png(color) if kind == "png" else default_badge_svg(name, color)


__all__ = [
    "MAX_IMAGE_BYTES",
    "OB_SVG_NAMESPACE",
    "PNG_KEYWORD",
    "BakedPayload",
    "ITxt",
    "ImageType",
    "PngChunk",
    "bake",
    "bake_png",
    "bake_svg",
    "baked_payload",
    "check_svg_safety",
    "credential_text",
    "default_badge",
    "default_badge_png",
    "default_badge_svg",
    "detect_image_type",
    "encode_png",
    "looks_like_image",
    "media_type",
    "parse_png",
    "png_credential_texts",
    "svg_credential_payloads",
    "svg_credential_texts",
    "unbake",
    "unbake_png",
    "unbake_svg",
    "unbake_text",
]
