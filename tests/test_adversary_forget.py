"""Data that outlives /forget: the attacks, and what the product now does.

Zed joins Frome, is announced to the organisers, is drawn by lot for the
council and accepts; messages about Zed go out ("Zed (...) joined", "Zed accepted
a place"). Then Zed sends /forget. Someone who later reads the database (or a
backup of it) must find nothing that names Zed; a council seat Zed held is a
vacancy; and before forgetting, Zed's /mydata shows the messages about them
that are still held.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import JSON, LargeBinary, String, Text, func, select

from bot.lib.sortition.verification import verify
from bot.privacy.retention import retention_sweep
from storage.db import Database
from storage.models import (
    Base,
    CouncilSeat,
    Draw,
    Identity,
    Invitation,
    OutboxMessage,
    Person,
    Prompt,
    SortitionProfile,
)
from tests.helpers import (
    LOTTO_RESULT,
    Chat,
    RecordingTransport,
    add_members,
    deliver,
    lotto,
    run_sweeps,
    seed_by_lottery,
    text,
)

TELEGRAM_ID = "730012345"
TELEGRAM_HANDLE = "zed_tg"
FEATURES = {"gender": "woman", "age": "30-44"}


async def zed_joins(demo: Chat) -> Person:
    """Zed agrees, joins Frome (Alice is told), pays dues, opts in to be drawn,
    and has also used the bot on Telegram."""
    await demo.signup("Zed", "Frome")
    await demo.say("Bob", "/dues @zed 2027-06-30")
    zed = await demo.person("Zed")
    assert zed is not None and zed.branch_id is not None
    now = demo.clock.now()
    async with demo.core.db.transaction() as session:
        session.add(SortitionProfile(person_id=zed.id, features=FEATURES, updated_at=now))
        session.add(
            Identity(
                person_id=zed.id,
                platform="telegram",
                user_id=TELEGRAM_ID,
                chat_id=TELEGRAM_ID,
                handle=TELEGRAM_HANDLE,
                unreachable=False,
                last_seen_at=now,
            )
        )
    return zed


async def seat(demo: Chat, name: str, others: int = 2) -> None:
    """``name`` and ``others`` members are the whole pool of a council of that
    many seats: all are drawn, and ``name`` accepts."""
    await add_members(demo, others, features=lambda i: FEATURES)
    seats = others + 1
    replies = await demo.say("Alice", f"/draw {seats} {lotto(demo.clock)}")
    assert "chance of selection" in replies[0].text, text(replies)
    await demo.press("Alice", "Commit")
    replies = await seed_by_lottery(demo)
    assert "have been invited" in replies[0].text, text(replies)
    person = await demo.person(name)
    assert person is not None
    async with demo.core.db.transaction() as session:
        invitation = await session.scalar(
            select(Invitation.id).where(Invitation.person_id == person.id)
        )
    replies = await demo.press(name, f"invyes:{invitation}")
    assert "you are on the council" in replies[0].text, text(replies)


async def forget(demo: Chat, name: str) -> None:
    await demo.say(name, "/forget")
    replies = await demo.press(name, "Yes, delete my data")
    assert "has been deleted" in replies[0].text, text(replies)


def _textual(column: Any) -> bool:
    return isinstance(column.type, String | Text | JSON | LargeBinary)


async def mentions(demo: Chat, needles: list[str]) -> list[str]:
    """Every text, JSON and binary cell of every table (found from the schema,
    so a table added later is scanned too) that holds one of ``needles`` as a
    whole word, case-insensitively: ``table.column: value``."""
    pattern = re.compile(
        r"(?<![\w])(" + "|".join(re.escape(n) for n in needles) + r")(?![\w])", re.IGNORECASE
    )
    found = []
    async with demo.core.db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if _textual(c)]
            if not columns:
                continue
            for row in await conn.execute(select(*columns)):
                for column, value in zip(columns, row, strict=True):
                    if value is None:
                        continue
                    if isinstance(value, bytes):
                        cell = value.decode("utf-8", "replace")
                    elif isinstance(value, str):
                        cell = value
                    else:
                        cell = json.dumps(value, ensure_ascii=False)
                    if pattern.search(cell):
                        found.append(f"{table.name}.{column.name}: {cell[:200]}")
    return found


async def test_after_forget_no_column_anywhere_holds_the_name_handle_or_platform_ids(
    demo: Chat,
) -> None:
    """The attack: read the database after Zed's /forget, and find Zed in the
    outbox ("Zed (...) joined", "Zed accepted a place", "P0003 = Zed"), in stored
    buttons and in the audit log. Now: every text and JSON column of every table
    is free of Zed's name, short id, handles and platform ids; what was sent to
    the organisers reads "(name deleted)"."""
    zed = await zed_joins(demo)
    await seat(demo, "Zed")
    transport = RecordingTransport()
    await deliver(demo, transport)
    assert any("Zed accepted a place" in sent for _, sent in transport.sent)
    needles = ["Zed", zed.short_id, TELEGRAM_ID, TELEGRAM_HANDLE]
    assert await mentions(demo, needles), "the scenario must first put Zed in the database"

    await forget(demo, "Zed")

    assert await mentions(demo, needles) == []
    async with demo.core.db.transaction() as session:
        texts = list(await session.scalars(select(OutboxMessage.text)))
    assert any("(name deleted) accepted a place" in t for t in texts)


async def test_forget_leaves_no_trace_for_a_newcomer_who_gets_the_same_row_id(
    demo: Chat,
) -> None:
    """The attack: on SQLite a deleted row's id is given to the next row, so
    anything that still held Zed's bare person id (a message about Zed) would
    become about the newcomer, who would then read it in their /mydata. Now:
    nothing about Zed is held under that id."""
    zed = await zed_joins(demo)
    await forget(demo, "Zed")
    await demo.signup("Yan", "Frome")
    yan = await demo.person("Yan")
    assert yan is not None
    data = json.loads((await demo.say("Yan", "/mydata"))[0].file.content)  # type: ignore[union-attr]
    held = json.dumps(data, ensure_ascii=False)
    assert "Zed" not in held and zed.short_id not in held
    assert data["messages_about_you"] == [] or all(
        "Yan" in m["text"] for m in data["messages_about_you"]
    )


async def test_sent_messages_and_used_buttons_are_purged_after_the_retention(demo: Chat) -> None:
    """The attack: a database reader finds every message ever sent, and every
    button ever pressed with what it carried, years later. Now: sent and
    undeliverable outbox rows and used buttons are deleted once
    ``privacy.retention_days`` (30 by default) have passed, expired buttons at
    once; what is still pending or still open is kept."""
    await zed_joins(demo)
    await deliver(demo, RecordingTransport())
    await demo.say("Carol", "/forget")
    await demo.press("Carol", "Cancel")  # a used button

    async def held() -> tuple[list[str], list[Prompt]]:
        async with demo.core.db.transaction() as session:
            statuses = list(await session.scalars(select(OutboxMessage.status)))
            return statuses, list(await session.scalars(select(Prompt)))

    statuses, prompts = await held()
    assert "sent" in statuses and any(p.used_at for p in prompts)
    settings = demo.core.settings
    assert settings.retention_days == 30
    await retention_sweep(demo.core.db, settings, demo.clock.now() + dt.timedelta(days=29))
    assert (await held())[0] == statuses  # not yet

    demo.clock.advance(dt.timedelta(days=31))
    await demo.signup("Sam", "Frome")  # Alice is told: pending, kept
    await demo.say("Dan", "/forget")  # an open button: kept
    await run_sweeps(demo.core.db, settings, demo.clock.now())  # as the scheduler does
    statuses, prompts = await held()
    assert statuses and set(statuses) == {"pending"}
    # Carol's pressed button is gone; Sam's, pressed just now, is kept for 30 days.
    assert [(p.kind, p.used_at is None) for p in prompts] == [("consent", False), ("forget", True)]


async def test_a_forgotten_council_members_seat_is_a_vacancy_filled_by_lot(demo: Chat) -> None:
    """The attack: a council member's /forget silently leaves the council a seat
    short, and nobody knows. Now: the organisers are told that the place is
    vacant, and the next person is drawn and invited under the draw's rules:
    the reserve order its record committed; Zed is warned of it before
    confirming. Here the whole pool was drawn, so nobody is left; members who
    joined after the commitment cannot be brought in
    (tests/test_adversary_draws.py fills a vacancy from a larger pool)."""
    await zed_joins(demo)
    await seat(demo, "Zed")
    await add_members(demo, 2, name="Reserve", features=lambda i: FEATURES)
    replies = await demo.say("Zed", "/forget")
    assert "it becomes vacant, and someone else is drawn" in replies[0].text, text(replies)
    await forget(demo, "Zed")
    async with demo.core.db.transaction() as session:
        seats = await session.scalar(select(func.count()).select_from(CouncilSeat))
        invited = list(
            await session.scalars(
                select(Person.display_name)
                .join(Invitation, Invitation.person_id == Person.id)
                .where(Invitation.status == "invited")
            )
        )
    assert seats == 0
    assert len(invited) == 2 and not any(name.startswith("Reserve") for name in invited)
    told = [t for who, t in await demo.outbox() if who == "Alice"]
    assert any("vacant" in t for t in told), told
    assert any("nobody is left in the pool" in t for t in told), told


async def test_mydata_shows_the_messages_about_you_still_held(demo: Chat) -> None:
    """The attack on the right of access: messages about Zed sent to others
    ("Zed (...) joined the Frome branch") are held, but Zed's /mydata leaves
    them out. Now: /mydata lists them under ``messages_about_you``; nobody
    else's /mydata shows them."""
    await zed_joins(demo)
    data = json.loads((await demo.say("Zed", "/mydata"))[0].file.content)  # type: ignore[union-attr]
    about = [m["text"] for m in data["messages_about_you"]]
    assert any(t.startswith("Zed (") and "joined the Frome branch" in t for t in about), about
    carol = json.loads((await demo.say("Carol", "/mydata"))[0].file.content)  # type: ignore[union-attr]
    assert "Zed" not in json.dumps(carol, ensure_ascii=False)


