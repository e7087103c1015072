"""Every CSV we write neutralizes formula cells (CSV injection)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from vc_issuer.badges.awards import AwardResult, write_results
from vc_issuer.core.csvsafe import neutralize_cell


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("https://evil.example")', '\'=HYPERLINK("https://evil.example")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("ada@example.org", "ada@example.org"),
        ("Ada = Lovelace", "Ada = Lovelace"),
        ("", ""),
        (3, 3),
    ],
)
def test_formula_cells_get_a_leading_quote(cell: object, written: object) -> None:
    assert neutralize_cell(cell) == written


def test_batch_results_csv_holds_no_formula() -> None:
    out = io.StringIO()
    write_results(
        out,
        [
            AwardResult(1, "error", recipient="=cmd|' /C calc'!A0", error_code="INVALID_ROW",
                        error="-1+1 is not an email address"),
            AwardResult(2, "issued", recipient="ada@example.org"),
        ],
    )  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert rows[0]["recipient"] == "'=cmd|' /C calc'!A0"
    assert rows[0]["error"] == "'-1+1 is not an email address"
    assert rows[1]["recipient"] == "ada@example.org"


def test_no_csv_writer_bypasses_the_helper() -> None:
    """One helper for every CSV writer: csv.writer / DictWriter appear only in csvsafe."""
    root = Path(__file__).resolve().parents[2] / "vc_issuer"
    users = sorted(
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if "csv.writer" in p.read_text() or "csv.DictWriter" in p.read_text()
    )
    assert users == ["core/csvsafe.py"]
