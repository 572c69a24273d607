"""The assemblies' rules over plain values: registration codes and links, the
categories residents declare, census targets and the quotas computed from them
(rounded to sum to the seats, within a tolerance), the pool's coverage per
value, the household key, deadlines and the retention period. No database, no
request, nothing awaited; sentences are catalogue messages (``N_``) with their
parameters, translated by the caller.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from bot.branches.rules import Area
from bot.kernel.i18n import N_
from bot.lib.sortition.model import Quota
from storage.vocabulary import SCOPE_BRANCH, SCOPE_NATIONAL, SCOPE_REGION

PAYLOAD_PREFIX = "asm-"  # a Telegram deep link's /start payload: asm-<code>
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off a letter
CODE_LENGTH = 8
DEFAULT_RETENTION_DAYS = 90
DEFAULT_ANSWER_HOURS = 7 * 24
MAX_SEATS = 500
MAX_TOLERANCE = 10
MAX_RETENTION_DAYS = 3650
DETAIL_KEYS = ("place", "expenses", "childcare", "contact")
DETAIL_LIMIT = 300
TITLE_LIMIT = 200
# The notice's version a registrant agreed to: this assembly's terms, not the party's.
NOTICE_VERSION = "assembly-1"
# A draw's states (as the councils' draws: bot.draws.rules).
PREVIEW, COMMITTED, DRAWN, TRIAL, CANCELLED = "preview", "committed", "drawn", "trial", "cancelled"
VACATED = "vacated"
# Postcode: letters and digits, optionally one space (any country's, not only the UK's).
POSTCODE = re.compile(r"[A-Za-z0-9]{2,4}(?: ?[A-Za-z0-9]{2,4})?")


class Problem(ValueError):
    """Input that cannot be used, as a catalogue sentence and its parameters."""

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message)
        self.message = message
        self.params = params

    def render(self, t: Any) -> str:
        return str(t(self.message, **self.params))


def new_code(choice: Any) -> str:
    """A registration code: ``choice`` picks a character (``random.Random.choice``)."""
    return "".join(choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def code_in(text: str) -> str:
    """The code a resident typed or a deep link carried (``asm-<code>``), upper-cased."""
    word = text.strip().split(" ")[0] if text.strip() else ""
    if word.lower().startswith(PAYLOAD_PREFIX):
        word = word[len(PAYLOAD_PREFIX) :]
    return word.upper()[: CODE_LENGTH + 4]


def payload(code: str) -> str:
    return f"{PAYLOAD_PREFIX}{code}"


# --- The area -------------------------------------------------------------------------

MAX_PREFIXES = 200
AREA_TEXT_LIMIT = 2000


@dataclass(frozen=True, slots=True)
class AreaAsked:
    """The area an assembly is opened for, as typed: its level (branch, region or
    national), a region named with ``region=SLUG`` ("": the asker's own), and the
    postcode prefixes given (empty: the region's whole area)."""

    level: str
    region: str
    prefixes: tuple[str, ...]


def read_prefixes(text: str) -> tuple[str, ...]:
    """Postcode prefixes (``BA11, BA1 BS``), upper-cased, each once, sorted; a
    Problem naming the first that is not one."""
    if len(text) > AREA_TEXT_LIMIT:
        raise Problem(N_("That is too many postcode prefixes: at most {most}."), most=MAX_PREFIXES)
    found: list[str] = []
    for item in re.split(r"[,;\s]+", text):
        if not item:
            continue
        if Area.parse(item).postcodes != {item.upper()}:
            raise Problem(
                N_(
                    "“{item}” is not a postcode prefix: give prefixes such as BA11, BA1 or BS, "
                    "separated by commas."
                ),
                item=item[:12],
            )
        found.append(item.upper())
    if not found:
        raise Problem(
            N_("Give the area's postcode prefixes, such as BA11, BA1 or BS, separated by commas.")
        )
    if len(set(found)) > MAX_PREFIXES:
        raise Problem(N_("That is too many postcode prefixes: at most {most}."), most=MAX_PREFIXES)
    return tuple(sorted(set(found)))


def read_area(text: str) -> AreaAsked:
    """``BA11, BA12`` (the asker's branch), ``region`` or ``region=SLUG`` (the
    region's whole area), ``region: BA1, BA2`` or ``region=SLUG: BA1`` (prefixes in
    the region), ``national: BA11, BS1`` (prefixes anywhere, for the party)."""
    head, colon, rest = text.partition(":")
    word = " ".join(head.split()).lower()
    name = ""
    if word.startswith("region="):
        word, name = SCOPE_REGION, word.removeprefix("region=").strip()
    if word == SCOPE_REGION:
        return AreaAsked(SCOPE_REGION, name, read_prefixes(rest) if colon else ())
    if word == SCOPE_NATIONAL:
        if not rest.strip():
            raise Problem(
                N_("A national assembly needs its postcode prefixes, e.g. “national: BA11, BS1”.")
            )
        return AreaAsked(SCOPE_NATIONAL, "", read_prefixes(rest))
    return AreaAsked(SCOPE_BRANCH, "", read_prefixes(text))


def postcodes_of(areas: Iterable[str]) -> tuple[str, ...]:
    """The postcode prefixes the areas name between them (places are left out:
    a resident's postcode is checked, not a place), sorted."""
    found: set[str] = set()
    for text in areas:
        found |= Area.parse(text).postcodes
    return tuple(sorted(found))


def outside(prefixes: Iterable[str], covering: Iterable[str]) -> list[str]:
    """The prefixes that ``covering``'s prefixes do not cover (BA covers BA11)."""
    area = Area(frozenset(), frozenset(covering))
    return [p for p in prefixes if not area.covers(p)]


# --- Categories ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    values: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "values": list(self.values)}


def categories_of(stored: Sequence[Mapping[str, Any]]) -> list[Category]:
    return [Category(str(c["name"]), tuple(str(v) for v in c["values"])) for c in stored]


def read_categories(text: str) -> list[Category]:
    """``"tenure: owner | renter | social; area: town | rural"``: each category with
    two or more values, each name once."""
    found: list[Category] = []
    for part in text.split(";"):
        if not part.strip():
            continue
        name, colon, values = part.partition(":")
        options = tuple(dict.fromkeys(" ".join(v.split()) for v in values.split("|") if v.strip()))
        name = " ".join(name.split()).lower()
        if not colon or not name or len(options) < 2 or len(name) > 40:
            raise Problem(
                N_(
                    "Categories read like “tenure: owner | renter | social; area: town | "
                    "rural”, each with two or more values."
                )
            )
        if any(len(v) > 60 for v in options):
            raise Problem(N_("A category's value may be at most 60 characters."))
        found.append(Category(name, options))
    if len({c.name for c in found}) != len(found):
        raise Problem(N_("Each category may be named once."))
    return found


def merged_categories(configured: Iterable[Category], own: Iterable[Category]) -> list[Category]:
    """The configured categories, then the assembly's own (an own one of the same
    name replaces the configured one)."""
    own = list(own)
    names = {c.name for c in own}
    return [c for c in configured if c.name not in names] + own


# --- Census targets and quotas ---------------------------------------------------------


def read_targets(text: str, categories: Sequence[Category]) -> dict[str, dict[str, float]]:
    """Census shares from CSV-like lines ``category,value,share`` (a share as a
    percentage "21.5%" or a count: each category's shares are scaled to sum to 1).
    Every value of every category needs a share."""
    known = {c.name: c for c in categories}
    raw: dict[str, dict[str, float]] = {}
    rows = list(csv.reader(io.StringIO(text.replace(";", "\n"))))
    for row in rows:
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        if len(cells) != 3:
            raise Problem(
                N_("Each line of targets reads “category,value,share”, e.g. “age,18-29,21%”.")
            )
        category, value, share = cells[0].lower(), cells[1], cells[2].rstrip("%").strip()
        if category == "category" and value.lower() == "value":
            continue  # a header
        if category not in known:
            raise Problem(N_("There is no category “{name}” in this assembly."), name=category[:40])
        match = next((v for v in known[category].values if v.lower() == value.lower()), None)
        if match is None:
            raise Problem(
                N_("“{value}” is not one of {category}'s values: {values}."),
                value=value[:60],
                category=category,
                values=", ".join(known[category].values),
            )
        try:
            number = float(share)
        except ValueError:
            number = -1.0
        if not math.isfinite(number) or number < 0:
            raise Problem(
                N_("“{share}” is not a share: give a percentage or a count."), share=share[:20]
            )
        raw.setdefault(category, {})[match] = number
    if not raw:
        raise Problem(
            N_("Each line of targets reads “category,value,share”, e.g. “age,18-29,21%”.")
        )
    out: dict[str, dict[str, float]] = {}
    for category, shares in raw.items():
        missing = [v for v in known[category].values if v not in shares]
        total = sum(shares.values())
        if missing:
            raise Problem(
                N_("{category} needs a share for every value; missing: {values}."),
                category=category,
                values=", ".join(missing),
            )
        if total <= 0:
            raise Problem(N_("{category}'s shares add up to nothing."), category=category)
        out[category] = {v: shares[v] / total for v in known[category].values}
    return out


def seat_targets(seats: int, shares: Mapping[str, float]) -> dict[str, int]:
    """Seats per value in proportion to its share, summing to ``seats``: the
    largest remainder method (ties to the value listed first)."""
    exact = {v: seats * s for v, s in shares.items()}
    given = {v: math.floor(x) for v, x in exact.items()}
    order = sorted(exact, key=lambda v: (-(exact[v] - given[v]), list(exact).index(v)))
    for v in order[: seats - sum(given.values())]:
        given[v] += 1
    return given


def census_quotas(
    seats: int, targets: Mapping[str, Mapping[str, float]], tolerance: int
) -> list[Quota]:
    """Each value's quota: its census seats, plus or minus ``tolerance``."""
    quotas = []
    for category, shares in targets.items():
        for value, target in seat_targets(seats, shares).items():
            quotas.append(
                Quota(category, value, max(0, target - tolerance), min(seats, target + tolerance))
            )
    return sorted(quotas, key=lambda q: q.key)


@dataclass(frozen=True, slots=True)
class Coverage:
    """How many registrants hold a value, against the seats its quota needs."""

    quota: Quota
    registered: int

    @property
    def short(self) -> bool:
        return self.registered < self.quota.min


def coverage(quotas: Iterable[Quota], answers: Iterable[Mapping[str, str]]) -> list[Coverage]:
    counts: dict[tuple[str, str], int] = {}
    for given in answers:
        for category, value in given.items():
            counts[(category, value)] = counts.get((category, value), 0) + 1
    return [Coverage(q, counts.get(q.key, 0)) for q in quotas]


# --- Residents -------------------------------------------------------------------------


def clean_postcode(text: str) -> str | None:
    """A postcode as typed, upper-cased with one space kept (None: not one)."""
    squeezed = " ".join(text.split()).upper()
    return squeezed if POSTCODE.fullmatch(squeezed) else None


def household_key(key: bytes, assembly_id: int, postcode: str, house: str) -> str:
    """The keyed hash of an address (HMAC-SHA256 under a key the database never
    holds): equal for one household in one assembly, unlinkable across assemblies,
    and no guess of an address can be tested without the key."""
    address = f"{assembly_id}\x00{postcode.replace(' ', '').upper()}\x00{' '.join(house.split()).casefold()}"
    return hmac.new(key, address.encode("utf-8"), hashlib.sha256).hexdigest()


def answers_complete(answers: Mapping[str, str], categories: Sequence[Category]) -> bool:
    return all(answers.get(c.name) in c.values for c in categories)


def next_question(answers: Mapping[str, str], categories: Sequence[Category]) -> int | None:
    """The index of the first category not yet answered, or None."""
    for i, c in enumerate(categories):
        if answers.get(c.name) not in c.values:
            return i
    return None


# --- Time ------------------------------------------------------------------------------


def registration_open(register_by: dt.datetime, purged: bool, now: dt.datetime) -> bool:
    return not purged and now < register_by


def ends_at(sits_until: dt.date, timezone: str) -> dt.datetime:
    """The end of the assembly's last day, in its time zone, as UTC."""
    end = dt.datetime.combine(sits_until + dt.timedelta(days=1), dt.time(), ZoneInfo(timezone))
    return end.astimezone(dt.UTC)


def purge_at(sits_until: dt.date, timezone: str, retention_days: int) -> dt.datetime:
    """When the registrants' personal data is deleted: the retention period after the end."""
    return ends_at(sits_until, timezone) + dt.timedelta(days=retention_days)


def respond_by(now: dt.datetime, hours: int) -> dt.datetime:
    return now + dt.timedelta(hours=max(hours, 24))


def read_date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        return None


def read_whole(text: str, low: int, high: int) -> int | None:
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 6:
        return None
    value = int(text)
    return value if low <= value <= high else None


def read_details(text: str) -> dict[str, str]:
    """``place: Town Hall; expenses: travel paid, £50 a day; childcare: provided``."""
    out: dict[str, str] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        key, colon, value = part.partition(":")
        key = key.strip().lower()
        value = " ".join(value.split())
        if not colon or key not in DETAIL_KEYS or not value or len(value) > DETAIL_LIMIT:
            raise Problem(
                N_(
                    "Details read like “place: Town Hall; expenses: travel and £50 a day; "
                    "childcare: provided; contact: 01373 000000”, each at most {limit} "
                    "characters."
                ),
                limit=DETAIL_LIMIT,
            )
        out[key] = value
    return out


def pseudonym(index: int) -> str:
    """The pseudonym of the ``index``-th entrant of a draw (its order shuffled first)."""
    return f"R{index + 1:05d}"
