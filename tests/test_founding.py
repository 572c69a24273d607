"""A party from an empty database: its first admin, its regions, and where a
proposed branch lands. Every test starts from nothing (no demo)."""

from __future__ import annotations

import argparse
import datetime as dt
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import build_core
from bot.branches.founding import issue_admin_code
from bot.branches.rules import Area, merged_settings
from bot.kernel.config import Settings
from storage.db import Database
from storage.models import (
    AdminCode,
    AuditEntry,
    Branch,
    BranchChat,
    BranchTransition,
    CanvassSlot,
    Draw,
    Meeting,
    OutboxMessage,
    Poll,
    Region,
    RoleGrant,
)
from tests.helpers import Chat, snapshot, text
from tests.test_cli import organiser


async def admin_code(chat: Chat) -> str:
    """What `organiser init` prints: a one-time code for a national admin."""
    async with chat.core.db.transaction() as session:
        return await issue_admin_code(session, chat.clock.now(), note="test")


async def founder(chat: Chat, name: str = "Pat") -> None:
    """``name`` agrees to the notice and claims a national admin code."""
    await chat.signup(name)
    replies = await chat.say(name, f"/claim {await admin_code(chat)}")
    assert "You are now a national admin" in text(replies)


async def roles(chat: Chat) -> int:
    async with chat.core.db.transaction() as session:
        return await session.scalar(select(func.count()).select_from(RoleGrant)) or 0


async def told(chat: Chat, name: str) -> list[str]:
    return [t for who, t in await chat.outbox() if who == name]


# --- The first admin ------------------------------------------------------------------


async def test_the_first_admin_claims_the_code_init_printed(chat: Chat) -> None:
    code = await admin_code(chat)
    await chat.signup("Pat")
    replies = await chat.say("Pat", f"/claim {code.lower()}")
    assert "You are now a national admin" in text(replies)
    assert "/region add" in text(replies)  # the next step, in plain words
    me = text(await chat.say("Pat", "/me"))
    assert "admin" in me and "national" in me.lower()
    # /help now offers the region command to Pat, and not to a newcomer.
    assert "/region" in text(await chat.say("Pat", "/help"))
    await chat.signup("Quinn")
    assert "/region" not in text(await chat.say("Quinn", "/help"))


async def test_an_admin_code_works_once(chat: Chat) -> None:
    code = await admin_code(chat)
    await chat.signup("Pat")
    await chat.signup("Mallory")
    assert "You are now a national admin" in text(await chat.say("Pat", f"/claim {code}"))
    replies = await chat.say("Mallory", f"/claim {code}")
    assert replies[0].error and "does not match" in replies[0].text
    assert await roles(chat) == 1


async def test_an_admin_code_expires_after_a_day(chat: Chat) -> None:
    code = await admin_code(chat)
    chat.clock.advance(dt.timedelta(hours=24, seconds=1))
    await chat.signup("Pat")
    replies = await chat.say("Pat", f"/claim {code}")
    assert replies[0].error
    assert await roles(chat) == 0


async def test_the_database_holds_no_usable_admin_code(chat: Chat) -> None:
    """A reader of the database (or a backup) finds only a hash, not the code."""
    code = await admin_code(chat)
    async with chat.core.db.transaction() as session:
        stored = list(await session.scalars(select(AdminCode.code_hash)))
    assert stored and all(code not in h and code.split("-")[1] not in h for h in stored)


async def test_admin_codes_cannot_be_guessed_quickly(chat: Chat) -> None:
    """After five wrong codes in an hour, even the right one is refused until later."""
    code = await admin_code(chat)
    await chat.signup("Mallory")
    for i in range(5):
        replies = await chat.say("Mallory", f"/claim ADMIN-AAAAA-BBBBB-CCCC{i}")
        assert replies[0].error and "does not match" in replies[0].text
    replies = await chat.say("Mallory", f"/claim {code}")
    assert replies[0].error and "Too many wrong codes" in replies[0].text
    assert await roles(chat) == 0
    async with chat.core.db.transaction() as session:
        refused = await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "refused")
        )
    assert refused == 6  # every wrong try is in the audit log
    chat.clock.advance(dt.timedelta(hours=1, seconds=1))
    assert "You are now a national admin" in text(await chat.say("Mallory", f"/claim {code}"))


