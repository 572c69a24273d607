"""A secret ballot stays secret: the attacks it withstands.

Each test is an attack on a secret poll, and what the product now does. The
attacker holds SELECT on every table (a PostgreSQL role made here, not a
superuser), or a ``pg_dump --data-only`` (the nightly backup), or a copy of the
SQLite file, or sees the platform's button data, or is a voter who /forgets.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import make_url

from bot.kernel.config import Settings
from bot.polls.sweeps import poll_sweep
from storage.db import Database
from storage.models import Person, Poll, PollVoter, SecretBallot
from tests.conftest import IN_CI
from tests.helpers import Chat, add_members, post_poll
from tests.helpers import text as joined

OPTIONS = ("Ash", "Birch", "Cedar", "Damson", "Elm", "Fir")


async def secret_vote(chat: Chat, who: str, poll: int, option: str) -> str:
    await chat.press(who, f"pollopen:{poll}")
    await chat.press(who, f"☐ {option}")
    return joined(await chat.press(who, "Cast my vote"))


async def secret_poll_with_votes(chat: Chat, voters: int = 8) -> tuple[int, dict[str, str]]:
    """Alice's secret poll in Frome, ``voters`` members each voting (in the
    reverse order of their ids, so that voting order is not roll order).
    Returns the poll and who chose what."""
    await add_members(chat, voters, "Voter")
    quoted = " ".join(f'"{o}"' for o in OPTIONS)
    poll = await post_poll(chat, "Alice", f'"Which tree?" {quoted} --secret')
    truth: dict[str, str] = {}
    for i in range(voters, 0, -1):
        who, option = f"Voter {i}", OPTIONS[i % len(OPTIONS)]
        assert "secret ballot is cast" in await secret_vote(chat, who, poll, option)
        truth[who] = option
    return poll, truth


def readable_choice(values: Any) -> list[int] | None:
    """What an attacker without the key makes of a ballot row: a choice, if any
    column reads as one (a list of option numbers, as JSON or in clear)."""
    for value in values:
        if isinstance(value, list) and all(isinstance(v, int) for v in value):
            return value
        raw = bytes(value) if isinstance(value, bytes | memoryview) else value
        if isinstance(raw, bytes):
            with contextlib.suppress(UnicodeDecodeError):
                raw = raw.decode()
        if isinstance(raw, str) and raw.startswith("\\x"):  # bytea in a dump: hex
            with contextlib.suppress(ValueError, UnicodeDecodeError):
                raw = bytes.fromhex(raw[2:]).decode()
        if isinstance(raw, str):
            with contextlib.suppress(ValueError):
                parsed = json.loads(raw)
                if isinstance(parsed, list) and all(isinstance(v, int) for v in parsed):
                    return parsed
    return None


# --- A database reader with SELECT only (PostgreSQL) ----------------------------------


@contextlib.contextmanager
def select_only_reader(url: str) -> Iterator[str]:
    """A login role with SELECT on every table (no superuser, no ownership); the
    URL it connects with."""
    admin_url = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    role = f"reader_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN NOSUPERUSER")
        admin.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
        admin.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
        admin.execute(f"GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")  # pg_dump
    try:
        yield (
            make_url(admin_url)
            .set(username=role, password=None)
            .render_as_string(hide_password=False)
        )
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"DROP OWNED BY {role}")
            admin.execute(f"DROP ROLE {role}")


def xmin_links(reader_url: str, poll: int) -> dict[int, list[tuple[Any, ...]]]:
    """The attack: each voter's roll row joined, by the transaction that wrote
    it, to the ballot rows written by the same transaction."""
    with psycopg.connect(reader_url) as conn:
        rows = conn.execute(
            "SELECT pv.person_id, sb.* FROM poll_voters pv "
            "JOIN secret_ballots sb ON sb.xmin = pv.xmin "
            "WHERE pv.poll_id = %s AND pv.voted",
            (poll,),
        ).fetchall()
    links: dict[int, list[tuple[Any, ...]]] = {}
    for person, *ballot in rows:
        links.setdefault(person, []).append(tuple(ballot))
    return links


def pg_only(chat: Chat) -> str:
    if chat.core.db.is_sqlite:
        pytest.skip("a PostgreSQL attack")
    return chat.core.db.url.render_as_string(hide_password=False)


@pytest.mark.postgres
async def test_select_only_xmin_join_reads_no_choice_while_open_and_links_nothing_after_close(
    demo: Chat,
) -> None:
    """A role with SELECT only joins ``secret_ballots.xmin`` to ``poll_voters.xmin``.
    While the poll is open the join still pairs a voter with a ballot row, but the
    row is sealed under a key the database does not hold: no choice can be read.
    After the close every ballot and every roll row was rewritten by the closing
    transaction, so each voter joins every ballot or none: nothing is linked."""
    url = pg_only(demo)
    poll, _truth = await secret_poll_with_votes(demo)
    with select_only_reader(url) as reader:
        open_links = xmin_links(reader, poll)
        assert open_links, "the attack itself found nothing to join (a broken test)"
        read = {p: readable_choice(b) for p, rows in open_links.items() for b in rows}
        assert not any(read.values()), f"choices read through xmin while open: {read}"
        await demo.say("Alice", f"/poll close {poll}")
        closed = xmin_links(reader, poll)
        ballots = 8
        linked = {p: len(rows) for p, rows in closed.items() if len(rows) not in (0, ballots)}
        assert not linked, f"voters joined to some ballots but not all: {linked}"


def dump(reader_url: str) -> dict[str, list[dict[str, str]]]:
    """``pg_dump --data-only`` of the roll and the ballots, as the reader: the rows
    of each table in the order the dump lists them."""
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        if IN_CI:
            pytest.fail("pg_dump is not on PATH (under CI=true this attack is mandatory)")
        pytest.skip("pg_dump is not on PATH")
    parsed = make_url(reader_url)
    out = subprocess.run(
        [
            pg_dump,
            "--data-only",
            "--table=poll_voters",
            "--table=secret_ballots",
            "-h",
            parsed.host or "127.0.0.1",
            "-p",
            str(parsed.port or 5432),
            "-U",
            parsed.username or "",
            parsed.database or "",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PGPASSWORD": ""},
    )
    assert out.returncode == 0, out.stderr
    tables: dict[str, list[dict[str, str]]] = {}
    columns: list[str] | None = None
    name = ""
    for line in out.stdout.splitlines():
        if line.startswith("COPY "):
            name = line.split()[1].split(".")[-1]
            columns = [c.strip() for c in line[line.index("(") + 1 : line.index(")")].split(",")]
            tables[name] = []
        elif line == "\\.":
            columns = None
        elif columns is not None:
            tables[name].append(dict(zip(columns, line.split("\t"), strict=True)))
    return tables


@pytest.mark.postgres
async def test_a_pg_dump_zipped_reads_no_choice_while_open_and_links_nothing_after_close(
    demo: Chat,
) -> None:
    """The nightly ``pg_dump --data-only`` lists the voters who voted and the
    ballots each in the order they were written: zipped, they pair up. While the
    poll is open every paired ballot is sealed (one length whatever the choice), so
    the dump gives no choice. After the close the ballots are sealed anew (no blob
    of the earlier dump is left to match) and the roll is rewritten in the order
    of the people, not of their votes."""
    url = pg_only(demo)
    poll, _truth = await secret_poll_with_votes(demo)
    async with demo.core.db.transaction() as s:
        ids = {name: pid for name, pid in await s.execute(select(Person.display_name, Person.id))}
    voting_order = [str(ids[f"Voter {i}"]) for i in range(8, 0, -1)]
    with select_only_reader(url) as reader:
        before = dump(reader)
        voted = [r for r in before["poll_voters"] if r["voted"] == "t"]
        ballots = before["secret_ballots"]
        assert len(voted) == len(ballots) == 8
        zipped = {
            v["person_id"]: readable_choice(b.values()) for v, b in zip(voted, ballots, strict=True)
        }
        assert not any(zipped.values()), f"a zipped dump read choices: {zipped}"
        lengths = {len(v) for b in ballots for k, v in b.items() if k == "sealed"}
        assert len(lengths) == 1, f"sealed ballots differ in length by choice: {lengths}"
        await demo.say("Alice", f"/poll close {poll}")
        after = dump(reader)
    assert not any(readable_choice(b.values()) for b in after["secret_ballots"])
    old = {b["sealed"] for b in ballots}
    assert not old & {b["sealed"] for b in after["secret_ballots"]}, "open-time blobs remain"
    order = [r["person_id"] for r in after["poll_voters"] if r["voted"] == "t"]
    assert order != voting_order, "the closed roll still lists the voters in voting order"


@pytest.mark.postgres
async def test_closed_secret_polls_are_vacuumed_once(demo: Chat) -> None:
    """After the close the old (dead) ballot and roll rows stay in the table's
    pages, with the transaction ids that linked them, until a VACUUM: the sweep
    after a close runs it and records when."""
    pg_only(demo)
    poll, _ = await secret_poll_with_votes(demo, voters=3)
    await demo.say("Alice", f"/poll close {poll}")
    db, settings = demo.core.db, demo.core.settings
    await poll_sweep(db, settings, demo.clock.now())
    async with db.transaction() as s:
        vacuumed = (await s.get(Poll, poll)).vacuumed_at
    async with db.engine.connect() as conn:
        # The pages themselves (pgstattuple), not the statistics' n_dead_tup: those are
        # flushed by each backend a moment later and can count, after the VACUUM, rows
        # it already removed (seen once on a loaded machine).
        await conn.execute(text("CREATE EXTENSION IF NOT EXISTS pgstattuple"))
        dead = await conn.scalar(
            text(
                "SELECT (SELECT dead_tuple_count FROM pgstattuple('secret_ballots')) "
                "+ (SELECT dead_tuple_count FROM pgstattuple('poll_voters'))"
            )
        )
        last = await conn.scalar(
            text("SELECT last_vacuum FROM pg_stat_user_tables WHERE relname = 'secret_ballots'")
        )
    assert vacuumed == demo.clock.now()
    assert last is not None and dead == 0


# --- A copy of the SQLite file ----------------------------------------------------------


async def test_a_copy_of_the_sqlite_file_after_close_holds_no_plain_choice(
    demo: Chat, tmp_path: Path
) -> None:
    """Someone copies ``organiser.db`` (and its ``-wal``) after a secret poll
    closed. The ballots in it are sealed under a key kept outside the file, and the
    rows written while the poll was open have been overwritten on disk (secure
    delete, the write-ahead log truncated): no blob from voting time is left."""
    db = demo.core.db
    if not db.is_sqlite:
        pytest.skip("the SQLite file")
    poll, _ = await secret_poll_with_votes(demo)
    async with db.transaction() as s:
        open_blobs = list(await s.execute(select(SecretBallot.__table__)))
    await demo.say("Alice", f"/poll close {poll}")
    await poll_sweep(db, demo.core.settings, demo.clock.now())
    path = Path(db.url.database or "")
    on_disk = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    copy = tmp_path / "copy.db"
    shutil.copy(path, copy)
    import sqlite3

    with contextlib.closing(sqlite3.connect(copy)) as conn:
        rows = conn.execute("SELECT * FROM secret_ballots").fetchall()
    assert len(rows) == 8
    assert not any(readable_choice(r) for r in rows), f"plain choices in the file: {rows[:3]}"
    left = [r for r in open_blobs for v in r if isinstance(v, bytes) and v in on_disk]
    assert not left, "ballot rows written while the poll was open are still in the file"


# --- What the platform sees in a button -------------------------------------------------


async def test_a_secret_ballots_button_data_name_no_option_the_platform_could_compare(
    demo: Chat,
) -> None:
    """Telegram and Discord see each button's data (``callback_data``,
    ``custom_id``). On a secret ballot the data of "Yes" differ from voter to
    voter, and from the data of "No", and never spell the choice: the platform
    learns no more than the press itself shows. Another voter's data do not cast."""
    poll = await post_poll(demo, "Alice", '"Elect Carol?" "Yes" "No" --secret')
    data: dict[str, dict[str, str]] = {}
    for who in ("Bob", "Carol"):
        await demo.press(who, f"pollopen:{poll}")
        data[who] = {o: demo.button(who, f"☐ {o}").data for o in ("Yes", "No")}
        await demo.press(who, "☐ Yes")
        data[who]["cast"] = demo.button(who, "Cast my vote").data
    assert data["Bob"]["Yes"] != data["Carol"]["Yes"]
    assert data["Bob"]["cast"] != data["Carol"]["cast"]
    for who in data:
        payloads = [d.partition(".")[2] for d in data[who].values()]
        assert not {"0", "1", "2", "3"} & set(payloads), f"plain choices in {data[who]}"
    forged = await demo.press("Bob", data["Carol"]["cast"])
    assert forged[0].error
    assert "secret ballot is cast" in joined(await demo.press("Carol", data["Carol"]["cast"]))
    async with demo.core.db.transaction() as s:
        assert await s.scalar(select(func.count()).select_from(SecretBallot)) == 1


