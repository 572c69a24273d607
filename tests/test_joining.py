"""A person arrives, agrees to the privacy notice and joins a branch."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from storage.models import Branch, BranchTransition, Consent, Person
from tests.helpers import Chat, snapshot, text


async def test_nothing_is_stored_before_consent(chat: Chat) -> None:
    before = await snapshot(chat.core.db)
    replies = await chat.say("Sam", "/start")
    assert "Privacy" in replies[0].text
    assert [b.label for b in replies[0].button_list()] == ["I agree"]
    await chat.say("Sam", "/help")
    after = await snapshot(chat.core.db)
    assert after["persons"] == before["persons"] == []
    assert after["identities"] == []


async def test_consent_is_recorded_with_the_notice_version(chat: Chat) -> None:
    await chat.signup("Sam")
    person = await chat.person("Sam")
    assert person is not None and person.consented_at == chat.clock.now()
    async with chat.core.db.transaction() as session:
        consent = await session.scalar(select(Consent).where(Consent.person_id == person.id))
    assert consent is not None and consent.notice_version == chat.core.settings.notice_version


async def test_pressing_i_agree_twice_creates_one_person(chat: Chat) -> None:
    await chat.say("Sam", "/start")
    button = chat.button("Sam", "I agree")
    await chat.press("Sam", button)
    again = await chat.press("Sam", button)
    assert again[0].error and "expired" in again[0].text
    async with chat.core.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Person)) == 1


async def test_join_before_consent_asks_first_then_joins(demo: Chat) -> None:
    replies = await demo.say("Sam", "/join Frome")
    assert "Privacy" in replies[0].text
    replies = await demo.press("Sam", "I agree")
    assert "Welcome to the Frome branch" in text(replies)
    person = await demo.person("Sam")
    assert person is not None and person.branch_id is not None


async def test_join_by_postcode_joins_the_branch_that_covers_it(demo: Chat) -> None:
    """BA11 is Frome's: no offer to propose a second branch beside it."""
    await demo.signup("Sam")
    replies = await demo.say("Sam", "/join BA11 4AB")
    assert "Welcome to the Frome branch" in text(replies)
    assert not any("Propose" in b.label for r in replies for b in r.button_list())
    await demo.signup("Tess")
    replies = await demo.say("Tess", "/join nunney")
    assert "Welcome to the Frome branch" in text(replies)


@pytest.mark.parametrize("place", ["東京", "القاهرة", "Москва", "Ynys Môn"])
async def test_place_names_in_any_script_propose_and_then_find_a_branch(
    chat: Chat, place: str
) -> None:
    await chat.signup("Ann")
    replies = await chat.say("Ann", f"/join {place}")
    assert not replies[0].error, replies[0].text
    replies = await chat.press("Ann", "Propose")
    assert "first person interested" in text(replies)
    await chat.signup("Ben")
    replies = await chat.say("Ben", f"/join {place}")
    assert f"interested in a {place} branch" in text(replies)


async def test_organisers_are_told_when_someone_joins(demo: Chat) -> None:
    await demo.signup("Sam", "Frome")
    person = await demo.person("Sam")
    assert person is not None
    assert ("Alice", f"Sam ({person.short_id}) joined the Frome branch.") in await demo.outbox()


async def test_joined_message_is_queued_once_per_organiser(demo: Chat) -> None:
    await demo.signup("Sam", "Frome")
    rows = [r for r in await demo.outbox() if "joined" in r[1]]
    assert rows == [("Alice", rows[0][1])]


async def test_undo_a_join(demo: Chat) -> None:
    await demo.signup("Sam", "Frome")
    replies = await demo.press("Sam", "Undo")
    assert "no longer in the Frome branch" in text(replies)
    person = await demo.person("Sam")
    assert person is not None and person.branch_id is None


async def test_moving_branch_asks_first_and_ends_roles_there(demo: Chat) -> None:
    replies = await demo.say("Alice", "/join Bath")
    assert "Move to Bath" in replies[0].button_list()[0].label
    alice = await demo.person("Alice")
    assert alice is not None
    frome = alice.branch_id
    replies = await demo.press("Alice", "Move to Bath")
    assert "Welcome to the Bath branch" in text(replies)
    me = await demo.say("Alice", "/me")
    assert "organiser" not in me[0].text
    assert "Bath" in me[0].text and frome != (await demo.person("Alice")).branch_id  # type: ignore[union-attr]


async def test_unknown_place_proposes_a_branch_that_forms_with_interest_and_organiser(
    demo: Chat,
) -> None:
    await demo.signup("Sam")
    replies = await demo.say("Sam", "/join Shepton Mallet")
    assert "No branch covers Shepton Mallet yet" in replies[0].text
    replies = await demo.press("Sam", "Propose")
    assert "first person interested" in text(replies)
    await demo.signup("Tom", "Shepton Mallet")
    await demo.signup("Uma", "Shepton Mallet")
    async with demo.core.db.transaction() as session:
        branch = await session.scalar(select(Branch).where(Branch.slug == "shepton-mallet"))
    assert branch is not None and branch.status == "proposed"  # 3 people, no organiser yet

    await demo.press("Sam", "volunteer:" + str(branch.id))
    assert any(name == "Kai" and "offers to organise" in t for name, t in await demo.outbox())
    sam = await demo.person("Sam")
    assert sam is not None
    replies = await demo.say("Kai", f"/promote {sam.short_id} organiser")
    assert "is now organiser" in replies[0].text
    async with demo.core.db.transaction() as session:
        branch = await session.scalar(select(Branch).where(Branch.slug == "shepton-mallet"))
        steps = list(
            await session.scalars(
                select(BranchTransition.to_status)
                .where(BranchTransition.branch_id == branch.id)  # type: ignore[union-attr]
                .order_by(BranchTransition.id)
            )
        )
    assert branch is not None and branch.status == "forming"
    assert steps == ["proposed", "forming"]
    told = [name for name, t in await demo.outbox() if "is forming" in t]
    assert sorted(told) == ["Sam", "Tom", "Uma"]


