"""/members: the people an organiser, treasurer or admin may see, searched,
filtered and paged; the export, scoped and audited; the dues renewals.

The demo party (NOW is 2026-11-26): Frome (Alice organises, Bob its treasurer;
Carol, Jo members; Dan a supporter; Lee's dues lapsed 2026-09-26), Bath (Erin
organises and keeps the dues; Femi, Gita members), Wells (Hana, Ivan
supporters); Jo is the South West region's admin, Kai the national admin.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from dataclasses import replace

from sqlalchemy import select

from bot.membership.importer import ImportReport, import_members, read_rows
from storage.models import AuditEntry, Branch, Identity, Person, Region
from tests.helpers import Chat, text


async def set_dues(chat: Chat, name: str, until: dt.date | None) -> None:
    async with chat.core.db.transaction() as session:
        person = await session.scalar(select(Person).where(Person.display_name == name))
        assert person is not None
        person.dues_paid_until = until


def names(listing: str) -> set[str]:
    return {line.split(" · ")[0] for line in listing.splitlines()[1:] if " · " in line}


async def test_an_organiser_lists_and_filters_their_branch(demo: Chat) -> None:
    await set_dues(demo, "Carol", dt.date(2026, 12, 10))  # within 30 days
    listing = text(await demo.say("Alice", "/members"))
    assert "People (everyone): 6." in listing
    assert names(listing) == {"Alice", "Bob", "Carol", "Dan", "Jo", "Lee"}
    assert "Carol · " in listing and "member · dues until 2026-12-10" in listing
    assert "Lee" in listing and "lapsed · dues until 2026-09-26" in listing
    assert "telegram" not in listing and "console" not in listing  # no platform ids
    assert names(text(await demo.say("Alice", "/members members"))) == {
        "Alice",
        "Bob",
        "Carol",
        "Jo",
    }
    assert names(text(await demo.say("Alice", "/members supporters"))) == {"Dan", "Lee"}
    assert names(text(await demo.say("Alice", "/members lapsing"))) == {"Carol"}
    assert names(text(await demo.say("Alice", "/members lapsed"))) == {"Lee"}
    assert names(text(await demo.say("Alice", "/members all ca"))) == {"Carol"}
    # A treasurer sees the same branch.
    assert names(text(await demo.say("Bob", "/members lapsed"))) == {"Lee"}


async def test_not_reachable_are_those_the_bot_cannot_write_to(demo: Chat) -> None:
    async with demo.core.db.transaction() as session:
        dan = await session.scalar(select(Person).where(Person.display_name == "Dan"))
        assert dan is not None
        for identity in await session.scalars(select(Identity).where(Identity.person_id == dan.id)):
            identity.unreachable = True  # he blocked the bot
    listing = text(await demo.say("Alice", "/members unreachable"))
    assert names(listing) == {"Dan"} and "not reachable" in listing


async def test_a_member_gets_a_friendly_refusal_and_sees_no_one(demo: Chat) -> None:
    replies = await demo.say("Carol", "/members")
    assert replies[0].error
    assert "Only organisers, treasurers and the admins over them" in text(replies)
    assert "Dan" not in text(replies)
    replies = await demo.say("Carol", "/members export")
    assert replies[0].error and replies[0].file is None


async def test_a_regional_admin_sees_only_their_region(demo: Chat) -> None:
    async with demo.core.db.transaction() as session:
        north = Region(name="North", slug="north", created_at=demo.clock.now())
        session.add(north)
        await session.flush()
        wells = await session.scalar(select(Branch).where(Branch.slug == "wells"))
        assert wells is not None
        wells.region_id = north.id
    listing = text(await demo.say("Jo", "/members"))
    assert names(listing) == {"Alice", "Bob", "Carol", "Dan", "Jo", "Lee", "Erin", "Femi", "Gita"}
    assert "Frome" in listing and "Bath" in listing  # the branch is shown above one branch
    # The national admin sees everyone, Wells and Kai (in no branch) too.
    everyone = text(await demo.say("Kai", "/members"))
    assert {"Hana", "Ivan", "Kai"} <= names(everyone) and "People (everyone): 12." in everyone
    # Bath's organiser sees Bath only.
    assert names(text(await demo.say("Erin", "/members"))) == {"Erin", "Femi", "Gita"}


async def test_pages_with_previous_and_next(demo: Chat) -> None:
    async with demo.core.db.transaction() as session:
        frome = await session.scalar(select(Branch).where(Branch.slug == "frome"))
        assert frome is not None
        for i in range(30):
            session.add(
                Person(
                    short_id=f"ZZ{i:04}",
                    display_name=f"Zed {i:02}",
                    branch_id=frome.id,
                    created_at=demo.clock.now(),
                )
            )
    first = text(await demo.say("Alice", "/members"))
    assert "People (everyone): 36. Page 1 of 2." in first
    assert len(names(first)) == 20
    second = await demo.press("Alice", "Next")
    assert "Page 2 of 2." in text(second) and len(names(text(second))) == 16
    assert names(first).isdisjoint(names(text(second)))
    back = await demo.press("Alice", "◀ Previous")
    assert names(text(back)) == names(first)
    # Someone else cannot use Alice's buttons.
    pressed = await demo.press("Bob", demo.button("Alice", "Next"))
    assert pressed[0].error and "expired" in text(pressed)
    typed = text(await demo.say("Alice", "/members all zed page 2"))
    assert "Page 2 of 2." in typed and names(typed) == {f"Zed {i:02}" for i in range(20, 30)}


async def test_bad_input_gets_a_clear_reply(demo: Chat) -> None:
    replies = await demo.say("Alice", "/members lapsng")
    assert replies[0].error and "There is no filter called lapsng" in text(replies)
    replies = await demo.say("Alice", "/members lapsed page 9")
    assert replies[0].error and "There is no page 9: the list has 1 page." in text(replies)
    replies = await demo.say("Alice", "/members page two")
    assert replies[0].error and "Give the page as a number" in text(replies)
    replies = await demo.press("Alice", "mempage:999999.2")
    assert replies[0].error and "expired" in text(replies)
    for data in ("mempage:99999999999999999999.1", "mempage:1.²", "mempage:²"):
        replies = await demo.press("Alice", data)
        assert replies[0].error and "expired" in text(replies)
    replies = await demo.say("Alice", "/members page ²")
    assert replies[0].error and "Give the page as a number" in text(replies)


async def test_export_is_scoped_and_audited_with_the_count(demo: Chat) -> None:
    replies = await demo.say("Erin", "/members export")
    [reply] = replies
    assert reply.file is not None and reply.file.filename.endswith(".csv")
    content = reply.file.content.decode()
    lines = content.strip().splitlines()
    assert lines[0] == "name,ID,branch,status,dues paid until,reachable"
    assert {line.split(",")[0] for line in lines[1:]} == {"Erin", "Femi", "Gita"}
    assert "Alice" not in content
    async with demo.core.db.transaction() as session:
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "members.export")
        )
    assert entry is not None and entry.details == {"people": 3, "filter": "all"}
    assert "Femi" not in str(entry.details)


# --- dues renewals ------------------------------------------------------------


async def test_a_renewal_reminder_is_sent_once_even_if_the_job_runs_twice(demo: Chat) -> None:
    from bot.members.renewals import remind_renewals

    await set_dues(demo, "Carol", dt.date(2026, 12, 5))  # within 14 days
    await set_dues(demo, "Femi", dt.date(2026, 12, 20))  # 24 days away: not yet
    db, now = demo.core.db, demo.clock.now()
    settings = replace(demo.core.settings, dues_renewal="https://party.example/renew")
    assert await remind_renewals(db, settings, now) == 1
    assert await remind_renewals(db, settings, now) == 0  # again (a restart, a second worker)
    assert await remind_renewals(db, settings, now + dt.timedelta(days=2)) == 0
    sent = [(name, words) for name, words in await demo.outbox() if "dues" in words]
    assert len(sent) == 1
    [(name, words)] = sent
    assert name == "Carol"
    assert "paid until 2026-12-05" in words and "To renew: https://party.example/renew" in words
    # Femi's turn comes when his dues are 14 days away; renewed dues are reminded anew.
    assert await remind_renewals(db, settings, now + dt.timedelta(days=10)) == 1
    await set_dues(demo, "Carol", dt.date(2027, 1, 5))
    later = dt.datetime(2026, 12, 25, 12, 0, tzinfo=dt.UTC)
    assert await remind_renewals(db, settings, later) == 1
    reminded = {name for name, words in await demo.outbox() if "membership dues are paid" in words}
    assert reminded == {"Carol", "Femi"}


async def test_two_workers_at_once_remind_once(demo: Chat) -> None:
    from bot.members.renewals import remind_renewals

    await set_dues(demo, "Carol", dt.date(2026, 12, 5))
    db, settings, now = demo.core.db, demo.core.settings, demo.clock.now()
    runs = await asyncio.gather(
        remind_renewals(db, settings, now), remind_renewals(db, settings, now)
    )
    assert sorted(runs) == [0, 1]
    sent = [words for name, words in await demo.outbox() if "membership dues" in words]
    assert len(sent) == 1 and "Your branch's treasurer can tell you how to renew." in sent[0]


async def test_treasurers_get_a_weekly_list_per_branch(demo: Chat) -> None:
    from bot.members.renewals import weekly_dues

    await set_dues(demo, "Carol", dt.date(2026, 12, 10))  # renews within 30 days
    await set_dues(demo, "Dan", dt.date(2026, 11, 22))  # lapsed this week
    db, settings, now = demo.core.db, demo.core.settings, demo.clock.now()
    async with db.transaction() as session:
        frome = await session.scalar(select(Branch).where(Branch.slug == "frome"))
        bath = await session.scalar(select(Branch).where(Branch.slug == "bath"))
        assert frome is not None and bath is not None
        frome_id, bath_id = frome.id, bath.id
    assert await weekly_dues(db, settings, now, frome_id) == 2
    assert await weekly_dues(db, settings, now, frome_id) == 2  # queued once all the same
    assert await weekly_dues(db, settings, now, bath_id) == 0  # nothing to say for Bath
    lists = [(name, words) for name, words in await demo.outbox() if "Dues in the" in words]
    assert [name for name, _ in lists] == ["Bob"]  # Frome's treasurer, once
    [(_, words)] = lists
    assert "Lapsed in the last week (1):\n• Dan" in words and "2026-11-22" in words
    assert "Renewing within 30 days (1):\n• Carol" in words
    assert "Lee" not in words  # lapsed long ago: not this week's news


# --- organiser import updates dues ----------------------------------------------


async def _import(chat: Chat, csv_text: str) -> ImportReport:
    rows = read_rows(io.StringIO(csv_text))
    return await import_members(chat.core.db, rows, now=chat.clock.now())


async def _people(chat: Chat) -> dict[str, dt.date | None]:
    async with chat.core.db.transaction() as session:
        return {p.display_name: p.dues_paid_until for p in await session.scalars(select(Person))}


async def test_import_updates_dues_by_claim_code_without_a_duplicate(demo: Chat) -> None:
    first = await _import(demo, "name,branch,dues_paid_until\nMo Patel,Frome,2026-12-31\n")
    [added] = first.imported
    before = await _people(demo)
    again = await _import(
        demo,
        "name,branch,dues_paid_until,claim_code\n"
        f"Mo Patel,Frome,2027-12-31,{added.claim_code.lower()}\n",
    )
    assert again.rejected == [] and again.imported == []
    [updated] = again.updated
    assert (updated.name, updated.previous, updated.dues) == (
        "Mo Patel",
        dt.date(2026, 12, 31),
        dt.date(2027, 12, 31),
    )
    after = await _people(demo)
    assert len(after) == len(before)  # no one added
    assert after["Mo Patel"] == dt.date(2027, 12, 31)
    # The organiser sees it in the list.
    listing = text(await demo.say("Alice", "/members all mo"))
    assert "Mo Patel" in listing and "dues until 2027-12-31" in listing


async def test_import_updates_dues_by_platform_account(demo: Chat) -> None:
    before = await _people(demo)
    report = await _import(
        demo,
        "name,branch,dues_paid_until,platform,user_id\nCarol,Frome,2028-01-31,console,carol\n",
    )
    assert report.rejected == [] and report.imported == [] and len(report.updated) == 1
    after = await _people(demo)
    assert len(after) == len(before) and after["Carol"] == dt.date(2028, 1, 31)


async def test_import_rejects_unknown_codes_and_the_same_person_twice(demo: Chat) -> None:
    before = await _people(demo)
    report = await _import(
        demo,
        "name,branch,dues_paid_until,platform,user_id,claim_code\n"
        "Carol,Frome,2028-01-31,console,carol,\n"
        "Carol,Frome,2029-01-31,console,carol,\n"
        "Nobody,Frome,2028-01-31,,,NOSUCHCODE\n"
        "Ghost,Frome,2028-01-31,telegram,424242,\n"
        "Half,Frome,2028-01-31,telegram,,\n"
        "Dan,Frome,2028-01-31,,,\n",
    )
    reasons = [r.reason for r in report.rejected]
    assert reasons[0] == "the same person appears earlier"
    assert "no one has the claim code 'NOSUCHCODE'" in reasons[1]
    assert "no one has the telegram account '424242'" in reasons[2]
    assert reasons[3] == "platform and user_id go together"
    assert reasons[4].startswith("Dan is already in Frome (to update their dues")
    assert len(report.updated) == 1
    after = await _people(demo)
    assert len(after) == len(before) and after["Carol"] == dt.date(2028, 1, 31)


def test_the_members_hint_names_every_filter() -> None:
    """/help's hint for /members is a literal (the catalogue needs one): it names
    each filter /members takes."""
    from bot.app import build_handlers
    from bot.members.rules import FILTERS

    usage = build_handlers().commands["members"].usage
    assert all(f in usage.split("]")[1] for f in FILTERS), usage