async def test_an_organisers_undo_aimed_at_a_forgotten_person_reaches_nobody(
    demo: Chat,
) -> None:
    """The attack: Alice demotes Zed (her Undo would make Zed organiser again);
    Zed is forgotten and, on SQLite, the next newcomer, Yan, is given Zed's row
    id; Alice presses the old Undo and Yan becomes an organiser. Now: buttons
    that act on a forgotten person are deleted with them, so the Undo has
    expired and nobody's role changes."""
    zed = await zed_joins(demo)
    await demo.say("Alice", "/promote @zed organiser")
    replies = await demo.say("Alice", "/demote @zed organiser")
    undo = demo.button("Alice", "Undo")
    await forget(demo, "Zed")
    await demo.signup("Yan", "Frome")
    yan = await demo.person("Yan")
    assert yan is not None
    if demo.core.db.is_sqlite:
        assert yan.id == zed.id  # the premise: SQLite gives the id again
    replies = await demo.press("Alice", undo)
    assert replies[0].error and "expired" in replies[0].text, text(replies)
    assert "organiser" not in text(await demo.say("Yan", "/me")).lower()


async def test_the_outbox_keeps_its_messages_across_the_migration(db: Database) -> None:
    """Adding ``about_id`` rebuilds the outbox table on SQLite: a database holding
    messages is upgraded without losing one, each about nobody until written anew."""
    await db.downgrade("0008")
    async with db.engine.begin() as conn:
        await conn.exec_driver_sql(
            "INSERT INTO persons (id, short_id, display_name, locale, reminders, created_at) "
            "VALUES (1, 'AAAAAA', 'Old', 'en', true, '2026-01-01 00:00:00+00:00')"
        )
        await conn.exec_driver_sql(
            "INSERT INTO outbox (id, key, person_id, text, buttons, status, attempts, created_at) "
            "VALUES (1, 'k1', 1, 'hello', '[]', 'sent', 1, '2026-01-01 00:00:00+00:00')"
        )
    await db.upgrade()
    async with db.transaction() as session:
        rows = list(await session.scalars(select(OutboxMessage)))
    assert [(r.key, r.text, r.person_id, r.about_id) for r in rows] == [("k1", "hello", 1, None)]


