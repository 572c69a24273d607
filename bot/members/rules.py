"""The member list's decisions, over plain values: what an organiser may see
(their scope, from their grants), reading /members, the filters, the pages,
a person's dues status, and when a renewal reminder is due.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from storage.models import RoleGrant
from storage.vocabulary import ROLES, SCOPE_BRANCH, SCOPE_NATIONAL, SCOPE_REGION

# The filters, as typed after /members.
ALL, MEMBERS, SUPPORTERS, LAPSING, LAPSED, UNREACHABLE = (
    "all",
    "members",
    "supporters",
    "lapsing",
    "lapsed",
    "unreachable",
)
FILTERS = (ALL, MEMBERS, SUPPORTERS, LAPSING, LAPSED, UNREACHABLE)
LIST, EXPORT, PAGE = "list", "export", "page"

PAGE_SIZE = 20
LAPSING_DAYS = 30  # "lapsing": dues end within this many days
RENEWAL_DAYS = 14  # a member is reminded once when their dues end within this many days
LAPSED_WEEK = 7  # the treasurers' weekly list: dues that ended in the last week
SEARCH_LIMIT = 40  # the longest name searched for

# A person's dues status, as the list shows it.
MEMBER, SUPPORTER, LAPSED_STATUS = "member", "supporter", "lapsed"


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose people someone may see: everyone (``national``), the branches of
    ``regions``, and ``branches``. Empty: nobody's."""

    national: bool = False
    regions: frozenset[int] = frozenset()
    branches: frozenset[int] = frozenset()

    @property
    def empty(self) -> bool:
        return not (self.national or self.regions or self.branches)


def viewing_scope(grants: Iterable[RoleGrant]) -> Scope:
    """The widest reach of someone's roles: an organiser or treasurer sees their
    branch, a region's admin (or organiser) the region, a national one everyone.
    Someone without a role sees no one."""
    national, regions, branches = False, set(), set()
    for grant in grants:
        if grant.role not in ROLES:
            continue
        if grant.scope == SCOPE_NATIONAL:
            national = True
        elif grant.scope == SCOPE_REGION:
            regions.add(grant.scope_id)
        elif grant.scope == SCOPE_BRANCH:
            branches.add(grant.scope_id)
    return Scope(national, frozenset(regions), frozenset(branches))


@dataclass(frozen=True, slots=True)
class Asked:
    """/members as typed: export or a list, a filter, a name to search, a page."""

    export: bool = False
    filter: str = ALL
    search: str = ""
    page: int = 1


class BadFilter(ValueError):
    """The word after /members is no filter."""

    def __init__(self, word: str) -> None:
        super().__init__(word)
        self.word = word


class BadPage(ValueError):
    """``page`` with no page number after it."""


def read_members(args: str) -> Asked:
    """``[export] [filter] [name...] [page N]``: the filter is one of
    :data:`FILTERS` (all by default); what follows it is a name to search for."""
    words = args.split()
    if words and words[0].lower() == LIST:  # as a slash command's first choice types it
        words = words[1:]
    export = bool(words) and words[0].lower() == EXPORT
    if export:
        words = words[1:]
    page = 1
    if len(words) >= 2 and words[-2].lower() == PAGE:
        if not (words[-1].isascii() and words[-1].isdigit() and len(words[-1]) <= 6):
            raise BadPage(words[-1])
        page, words = int(words[-1]), words[:-2]
    elif words and words[-1].lower() == PAGE:
        raise BadPage("")
    chosen = ALL
    if words:
        if words[0].lower() not in FILTERS:
            raise BadFilter(words[0])
        chosen, words = words[0].lower(), words[1:]
    search = " ".join(words)[:SEARCH_LIMIT]
    return Asked(export, chosen, search, page)


def pages(total: int, size: int = PAGE_SIZE) -> int:
    """How many pages ``total`` rows take (at least one, if empty)."""
    return max(1, -(-total // size))


def page_in_range(page: int, total: int, size: int = PAGE_SIZE) -> bool:
    return 1 <= page <= pages(total, size)


def dues_status(paid_until: dt.date | None, today: dt.date) -> str:
    """A member (dues paid through today), lapsed (dues that ended) or a supporter."""
    if paid_until is None:
        return SUPPORTER
    return MEMBER if paid_until >= today else LAPSED_STATUS


def lapsing_until(today: dt.date) -> dt.date:
    """The last day of dues that count as lapsing soon."""
    return today + dt.timedelta(days=LAPSING_DAYS)


def renewal_until(today: dt.date) -> dt.date:
    """The last day of dues whose member is reminded to renew now."""
    return today + dt.timedelta(days=RENEWAL_DAYS)


def lapsed_since(today: dt.date) -> dt.date:
    """The first day of dues that ended in the week the treasurers' list covers."""
    return today - dt.timedelta(days=LAPSED_WEEK)


def week_of(day: dt.date) -> str:
    """The ISO week (``2026-W49``): the treasurers' list goes out once a week."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02}"


def today_in(now: dt.datetime, zone: str) -> dt.date:
    """The day it is in the party's time zone: the day dues are read against."""
    return now.astimezone(ZoneInfo(zone)).date()
