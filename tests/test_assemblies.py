"""A citizens' assembly in chat: opened by an organiser, residents registering
through its link (no Person made), census targets shown with coverage, a panel
drawn with a public seed, invitations with declines and replacements, the
record verifying offline, and the retention purge."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import json
import re
from pathlib import Path

from sqlalchemy import func, select

from adapters.cli import main as organiser
from bot.assemblies.invitations import invitation_sweep
from bot.assemblies.retention import purge_sweep
from bot.lib.sortition.verification import verify
from storage.models import (
    Assembly,
    AssemblyDraw,
    AssemblyInvitation,
    AssemblyRegistrant,
    OutboxMessage,
    Person,
)
from tests.helpers import LOTTO_RESULT, Chat, lotto, snapshot
from tests.helpers import text as joined

OPEN = "/assembly open Frome climate assembly | BA11 | 4 | 2027-03-06 to 2027-03-07 | 2027-02-01"
TARGETS = (
    "/assembly targets 1\n"
    "gender,woman,50%\ngender,man,48%\ngender,non-binary,2%\n"
    "age,18-29,20\nage,30-44,25\nage,45-64,30\nage,65+,25\n"
    "tenure,owner,60%\ntenure,renter,40%"
)
# What any request touches (the audit of a refusal, a question's prompt, when an account was seen).
IGNORED = ("audit_log", "prompts", "identities")
GENDERS = ["woman", "man", "non-binary"]
AGES = ["18-29", "30-44", "45-64", "65+"]


async def opened(demo: Chat) -> str:
    replies = await demo.say("Alice", OPEN)
    code = re.search(r"code ([A-Z0-9]{8})", joined(replies))
    assert code, joined(replies)
    await demo.say("Alice", "/assembly categories 1 tenure: owner | renter")
    return code.group(1)


async def resident(
    demo: Chat, name: str, code: str, i: int, house: str | None = None, gender: str | None = None
) -> None:
    replies = await demo.say(name, f"/register {code} BA11 1AB {house or i}")
    assert "I agree" in [b.label for r in replies for b in r.button_list()], joined(replies)
    await demo.press(name, "I agree")
    for choice in (gender or GENDERS[i % 3], AGES[i % 4], ["owner", "renter"][i % 2]):
        replies = await demo.press(name, choice)
    assert "you are registered" in joined(replies), joined(replies)


async def test_a_resident_registers_without_becoming_a_member(demo: Chat) -> None:
    code = await opened(demo)
    people = await _count(demo, Person)
    await resident(demo, "Rita", code, 1)
    assert await _count(demo, Person) == people  # neither member nor supporter
    async with demo.core.db.transaction() as session:
        row = await session.scalar(select(AssemblyRegistrant))
        assert row is not None and row.complete
        assert row.answers == {"gender": "man", "age": "30-44", "tenure": "renter"}, row.answers
        assert "BA11" not in json.dumps(row.answers) and "1AB" not in row.household
    # See, change, withdraw.
    shown = joined(await demo.say("Rita", f"/register {code}"))
    assert "You are registered" in shown and "tenure: renter" in shown
    await demo.press("Rita", "Change my answers")
    for choice in ("woman", "65+", "owner"):
        await demo.press("Rita", choice)
    assert "tenure: owner" in joined(await demo.say("Rita", f"/register {code}"))
    mydata = (await demo.say("Rita", "/mydata"))[0]
    assert mydata.file is not None and b"assembly_registrations" in mydata.file.content
    await demo.say("Rita", f"/register {code}")
    await demo.press("Rita", "Withdraw")
    await demo.press("Rita", "Yes, withdraw")
    assert await _count(demo, AssemblyRegistrant) == 0


async def test_bad_input_changes_nothing(demo: Chat) -> None:
    code = await opened(demo)
    before = await snapshot(demo.core.db)
    outside = joined(await demo.say("Rita", f"/register {code} BS1 4DJ 3"))
    assert "is not in it" in outside and "Nothing was kept" in outside
    assert "no assembly" in joined(await demo.say("Rita", "/register NOPE1234 BA11 1AB 2"))
    assert "house number" in joined(await demo.say("Rita", f"/register {code} BA11 1AB"))
    refused = joined(await demo.say("Carol", "/assembly show 1"))  # a member, not an organiser
    assert "no assembly 1" in refused
    bad = joined(await demo.say("Alice", "/assembly targets 1\nage,teen,40%"))
    assert "not one of age's values" in bad
    after = await snapshot(demo.core.db)
    assert {k: v for k, v in after.items() if k not in IGNORED} == {
        k: v for k, v in before.items() if k not in IGNORED
    }


async def test_a_deep_link_starts_the_registration(demo: Chat) -> None:
    code = await opened(demo)
    asked = joined(await demo.say("Rita", f"/start asm-{code}"))
    assert "Frome climate assembly" in asked and "postcode" in asked
    replies = await demo.say("Rita", "BA11 1AB 7")  # typed, answering the question
    assert "I agree" in [b.label for r in replies for b in r.button_list()]


async def test_targets_show_quotas_coverage_and_relaxation(demo: Chat) -> None:
    code = await opened(demo)
    for i in range(6):
        await resident(demo, f"Res{i}", code, i, gender="man")
    shown = joined(await demo.say("Alice", TARGETS))
    assert "gender woman: 1-3 seats, 0 registered" in shown, shown
    assert "only 0 registrants for 1 seats" in shown
    assert "cannot all be met" in shown


async def drawn(demo: Chat, shared: int = 6) -> None:
    """24 residents (the first ``shared`` in pairs sharing an address), census
    targets, a 4-seat panel committed and drawn with a lottery's result entered
    by two witnesses."""
    code = await opened(demo)
    for i in range(24):
        await resident(demo, f"Res{i}", code, i, house=str(i // 2 if i < shared else i))
    await demo.say("Alice", TARGETS)
    preview = joined(await demo.say("Alice", f"/assembly draw 1 {lotto(demo.clock)}"))
    assert "one person per household" in preview, preview
    committed = await demo.press("Alice", "Commit")
    assert committed[0].file is not None and "Record hash" in committed[0].text
    async with demo.core.db.transaction() as session:
        draw = await session.get(AssemblyDraw, 1)
        assert draw is not None
        demo.clock.set(draw.seed_due_at + dt.timedelta(minutes=5))
    assert "Result noted" in joined(await demo.say("Alice", f"/assembly seed 1 {LOTTO_RESULT}"))
    # Carol, a Frome member who organises nothing, is the second witness.
    drawn = joined(await demo.say("Carol", f"/assembly seed 1 {LOTTO_RESULT}"))
    assert "4 residents selected" in drawn, drawn


async def test_a_panel_is_drawn_invited_and_replaced(demo: Chat) -> None:
    await drawn(demo)
    invited = await _invitations(demo)
    assert len(invited) == 4
    # Two decline: each place goes to the next under the committed rule.
    for name, invitation_id in invited[:2]:
        replies = await demo.press(name, f"asmno:{invitation_id}")
        assert "someone else will be drawn" in joined(replies)
    await demo.press(invited[2][0], f"asmyes:{invited[2][1]}")
    forged = (
        await demo.press("Res0", f"asmyes:{invited[3][1]}") if invited[3][0] != "Res0" else None
    )
    assert forged is None or forged[0].error
    everyone = await _invitations(demo, every=True)
    assert len(everyone) == 6
    async with demo.core.db.transaction() as session:
        draw = await session.get(AssemblyDraw, 1)
        assert draw is not None and draw.seed is not None
        record = json.loads(json.dumps(draw.record))
        homes = {r.id: r.household for r in await session.scalars(select(AssemblyRegistrant))}
        standing = list(
            await session.scalars(
                select(AssemblyInvitation.registrant_id).where(
                    AssemblyInvitation.status.in_(("invited", "accepted"))
                )
            )
        )
        to_residents = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.person_id.is_(None), OutboxMessage.to_chat_id.is_not(None))
        )
    assert [e["event"] for e in record["history"]] == ["declined", "declined"]
    assert len({homes[r] for r in standing}) == len(standing) == 4
    assert verify(record, draw.seed).ok
    assert to_residents == 6


async def _invitations(demo: Chat, every: bool = False) -> list[tuple[str, int]]:
    async with demo.core.db.transaction() as session:
        rows = await session.execute(
            select(AssemblyRegistrant.user_id, AssemblyInvitation.id, AssemblyInvitation.status)
            .join(AssemblyRegistrant, AssemblyRegistrant.id == AssemblyInvitation.registrant_id)
            .order_by(AssemblyInvitation.id)
        )
        return [
            (user.capitalize() if not user.startswith("res") else "Res" + user[3:], i)
            for user, i, status in rows
            if every or status == "invited"
        ]


async def test_the_retention_purge_deletes_registrants_after_the_period(demo: Chat) -> None:
    code = await opened(demo)
    await resident(demo, "Rita", code, 1)
    async with demo.core.db.transaction() as session:
        assembly = await session.get(Assembly, 1)
        assert assembly is not None
        end = dt.datetime(2027, 3, 8, tzinfo=dt.UTC)
    assert await purge_sweep(demo.core.db, demo.core.settings, end + dt.timedelta(days=89)) == 0
    assert await purge_sweep(demo.core.db, demo.core.settings, end + dt.timedelta(days=91)) == 1
    assert await _count(demo, AssemblyRegistrant) == 0
    assert await purge_sweep(demo.core.db, demo.core.settings, end + dt.timedelta(days=92)) == 0


async def _count(demo: Chat, model: type) -> int:
    async with demo.core.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_census_targets_from_the_command_line(demo: Chat, tmp_path: Path) -> None:
    code = await opened(demo)
    await resident(demo, "Rita", code, 1)
    targets = tmp_path / "census.csv"
    targets.write_text("category,value,share\n" + TARGETS.split("\n", 1)[1] + "\n")
    url = demo.core.db.url.render_as_string(hide_password=False)
    shown = await _cli(["assembly", "targets", "1", str(targets), "--db", url])
    assert shown[0] == 0 and "gender woman: 1-3 seats, 0 registered" in shown[1]
    assert "only 0 registrants for 1 seats" in shown[1]
    targets.write_text("gender,woman,50%\n")
    refused = await _cli(["assembly", "targets", "1", str(targets), "--db", url])
    assert refused[0] == 2 and "needs a share for every value" in refused[2]
    async with demo.core.db.transaction() as session:
        assembly = await session.get(Assembly, 1)
        assert assembly is not None and assembly.targets["gender"]["woman"] == 0.5


async def _cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()

    def run() -> int:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            return organiser(argv)

    status = await asyncio.to_thread(run)
    return status, out.getvalue(), err.getvalue()


async def test_reminders_then_silence_is_a_decline_and_the_next_is_invited(demo: Chat) -> None:
    await drawn(demo)
    async with demo.core.db.transaction() as session:
        deadline = (await session.scalars(select(AssemblyInvitation.respond_by))).first()
        assert deadline is not None
    settings = demo.core.settings
    await invitation_sweep(demo.core.db, settings, deadline - dt.timedelta(hours=47))
    await invitation_sweep(demo.core.db, settings, deadline - dt.timedelta(hours=47))  # once
    reminders = await _texts_to_residents(demo, "Reminder: you have not answered yet.")
    assert reminders == 4
    await invitation_sweep(demo.core.db, settings, deadline + dt.timedelta(minutes=1))
    async with demo.core.db.transaction() as session:
        statuses = list(await session.scalars(select(AssemblyInvitation.status)))
        draw = await session.get(AssemblyDraw, 1)
        assert draw is not None and draw.seed is not None
        assert verify(draw.record, draw.seed).ok
    # Each silent place went to the next reserve, who now has a week of their own.
    assert statuses.count("expired") == 4 and statuses.count("invited") == 4
    assert "4 did not answer" in joined(await demo.say("Alice", "/assembly show 1"))


async def test_someone_elses_buttons_change_nothing(demo: Chat) -> None:
    """Attack: pressing another resident's registration or invitation buttons."""
    await drawn(demo)
    invited = await _invitations(demo)
    async with demo.core.db.transaction() as session:
        rita = await session.scalar(
            select(AssemblyRegistrant.id).where(AssemblyRegistrant.user_id == "res7")
        )
    before = await snapshot(demo.core.db)
    for data in (f"asmans:{rita}.0.1", f"asmwdok:{rita}", f"asmchg:{rita}"):
        assert (await demo.press("Mallory", data))[0].error
    someone = next(i for name, i in invited if name != "Mallory")
    assert (await demo.press("Mallory", f"asmno:{someone}"))[0].error
    after = await snapshot(demo.core.db)
    assert {k: v for k, v in after.items() if k not in IGNORED} == {
        k: v for k, v in before.items() if k not in IGNORED
    }
    assert any('"assembly.registration"' in row for row in after["audit_log"])


