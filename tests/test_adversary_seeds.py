"""Sortition cannot be steered through its seed: each test is an attack that
worked before, and what the product now does.

The demo's Frome branch: Alice organises it, Carol is a member, Jo is the
region's admin (staff over Frome too); Femi belongs to Bath."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import func, select

from bot.sortition.record import selected_after
from bot.sortition.seeds import SeedProblem, lottery_seed, lottery_source
from storage.models import Draw, Invitation, OutboxMessage
from tests.helpers import Chat, add_members, confirm_link, lotto, seed_by_lottery, snapshot
from tests.helpers import text as joined
from tests.test_linking import code_in

GENDERS = ["woman", "man", "non-binary"]


async def pool(demo: Chat, n: int = 16) -> None:
    await add_members(demo, n, features=lambda i: {"gender": GENDERS[i % 3], "age": "30-44"})


async def invitations(demo: Chat) -> int:
    async with demo.core.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(Invitation)) or 0)


async def draw_row(demo: Chat, draw_id: int = 1) -> Draw:
    async with demo.core.db.transaction() as session:
        draw = await session.get(Draw, draw_id)
        assert draw is not None
        return draw


async def test_a_future_lottery_draw_cannot_be_completed_before_the_result_is_out(
    demo: Chat,
) -> None:
    """The attack: commit a draw on Saturday's UK Lotto, then two days early type
    numbers chosen to pick a panel. Now the draw refuses any result before the
    lottery's result time (21:00 London on the day), records nothing, and
    completes only once the numbers exist."""
    await pool(demo)
    source = lotto(demo.clock)  # today is Thursday 26 November: Saturday the 28th
    assert source.endswith("2026-11-28")
    await demo.say("Alice", f"/draw 3 {source}")
    await demo.press("Alice", "Commit")
    before = await snapshot(demo.core.db)
    for who in ("Alice", "Carol"):
        replies = await demo.say(who, "/draw seed 1 1 2 3 4 5 6 + 7")
        assert replies[0].error and "does not exist yet" in replies[0].text, joined(replies)
    after = await snapshot(demo.core.db)
    assert {k: v for k, v in after.items() if k != "audit_log"} == {
        k: v for k, v in before.items() if k != "audit_log"
    }
    demo.clock.set(dt.datetime(2026, 11, 28, 20, 59, tzinfo=dt.UTC))  # a minute early
    assert "does not exist yet" in joined(await demo.say("Alice", "/draw seed 1 1 2 3 4 5 6 + 7"))
    replies = await seed_by_lottery(demo)
    assert "The 3 people selected have been invited" in replies[0].text, joined(replies)
    assert await invitations(demo) == 3


async def test_a_lottery_date_today_or_past_or_on_a_day_without_a_draw_is_refused(
    demo: Chat,
) -> None:
    """The attack: name a lottery whose result is already known (today's, or
    last week's), or a day it is not drawn (so "its numbers" are whatever the
    organiser says). Each is refused at the preview, with the next valid date."""
    await pool(demo)
    for line, said in (
        ("/draw 3 lottery:UK Lotto:2026-11-26", "after today"),
        ("/draw 3 lottery:UK Lotto:2026-11-21", "after today"),
        ("/draw 3 lottery:UK Lotto:2026-11-29", "not drawn on a Sunday"),
        ("/draw 3 lottery:EuroMillions:2026-11-28", "not drawn on a Saturday"),
        ("/draw 3 lottery:Mystery Millions:2026-11-28", "There is no lottery"),
    ):
        replies = await demo.say("Alice", line)
        assert replies[0].error and said in replies[0].text, (line, joined(replies))
        assert "2026-11-2" in replies[0].text or "There is no lottery" in replies[0].text


def spellings() -> list[str]:
    """144 ways people write one UK Lotto result, 4 11 23 35 42 58, bonus 7."""
    numbers = [[4, 11, 23, 35, 42, 58], [58, 42, 35, 23, 11, 4], [23, 4, 58, 11, 42, 35]]
    pads = [str, lambda n: f"{n:02d}"]
    separators = [" ", ",", ", ", "  ", "-", " - "]
    bonuses = [" + {b}", " bonus {b}", ", {b}", " {b}"]
    out = []
    for order, pad, sep, bonus in itertools.product(numbers, pads, separators, bonuses):
        out.append(sep.join(pad(n) for n in order) + bonus.format(b=pad(7)))
    assert len(set(out)) == 144
    return out


def test_144_spellings_of_one_lottery_result_give_one_seed_and_one_panel() -> None:
    """The attack: of 144 plausible ways to write one result, 31 selected a chosen
    member ("03 14 ..." and "3 14 ..." picked different panels). Now the
    committed source fixes the format, every spelling is read into one canonical
    text, and that text is the seed: one seed, one panel."""
    source = lottery_source("UK Lotto", "2026-11-28", "Europe/London", _thursday())
    assert source["format"] == "6 of 1-59 + 1 of 1-59, all distinct; each group sorted"
    seeds = {lottery_seed(source, typed) for typed in spellings()}
    assert seeds == {"4 11 23 35 42 58 + 7"}
    record = {"record_hash": "ab" * 32, "m": 1000, "panels": [[f"P{i:04d}"] for i in range(1000)]}
    assert len({selected_after(record, seed) for seed in seeds}) == 1


def test_wrong_lottery_numbers_are_refused_with_the_format() -> None:
    """Bad input (too few numbers, out of range, repeated, a bonus among the main
    numbers, words) is refused with the expected format; nothing is read."""
    source = lottery_source("EuroMillions", "2026-11-27", "Europe/London", _thursday())
    assert lottery_seed(source, "50 1 20 30 40 + 12 3") == "1 20 30 40 50 + 3 12"
    assert lottery_seed(source, "1 2 3 4 5 + 5 6") == "1 2 3 4 5 + 5 6"  # stars: a pool apart
    for typed in ("1 2 3 4 5", "1 2 3 4 51 + 1 2", "1 1 3 4 5 + 1 2", "1 2 3 4 5 + 13 1", "€1"):
        try:
            lottery_seed(source, typed)
        except SeedProblem as exc:
            assert "5 of 1-50 + 2 of 1-12" in exc.render(_t), typed
        else:
            raise AssertionError(f"{typed!r} was read")
    uk = lottery_source("UK Lotto", "2026-11-28", "Europe/London", _thursday())
    try:
        lottery_seed(uk, "1 2 3 4 5 6 + 6")  # the bonus ball is another ball from the machine
    except SeedProblem as exc:
        assert "all different" in exc.render(_t)
    else:
        raise AssertionError("a repeated bonus ball was read")


async def test_two_witnesses_who_spell_one_result_differently_agree(demo: Chat) -> None:
    """Before, "04 11 ..." and "4, 11, ..." were two different seeds, so the
    witnesses' typing decided; now both are read as one result, the draw is made
    with its canonical text, and /draw verify checks out."""
    await pool(demo)
    await demo.say("Alice", f"/draw 3 {lotto(demo.clock)}")
    await demo.press("Alice", "Commit")
    demo.clock.set(dt.datetime(2026, 11, 28, 21, 30, tzinfo=dt.UTC))
    noted = await demo.say("Alice", "/draw seed 1 04 11 23 35 42 58 bonus 07")
    assert "read as 4 11 23 35 42 58 + 7" in noted[0].text, joined(noted)
    replies = await demo.say("Carol", "/draw seed 1 58, 42, 35, 23, 11, 4, 7")
    assert "The 3 people selected have been invited" in replies[0].text, joined(replies)
    assert (await draw_row(demo)).seed == "4 11 23 35 42 58 + 7"
    assert "checks out" in joined(await demo.say("Alice", "/draw verify 1"))


async def test_an_organiser_and_their_own_linked_account_are_one_witness(demo: Chat) -> None:
    """The attack: Alice enters the numbers, then enters them again from her
    second account, linked to the first. Linked accounts are one person: the
    second entry is refused, saying a different person must witness, and no
    draw is made."""
    await pool(demo)
    code = code_in(await demo.say("Alice", "/link"))
    await demo.say("Alice", f"/link {code}", platform="telegram")
    assert "Linked" in joined(await confirm_link(demo, "Alice"))
    await demo.say("Alice", f"/draw 3 {lotto(demo.clock)}")
    await demo.press("Alice", "Commit")
    demo.clock.set(dt.datetime(2026, 11, 28, 21, 30, tzinfo=dt.UTC))
    await demo.say("Alice", "/draw seed 1 4 11 23 35 42 58 + 7")
    replies = await demo.say("Alice", "/draw seed 1 4 11 23 35 42 58 + 7", platform="telegram")
    assert replies[0].error and "a second, different person" in replies[0].text, joined(replies)
    assert await invitations(demo) == 0 and (await draw_row(demo)).status == "committed"


async def test_two_staff_witnesses_or_an_outsider_cannot_make_the_draw(demo: Chat) -> None:
    """The attack: the organiser and another staff member (Jo, the region's admin)
    witness together, or someone from another branch (Femi, Bath) vouches. Both
    are refused; a member who is not staff (Carol) completes it."""
    await pool(demo)
    await demo.say("Alice", f"/draw 3 {lotto(demo.clock)}")
    await demo.press("Alice", "Commit")
    demo.clock.set(dt.datetime(2026, 11, 28, 21, 30, tzinfo=dt.UTC))
    await demo.say("Alice", "/draw seed 1 4 11 23 35 42 58 + 7")
    replies = await demo.say("Jo", "/draw seed 1 4 11 23 35 42 58 + 7")
    assert replies[0].error and "may not both be organisers" in replies[0].text, joined(replies)
    replies = await demo.say("Femi", "/draw seed 1 4 11 23 35 42 58 + 7")
    assert replies[0].error and "There is no draw 1" in replies[0].text, joined(replies)
    assert await invitations(demo) == 0
    replies = await demo.say("Carol", "/draw seed 1 4 11 23 35 42 58 + 7")
    assert "have been invited" in replies[0].text, joined(replies)


async def test_a_typed_seed_is_a_trial_that_invites_nobody_and_says_so(demo: Chat) -> None:
    """The attack: an organiser names a free-text seed ("anything-we-like") and
    types whatever picks the panel they want. Now such a draw is a TRIAL: the
    preview, the announcement and /draw verify say so, and nobody is invited or
    seated."""
    await pool(demo)
    preview = await demo.say("Alice", "/draw 3 anything-we-like")
    assert "TRIAL" in preview[0].text and "invites nobody" in preview[0].text
    committed = await demo.press("Alice", "Commit")
    assert "TRIAL" in committed[0].text
    replies = await demo.say("Alice", "/draw seed 1 anything-we-like")
    assert "TRIAL draw 1 made" in replies[0].text and "nobody is invited" in replies[0].text
    assert await invitations(demo) == 0 and (await draw_row(demo)).status == "trial"
    verified = joined(await demo.say("Alice", "/draw verify 1"))
    assert verified.startswith("TRIAL draw 1") and "proves nothing" in verified
    async with demo.core.db.transaction() as session:
        told = list(await session.scalars(select(OutboxMessage.text)))
    announced = [t for t in told if "draw 1 for the Frome council" in t]
    assert announced and all("TRIAL" in t for t in announced if "seed" in t)


def _thursday() -> dt.datetime:
    return dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


def _t(message: str, **params: object) -> str:
    return message.format(**params)
