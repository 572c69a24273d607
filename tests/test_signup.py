"""/signup: the party's (or a branch's) sign-up link and its QR code, and the
newcomer who follows it. Every test starts from an empty database (no demo): the
first national admin claims the code `organiser init` printed."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select

from bot.kernel.config import ConfigError, load_settings
from bot.kernel.core import Core
from bot.kernel.links import START_PAYLOAD
from bot.kernel.messages import Reply
from storage.models import AuditEntry, Branch, Person
from tests.helpers import Chat, text
from tests.test_founding import founder

BOT = "levellers_join_bot"


def qr_text(reply: Reply) -> str:
    """What a phone's camera reads in the reply's picture."""
    assert reply.file is not None and reply.file.mime_type == "image/png"
    assert reply.file.content.startswith(b"\x89PNG\r\n\x1a\n")
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(reply.file.content)))
    assert len(found) == 1 and found[0].format == zxingcpp.BarcodeFormat.QRCode
    return str(found[0].text)


async def the_party(chat: Chat) -> None:
    """Pat (national admin); a South West region; a Frome branch (proposed by Ann)
    covering Frome and BA11."""
    await founder(chat, "Pat")
    await chat.say("Pat", "/region add South West")
    await chat.say("Pat", "/region areas South West: Somerset, Frome, BA")
    await chat.signup("Ann", "Frome")
    await chat.press("Ann", "Propose")
    assert "covers: Frome, BA11" in text(await chat.say("Pat", "/branch area Frome: Frome, BA11"))


async def branch_of(chat: Chat, name: str) -> str | None:
    async with chat.core.db.transaction() as session:
        person = await session.scalar(select(Person).where(Person.display_name == name))
        assert person is not None
        branch = await session.get(Branch, person.branch_id) if person.branch_id else None
        return branch.name if branch else None


async def refusals(chat: Chat) -> int:
    """Refused /signup attempts in the audit log."""
    async with chat.core.db.transaction() as session:
        rows = await session.scalars(select(AuditEntry).where(AuditEntry.action == "refused"))
        return sum(entry.details.get("what") == "signup" for entry in rows)


# --- The admin's link --------------------------------------------------------------


async def test_a_national_admin_gets_the_party_link_and_a_qr_code_of_it(chat: Chat) -> None:
    await the_party(chat)
    chat.core.links.learn_telegram(BOT)
    [reply] = await chat.say("Pat", "/signup")
    link = f"https://t.me/{BOT}?start=join"
    assert link in reply.text
    assert "whole of" in reply.text and "where they live" in reply.text
    assert qr_text(reply) == link
    assert "/signup" in text(await chat.say("Pat", "/help"))


async def test_before_the_bot_knows_its_telegram_name_the_reply_says_so(chat: Chat) -> None:
    """The console (or a Discord-only bot) has no Telegram link to give: no crash, no QR."""
    await the_party(chat)
    [reply] = await chat.say("Pat", "/signup")
    assert not reply.error
    assert "There is no Telegram link yet" in reply.text
    assert "t.me" not in reply.text and reply.file is None


async def test_the_discord_invite_from_the_configuration_is_given_too(
    core: Core, chat: Chat
) -> None:
    core.settings = replace(core.settings, discord_invite_url="https://discord.gg/levellers")
    await the_party(chat)
    [reply] = await chat.say("Pat", "/signup")  # no Telegram: the QR opens the invite
    assert "Discord: https://discord.gg/levellers" in reply.text
    assert qr_text(reply) == "https://discord.gg/levellers"
    core.links.learn_telegram(BOT)
    [reply] = await chat.say("Pat", "/signup")  # both: the QR opens the Telegram link
    assert "https://discord.gg/levellers" in reply.text
    assert qr_text(reply) == f"https://t.me/{BOT}?start=join"


def test_the_discord_invite_must_be_an_https_address() -> None:
    assert load_settings(env={"ORGANISER_DISCORD_INVITE_URL": ""}).discord_invite_url == ""
    good = load_settings(env={"ORGANISER_DISCORD_INVITE_URL": "https://discord.gg/abc"})
    assert good.discord_invite_url == "https://discord.gg/abc"
    for bad in ("http://discord.gg/abc", "discord.gg/abc", "https://", "https://a b", "https://["):
        with pytest.raises(ConfigError, match=r"discord\.invite_url|DISCORD_INVITE_URL"):
            load_settings(env={"ORGANISER_DISCORD_INVITE_URL": bad})


async def test_someone_without_a_role_is_refused_and_it_is_audited(chat: Chat) -> None:
    await the_party(chat)
    chat.core.links.learn_telegram(BOT)
    for line in ("/signup", "/signup Frome"):
        [reply] = await chat.say("Ann", line)
        assert reply.error and reply.file is None and "t.me" not in reply.text
    assert "Only organisers and admins" in text(await chat.say("Ann", "/signup"))
    assert await refusals(chat) == 3
    [reply] = await chat.say("Zed", "/signup")  # not even agreed to the notice
    assert reply.error and "/start" in reply.text
    assert "/signup" not in text(await chat.say("Ann", "/help"))


async def test_a_branch_organiser_gets_their_branch_link(chat: Chat) -> None:
    await the_party(chat)
    chat.core.links.learn_telegram(BOT)
    ann = await chat.person("Ann")
    assert ann is not None
    assert "now organiser" in text(await chat.say("Pat", f"/promote {ann.short_id} organiser"))
    [reply] = await chat.say("Ann", "/signup")
    link = f"https://t.me/{BOT}?start=join-frome"
    assert link in reply.text and "Frome branch" in reply.text
    assert qr_text(reply) == link
    # Not another branch's link, nor the party's.
    await chat.signup("Cai", "Cardiff")
    await chat.press("Cai", "Propose")
    [reply] = await chat.say("Ann", "/signup Cardiff")
    assert reply.error and reply.file is None
    assert "Only the organisers of the Cardiff branch" in reply.text
    # Pat, a national admin, may have any branch's.
    [reply] = await chat.say("Pat", "/signup Cardiff")
    assert qr_text(reply) == f"https://t.me/{BOT}?start=join-cardiff"
    [reply] = await chat.say("Pat", "/signup Atlantis")
    assert reply.error and "no branch called Atlantis" in reply.text


async def test_a_region_admin_gets_the_party_link_for_the_regions_leaflets(chat: Chat) -> None:
    await the_party(chat)
    chat.core.links.learn_telegram(BOT)
    await chat.signup("Jo", "Frome")
    jo = await chat.person("Jo")
    assert jo is not None
    assert "now admin" in text(await chat.say("Pat", f"/promote {jo.short_id} admin region"))
    [reply] = await chat.say("Jo", "/signup")
    assert "South West region" in reply.text
    assert qr_text(reply) == f"https://t.me/{BOT}?start=join"


# --- The newcomer who follows it -----------------------------------------------------


async def test_a_newcomer_from_the_party_link_says_where_they_live_and_lands_there(
    chat: Chat,
) -> None:
    await the_party(chat)
    replies = await chat.say("Nia", "/start join")
    assert "Privacy:" in text(replies)
    replies = await chat.press("Nia", "I agree")
    assert "Where do you live?" in text(replies)
    assert await branch_of(chat, "Nia") is None
    replies = await chat.say("Nia", "BA11 4AB")
    assert "Frome" in text(replies)
    assert await branch_of(chat, "Nia") == "Frome"
    # The question is answered once: more text is just text.
    replies = await chat.say("Nia", "Bath")
    assert "I understand commands" in text(replies)
    assert await branch_of(chat, "Nia") == "Frome"


async def test_where_no_branch_covers_the_place_the_newcomer_may_propose_one(
    chat: Chat,
) -> None:
    await the_party(chat)
    await chat.say("Oli", "/start join")
    await chat.press("Oli", "I agree")
    replies = await chat.say("Oli", "Glastonbury")
    assert "No branch covers Glastonbury yet" in text(replies)
    await chat.press("Oli", "Propose a Glastonbury branch")
    assert await branch_of(chat, "Oli") == "Glastonbury"


async def test_a_bad_answer_is_refused_and_the_question_stays_open(chat: Chat) -> None:
    await the_party(chat)
    await chat.say("Nia", "/start join")
    await chat.press("Nia", "I agree")
    for bad in ("<script>", "x" * 81):
        replies = await chat.say("Nia", bad)
        assert replies[0].error and "town, area or postcode" in replies[0].text
    assert await branch_of(chat, "Nia") is None
    await chat.say("Nia", "Frome")
    assert await branch_of(chat, "Nia") == "Frome"


async def test_someone_already_here_who_follows_the_party_link_is_asked_too(chat: Chat) -> None:
    await the_party(chat)
    await chat.signup("Uma")
    assert "Where do you live?" in text(await chat.say("Uma", "/start join"))
    await chat.say("Uma", "frome")
    assert await branch_of(chat, "Uma") == "Frome"


async def test_plain_text_with_no_question_open_changes_nothing(chat: Chat) -> None:
    await the_party(chat)
    await chat.signup("Uma")
    assert "I understand commands" in text(await chat.say("Uma", "Frome"))
    assert await branch_of(chat, "Uma") is None


@pytest.mark.parametrize(
    "name",
    ["東京", "Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch North Side"],
)
async def test_a_branch_whose_name_telegram_cannot_carry_gets_a_link_by_its_id(
    chat: Chat, name: str
) -> None:
    """Telegram's start parameter is 1-64 of A-Z a-z 0-9 _ -: a slug in another
    script, or a long one, does not fit, so the link names the branch by id."""
    await the_party(chat)
    chat.core.links.learn_telegram(BOT)
    await chat.signup("Ken", name)
    await chat.press("Ken", "Propose")
    [reply] = await chat.say("Pat", f"/signup {name}")
    link = qr_text(reply)
    assert link in reply.text
    payload = link.split("?start=", 1)[1]
    assert START_PAYLOAD.fullmatch(payload) and payload.startswith("join_")
    await chat.say("Lin", f"/start {payload}")
    await chat.press("Lin", "I agree")
    assert await branch_of(chat, "Lin") == name


@pytest.mark.parametrize("payload", ["join_999999", "join_99999999999", "join_x", "join_"])
async def test_a_broken_branch_link_is_just_a_welcome(chat: Chat, payload: str) -> None:
    await the_party(chat)
    await chat.say("Vic", f"/start {payload}")
    replies = await chat.press("Vic", "I agree")
    assert not any(r.error for r in replies)
    assert "Next, find your local branch" in text(replies)
    assert await branch_of(chat, "Vic") is None
