"""The printable certificate of an awarded badge: one landscape PDF page (A4 or US Letter).

It shows the badge image, the learner's name, the achievement, the issuer (name and DID), the
dates and a QR code to the public page, where anyone can check the credential live; when the
credential is not valid (revoked, suspended, expired) the page says so across the top and in
a watermark, so a printout cannot pass for a valid one.

Drawn with ReportLab's canvas (a PDF toolkit: no browser, no HTML engine, about 20 ms a page),
the QR code from segno's module matrix, SVG badge images through svglib. Fonts are DejaVu Sans
when installed (Latin, Greek and Cyrillic names), else ReportLab's bundled Vera. Pure: bytes
in, bytes out, no file or network access (svglib refuses an SVG's external references when it
reads from memory).
"""

from __future__ import annotations

import functools
import io
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal

import segno
from reportlab.graphics import renderPDF
from reportlab.lib.colors import Color, HexColor, white
from reportlab.lib.pagesizes import A4, landscape, letter
from reportlab.lib.utils import ImageReader, simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from vc_issuer.badges.baking import default_badge_svg, detect_image_type
from vc_issuer.badges.sharing import parse_moment
from vc_issuer.errors import MalformedInputError

Paper = Literal["a4", "letter"]
PAPERS: Final[dict[str, tuple[float, float]]] = {
    "a4": landscape(A4),
    "letter": landscape(letter),
}
#: Badge images larger than this (pixels a side) are not decoded: the default badge is shown.
MAX_IMAGE_SIDE: Final = 4096
#: Raster badges are scaled down to this before embedding (sharp at 110 pt, small PDFs).
EMBED_IMAGE_SIDE: Final = 512

INK: Final = HexColor("#1b1f23")
MUTED: Final = HexColor("#4a5159")
ACCENT: Final = HexColor("#0a3d7a")
BAD: Final = HexColor("#a4141b")
BAD_LIGHT: Final = Color(0.64, 0.08, 0.11, alpha=0.09)

_FONT_DIRS: Final = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/local/share/fonts/dejavu"),
    Path("/Library/Fonts"),
)


@dataclass(frozen=True)
class Standing:
    """The credential's standing, as the public page headlines it (``Valid``, ``Revoked``...)."""

    label: str
    ok: bool
    explanation: str


@dataclass(frozen=True)
class CertificateData:
    """Everything a certificate shows, read out of the credential beforehand."""

    achievement: str
    recipient: str | None
    issuer_name: str | None
    issuer_did: str
    description: str | None
    achievement_type: str | None
    awarded: datetime | None
    expires: datetime | None
    credential_id: str | None
    page_url: str

    @classmethod
    def from_credential(cls, credential: Mapping[str, Any], page_url: str) -> CertificateData:
        subject = credential.get("credentialSubject")
        first = subject[0] if isinstance(subject, list) and subject else subject
        first = first if isinstance(first, Mapping) else {}
        ach = first.get("achievement")
        ach = ach if isinstance(ach, Mapping) else {}
        issuer = credential.get("issuer")
        if isinstance(issuer, Mapping):
            did, name = issuer.get("id"), issuer.get("name")
        else:
            did, name = issuer, None
        did = did if isinstance(did, str) else ""
        name = name if isinstance(name, str) and name.strip() and name != did else None
        return cls(
            achievement=_text(ach.get("name")) or _text(credential.get("name")) or "Badge",
            recipient=_text(first.get("name")),
            issuer_name=name,
            issuer_did=did,
            description=_text(ach.get("description")) or _text(credential.get("description")),
            achievement_type=_text(ach.get("achievementType")),
            awarded=parse_moment(
                credential.get("awardedDate")
                or credential.get("validFrom")
                or credential.get("issuanceDate")
            ),
            expires=parse_moment(credential.get("validUntil") or credential.get("expirationDate")),
            credential_id=_text(credential.get("id")),
            page_url=page_url,
        )


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def standing_from_status(
    status: Mapping[str, bool], data: CertificateData, now: datetime
) -> Standing:
    """The standing from the issuer's own records (status bits and dates), for the CLI: the
    same headlines the public page uses, without re-verifying our own signature."""
    if status.get("revocation"):
        return Standing("Revoked", False, "The issuer has revoked this credential.")
    if status.get("suspension"):
        return Standing("Suspended", False, "The issuer has suspended this credential.")
    if data.expires is not None and now >= data.expires:
        return Standing("Expired", False, "This credential was genuine but has expired.")
    if data.awarded is not None and now < data.awarded:
        return Standing("Not yet valid", False, "This credential is not valid yet.")
    return Standing("Valid", True, "This credential is genuine and currently valid.")


