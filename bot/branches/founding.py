"""Founding a party from an empty database: its name, its first national admin,
its regions and the places each region covers.

A national admin is made by a one-time code: ``organiser init`` (or
``organiser admin add``) prints it on the server's terminal, and whoever sends
``/claim CODE`` from a chat becomes a national admin. Only a hash of the code is
kept, it lasts a day, and it works once: a database reader cannot use it, and a
code seen later in a log or a screenshot is spent.

A region covers an *area*: place names and postcode prefixes, separated by
commas (``Somerset, Frome, BA, BS``). A branch proposed for a place the area
covers is placed in that region, and that region's admins are told.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AdminCode, Branch, Meta, Person, Region, RoleGrant
from storage.vocabulary import ADMIN, NATIONAL_SCOPE_ID, SCOPE_NATIONAL

ADMIN_CODE_PREFIX = "ADMIN"
ADMIN_CODE_LIFETIME = dt.timedelta(hours=24)
# No 0/O, 1/I/L: a code read aloud or copied from a terminal survives.
_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_GROUPS, _GROUP = 3, 5
PARTY_NAME_KEY = "party.name"
REGION_NAME_LIMIT = 80
AREA_LIMIT = 500


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def new_admin_code() -> str:
    groups = ("".join(secrets.choice(_ALPHABET) for _ in range(_GROUP)) for _ in range(_GROUPS))
    return "-".join((ADMIN_CODE_PREFIX, *groups))


def is_admin_code(text: str) -> bool:
    return text.strip().upper().startswith(ADMIN_CODE_PREFIX + "-")


def _normalise(text: str) -> str:
    return "-".join(part for part in re.split(r"[\s-]+", text.strip().upper()) if part)


async def issue_admin_code(
    session: AsyncSession, now: dt.datetime, note: str = "", *, replacing: bool = False
) -> str:
    """A new one-time code that makes whoever claims it a national admin; with
    ``replacing``, earlier unused codes of the same note stop working (a second
    ``organiser init`` leaves one valid code, not two)."""
    if replacing:
        await session.execute(
            update(AdminCode)
            .where(AdminCode.note == note[:120], AdminCode.used_at.is_(None))
            .where(AdminCode.expires_at > now)
            .values(expires_at=now)
        )
    code = new_admin_code()
    session.add(
        AdminCode(
            code_hash=_hash(code),
            note=note[:120],
            created_at=now,
            expires_at=now + ADMIN_CODE_LIFETIME,
        )
    )
    await session.flush()
    return code


async def take_admin_code(session: AsyncSession, text: str, now: dt.datetime) -> AdminCode | None:
    """The unused, unexpired code ``text`` names, now spent; None if there is none."""
    row = await session.scalar(
        select(AdminCode).where(AdminCode.code_hash == _hash(_normalise(text))).with_for_update()
    )
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    row.used_at = now
    return row


async def national_admins(session: AsyncSession) -> list[Person]:
    rows = await session.scalars(
        select(Person)
        .join(RoleGrant, RoleGrant.person_id == Person.id)
        .where(RoleGrant.role == ADMIN, RoleGrant.scope == SCOPE_NATIONAL)
        .order_by(Person.id)
    )
    return list(rows)


async def make_national_admin(
    session: AsyncSession, person: Person, now: dt.datetime, granted_by: int | None = None
) -> bool:
    """Grant ``person`` the national admin role; False if they held it already."""
    held = await session.scalar(
        select(func.count())
        .select_from(RoleGrant)
        .where(
            RoleGrant.person_id == person.id,
            RoleGrant.role == ADMIN,
            RoleGrant.scope == SCOPE_NATIONAL,
        )
    )
    if held:
        return False
    session.add(
        RoleGrant(
            person_id=person.id,
            role=ADMIN,
            scope=SCOPE_NATIONAL,
            scope_id=NATIONAL_SCOPE_ID,
            granted_by=granted_by,
            granted_at=now,
        )
    )
    await session.flush()
    return True


async def party_name(session: AsyncSession) -> str | None:
    row = await session.get(Meta, PARTY_NAME_KEY)
    return row.value if row is not None else None


async def set_party_name(session: AsyncSession, name: str) -> None:
    row = await session.get(Meta, PARTY_NAME_KEY)
    if row is None:
        session.add(Meta(key=PARTY_NAME_KEY, value=name))
    else:
        row.value = name


# --- Regions and the areas they cover -------------------------------------------------


def clean_region_name(text: str) -> str | None:
    """A region name fit to keep, or None."""
    text = " ".join(text.split())
    if not text or len(text) > REGION_NAME_LIMIT:
        return None
    if any(unicodedata.category(ch)[0] in "CS" and ch not in "&" for ch in text):
        return None
    return text


@dataclass(frozen=True)
class Area:
    """The places and postcode prefixes an area names, each casefolded/upper-cased."""

    places: frozenset[str]
    postcodes: frozenset[str]

    @classmethod
    def parse(cls, text: str) -> Area:
        places: set[str] = set()
        postcodes: set[str] = set()
        for part in re.split(r"[,;\n]+", text):
            item = " ".join(part.split())
            if not item:
                continue
            if _POSTCODE_PREFIX.fullmatch(item.upper()):
                postcodes.add(item.upper())
            else:
                places.add(item.casefold())
        return cls(frozenset(places), frozenset(postcodes))

    def covers(self, place: str) -> bool:
        """Does this area cover ``place`` (a place name, a postcode or its prefix)?"""
        name = " ".join(place.split()).casefold()
        if name in self.places:
            return True
        outward = place.strip().upper().split(" ")[0] if place.strip() else ""
        if not _POSTCODE_PREFIX.fullmatch(outward):
            return False
        for prefix in self.postcodes:
            if outward == prefix:
                return True
            # "BA" (an area: letters only) covers BA11 but "B" does not cover BA11.
            if (
                prefix.isalpha()
                and outward.startswith(prefix)
                and outward[len(prefix) : len(prefix) + 1].isdigit()
            ):
                return True
        return False

    def covers_branch(self, branch: Branch) -> bool:
        """Does this area cover the branch's name or any place its own area names?"""
        return any(self.covers(p) for p in (branch.name, *re.split(r"[,;]", branch.area)))

    def text(self) -> str:
        return ", ".join([*sorted(self.places), *sorted(self.postcodes)])


