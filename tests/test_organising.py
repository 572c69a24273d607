"""Organisers, treasurers and admins run their branch, and every action is audited."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.kernel.permissions import is_member
from storage.models import AuditEntry, Branch, Person, Region, RoleGrant
from tests.helpers import Chat, text


async def short_id(chat: Chat, name: str) -> str:
    person = await chat.person(name)
    assert person is not None
    return person.short_id


async def audit_actions(chat: Chat) -> list[tuple[str, int | None, int | None]]:
    async with chat.core.db.transaction() as session:
        rows = await session.execute(
            select(AuditEntry.action, AuditEntry.actor_id, AuditEntry.subject_id).order_by(
                AuditEntry.id
            )
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_treasurer_records_dues_making_a_member_and_can_undo(demo: Chat) -> None:
    dan = await short_id(demo, "Dan")
    replies = await demo.say("Bob", f"/dues {dan} 2027-11-30")
    assert replies[0].text == "Dues for Dan are now paid until 2027-11-30."
    person = await demo.person("Dan")
    assert person is not None and is_member(person, demo.clock.now(), "Europe/London")
    assert ("Dan", "Your membership dues are recorded as paid until 2027-11-30. Thank you!") in (
        await demo.outbox()
    )
    bob = await demo.person("Bob")
    assert ("dues.set", bob.id, person.id) in await audit_actions(demo)  # type: ignore[union-attr]

    replies = await demo.press("Bob", "Undo")
    assert replies[0].text.startswith("Undone.")
    person = await demo.person("Dan")
    assert person is not None and person.dues_paid_until is None


async def test_dues_are_good_through_the_last_day_in_the_branch_time_zone() -> None:
    person = Person(dues_paid_until=dt.date(2026, 11, 30))
    late_london = dt.datetime(2026, 11, 30, 23, 59, tzinfo=dt.UTC)
    assert is_member(person, late_london, "Europe/London")
    # 23:30 UTC on the 30th is already 1 December in Berlin.
    assert not is_member(person, dt.datetime(2026, 11, 30, 23, 30, tzinfo=dt.UTC), "Europe/Berlin")
    assert not is_member(Person(dues_paid_until=None), late_london, "Europe/London")


async def test_bad_dues_input_gets_a_clear_reply(demo: Chat) -> None:
    dan = await short_id(demo, "Dan")
    for args, expected in [
        (f"{dan} 30/11/2027", "YYYY-MM-DD"),
        (f"{dan} 2099-01-01", "ten years"),
        (f"{dan}", "Usage"),
        ("ZZZZZZ 2027-01-01", "cannot find"),
    ]:
        replies = await demo.say("Bob", f"/dues {args}")
        assert replies[0].error and expected in replies[0].text, args


async def test_organiser_promotes_within_the_branch_and_the_person_is_told(demo: Chat) -> None:
    carol = await short_id(demo, "Carol")
    replies = await demo.say("Alice", f"/promote {carol} organiser")
    assert replies[0].text == "Carol is now organiser of the Frome branch."
    undo = demo.button("Alice", "Undo")
    assert ("Carol", "You are now organiser of the Frome branch.") in await demo.outbox()
    assert "/promote" in (await demo.say("Carol", "/help"))[0].text
    again = await demo.say("Alice", f"/promote {carol} organiser")
    assert again[0].error and "already" in again[0].text
    replies = await demo.press("Alice", undo)
    assert replies[0].text == "Undone. Carol is no longer organiser of the Frome branch."
    assert "/promote" not in (await demo.say("Carol", "/help"))[0].text
    twice = await demo.press("Alice", undo)
    assert twice[0].error and "expired" in twice[0].text


async def test_promote_and_demote_by_handle_with_undo(demo: Chat) -> None:
    await demo.say("Alice", "/promote @dan organiser")
    replies = await demo.say("Alice", "/demote @dan organiser")
    assert replies[0].text == "Dan is no longer organiser of the Frome branch."
    replies = await demo.press("Alice", "Undo")
    assert "Dan is now organiser" in replies[0].text


async def test_an_organiser_cannot_make_an_admin(demo: Chat) -> None:
    before = await audit_actions(demo)
    replies = await demo.say("Alice", "/promote @carol admin")
    assert replies[0].error
    after = await audit_actions(demo)
    assert len(after) == len(before) + 1 and after[-1][0] == "refused"


async def test_the_last_national_admin_cannot_be_removed(demo: Chat) -> None:
    replies = await demo.say("Kai", "/demote @kai admin national")
    assert replies[0].error and "at least one national admin" in replies[0].text


async def test_branch_view_for_organisers_counts_members_and_says_the_next_step(demo: Chat) -> None:
    view = (await demo.say("Erin", "/branch"))[0]
    assert "Bath branch: active" in view.text
    assert "People: 3: 3 members with current dues, 0 supporters." in view.text
    assert "/affiliate Bath" in view.text
    members = await demo.press("Erin", "Members")
    assert "Femi" in members[0].text and members[0].private


async def test_region_admin_affiliates_an_active_branch(demo: Chat) -> None:
    replies = await demo.say("Jo", "/affiliate Bath")
    assert replies[0].text == "The Bath branch is now affiliated, in the South West region."
    told = sorted(n for n, t in await demo.outbox() if "now affiliated" in t)
    assert told == ["Erin", "Femi", "Gita"]
    again = await demo.say("Jo", "/affiliate Bath")
    assert again[0].error and "already affiliated" in again[0].text


async def test_a_proposed_branch_cannot_be_affiliated(demo: Chat) -> None:
    replies = await demo.say("Kai", "/affiliate Wells")
    assert replies[0].error and "first face-to-face meeting" in replies[0].text


async def test_roles_end_when_someone_leaves_their_branch(demo: Chat) -> None:
    await demo.say("Alice", "/leave")
    alice = await demo.person("Alice")
    assert alice is not None
    async with demo.core.db.transaction() as session:
        grants = list(
            await session.scalars(select(RoleGrant).where(RoleGrant.person_id == alice.id))
        )
    assert grants == []
    assert "/promote" not in text(await demo.say("Alice", "/help"))


async def test_an_admin_cannot_take_another_regions_branch(demo: Chat) -> None:
    async with demo.core.db.transaction() as session:
        north = Region(name="North", slug="north", created_at=demo.clock.now())
        session.add(north)
        await session.flush()
        nora = await session.scalar(select(Person).where(Person.display_name == "Femi"))
        assert nora is not None
        session.add(
            RoleGrant(
                person_id=nora.id,
                role="admin",
                scope="region",
                scope_id=north.id,
                granted_at=demo.clock.now(),
            )
        )
    replies = await demo.say("Femi", "/affiliate Bath to North")
    assert replies[0].error
    async with demo.core.db.transaction() as session:
        bath = await session.scalar(select(Branch).where(Branch.slug == "bath"))
    assert bath is not None and bath.status == "active"


async def test_a_role_undo_acts_where_the_change_was_made(demo: Chat) -> None:
    await demo.say("Jo", "/demote @alice organiser")
    undo = demo.button("Jo", "Undo")
    await demo.say("Alice", "/join Bath")
    await demo.press("Alice", "Move to Bath")
    replies = await demo.press("Jo", undo)
    assert "organiser of the Frome branch" in replies[0].text
    assert "Bath" not in replies[0].text


async def test_a_dues_undo_does_not_overwrite_a_later_change(demo: Chat) -> None:
    await demo.say("Bob", "/dues @carol 2027-01-31")
    undo = demo.button("Bob", "Undo")
    await demo.say("Jo", "/dues @carol 2028-06-30")
    replies = await demo.press("Bob", undo)
    assert replies[0].error and "changed again since" in replies[0].text
    carol = await demo.person("Carol")
    assert carol is not None and carol.dues_paid_until == dt.date(2028, 6, 30)


async def test_a_dues_undo_for_someone_in_no_branch(demo: Chat) -> None:
    await demo.signup("Zed")
    await demo.say("Kai", "/dues @zed 2027-01-01")
    replies = await demo.press("Kai", "Undo")
    assert replies[0].text.startswith("Undone.")


async def test_nobody_is_told_about_their_own_change(demo: Chat) -> None:
    await demo.say("Kai", "/promote @jo admin national")
    assert "Jo" in [n for n, _ in await demo.outbox()]
    await demo.say("Jo", "/demote @jo admin national")
    assert [n for n, t in await demo.outbox() if "no longer" in t] == []


async def test_an_organiser_refused_dues_is_told_the_real_reason(demo: Chat) -> None:
    """Carol is on Alice's Members list: "cannot find" would be untrue."""
    replies = await demo.say("Alice", "/dues @carol 2027-01-01")
    assert replies[0].error
    assert "That needs the treasurer role (or an admin's)" in replies[0].text
    assert "cannot find" not in replies[0].text
    # Someone who does not look after Carol learns nothing about her.
    replies = await demo.say("Erin", "/dues @carol 2027-01-01")
    assert replies[0].error and "cannot find @carol" in replies[0].text


