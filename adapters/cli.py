"""``organiser``: the command line.

    organiser run                     every configured adapter in one asyncio loop
                                      (the console chat when no token is configured)
    organiser status [--json]         the deployment's health, from the database
    organiser console [--demo] [--as NAME]
    organiser db upgrade
    organiser import members.csv [--strict] [--dry-run]
    organiser sortition lottery|draw|verify ...   draws by lot from files, and checking them
    organiser assembly list|show|targets ...      a citizens' assembly's census targets

Problems a person can fix (a bad config key, an unreachable database) are
said in one line, with exit status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import logging
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapters.assembly_cli import add_parser as add_assembly
from adapters.cli_base import Stop, current_revision, database, open_database
from adapters.founding_cli import add_parser as add_founding
from adapters.logs import secrets_of, setup_logging
from adapters.sortition_cli import add_parser as add_sortition
from bot.kernel.clock import SystemClock
from bot.kernel.config import ConfigError, Settings, load_settings
from bot.lib import spreadsheet

# What only some commands need is imported by them, not here: `organiser --help`
# and `organiser sortition ...` start without SQLAlchemy, Alembic, the platform
# libraries or the core (tests/test_architecture.py holds this).
if TYPE_CHECKING:
    from aiohttp.web import AppRunner

    from bot.kernel.core import Core
    from storage.db import Database

log = logging.getLogger("organiser")

MEMORY_DB = "sqlite:///:memory:"


# Commands whose output is for the person at the terminal: only warnings are logged.
TERMINAL_COMMANDS = ("console", "status", "init", "admin", "region")
FILES_DIR = "organiser-files"  # the console saves the files the bot sends here


async def require_ballot_key(db: Database, settings: Settings) -> None:
    """Stop where secret ballots could not be sealed (PostgreSQL without
    polls.ballot_key); on SQLite, make the key file now if there is none."""
    from bot.polls.ballot_box import check_configured

    problem = check_configured(settings, db.url)
    if problem is not None:
        await db.dispose()
        raise Stop(problem)


async def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.telegram_token and not settings.discord_token:
        log.info("no platform token configured: starting the console chat")
        return await _console(
            settings, settings.database_url, demo=False, name=args.as_name, files=args.files
        )
    from adapters.founding_cli import founded
    from adapters.web import ListenError
    from runtime.serve import serve

    db = await open_database(settings.database_url)
    await require_ballot_key(db, settings)
    try:
        settings = await founded(db, settings)
        await serve(db, settings, stop_on_signals=True)
    except ListenError as exc:
        raise Stop(str(exc)) from None
    except Exception as exc:
        refused = token_refused(exc)
        if refused is None:
            raise
        raise Stop(refused) from None
    finally:
        await db.dispose()
    return 0


def token_refused(exc: Exception) -> str | None:
    """One line for a platform that refused our token, else None."""
    import discord
    from telegram.error import InvalidToken

    if isinstance(exc, discord.LoginFailure):
        return "Discord refused discord.token: check it in the developer portal"
    if isinstance(exc, InvalidToken):
        return "Telegram refused telegram.token: check it with @BotFather"
    return None


async def cmd_console(args: argparse.Namespace, settings: Settings) -> int:
    url = args.db or (MEMORY_DB if args.demo else settings.database_url)
    return await _console(settings, url, demo=args.demo, name=args.as_name, files=args.files)


async def _console(settings: Settings, url: str, *, demo: bool, name: str, files: Path) -> int:
    from adapters.console import ConsoleChat
    from adapters.founding_cli import founded
    from bot.app import build_core
    from bot.demo.party import seed_demo

    db = await open_database(url)
    await require_ballot_key(db, settings)
    clock = SystemClock()
    try:
        if not demo:
            settings = await founded(db, settings)
        if demo and await seed_demo(db, settings, clock.now()):
            sys.stdout.write(
                "Demo party: South West region; Frome (affiliated), Bath (active), Wells "
                "(proposed). People: Alice (Frome organiser), Bob (Frome treasurer), Carol, "
                "Dan, Lee, Erin (Bath organiser), Femi, Gita, Hana (in Welsh), Ivan (in "
                "Spanish), Jo (region admin), Kai (national admin). /as Alice to play one.\n"
            )
        core = build_core(db, settings, clock=clock)
        chat = ConsoleChat(core, out=sys.stdout, name=name, files=files)
        pages = await _pages(core, settings) if settings.web_port else None
        try:
            await chat.run(sys.stdin)
        finally:
            if pages is not None:
                await pages.cleanup()
    finally:
        await db.dispose()
    return 0


async def _pages(core: Core, settings: Settings) -> AppRunner:
    """The public pages beside the console chat (``[web] port``)."""
    from adapters.web import ListenError, start_pages
    from bot.public.pages import Site

    try:
        return await start_pages(
            Site(core.db, settings, core.clock, core.links), settings.web_listen, settings.web_port
        )
    except ListenError as exc:
        raise Stop(str(exc)) from None


async def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy.exc import DBAPIError, OperationalError

    db = database(args.db or settings.database_url)
    try:
        await db.upgrade()
        async with db.engine.connect() as conn:
            revision = await conn.run_sync(current_revision)
    except (OperationalError, DBAPIError, OSError) as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise Stop(f"cannot upgrade the database: {reason}") from None
    finally:
        await db.dispose()
    print(f"database is up to date (revision {revision})")
    return 0


async def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    """The deployment's health from the database: 0 healthy, 1 not."""
    from runtime.health import describe_status, status_report

    db = database(args.db or settings.database_url)
    try:
        sqlite_file = Path(db.url.database or ":memory:")
        if db.is_sqlite and not await asyncio.to_thread(sqlite_file.is_file):
            body: dict[str, Any] = {
                "database": f"no SQLite database at {db.url.database or ':memory:'}",
                "status": "unhealthy",
            }
            body["problems"] = [f"the database does not answer: {body['database']}"]
            healthy = False
        else:
            healthy, body = await status_report(db, SystemClock().now())
    finally:
        await db.dispose()
    print(json.dumps(body, indent=2) if args.json else describe_status(body))
    return 0 if healthy else 1


