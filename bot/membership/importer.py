"""Bulk import of an existing membership list (CSV).

Columns: ``name`` and ``branch`` (its name or slug) are required;
``dues_paid_until`` (YYYY-MM-DD, empty for a supporter) and ``locale`` (the language
they read, as if they had chosen it with /language) are
optional. Each accepted row becomes a Person in that branch with a one-time
claim code: the organiser hands the code to the person, who sends
``/claim CODE`` from their chat app to link it. Valid rows are written in one
transaction, so an import is never half done; rejected rows are reported with
their line number and the reason.

A row naming someone already known updates their dues instead of adding a
person: by ``claim_code`` (someone imported before, not yet claimed) or by
``platform`` and ``user_id`` (an account the bot knows). Such a row that
matches no one is rejected, as is a second row for the same person.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select

from bot.kernel.i18n import language
from bot.kernel.people import SHORT_ID_ALPHABET, clean_name, new_short_id
from storage.db import Database
from storage.models import Branch, Identity, Person

REQUIRED = ("name", "branch")
KNOWN = (*REQUIRED, "dues_paid_until", "locale", "claim_code", "platform", "user_id")
CODE_LENGTH = 10


class ImportError_(Exception):
    """The file as a whole cannot be imported (e.g. a missing column)."""


@dataclass(frozen=True, slots=True)
class Rejected:
    line: int
    reason: str
    row: dict[str, str]


@dataclass(frozen=True, slots=True)
class Imported:
    line: int
    name: str
    branch: str
    short_id: str
    claim_code: str


@dataclass(frozen=True, slots=True)
class Updated:
    """A known person whose dues the row set."""

    line: int
    name: str
    short_id: str
    previous: dt.date | None
    dues: dt.date | None


@dataclass
class ImportReport:
    imported: list[Imported] = field(default_factory=list)
    updated: list[Updated] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    written: bool = False


def read_rows(lines: Iterable[str]) -> list[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(lines)
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ImportError_(f"the file has no column {', '.join(missing)} (needs: name, branch)")
    unknown = [h for h in header if h not in KNOWN]
    if unknown:
        raise ImportError_(f"unknown column {', '.join(unknown)} (known: {', '.join(KNOWN)})")
    rows = []
    for row in reader:
        cleaned = {
            (k or "").strip().lower(): (v or "").strip() for k, v in row.items() if k is not None
        }
        rows.append((reader.line_num, cleaned))
    return rows


def _claim_code() -> str:
    return "".join(secrets.choice(SHORT_ID_ALPHABET) for _ in range(CODE_LENGTH))


async def import_members(
    db: Database,
    rows: list[tuple[int, dict[str, str]]],
    *,
    now: dt.datetime,
    strict: bool = False,
    dry_run: bool = False,
    progress: Callable[[int], None] = lambda n: None,
    rng: random.Random | None = None,
) -> ImportReport:
    """Validate every row, then write the valid ones together (or none, if
    ``strict`` and any row was rejected, or if ``dry_run``)."""
    rng = rng or random.Random()
    report = ImportReport()
    try:
        await _import(
            db,
            rows,
            report,
            now=now,
            rng=rng,
            progress=progress,
            keep=lambda: not (dry_run or (strict and report.rejected)),
        )
        report.written = True
    except _Discard:
        pass
    return report


class _Discard(Exception):
    """Roll the import's transaction back."""


async def _import(
    db: Database,
    rows: list[tuple[int, dict[str, str]]],
    report: ImportReport,
    *,
    now: dt.datetime,
    rng: random.Random,
    progress: Callable[[int], None],
    keep: Callable[[], bool],
) -> None:
    seen: set[tuple[str, int]] = set()
    updated: set[int] = set()
    async with db.transaction() as session:
        branches: dict[str, Branch | None] = {}
        for line, row in rows:
            progress(1)
            name, branch_ref = clean_name(row.get("name", "")), row.get("branch", "")
            if not row.get("name"):
                report.rejected.append(Rejected(line, "name is empty", row))
                continue
            key = branch_ref.lower()
            if key not in branches:
                branches[key] = await session.scalar(
                    select(Branch).where(or_(Branch.slug == key, func.lower(Branch.name) == key))
                )
            branch = branches[key]
            if branch is None:
                report.rejected.append(Rejected(line, f"no branch called {branch_ref!r}", row))
                continue
            dues_text = row.get("dues_paid_until", "")
            try:
                dues = dt.date.fromisoformat(dues_text) if dues_text else None
            except ValueError:
                report.rejected.append(
                    Rejected(line, f"dues_paid_until {dues_text!r} is not a YYYY-MM-DD date", row)
                )
                continue
            known = await _known(session, row)
            if isinstance(known, str):
                report.rejected.append(Rejected(line, known, row))
                continue
            if known is not None:
                if known.id in updated:
                    report.rejected.append(Rejected(line, "the same person appears earlier", row))
                    continue
                updated.add(known.id)
                report.updated.append(
                    Updated(line, known.display_name, known.short_id, known.dues_paid_until, dues)
                )
                known.dues_paid_until = dues
                continue
            if (name.casefold(), branch.id) in seen:
                report.rejected.append(
                    Rejected(line, "the same name and branch appear earlier", row)
                )
                continue
            already = await session.scalar(
                select(Person.id).where(
                    Person.branch_id == branch.id, func.lower(Person.display_name) == name.lower()
                )
            )
            if already is not None:
                report.rejected.append(
                    Rejected(
                        line,
                        f"{name} is already in {branch.name} (to update their dues, give "
                        "their claim_code, or their platform and user_id)",
                        row,
                    )
                )
                continue
            seen.add((name.casefold(), branch.id))
            person = Person(
                short_id=await new_short_id(session, rng),
                display_name=name,
                # The language the party knows them to read: as if they chose it.
                language=language(row["locale"]) if row.get("locale") else None,
                branch_id=branch.id,
                joined_branch_at=now,
                dues_paid_until=dues,
                claim_code=_claim_code(),
                created_at=now,
            )
            session.add(person)
            await session.flush()
            report.imported.append(
                Imported(line, name, branch.name, person.short_id, person.claim_code or "")
            )
        if not keep():
            raise _Discard


async def _known(session: Any, row: dict[str, str]) -> Person | str | None:
    """The person a row names by claim code or by platform account; None if it
    names no one that way (a new person); a reason to reject it if it names
    someone who is not there."""
    code = row.get("claim_code", "").upper()
    platform, user_id = row.get("platform", "").lower(), row.get("user_id", "")
    if code:
        person = await session.scalar(select(Person).where(Person.claim_code == code))
        return person if person is not None else f"no one has the claim code {code!r}"
    if platform or user_id:
        if not (platform and user_id):
            return "platform and user_id go together"
        person = await session.scalar(
            select(Person)
            .join(Identity, Identity.person_id == Person.id)
            .where(Identity.platform == platform, Identity.user_id == user_id)
        )
        return person if person is not None else f"no one has the {platform} account {user_id!r}"
    return None
