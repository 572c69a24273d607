"""/announce: an organiser's message to their branch, a region's or the party's,
to an audience, previewed with its reach, sent once, delivered through the outbox.

The demo party: Frome (Alice organises; Bob, Carol, Jo members; Dan a supporter;
Lee's dues lapsed), Bath (Erin organises; Femi, Gita members; linked to no chat
unless a test links it), Wells (Hana, Ivan supporters); Jo is the South West
region's admin, Kai the national admin.
"""

from __future__ import annotations

from sqlalchemy import func, select

from storage.models import Announcement, AuditEntry, OutboxMessage
from tests.helpers import Chat, RecordingTransport, deliver, text


async def announcement_rows(chat: Chat) -> list[Announcement]:
    async with chat.core.db.transaction() as session:
        return list(await session.scalars(select(Announcement).order_by(Announcement.id)))


async def outbox_count(chat: Chat) -> int:
    async with chat.core.db.transaction() as session:
        return int(await session.scalar(select(func.count(OutboxMessage.id))) or 0)


async def delivered(chat: Chat) -> RecordingTransport:
    transport = RecordingTransport()
    await deliver(chat, transport)
    return transport


def got(transport: RecordingTransport, words: str) -> set[str]:
    """Who received a message containing ``words``."""
    return {name for name, sent in transport.sent if words in sent}


async def test_an_organiser_announces_to_members_only(demo: Chat) -> None:
    replies = await demo.say("Alice", "/announce members: Dues-paying AGM on Friday")
    preview = text(replies)
    assert not replies[0].error, preview
    assert "Preview" in preview and "Dues-paying AGM on Friday" in preview
    # Bob, Carol and Jo have paid; Alice wrote it; Dan and Lee are supporters.
    assert "It reaches 3 people privately · 0 group chats." in preview
    assert await outbox_count(demo) == 0  # nothing is queued before Send
    sent = await demo.press("Alice", "Send")
    assert "queued for 3 people" in text(sent)
    transport = await delivered(demo)
    assert got(transport, "Dues-paying AGM") == {"Bob", "Carol", "Jo"}
    assert "📣 From the Frome branch:" in transport.sent[0][1]
    [row] = await announcement_rows(demo)
    assert row.sent_at is not None and row.people == 3 and row.audience == "members"
    async with demo.core.db.transaction() as session:
        audited = await session.scalar(select(AuditEntry).where(AuditEntry.action == "announce"))
    assert audited is not None and audited.details["people"] == 3


async def test_supporters_only_reach_supporters(demo: Chat) -> None:
    await demo.say("Alice", "/announce supporters: Become a member this month")
    await demo.press("Alice", "Send")
    transport = await delivered(demo)
    assert got(transport, "Become a member") == {"Dan", "Lee"}


async def test_a_member_who_turned_branch_announcements_off_does_not_get_it(demo: Chat) -> None:
    screen = await demo.say("Carol", "/reminders")
    assert "Announcements from your branch: on · your region: on · the party: on." in text(screen)
    turned = await demo.press("Carol", "Branch announcements off")
    assert "Announcements from your branch: off · your region: on" in text(turned)
    replies = await demo.say("Alice", "/announce members: Leafleting on Sunday")
    assert "It reaches 2 people privately" in text(replies)
    await demo.press("Alice", "Send")
    await demo.say("Jo", "/announce region members: Regional ballot opens")
    await demo.press("Jo", "Send")
    transport = await delivered(demo)
    assert got(transport, "Leafleting on Sunday") == {"Bob", "Jo"}
    assert "Carol" in got(transport, "Regional ballot opens")  # only the branch's are off


async def test_the_settings_screen_turns_each_setting_and_a_second_press_changes_nothing(
    demo: Chat,
) -> None:
    await demo.say("Dan", "/reminders")
    off = demo.button("Dan", "Party announcements off")
    await demo.press("Dan", off)
    again = await demo.press("Dan", off)  # the same button again: still off
    assert "the party: off." in text(again)
    turned = await demo.press("Dan", "Turn canvassing reminders off")
    assert "Your reminders are off." in text(turned)
    dan = await demo.person("Dan")
    assert dan is not None and dan.reminders is False
    await demo.press("Dan", "Party announcements on")
    await demo.press("Dan", "Turn canvassing reminders on")
    back = await demo.say("Dan", "/reminders")
    assert "Your reminders are on." in text(back) and "the party: on." in text(back)
    forged = await demo.press("Dan", "set:everything-off")
    assert forged[0].error


async def test_mydata_shows_what_is_turned_off_and_forget_removes_it(demo: Chat) -> None:
    import json

    from storage.models import AnnouncementOptOut

    await demo.say("Carol", "/reminders")
    await demo.press("Carol", "Region announcements off")
    [exported] = await demo.say("Carol", "/mydata")
    assert exported.file is not None
    document = json.loads(exported.file.content)
    assert [row["level"] for row in document["announcement_opt_outs"]] == ["region"]
    await demo.say("Carol", "/forget")
    await demo.press("Carol", "Yes, delete my data")
    async with demo.core.db.transaction() as session:
        assert list(await session.scalars(select(AnnouncementOptOut))) == []