async def test_a_second_init_leaves_one_valid_code(chat: Chat) -> None:
    async with chat.core.db.transaction() as session:
        first = await issue_admin_code(session, chat.clock.now(), "init", replacing=True)
        second = await issue_admin_code(session, chat.clock.now(), "init", replacing=True)
    await chat.signup("Pat")
    assert (await chat.say("Pat", f"/claim {first}"))[0].error
    assert "national admin" in text(await chat.say("Pat", f"/claim {second}"))


# --- Regions --------------------------------------------------------------------------


async def test_a_national_admin_creates_and_edits_regions(chat: Chat) -> None:
    await founder(chat)
    assert "There are no regions yet" in text(await chat.say("Pat", "/region"))
    assert "created" in text(await chat.say("Pat", "/region add South West"))
    again = await chat.say("Pat", "/region add south west")
    assert again[0].error and "already a region" in again[0].text
    replies = await chat.say("Pat", "/region areas South West: Somerset, frome, ba, BS")
    assert "covers: frome, Somerset, BA, BS" in text(replies)  # as spelt, sorted
    assert "now called South West England" in text(
        await chat.say("Pat", "/region rename South West: South West England")
    )
    listing = text(await chat.say("Pat", "/region"))
    assert "South West England: covers frome, Somerset, BA, BS; 0 branches" in listing
    assert "removed" in text(await chat.say("Pat", "/region remove South West England"))
    assert "There are no regions yet" in text(await chat.say("Pat", "/region"))


@pytest.mark.parametrize(
    "line",
    [
        "/region add",
        "/region areas South West",
        "/region areas South West: ,,,",
        "/region rename South West:",
        "/region frobnicate",
        "/region add " + "x" * 81,
        "/region add \u202eevil",
    ],
)
async def test_bad_region_input_is_refused_and_changes_nothing(chat: Chat, line: str) -> None:
    await founder(chat)
    await chat.say("Pat", "/region add South West")
    replies = await chat.say("Pat", line)
    assert replies[0].error
    async with chat.core.db.transaction() as session:
        regions = [(r.name, r.area) for r in await session.scalars(select(Region))]
    assert regions == [("South West", "")]


async def test_only_national_admins_touch_regions(chat: Chat) -> None:
    await founder(chat)
    await chat.say("Pat", "/region add South West")
    await chat.signup("Mallory")
    replies = await chat.say("Mallory", "/region add Mallory Land")
    assert replies[0].error and "national admins" in replies[0].text
    replies = await chat.say("Mallory", "/region areas South West: Everywhere")
    assert replies[0].error
    async with chat.core.db.transaction() as session:
        assert [r.area for r in await session.scalars(select(Region))] == [""]
        refused = await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "refused")
        )
    assert refused == 2


async def test_a_region_with_branches_is_not_removed(chat: Chat) -> None:
    await founder(chat)
    await chat.say("Pat", "/region add South West")
    await chat.say("Pat", "/region areas South West: Frome")
    await chat.signup("Ann", "Frome")
    await chat.press("Ann", "Propose")
    replies = await chat.say("Pat", "/region remove South West")
    assert replies[0].error and "still has branches" in replies[0].text


# --- Where a proposed branch lands, and who is told -----------------------------------


async def propose(chat: Chat, name: str, place: str) -> list[str]:
    await chat.signup(name, place)
    return [text(await chat.press(name, "Propose"))]


async def branch(chat: Chat, name: str) -> Branch:
    async with chat.core.db.transaction() as session:
        found = await session.scalar(select(Branch).where(Branch.name == name))
        assert found is not None
        return found


async def test_a_proposal_lands_in_the_region_that_covers_it(chat: Chat) -> None:
    await founder(chat)
    await chat.say("Pat", "/region add South West")
    await chat.say("Pat", "/region areas South West: Somerset, Frome, BA")
    await chat.say("Pat", "/region add Wales")
    await chat.say("Pat", "/region areas Wales: Cardiff, CF")
    await propose(chat, "Ann", "frome")
    await propose(chat, "Bea", "BA11")
    await propose(chat, "Cai", "Cardiff")
    regions = {r.name: r.id for r in await _regions(chat)}
    assert (await branch(chat, "frome")).region_id == regions["South West"]
    assert (await branch(chat, "BA11")).region_id == regions["South West"]
    assert (await branch(chat, "Cardiff")).region_id == regions["Wales"]
    # Pat (national) hears of each proposal, naming the branch.
    heard = await told(chat, "Pat")
    assert sum("branch was proposed" in t for t in heard) == 3


