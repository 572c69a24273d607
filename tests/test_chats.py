"""A branch's group chat gets its announcements; personal things stay private."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import OutboxMessage
from tests.helpers import Chat, RecordingTransport, deliver


async def test_linkchat_in_private_is_refused(demo: Chat) -> None:
    replies = await demo.say("Erin", "/linkchat")
    assert replies[0].error and "group chat" in replies[0].text


async def test_announcements_go_to_the_linked_chat_instead_of_everyone(demo: Chat) -> None:
    replies = await demo.say("Erin", "/linkchat", group="-100bath")
    assert "now receives the Bath branch's announcements" in replies[0].text
    await demo.say("Jo", "/affiliate Bath")
    async with demo.core.db.transaction() as session:
        rows = list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    to_chat = [r for r in rows if r.branch_chat_id is not None]
    assert [r.text for r in to_chat] == [
        "The Bath branch is now affiliated to the party, in the South West region."
    ]
    assert not any("now affiliated" in r.text for r in rows if r.person_id is not None)
    transport = RecordingTransport()
    await deliver(demo, transport)
    assert ("", "The Bath branch is now affiliated to the party, in the South West region.") in (
        transport.sent
    )


async def test_undo_a_link_and_announcements_go_to_people_again(demo: Chat) -> None:
    await demo.say("Erin", "/linkchat", group="-100bath")
    undo = demo.button("Erin", "Undo")
    stolen = await demo.press("Erin", undo)  # the button is in the group, not here
    assert stolen[0].error
    replies = await demo.press("Erin", undo, group="-100bath")
    assert "no longer receives" in replies[0].text
    await demo.say("Jo", "/affiliate Bath")
    told = sorted(n for n, t in await demo.outbox() if "now affiliated" in t)
    assert told == ["Erin", "Femi", "Gita"]


async def test_a_chat_moves_to_another_branch_once_unlinked(demo: Chat) -> None:
    await demo.say("Erin", "/linkchat", group="-100shared")
    await demo.say("Erin", "/unlinkchat", group="-100shared")
    replies = await demo.say("Alice", "/linkchat", group="-100shared")
    assert "Frome" in replies[0].text
    again = await demo.say("Alice", "/linkchat", group="-100shared")
    assert "already receives" in again[0].text


async def test_personal_replies_asked_for_in_a_group_are_private(demo: Chat) -> None:
    for command in ("/me", "/mydata", "/forget"):
        replies = await demo.say("Carol", command, group="-100frome")
        assert all(r.private for r in replies), command
    help_reply = await demo.say("Carol", "/help", group="-100frome")
    assert not help_reply[0].private
