"""Read PDFs as a person would: Debian's poppler-utils (pdftotext, pdfinfo, pdftoppm) for the
text and the rendered page, zbar-tools' zbarimg for the QR codes on that page.

Missing tools fail the test with the install line (CI installs them from the README)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

TOOLS = ("pdftotext", "pdfinfo", "pdftoppm", "zbarimg")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} is missing: apt-get install -y poppler-utils zbar-tools", pytrace=False
        )
    return path


def _run(args: list[str], data: bytes | None = None) -> str:
    done = subprocess.run(args, input=data, capture_output=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    return done.stdout.decode("utf-8")


def pdf_text(pdf: bytes) -> str:
    """The page's text, whitespace collapsed (line breaks in a long line do not matter)."""
    text = _run([_tool("pdftotext"), "-enc", "UTF-8", "-", "-"], pdf)
    return " ".join(text.split())


def pdf_info(pdf: bytes) -> dict[str, str]:
    out = _run([_tool("pdfinfo"), "-"], pdf)
    pairs = (line.split(":", 1) for line in out.splitlines() if ":" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def render_png(pdf: bytes, dpi: int = 150) -> bytes:
    """The first page as a PNG, rendered by poppler."""
    with tempfile.TemporaryDirectory(prefix="vc-issuer-pdf-") as folder:
        stem = Path(folder) / "page"
        _run([_tool("pdftoppm"), "-r", str(dpi), "-png", "-singlefile", "-", str(stem)], pdf)
        return (stem.with_suffix(".png")).read_bytes()


def qr_codes(png: bytes) -> list[str]:
    """Every QR code zbar decodes in the image, as text."""
    with tempfile.TemporaryDirectory(prefix="vc-issuer-qr-") as folder:
        path = Path(folder) / "page.png"
        path.write_bytes(png)
        done = subprocess.run(
            [_tool("zbarimg"), "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", str(path)],
            capture_output=True,
            check=False,
            timeout=60,
        )
    # zbarimg exits 4 when it finds no code: that is an empty answer, not an error.
    assert done.returncode in (0, 4), done.stderr.decode("utf-8", "replace")
    return [line for line in done.stdout.decode("utf-8").splitlines() if line]


def pdf_qr_codes(pdf: bytes) -> list[str]:
    return qr_codes(render_png(pdf))


__all__ = ["pdf_info", "pdf_qr_codes", "pdf_text", "qr_codes", "render_png"]
