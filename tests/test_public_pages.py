"""The public pages (issue 18): a draw's page whose checks run in the
visitor's browser, driven in a real headless Chromium (tests/browser.py), and
what any page promises (no personal data, a strict CSP, a friendly 404)."""

from __future__ import annotations

import argparse
import asyncio
import copy
import datetime as dt
import html
import io
import os
import re
import shlex
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import zxingcpp
from icalendar import Calendar
from PIL import Image
from sqlalchemy import func, select

from adapters.sortition_cli import add_parser as add_sortition_parser
from adapters.web import start_pages
from bot.lib.sortition.drawing import reserve_order
from bot.lib.sortition.encoding import digest
from bot.lib.sortition.verification import verify
from bot.public.pages import Site
from bot.public.rules import matches, pick_language, search_terms
from storage.db import Database
from storage.models import (
    AssemblyDraw,
    CalendarFeed,
    CanvassSession,
    CanvassSignup,
    CanvassSlot,
    Draw,
    Invitation,
    Meeting,
    MeetingRsvp,
    Person,
)
from tests.browser import (
    DESKTOP,
    PHONE,
    chromium,
    console_errors,
    full_page,
    screenshot_dir,
)
from tests.conftest import BALLOT_KEY
from tests.fake_telegram import free_port
from tests.helpers import Chat, add_members, lotto, seed_by_lottery

ROOT = str(Path(__file__).resolve().parent.parent)  # this checkout, for `organiser run`
ORGANISER = str(Path(sys.executable).parent / "organiser")
GENDERS = ["woman", "man", "non-binary", "prefer not to say"]
AGES = ["18-29", "30-44", "45-64", "65+"]


