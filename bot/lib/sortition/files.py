"""Reading quotas, pools and id lists from CSV/text (given as strings, so any edge can use it).

Quotas: a header ``category,feature,min,max`` (as in the replication data of
Flanigan et al.) or ``feature,value,min,max`` (as in sortition-algorithms); the
kind is told by the header. People: one row per person, an ``id`` column (or,
without one, the first column when it is not a quota category; otherwise the
line number is the id) and one column per quota category; other columns are
ignored and never enter a record. Id lists: one id per line; blank lines and
lines starting with ``#`` are skipped.
"""

from __future__ import annotations

import csv
import io

from bot.lib.sortition.model import Person, Quota, SortitionError

QUOTA_HEADERS = {
    ("category", "feature"): ("category", "feature"),
    ("feature", "value"): ("feature", "value"),
}


def _rows(text: str, what: str) -> tuple[list[str], list[list[str]]]:
    try:
        rows = [row for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))) if any(row)]
    except csv.Error as exc:
        raise SortitionError(f"{what}: not a readable CSV file ({exc})") from None
    if not rows:
        raise SortitionError(f"{what}: the file is empty")
    header = [h.strip() for h in rows[0]]
    return header, [[cell.strip() for cell in row] for row in rows[1:]]


def read_quotas(text: str) -> list[Quota]:
    header, rows = _rows(text, "quotas")
    lower = [h.lower() for h in header]
    for (first, second), _ in QUOTA_HEADERS.items():
        if {first, second, "min", "max"} <= set(lower):
            columns = [lower.index(c) for c in (first, second, "min", "max")]
            break
    else:
        raise SortitionError(
            "quotas: the header must be category,feature,min,max or feature,value,min,max"
        )
    quotas = []
    for line, row in enumerate(rows, start=2):
        if len(row) < len(header):
            raise SortitionError(f"quotas line {line}: expected {len(header)} columns")
        category, value, low, high = (row[c] for c in columns)
        if not category or not value:
            raise SortitionError(f"quotas line {line}: the category and value must not be empty")
        try:
            quotas.append(Quota(category, value, int(low), int(high)))
        except ValueError:
            raise SortitionError(
                f"quotas line {line}: min and max must be whole numbers, got {low!r} and {high!r}"
            ) from None
    if not quotas:
        raise SortitionError("quotas: the file has no quotas")
    return quotas


def read_people(text: str, categories: set[str] | frozenset[str]) -> list[Person]:
    header, rows = _rows(text, "people")
    lower = [h.lower() for h in header]
    missing = sorted(c for c in categories if c not in header)
    if missing:
        raise SortitionError(f"people: no column for the quota category {missing[0]!r}")
    if "id" in lower:
        id_column: int | None = lower.index("id")
    elif header[0] not in categories:
        id_column = 0
    else:
        id_column = None  # every column is a category: the line number is the id
    columns = {c: header.index(c) for c in categories}
    people = []
    for line, row in enumerate(rows, start=2):
        if len(row) < len(header):
            raise SortitionError(f"people line {line}: expected {len(header)} columns")
        person_id = row[id_column] if id_column is not None else str(line)
        if not person_id:
            raise SortitionError(f"people line {line}: the id is empty")
        features = {}
        for category, column in columns.items():
            if not row[column]:
                raise SortitionError(f"people line {line}: no value for {category!r}")
            features[category] = row[column]
        people.append(Person(person_id, features))
    if not people:
        raise SortitionError("people: the file has nobody in it")
    return people


def read_ids(text: str) -> list[str]:
    return [
        line.strip()
        for line in text.lstrip("\ufeff").splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