async def _regions(chat: Chat) -> list[Region]:
    async with chat.core.db.transaction() as session:
        return list(await session.scalars(select(Region)))


async def test_region_admins_hear_of_proposals_and_volunteers_in_their_region(
    chat: Chat,
) -> None:
    await founder(chat)
    await chat.say("Pat", "/region add South West")
    await chat.say("Pat", "/region areas South West: Frome")
    await chat.say("Pat", "/region add Wales")
    await chat.say("Pat", "/region areas Wales: Cardiff")
    # Jo and Wyn become region admins (as the chat would make them).
    for who in ("Jo", "Wyn"):
        await chat.signup(who)
    await propose(chat, "Ann", "Frome")
    await propose(chat, "Cai", "Cardiff")
    for who, region_place in (("Jo", "frome"), ("Wyn", "cardiff")):
        await chat.say(who, f"/join {region_place}")
        person = await chat.person(who)
        assert person is not None
        replies = await chat.say("Pat", f"/promote {person.short_id} admin region")
        assert "now admin" in text(replies), text(replies)
    await propose(chat, "Bob", "Frome Selwood")  # nobody covers it: national queue
    await chat.signup("Dee", "Frome")
    await chat.press("Dee", "I can organise it")
    jo, wyn = await told(chat, "Jo"), await told(chat, "Wyn")
    assert any("Dee" in t and "offers to organise" in t for t in jo)
    assert not any("Dee" in t for t in wyn)
    assert not any("Frome Selwood" in t for t in jo + wyn)
    assert any("Frome Selwood" in t and "/region assign" in t for t in await told(chat, "Pat"))


async def test_a_branch_waiting_for_a_region_is_placed_by_a_national_admin(chat: Chat) -> None:
    await founder(chat)
    await propose(chat, "Ann", "Frome")
    await propose(chat, "Bea", "Glastonbury")
    assert "waiting for a region" in text(await chat.say("Pat", "/region"))
    await chat.say("Pat", "/region add South West")
    # Saying which places a region covers places the branches waiting there.
    assert "Placed in it: Frome" in text(
        await chat.say("Pat", "/region areas South West: Frome, BA")
    )
    assert "now in the South West region" in text(
        await chat.say("Pat", "/region assign Glastonbury: South West")
    )
    region = (await _regions(chat))[0]
    assert (await branch(chat, "Glastonbury")).region_id == region.id
    assert (await branch(chat, "Frome")).region_id == region.id


async def test_the_command_line_places_waiting_branches_as_the_chat_does(
    chat: Chat, capsys: pytest.CaptureFixture[str]
) -> None:
    from adapters.founding_cli import cmd_region_add, cmd_region_areas

    await founder(chat)
    await propose(chat, "Ann", "Frome")
    await propose(chat, "Bea", "Glastonbury")
    await propose(chat, "Cai", "Cardiff")
    url = chat.core.db.url.render_as_string(hide_password=False)
    args = argparse.Namespace(db=url, name="South West", areas="Frome, BA")
    assert await cmd_region_add(args, Settings()) == 0
    assert "placed in it: Frome" in capsys.readouterr().out
    args = argparse.Namespace(db=url, name="South West", areas="Frome, Glastonbury")
    assert await cmd_region_areas(args, Settings()) == 0
    assert "placed in it: Glastonbury" in capsys.readouterr().out
    region = (await _regions(chat))[0]
    frome, glastonbury = await branch(chat, "Frome"), await branch(chat, "Glastonbury")
    assert frome.region_id == glastonbury.region_id == region.id
    assert (await branch(chat, "Cardiff")).region_id is None
    async with chat.core.db.transaction() as session:
        placed = await session.scalars(
            select(AuditEntry.branch_id).where(AuditEntry.action == "branch.placed")
        )
        assert sorted(placed) == sorted([frome.id, glastonbury.id])


