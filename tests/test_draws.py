"""Drawing a branch council by lot in chat: preview, commit, seed, invitations,
replacements, deadlines."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import func, select

from bot.draws import invitation_sweep
from bot.sortition.record import verify
from storage.models import (
    CouncilSeat,
    Draw,
    Invitation,
    OutboxMessage,
    Person,
    SortitionProfile,
)
from tests.helpers import Chat, add_members, snapshot
from tests.helpers import text as joined

GENDERS = ["woman", "man", "non-binary", "prefer not to say"]
AGES = ["18-29", "30-44", "45-64", "65+"]


async def pool(demo: Chat, n: int = 16) -> None:
    """``n`` paid-up Frome members who opted in, named Member 1..n."""
    await add_members(demo, n, features=lambda i: {"gender": GENDERS[i % 3], "age": AGES[i % 4]})


async def invited(demo: Chat) -> list[tuple[str, int, str]]:
    """(name, invitation id, status) of every invitation."""
    async with demo.core.db.transaction() as session:
        rows = await session.execute(
            select(Person.display_name, Invitation.id, Invitation.status)
            .join(Person, Person.id == Invitation.person_id)
            .order_by(Invitation.id)
        )
        return [(n, i, s) for n, i, s in rows]


async def committed_and_drawn(demo: Chat, seats: int = 5) -> None:
    await pool(demo)
    replies = await demo.say("Alice", f"/draw {seats}")
    assert "chance of selection lies between" in replies[0].text, joined(replies)
    assert "Warning: a seed typed by an organiser can be chosen" in replies[0].text
    replies = await demo.press("Alice", "Commit")
    assert replies[0].text.startswith("Committed: draw 1")
    assert replies[0].file is not None and replies[0].file.mime_type == "application/json"
    replies = await demo.say("Alice", "/draw seed 1 the numbers read out at the meeting")
    assert f"The {seats} people selected have been invited" in replies[0].text, joined(replies)


async def test_a_council_is_drawn_and_anyone_can_check_it(demo: Chat) -> None:
    await committed_and_drawn(demo)
    people = await invited(demo)
    assert len(people) == 5 and all(status == "invited" for _, _, status in people)
    async with demo.core.db.transaction() as session:
        draw = await session.get(Draw, 1)
        assert draw is not None and draw.seed is not None
        result = verify(json.loads(json.dumps(draw.record)), draw.seed)
        texts = list(await session.scalars(select(OutboxMessage.text)))
    assert result.ok and len(result.selected) == 5
    # The branch hears pseudonymous ids only; the organisers also get names.
    public = [t for t in texts if t.startswith("Draw 1 for the Frome council is done")]
    assert public and all("Member" not in t for t in public)
    assert any(t.startswith("Who was drawn (for organisers only)") for t in texts)
    assert "checks out" in joined(await demo.say("Alice", "/draw verify 1"))


async def test_accept_decline_and_a_replacement_that_keeps_the_quotas(demo: Chat) -> None:
    await committed_and_drawn(demo)
    (first, first_id, _), (second, second_id, _) = (await invited(demo))[:2]
    replies = await demo.press(first, f"invyes:{first_id}")
    assert "you are on the council" in replies[0].text
    replies = await demo.press(second, f"invno:{second_id}")
    assert "someone else will be drawn" in replies[0].text
    people = await invited(demo)
    assert len(people) == 6 and people[-1][2] == "invited"
    assert people[-1][0] not in {p[0] for p in people[:-1]}  # never the same person twice
    async with demo.core.db.transaction() as session:
        replacement = await session.scalar(select(Draw).where(Draw.round == 1))
        assert replacement is not None and replacement.parent_id == 1
        assert verify(replacement.record, replacement.seed or "").ok
        seats = await session.scalar(select(func.count()).select_from(CouncilSeat))
        # The council as it now stands (accepted or still invited) meets the
        # original draw's quotas: the replacement filled the gap the decline left.
        root = await session.get(Draw, 1)
        standing = list(
            await session.scalars(
                select(SortitionProfile.features)
                .join(Invitation, Invitation.person_id == SortitionProfile.person_id)
                .where(Invitation.status.in_(("invited", "accepted")))
            )
        )
    assert seats == 1 and len(standing) == 5
    assert root is not None
    for quota in root.record["quotas"]:
        have = sum(1 for f in standing if f.get(quota["category"]) == quota["value"])
        assert quota["min"] <= have <= quota["max"], (quota, have)


async def test_a_forged_accept_is_refused_and_changes_nothing(demo: Chat) -> None:
    await committed_and_drawn(demo)
    (name, invitation_id, _) = (await invited(demo))[0]
    await demo.say("Dan", "/help")
    before = await snapshot(demo.core.db)
    replies = await demo.press("Dan", f"invyes:{invitation_id}")
    assert replies[0].error
    after = await snapshot(demo.core.db)
    assert {k: v for k, v in after.items() if k != "audit_log"} == {
        k: v for k, v in before.items() if k != "audit_log"
    }
    assert "you are on the council" in (await demo.press(name, f"invyes:{invitation_id}"))[0].text


async def test_reminders_then_silence_counts_as_no(demo: Chat) -> None:
    await committed_and_drawn(demo)
    db, settings = demo.core.db, demo.core.settings
    start = demo.clock.now()
    # The deadline is 7 days away: reminders at 48 and 24 hours before, once each.
    for hours in (24 * 5 + 1, 24 * 5 + 2, 24 * 6 + 1):
        await invitation_sweep(db, settings, start + dt.timedelta(hours=hours))
    async with db.transaction() as session:
        keys = list(
            await session.scalars(
                select(OutboxMessage.key).where(OutboxMessage.key.like("invite-remind:%"))
            )
        )
    assert len(keys) == 10  # five people, two reminders each
    await invitation_sweep(db, settings, start + dt.timedelta(days=7, minutes=1))
    people = await invited(demo)
    assert [s for _, _, s in people[:5]] == ["expired"] * 5
    assert len(people) == 10  # five replacements invited


async def test_organisers_hear_when_nobody_is_left_to_draw(demo: Chat) -> None:
    await pool(demo, 5)
    await demo.say("Alice", "/draw 5")
    await demo.press("Alice", "Commit")
    await demo.say("Alice", "/draw seed 1 anything")
    name, invitation_id, _ = (await invited(demo))[0]
    await demo.press(name, f"invno:{invitation_id}")
    told = [t for n, t in await demo.outbox() if n == "Alice"]
    assert any("nobody is left in the pool" in t for t in told)


async def test_a_lottery_seed_needs_two_witnesses_who_agree(demo: Chat) -> None:
    await pool(demo)
    preview = await demo.say("Alice", "/draw 3 lottery:National Lottery:2026-11-28")
    assert "entered by two witnesses" in preview[0].text and "Warning" not in preview[0].text
    await demo.press("Alice", "Commit")
    replies = await demo.say("Alice", "/draw seed 1 04 11 23 35 42 58")
    assert "A second witness must enter the same seed" in replies[0].text
    replies = await demo.say("Jo", "/draw seed 1 04 11 23 35 42 59")  # a typo: no draw
    assert "second witness" in replies[0].text
    replies = await demo.say("Jo", "/draw seed 1 04 11 23 35 42 58")
    assert "have been invited" in replies[0].text
    assert "already done" in joined(await demo.say("Alice", "/draw seed 1 1 2 3"))


async def test_only_organisers_draw_and_bad_input_changes_nothing(demo: Chat) -> None:
    await pool(demo, 3)
    replies = await demo.say("Carol", "/draw 3")
    assert replies[0].error and "Only the organisers" in replies[0].text
    assert "3 members of Frome can be drawn" in joined(await demo.say("Alice", "/draw"))
    for line, said in (
        ("/draw many", "number of seats"),
        ("/draw 9", "fewer than 9 seats"),
        ("/draw seed 99 abc", "There is no draw 99"),
    ):
        replies = await demo.say("Alice", line)
        assert replies[0].error and said in replies[0].text, (line, replies[0].text)