# --- A voter who /forgets ----------------------------------------------------------------


async def forget(chat: Chat, who: str) -> None:
    await chat.say(who, "/forget")
    assert "deleted" in joined(await chat.press(who, "Yes, delete my data"))


async def audit_line(chat: Chat, poll: int) -> str:
    return (await chat.say("Alice", f"/poll audit {poll}"))[0].text


async def results(chat: Chat, poll: int) -> str:
    return joined(await chat.say("Alice", f"/poll results {poll}"))


@pytest.mark.parametrize("secret", [True, False])
async def test_forget_by_a_voter_leaves_a_closed_result_and_its_counts_alone(
    demo: Chat, secret: bool
) -> None:
    """Carol voted, the poll closed, then Carol /forgets. The result, the export
    and the audit read as before ("3 have voted, 3 ballots in the box"): Carol's
    place on the roll stays, with nobody's name on it."""
    flag = " --secret" if secret else ""
    poll = await post_poll(demo, "Alice", f'"Elect Bob?" "Yes" "No"{flag}')
    for who, option in (("Bob", "Yes"), ("Carol", "No"), ("Jo", "No")):
        if secret:
            await secret_vote(demo, who, poll, option)
        else:
            await demo.press(who, f"pv:{poll}.{0 if option == 'Yes' else 1}")
    await demo.say("Alice", f"/poll close {poll}")
    before = await audit_line(demo, poll), await results(demo, poll)
    export = (await demo.say("Alice", f"/poll export {poll}"))[0].file
    assert "3 have voted, 3 ballots in the box" in before[0]
    carol = await demo.person("Carol")
    await forget(demo, "Carol")
    assert (await audit_line(demo, poll), await results(demo, poll)) == before
    assert (await demo.say("Alice", f"/poll export {poll}"))[0].file == export
    async with demo.core.db.transaction() as s:
        assert carol is not None
        left = await s.scalar(
            select(func.count()).select_from(PollVoter).where(PollVoter.person_id == carol.id)
        )
    assert left == 0, "the roll still names the forgotten voter"