async def drawn(demo: Chat, *, declines: int = 0) -> None:
    """Draw 1: the Frome council, 5 of 16, seeded by a lottery; ``declines`` of
    those invited decline (each replaced from the reserves)."""
    await add_members(demo, 16, features=lambda i: {"gender": GENDERS[i % 3], "age": AGES[i % 4]})
    await demo.say("Alice", f"/draw 5 {lotto(demo.clock)}")
    await demo.press("Alice", "Commit")
    await seed_by_lottery(demo)
    for _ in range(declines):
        async with demo.core.db.transaction() as session:
            name, invitation = (
                await session.execute(
                    select(Person.display_name, Invitation.id)
                    .join(Person, Person.id == Invitation.person_id)
                    .where(Invitation.status == "invited")
                    .order_by(Invitation.id)
                )
            ).first()  # type: ignore[misc]
        await demo.press(name, f"invno:{invitation}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()


@pytest.fixture
async def site(demo: Chat) -> AsyncIterator[str]:
    """The public pages of the demo party, served on 127.0.0.1: their base URL."""
    port = free_port()
    runner = await start_pages(
        Site(demo.core.db, demo.core.settings, demo.clock, demo.core.links), "127.0.0.1", port
    )
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def stored(demo: Chat, draw_id: int = 1) -> Draw:
    async with demo.core.db.transaction() as session:
        draw = await session.get(Draw, draw_id)
        assert draw is not None
        return draw


async def tamper(
    demo: Chat, change: Any, draw_id: int = 1, model: type[Draw] | type[AssemblyDraw] = Draw
) -> None:
    """Rewrite the stored record (a council's draw, or ``model``'s), as someone
    with the database could."""
    async with demo.core.db.transaction() as session:
        draw = await session.get(model, draw_id)
        assert draw is not None
        record = copy.deepcopy(draw.record)
        change(record)
        draw.record = record
        draw.record_hash = record["record_hash"]


async def checked(driver: Any, url: str) -> dict[str, Any]:
    """Open ``url`` and wait for the in-browser checks: each check's state, the
    summary, and what the browser computed."""

    def run() -> dict[str, Any]:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        driver.get(url)
        section = driver.find_element(By.ID, "check")
        WebDriverWait(driver, 20).until(lambda d: section.get_attribute("data-outcome"))
        return {
            "outcome": section.get_attribute("data-outcome"),
            "checks": {
                item.get_attribute("data-check"): item.get_attribute("data-state")
                for item in section.find_elements(By.CSS_SELECTOR, "[data-check]")
            },
            "summary": section.find_element(By.CLASS_NAME, "summary").text,
            "hash": section.get_attribute("data-computed-record-hash"),
            "index": section.get_attribute("data-computed-index"),
            "reserves": section.get_attribute("data-reserves"),
            "text": driver.find_element(By.TAG_NAME, "main").text,
            "errors": console_errors(driver),
        }

    return await asyncio.to_thread(run)


# --- in a real browser ----------------------------------------------------------------


@pytest.mark.slow  # a real browser, or a whole worker
async def test_the_browser_checks_a_draw_exactly_as_python_does(
    demo: Chat, site: str, browser: Any, tmp_path: Path
) -> None:
    await drawn(demo, declines=2)
    draw = await stored(demo)
    assert draw.seed is not None
    python = verify(draw.record, draw.seed, published_hash=draw.record_hash)
    assert python.ok
    seen = await checked(browser, f"{site}/draws/1")
    assert seen["errors"] == []
    assert seen["outcome"] == "pass", seen
    assert set(seen["checks"].values()) == {"pass"}, seen["checks"]
    assert "Every check passed in your browser." in seen["summary"]
    # The browser's own figures are Python's.
    assert seen["hash"] == digest(draw.record["field_hashes"]) == draw.record_hash
    assert int(seen["index"]) == python.index == draw.chosen_index
    assert seen["reserves"].split() == reserve_order(draw.record, draw.seed)
    # The page shows the panel by pseudonym, the replacements and the proof.
    for pseudonym in python.selected:
        assert pseudonym in seen["text"]
    assert seen["text"].count("declined;") == 2
    assert "4 11 23 35 42 58 + 7" in seen["text"]
    out = screenshot_dir(tmp_path)
    for name, (width, _) in (("phone", PHONE), ("desktop", DESKTOP)):
        await asyncio.to_thread(full_page, browser, out / f"draw-{name}.png", width)
        assert (out / f"draw-{name}.png").stat().st_size > 10_000


def swap_in_drawn_panel(record: dict[str, Any]) -> None:
    """Put an entrant who was not drawn into the drawn panel (its hash kept)."""
    index = record["opened"]["index"]
    panel = record["panels"][index]
    outsider = next(e["id"] for e in record["entrants"] if e["id"] not in panel)
    record["panels"][index] = sorted([*panel[1:], outsider])


def rehash_everything(record: dict[str, Any]) -> None:
    """A forger who recomputes every hash after the swap: only the hash
    published at commit still tells."""
    swap_in_drawn_panel(record)
    record["panels_hash"] = digest(record["panels"])
    record["field_hashes"]["panels_hash"] = digest(record["panels_hash"])
    record["record_hash"] = digest(record["field_hashes"])


def forge_replacement(record: dict[str, Any]) -> None:
    """Say a vacancy went to someone of the drawn panel, not the next reserve."""
    index = record["opened"]["index"]
    record["history"][0]["replacement"] = record["panels"][index][-1]


@pytest.mark.slow  # a real browser, or a whole worker
@pytest.mark.parametrize(
    ("change", "failing"),
    [
        (swap_in_drawn_panel, {"lists"}),
        (rehash_everything, {"published"}),
        (forge_replacement, {"replacements"}),
        (lambda r: r["quotas"][0].update(max=0), {"fields", "quotas"}),
    ],
    ids=["panel-swapped", "all-hashes-recomputed", "replacement-forged", "quota-changed"],
)
async def test_a_record_tampered_on_the_server_fails_the_check_it_breaks(
    demo: Chat, site: str, browser: Any, change: Any, failing: set[str]
) -> None:
    await drawn(demo, declines=1)
    await tamper(demo, change)
    seen = await checked(browser, f"{site}/draws/1")
    assert seen["outcome"] == "fail"
    failed = {name for name, state in seen["checks"].items() if state == "fail"}
    assert failing <= failed and "seed" not in failed, seen["checks"]
    assert "A check failed" in seen["summary"]
    draw = await stored(demo)  # and Python agrees it does not check out
    assert not verify(draw.record, draw.seed or "", published_hash=await published_of(demo)).ok


async def published_of(demo: Chat) -> str | None:
    from bot.draws.queries import published_hash

    async with demo.core.db.transaction() as session:
        draw = await session.get(Draw, 1)
        assert draw is not None
        return await published_hash(session, draw)


@pytest.mark.slow  # a real browser, or a whole worker
async def test_a_draw_waiting_for_its_seed_checks_its_commitment_only(
    demo: Chat, site: str, browser: Any
) -> None:
    await add_members(demo, 16, features=lambda i: {"gender": GENDERS[i % 3], "age": AGES[i % 4]})
    await demo.say("Alice", f"/draw 5 {lotto(demo.clock)}")
    await demo.press("Alice", "Commit")
    seen = await checked(browser, f"{site}/draws/1")
    assert seen["outcome"] == "pass"
    assert [seen["checks"][n] for n in ("published", "fields", "lists", "panels")] == ["pass"] * 4
    assert {seen["checks"][n] for n in ("seed", "index", "quotas", "replacements")} == {"none"}
    assert "Not yet: the seed is not known" in seen["text"]


# --- what every page promises -----------------------------------------------------------


async def test_a_draw_page_names_nobody_and_runs_no_inline_script(demo: Chat, site: str) -> None:
    await drawn(demo, declines=1)
    async with httpx.AsyncClient(base_url=site) as client:
        page = await client.get("/draws/1")
        record = await client.get("/draws/1/record.json")
    assert page.status_code == 200 and record.status_code == 200
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe" not in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "Server" not in page.headers
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.S)
    assert scripts and all('src="/static/' in attrs and not body for attrs, body in scripts)
    assert not re.search(r"\son[a-z]+=", page.text)  # no inline event handlers
    assert "style=" not in page.text
    async with demo.core.db.transaction() as session:
        names = list(await session.scalars(select(Person.display_name)))
    for name in names:
        assert name not in page.text and name not in record.text
    assert "openings" not in record.json() and "composition_salts" not in record.json()
    assert 'attachment; filename="draw-1-record.json"' in record.headers["Content-Disposition"]


