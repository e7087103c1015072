"""CSV cells that a spreadsheet will not run: the one CSV writer of the project.

A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a formula
by Excel, LibreOffice and Google Sheets (CSV injection). Result files carry text that came from
callers (recipient names, error details echoing input), so every such cell is written with a
leading single quote, which spreadsheets show as text. Pure: no I/O of its own.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from typing import IO, Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralize_cell(value: Any) -> Any:
    """``value`` with a leading ``'`` when it is text a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SafeDictWriter:
    """``csv.DictWriter`` whose every cell goes through :func:`neutralize_cell`."""

    def __init__(self, out: IO[str], fieldnames: Iterable[str], **kwargs: Any) -> None:
        self._writer = csv.DictWriter(out, fieldnames=list(fieldnames), **kwargs)

    def writeheader(self) -> None:
        self._writer.writeheader()

    def writerow(self, row: Mapping[str, Any]) -> None:
        self._writer.writerow({k: neutralize_cell(v) for k, v in row.items()})


__all__ = ["FORMULA_STARTS", "SafeDictWriter", "neutralize_cell"]
