"""Branches' rules, over plain values and loaded rows: what makes a place name
or a region's area fit to keep, a branch's key, how search matches rank, what
an area covers, where a branch stands on its founding path, and what a merged
branch's area becomes. No database, no request, no text people read.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from storage.models import Branch
from storage.vocabulary import ACTIVE, AFFILIATED, FORMING, ONLINE, PROPOSED

if TYPE_CHECKING:
    from storage.models import Meeting

SEARCH_LIMIT = 6
PLACE_LIMIT = 80
REGION_NAME_LIMIT = 80
AREA_LIMIT = 500


def slugify(text: str) -> str:
    """A URL-safe key for a name: ASCII where the name has Latin letters (Zürich ->
    zurich), else the name's own letters (東京, القاهرة), so every script has one."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:80]
    if slug:
        return slug
    return re.sub(r"[\W_]+", "-", unicodedata.normalize("NFKC", text).casefold()).strip("-")[:80]


def clean_place(text: str) -> str | None:
    """A place name fit to search for or to propose, or None if it is not one."""
    text = " ".join(text.split())
    if not text or len(text) > PLACE_LIMIT or not slugify(text):
        return None
    if any(not (ch.isalnum() or ch in " -'.,&()/") for ch in text):
        return None
    return text


def search_words(query: str) -> list[str]:
    """The words of a search, lower-cased: a place, its area's words, a postcode."""
    return [w for w in re.split(r"[\s,]+", query.lower()) if w]


def rank_matches(
    query: str, words: list[str], found: list[Branch]
) -> tuple[Branch | None, list[Branch]]:
    """(the exact match, if one; every match, best first) among the branches a
    search found: the branch of that name, then those whose area names the place,
    then the rest by name.

    A place one branch's area names (Nunney; Frome Town, once merged into Frome;
    BA11, also as BA11 4AB) is that branch's, as its name would be; "Frome
    Selwood" is not Frome's.
    """
    exact = [b for b in found if b.name.casefold() == query.casefold()]
    area_words = {b.id: {w.strip().lower() for w in re.split(r"[,;]", b.area)} for b in found}
    whole = " ".join(words)
    precise = [
        b for b in found if b not in exact and words and {words[0], whole} & area_words[b.id]
    ]
    rest = [b for b in found if b not in exact and b not in precise]
    ranked = exact + precise + sorted(rest, key=lambda b: b.name)
    postcode = bool(words) and is_postcode_district(words[0])
    named = [b for b in precise if whole in area_words[b.id] or postcode]
    only = exact if exact else named
    return (only[0] if len(only) == 1 else None), ranked[:SEARCH_LIMIT]


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


# --- The founding path ------------------------------------------------------------


NEXT_STATUS = {PROPOSED: FORMING, FORMING: ACTIVE, ACTIVE: AFFILIATED}


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a branch stands on its founding path, counted now."""

    status: str
    interested: int
    organisers: int
    first_call: Meeting | None
    first_meeting: Meeting | None
    came: int  # to the first face-to-face meeting
    paid: int  # people with current dues


def counts_as_first_meeting(branch: Branch, meeting: Meeting) -> bool:
    return (
        branch.status == FORMING
        and branch.first_meeting_at is None
        and meeting.kind != ONLINE
        and meeting.held_at is not None
    )


# --- Merging ----------------------------------------------------------------------


def merged_area(source: Branch, into: Branch) -> str:
    """The kept branch's area, with the merged branch's name and area added, so
    that a search for the old place finds the kept branch."""
    return Area.parse(", ".join((into.area, source.name, source.area))).text()


def merged_settings(source: Branch, into: Branch) -> dict[str, Any]:
    """What the branch that carries on holds after ``source`` is merged into
    ``into``: ``into``'s name, status and settings; both areas; ``into``'s region,
    else ``source``'s; and the earlier of each founding step either has held."""
    settings = {
        prop.key: getattr(into, prop.key)
        for prop in Branch.__mapper__.column_attrs
        if prop.key != "id"
    }
    settings["area"] = merged_area(source, into)
    settings["region_id"] = into.region_id if into.region_id is not None else source.region_id
    for step in ("first_call_at", "first_meeting_at"):
        held = [t for t in (getattr(source, step), getattr(into, step)) if t is not None]
        settings[step] = min(held) if held else None
    return settings