async def test_a_preview_or_an_unknown_draw_is_a_friendly_404(demo: Chat, site: str) -> None:
    await add_members(demo, 16, features=lambda i: {"gender": GENDERS[i % 3], "age": AGES[i % 4]})
    await demo.say("Alice", f"/draw 5 {lotto(demo.clock)}")  # a preview, not committed
    async with httpx.AsyncClient(base_url=site) as client:
        for path in (
            "/draws/1",
            "/draws/99",
            "/draws/x",
            "/draws/%C2%B2",
            "/draws/1/record.json",
            "/static/../pages.py",
            "/static/nothing.js",
            "/nowhere",
        ):
            answer = await client.get(path)
            assert answer.status_code == 404, path
            assert "There is no such page here." in answer.text, path
            assert "Traceback" not in answer.text


def test_the_language_is_the_switchers_then_the_browsers_then_the_partys() -> None:
    shipped = ["en", "cy", "es"]
    assert pick_language("es", "cy", shipped, "en") == "es"
    assert pick_language(None, "fr-FR,cy;q=0.8,es;q=0.9", shipped, "en") == "es"
    assert pick_language(None, "cy-GB, en;q=0.5", shipped, "en") == "cy"
    assert pick_language("xx", "de, fr;q=0.2", shipped, "cy") == "cy"
    assert pick_language(None, "es;q=0, garbage;;q=x", shipped, "en") == "en"


# --- the branch directory --------------------------------------------------------------


async def assembly(demo: Chat, branch_id: int, title: str, days: int, place: str) -> None:
    """A people's assembly of the branch, ``days`` from now (a public meeting)."""
    now = demo.clock.now()
    async with demo.core.db.transaction() as session:
        session.add(
            Meeting(
                branch_id=branch_id,
                kind="assembly",
                title=title,
                starts_at=now + dt.timedelta(days=days),
                minutes_long=90,
                place=place,
                created_at=now,
            )
        )


async def listed(driver: Any, url: str, query: str | None) -> dict[str, Any]:
    """Open the directory, type ``query`` in its search box: the branches shown."""

    def run() -> dict[str, Any]:
        from selenium.webdriver.common.by import By

        driver.get(url)
        if query is not None:
            box = driver.find_element(By.ID, "q")
            box.clear()
            box.send_keys(query)
        items = driver.find_elements(By.CSS_SELECTOR, "ul.branches > li")
        return {
            "shown": [i.find_element(By.TAG_NAME, "h2").text for i in items if i.is_displayed()],
            "found": driver.find_element(By.CLASS_NAME, "found").text,
            "errors": console_errors(driver),
        }

    return await asyncio.to_thread(run)