# --- fonts ----------------------------------------------------------------------------------------


@functools.cache
def _fonts() -> tuple[str, str]:
    """(regular, bold) registered once per process: DejaVu Sans if installed, else Vera."""
    for folder in _FONT_DIRS:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            pdfmetrics.registerFont(TTFont("Cert", str(regular)))
            pdfmetrics.registerFont(TTFont("Cert-Bold", str(bold)))
            return "Cert", "Cert-Bold"
    pdfmetrics.registerFont(TTFont("Cert", "Vera.ttf"))
    pdfmetrics.registerFont(TTFont("Cert-Bold", "VeraBd.ttf"))
    return "Cert", "Cert-Bold"


def _fit(text: str, font: str, size: float, width: float, smallest: float) -> float:
    """The largest size from ``size`` down to ``smallest`` at which ``text`` fits ``width``."""
    while size > smallest and pdfmetrics.stringWidth(text, font, size) > width:
        size -= 1
    return size


def _lines(text: str, font: str, size: float, width: float, most: int) -> list[str]:
    """``text`` wrapped at spaces (long words cut), at most ``most`` lines, the last with an
    ellipsis when it was cut short."""
    out: list[str] = []
    for line in simpleSplit(" ".join(text.split()), font, size, width):
        out.extend(_hard_wrap(line, font, size, width))
    if len(out) > most:
        out = out[:most]
        last = out[-1]
        while last and pdfmetrics.stringWidth(last + "…", font, size) > width:
            last = last[:-1]
        out[-1] = last.rstrip() + "…"
    return out