async def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from bot.membership.importer import ImportError_, import_members, read_rows

    path = Path(args.file)
    try:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8-sig")
        rows = read_rows(io.StringIO(text, newline=""))
    except OSError as exc:
        raise Stop(f"cannot read {path}: {exc.strerror}") from None
    except (ImportError_, csv.Error, UnicodeDecodeError) as exc:
        raise Stop(f"{path}: {exc}") from None
    db = await open_database(args.db or settings.database_url)
    try:
        with tqdm(total=len(rows), unit="row", desc="checking", file=sys.stderr) as bar:
            report = await import_members(
                db,
                rows,
                now=SystemClock().now(),
                strict=args.strict,
                dry_run=args.dry_run,
                progress=bar.update,
            )
    finally:
        await db.dispose()
    for rejected in report.rejected:
        print(f"line {rejected.line}: rejected: {rejected.reason}", file=sys.stderr)
    if report.written and report.imported:
        codes = path.with_name(path.stem + ".codes.csv")
        with codes.open("w", encoding="utf-8", newline="") as fh:
            writer = spreadsheet.writer(fh)  # a name is never run as a formula
            writer.writerow(["line", "name", "branch", "short_id", "claim_code"])
            for item in report.imported:
                writer.writerow([item.line, item.name, item.branch, item.short_id, item.claim_code])
        print(
            f"imported {len(report.imported)} people, rejected {len(report.rejected)}; "
            f"claim codes (send each person theirs, for /claim) are in {codes}"
        )
    if report.written and report.updated:
        print(
            f"updated the dues of {len(report.updated)} people already known (no one added twice)"
        )
    if args.dry_run:
        print(
            f"dry run: {len(report.imported)} rows would be imported, "
            f"{len(report.updated)} would update dues, {len(report.rejected)} rejected"
        )
    elif not (report.written and (report.imported or report.updated)):
        print(
            f"nothing imported: {len(report.rejected)} rows rejected"
            + (" (--strict imports nothing unless every row is valid)" if args.strict else "")
        )
    return 1 if report.rejected else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="organiser", description="Assembly Organiser")
    parser.add_argument("--config", type=Path, help="config file (default: ./config.toml)")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the bot with every configured adapter")
    run.add_argument("--as", dest="as_name", default="Sam", help="console: who you are")
    run.add_argument(
        "--files", type=Path, default=Path(FILES_DIR), help="console: where sent files are saved"
    )
    run.set_defaults(func=cmd_run)

    status = sub.add_parser("status", help="is the deployment healthy? (exit status 0 yes, 1 no)")
    status.add_argument("--db", help="database URL (default: database.url)")
    status.add_argument("--json", action="store_true", help="the report as JSON")
    status.set_defaults(func=cmd_status)

    console = sub.add_parser("console", help="chat with the bot in this terminal")
    console.add_argument("--demo", action="store_true", help="a seeded demo party (in memory)")
    console.add_argument("--as", dest="as_name", default="Sam", help="who you are at first")
    console.add_argument(
        "--files",
        type=Path,
        default=Path(FILES_DIR),
        help=f"where the files the bot sends are saved (default: ./{FILES_DIR})",
    )
    console.add_argument("--db", help="database URL (default: database.url)")
    console.set_defaults(func=cmd_console)

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="bring the schema up to date")
    upgrade.add_argument("--db", help="database URL (default: database.url)")
    upgrade.set_defaults(func=cmd_db_upgrade)

    imp = sub.add_parser("import", help="import a membership list (CSV)")
    imp.add_argument("file")
    imp.add_argument("--db", help="database URL (default: database.url)")
    imp.add_argument(
        "--strict", action="store_true", help="import nothing unless all rows are valid"
    )
    imp.add_argument("--dry-run", action="store_true", help="check the file, write nothing")
    imp.set_defaults(func=cmd_import)

    add_sortition(sub)
    add_founding(sub)
    add_assembly(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"organiser: {exc}", file=sys.stderr)
        return 2
    setup_logging(
        settings.log_level if args.command not in TERMINAL_COMMANDS else "WARNING",
        secrets_of(settings),
    )
    func: Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]] = args.func
    try:
        return asyncio.run(func(args, settings))
    except Stop as exc:
        print(f"organiser: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