async def test_an_organiser_cannot_redraw_or_pick_the_seed(demo: Chat) -> None:
    """Attack: a second commit while one is live, and a typed seed (a trial) invite nobody."""
    code = await opened(demo)
    for i in range(10):
        await resident(demo, f"Res{i}", code, i)
    await demo.say("Alice", TARGETS)
    await demo.say("Alice", "/assembly draw 1 my favourite numbers")
    await demo.press("Alice", "Commit")
    trial = joined(await demo.say("Alice", "/assembly seed 1 my favourite numbers"))
    assert "TRIAL" in trial and "nobody is invited" in trial
    assert not await _invitations(demo)
    await demo.say("Alice", f"/assembly draw 1 {lotto(demo.clock)}")
    first = demo.button("Alice", "Commit")
    await demo.press("Alice", "Commit")
    await demo.say("Alice", f"/assembly draw 1 {lotto(demo.clock)}")
    refused = joined(await demo.say("Alice", f"/assembly draw 1 {lotto(demo.clock)}"))
    assert "already has a committed draw" in refused
    assert (await demo.press("Alice", first))[0].error  # the old preview's button


async def test_forget_deletes_a_residents_registration(demo: Chat) -> None:
    code = await opened(demo)
    await resident(demo, "Rita", code, 1)
    asked = joined(await demo.say("Rita", "/forget"))
    assert "citizens' assembly" in asked
    await demo.press("Rita", "Yes, delete my data")
    assert await _count(demo, AssemblyRegistrant) == 0
    # A member who registered too: their /forget deletes the registration with the rest.
    await resident(demo, "Carol", code, 2)
    await demo.say("Carol", "/forget")
    await demo.press("Carol", "Yes, delete my data")
    assert await _count(demo, AssemblyRegistrant) == 0