async def test_an_organiser_merges_an_imported_record_with_its_chat_record(demo: Chat) -> None:
    """Dee joined from chat before the party imported her membership: /claim tells
    her to ask for a merge, and her organiser can now do it, nothing doubled."""
    import io

    from bot.membership.importer import import_members, read_rows
    from storage.models import Identity

    rows = read_rows(io.StringIO("name,branch,dues_paid_until\nDee,Frome,2027-06-30\n"))
    report = await import_members(demo.core.db, rows, now=demo.clock.now())
    imported = report.imported[0]
    await demo.signup("Dee", "Frome")  # a supporter record of her own, from chat
    replies = await demo.say("Dee", f"/claim {imported.claim_code}")
    assert replies[0].error and "/merge" in replies[0].text
    chat_record = await demo.person("Dee")
    assert chat_record is not None
    # Neither a member nor a stranger can merge; two chat accounts are never merged.
    assert (await demo.say("Carol", f"/merge {imported.short_id} {chat_record.short_id}"))[0].error
    assert (await demo.say("Alice", f"/merge {chat_record.short_id} @carol"))[0].error
    replies = await demo.say("Alice", f"/merge {imported.short_id} {chat_record.short_id}")
    assert not replies[0].error and "Merged" in replies[0].text, replies[0].text
    me = text(await demo.say("Dee", "/me"))
    assert imported.short_id in me and "dues paid until 2027-06-30" in me
    async with demo.core.db.transaction() as session:
        deez = list(await session.scalars(select(Person).where(Person.display_name == "Dee")))
        ids = list(await session.scalars(select(Identity).where(Identity.user_id == "dee")))
    assert len(deez) == 1 and len(ids) == 1 and ids[0].person_id == deez[0].id
