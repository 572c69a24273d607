"""/profile: opting in to sortition, answering (or not), opting out, forgetting."""

from __future__ import annotations

import json

from sqlalchemy import select

from storage.models import Consent, SortitionProfile
from tests.helpers import Chat, snapshot


async def profile_of(chat: Chat, name: str) -> SortitionProfile | None:
    person = await chat.person(name)
    assert person is not None
    async with chat.core.db.transaction() as session:
        return await session.scalar(
            select(SortitionProfile).where(SortitionProfile.person_id == person.id)
        )


async def test_opting_in_answering_and_opting_out(demo: Chat) -> None:
    replies = await demo.say("Carol", "/profile")
    assert "opt in" in replies[0].text and replies[0].private
    replies = await demo.press("Carol", "Opt in")
    assert replies[0].text == "Gender?"
    assert [b.label for b in replies[0].button_list()][-1] == "Prefer not to say"
    await demo.press("Carol", "woman")
    replies = await demo.press("Carol", "Prefer not to say")
    assert "you are in the draw" in replies[0].text
    assert "• gender: woman" in replies[0].text and "• age: prefer not to say" in replies[0].text
    profile = await profile_of(demo, "Carol")
    assert profile is not None and profile.features == {
        "gender": "woman",
        "age": "prefer not to say",
    }
    async with demo.core.db.transaction() as session:
        purposes = set(await session.scalars(select(Consent.purpose)))
    assert "sortition" in purposes
    data = json.loads((await demo.say("Carol", "/mydata"))[0].file.content)  # type: ignore[union-attr]
    assert data["sortition_profiles"][0]["features"]["gender"] == "woman"
    await demo.say("Carol", "/profile")
    replies = await demo.press("Carol", "Opt out")
    assert "answers are deleted" in replies[0].text
    assert await profile_of(demo, "Carol") is None


async def test_a_forged_answer_changes_nothing(demo: Chat) -> None:
    await demo.say("Carol", "/profile")
    await demo.press("Carol", "Opt in")
    await demo.say("Dan", "/help")
    before = await snapshot(demo.core.db)
    for forged in ("pf:0.0", "pf:9.0", "pf:0.99", "pf:x.1", "pfout:1"):
        await demo.press("Dan", forged)
    assert await profile_of(demo, "Dan") is None
    for forged in ("pf:7.0", "pf:0.9", "pf:-1.0"):
        await demo.press("Carol", forged)
    after = await snapshot(demo.core.db)
    assert {k: v for k, v in after.items() if k != "audit_log"} == {
        k: v for k, v in before.items() if k != "audit_log"
    }


async def test_forget_deletes_the_profile(demo: Chat) -> None:
    await demo.say("Carol", "/profile")
    await demo.press("Carol", "Opt in")
    await demo.press("Carol", "woman")
    await demo.say("Carol", "/forget")
    await demo.press("Carol", "Yes, delete my data")
    async with demo.core.db.transaction() as session:
        assert list(await session.scalars(select(SortitionProfile))) == []


async def test_a_supporter_who_opts_in_is_told_the_draw_waits_for_their_dues(demo: Chat) -> None:
    await demo.signup("Sam", "Frome")  # a supporter: no dues paid
    await demo.say("Sam", "/profile")
    await demo.press("Sam", "Opt in")
    await demo.press("Sam", "woman")
    replies = await demo.press("Sam", "Prefer not to say")
    assert "you are in the draw" not in replies[0].text
    assert "once your membership dues are paid" in replies[0].text
    assert "once your membership dues are paid" in (await demo.say("Sam", "/profile"))[0].text