async def test_a_volunteer_is_told_the_truth_when_the_party_has_no_admin(chat: Chat) -> None:
    await propose(chat, "Ann", "Frome")
    replies = await chat.press("Ann", "I can organise it")
    assert "no admin yet" in text(replies)
    assert "have been told" not in text(replies)
    async with chat.core.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_areas_match_place_names_and_postcode_prefixes() -> None:
    area = Area.parse("Somerset, Frome, BA, B, CF10, Ynys Môn")
    for place in ("frome", "FROME", "BA11", "ba11 4ab", "B1", "CF10", "ynys môn", "Ynys  Môn"):
        assert area.covers(place), place
    for place in ("BS1", "CF11", "Bath", "", "Frome Selwood", "BAA1"):
        assert not area.covers(place), place


# --- From the terminal ----------------------------------------------------------------


@pytest.mark.slow  # `organiser` in a process, several times
def test_init_names_the_party_and_prints_a_code_the_chat_accepts(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'party.db'}"
    first = organiser("init", "--party", "The Levellers", "--db", url, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "The party: The Levellers" in first.stdout
    code = re.search(r"/claim (ADMIN-[A-Z0-9-]+)", first.stdout)
    assert code is not None
    region = organiser(
        "region", "add", "South West", "--areas", "Somerset, BA", "--db", url, cwd=tmp_path
    )
    assert region.returncode == 0 and "covering Somerset, BA" in region.stdout.replace(
        "somerset", "Somerset"
    )
    bad = organiser("region", "add", "  ", "--db", url, cwd=tmp_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert organiser("admin", "list", "--db", url, cwd=tmp_path).returncode == 1
    # A console session on that database: the hint, then the claim.
    script = f"/start\n1\n/claim {code.group(1)}\n/region\n"
    console = organiser("console", "--db", url, cwd=tmp_path, stdin=script)
    assert console.returncode == 0, console.stderr
    assert "no national admin yet" in console.stderr
    assert "You are now a national admin of The Levellers" in console.stdout
    assert "South West: covers" in console.stdout
    listed = organiser("admin", "list", "--db", url, cwd=tmp_path)
    assert listed.returncode == 0 and "Sam" in listed.stdout
    again = organiser("init", "--db", url, cwd=tmp_path)
    assert "already has 1 national admin" in again.stdout and "/claim" not in again.stdout


async def test_admin_add_makes_a_second_co_leader(db: Database, clock: object) -> None:
    from bot.kernel.clock import FixedClock

    assert isinstance(clock, FixedClock)
    chat = Chat(build_core(db, Settings(), clock=clock), clock)
    await founder(chat, "Pat")
    await founder(chat, "Quinn")
    replies = await chat.say("Pat", "/region add Wales")
    assert "created" in text(replies)
    assert await roles(chat) == 2


async def test_branch_says_how_many_more_people_it_needs_in_plain_words(chat: Chat) -> None:
    await founder(chat)
    await propose(chat, "Ann", "Frome")
    await chat.signup("Ben", "Frome")
    status = text(await chat.say("Pat", "/branch Frome"))
    assert "1 more interested person and an organiser" in status
    assert "1 more interested people" not in status


async def test_admins_rename_a_branch_and_set_its_area_and_time_zone(chat: Chat) -> None:
    await founder(chat)
    await propose(chat, "Ann", "Frome")
    replies = await chat.say("Pat", "/branch rename Frome: Frome and Selwood")
    assert "now called Frome and Selwood" in text(replies)
    replies = await chat.say("Pat", "/branch area Frome and Selwood: Frome, Selwood, BA11")
    assert "covers: Frome, Selwood, BA11" in text(replies)
    replies = await chat.say("Pat", "/branch timezone Frome and Selwood: Europe/Madrid")
    assert "now keeps time in Europe/Madrid" in text(replies)
    # Someone sending /join BA11 now lands in it.
    await chat.signup("Ben")
    assert "Frome and Selwood" in text(await chat.say("Ben", "/join BA11"))
    b = await branch(chat, "Frome and Selwood")
    assert b.timezone == "Europe/Madrid"
    for bad in (
        "/branch timezone Frome and Selwood: Mars/Olympus",
        "/branch area Frome and Selwood: ,,",
        "/branch rename Frome and Selwood: ???",
    ):
        assert (await chat.say("Pat", bad))[0].error, bad
    # Ann (no role) cannot.
    replies = await chat.say("Ann", "/branch rename Frome and Selwood: Annsville")
    assert replies[0].error
    assert (await branch(chat, "Frome and Selwood")).name == "Frome and Selwood"


# --- Merging two proposals for one place ----------------------------------------------


async def branch_named(chat: Chat, name: str) -> Branch | None:
    async with chat.core.db.transaction() as session:
        return await session.scalar(select(Branch).where(Branch.name == name))


async def branch_of(chat: Chat, name: str) -> str | None:
    """The name of the branch ``name`` is in."""
    person = await chat.person(name)
    assert person is not None
    async with chat.core.db.transaction() as session:
        found = await session.get(Branch, person.branch_id) if person.branch_id else None
        return found.name if found else None


async def promote(chat: Chat, who: str, name: str, role: str, where: str = "") -> None:
    person = await chat.person(name)
    assert person is not None
    replies = await chat.say(who, f"/promote {person.short_id} {role} {where}".strip())
    assert f"now {role}" in text(replies), text(replies)


async def duplicates(chat: Chat, frome_first: bool = True) -> None:
    """Pat founds the party and its South West region; Ann proposes Frome, Bea
    proposes Frome Town and is made its organiser, and Cal joins Frome Town."""
    await founder(chat)
    await chat.say("Pat", "/region add South West")
    await chat.say("Pat", "/region areas South West: Frome, Frome Town")
    for who, place in (("Ann", "Frome"), ("Bea", "Frome Town"))[:: 1 if frome_first else -1]:
        await propose(chat, who, place)
    await promote(chat, "Pat", "Bea", "organiser")
    await chat.signup("Cal", "Frome Town")
    assert (await branch(chat, "Frome Town")).status == "proposed"  # 2 people: not yet


async def merge_rows(chat: Chat) -> dict[str, int]:
    """How many merge messages, history steps and merge audit entries there are."""
    async with chat.core.db.transaction() as session:
        return {
            "told": await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.key.like("branch-merged%"))
            )
            or 0,
            "steps": await session.scalar(select(func.count()).select_from(BranchTransition)) or 0,
            "audited": await session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "branch.merged")
            )
            or 0,
        }


