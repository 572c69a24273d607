"""Canvassing's rules on plain facts: when a weekly slot meets, a moment in the
branch's time, which campaign covers a branch, the limits of what organisers
write and how their numbers are read, and results totalled by week.

A slot is "Saturdays 10:30 at the Market Cross" in the branch's own time zone;
its sessions are the dated occurrences (``bot.lib.when.weekly``: a Saturday 10:30
session stays 10:30 local across a clock change), stored in UTC.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.lib.when import local_moment
from storage.models import Branch, Campaign, CanvassResult, CanvassSlot, RoleGrant
from storage.vocabulary import ADMIN, SCOPE_NATIONAL, SCOPE_REGION

HORIZON = dt.timedelta(days=7)

SESSION_LENGTH = dt.timedelta(hours=2)

POINT_LIMIT = 200

CAPACITY_LIMIT = 500


def slot_time(slot: CanvassSlot) -> dt.time:
    """The local time of a weekly slot (kept as ``HH:MM``, as /canvass schedule read it)."""
    return dt.time.fromisoformat(slot.local_time)


def local(when: dt.datetime, tz: str) -> dt.datetime:
    return when.astimezone(ZoneInfo(tz))


def covers(campaign: Campaign, branch: Branch) -> bool:
    if campaign.scope == SCOPE_NATIONAL:
        return True
    if campaign.scope == SCOPE_REGION:
        return branch.region_id == campaign.scope_id
    return branch.id == campaign.scope_id


def plain_number(word: str) -> bool:
    """Plain digits only ("²" is a digit to Python, not to int())."""
    return word.isascii() and word.isdigit() and len(word) <= 9


def looks_numeric(word: str) -> bool:
    """Does ``word`` look like a number someone meant (-5, 3.5, ١٢, +8)?"""
    body = word.lstrip("+-−")
    return (
        bool(body)
        and any(ch.isdecimal() for ch in body)
        and all(ch.isdecimal() or ch in ".," for ch in body)
    )


def whole_number(word: str) -> int | None:
    """A whole number in any script's digits (١٢ is 12), or None (-5, 3.5)."""
    if not (word.isdecimal() and len(word) <= 9):
        return None
    return int("".join(str(unicodedata.decimal(ch)) for ch in word))


def daily_starts(
    polling_day: dt.date, at: dt.time, tz: ZoneInfo, now: dt.datetime, taken: set[dt.datetime]
) -> list[dt.datetime]:
    """A campaign's daily sessions: ``at`` (local time in ``tz``) every day from today
    until polling day, but for the moments past or ``taken`` (a session is there)."""
    day = now.astimezone(tz).date()
    starts_at = []
    while day <= polling_day:
        starts = local_moment(day, at, tz)
        if starts > now and starts not in taken:
            starts_at.append(starts)
        day += dt.timedelta(days=1)
    return starts_at


# --- results -------------------------------------------------------------------------
# Only totals and the issues voters raised (as tags) are stored: never a voter's
# identity or opinion.

WEEKS = 12
TAG = re.compile(r"^[a-z][a-z0-9-]{0,29}$")
MAX_TAGS = 10
MAX_COUNT = 100_000


def parse_tags(words: list[str]) -> list[str] | None:
    """Lower-case tags such as ``housing`` or ``bus-routes``; None if any is not one."""
    tags = [w.lower().strip(",#") for w in words]
    if len(tags) > MAX_TAGS or not all(TAG.match(t) for t in tags):
        return None
    return list(dict.fromkeys(tags))


@dataclass(frozen=True, slots=True)
class Week:
    start: dt.date
    people: int
    doors: int
    conversations: int


def by_week(
    results: Iterable[tuple[dt.datetime, CanvassResult]], tz: str, today: dt.date
) -> tuple[list[Week], Counter[str]]:
    """The ``WEEKS`` weeks up to ``today``'s (oldest first, empty weeks included), each
    with the results of sessions that started in it (``results``: each session's start
    and its result), and the issues raised in them."""
    this_monday = today - dt.timedelta(days=today.weekday())
    first = this_monday - dt.timedelta(weeks=WEEKS - 1)
    weeks = {first + dt.timedelta(weeks=i): [0, 0, 0] for i in range(WEEKS)}
    issues: Counter[str] = Counter()
    for starts_at, result in results:
        day = local(starts_at, tz).date()
        monday = day - dt.timedelta(days=day.weekday())
        if monday in weeks:
            totals = weeks[monday]
            totals[0] += result.people_out
            totals[1] += result.doors
            totals[2] += result.conversations
            issues.update(result.tags or [])
    return [Week(m, *t) for m, t in sorted(weeks.items())], issues