async def test_a_branch_with_a_linked_chat_gets_it_there_and_one_without_privately(
    demo: Chat,
) -> None:
    await demo.say("Erin", "/linkchat", group="-100bath")
    replies = await demo.say("Jo", "/announce region: Regional assembly in Taunton")
    preview = text(replies)
    # Bath's chat; Frome's five and Wells's two privately (Jo wrote it).
    assert "It reaches 7 people privately · 1 group chat." in preview, preview
    await demo.press("Jo", "Send")
    transport = await delivered(demo)
    receivers = got(transport, "Regional assembly in Taunton")
    assert receivers == {"", "Alice", "Bob", "Carol", "Dan", "Lee", "Hana", "Ivan"}
    assert "📣 From the South West region:" in transport.sent[0][1]


async def test_an_announcement_for_some_goes_privately_even_where_there_is_a_chat(
    demo: Chat,
) -> None:
    await demo.say("Erin", "/linkchat", group="-100bath")
    replies = await demo.say("Erin", "/announce members: Members' meeting")
    assert "goes to each privately" in text(replies)
    await demo.press("Erin", "Send")
    transport = await delivered(demo)
    assert got(transport, "Members' meeting") == {"Femi", "Gita"}


async def test_pressing_send_twice_sends_once(demo: Chat) -> None:
    await demo.say("Alice", "/announce Canvassing at 10 on Saturday")
    send = demo.button("Alice", "Send")
    first = await demo.press("Alice", send)
    assert "queued for 5 people" in text(first)
    again = await demo.press("Alice", send)
    assert "already sent" in text(again)
    transport = await delivered(demo)
    assert sorted(got(transport, "Canvassing at 10")) == ["Bob", "Carol", "Dan", "Jo", "Lee"]
    assert len(transport.sent) == 5


async def test_a_member_cannot_announce(demo: Chat) -> None:
    replies = await demo.say("Carol", "/announce Free pizza")
    assert replies[0].error and "Only the organisers" in replies[0].text
    assert await outbox_count(demo) == 0
    # nor to the region or the party
    assert (await demo.say("Carol", "/announce region: x"))[0].error
    assert (await demo.say("Alice", "/announce national: x"))[0].error
    assert await announcement_rows(demo) == []


async def test_someone_in_no_branch_is_told_announcing_is_for_organisers(chat: Chat) -> None:
    await chat.signup("Sam")
    for line in ("/announce members: hello", "/announce region: hello"):
        replies = await chat.say("Sam", line)
        assert replies[0].error
        assert replies[0].text == "Only organisers and admins can send announcements."
    assert await announcement_rows(chat) == []


async def test_a_regional_admin_announces_to_the_region_and_a_national_admin_to_all(
    demo: Chat,
) -> None:
    await demo.say("Jo", "/announce region members: Regional ballot opens")
    await demo.press("Jo", "Send")
    await demo.say("Kai", "/announce national: Conference in March")
    sent = await demo.press("Kai", "Send")
    assert "queued for 11 people" in text(sent), text(sent)
    transport = await delivered(demo)
    assert got(transport, "Regional ballot opens") == {
        "Bob",
        "Carol",
        "Erin",
        "Femi",
        "Gita",
        "Alice",
    }
    assert "Jo" in got(transport, "Conference in March")
    assert "📣 From Test Party:" in next(s for _, s in transport.sent if "Conference" in s)


async def test_an_empty_or_overlong_text_is_refused_and_nothing_queued(demo: Chat) -> None:
    empty = await demo.say("Alice", "/announce")
    assert empty[0].error and "/announce <text>" in empty[0].text
    only_audience = await demo.say("Alice", "/announce members:   ")
    assert only_audience[0].error
    long = await demo.say("Alice", "/announce " + "x" * 1801)
    assert long[0].error and "1801 characters" in long[0].text and "1800" in long[0].text
    assert await announcement_rows(demo) == []
    assert await outbox_count(demo) == 0


async def test_cancel_before_send_sends_nothing(demo: Chat) -> None:
    await demo.say("Alice", "/announce Never mind")
    send = demo.button("Alice", "Send")
    dropped = await demo.press("Alice", "Cancel")
    assert "nothing was sent" in text(dropped)
    late = await demo.press("Alice", send)
    assert late[0].error
    assert await announcement_rows(demo) == []
    assert await outbox_count(demo) == 0


async def test_someone_else_cannot_press_send(demo: Chat) -> None:
    await demo.say("Alice", "/announce Mine")
    send = demo.button("Alice", "Send")
    forged = await demo.press("Bob", send)
    assert forged[0].error
    assert await outbox_count(demo) == 0