async def test_a_forgotten_entrant_drawn_after_the_commitment_is_a_vacancy(demo: Chat) -> None:
    """The attack: Zed is in a committed draw's pool and is forgotten before the
    seed is known; the seed then selects Zed's pseudonym, which leads to nobody,
    and the draw cannot complete (or seats a stranger). Now: the draw completes,
    the others drawn are invited, and Zed's place is a vacancy: the organisers
    are told and a replacement is drawn under the draw's rules (from the pool
    the record committed: the quota makes Zed certain to be drawn, and leaves
    two reserves)."""
    await zed_joins(demo)
    await add_members(demo, 2, features=lambda i: FEATURES)
    await add_members(demo, 2, name="Reserve", features=lambda i: {**FEATURES, "age": "65+"})
    replies = await demo.say("Alice", f"/draw 3 age=30-44:3 {lotto(demo.clock)}")
    assert "chance of selection" in replies[0].text, text(replies)
    await demo.press("Alice", "Commit")
    await forget(demo, "Zed")
    replies = await seed_by_lottery(demo)
    assert not replies[0].error and "have been invited" in replies[0].text, text(replies)
    async with demo.core.db.transaction() as session:
        invited = list(
            await session.scalars(
                select(Person.display_name)
                .join(Invitation, Invitation.person_id == Person.id)
                .where(Invitation.status == "invited")
                .order_by(Person.display_name)
            )
        )
    assert len(invited) == 3 and sum(n.startswith("Reserve") for n in invited) == 1, invited
    told = [t for who, t in await demo.outbox() if who == "Alice"]
    assert any("vacant" in t for t in told), told
    async with demo.core.db.transaction() as session:
        draw = await session.get(Draw, 1)
    # The vacancy and its replacement are in the record's history, which replays.
    assert draw is not None and draw.seed is not None
    assert [e["event"] for e in draw.record["history"]] == ["vacated"]
    assert verify(draw.record, draw.seed, published_hash=draw.record_hash).ok