# A UK-style postcode area or district: letters, then optionally a digit and more.
_POSTCODE_PREFIX = re.compile(r"[A-Z]{1,2}(?:[0-9][0-9A-Z]?)?")


def is_postcode_district(word: str) -> bool:
    """Is ``word`` a postcode's outward part with its district digit (BA11, not BA)?"""
    return bool(_POSTCODE_PREFIX.fullmatch(word.upper())) and any(c.isdigit() for c in word)


def clean_area(text: str) -> str | None:
    """An area list fit to keep (normalised), or None when it names nothing."""
    if len(text) > AREA_LIMIT:
        return None
    area = Area.parse(text)
    if not area.places and not area.postcodes:
        return None
    if any(unicodedata.category(ch)[0] == "C" for ch in text if ch != "\n"):
        return None
    # Kept as the admin spelt each place (the first spelling of a repeated one),
    # matched casefolded: "Frome" reads as Frome, and /join frome still finds it.
    spelt: dict[str, str] = {}
    for part in re.split(r"[,;\n]+", text):
        item = " ".join(part.split())
        if item and item.casefold() in area.places:
            spelt.setdefault(item.casefold(), item)
    return ", ".join([*(spelt[p] for p in sorted(area.places)), *sorted(area.postcodes)])


async def region_for(session: AsyncSession, place: str) -> Region | None:
    """The one region whose area covers ``place``; None when none or several do."""
    regions = await session.scalars(select(Region).where(Region.area != ""))
    matches = [r for r in regions if Area.parse(r.area).covers(place)]
    return matches[0] if len(matches) == 1 else None