async def test_proposing_a_place_someone_proposed_meanwhile_joins_it(chat: Chat) -> None:
    await chat.signup("Sam")
    await chat.signup("Tom")
    await chat.say("Sam", "/join Wells")
    await chat.say("Tom", "/join Wells")
    await chat.press("Sam", "Propose")
    await chat.press("Tom", "Propose")
    async with chat.core.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Branch)) == 1
    tom = await chat.person("Tom")
    assert tom is not None and tom.branch_id is not None


async def test_leave_and_undo(demo: Chat) -> None:
    replies = await demo.say("Carol", "/leave")
    assert "left the Frome branch" in replies[0].text
    replies = await demo.press("Carol", "Undo")
    assert "Welcome to the Frome branch" in text(replies)


async def test_undo_after_leaving_a_proposed_branch_keeps_the_offer_to_organise(
    chat: Chat,
) -> None:
    await chat.signup("Ann", "Frome")
    await chat.press("Ann", "Propose")
    await chat.say("Ann", "/leave")
    replies = await chat.press("Ann", "Undo")
    assert "Could you organise it?" in text(replies)
    labels = [b.label for r in replies for b in r.button_list()]
    assert labels == ["I can organise it"]
    replies = await chat.press("Ann", "I can organise it")
    assert not replies[0].error


async def test_leave_when_not_in_a_branch_is_a_clear_refusal(chat: Chat) -> None:
    await chat.signup("Sam")
    replies = await chat.say("Sam", "/leave")
    assert replies[0].error and "not in a branch" in replies[0].text


async def test_me_shows_membership_with_dues_and_roles(demo: Chat) -> None:
    me = (await demo.say("Bob", "/me"))[0]
    assert "Member: dues paid until" in me.text
    assert "treasurer of the Frome branch" in me.text
    assert me.private
    lee = (await demo.say("Lee", "/me"))[0].text
    assert "your dues ran out" in lee


async def test_deep_link_start_joins_the_branch(demo: Chat) -> None:
    await demo.say("Sam", "/start join-frome")
    replies = await demo.press("Sam", "I agree")
    assert "Welcome to the Frome branch" in text(replies)


async def test_help_lists_only_what_the_person_may_use(demo: Chat) -> None:
    member = (await demo.say("Carol", "/help"))[0].text
    organiser = (await demo.say("Alice", "/help"))[0].text
    treasurer = (await demo.say("Bob", "/help"))[0].text
    admin = (await demo.say("Kai", "/help"))[0].text
    assert "/join" in member and "/promote" not in member and "/dues" not in member
    assert "/promote" in organiser and "/branch" in organiser and "/dues" not in organiser
    assert "/dues" in treasurer and "/promote" not in treasurer
    assert "/affiliate" in admin and "/dues" in admin


async def test_proposing_a_branch_while_in_one_asks_before_moving(demo: Chat) -> None:
    await demo.say("Alice", "/join Midsomer Norton")
    replies = await demo.press("Alice", "Propose")
    assert "moves you there" in replies[0].text
    alice = await demo.person("Alice")
    assert alice is not None and alice.branch_id is not None
    async with demo.core.db.transaction() as session:
        assert (
            await session.scalar(select(Branch.id).where(Branch.slug == "midsomer-norton")) is None
        )
    replies = await demo.press("Alice", "Propose Midsomer Norton and move")
    assert "first person interested in a Midsomer Norton branch" in text(replies)


async def test_undo_of_a_leave_restores_the_roles_that_ended(demo: Chat) -> None:
    replies = await demo.say("Bob", "/leave")
    assert "Your roles there have ended." in replies[0].text
    await demo.press("Bob", "Undo")
    assert "/dues" in text(await demo.say("Bob", "/help"))


async def test_an_old_join_undo_does_not_undo_a_later_join(demo: Chat) -> None:
    await demo.signup("Sam", "Frome")
    old = demo.button("Sam", "Undo")
    await demo.say("Sam", "/leave")
    demo.clock.advance(dt.timedelta(minutes=5))
    await demo.say("Sam", "/join Frome")
    replies = await demo.press("Sam", old)
    assert replies[0].error
    sam = await demo.person("Sam")
    assert sam is not None and sam.branch_id is not None


async def test_a_join_undo_expires_after_two_days(demo: Chat) -> None:
    await demo.signup("Sam", "Frome")
    undo = demo.button("Sam", "Undo")
    demo.clock.advance(dt.timedelta(days=2, seconds=1))
    replies = await demo.press("Sam", undo)
    assert replies[0].error and "expired" in replies[0].text
    forged = await demo.press("Carol", undo)  # and it is Sam's alone
    assert forged[0].error
