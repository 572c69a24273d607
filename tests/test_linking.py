"""/link: one person on two platforms is one record: one membership, one sign-up."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

from sqlalchemy import func, select

from bot.kernel.outbox import deliver_pending
from bot.linking.merging import person_columns
from bot.linking.rules import merged_dues_and_consent
from storage.models import CanvassSignup, Identity, Person, RoleGrant
from tests.helpers import Chat, RecordingTransport, confirm_link, snapshot, text

TG = "telegram"


def code_in(replies: list) -> str:
    found = re.search(r"\b([0-9A-Z]{4}-[0-9A-Z]{4})\b", text(replies))
    assert found, text(replies)
    return found.group(1)


async def people_count(chat: Chat) -> int:
    async with chat.core.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(Person)) or 0)


async def test_a_new_account_joins_an_existing_record(demo: Chat) -> None:
    code = code_in(await demo.say("Alice", "/link"))
    before = await people_count(demo)
    replies = await demo.say("Alice", f"/link {code.lower()}", platform=TG)
    assert replies[0].text.startswith("Almost done: to confirm, press Link it")
    replies = await confirm_link(demo, "Alice")
    assert replies[0].text.startswith("Linked: your Telegram account is now part of your record")
    assert replies[0].private
    telegram = RecordingTransport(TG)
    await deliver_pending(demo.core.db, {TG: telegram}, demo.clock)
    assert telegram.sent[0][1].startswith("Linked: this Telegram account now belongs to your")
    assert await people_count(demo) == before  # nobody new
    me = text(await demo.say("Alice", "/me", platform=TG))
    assert "Frome" in me and "organiser" in me
    # The organiser's rights come along: she can run Frome from Telegram.
    assert "Frome" in text(await demo.say("Alice", "/branch", platform=TG))


async def test_a_code_works_once_and_only_for_ten_minutes(demo: Chat) -> None:
    code = code_in(await demo.say("Carol", "/link"))
    demo.clock.advance(dt.timedelta(minutes=10, seconds=1))
    assert "wrong, used or expired" in text(await demo.say("Carol", f"/link {code}", platform=TG))
    code = code_in(await demo.say("Carol", "/link"))
    assert "Almost done" in text(await demo.say("Carol", f"/link {code}", platform=TG))
    assert "Linked" in text(await confirm_link(demo, "Carol"))
    assert "wrong, used or expired" in text(await demo.say("Mallory", f"/link {code}", platform=TG))
    assert await demo.person("Mallory") is None


async def test_a_new_code_replaces_the_last(demo: Chat) -> None:
    first = code_in(await demo.say("Carol", "/link"))
    second = code_in(await demo.say("Carol", "/link"))
    assert "wrong" in text(await demo.say("Carol", f"/link {first}", platform=TG))
    assert "Almost done" in text(await demo.say("Carol", f"/link {second}", platform=TG))


async def test_guessing_is_limited_to_five_wrong_codes_an_hour(demo: Chat) -> None:
    code = code_in(await demo.say("Carol", "/link"))
    for guess in ("AAAA-AAAA", "not a code", "BBBB-BBBB", "CCCC-CCCC", "DDDD-DDDD"):
        assert "wrong, used or expired" in text(
            await demo.say("Mallory", f"/link {guess}", platform=TG)
        )
    # Even the right code is refused now, and the refusal is audited.
    assert "Too many wrong codes" in text(await demo.say("Mallory", f"/link {code}", platform=TG))
    demo.clock.advance(dt.timedelta(minutes=61))
    code = code_in(await demo.say("Carol", "/link"))
    assert "Almost done" in text(await demo.say("Mallory", f"/link {code}", platform=TG))


async def test_entering_the_code_on_the_same_platform_is_refused(demo: Chat) -> None:
    code = code_in(await demo.say("Carol", "/link"))
    replies = await demo.say("Dan", f"/link {code}")
    assert replies[0].error and "other platform" in replies[0].text
    # Refused before it was used: it still works where it should.
    assert "Almost done" in text(await demo.say("Carol", f"/link {code}", platform=TG))


async def test_two_records_become_one_keeping_the_older_membership(demo: Chat) -> None:
    # Dan, a Frome supporter here, also signed up on Telegram and joined Bath there.
    demo.clock.advance(dt.timedelta(days=1))
    await demo.say("Dan", "/start", platform=TG)
    await demo.press("Dan", "I agree", platform=TG)
    await demo.say("Dan", "/join Bath", platform=TG)
    assert await people_count(demo) == 13
    code = code_in(await demo.say("Dan", "/link", platform=TG))
    await demo.say("Dan", f"/link {code}")
    replies = await confirm_link(demo, "Dan", TG)
    assert "Linked" in replies[0].text
    assert "you stay in Frome, your older membership" in replies[0].text
    assert "/join Bath" in replies[0].text
    assert await people_count(demo) == 12
    async with demo.core.db.transaction() as session:
        (dan,) = list(await session.scalars(select(Person).where(Person.display_name == "Dan")))
        platforms = set(
            await session.scalars(select(Identity.platform).where(Identity.person_id == dan.id))
        )
        assert platforms == {"console", TG}
        branch = dan.branch_id
    assert "Frome" in text(await demo.say("Dan", "/me", platform=TG))
    assert branch is not None


async def test_a_merge_leaves_nothing_pointing_at_the_dropped_record(demo: Chat) -> None:
    """Every table that refers to a person: rows move, duplicates collapse."""
    await demo.say("Alice", "/canvass schedule saturday 10:30 Market Cross 1")
    # Carol on Telegram is a second record with a role and a sign-up of her own.
    await demo.say("Carol", "/start", platform=TG)
    await demo.press("Carol", "I agree", platform=TG)
    await demo.say("Carol", "/join Frome", platform=TG)
    # The session has one place: console Carol takes it, Telegram Carol waits.
    await demo.say("Carol", "/canvass")
    await demo.press("Carol", "Sign up 1")
    await demo.say("Carol", "/canvass", platform=TG)
    await demo.press("Carol", "Wait for a place 1", platform=TG)
    async with demo.core.db.transaction() as session:
        ids = list(await session.scalars(select(Person.id).where(Person.display_name == "Carol")))
        assert len(ids) == 2
        session.add_all(
            RoleGrant(
                person_id=pid,
                role="organiser",
                scope="branch",
                scope_id=1,
                granted_at=demo.clock.now(),
            )
            for pid in ids
        )
    code = code_in(await demo.say("Carol", "/link", platform=TG))
    await demo.say("Carol", f"/link {code}")
    assert "Linked" in text(await confirm_link(demo, "Carol", TG))
    async with demo.core.db.transaction() as session:
        (kept,) = list(
            await session.scalars(select(Person.id).where(Person.display_name == "Carol"))
        )
        dropped = next(i for i in ids if i != kept)
        for table, column in person_columns():
            count = await session.scalar(
                select(func.count()).select_from(table).where(table.c[column] == dropped)
            )
            assert count == 0, f"{table.name}.{column} still points at the dropped record"
        signups = list(
            await session.scalars(select(CanvassSignup).where(CanvassSignup.person_id == kept))
        )
        assert [s.status for s in signups] == ["going"]
        grants = await session.scalar(
            select(func.count()).select_from(RoleGrant).where(RoleGrant.person_id == kept)
        )
        assert grants == 1
    listing = text(await demo.say("Carol", "/canvass", platform=TG))
    assert "you're going ✓" in listing


async def test_after_linking_one_sign_up_whichever_account(demo: Chat) -> None:
    await demo.say("Alice", "/canvass schedule saturday 10:30 Market Cross 8")
    code = code_in(await demo.say("Carol", "/link"))
    await demo.say("Carol", f"/link {code}", platform=TG)
    await confirm_link(demo, "Carol")
    await demo.say("Carol", "/canvass")
    sign_console = demo.button("Carol", "Sign up 1")
    await demo.say("Carol", "/canvass", platform=TG)
    sign_tg = demo.button("Carol", "Sign up 1")
    await asyncio.gather(
        demo.press("Carol", sign_console), demo.press("Carol", sign_tg, platform=TG)
    )
    async with demo.core.db.transaction() as session:
        count = await session.scalar(select(func.count()).select_from(CanvassSignup))
    assert count == 1
    assert "7 places left · you're going ✓" in text(
        await demo.say("Carol", "/canvass", platform=TG)
    )


async def test_a_linked_person_gets_each_message_once(demo: Chat) -> None:
    code = code_in(await demo.say("Carol", "/link"))
    await demo.say("Carol", f"/link {code}", platform=TG)
    await confirm_link(demo, "Carol")
    console, telegram = RecordingTransport("console"), RecordingTransport(TG)
    await deliver_pending(demo.core.db, {"console": console, TG: telegram}, demo.clock)
    demo.clock.advance(dt.timedelta(hours=2))
    await demo.say("Carol", "/help", platform=TG)
    await demo.say("Alice", "/promote Carol organiser")
    console, telegram = RecordingTransport("console"), RecordingTransport(TG)
    await deliver_pending(demo.core.db, {"console": console, TG: telegram}, demo.clock)
    to_carol = [t for n, t in console.sent + telegram.sent if n == "Carol"]
    assert len(to_carol) == 1
    # The most recently seen account gets it: Telegram, where she wrote last.
    assert [n for n, _ in telegram.sent] == ["Carol"]


async def test_unlink_separates_an_account(demo: Chat) -> None:
    code = code_in(await demo.say("Carol", "/link"))
    await demo.say("Carol", f"/link {code}", platform=TG)
    await confirm_link(demo, "Carol")
    replies = await demo.say("Carol", "/unlink")
    assert [b.label for b in replies[0].button_list()] == ["Unlink Telegram"]
    # Someone else cannot press Carol's button.
    await demo.say("Dan", "/help")  # (his last-seen time is refreshed now, not below)
    before = await snapshot(demo.core.db)
    await demo.press("Dan", demo.button("Carol", "Unlink Telegram"))
    after = await snapshot(demo.core.db)
    assert {k: v for k, v in after.items() if k != "audit_log"} == {
        k: v for k, v in before.items() if k != "audit_log"
    }
    replies = await demo.press("Carol", "Unlink Telegram")
    assert "no longer part of your record" in replies[0].text
    assert "/start" in text(await demo.say("Carol", "/me", platform=TG))
    assert "Frome" in text(await demo.say("Carol", "/me"))
    assert "not linked to any other" in text(await demo.say("Carol", "/unlink"))


async def test_forget_after_linking_removes_both_accounts(demo: Chat) -> None:
    code = code_in(await demo.say("Carol", "/link"))
    await demo.say("Carol", f"/link {code}", platform=TG)
    await confirm_link(demo, "Carol")
    await demo.say("Carol", "/forget", platform=TG)
    await demo.press("Carol", "Yes, delete my data", platform=TG)
    async with demo.core.db.transaction() as session:
        left = await session.scalar(
            select(func.count()).select_from(Identity).where(Identity.user_id == "carol")
        )
    assert left == 0
    assert "/start" in text(await demo.say("Carol", "/me"))


async def test_the_week_before_unlinking_ends_in_the_branchs_own_time(demo: Chat) -> None:
    """In summer Frome's clocks are an hour ahead of UTC: the date a new account may
    unlink the older one is told in the branch's time, the zone named."""
    demo.clock.set(dt.datetime(2027, 6, 3, 11, 0, tzinfo=dt.UTC))
    code = code_in(await demo.say("Carol", "/link"))
    await demo.say("Carol", f"/link {code}", platform=TG)
    await confirm_link(demo, "Carol")
    refused = await demo.say("Carol", "/unlink", platform=TG)
    assert refused[0].error
    assert "before Thu 10 Jun 2027, 12:00 (Europe/London)." in refused[0].text, refused[0].text


def test_the_merged_record_keeps_the_longer_dues_and_the_earlier_consent() -> None:
    early, late = dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    keep = Person(dues_paid_until=dt.date(2027, 1, 1), consented_at=late)
    drop = Person(dues_paid_until=dt.date(2027, 6, 1), consented_at=early)
    assert merged_dues_and_consent(keep, drop) == (dt.date(2027, 6, 1), early)
    assert merged_dues_and_consent(drop, keep) == (dt.date(2027, 6, 1), early)
    # Neither side's missing value wipes the other's out.
    assert merged_dues_and_consent(keep, Person()) == (dt.date(2027, 1, 1), late)
    assert merged_dues_and_consent(Person(), drop) == (dt.date(2027, 6, 1), early)