async def test_a_forgotten_witness_no_longer_vouches_for_a_seed(demo: Chat) -> None:
    """The attack: Zed enters a lottery's result as the first witness of a draw,
    then is forgotten; the draw still counts an entry by someone nobody can now
    identify (and on SQLite, whose id the next newcomer takes). Now: the
    forgotten witness's entry goes with them, and two witnesses who are still
    members must agree before the draw is made."""
    await zed_joins(demo)
    await add_members(demo, 3, features=lambda i: FEATURES)
    await demo.say("Alice", f"/draw 2 {lotto(demo.clock)}")
    await demo.press("Alice", "Commit")
    async with demo.core.db.transaction() as session:
        draw = await session.get(Draw, 1)
        assert draw is not None
        due = draw.seed_due_at
    demo.clock.set(due + dt.timedelta(minutes=5))
    replies = await demo.say("Zed", f"/draw seed 1 {LOTTO_RESULT}")
    assert "Result noted" in replies[0].text, text(replies)
    await forget(demo, "Zed")
    replies = await demo.say("Carol", f"/draw seed 1 {LOTTO_RESULT}")
    assert "Result noted" in replies[0].text, text(replies)  # the first witness again
    async with demo.core.db.transaction() as session:
        draw = await session.get(Draw, 1)
        assert draw is not None and draw.status == "committed" and len(draw.witnesses) == 1


async def test_on_sqlite_the_database_files_keep_no_trace_after_the_sweep(demo: Chat) -> None:
    """The attack: SQL says Zed is gone, but the SQLite file (or its write-ahead
    log) still holds the old pages, and a copy of the files shows "Zed accepted
    a place". Now: deleted content is overwritten, and the retention sweep after
    a /forget writes the log back into the file and empties it, so the files
    hold none of Zed's name, handle or platform ids."""
    if not demo.core.db.is_sqlite:
        pytest.skip("the files of an SQLite database")
    zed = await zed_joins(demo)
    await seat(demo, "Zed")
    await deliver(demo, RecordingTransport())
    await forget(demo, "Zed")
    await run_sweeps(demo.core.db, demo.core.settings, demo.clock.now())
    path = Path(str(demo.core.db.url.database))
    pattern = re.compile(
        rb"(?<![A-Za-z0-9_])(zed|"
        + re.escape(zed.short_id.encode())
        + rb"|730012345|zed_tg)(?![A-Za-z0-9_])",
        re.IGNORECASE,
    )
    for name in (path, Path(f"{path}-wal")):
        if name.exists():
            found = pattern.findall(name.read_bytes())
            assert not found, (name.name, found[:5])
