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
from storage.models import Branch, Campaign, CanvassResult, CanvassSlot
from storage.vocabulary import SCOPE_NATIONAL, SCOPE_REGION

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