@pytest.mark.slow  # a real browser, or a whole worker
async def test_the_directory_lists_branches_and_filters_them_in_the_page(
    demo: Chat, site: str, browser: Any, tmp_path: Path
) -> None:
    demo.core.links.learn_telegram("organiser_bot")
    await assembly(demo, 1, "Frome people's assembly: the high street", 9, "Frome Library")
    await assembly(demo, 1, "A later one", 30, "The Cheese and Grain")
    await assembly(demo, 2, "Bath people's assembly", -2, "Guildhall")  # past: not shown
    everything = await listed(browser, f"{site}/branches", None)
    assert everything["shown"] == ["Bath", "Frome"]  # Wells is only proposed
    assert everything["errors"] == []
    assert (await listed(browser, f"{site}/branches", "BA11 4AB"))["shown"] == ["Frome"]
    assert (await listed(browser, f"{site}/branches", "nun"))["shown"] == ["Frome"]  # Nunney
    assert (await listed(browser, f"{site}/branches", "ba"))["shown"] == ["Bath", "Frome"]
    nowhere = await listed(browser, f"{site}/branches", "Glasgow")
    assert nowhere["shown"] == [] and "No branch covers that yet" in nowhere["found"]
    one = await listed(browser, f"{site}/branches", "bath")
    assert one["shown"] == ["Bath"] and one["found"] == "1 branch matches."
    async with httpx.AsyncClient(base_url=site) as client:
        page = (await client.get("/branches")).text
        qr = await client.get("/branches/frome/qr.png")
        without_script = (await client.get("/branches", params={"q": "BA1"})).text
    assert "Frome people&#x27;s assembly: the high street" in page and "Frome Library" in page
    assert "A later one" not in page and "Guildhall" not in page
    assert "https://t.me/organiser_bot?start=join-frome" in page
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr.content)))
    assert [f.text for f in found] == ["https://t.me/organiser_bot?start=join-frome"]
    # Without a script the form asks the server, which filters the same way.
    assert re.findall(r"<li [^>]*hidden>.*?<h2[^>]*>(\w+)", without_script) == ["Frome"]
    out = screenshot_dir(tmp_path)
    await listed(browser, f"{site}/branches", None)
    for name, (width, _) in (("phone", PHONE), ("desktop", DESKTOP)):
        await asyncio.to_thread(full_page, browser, out / f"branches-{name}.png", width)


def test_a_search_finds_a_place_its_first_letters_or_a_postcode() -> None:
    places, postcodes = search_terms("Frome", "Frome, BA11, Beckington, Nunney", "South West")
    for query in ("frome", "Fro", "nunney", "south", "BA11", "ba11 4ab", "BA", "B", " "):
        assert matches(query, places, postcodes), query
    for query in ("Bath", "BA1 1AA", "BA2", "Glasgow", "G1", "11"):
        assert not matches(query, places, postcodes), query


# --- calendar feeds ----------------------------------------------------------------------


async def person_id(demo: Chat, name: str) -> int:
    async with demo.core.db.transaction() as session:
        found = await session.scalar(select(Person.id).where(Person.display_name == name))
        assert found is not None
        return found