@pytest.mark.parametrize("frome_first", [True, False], ids=["older-kept", "newer-kept"])
async def test_an_admin_merges_two_proposals_for_one_place(chat: Chat, frome_first: bool) -> None:
    await duplicates(chat, frome_first)
    preview = await chat.say("Pat", "/branch merge Frome Town: Frome")
    shown = text(preview)
    assert "Merge the Frome Town branch (proposed) into the Frome branch (proposed)?" in shown
    assert "Frome Town has 2 people, 1 organiser, 0 meetings" in shown
    assert "Frome will have 3 people" in shown
    # Nothing has changed before the Confirm.
    assert await branch_of(chat, "Cal") == "Frome Town"
    assert await merge_rows(chat) == {"told": 0, "steps": 2, "audited": 0}
    confirm = chat.button("Pat", "Merge them")
    replies = await chat.press("Pat", confirm)
    assert "Merged: Frome Town is now part of the Frome branch, which has 3 people" in text(replies)
    assert "it is now forming" in text(replies)  # 3 people and an organiser
    assert await branch_named(chat, "Frome Town") is None
    kept = await branch(chat, "Frome")
    assert kept.status == "forming"
    assert kept.region_id is not None
    for who in ("Ann", "Bea", "Cal"):
        assert await branch_of(chat, who) == "Frome"
    # Bea is organiser of the kept branch, and its history shows the merge.
    status = text(await chat.say("Pat", "/branch Frome"))
    assert "Organisers: Bea" in status
    assert "Frome Town: proposed 2026-11-26" in status
    assert "Frome Town merged in 2026-11-26" in status
    assert status.index("Frome Town merged in") < status.index("forming 2026-11-26")
    # Each person was told once, in plain words; Pat read the reply.
    for who, words in (
        ("Bea", "you are in the Frome branch"),
        ("Cal", "you are in the Frome branch"),
        ("Ann", "its 2 people are in Frome with you"),
    ):
        assert sum(words in t for t in await told(chat, who)) == 1, who
    assert not any("second proposal" in t for t in await told(chat, "Pat"))
    async with chat.core.db.transaction() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "branch.merged"))
        assert entry is not None and entry.branch_id == kept.id
        assert entry.details["merged"] == "Frome Town"
        # Every audit entry names a branch that exists (Frome Town's entries now name Frome).
        named = set(await session.scalars(select(AuditEntry.branch_id).distinct()))
        assert named <= {None, kept.id}
    # A second press of the same Confirm does nothing, and says so.
    before = await merge_rows(chat)
    again = await chat.press("Pat", confirm)
    assert again[0].error and "expired" in again[0].text
    assert await merge_rows(chat) == before == {"told": 3, "steps": 4, "audited": 1}
    # Someone looking for the old place finds the kept branch.
    await chat.signup("Dee")
    joined = await chat.say("Dee", "/join Frome Town")
    assert "Welcome to the Frome branch" in text(joined), text(joined)
    assert await branch_of(chat, "Dee") == "Frome"
    # A branch proposed after the merge is a new one, and the admins hear of it.
    await propose(chat, "Eve", "Bath")
    assert any("A Bath branch was proposed" in t for t in await told(chat, "Pat"))
    assert await branch_of(chat, "Eve") == "Bath"


