"""Accounts and roles, attacked: each test is one attack and what the product now does.

The attackers: a stranger who wants someone's membership (a link code), a new
account that wants to shed the original one, an organiser who wants to make
voting members at will, an admin who wants another region's branch, an
organiser who wants another branch's group chat, and anyone who reads a
shared channel or forges a button.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.kernel.people import SHORT_ID_ALPHABET
from storage.db import Database
from storage.models import AuditEntry, Branch, BranchChat, Identity, OutboxMessage
from tests.fake_discord import CHANNELS
from tests.helpers import Chat, RecordingTransport, confirm_link, deliver, post_poll, text
from tests.test_discord import STRANGER, Rig, contents, custom_ids, ephemeral, rig
from tests.test_telegram import Rig as TelegramRig
from tests.test_telegram import _rig as telegram_rig
from tests.test_telegram import button_data

__all__ = ["rig"]  # the Discord rig, a fixture

TG = "telegram"


def code_in(replies: list) -> str:
    found = re.search(r"\b([0-9A-Z]{4}-[0-9A-Z]{4})\b", text(replies))
    assert found, text(replies)
    return found.group(1)


async def short_id(chat: Chat, name: str) -> str:
    person = await chat.person(name)
    assert person is not None
    return person.short_id


async def refusals(chat: Chat) -> list[str]:
    async with chat.core.db.transaction() as session:
        rows = await session.scalars(
            select(AuditEntry.details).where(AuditEntry.action == "refused").order_by(AuditEntry.id)
        )
        return [str(d.get("what")) for d in rows]


# --- link codes -----------------------------------------------------------------------


async def test_a_link_code_cannot_be_predicted_from_the_bots_random_source(demo: Chat) -> None:
    """The attack: the bot's seeded random source (used for short ids and trial
    draws) is copied, and the next link code computed from it. Now: codes come
    from ``secrets``; the predicted code is just a wrong code."""
    twin = random.Random()
    twin.setstate(demo.core.rng.getstate())
    raw = "".join(twin.choice(SHORT_ID_ALPHABET) for _ in range(8))  # how codes were made
    predicted = f"{raw[:4]}-{raw[4:]}"
    issued = code_in(await demo.say("Carol", "/link"))
    assert issued != predicted
    replies = await demo.say("Mallory", f"/link {predicted}", platform=TG)
    assert "wrong, used or expired" in text(replies)
    assert await demo.person("Mallory") is None


async def test_issuing_link_codes_is_rate_limited(demo: Chat) -> None:
    """The attack: someone who can type in a member's chat (a shared phone, an
    unlocked laptop) asks for code after code. Now: five codes an hour per
    person; the sixth is refused (and audited) until the hour has passed."""
    for _ in range(5):
        code_in(await demo.say("Carol", "/link"))
    replies = await demo.say("Carol", "/link")
    assert replies[0].error and "5 link codes in the last hour" in replies[0].text
    assert not re.search(r"[0-9A-Z]{4}-[0-9A-Z]{4}", replies[0].text)
    assert "link.issue" in await refusals(demo)
    demo.clock.advance(dt.timedelta(minutes=61))
    code_in(await demo.say("Carol", "/link"))


async def delivered(chat: Chat, platform: str) -> list[str]:
    """What the outbox sends on ``platform`` now (and marks sent)."""
    transport = RecordingTransport(platform)
    await deliver(chat, transport)
    return [t for _, t in transport.sent]


async def test_a_stolen_code_does_not_link_without_the_original_accounts_confirmation(
    demo: Chat,
) -> None:
    """The attack: Mallory reads Carol's code over her shoulder and enters it on
    Telegram, to take Carol's membership (her vote, her data). Now: nothing is
    linked until Carol's own account presses "Link it"; she presses "Not me", and
    Mallory is told that nothing was linked."""
    code = code_in(await demo.say("Carol", "/link"))
    replies = await demo.say("Mallory", f"/link {code}", platform=TG)
    assert "confirm" in text(replies) and "Linked" not in text(replies)
    assert await demo.person("Mallory") is None
    asked = await delivered(demo, "console")
    assert any("Link it" in t or "entered your link code" in t for t in asked), asked
    no = await confirm_link(demo, "Carol", label="Not me")
    assert "Nothing was linked" in text(no)
    assert await demo.person("Mallory") is None
    told = await delivered(demo, TG)
    assert any("not linked" in t for t in told), told
    # The refused code is spent: entering it again does nothing.
    again = await demo.say("Mallory", f"/link {code}", platform=TG)
    assert "wrong, used or expired" in text(again)


async def test_an_unconfirmed_link_lapses_after_30_minutes(demo: Chat) -> None:
    """The attack: the link is entered while Carol is away, hoping she presses
    "Link it" days later without thinking. Now: the button lapses after 30
    minutes, like a stale one."""
    code = code_in(await demo.say("Carol", "/link"))
    await demo.say("Mallory", f"/link {code}", platform=TG)
    demo.clock.advance(dt.timedelta(minutes=31))
    late = await confirm_link(demo, "Carol")
    assert late[0].error and "expired" in late[0].text
    assert await demo.person("Mallory") is None


async def test_every_account_is_told_when_an_account_is_linked_or_unlinked(demo: Chat) -> None:
    """The attack: an account is added to (or removed from) someone's record
    without their noticing. Now: each of the record's accounts is told, on its
    own platform."""
    code = code_in(await demo.say("Carol", "/link"))
    await demo.say("Carol", f"/link {code}", platform=TG)
    await delivered(demo, "console")
    ok = await confirm_link(demo, "Carol")
    assert "Linked" in text(ok)
    assert any("Linked" in t for t in await delivered(demo, TG))
    code = code_in(await demo.say("Carol", "/link"))
    await demo.say("Carol", f"/link {code}", platform="discord")
    await confirm_link(demo, "Carol")
    assert any("Discord account was linked" in t for t in await delivered(demo, TG))
    assert any("Linked" in t for t in await delivered(demo, "discord"))
    # The oldest account unlinks Telegram: Telegram and Discord are both told.
    await demo.say("Carol", "/unlink")
    await demo.press("Carol", "Unlink Telegram")
    assert any("no longer part" in t for t in await delivered(demo, TG))
    assert any("Telegram account was unlinked" in t for t in await delivered(demo, "discord"))


async def test_a_newly_linked_account_cannot_unlink_the_older_one_for_a_week(demo: Chat) -> None:
    """The attack: an account linked with a stolen (and carelessly confirmed)
    code at once unlinks the original one, leaving the owner locked out of their
    own membership. Now: for a week, a newly linked account cannot unlink the
    older one; the older one can unlink the new one at any time."""
    code = code_in(await demo.say("Carol", "/link"))
    await demo.say("Carol", f"/link {code}", platform=TG)
    await confirm_link(demo, "Carol")
    refused = await demo.say("Carol", "/unlink", platform=TG)
    assert refused[0].error and "a week" in refused[0].text
    assert not refused[0].buttons
    demo.clock.advance(dt.timedelta(days=7, minutes=1))
    replies = await demo.say("Carol", "/unlink", platform=TG)
    assert any(b.label == "Unlink console" for b in replies[0].button_list())


# --- roles and dues -------------------------------------------------------------------


async def test_an_organiser_cannot_make_themself_treasurer(demo: Chat) -> None:
    """The attack: Alice, Frome's organiser, promotes herself treasurer (to set
    her own dues). Now: nobody grants themselves a role; the attempt is audited."""
    alice = await short_id(demo, "Alice")
    replies = await demo.say("Alice", f"/promote {alice} treasurer")
    assert replies[0].error and "yourself" in replies[0].text
    assert "promote" in await refusals(demo)
    assert "/dues" not in text(await demo.say("Alice", "/help"))


async def test_only_admins_grant_treasurer(demo: Chat) -> None:
    """The attack: an organiser makes an accomplice treasurer, who then records
    the organiser's dues. Now: only admins grant treasurer; an admin may."""
    replies = await demo.say("Alice", "/promote @carol treasurer")
    assert replies[0].error and "admin" in replies[0].text
    assert "/dues" not in text(await demo.say("Carol", "/help"))
    replies = await demo.say("Jo", "/promote @carol treasurer")
    assert replies[0].text == "Carol is now treasurer of the Frome branch."