async def _texts_to_residents(demo: Chat, start: str) -> int:
    async with demo.core.db.transaction() as session:
        texts = await session.scalars(
            select(OutboxMessage.text).where(OutboxMessage.person_id.is_(None))
        )
        return sum(1 for text in texts if text.startswith(start))


async def test_a_draw_is_cancelled_only_while_nobody_can_know_its_seed(demo: Chat) -> None:
    """Attack: an organiser who dislikes the coming panel cancels once the seed may be known."""
    code = await opened(demo)
    for i in range(10):
        await resident(demo, f"Res{i}", code, i)
    await demo.say("Alice", TARGETS)
    await demo.say("Alice", f"/assembly draw 1 {lotto(demo.clock)}")
    await demo.press("Alice", "Commit")
    assert "Say why" in joined(await demo.say("Alice", "/assembly cancel 1"))
    assert "Cancelled" in joined(await demo.say("Alice", "/assembly cancel 1 wrong targets"))
    await demo.say("Alice", f"/assembly draw 1 {lotto(demo.clock)}")
    await demo.press("Alice", "Commit")
    async with demo.core.db.transaction() as session:
        draw = await session.get(AssemblyDraw, 2)
        assert draw is not None
        demo.clock.set(draw.seed_due_at + dt.timedelta(minutes=1))
    before = await snapshot(demo.core.db)
    refused = joined(await demo.say("Alice", "/assembly cancel 1 changed my mind"))
    assert "can no longer be cancelled" in refused
    after = await snapshot(demo.core.db)
    assert after["assembly_draws"] == before["assembly_draws"]
    async with demo.core.db.transaction() as session:
        first = await session.get(AssemblyDraw, 1)
        assert first is not None and first.status == "cancelled"
        assert first.record["history"][0]["reason"] == "wrong targets"