async def test_forget_by_a_secret_voter_keeps_an_open_poll_consistent(demo: Chat) -> None:
    """Carol cast a secret ballot and /forgets while the poll is open. The audit
    does not read "1 have voted, 2 ballots in the box": her anonymous place on the
    roll stays voted, and at the close her ballot is counted once."""
    poll = await post_poll(demo, "Alice", '"Elect Bob?" "Yes" "No" --secret')
    await secret_vote(demo, "Bob", poll, "Yes")
    await secret_vote(demo, "Carol", poll, "No")
    await forget(demo, "Carol")
    assert "2 have voted, 2 ballots in the box" in await audit_line(demo, poll)
    result = joined(await demo.say("Alice", f"/poll close {poll}"))
    assert "• Yes: 1" in result and "• No: 1" in result and "Ballots: 2." in result
    assert "2 have voted, 2 ballots in the box" in await audit_line(demo, poll)


# --- Where the key lives ------------------------------------------------------------------


def test_the_key_is_never_in_the_database_and_postgresql_needs_one(tmp_path: Path) -> None:
    """Whoever holds the database alone holds no key: on SQLite without a
    configured key one is made beside the file, readable by its owner only (a
    backup of ``organiser.db`` does not carry it); PostgreSQL has no default, so a
    worker without ``polls.ballot_key`` does not start (see tests/test_cli.py)."""
    from bot.polls.ballot_box import check_configured, key_file

    sqlite = make_url(f"sqlite:///{tmp_path / 'organiser.db'}")
    assert check_configured(Settings(), sqlite) is None
    path = key_file(sqlite)
    assert path is not None and path.parent == tmp_path
    assert path.stat().st_mode & 0o777 == 0o600
    first = path.read_text()
    assert check_configured(Settings(), sqlite) is None and path.read_text() == first
    problem = check_configured(Settings(), make_url("postgresql://organiser@127.0.0.1/organiser"))
    assert problem is not None and "polls.ballot_key is not set" in problem