async def test_a_treasurer_cannot_record_their_own_dues(demo: Chat) -> None:
    """The attack: Bob, Frome's treasurer, records his own dues paid until 2036,
    making himself a voting, drawable member at will. Now: refused and audited;
    his dues are unchanged."""
    before = (await demo.person("Bob")).dues_paid_until  # type: ignore[union-attr]
    replies = await demo.say("Bob", "/dues @bob 2036-01-01")
    assert replies[0].error and "your own dues" in replies[0].text
    assert "dues" in await refusals(demo)
    after = await demo.person("Bob")
    assert after is not None and after.dues_paid_until == before


async def test_every_dues_change_is_told_to_the_branchs_admins(demo: Chat) -> None:
    """The attack: a treasurer quietly makes members of friends. Now: each dues
    change is told to the admins over the branch (region and national)."""
    await demo.say("Bob", "/dues @carol 2027-03-31")
    told = sorted(
        n for n, t in await demo.outbox() if t.startswith("Bob recorded the dues of Carol")
    )
    assert told == ["Jo", "Kai"]


# --- regions --------------------------------------------------------------------------


async def _regionless_branch(demo: Chat) -> int:
    """An active branch in no region, with one person in it."""
    async with demo.core.db.transaction() as session:
        branch = Branch(
            name="Shepton",
            slug="shepton",
            area="Shepton Mallet, BA4",
            timezone="Europe/London",
            status="active",
            region_id=None,
            created_at=demo.clock.now(),
        )
        session.add(branch)
        await session.flush()
        return branch.id