async def test_a_role_held_in_both_branches_is_kept_once(chat: Chat) -> None:
    await duplicates(chat)
    bea = await chat.person("Bea")
    assert bea is not None
    async with chat.core.db.transaction() as session:
        frome = await session.scalar(select(Branch).where(Branch.name == "Frome"))
        assert frome is not None
        session.add(
            RoleGrant(
                person_id=bea.id,
                role="organiser",
                scope="branch",
                scope_id=frome.id,
                granted_at=chat.clock.now(),
            )
        )
    await chat.say("Pat", "/branch merge Frome Town: Frome")
    await chat.press("Pat", "Merge them")
    kept = await branch(chat, "Frome")
    async with chat.core.db.transaction() as session:
        grants = list(await session.scalars(select(RoleGrant).where(RoleGrant.person_id == bea.id)))
    assert [(g.role, g.scope, g.scope_id) for g in grants] == [("organiser", "branch", kept.id)]


async def test_only_admins_over_both_branches_merge_them(chat: Chat) -> None:
    await duplicates(chat)
    await chat.say("Pat", "/region add Wales")
    await chat.say("Pat", "/region areas Wales: Cardiff")
    await propose(chat, "Wyn", "Cardiff")
    await promote(chat, "Pat", "Wyn", "admin", "region")
    await chat.signup("Jo", "Frome")
    await promote(chat, "Pat", "Jo", "admin", "region")
    before = await snapshot(chat.core.db)
    for who, line in (
        ("Bea", "/branch merge Frome Town: Frome"),  # an organiser
        ("Wyn", "/branch merge Frome Town: Frome"),  # another region's admin
        ("Jo", "/branch merge Cardiff: Frome"),  # Cardiff is not Jo's region's
        ("Wyn", "/branch merge Cardiff: Frome"),  # nor is Frome Wyn's
    ):
        replies = await chat.say(who, line)
        assert replies[0].error and "Only the admins of both branches' regions" in text(replies)
        assert not any(b.label == "Merge them" for r in replies for b in r.button_list())
    for line, words in (
        ("/branch merge Frome: Frome", "cannot be merged into itself"),
        ("/branch merge Frome Town", "Usage: /branch merge"),
        ("/branch merge Frome Town:", "Usage: /branch merge"),
        ("/branch merge Nowhere: Frome", "There is no branch called Nowhere"),
    ):
        replies = await chat.say("Pat", line)
        assert replies[0].error and words in text(replies), line
    after = await snapshot(chat.core.db)
    refused = [e for e in after.pop("audit_log") if '"refused"' in e]
    assert len(refused) == 4  # each forbidden attempt is audited
    before.pop("audit_log")
    assert after == before
    # Cancel leaves everything as it was, too.
    await chat.say("Jo", "/branch merge Frome Town: Frome")
    assert "Cancelled" in text(await chat.press("Jo", "Cancel"))
    assert await branch_of(chat, "Bea") == "Frome Town"
    # Jo, admin of the South West region that holds both, may.
    await chat.say("Jo", "/branch merge Frome Town: Frome")
    assert "Merged" in text(await chat.press("Jo", "Merge them"))
    assert await branch_of(chat, "Bea") == "Frome"