async def test_delivery_shows_how_an_announcement_fared(demo: Chat) -> None:
    await demo.say("Alice", "/announce Street stall on Saturday")
    await demo.press("Alice", "Send")
    transport = RecordingTransport(refuse={"dan"})
    await deliver(demo, transport)
    replies = await demo.say("Alice", "/delivery")
    shown = text(replies)
    assert "Announcements (last 30 days):" in shown
    assert "“Street stall on Saturday”: 4 delivered, 1 could not be reached, 0 still waiting" in (
        shown
    )


async def test_ballots_reach_someone_who_turned_every_announcement_off(demo: Chat) -> None:
    await demo.say("Carol", "/reminders")
    for label in (
        "Branch announcements off",
        "Region announcements off",
        "Party announcements off",
    ):
        await demo.press("Carol", label)
    assert "your branch: off · your region: off · the party: off" in text(demo.last["Carol"])
    await demo.say("Alice", '/poll "Meet on Tuesdays?" "Yes" "No"')
    await demo.press("Alice", "Post it")
    told = {
        name for name, sent in await demo.outbox() if sent.startswith("Poll: Meet on Tuesdays?")
    }
    assert "Carol" in told


async def test_a_party_announcement_reaches_those_in_no_branch(demo: Chat) -> None:
    import datetime as dt

    from storage.models import Person

    await demo.signup("Zoe")  # a supporter in no branch
    await demo.signup("Yan")
    async with demo.core.db.transaction() as session:  # a member in no branch
        yan = await session.scalar(select(Person).where(Person.display_name == "Yan"))
        assert yan is not None and yan.branch_id is None
        yan.dues_paid_until = dt.date(2027, 6, 30)
    replies = await demo.say("Kai", "/announce national: Conference in March")
    assert "It reaches 13 people privately" in text(replies), text(replies)  # 11 and Zoe, Yan
    await demo.press("Kai", "Send")
    await demo.say("Kai", "/announce national members: Members' conference")
    await demo.press("Kai", "Send")
    await demo.say("Kai", "/announce national supporters: Join us")
    await demo.press("Kai", "Send")
    transport = await delivered(demo)
    assert {"Zoe", "Yan"} <= got(transport, "Conference in March")
    assert "Yan" in got(transport, "Members' conference")
    assert "Zoe" not in got(transport, "Members' conference")
    assert "Zoe" in got(transport, "Join us") and "Yan" not in got(transport, "Join us")
    # A region's or a branch's announcement is for its branches' people only.
    await demo.say("Jo", "/announce region: Regional assembly")
    await demo.press("Jo", "Send")
    assert not {"Zoe", "Yan"} & got(await delivered(demo), "Regional assembly")
    # One in no branch who turned the party's announcements off gets none.
    await demo.say("Zoe", "/reminders")
    await demo.press("Zoe", "Party announcements off")
    replies = await demo.say("Kai", "/announce national: Second call")
    assert "It reaches 12 people privately" in text(replies), text(replies)
    await demo.press("Kai", "Send")
    assert "Zoe" not in got(await delivered(demo), "Second call")


async def test_meeting_reminders_can_be_turned_off_on_the_settings_screen(demo: Chat) -> None:
    import datetime as dt
    import json

    from bot.meetings.reminders import remind
    from storage.models import Meeting

    await demo.say("Alice", "/meeting online 2026-12-03 19:00 https://meet.example/abc")
    await demo.press("Alice", "Confirm")
    async with demo.core.db.transaction() as session:
        [meeting] = list(await session.scalars(select(Meeting)))
    for name in ("Carol", "Bob"):
        await demo.press(name, f"mtgo:{meeting.id}")
    screen = await demo.say("Carol", "/reminders")
    assert "Reminders before the meetings you are going to: on." in text(screen)
    turned = await demo.press("Carol", "Meeting reminders off")
    assert "Reminders before the meetings you are going to: off." in text(turned)
    again = await demo.say("Carol", "/reminders")  # kept, and the others unchanged
    assert "going to: off." in text(again) and "Your reminders are on." in text(again)
    assert "the party: on." in text(again)
    # The 24-hour reminder goes to Bob, who is going, and not to Carol.
    at = dt.datetime(2026, 12, 2, 19, 0, tzinfo=dt.UTC)
    await remind(demo.core.db, demo.core.settings, at)
    reminded = {n for n, t in await demo.outbox() if t.startswith("Reminder:")}
    assert reminded == {"Bob"}
    [exported] = await demo.say("Carol", "/mydata")
    assert exported.file is not None
    document = json.loads(exported.file.content)
    assert [row["level"] for row in document["announcement_opt_outs"]] == ["meetings"]
    # Turned on again: the one-hour reminder reaches her; nothing is stored.
    await demo.say("Carol", "/reminders")
    await demo.press("Carol", "Meeting reminders on")
    await remind(demo.core.db, demo.core.settings, at + dt.timedelta(hours=23))
    reminded = [n for n, t in await demo.outbox() if t.startswith("Reminder:")]
    assert sorted(reminded) == ["Bob", "Bob", "Carol"]
    [exported] = await demo.say("Carol", "/mydata")
    assert exported.file is not None
    assert not json.loads(exported.file.content).get("announcement_opt_outs")