async def alices_diary(demo: Chat) -> None:
    """Alice goes to a members' meeting, and to canvassing on Saturdays at 10:00
    in Frome for three of the next four weeks (across the clock change of 25
    October); she said no to an assembly; Bath holds an assembly."""
    alice = await person_id(demo, "Alice")
    now = demo.clock.now()
    async with demo.core.db.transaction() as session:
        meeting = Meeting(
            branch_id=1,
            kind="in_person",
            title="Frome branch meeting",
            starts_at=dt.datetime(2026, 10, 20, 18, 30, tzinfo=dt.UTC),
            place="3 Elm Street",
            created_at=now,
        )
        declined = Meeting(
            branch_id=1,
            kind="assembly",
            title="Frome people's assembly",
            starts_at=dt.datetime(2026, 10, 22, 18, 0, tzinfo=dt.UTC),
            place="Frome Library",
            created_at=now,
        )
        bath = Meeting(
            branch_id=2,
            kind="assembly",
            title="Bath people's assembly",
            starts_at=dt.datetime(2026, 10, 23, 18, 0, tzinfo=dt.UTC),
            place="Guildhall",
            created_at=now,
        )
        slot = CanvassSlot(
            branch_id=1, weekday=5, local_time="10:00", meeting_point="Market Cross", created_at=now
        )
        session.add_all([meeting, declined, bath, slot])
        await session.flush()
        session.add_all(
            [
                MeetingRsvp(
                    meeting_id=meeting.id, person_id=alice, answer="going", answered_at=now
                ),
                MeetingRsvp(meeting_id=declined.id, person_id=alice, answer="no", answered_at=now),
            ]
        )
        # 10:00 in London: BST (09:00 UTC) until 25 October, GMT (10:00 UTC) after.
        starts = [
            dt.datetime(2026, 10, 17, 9, tzinfo=dt.UTC),
            dt.datetime(2026, 10, 24, 9, tzinfo=dt.UTC),
            dt.datetime(2026, 10, 31, 10, tzinfo=dt.UTC),
            dt.datetime(2026, 11, 7, 10, tzinfo=dt.UTC),
        ]
        sessions = [
            CanvassSession(branch_id=1, slot_id=slot.id, starts_at=at, meeting_point="Market Cross")
            for at in starts
        ]
        session.add_all(sessions)
        await session.flush()
        for going in (sessions[0], sessions[2], sessions[3]):  # not the 24th
            session.add(
                CanvassSignup(session_id=going.id, person_id=alice, status="going", created_at=now)
            )


def feed_url(replies: list[Any]) -> str:
    found = re.search(r"(http://\S+/calendar/\S+\.ics)", replies[0].text)
    assert found, replies[0].text
    return found.group(1)


async def test_a_private_feed_holds_what_they_go_to_weekly_in_the_branchs_zone(
    demo: Chat, site: str
) -> None:
    demo.clock.set(dt.datetime(2026, 10, 10, 12, tzinfo=dt.UTC))
    demo.core.settings = replace(demo.core.settings, web_base_url=site)
    await alices_diary(demo)
    url = feed_url(await demo.say("Alice", "/calendar"))
    async with httpx.AsyncClient() as client:
        first = await client.get(url)
        again = await client.get(url)
    assert first.status_code == 200 and first.headers["Content-Type"].startswith("text/calendar")
    calendar = Calendar.from_ical(first.content)
    events = {str(e["uid"]): e for e in calendar.walk("VEVENT")}
    assert sorted(str(e["summary"]) for e in events.values()) == [
        "Frome branch meeting",
        "Test Party: canvassing with the Frome branch",
    ]
    # Canvassing: one weekly event in Europe/London, without the week she skips,
    # keeping 10:00 across the clock change; a reminder before each.
    (weekly,) = [e for e in events.values() if "canvassing" in str(e["summary"])]
    assert weekly["dtstart"].params["TZID"] == "Europe/London"
    assert weekly.decoded("dtstart") == dt.datetime(
        2026, 10, 17, 10, tzinfo=ZoneInfo("Europe/London")
    )
    rule = weekly["rrule"]
    assert rule["FREQ"] == ["WEEKLY"]
    assert rule["UNTIL"][0] == dt.datetime(2026, 11, 7, 10, tzinfo=dt.UTC)
    assert [d.dt.replace(tzinfo=None) for d in weekly["exdate"].dts] == [
        dt.datetime(2026, 10, 24, 10, 0)
    ]
    assert weekly.walk("VALARM")[0].decoded("trigger") == -dt.timedelta(hours=1)
    assert [str(z["tzid"]) for z in calendar.walk("VTIMEZONE")] == ["Europe/London"]
    # The UIDs stay, so a calendar app updates rather than duplicates.
    assert {str(e["uid"]) for e in Calendar.from_ical(again.content).walk("VEVENT")} == set(events)
    assert "Frome people's assembly" not in first.text  # she said no
    # A new link: the old one stops working; stop: no link works.
    fresh = feed_url(await demo.say("Alice", "/calendar new"))
    async with httpx.AsyncClient() as client:
        assert (await client.get(url)).status_code == 404
        assert (await client.get(fresh)).status_code == 200
        assert "/calendar new" in (await demo.say("Alice", "/calendar"))[0].text
        assert "stopped" in (await demo.say("Alice", "/calendar stop"))[0].text
        assert (await client.get(fresh)).status_code == 404