def _hard_wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Cut a line with no spaces (a DID, a URL) into pieces that fit."""
    out: list[str] = []
    current = ""
    for char in text:
        if current and pdfmetrics.stringWidth(current + char, font, size) > width:
            out.append(current)
            current = ""
        current += char
    return [*out, current] if current else out


# --- images ---------------------------------------------------------------------------------------


def _png_size(data: bytes) -> tuple[int, int] | None:
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def _draw_badge(
    canvas: Canvas, image: bytes | None, name: str, x: float, y: float, side: float
) -> None:
    """The badge image in a ``side`` square at (x, y), aspect kept; the default badge (a
    vector medal with the badge's name) when there is none or it cannot be read: a damaged or
    oversized upload must not stop the page."""
    if image is not None:
        try:
            if detect_image_type(image) == "svg":
                _draw_svg(canvas, image, x, y, side)
                return
            size = _png_size(image)
            if size is not None and max(size) <= MAX_IMAGE_SIDE:
                _draw_raster(canvas, image, x, y, side)
                return
        except Exception:  # any decoder failure on stored bytes: show the default badge
            pass
    _draw_svg(canvas, default_badge_svg(name), x, y, side)


def _draw_raster(canvas: Canvas, data: bytes, x: float, y: float, side: float) -> None:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        img.load()
        picture = img.convert("RGBA")
    picture.thumbnail((EMBED_IMAGE_SIDE, EMBED_IMAGE_SIDE))
    canvas.drawImage(
        ImageReader(picture),
        x,
        y,
        width=side,
        height=side,
        mask="auto",
        preserveAspectRatio=True,
        anchor="c",
    )


def _draw_svg(canvas: Canvas, data: bytes, x: float, y: float, side: float) -> None:
    from svglib.svglib import svg2rlg

    drawing = svg2rlg(io.BytesIO(data))
    if drawing is None or not drawing.width or not drawing.height:
        raise ValueError("unreadable SVG")
    scale = side / max(drawing.width, drawing.height)
    width, height = drawing.width * scale, drawing.height * scale
    drawing.scale(scale, scale)
    drawing.width, drawing.height = width, height
    renderPDF.draw(drawing, canvas, x + (side - width) / 2, y + (side - height) / 2)


def _fine_print(canvas: Canvas, text: str, font: str, x: float, y: float, width: float) -> float:
    """Up to two small muted lines of ``text`` (a DID, a credential id) from ``y`` down; the
    next free ``y``."""
    canvas.setFont(font, 7.5)
    canvas.setFillColor(MUTED)
    for line in _lines(text, font, 7.5, width, 2):
        canvas.drawString(x, y, line)
        y -= 10
    return y


def _draw_qr(canvas: Canvas, url: str, x: float, y: float, side: float) -> None:
    """A QR code of ``url`` filling a ``side`` square (quiet zone included), linked too."""
    qr = segno.make(url, error="m", micro=False)
    matrix: Sequence[Sequence[int]] = qr.matrix
    border = 4
    modules = len(matrix) + 2 * border
    cell = side / modules
    canvas.setFillColor(white)
    canvas.rect(x, y, side, side, stroke=0, fill=1)
    canvas.setFillColor(INK)
    path = canvas.beginPath()
    for row, bits in enumerate(matrix):
        for col, bit in enumerate(bits):
            if bit:
                px = x + (col + border) * cell
                py = y + side - (row + border + 1) * cell
                path.rect(px, py, cell, cell)
    canvas.drawPath(path, stroke=0, fill=1)
    canvas.linkURL(url, (x, y, x + side, y + side), relative=0)


# --- the page -------------------------------------------------------------------------------------


def _date(moment: datetime | None) -> str:
    return moment.strftime("%-d %B %Y") if moment is not None else "unknown"


def render_certificate(
    data: CertificateData,
    *,
    image: bytes | None = None,
    standing: Standing | None = None,
    paper: str = "a4",
) -> bytes:
    """One landscape page of PDF. ``image`` is the badge (PNG or SVG bytes; None: the default
    badge); ``standing`` not ok puts a banner and a watermark on the page."""
    if paper not in PAPERS:
        raise MalformedInputError(f"paper must be a4 or letter, got {paper!r}", field="paper")
    regular, bold = _fonts()
    width, height = PAPERS[paper]
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=(width, height), invariant=True, pageCompression=1)
    title = f"{data.achievement} — {data.recipient}" if data.recipient else data.achievement
    canvas.setTitle(title)
    canvas.setAuthor(data.issuer_name or data.issuer_did)
    canvas.setSubject(f"Certificate of achievement; check it at {data.page_url}")
    canvas.setCreator("vc-issuer")
    bad = standing is not None and not standing.ok

    # Frame.
    canvas.setStrokeColor(BAD if bad else ACCENT)
    canvas.setLineWidth(3)
    canvas.rect(24, 24, width - 48, height - 48, stroke=1, fill=0)
    canvas.setLineWidth(0.8)
    canvas.rect(32, 32, width - 64, height - 64, stroke=1, fill=0)

    if bad and standing is not None:
        canvas.saveState()
        canvas.setFillColor(BAD_LIGHT)
        canvas.setFont(bold, 110)
        canvas.translate(width / 2, height / 2 - 20)
        canvas.rotate(24)
        canvas.drawCentredString(0, -40, standing.label.upper())
        canvas.restoreState()

    centre = width / 2
    top = height - 60
    kind = "CERTIFICATE OF ACHIEVEMENT"
    canvas.setFillColor(ACCENT)
    canvas.setFont(bold, 13)
    canvas.drawCentredString(centre, top, kind)

    if bad and standing is not None:
        band = 30
        canvas.setFillColor(BAD)
        canvas.rect(40, top - 14 - band, width - 80, band, stroke=0, fill=1)
        canvas.setFillColor(white)
        canvas.setFont(bold, 13)
        canvas.drawCentredString(
            centre,
            top - 14 - band + 10,
            f"{standing.label.upper()}: {standing.explanation}",
        )
        top -= band + 8

    side = 112.0
    _draw_badge(canvas, image, data.achievement, centre - side / 2, top - 22 - side, side)
    y = top - 22 - side - 30

    canvas.setFillColor(MUTED)
    canvas.setFont(regular, 12)
    canvas.drawCentredString(centre, y, "This certifies that")
    y -= 34
    canvas.setFillColor(INK)
    learner = data.recipient or "the holder of this credential"
    size = _fit(learner, bold, 30, width - 160, 16)
    for line in _lines(learner, bold, size, width - 160, 2):
        canvas.setFont(bold, size)
        canvas.drawCentredString(centre, y, line)
        y -= size + 4
    y -= 10
    canvas.setFillColor(MUTED)
    canvas.setFont(regular, 12)
    canvas.drawCentredString(centre, y, "has earned")
    y -= 26
    canvas.setFillColor(ACCENT)
    size = _fit(data.achievement, bold, 22, width - 160, 13)
    for line in _lines(data.achievement, bold, size, width - 160, 2):
        canvas.setFont(bold, size)
        canvas.drawCentredString(centre, y, line)
        y -= size + 4
    if data.description:
        y -= 4
        canvas.setFillColor(MUTED)
        canvas.setFont(regular, 10)
        for line in _lines(data.description, regular, 10, width - 240, 2):
            canvas.drawCentredString(centre, y, line)
            y -= 13

    # Bottom left: who issued it, when, which credential.
    left = 56.0
    column = width * 0.55
    y = 150.0
    canvas.setFillColor(MUTED)
    canvas.setFont(regular, 9)
    canvas.drawString(left, y, "Issued by")
    y -= 17
    canvas.setFillColor(INK)
    issuer = data.issuer_name or data.issuer_did or "unknown issuer"
    size = _fit(issuer, bold, 14, column, 9)
    canvas.setFont(bold, size)
    canvas.drawString(left, y, _lines(issuer, bold, size, column, 1)[0])
    y = _fine_print(canvas, f"DID: {data.issuer_did}", regular, left, y - 14, column)
    y -= 6
    canvas.setFont(regular, 10)
    canvas.setFillColor(INK)
    canvas.drawString(left, y, f"Awarded: {_date(data.awarded)}")
    y -= 14
    expires = _date(data.expires) if data.expires is not None else "does not expire"
    canvas.drawString(left, y, f"Expires: {expires}")
    if data.credential_id:
        _fine_print(canvas, f"Credential: {data.credential_id}", regular, left, y - 14, column)

    # Bottom right: the QR code to the live page.
    qr_side = 104.0
    qr_x = width - 56 - qr_side
    qr_y = 62.0
    _draw_qr(canvas, data.page_url, qr_x, qr_y, qr_side)
    canvas.setFillColor(MUTED)
    canvas.setFont(regular, 8)
    canvas.drawRightString(width - 56, qr_y + qr_side + 6, "Scan to check this credential live")
    url_lines = _lines(data.page_url, regular, 7, 320, 2)
    line_y = 50.0
    for line in url_lines:
        canvas.drawRightString(width - 56, line_y, line)
        line_y -= 9
    canvas.showPage()
    canvas.save()
    return out.getvalue()


__all__ = [
    "PAPERS",
    "CertificateData",
    "Paper",
    "Standing",
    "render_certificate",
    "standing_from_status",
]