async def test_an_affiliated_branch_is_not_merged_away(chat: Chat) -> None:
    await founder(chat)
    await chat.say("Pat", "/region add South West")
    await chat.say("Pat", "/region areas South West: Frome, Frome Town")
    await propose(chat, "Ann", "Frome")
    for who in ("Ben", "Cal"):
        await chat.signup(who, "Frome")
    await promote(chat, "Pat", "Ann", "organiser")
    await chat.say("Pat", "/branch override Frome: met for a year before the party")
    assert "now affiliated" in text(
        await chat.say("Pat", "/branch override Frome: dues paid in cash")
    )
    await propose(chat, "Bea", "Frome Town")
    before = await snapshot(chat.core.db)
    replies = await chat.say("Pat", "/branch merge Frome: Frome Town")
    assert replies[0].error
    assert "The Frome branch is affiliated" in text(replies)
    assert "/branch merge Frome Town: Frome" in text(replies)  # the way round that works
    assert await snapshot(chat.core.db) == before
    # The proposal merges into the affiliated branch, which stays affiliated.
    await chat.say("Pat", "/branch merge Frome Town: Frome")
    assert "which has 4 people" in text(await chat.press("Pat", "Merge them"))
    kept = await branch(chat, "Frome")
    assert kept.status == "affiliated"
    assert await branch_of(chat, "Bea") == "Frome"
    assert "Frome Town merged in" in text(await chat.say("Ann", "/branch"))


async def test_meetings_chats_canvassing_and_polls_move_with_the_merge(chat: Chat) -> None:
    """What the duplicate had goes with its people; a draw waiting for its seed
    holds the merge back until it is made."""
    await duplicates(chat)
    now = chat.clock.now()
    source = await branch(chat, "Frome Town")
    async with chat.core.db.transaction() as session:
        session.add_all(
            [
                Meeting(
                    branch_id=source.id,
                    kind="online",
                    title="First call",
                    starts_at=now + dt.timedelta(days=3),
                    created_at=now,
                ),
                BranchChat(branch_id=source.id, platform="console", chat_id="g", linked_at=now),
                CanvassSlot(
                    branch_id=source.id,
                    weekday=5,
                    local_time="10:00",
                    meeting_point="Market Cross",
                    created_at=now,
                ),
                Poll(
                    scope="branch",
                    scope_id=source.id,
                    question="Where do we meet?",
                    options=["Pub", "Library"],
                    kind="single",
                    opened_at=now,
                ),
                Draw(
                    body="council",
                    scope="branch",
                    scope_id=source.id,
                    seats=3,
                    record={},
                    record_hash="0" * 64,
                    seed_due_at=now + dt.timedelta(days=1),
                    respond_by=now + dt.timedelta(days=8),
                    created_at=now,
                ),
            ]
        )
    replies = await chat.say("Pat", "/branch merge Frome Town: Frome")
    assert replies[0].error and "draw by lot waiting for its seed" in text(replies)
    async with chat.core.db.transaction() as session:
        draw = await session.scalar(select(Draw))
        assert draw is not None
        draw.status = "drawn"
    shown = text(await chat.say("Pat", "/branch merge Frome Town: Frome"))
    assert "1 meeting, 1 weekly canvassing session, 1 poll, 1 linked group chat" in shown
    await chat.press("Pat", "Merge them")
    kept = await branch(chat, "Frome")
    async with chat.core.db.transaction() as session:
        for model in (Meeting, BranchChat, CanvassSlot):
            assert list(await session.scalars(select(model.branch_id))) == [kept.id], model
        for scoped in (Poll, Draw):
            assert list(await session.scalars(select(scoped.scope_id))) == [kept.id], scoped


def test_the_kept_branch_has_both_areas_a_region_and_the_earlier_steps() -> None:
    call, meeting = dt.datetime(2026, 11, 2, tzinfo=dt.UTC), dt.datetime(2026, 11, 9, tzinfo=dt.UTC)
    source = Branch(
        id=1,
        name="Frome Town",
        slug="frome-town",
        area="Frome Town",
        status="forming",
        region_id=7,
        first_call_at=call,
        first_meeting_at=None,
    )
    into = Branch(
        id=2,
        name="Frome",
        slug="frome",
        area="BA11",
        status="proposed",
        region_id=None,
        first_call_at=call + dt.timedelta(days=1),
        first_meeting_at=meeting,
    )
    kept = merged_settings(source, into)
    assert (kept["name"], kept["slug"], kept["status"]) == ("Frome", "frome", "proposed")
    assert Area.parse(kept["area"]).covers("Frome Town") and Area.parse(kept["area"]).covers("BA11")
    assert kept["region_id"] == 7
    assert (kept["first_call_at"], kept["first_meeting_at"]) == (call, meeting)
    assert "id" not in kept