async def test_a_region_admin_cannot_take_a_branch_with_no_region(demo: Chat) -> None:
    """The attack: Jo, admin of the South West, affiliates a branch that has no
    region to her region, and then reads its members. Now: only a national admin
    assigns a branch to a region; Jo's attempt is refused and audited, and the
    member list stays closed to her."""
    branch_id = await _regionless_branch(demo)
    await demo.signup("Zed", "Shepton")
    replies = await demo.say("Jo", "/affiliate Shepton to South West")
    assert replies[0].error and "national admin" in replies[0].text
    assert "affiliate" in await refusals(demo)
    members = await demo.press("Jo", f"members:{branch_id}")
    assert members[0].error and "Zed" not in text(members)
    # Kai, a national admin, may: what stops him now is the branch's dues, not his rights.
    replies = await demo.say("Kai", "/affiliate Shepton to South West")
    assert "0 members with paid dues; it needs 3" in replies[0].text


# --- group chats ----------------------------------------------------------------------


async def test_linkchat_cannot_take_over_another_branchs_chat(demo: Chat) -> None:
    """The attack: Erin (Bath's organiser) is in Frome's group chat and sends
    /linkchat there, so Frome's chat gets Bath's announcements and Frome's stop.
    Now: refused and audited; the chat stays Frome's until Frome's organisers
    unlink it (and every unlink is audited)."""
    await demo.say("Alice", "/linkchat", group="-100frome")
    replies = await demo.say("Erin", "/linkchat Bath", group="-100frome")
    assert replies[0].error and "Frome" in replies[0].text
    assert "linkchat" in await refusals(demo)
    async with demo.core.db.transaction() as session:
        links = list(await session.scalars(select(BranchChat)))
        frome = await session.scalar(select(Branch).where(Branch.slug == "frome"))
    assert [c.branch_id for c in links] == [frome.id]  # type: ignore[union-attr]
    await demo.say("Alice", "/unlinkchat", group="-100frome")
    async with demo.core.db.transaction() as session:
        unlinks = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "chat.unlinked"))
        )
    assert len(unlinks) == 1
    assert "Bath" in text(await demo.say("Erin", "/linkchat Bath", group="-100frome"))


