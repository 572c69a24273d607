"""The outbox: written with the change, delivered once, failures recorded."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import func, select

from bot.kernel.outbox import enqueue
from storage.models import Identity, OutboxMessage
from tests.helpers import Chat, RecordingTransport, deliver


async def test_message_is_written_only_if_the_change_commits(demo: Chat) -> None:
    carol = await demo.person("Carol")
    assert carol is not None

    class Boom(Exception):
        pass

    try:
        async with demo.core.db.transaction() as session:
            await enqueue(session, key="k1", person_id=carol.id, text="hi", now=demo.clock.now())
            raise Boom
    except Boom:
        pass
    assert await demo.outbox() == []


async def test_the_same_key_is_queued_once(demo: Chat) -> None:
    carol = await demo.person("Carol")
    assert carol is not None
    for _ in range(3):
        async with demo.core.db.transaction() as session:
            await enqueue(session, key="same", person_id=carol.id, text="hi", now=demo.clock.now())
    assert await demo.outbox() == [("Carol", "hi")]


async def test_delivery_sends_each_message_once(demo: Chat) -> None:
    await demo.signup("Sam", "Frome")
    transport = RecordingTransport()
    await deliver(demo, transport)
    await deliver(demo, transport)
    assert [name for name, _ in transport.sent] == ["Alice"]
    async with demo.core.db.transaction() as session:
        row = await session.scalar(select(OutboxMessage))
    assert row is not None and row.status == "sent" and row.sent_at == demo.clock.now()


async def test_a_refused_delivery_marks_the_person_unreachable(demo: Chat) -> None:
    await demo.signup("Sam", "Frome")
    transport = RecordingTransport(refuse={"alice"})
    await deliver(demo, transport)
    async with demo.core.db.transaction() as session:
        row = await session.scalar(select(OutboxMessage))
        ident = await session.scalar(select(Identity).where(Identity.user_id == "alice"))
    assert row is not None and row.status == "undeliverable" and "blocked" in (row.last_error or "")
    assert ident is not None and ident.unreachable
    # Writing to the bot again makes them reachable again.
    await demo.say("Alice", "/me")
    async with demo.core.db.transaction() as session:
        ident = await session.scalar(select(Identity).where(Identity.user_id == "alice"))
    assert ident is not None and not ident.unreachable


async def test_a_message_waits_for_the_platform_that_can_carry_it(demo: Chat) -> None:
    await demo.signup("Sam", "Frome")
    await deliver(demo, RecordingTransport(platform="telegram"))
    async with demo.core.db.transaction() as session:
        pending = await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "pending")
        )
    assert pending == 1  # Alice is on the console only: the row waits, not lost


async def test_a_temporary_failure_keeps_the_message_for_the_next_round(demo: Chat) -> None:
    await demo.signup("Sam", "Frome")

    class Flaky(RecordingTransport):
        def __init__(self) -> None:
            super().__init__()
            self.fail = True

        async def send(self, recipient, reply):  # type: ignore[no-untyped-def]
            if self.fail:
                self.fail = False
                raise TimeoutError("network")
            await super().send(recipient, reply)

    flaky = Flaky()
    await deliver(demo, flaky)
    assert flaky.sent == []
    await deliver(demo, flaky)  # backing off: not yet
    assert flaky.sent == []
    demo.clock.advance(dt.timedelta(seconds=2))
    await deliver(demo, flaky)
    assert [n for n, _ in flaky.sent] == ["Alice"]
    async with demo.core.db.transaction() as session:
        row = await session.scalar(select(OutboxMessage))
    assert row is not None and row.attempts == 2 and row.status == "sent"


async def test_organisers_see_what_could_not_be_delivered(demo: Chat) -> None:
    await demo.signup("Sam", "Frome")
    ok = await demo.say("Alice", "/delivery")
    assert "got through" in ok[0].text
    await demo.say("Bob", "/dues @carol 2027-12-31")  # Carol is told
    await deliver(demo, RecordingTransport(refuse={"carol"}))
    report = (await demo.say("Alice", "/delivery"))[0]
    assert report.private
    assert "Carol (" in report.text and "given up" in report.text
    assert "cannot be reached on console" in report.text


async def test_a_message_failing_for_a_day_is_given_up_and_shown(demo: Chat) -> None:
    await demo.say("Bob", "/dues @carol 2027-12-31")

    class Down(RecordingTransport):
        async def send(self, recipient, reply):  # type: ignore[no-untyped-def]
            raise ConnectionError("platform down")

    down = Down()
    await deliver(demo, down)
    demo.clock.advance(dt.timedelta(hours=25))
    await deliver(demo, down)
    async with demo.core.db.transaction() as session:
        row = await session.scalar(select(OutboxMessage))
    assert row is not None and row.status == "undeliverable"
    assert (row.last_error or "").startswith("gave up after 24 hours")


async def test_two_workers_at_once_send_each_message_once(demo: Chat) -> None:
    await demo.say("Kai", "/campaign start General 2027-05-06 national")  # a call-out to all
    transport = RecordingTransport()
    await asyncio.gather(deliver(demo, transport), deliver(demo, transport))
    names = [n for n, _ in transport.sent]
    assert len(names) == len(set(names)) > 5
