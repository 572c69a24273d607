"""What a person types and the files they are given, in their own language: dates
typed in Welsh or Spanish read by /meeting, /poll --closes and /canvass schedule, and
the CSV exports' headings and the calendar files' summaries translated.

Each test uses a small catalogue of its own (tests.helpers.catalogues), so it does
not depend on the shipped translations."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from icalendar import Calendar
from sqlalchemy import select

from bot.lib.when_words import FILLERS
from storage.models import CanvassSlot, Person, Poll
from tests.helpers import Chat, catalogues, text

SPANISH = {
    FILLERS: "Palabras que se ignoran en una fecha, separadas por espacios: a las el la los",
    "name": "nombre",
    "ID": "ID",
    "branch": "grupo local",
    "status": "estado",
    "dues paid until": "cuota pagada hasta",
    "reachable": "localizable",
    "member": "afiliada",
    "supporter": "simpatizante",
    "lapsed": "caducada",
    "yes": "sí",
    "poll": "votación",
    "option": "opción",
    "votes": "votos",
    "on the roll": "en el censo",
    "voted": "han votado",
    "ballots": "papeletas",
    "{party}: canvassing with the {branch} branch": "{party}: puerta a puerta con {branch}",
}
WELSH = {FILLERS: "Geiriau i'w hanwybyddu, wedi'u gwahanu gan fylchau: ar y bob"}


async def speaks(demo: Chat, name: str, locale: str) -> None:
    async with demo.core.db.transaction() as session:
        person = await session.scalar(select(Person).where(Person.display_name == name))
        assert person is not None
        person.locale = locale


async def test_a_meeting_typed_in_spanish(demo: Chat, tmp_path: Path) -> None:
    with catalogues(tmp_path, {"es": SPANISH}):
        await speaks(demo, "Alice", "es")
        # Thursday 26 November: "el próximo martes" is Tuesday 1 December.
        replies = await demo.say(
            "Alice", "/meeting online el próximo martes a las 19:00 https://meet.example/abc"
        )
        assert not replies[0].error, text(replies)
        assert "1 dic 2026, 19:00" in text(replies)
        # English is understood as well.
        replies = await demo.say("Alice", "/meeting online tomorrow 7pm https://meet.example/x")
        assert not replies[0].error and "27 nov 2026, 19:00" in text(replies)


async def test_a_meeting_typed_in_welsh(demo: Chat, tmp_path: Path) -> None:
    with catalogues(tmp_path, {"cy": WELSH}):
        await speaks(demo, "Alice", "cy")
        replies = await demo.say(
            "Alice", "/meeting online dydd Mawrth nesaf am 19:00 https://meet.example/abc"
        )
        assert not replies[0].error, text(replies)
        assert "1 Rhag 2026" in text(replies) and "19:00" in text(replies)
        refused = await demo.say("Alice", "/meeting online yfory https://meet.example/abc")
        assert refused[0].error  # a day without a time of day: a friendly refusal


async def test_a_canvassing_slot_typed_in_welsh(demo: Chat, tmp_path: Path) -> None:
    with catalogues(tmp_path, {"cy": WELSH}):
        await speaks(demo, "Alice", "cy")
        replies = await demo.say("Alice", "/canvass schedule bob dydd Sadwrn 10:30 Market Cross")
        assert not replies[0].error, text(replies)
    async with demo.core.db.transaction() as session:
        slot = await session.scalar(select(CanvassSlot))
    assert slot is not None
    assert (slot.weekday, slot.local_time, slot.meeting_point) == (5, "10:30", "Market Cross")


async def test_a_poll_closing_on_a_day_typed_in_spanish(demo: Chat, tmp_path: Path) -> None:
    with catalogues(tmp_path, {"es": SPANISH}):
        await speaks(demo, "Alice", "es")
        await demo.say("Alice", '/poll "¿Sí o no?" "Sí" "No" --closes "mañana a las 18:00"')
        replies = await demo.press("Alice", "Post it")
        assert not replies[0].error, text(replies)
    async with demo.core.db.transaction() as session:
        poll = await session.scalar(select(Poll))
    assert poll is not None
    assert poll.closes_at == dt.datetime(2026, 11, 27, 18, 0, tzinfo=dt.UTC)


async def test_the_exports_and_calendar_files_are_in_the_readers_language(
    demo: Chat, tmp_path: Path
) -> None:
    with catalogues(tmp_path, {"es": SPANISH}):
        await speaks(demo, "Erin", "es")
        [members] = await demo.say("Erin", "/members export")
        assert members.file is not None
        lines = members.file.content.decode().strip().splitlines()
        assert lines[0] == "nombre,ID,grupo local,estado,cuota pagada hasta,localizable"
        assert {line.split(",")[3] for line in lines[1:]} <= {
            "afiliada",
            "simpatizante",
            "caducada",
        }

        await speaks(demo, "Alice", "es")
        await demo.say("Alice", "/canvass schedule sábado 10:30 Market Cross")
        await speaks(demo, "Carol", "es")
        await demo.say("Carol", "/canvass")
        [calendar] = await demo.press("Carol", "Calendar 1")
        assert calendar.file is not None
        [event] = Calendar.from_ical(calendar.file.content).walk("VEVENT")
        assert str(event["summary"]).endswith(": puerta a puerta con Frome")

        await demo.say("Alice", '/poll "¿Sí o no?" "Sí" "No" --live')
        await demo.press("Alice", "Post it")
        async with demo.core.db.transaction() as session:
            poll = await session.scalar(select(Poll.id))
        [export] = await demo.say("Alice", f"/poll export {poll}")
        assert export.file is not None
        rows = export.file.content.decode().splitlines()
        assert rows[0].startswith("votación,") and rows[1].startswith("en el censo,")
        assert rows[2] == "opción,votos"