# --- attendance and the core ---------------------------------------------------------
# Who came (checked in, or marked by an organiser) feeds the stats, never who signed up.

CORE_WEEKS, CORE_TIMES = 4, 3  # the core: people who came at least 3 of the last 4 weeks


def running(starts_at: dt.datetime, now: dt.datetime) -> bool:
    """Is a session under way: from its start until it ends?"""
    return starts_at <= now < starts_at + SESSION_LENGTH


def monday_of(when: dt.datetime, tz: str) -> dt.date:
    day = local(when, tz).date()
    return day - dt.timedelta(days=day.weekday())


@dataclass(frozen=True, slots=True)
class WeekStats:
    start: dt.date
    sessions: int  # held: someone came, or results were logged
    people: int  # different people who came
    doors: int
    conversations: int
    core: int  # people who came at least CORE_TIMES of the CORE_WEEKS up to this one


def first_counted(today: dt.date) -> dt.date:
    """The first Monday whose attendance the stats read: the core of the oldest week
    shown looks back ``CORE_WEEKS`` weeks."""
    this_monday = today - dt.timedelta(days=today.weekday())
    return this_monday - dt.timedelta(weeks=WEEKS - 1 + CORE_WEEKS - 1)


def week_stats(
    held: Iterable[dt.datetime],
    came: Iterable[tuple[dt.datetime, int]],
    results: Iterable[tuple[dt.datetime, CanvassResult]],
    tz: str,
    today: dt.date,
) -> list[WeekStats]:
    """The ``WEEKS`` weeks up to ``today``'s (oldest first), in the branch's time zone
    ``tz``: the sessions held (``held``: each one's start), the people who came
    (``came``: a session's start and who), the doors and conversations logged, and
    the size of the core at each week."""
    weeks, _ = by_week(results, tz, today)
    sessions: Counter[dt.date] = Counter(monday_of(s, tz) for s in held)
    people: dict[dt.date, set[int]] = {}
    for starts_at, person_id in came:
        people.setdefault(monday_of(starts_at, tz), set()).add(person_id)

    def core(monday: dt.date) -> int:
        times: Counter[int] = Counter()
        for back in range(CORE_WEEKS):
            times.update(people.get(monday - dt.timedelta(weeks=back), set()))
        return sum(1 for n in times.values() if n >= CORE_TIMES)

    return [
        WeekStats(
            w.start,
            sessions[w.start],
            len(people.get(w.start, ())),
            w.doors,
            w.conversations,
            core(w.start),
        )
        for w in weeks
    ]


def flags(weeks: list[WeekStats], core_minimum: int) -> tuple[bool, bool]:
    """What to tell the region's admins of a branch, on its weeks (oldest first, the
    last one the week under way): no session held in the two whole weeks before
    this one, and the core of the last whole week below ``core_minimum``."""
    whole = weeks[:-1]
    idle = len(whole) >= 2 and all(w.sessions == 0 for w in whole[-2:])
    small = bool(whole) and whole[-1].core < core_minimum
    return idle, small


def people_shown(came: Iterable[tuple[dt.datetime, int]], tz: str, today: dt.date) -> int:
    """How many different people came in the ``WEEKS`` weeks up to ``today``'s."""
    this_monday = today - dt.timedelta(days=today.weekday())
    first = this_monday - dt.timedelta(weeks=WEEKS - 1)
    return len({person for starts_at, person in came if monday_of(starts_at, tz) >= first})


def summed(many: Iterable[list[WeekStats]]) -> list[WeekStats]:
    """Several branches' weeks added up, week by week (a region's: its branches')."""
    total: list[WeekStats] = []
    for weeks in many:
        if not total:
            total = list(weeks)
            continue
        total = [
            WeekStats(
                a.start,
                a.sessions + b.sessions,
                a.people + b.people,
                a.doors + b.doors,
                a.conversations + b.conversations,
                a.core + b.core,
            )
            for a, b in zip(total, weeks, strict=True)
        ]
    return total


def admin_region(grants: Iterable[RoleGrant], own_region: int | None) -> int | None:
    """The region whose branches an admin of regions sees side by side: their own
    branch's if they are its admin, else the first region they are an admin of."""
    regions = sorted(g.scope_id for g in grants if g.role == ADMIN and g.scope == SCOPE_REGION)
    if own_region is not None and own_region in regions:
        return own_region
    return regions[0] if regions else None
