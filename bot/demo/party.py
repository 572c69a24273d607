"""A small demo party, so that everything can be tried at once in the console.

One region (South West), three branches in different lifecycle states
(Frome affiliated, Bath active, Wells proposed), and a dozen people with
console identities and roles. ``/as NAME`` in the console plays any of them:
Hana's app speaks Welsh and Ivan's Spanish, so the bot answers them in theirs.
"""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import select

from bot.kernel.config import Settings
from bot.kernel.people import new_short_id
from storage.db import Database
from storage.models import Branch, BranchTransition, Consent, Identity, Person, Region, RoleGrant
from storage.vocabulary import (
    ACTIVE,
    ADMIN,
    AFFILIATED,
    FORMING,
    NATIONAL_SCOPE_ID,
    ORGANISER,
    PROPOSED,
    SCOPE_BRANCH,
    SCOPE_NATIONAL,
    SCOPE_REGION,
    TREASURER,
)

CONSOLE = "console"

# name, branch slug (or None), dues: months from now (None: supporter), roles
PEOPLE: list[tuple[str, str | None, int | None, list[tuple[str, str]]]] = [
    ("Alice", "frome", 10, [(ORGANISER, "frome")]),
    ("Bob", "frome", 6, [(TREASURER, "frome")]),
    ("Carol", "frome", 11, []),
    ("Dan", "frome", None, []),
    ("Lee", "frome", -2, []),
    ("Erin", "bath", 8, [(ORGANISER, "bath"), (TREASURER, "bath")]),
    ("Femi", "bath", 12, []),
    ("Gita", "bath", 2, []),
    ("Hana", "wells", None, []),
    ("Ivan", "wells", None, []),
    ("Jo", "frome", 9, [(ADMIN, "region")]),
    ("Kai", None, 12, [(ADMIN, "national")]),
]


# The language their app speaks (as Telegram's language_code would say); the rest: none.
LOCALES = {"Hana": "cy", "Ivan": "es"}


def _months(today: dt.date, months: int) -> dt.date:
    month = today.month - 1 + months
    year = today.year + month // 12
    return dt.date(year, month % 12 + 1, min(today.day, 28))


async def seed_demo(db: Database, settings: Settings, now: dt.datetime) -> bool:
    """Seed the demo party; returns False (and does nothing) if it is already there."""
    rng = random.Random(2026)
    async with db.transaction() as session:
        if await session.scalar(select(Region.id).where(Region.slug == "south-west")):
            return False
        region = Region(name="South West", slug="south-west", created_at=now)
        session.add(region)
        await session.flush()
        tz = settings.default_timezone
        branches = {
            "frome": Branch(
                name="Frome",
                slug="frome",
                area="Frome, BA11, Beckington, Nunney",
                timezone=tz,
                status=AFFILIATED,
                region_id=region.id,
            ),
            # In the region's area, but not yet signed up to the party structure.
            "bath": Branch(
                name="Bath",
                slug="bath",
                area="Bath, BA1, BA2",
                timezone=tz,
                status=ACTIVE,
                region_id=region.id,
            ),
            "wells": Branch(
                name="Wells",
                slug="wells",
                area="Wells, BA5",
                timezone=tz,
                status=PROPOSED,
                region_id=region.id,
            ),
        }
        for b in branches.values():
            b.created_at = now - dt.timedelta(days=120)
            session.add(b)
        await session.flush()
        steps = {
            "frome": [PROPOSED, FORMING, ACTIVE, AFFILIATED],
            "bath": [PROPOSED, FORMING, ACTIVE],
            "wells": [PROPOSED],
        }
        for slug, path in steps.items():
            previous: str | None = None
            for i, status in enumerate(path):
                session.add(
                    BranchTransition(
                        branch_id=branches[slug].id,
                        from_status=previous,
                        to_status=status,
                        at=now - dt.timedelta(days=120 - 25 * i),
                    )
                )
                previous = status
        for name, home, months, roles in PEOPLE:
            person = Person(
                short_id=await new_short_id(session, rng),
                display_name=name,
                locale=LOCALES.get(name, ""),
                branch_id=branches[home].id if home else None,
                joined_branch_at=now - dt.timedelta(days=90) if home else None,
                dues_paid_until=_months(now.date(), months) if months is not None else None,
                consented_at=now - dt.timedelta(days=90),
                created_at=now - dt.timedelta(days=90),
            )
            session.add(person)
            await session.flush()
            session.add(
                Identity(
                    person_id=person.id,
                    platform=CONSOLE,
                    user_id=name.lower(),
                    chat_id=name.lower(),
                    handle=name.lower(),
                    unreachable=False,
                    last_seen_at=now - dt.timedelta(days=1),
                )
            )
            session.add(
                Consent(
                    person_id=person.id,
                    purpose="membership-data",
                    notice_version=settings.notice_version,
                    given_at=now - dt.timedelta(days=90),
                )
            )
            for role, where in roles:
                if where == "region":
                    scope, scope_id = SCOPE_REGION, region.id
                elif where == "national":
                    scope, scope_id = SCOPE_NATIONAL, NATIONAL_SCOPE_ID
                else:
                    scope, scope_id = SCOPE_BRANCH, branches[where].id
                session.add(
                    RoleGrant(
                        person_id=person.id,
                        role=role,
                        scope=scope,
                        scope_id=scope_id,
                        granted_at=now - dt.timedelta(days=80),
                    )
                )
    return True