async def test_a_branch_feed_has_its_public_meetings_only(demo: Chat, site: str) -> None:
    demo.clock.set(dt.datetime(2026, 10, 10, 12, tzinfo=dt.UTC))
    await alices_diary(demo)
    async with httpx.AsyncClient(base_url=site) as client:
        frome = await client.get("/branches/frome.ics")
        wells = await client.get("/branches/wells.ics")  # proposed: no page, no feed
    assert wells.status_code == 404
    calendar = Calendar.from_ical(frome.content)
    assert [str(e["summary"]) for e in calendar.walk("VEVENT")] == ["Frome people's assembly"]
    assert "3 Elm Street" not in frome.text and "Market Cross" not in frome.text
    assert str(calendar["x-wr-calname"]) == "Test Party: Frome's public meetings"


async def test_a_feed_cannot_be_had_without_pages_or_with_a_guess(demo: Chat, site: str) -> None:
    replies = await demo.say("Carol", "/calendar")
    assert replies[0].error and "web pages are not set up" in replies[0].text
    demo.core.settings = replace(demo.core.settings, web_base_url=site)
    assert (await demo.say("Carol", "/calendar please"))[0].error
    assert "You have no calendar feed" in (await demo.say("Carol", "/calendar stop"))[0].text
    url = feed_url(await demo.say("Carol", "/calendar"))
    async with httpx.AsyncClient(base_url=site) as client:
        for guess in ("x" * 32, "short", "..%2F..%2Fetc%2Fpasswd", "A" * 200):
            assert (await client.get(f"/calendar/{guess}.ics")).status_code == 404
        assert (await client.get(url)).status_code == 200
        # Forgotten: the feed goes with everything else of theirs.
        await demo.say("Carol", "/forget")
        assert "deleted" in (await demo.press("Carol", "Yes, delete my data"))[0].text
        assert (await client.get(url)).status_code == 404
    async with demo.core.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(CalendarFeed)) == 0


@pytest.mark.slow  # a real browser, or a whole worker
async def test_the_browser_fetches_a_feed_it_can_parse(demo: Chat, site: str, browser: Any) -> None:
    demo.clock.set(dt.datetime(2026, 10, 10, 12, tzinfo=dt.UTC))
    await alices_diary(demo)

    def fetch() -> str:
        browser.get(f"{site}/branches")
        return browser.execute_async_script(
            "const done = arguments[0];"
            "fetch('/branches/frome.ics').then((r) => r.text()).then(done, (e) => done(String(e)));"
        )

    text = await asyncio.to_thread(fetch)
    assert [str(e["summary"]) for e in Calendar.from_ical(text).walk("VEVENT")] == [
        "Frome people's assembly"
    ]


# --- served by the worker ----------------------------------------------------------------


@pytest.mark.slow  # a real browser, or a whole worker
async def test_the_worker_serves_the_pages_on_the_web_port(demo: Chat) -> None:
    """`organiser run` (``serve``) serves the pages on ``[web] port``, beside
    Telegram: the directory's join links name the bot the adapter learnt."""
    from runtime.serve import Timing, serve
    from tests.fake_telegram import BOT_USERNAME, FakeTelegram

    port = free_port()
    async with FakeTelegram() as tg:
        settings = replace(
            demo.core.settings, telegram_token="1:T", telegram_base_url=tg.base_url, web_port=port
        )
        stop = asyncio.Event()
        fast = Timing(takeover_every=0.05, check_every=0.05, heartbeat_every=0.1)
        worker = asyncio.create_task(serve(demo.core.db, settings, stop=stop, timing=fast))
        try:
            await tg.wait_for("getUpdates")
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                for _ in range(200):  # the port opens once everything has started
                    try:
                        page = await client.get("/branches")
                        break
                    except httpx.ConnectError:
                        await asyncio.sleep(0.02)
                home = await client.get("/", follow_redirects=False)
        finally:
            stop.set()
            await asyncio.wait_for(worker, 20)
    assert page.status_code == 200 and "Frome" in page.text
    assert f"https://t.me/{BOT_USERNAME}?start=join-frome" in page.text
    assert home.status_code == 302 and home.headers["Location"] == "/branches"


# --- accessible --------------------------------------------------------------------------


