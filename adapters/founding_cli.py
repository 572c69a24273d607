"""``organiser init``, ``organiser admin`` and ``organiser region``: found a party
on an empty database, from the server's terminal.

    organiser init [--party NAME]          name the party; print a code for its first admin
    organiser admin add [--note TEXT]      print a new national admin code (lost admins,
                                           a co-leader)
    organiser admin list                   the national admins
    organiser region add NAME [--areas A]  create a region (areas: places and postcode prefixes)
    organiser region areas NAME AREAS      say which places a region covers (and place
                                           the branches waiting there)
    organiser region list                  the regions and what they cover

A code is shown once, lasts a day and works once: send it from Telegram or
Discord as ``/claim CODE`` to become a national admin. Only its hash is stored.
Wired in by ``adapters.cli`` through ``add_parser``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

from adapters.cli_base import Stop, open_database
from bot.kernel.clock import SystemClock
from bot.kernel.config import Settings

# The database side is imported by the commands that use it: `organiser --help`
# registers these commands without loading SQLAlchemy or the models.
if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from storage.db import Database
    from storage.models import Region

log = logging.getLogger(__name__)


async def _open(args: argparse.Namespace, settings: Settings) -> Database:
    return await open_database(args.db or settings.database_url)


def _code_lines(code: str) -> str:
    from bot.branches.founding import ADMIN_CODE_LIFETIME

    hours = int(ADMIN_CODE_LIFETIME.total_seconds() // 3600)
    return (
        f"  {code}\n"
        f"Send it to the bot from Telegram or Discord as:  /claim {code}\n"
        f"It works once, within {hours} hours; whoever sends it becomes a national admin, "
        "so give it to one person, privately."
    )


async def cmd_init(args: argparse.Namespace, settings: Settings) -> int:
    from bot.branches.founding import issue_admin_code, national_admins, party_name, set_party_name
    from storage.models import AuditEntry

    db = await _open(args, settings)
    now = SystemClock().now()
    try:
        async with db.transaction() as session:
            name = await party_name(session)
            if args.party:
                cleaned = " ".join(args.party.split())[:120]
                if not cleaned:
                    raise Stop("--party: give the party's name")
                await set_party_name(session, cleaned)
                name = cleaned
            admins = await national_admins(session)
            code = None
            if not admins:
                code = await issue_admin_code(session, now, note="organiser init", replacing=True)
                session.add(AuditEntry(at=now, action="admin_code.issued", details={"by": "init"}))
    finally:
        await db.dispose()
    print(f"The party: {name or settings.party_name}")
    if code is None:
        print(
            f"It already has {len(admins)} national admin(s): "
            + ", ".join(f"{p.display_name} ({p.short_id})" for p in admins)
            + ". For another, run `organiser admin add`."
        )
        return 0
    print("The code for its first national admin:")
    print(_code_lines(code))
    print("Then, in the chat: /region add <name>, and /region areas <name>: <places>.")
    return 0


async def cmd_admin_add(args: argparse.Namespace, settings: Settings) -> int:
    from bot.branches.founding import issue_admin_code
    from storage.models import AuditEntry

    db = await _open(args, settings)
    now = SystemClock().now()
    try:
        async with db.transaction() as session:
            code = await issue_admin_code(session, now, note=args.note or "organiser admin add")
            session.add(
                AuditEntry(
                    at=now, action="admin_code.issued", details={"by": "cli", "note": args.note}
                )
            )
    finally:
        await db.dispose()
    print("A code for a national admin:")
    print(_code_lines(code))
    return 0


async def cmd_admin_list(args: argparse.Namespace, settings: Settings) -> int:
    from bot.branches.founding import national_admins

    db = await _open(args, settings)
    try:
        async with db.transaction() as session:
            admins = await national_admins(session)
    finally:
        await db.dispose()
    if not admins:
        print("No national admin yet: run `organiser init` (or `organiser admin add`).")
        return 1
    for p in admins:
        print(f"{p.short_id}  {p.display_name}")
    return 0


async def cmd_region_add(args: argparse.Namespace, settings: Settings) -> int:
    from bot.branches.queries import region_with_slug
    from bot.branches.rules import clean_area, clean_region_name, slugify
    from storage.models import AuditEntry, Region

    name = clean_region_name(args.name)
    if name is None or not slugify(name):
        raise Stop("a region's name is up to 80 letters, digits and spaces, e.g. 'South West'")
    area = ""
    if args.areas:
        area = clean_area(args.areas) or ""
        if not area:
            raise Stop("--areas: places and postcode prefixes separated by commas")
    db = await _open(args, settings)
    now = SystemClock().now()
    try:
        async with db.transaction() as session:
            if await region_with_slug(session, slugify(name)):
                raise Stop(f"there is already a region called {name}")
            region = Region(name=name, slug=slugify(name), area=area, created_at=now)
            session.add(region)
            await session.flush()
            session.add(
                AuditEntry(
                    at=now,
                    action="region.created",
                    details={"region": region.id, "name": name, "by": "cli"},
                )
            )
            placed = await _place_waiting(session, region, now) if area else []
    finally:
        await db.dispose()
    print(f"region {name} created" + (f", covering {area}" if area else ""))
    if placed:
        print(f"placed in it: {', '.join(placed)}")
    return 0


async def cmd_region_areas(args: argparse.Namespace, settings: Settings) -> int:
    from bot.branches.queries import region_named
    from bot.branches.rules import clean_area
    from storage.models import AuditEntry

    area = clean_area(args.areas)
    if area is None:
        raise Stop("give the places and postcode prefixes it covers, separated by commas")
    db = await _open(args, settings)
    now = SystemClock().now()
    try:
        async with db.transaction() as session:
            region = await region_named(session, args.name)
            if region is None:
                raise Stop(f"there is no region called {args.name}")
            session.add(
                AuditEntry(
                    at=now,
                    action="region.areas",
                    details={"region": region.id, "before": region.area, "after": area},
                )
            )
            region.area = area
            name = region.name
            placed = await _place_waiting(session, region, now)
    finally:
        await db.dispose()
    print(f"region {name} covers {area}")
    if placed:
        print(f"placed in it: {', '.join(placed)}")
    return 0


async def _place_waiting(session: AsyncSession, region: Region, now: dt.datetime) -> list[str]:
    """The branches waiting for a region that ``region`` now covers move into it, as
    `/region areas` in chat moves them; their names, sorted."""
    from bot.branches.regions import place_waiting_branches
    from storage.models import AuditEntry

    await session.flush()
    placed = await place_waiting_branches(session, region)
    for b in placed:
        session.add(
            AuditEntry(
                at=now,
                action="branch.placed",
                branch_id=b.id,
                details={"region": region.id, "by": "cli"},
            )
        )
    return sorted(b.name for b in placed)


async def cmd_region_list(args: argparse.Namespace, settings: Settings) -> int:
    from bot.branches.queries import regions_by_name

    db = await _open(args, settings)
    try:
        async with db.transaction() as session:
            regions = await regions_by_name(session)
            rows = [(r.name, r.area) for r in regions]
    finally:
        await db.dispose()
    if not rows:
        print("no regions yet: `organiser region add NAME --areas 'Somerset, BA'`")
    for name, area in rows:
        print(f"{name}: {area or '(no places yet)'}")
    return 0


def add_parser(subparsers: Any) -> None:
    """Register ``init``, ``admin`` and ``region`` on ``subparsers``."""

    def with_db(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--db", help="database URL (default: database.url)")
        return p

    init = with_db(
        subparsers.add_parser("init", help="found the party: its name and a first admin's code")
    )
    init.add_argument("--party", help="the party's name")
    init.set_defaults(func=cmd_init)

    admin = subparsers.add_parser("admin", help="national admins")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)
    add = with_db(admin_sub.add_parser("add", help="print a one-time code for a national admin"))
    add.add_argument("--note", default="", help="who it is for (kept in the audit log)")
    add.set_defaults(func=cmd_admin_add)
    with_db(admin_sub.add_parser("list", help="the national admins")).set_defaults(
        func=cmd_admin_list
    )

    region = subparsers.add_parser("region", help="the party's regions")
    region_sub = region.add_subparsers(dest="region_command", required=True)
    radd = with_db(region_sub.add_parser("add", help="create a region"))
    radd.add_argument("name")
    radd.add_argument("--areas", help="places and postcode prefixes, comma separated")
    radd.set_defaults(func=cmd_region_add)
    rareas = with_db(region_sub.add_parser("areas", help="say which places a region covers"))
    rareas.add_argument("name")
    rareas.add_argument("areas")
    rareas.set_defaults(func=cmd_region_areas)
    with_db(region_sub.add_parser("list", help="the regions")).set_defaults(func=cmd_region_list)


NO_ADMIN_YET = (
    "This party has no national admin yet: run `organiser init` to print the code "
    "the first admin sends as /claim CODE."
)


async def founded(db: Database, settings: Settings) -> Settings:
    """The settings with the party's name from ``organiser init`` (unless the config
    names it), after a hint on the terminal when nobody can run the party yet."""
    from bot.branches.founding import national_admins, party_name

    async with db.transaction() as session:
        name = await party_name(session)
        admins = await national_admins(session)
    if not admins:
        log.warning(NO_ADMIN_YET)
    if name and settings.party_name == Settings().party_name:
        return dataclasses.replace(settings, party_name=name)
    return settings