# --- The upgrade -----------------------------------------------------------------------


async def test_the_sealing_migration_keeps_counts_and_refuses_while_a_secret_poll_is_open(
    db: Database,
) -> None:
    """Migration 0014 meets a database holding a closed secret poll (its plain
    choices on disk) and an open one. While the open one is open it refuses, with
    a message saying what to do, and changes nothing. Once it is closed the upgrade
    drops every plain choice, keeps each ballot's place (the turnout still reads
    "2 have voted, 2 ballots"), the stored result, and the roll."""
    await db.downgrade("0013")
    at = "'2026-11-01 10:00:00+00:00'"
    async with db.engine.begin() as conn:
        await conn.exec_driver_sql(
            "INSERT INTO persons (id, short_id, display_name, locale, reminders, created_at) "
            f"VALUES (1, 'AAAAAA', 'Ann', 'en', true, {at}), "
            f"(2, 'BBBBBB', 'Ben', 'en', true, {at})"
        )
        result = '{"counts": [1, 1], "ballots": 2, "winners": [0, 1]}'
        for poll, closed, stored in ((1, at, f"'{result}'"), (2, "NULL", "NULL")):
            await conn.exec_driver_sql(
                "INSERT INTO polls (id, scope, scope_id, question, options, kind, secret, "
                "everyone, live, opened_at, closed_at, result) VALUES "
                f"({poll}, 'branch', 1, 'Q?', '[\"A\", \"B\"]', 'single', true, false, false, "
                f"{at}, {closed}, {stored})"
            )
            await conn.exec_driver_sql(
                "INSERT INTO poll_voters (poll_id, person_id, voted) "
                f"VALUES ({poll}, 1, true), ({poll}, 2, true)"
            )
            await conn.exec_driver_sql(
                "INSERT INTO secret_ballots (key, poll_id, choice) "
                f"VALUES ('{poll}a', {poll}, '[0]'), ('{poll}b', {poll}, '[1]')"
            )
    with pytest.raises(RuntimeError, match=r"1 secret poll\(s\) are still open: close them"):
        await db.upgrade()
    async with db.engine.begin() as conn:
        await conn.exec_driver_sql(f"UPDATE polls SET closed_at = {at} WHERE id = 2")
    await db.upgrade()
    from bot.polls.queries import turnout

    async with db.transaction() as s:
        plain = await s.scalar(
            select(func.count()).select_from(SecretBallot).where(SecretBallot.sealed.is_not(None))
        )
        closed = await s.get(Poll, 1)
        assert closed is not None
        assert await turnout(s, closed) == (2, 2, 2)
        assert closed.result == {"counts": [1, 1], "ballots": 2, "winners": [0, 1]}
    assert plain == 0
    async with db.engine.connect() as conn:
        columns = await conn.run_sync(
            lambda c: {col["name"] for col in inspect(c).get_columns("secret_ballots")}
        )
    assert columns == {"key", "poll_id", "sealed"}