async def test_accounts_and_messages_survive_the_link_confirmation_migration(db: Database) -> None:
    """Migration 0011 adds ``identities.linked_at`` and the outbox's one-account
    address to a database holding data: nothing is lost, and accounts that were
    there before count as the older ones."""
    await db.downgrade("0010")
    async with db.engine.begin() as conn:
        await conn.exec_driver_sql(
            "INSERT INTO persons (id, short_id, display_name, locale, reminders, created_at) "
            "VALUES (1, 'AAAAAA', 'Old', 'en', true, '2026-01-01 00:00:00+00:00')"
        )
        await conn.exec_driver_sql(
            "INSERT INTO identities (id, person_id, platform, user_id, chat_id, unreachable, "
            "last_seen_at) VALUES (1, 1, 'telegram', '42', '42', false, "
            "'2026-01-01 00:00:00+00:00')"
        )
        await conn.exec_driver_sql(
            "INSERT INTO outbox (id, key, person_id, text, buttons, status, attempts, created_at) "
            "VALUES (1, 'k1', 1, 'hello', '[]', 'pending', 0, '2026-01-01 00:00:00+00:00')"
        )
    await db.upgrade()
    async with db.transaction() as session:
        (identity,) = list(await session.scalars(select(Identity)))
        (row,) = list(await session.scalars(select(OutboxMessage)))
    assert (identity.user_id, identity.linked_at) == ("42", None)
    assert (row.text, row.person_id, row.to_platform) == ("hello", 1, None)


# --- what others in a shared chat see -------------------------------------------------


async def test_on_discord_nothing_about_one_person_is_posted_to_a_server_channel(
    rig: Rig,
) -> None:
    """The attack: anyone reading the party server's #general learns who just
    agreed to the privacy notice, joined which branch, turned reminders off or
    left. Now: every answer about one person is ephemeral (seen by them alone),
    from /start to /leave; /help stays public."""
    answers = await rig.slash(STRANGER, "start")
    agree = custom_ids(answers[-1])["I agree"]
    answers += await rig.click(STRANGER, agree, guild=True, channel_id=CHANNELS["general"])
    answers += await rig.slash(STRANGER, "join", place="Frome")
    answers += await rig.slash(STRANGER, "reminders", setting="off")
    answers += await rig.slash(STRANGER, "leave")
    said = contents(answers)
    assert "privacy" in said.lower() and "recorded" in said and "left" in said, said
    # What the channel shows everyone: the bot's messages there that are not ephemeral.
    visible = [
        m["content"]
        for m in rig.fake.channel_messages(CHANNELS["general"])
        if m.get("content") and not ephemeral(m)
    ]
    assert visible == []
    assert not any(ephemeral(a) for a in await rig.slash(STRANGER, "help"))


async def test_in_a_group_chat_answers_about_one_person_go_privately(demo: Chat) -> None:
    """The attack (Telegram, or any group): Dan reads the Frome group while Zed
    signs up there, and learns Zed's affiliation, reminders and departure. Now:
    every reply about one person goes to their private chat; only a short list of
    commands (/help, /linkchat, /unlinkchat) answers in the group."""
    group = "-100frome"
    replies = await demo.say("Zed", "/start", group=group)
    replies += await demo.press("Zed", "I agree", group=group)
    replies += await demo.say("Zed", "/join Frome", group=group)
    replies += await demo.say("Zed", "/reminders off", group=group)
    replies += await demo.say("Zed", "/leave", group=group)
    replies += await demo.say("Zed", "/canvass", group=group)
    assert [r.text[:40] for r in replies if not r.private] == []
    assert not (await demo.say("Zed", "/help", group=group))[0].private
    assert not (await demo.say("Alice", "/linkchat", group=group))[0].private