def contrast(one: str, two: str) -> float:
    """WCAG's contrast ratio of two #rrggbb colours."""

    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    high, low = sorted((luminance(one), luminance(two)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_every_text_colour_meets_wcag_aa_in_light_and_dark() -> None:
    css = (Path(__file__).parent.parent / "bot/public/static/site.css").read_text()
    light, dark = re.findall(r":root \{(.*?)\}", css, re.S)[:2]
    for block in (light, dark):
        colour = dict(re.findall(r"--(\w+): (#[0-9a-f]{6});", block))
        for text, ground in (
            ("ink", "paper"),
            ("ink", "soft"),
            ("muted", "paper"),
            ("muted", "soft"),
            ("accent", "paper"),
            ("accent", "soft"),
            ("pass", "soft"),
            ("fail", "soft"),
            ("paper", "accent"),  # a button's label
        ):
            ratio = contrast(colour[text], colour[ground])
            assert ratio >= 4.5, (text, ground, round(ratio, 2))


async def test_the_pages_have_landmarks_labels_and_a_language(demo: Chat, site: str) -> None:
    await drawn(demo)
    demo.core.links.learn_telegram("organiser_bot")
    async with httpx.AsyncClient(base_url=site) as client:
        pages = [
            await client.get("/draws/1"),
            await client.get("/branches"),
            await client.get("/branches", headers={"Accept-Language": "es-ES,es;q=0.9"}),
            await client.get("/nowhere", params={"lang": "cy"}),
        ]
    for page in pages:
        html = page.text
        for landmark in ("<header", "<main", "<footer", '<nav aria-label="'):
            assert landmark in html, landmark
        assert re.search(r'<a class="skip" href="#main">', html)
        assert len(re.findall(r"<h1[ >]", html)) == 1
        for image in re.findall(r"<img [^>]*>", html):
            assert re.search(r'alt="[^"]+"', image), image
        for field in re.findall(r'<input [^>]*type="search"[^>]*>', html):
            name = re.search(r'id="([^"]+)"', field)
            assert name and f'<label for="{name.group(1)}">' in html
    assert [re.search(r'<html lang="(\w+)">', p.text).group(1) for p in pages] == [  # type: ignore[union-attr]
        "en",
        "en",
        "es",
        "cy",
    ]
    assert pages[2].headers["Content-Language"] == "es"


# --- a beacon's draw ---------------------------------------------------------------------


@pytest.mark.slow  # a real browser, or a whole worker
async def test_the_browser_checks_a_beacon_seed_against_its_signed_round(
    demo: Chat, site: str, browser: Any
) -> None:
    """Round 1000 of drand's default chain seeds a draw: the browser checks that
    the seed is SHA-256 of the round's signature; a signature changed in the
    database fails that check (and only that one)."""
    from bot.draws.seeding import seed_sweep
    from tests.test_adversary_seeds import (
        BEFORE_ROUND_1000,
        ROUND_1000,
        beacon_draw,
        drand_api,
        public_dns,
    )

    await beacon_draw(demo)
    client, _ = drand_api({1000: {k: v for k, v in ROUND_1000.items() if k != "chain"}})
    out = dt.datetime(2020, 7, 22, 23, 38, tzinfo=dt.UTC)
    assert out > BEFORE_ROUND_1000
    demo.clock.set(out)
    await seed_sweep(demo.core.db, demo.core.settings, out, client, public_dns)
    seen = await checked(browser, f"{site}/draws/1")
    assert seen["outcome"] == "pass", seen["checks"]
    assert ROUND_1000["signature"] in seen["text"] and "round 1000" in seen["text"]
    async with demo.core.db.transaction() as session:
        draw = await session.get(Draw, 1)
        assert draw is not None and draw.seed_proof is not None
        draw.seed_proof = {**draw.seed_proof, "signature": ROUND_1000["previous_signature"]}
    # Another worker (this one shares the page it made for a few seconds).
    port = free_port()
    other = await start_pages(
        Site(demo.core.db, demo.core.settings, demo.clock, demo.core.links), "127.0.0.1", port
    )
    try:
        seen = await checked(browser, f"http://127.0.0.1:{port}/draws/1")
    finally:
        await other.cleanup()
    assert {n for n, s in seen["checks"].items() if s == "fail"} == {"seed"}, seen["checks"]


@pytest.mark.slow  # a real browser, or a whole worker
async def test_a_trial_draw_says_it_proves_nothing(demo: Chat, site: str, browser: Any) -> None:
    await add_members(demo, 16, features=lambda i: {"gender": GENDERS[i % 3], "age": AGES[i % 4]})
    await demo.say("Alice", "/draw 3 a demo seed")
    await demo.press("Alice", "Commit")
    await demo.say("Alice", "/draw seed 1 anything we like")
    assert (await stored(demo)).status == "trial"
    seen = await checked(browser, f"{site}/draws/1")
    assert {n for n, s in seen["checks"].items() if s == "fail"} == {"seed"}, seen["checks"]
    assert seen["summary"].startswith("TRIAL")
    assert "TRIAL: its seed was typed by an organiser" in seen["text"]


async def test_a_page_that_cannot_be_made_is_a_friendly_503_naming_no_token(
    demo: Chat, caplog: pytest.LogCaptureFixture
) -> None:
    away = Database(f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere")
    port = free_port()
    runner = await start_pages(Site(away, demo.core.settings, demo.clock), "127.0.0.1", port)
    token = "t" * 32
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            answers = [await client.get(p) for p in ("/draws/1", f"/calendar/{token}.ics")]
    finally:
        await runner.cleanup()
        await away.dispose()
    for answer in answers:
        assert answer.status_code == 503 and answer.headers["Retry-After"] == "60"
        assert "This page cannot be shown just now" in answer.text
        assert "Traceback" not in answer.text and "5432" not in answer.text
        assert "Content-Security-Policy" in answer.headers
    assert token not in caplog.text and "a public page could not be made" in caplog.text


@pytest.mark.slow  # a real browser, or a whole worker
async def test_organiser_run_on_sqlite_serves_the_pages_beside_the_console(tmp_path: Path) -> None:
    """`organiser run` with no platform token is the console chat on SQLite; with
    ``[web] port`` set it serves the pages too, until the console ends."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORGANISER_")} | {
        "ORGANISER_WEB_PORT": str(port),
        "ORGANISER_DATABASE_URL": f"sqlite:///{tmp_path / 'organiser.db'}",
        "ORGANISER_POLLS_BALLOT_KEY": BALLOT_KEY,
        "PYTHONPATH": ROOT,
    }
    process = await asyncio.create_subprocess_exec(
        ORGANISER,
        "run",
        cwd=tmp_path,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(600):
                try:
                    page = await client.get("/branches")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.05)
        assert page.status_code == 200 and "No branch has started yet." in page.text
        assert process.stdin is not None
        process.stdin.close()  # the console ends, and the pages with it
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_the_command_a_draw_page_shows_verifies_its_downloaded_record(
    demo: Chat, site: str, tmp_path: Path
) -> None:
    """A visitor who copies the page's command and runs it on the record they
    downloaded gets every check passed: the page asks for nothing they lack."""
    await drawn(demo, declines=1)
    async with httpx.AsyncClient(base_url=site) as client:
        page = await client.get("/draws/1")
        record = await client.get("/draws/1/record.json")
    command = html.unescape(re.search(r"<pre><code>(.*?)</code></pre>", page.text, re.S)[1])  # type: ignore[index]
    argv = shlex.split(command)
    assert argv[:3] == ["organiser", "sortition", "verify"]
    (tmp_path / argv[3]).write_bytes(record.content)
    argv[3] = str(tmp_path / argv[3])
    root = argparse.ArgumentParser(prog="organiser")
    add_sortition_parser(root.add_subparsers(dest="command", required=True))
    args = root.parse_args(argv[1:])
    assert await args.func(args, None) == 0


async def test_a_draw_page_in_welsh_or_spanish_has_no_english_heading(
    demo: Chat, site: str
) -> None:
    await drawn(demo)
    async with httpx.AsyncClient(base_url=site) as client:
        english = await client.get("/draws/1", headers={"Accept-Language": "en"})
        headings = re.findall(r"<h2[^>]*>(.*?)</h2>", english.text)
        assert "Check it in your browser" in headings and "The quotas" in headings
        for language in ("cy", "es"):
            page = await client.get("/draws/1", headers={"Accept-Language": language})
            assert not set(headings) & set(re.findall(r"<h2[^>]*>(.*?)</h2>", page.text)), language
