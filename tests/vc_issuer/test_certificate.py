"""The printable certificate, read back as a person would: the PDF's text (pdftotext), its page
size (pdfinfo) and the QR code on the page rendered by poppler and decoded by zbar."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pytest
from PIL import Image

from vc_issuer.badges.baking import default_badge_png, default_badge_svg
from vc_issuer.badges.certificate import (
    CertificateData,
    Standing,
    render_certificate,
    standing_from_status,
)
from vc_issuer.errors import MalformedInputError

from ._pdf import pdf_info, pdf_qr_codes, pdf_text

DID = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
PAGE = "https://badges.example.edu/c/0b8f4f5e-1111-4222-8333-444455556666"
VALID = Standing("Valid", True, "This credential is genuine and currently valid.")


def credential(**changes: Any) -> dict[str, Any]:
    cred: dict[str, Any] = {
        "id": "urn:uuid:0b8f4f5e-1111-4222-8333-444455556666",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": DID, "type": ["Profile"], "name": "Example University"},
        "validFrom": "2025-05-12T09:30:00Z",
        "awardedDate": "2025-05-12T09:30:00Z",
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "name": "Ada Lovelace",
            "achievement": {
                "id": "https://badges.example.edu/achievements/x",
                "type": ["Achievement"],
                "name": "Python Basics",
                "description": "Writes, tests and debugs small Python programs.",
                "criteria": {"narrative": "Pass the exam."},
            },
        },
    }
    cred.update(changes)
    return cred


def data(**changes: Any) -> CertificateData:
    return CertificateData.from_credential(credential(**changes), PAGE)


def test_a4_certificate_says_who_earned_what_from_whom_and_links_the_page() -> None:
    pdf = render_certificate(data(), image=default_badge_png(), standing=VALID)
    text = pdf_text(pdf)
    for seen in (
        "CERTIFICATE OF ACHIEVEMENT",
        "This certifies that Ada Lovelace has earned Python Basics",
        "Writes, tests and debugs small Python programs.",
        "Issued by Example University",
        f"DID: {DID}",
        "Awarded: 12 May 2025",
        "Expires: does not expire",
        "Credential: urn:uuid:0b8f4f5e-1111-4222-8333-444455556666",
        "Scan to check this credential live",
        PAGE,
    ):
        assert seen in text, seen
    assert "REVOKED" not in text and "EXPIRED" not in text
    assert pdf_qr_codes(pdf) == [PAGE]
    info = pdf_info(pdf)
    assert info["Pages"] == "1"
    assert info["Page size"] == "841.89 x 595.276 pts (A4)"  # landscape
    assert info["Title"] == "Python Basics — Ada Lovelace"
    assert info["Author"] == "Example University"


def test_letter_paper_is_landscape_letter() -> None:
    pdf = render_certificate(data(), paper="letter")
    assert pdf_info(pdf)["Page size"] == "792 x 612 pts (letter)"
    assert pdf_qr_codes(pdf) == [PAGE]


def test_unknown_paper_is_refused() -> None:
    with pytest.raises(MalformedInputError) as caught:
        render_certificate(data(), paper="a3")
    assert caught.value.code == "MALFORMED_VALUE_ERROR" and caught.value.extra["field"] == "paper"


@pytest.mark.parametrize(
    ("label", "explanation"),
    [
        ("Revoked", "The issuer has revoked this credential."),
        ("Suspended", "The issuer has suspended this credential."),
        ("Expired", "This credential was genuine but has expired."),
    ],
)
def test_a_credential_that_is_not_valid_says_so(label: str, explanation: str) -> None:
    pdf = render_certificate(data(), standing=Standing(label, False, explanation))
    text = pdf_text(pdf)
    assert f"{label.upper()}: {explanation}" in text  # the banner (and a watermark)
    assert pdf_qr_codes(pdf) == [PAGE]  # still points at the live page


def test_names_beyond_latin_1_are_drawn() -> None:
    subject = credential()["credentialSubject"]
    subject["name"] = "Zoë Łukasz Ødegård Ελένη Андрей"
    pdf = render_certificate(data(credentialSubject=subject, validUntil="2027-01-31T00:00:00Z"))
    text = pdf_text(pdf)
    assert "Zoë Łukasz Ødegård Ελένη Андрей" in text
    assert "Expires: 31 January 2027" in text


def test_long_texts_are_wrapped_and_cut_on_one_page() -> None:
    subject = credential()["credentialSubject"]
    subject["name"] = "Maria " * 30
    subject["achievement"]["description"] = "A very long description. " * 60
    pdf = render_certificate(data(credentialSubject=subject))
    assert pdf_info(pdf)["Pages"] == "1"
    assert "…" in pdf_text(pdf)
    assert pdf_qr_codes(pdf) == [PAGE]


def test_no_name_and_no_issuer_name_still_reads() -> None:
    subject = credential()["credentialSubject"]
    del subject["name"]
    pdf = render_certificate(data(credentialSubject=subject, issuer={"id": DID, "name": DID}))
    text = pdf_text(pdf)
    assert "This certifies that the holder of this credential has earned" in text
    assert f"Issued by {DID}" in text  # an unnamed issuer is named by its DID, once
    assert text.count(DID) == 2  # the name line and the DID line


def _has_raster(pdf: bytes) -> bool:
    return b"/Subtype /Image" in pdf


def test_png_and_svg_badges_are_drawn_and_bad_ones_fall_back() -> None:
    assert _has_raster(render_certificate(data(), image=default_badge_png()))
    svg = render_certificate(data(), image=default_badge_svg("Svg Badge"))
    assert not _has_raster(svg) and "Svg Badge" in pdf_text(svg)  # drawn as vectors
    # No image, a damaged PNG, an oversized one: the default (vector) medal, page intact.
    huge = io.BytesIO()
    Image.new("L", (5000, 8)).save(huge, "PNG")
    for image in (None, b"\x89PNG\r\n\x1a\n" + b"\0" * 40, huge.getvalue(), b"<svg"):
        pdf = render_certificate(data(), image=image)
        assert not _has_raster(pdf), image
        assert pdf_qr_codes(pdf) == [PAGE]


def test_output_is_deterministic() -> None:
    first = render_certificate(data(), image=default_badge_png(), standing=VALID)
    assert render_certificate(data(), image=default_badge_png(), standing=VALID) == first


def test_standing_from_the_issuers_records() -> None:
    d = data(validUntil="2026-01-01T00:00:00Z")
    before = datetime(2025, 1, 1, tzinfo=UTC)
    during = datetime(2025, 6, 1, tzinfo=UTC)
    after = datetime(2026, 6, 1, tzinfo=UTC)
    fine = {"revocation": False, "suspension": False}
    assert standing_from_status(fine, d, during).label == "Valid"
    assert standing_from_status(fine, d, after).label == "Expired"
    assert standing_from_status(fine, d, before).label == "Not yet valid"
    assert standing_from_status({**fine, "suspension": True}, d, during).label == "Suspended"
    revoked = standing_from_status({"revocation": True, "suspension": True}, d, after)
    assert revoked == Standing("Revoked", False, "The issuer has revoked this credential.")