@pytest.fixture
async def tg_rig(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[TelegramRig]:
    async for r in telegram_rig(tmp_path, sqlite_template):
        yield r


async def test_on_telegram_a_personal_answer_never_replaces_a_group_message(
    tg_rig: TelegramRig,
) -> None:
    """The attack: a button under a message in the branch's group is pressed, and
    the answer about the presser (which replaces the pressed message) is shown
    to the whole group. Now: a personal answer goes to the presser's private
    chat, and the group's message stays as it was."""
    tg = tg_rig.tg
    alice, sam = tg.user(101, "Alice", "alice"), tg.user(201, "Sam", "sam")
    group = tg.group_chat(-1003, "Frome branch")
    await tg_rig.say(alice, "/linkchat", chat=group)
    posted = tg.last_message(-1003)
    await tg_rig.say(sam, "/start")
    agree = button_data(tg.last_message(201), "I agree")
    await tg_rig.press_data(sam, posted, agree)
    in_group = [m.get("text", "") for m in tg.bot_messages(-1003)]
    assert not any("agreement is recorded" in t for t in in_group), in_group
    assert any("agreement is recorded" in t for t in tg.sent_texts(201))


# --- forged buttons -------------------------------------------------------------------


async def test_forged_meeting_buttons_say_nothing_about_another_branchs_meeting(
    demo: Chat,
) -> None:
    """The attack: Erin (Bath) presses buttons she made up with the ids of Frome's
    meetings, to read their titles. Now: the same answer as a stale button, word
    for word, whether the meeting exists or not."""
    await demo.say(
        "Alice", '/meeting online 2026-12-03 19:00 https://meet.example/abc "Secret strategy"'
    )
    await demo.press("Alice", "Confirm")
    stale = text(await demo.press("Erin", "mtgo:99999"))
    for action in ("mtgo", "mtmaybe", "mtno", "mtics"):
        replies = await demo.press("Erin", f"{action}:1")
        assert "Secret strategy" not in text(replies)
        assert text(replies) == stale, action


async def test_forged_poll_buttons_do_not_reveal_that_another_branchs_poll_exists(
    demo: Chat,
) -> None:
    """The attack: Erin (Bath) presses made-up vote, ballot and results buttons
    with ids of Frome's polls, open and closed, to learn which exist and when they
    closed. Now: the same answer as a stale button, for each."""
    open_poll = await post_poll(demo, "Alice", '"Open question?" "Yes" "No"')
    closed = await post_poll(demo, "Alice", '"Closed question?" "Yes" "No"')
    await demo.say("Alice", f"/poll close {closed}")
    stale = text(await demo.press("Erin", "pollopen:99999"))
    for poll in (open_poll, closed):
        for data in (f"pv:{poll}.0", f"pollopen:{poll}", f"pollres:{poll}", f"pc:{poll}.1"):
            replies = await demo.press("Erin", data)
            assert "question" not in text(replies)
            assert text(replies) == stale, data
    assert text(await demo.press("Erin", "pollmeet:1.online")) == stale


async def test_a_chat_link_dropped_when_a_group_moves_is_audited(demo: Chat) -> None:
    """The attack: a branch's announcements silently stop reaching its group.
    Besides /unlinkchat, a link ends when Telegram moves a group to a new id that
    is linked already; that unlink is in the audit log too, naming the branch."""
    await demo.say("Alice", "/linkchat", group="-100old")
    await demo.say("Erin", "/linkchat", group="-100new")
    assert await demo.core.chat_moved("console", "-100old", "-100new") == 1
    async with demo.core.db.transaction() as session:
        rows = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "chat.unlinked"))
        )
        frome = await session.scalar(select(Branch).where(Branch.slug == "frome"))
    assert [(r.branch_id, r.details.get("why")) for r in rows] == [
        (frome.id, "the group moved to a chat linked already")  # type: ignore[union-attr]
    ]


async def test_help_in_a_group_does_not_show_whose_roles_are_whose(demo: Chat) -> None:
    """The attack: Dan asks Bob to send /help in the branch's group, and reads
    from the list that Bob is its treasurer (/dues) or an admin. Now: /help in a
    group lists only what everyone can do; the staff commands come in private."""
    public = (await demo.say("Bob", "/help", group="-100frome"))[0]
    assert not public.private
    assert "/dues" not in public.text and "/promote" not in public.text
    assert "/join" in public.text
    assert "/dues" in (await demo.say("Bob", "/help"))[0].text
