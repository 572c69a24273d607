"""People see and delete what is held about them; nobody sees another's data."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import func, select

from storage.models import AuditEntry, ErasureCount, Identity, OutboxMessage, Person, RoleGrant
from tests.helpers import Chat, snapshot, text


async def test_mydata_is_a_json_file_of_everything_held(demo: Chat) -> None:
    await demo.say("Bob", "/dues @carol 2028-01-31")
    reply = (await demo.say("Carol", "/mydata"))[0]
    assert reply.private and reply.file is not None
    assert reply.file.mime_type == "application/json"
    data = json.loads(reply.file.content)
    assert data["person"]["display_name"] == "Carol"
    assert data["person"]["dues_paid_until"] == "2028-01-31"
    assert data["person"]["branch"] == "Frome"
    assert data["identities"][0]["platform"] == "console"
    assert data["consents"][0]["notice_version"]
    assert any(a["action"] == "dues.set" and a["about_you"] for a in data["audit_log"])
    assert any("2028-01-31" in m["text"] for m in data["messages_to_you"])


async def test_mydata_holds_sign_ups_answers_and_ballots_too(demo: Chat) -> None:
    await demo.say("Alice", "/canvass schedule saturday 10:30 Market Cross 8")
    await demo.say("Carol", "/canvass")
    await demo.press("Carol", "Sign up 1")
    await demo.say("Alice", '/poll "Yes or no?" "Yes" "No"')
    await demo.press("Alice", "Post it")
    await demo.press("Carol", "pv:1.1")
    data = json.loads((await demo.say("Carol", "/mydata"))[0].file.content)  # type: ignore[union-attr]
    assert [s["status"] for s in data["canvass_signups"]] == ["going"]
    assert [b["choice"] for b in data["ballots"]] == [[1]]
    assert [v["voted"] for v in data["poll_voters"]] == [True]
    # Nothing of anybody else's: the poll's other voters are not in Carol's file.
    assert len(data["poll_voters"]) == 1


async def test_mydata_never_holds_someone_else(demo: Chat) -> None:
    await demo.signup("Sam", "Frome")  # Alice is told; Carol must not see it
    content = (await demo.say("Carol", "/mydata"))[0].file
    assert content is not None
    assert b"Sam" not in content.content and b"Alice" not in content.content


async def test_mydata_for_a_stranger_says_nothing_is_held(chat: Chat) -> None:
    reply = (await chat.say("Zed", "/mydata"))[0]
    assert reply.file is None and "Nothing is held" in reply.text


async def test_forget_asks_first_and_cancel_changes_nothing(demo: Chat) -> None:
    before = await snapshot(demo.core.db)
    await demo.say("Carol", "/forget")
    replies = await demo.press("Carol", "Cancel")
    assert "nothing was changed" in replies[0].text
    after = await snapshot(demo.core.db)
    assert after["persons"] == before["persons"]


async def test_forget_deletes_the_person_and_keeps_only_anonymous_counts(demo: Chat) -> None:
    await demo.say("Bob", "/dues @carol 2028-01-31")
    await demo.say("Jo", "/promote @carol treasurer")
    carol = await demo.person("Carol")
    assert carol is not None
    await demo.say("Carol", "/forget")
    replies = await demo.press("Carol", "Yes, delete my data")
    assert "deleted" in replies[0].text
    assert await demo.person("Carol") is None
    async with demo.core.db.transaction() as session:
        for model in (Identity, RoleGrant, OutboxMessage):
            count = await session.scalar(
                select(func.count()).select_from(model).where(model.person_id == carol.id)
            )
            assert count == 0, model.__name__
        about = await session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where((AuditEntry.subject_id == carol.id) | (AuditEntry.actor_id == carol.id))
        )
        assert about == 0
        erased = list(await session.scalars(select(ErasureCount)))
        assert len(erased) == 1 and erased[0].was_member and erased[0].month == "2026-11"
        assert await session.scalar(select(Person.id).where(Person.id == carol.id)) is None
    # They can come back as a new person.
    await demo.signup("Carol")
    assert "short id" in text(await demo.say("Carol", "/me"))


async def test_a_forget_button_pressed_by_someone_else_does_nothing(demo: Chat) -> None:
    replies = await demo.say("Carol", "/forget")
    data = replies[0].button_list()[0].data
    before = await snapshot(demo.core.db)
    stolen = await demo.press("Dan", data)
    assert stolen[0].error and "expired" in stolen[0].text
    assert await snapshot(demo.core.db) == before


async def test_members_list_is_for_the_branch_staff_only(demo: Chat) -> None:
    frome = (await demo.person("Carol")).branch_id  # type: ignore[union-attr]
    for outsider in ("Carol", "Erin", "Femi"):
        replies = await demo.press(outsider, f"members:{frome}")
        assert replies[0].error and "Dan" not in replies[0].text, outsider
    assert "Dan" in (await demo.press("Alice", f"members:{frome}"))[0].text


async def test_forget_also_removes_what_was_said_before_consent_and_news_of_joining(
    demo: Chat,
) -> None:
    await demo.say("Nia", "/join Frome")  # before consent: a prompt with the place
    await demo.press("Nia", "I agree")  # joins; Alice is told "Nia (...) joined"
    await demo.say("Nia", "/forget")
    await demo.press("Nia", "Yes, delete my data")
    rows = await snapshot(demo.core.db)
    assert not any("nia" in r.lower() for r in rows["prompts"])
    assert not any("Nia" in r for r in rows["outbox"])


async def test_the_only_national_admin_cannot_vanish(demo: Chat) -> None:
    await demo.say("Kai", "/forget")
    replies = await demo.press("Kai", "Yes, delete my data")
    assert replies[0].error and "only national admin" in replies[0].text
    assert await demo.person("Kai") is not None


async def test_an_unanswered_privacy_question_is_not_kept(demo: Chat) -> None:
    await demo.say("Zed", "/join Frome")
    demo.clock.advance(dt.timedelta(hours=2))
    await demo.say("Sam", "/start")  # any new question sweeps out the expired ones
    rows = await snapshot(demo.core.db)
    assert not any("console:zed" in r for r in rows["prompts"])
