"""``organiser assembly``: a citizens' assembly's census targets from a CSV file,
and its overview, from the server's terminal.

    organiser assembly list                      the assemblies, with their codes
    organiser assembly show ID                   quotas, coverage, relaxation
    organiser assembly targets ID FILE.csv       census shares: lines category,value,share
                                                 (a header line is allowed; a share is a
                                                 percentage or a count)

Registrants are never listed here: the overview counts them. Wired in by
``adapters.cli`` through ``add_parser``.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapters.cli_base import Stop, open_database
from bot.kernel.config import Settings

# The database side is imported by the commands that use it: `organiser --help`
# registers these commands without loading SQLAlchemy or the models.
if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from storage.models import Assembly


async def _assembly(session: AsyncSession, ident: int) -> Assembly:
    from storage.models import Assembly

    found = await session.get(Assembly, ident)
    if found is None:
        raise Stop(f"there is no assembly {ident} (organiser assembly list shows them)")
    return found


async def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy import select

    from storage.models import Assembly

    db = await open_database(args.db or settings.database_url)
    try:
        async with db.transaction() as session:
            rows = list(await session.scalars(select(Assembly).order_by(Assembly.id)))
            lines = [f"{a.id}: {a.title} (code {a.code}, {a.seats} seats)" for a in rows]
    finally:
        await db.dispose()
    print(
        "\n".join(lines) if lines else "no assemblies yet (an organiser opens one: /assembly open)"
    )
    return 0


async def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from bot.assemblies.census import overview_text
    from bot.kernel.i18n import translator

    db = await open_database(args.db or settings.database_url)
    try:
        async with db.transaction() as session:
            text = await overview_text(
                session, await _assembly(session, args.id), translator(settings.default_locale)
            )
    finally:
        await db.dispose()
    print(text)
    return 0


async def cmd_targets(args: argparse.Namespace, settings: Settings) -> int:
    from bot.assemblies.census import overview_text, set_targets
    from bot.assemblies.rules import Problem
    from bot.kernel.i18n import translator

    path = Path(args.file)
    try:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise Stop(f"cannot read {path}: {exc}") from None
    t = translator(settings.default_locale)
    db = await open_database(args.db or settings.database_url)
    try:
        async with db.transaction() as session:
            assembly = await _assembly(session, args.id)
            try:
                await set_targets(session, assembly, text)
            except Problem as problem:
                raise Stop(f"{path}: {problem.render(t)}") from None
            shown = await overview_text(session, assembly, t)
    finally:
        await db.dispose()
    print(shown)
    return 0


def add_parser(sub: Any) -> None:
    assembly = sub.add_parser("assembly", help="citizens' assemblies: census targets, overview")
    inner = assembly.add_subparsers(dest="assembly_command", required=True)
    listing = inner.add_parser("list", help="the assemblies, with their codes")
    listing.add_argument("--db", help="database URL (default: database.url)")
    listing.set_defaults(func=cmd_list)
    show = inner.add_parser("show", help="an assembly's quotas, coverage and relaxation")
    show.add_argument("id", type=int)
    show.add_argument("--db", help="database URL (default: database.url)")
    show.set_defaults(func=cmd_show)
    targets = inner.add_parser("targets", help="census shares from a CSV file")
    targets.add_argument("id", type=int)
    targets.add_argument("file", help="lines category,value,share (e.g. age,18-29,21%%)")
    targets.add_argument("--db", help="database URL (default: database.url)")
    targets.set_defaults(func=cmd_targets)
