"""Each person's own time zone (/timezone): times are shown in it, named, where it
differs from their branch's; across clock changes that differ between the two."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

from bot.kernel.i18n import format_local, translator
from bot.lib.zones import find_zone
from tests.helpers import Chat, text


async def test_timezone_by_city_with_suggestions_and_reset(demo: Chat) -> None:
    shown = text(await demo.say("Carol", "/timezone"))
    assert "your branch's time zone, Europe/London" in shown
    kept = text(await demo.say("Carol", "/timezone nueva york"))  # a city's Spanish name too
    assert kept.startswith("Your time zone is America/New_York: it is 07:00 there now.")
    assert "Your time zone is America/New_York" in text(await demo.say("Carol", "/timezone"))
    # A misspelt city: suggestions, each a button; nothing changes until one is pressed.
    unsure = await demo.say("Carol", "/timezone Madird")
    assert unsure[0].error and "Which one do you mean by Madird?" in unsure[0].text
    labels = [b.label for b in unsure[0].button_list()]
    assert labels[0] == "Madrid (Europe/Madrid)" and len(labels) <= 5
    carol = await demo.person("Carol")
    assert carol is not None and carol.timezone == "America/New_York"
    pressed = await demo.press("Carol", "Madrid")
    assert pressed[0].text.startswith("Your time zone is Europe/Madrid: it is 13:00 there now.")
    unknown = await demo.say("Carol", "/timezone Atlantis")
    assert unknown[0].error and "I don't know a place called Atlantis" in unknown[0].text
    reset = await demo.say("Carol", "/timezone reset")
    assert reset[0].text == "You read times in your branch's time zone again: Europe/London."
    carol = await demo.person("Carol")
    assert carol is not None and carol.timezone is None


async def test_a_forged_zone_button_is_stale(demo: Chat) -> None:
    replies = await demo.press("Carol", "tz:Mars/Olympus_Mons")
    assert replies[0].error and "expired" in replies[0].text


async def test_a_session_is_shown_at_the_readers_own_time_with_the_zone_named(
    demo: Chat,
) -> None:
    await demo.say("Alice", "/canvass schedule saturday 10:30 Market Cross 8")
    await demo.say("Carol", "/timezone Madrid")
    madrid = text(await demo.say("Carol", "/canvass"))
    assert "Sat 28 Nov 11:30 (Europe/Madrid)" in madrid and "10:30" not in madrid
    london = text(await demo.say("Dan", "/canvass"))  # no zone of his own: the branch's
    assert "Sat 28 Nov 10:30" in london and "Europe/Madrid" not in london
    await demo.say("Bob", "/timezone London")  # his own, the same as the branch's: as is
    assert "Sat 28 Nov 10:30" in text(await demo.say("Bob", "/canvass"))


async def test_meetings_across_clock_changes_that_differ_between_zones(demo: Chat) -> None:
    """London and New York move their clocks two weeks apart: 5 hours between them
    before 14 March 2027, 4 until 28 March, 5 again after."""
    for day in ("2027-03-06", "2027-03-20", "2027-04-03"):
        await demo.say("Alice", f"/meeting online {day} 19:00 https://meet.example/plan Planning")
        await demo.press("Alice", "Confirm")
    await demo.say("Carol", "/timezone New York")
    shown = text(await demo.say("Carol", "/meetings"))
    assert "Sat 6 Mar 2027, 14:00 (America/New_York)" in shown
    assert "Sat 20 Mar 2027, 15:00 (America/New_York)" in shown
    assert "Sat 3 Apr 2027, 14:00 (America/New_York)" in shown
    await demo.say("Carol", "/language es")
    spanish = text(await demo.say("Carol", "/meetings"))
    assert "15:00 (America/New_York)" in spanish and "mar 2027" in spanish


def test_format_local_moves_a_moment_to_the_readers_zone_only_where_it_differs() -> None:
    moment = dt.datetime(2027, 3, 20, 19, 0, tzinfo=dt.UTC)  # 19:00 in London that day
    london, madrid = translator("en"), translator("es", "Europe/Madrid")
    assert format_local(moment, "day_time", london, tz="Europe/London") == "Sat 20 Mar 19:00"
    assert (
        format_local(moment, "day_time", translator("en", "Europe/London"), tz="Europe/London")
        == "Sat 20 Mar 19:00"
    )
    assert format_local(moment, "day_time", madrid, tz="Europe/London").endswith(
        "20:00 (Europe/Madrid)"
    )
    # A wall time of the branch's (naive) moves too; a date people type back does not.
    wall = dt.datetime(2027, 3, 20, 19, 0)
    assert format_local(wall, "time", madrid, tz="Europe/London") == "20:00 (Europe/Madrid)"
    assert format_local(moment, "iso_datetime", madrid, tz="Europe/London") == "2027-03-20 19:00"
    # A zone no longer known is no zone.
    assert translator("en", "Mars/Olympus_Mons").zone is None


def test_cities_are_found_in_the_readers_language_and_in_english() -> None:
    assert find_zone("Llundain", "cy").zone == "Europe/London"
    assert find_zone("londres", "es").zone == "Europe/London"
    assert find_zone("São Paulo", "en").zone == "America/Sao_Paulo"
    assert find_zone("sao_paulo", "en").zone == "America/Sao_Paulo"
    assert find_zone("Europe/Kyiv", "en").zone == "Europe/Kyiv"
    assert "Europe/Kyiv" in find_zone("Kyyiv", "en").suggestions
    assert find_zone("Belfast", "en").zone is None  # an old alias: London's


def test_every_moment_shown_in_a_zone_is_given_the_readers_translator() -> None:
    """A format_local call given a zone (tz=...) takes the reader's translator, not
    just its language (t.locale): else a reader with a zone of their own would read
    that moment in their branch's. /timezone's own answer ("it is 13:00 there now")
    shows the zone just chosen, deliberately."""
    root = Path(__file__).resolve().parent.parent
    allowed = {root / "bot" / "settings" / "texts.py"}
    found = []
    for path in sorted([*(root / "bot").rglob("*.py"), *(root / "adapters").rglob("*.py")]):
        if path in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", None)) == "format_local"
                and len(node.args) >= 3
                and isinstance(node.args[2], ast.Attribute)
                and node.args[2].attr == "locale"
                and any(k.arg == "tz" for k in node.keywords)
            ):
                found.append(f"{path.relative_to(root)}:{node.lineno}")
    assert found == []


async def test_a_round_up_is_written_in_each_readers_language_and_zone(demo: Chat) -> None:
    """Messages to many (the weekly round-up) are rendered once per language and
    own zone among them: each reads their own time, named, as in their replies."""
    from sqlalchemy import select

    from bot.canvassing.reminders import weekly_roundup
    from storage.models import Branch

    await demo.say("Alice", "/canvass schedule saturday 10:30 Market Cross 8")
    await demo.say("Carol", "/timezone Madrid")
    await demo.say("Dan", "/language es")
    await demo.say("Dan", "/timezone New York")
    await demo.say("Lee", "/language es")  # Spanish, the branch's zone
    async with demo.core.db.transaction() as session:
        frome = await session.scalar(select(Branch.id).where(Branch.slug == "frome"))
    assert frome is not None
    assert await weekly_roundup(demo.core.db, demo.core.settings, demo.clock.now(), frome) == 1
    told = {name: text for name, text in await demo.outbox() if "Market Cross" in text}
    assert "Sat 28 Nov 11:30 (Europe/Madrid)" in told["Carol"]
    assert "sáb, 28 nov, 5:30 (America/New_York)" in told["Dan"]
    assert "sáb, 28 nov, 10:30 ·" in told["Lee"]
    assert "Sat 28 Nov 10:30 ·" in told["Bob"]
