"""A citizens' assembly's draw on the public pages (``/assemblies/draws/ID``):
the assembly, the commitment, seed, panel by pseudonym, census quotas and
replacements, checked in a real headless Chromium exactly as
bot/lib/sortition checks the public record, with the one-person-a-household
rule; nothing of any registrant beyond the quotas' counts."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.lib.sortition.drawing import next_replacement, reserve_order, standing_after
from bot.lib.sortition.encoding import REPLACEMENT_RULE, digest
from bot.lib.sortition.verification import verify
from storage.models import AssemblyDraw, AssemblyInvitation, AssemblyRegistrant
from tests import test_public_pages as public_pages
from tests.browser import DESKTOP, PHONE, console_errors, full_page, screenshot_dir
from tests.helpers import Chat
from tests.helpers import text as joined
from tests.test_assemblies import drawn
from tests.test_public_pages import checked, tamper

PAGE = "/assemblies/draws/1"
# The council pages' fixtures: a headless Chromium, and the pages served on 127.0.0.1.
browser = public_pages.browser
site = public_pages.site


async def declined(demo: Chat, n: int) -> None:
    """``n`` of those invited decline, each place going to the next reserve."""
    for _ in range(n):
        async with demo.core.db.transaction() as session:
            user, invitation = (
                await session.execute(
                    select(AssemblyRegistrant.user_id, AssemblyInvitation.id)
                    .join(
                        AssemblyRegistrant,
                        AssemblyRegistrant.id == AssemblyInvitation.registrant_id,
                    )
                    .where(AssemblyInvitation.status == "invited")
                    .order_by(AssemblyInvitation.id)
                )
            ).first()  # type: ignore[misc]
        await demo.press("Res" + user[3:], f"asmno:{invitation}")


@pytest.mark.slow  # a real browser
async def test_the_browser_checks_an_assembly_draw_exactly_as_python_does(
    demo: Chat,
    site: str,
    browser: Any,
) -> None:
    await drawn(demo)
    await declined(demo, 2)
    async with demo.core.db.transaction() as session:
        draw = await session.get(AssemblyDraw, 1)
    assert draw is not None and draw.seed is not None
    python = verify(draw.record, draw.seed, published_hash=draw.record_hash)
    assert python.ok, python.mismatches
    seen = await checked(browser, f"{site}{PAGE}")
    assert seen["errors"] == []
    assert seen["outcome"] == "pass", seen
    assert set(seen["checks"].values()) == {"pass"}, seen["checks"]
    assert "household" in seen["checks"]
    assert seen["hash"] == digest(draw.record["field_hashes"]) == draw.record_hash
    assert int(seen["index"]) == python.index == draw.chosen_index
    assert seen["reserves"].split() == reserve_order(draw.record, draw.seed)
    # The assembly, the panel by pseudonym, the census quotas, the replacements.
    text = seen["text"]
    assert "Frome climate assembly" in text and "BA11" in text, text
    assert "6 Mar 2027" in text  # the dates it sits
    for pseudonym in python.selected:
        assert pseudonym in text
    assert text.count("declined;") == 2
    assert "tenure" in text and "renter" in text


@pytest.mark.slow  # a real browser
async def test_an_assembly_page_names_no_registrant_and_no_household(demo: Chat, site: str) -> None:
    await drawn(demo)
    async with demo.core.db.transaction() as session:
        registrants = list(await session.scalars(select(AssemblyRegistrant)))
        draw = await session.get(AssemblyDraw, 1)
        assert draw is not None
    async with httpx.AsyncClient() as client:
        page = (await client.get(f"{site}{PAGE}")).text
        record = (await client.get(f"{site}{PAGE}/record.json")).json()
        council = await client.get(f"{site}/draws/1")  # not a council's draw: ids apart
    assert "openings" not in record and "composition_salts" not in record
    assert council.status_code == 404
    for opening in draw.record["openings"].values():
        assert opening["household"] not in page and opening["salt"] not in page
        assert opening["household"] not in json.dumps(record)
    for registrant in registrants:
        assert registrant.household not in page and registrant.user_id not in page


def swap_in_drawn_panel(record: dict[str, Any]) -> None:
    index = record["opened"]["index"]
    panel = record["panels"][index]
    outsider = next(e["id"] for e in record["entrants"] if e["id"] not in panel)
    record["panels"][index] = sorted([*panel[1:], outsider])


def rule_without_households(record: dict[str, Any]) -> None:
    """Commit the councils' rule for an assembly, every hash recomputed."""
    record["replacement"] = REPLACEMENT_RULE
    record["field_hashes"]["replacement"] = digest(REPLACEMENT_RULE)
    record["record_hash"] = digest(record["field_hashes"])


def seat_a_housemate(seed: str) -> Any:
    """The first vacancy went, says the record, to a housemate of one still
    seated, those before them in the reserve order said to be no longer
    eligible: exactly whom the rule would give without its household clause."""

    def change(record: dict[str, Any]) -> None:
        homes = {pid: o["household"] for pid, o in record["openings"].items()}
        features = {pid: o["features"] for pid, o in record["openings"].items()}
        event = record["history"][0]
        standing, invited = standing_after({**record, "history": []}, seed)
        standing.discard(event["id"])
        reserves = reserve_order(record, seed)
        plain = {**record, "replacement": REPLACEMENT_RULE}  # no household clause
        for n, housemate in enumerate(reserves):
            if homes[housemate] not in {homes[s] for s in standing}:
                continue
            skipped = set(reserves[:n])
            if next_replacement(plain, seed, standing, invited, skipped, features) == housemate:
                event["replacement"], event["skipped"] = housemate, sorted(skipped)
                return
        raise AssertionError("no housemate the rule without households would seat")

    return change


async def full_checked(driver: Any, url: str, full: Path) -> dict[str, Any]:
    """Open ``url``, wait for its checks, then choose the organisers' full
    record ``full`` in the page and wait for the checks it adds."""

    def run() -> dict[str, Any]:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        driver.get(url)
        section = driver.find_element(By.ID, "check")
        WebDriverWait(driver, 20).until(lambda d: section.get_attribute("data-outcome"))
        driver.find_element(By.ID, "full-record").send_keys(str(full))
        WebDriverWait(driver, 20).until(lambda d: section.get_attribute("data-full-outcome"))
        return {
            "outcome": section.get_attribute("data-outcome"),
            "full": section.get_attribute("data-full-outcome"),
            "checks": {
                item.get_attribute("data-full"): item.get_attribute("data-state")
                for item in section.find_elements(By.CSS_SELECTOR, "[data-full]")
            },
            "details": {
                item.get_attribute("data-full"): item.find_element(By.CLASS_NAME, "detail").text
                for item in section.find_elements(By.CSS_SELECTOR, "[data-full]")
            },
            "summary": section.find_element(By.CLASS_NAME, "full-summary").text,
            "errors": console_errors(driver),
        }

    return await asyncio.to_thread(run)


async def full_record(demo: Chat, tmp_path: Path) -> Path:
    """The full record as an organiser gets it in chat (/assembly record), saved."""
    reply = (await demo.say("Alice", "/assembly record 1"))[0]
    assert reply.file is not None
    path = tmp_path / reply.file.filename
    path.write_bytes(reply.file.content)
    return path


@pytest.mark.slow  # a real browser
async def test_the_full_record_checks_the_household_rule_in_the_browser(
    demo: Chat, site: str, browser: Any, tmp_path: Path
) -> None:
    await drawn(demo, shared=24)  # everyone lives with someone
    await declined(demo, 2)
    seen = await full_checked(browser, f"{site}{PAGE}", await full_record(demo, tmp_path))
    assert seen["errors"] == []
    assert seen["full"] == "pass" and set(seen["checks"].values()) == {"pass"}, seen
    assert "Every check passed in your browser." in seen["summary"]
    out = screenshot_dir(tmp_path)
    for name, (width, _) in (("phone", PHONE), ("desktop", DESKTOP)):
        await asyncio.to_thread(full_page, browser, out / f"assembly-draw-{name}.png", width)
        assert (out / f"assembly-draw-{name}.png").stat().st_size > 10_000


@pytest.mark.slow  # a real browser
async def test_a_forged_replacement_that_seats_a_housemate_is_caught_and_named(
    demo: Chat, site: str, browser: Any, tmp_path: Path
) -> None:
    """Attack: someone with the database says a vacancy went to a housemate of
    one still seated. The public record cannot tell (the housemate is a
    reserve never invited, and households are in the openings only); the
    organisers' full record, checked in the browser, names the forgery."""
    await drawn(demo, shared=24)
    await declined(demo, 1)
    async with demo.core.db.transaction() as session:
        seed = (await session.get(AssemblyDraw, 1)).seed  # type: ignore[union-attr]
    assert seed is not None
    await tamper(demo, seat_a_housemate(seed), model=AssemblyDraw)
    async with demo.core.db.transaction() as session:
        draw = await session.get(AssemblyDraw, 1)
    assert draw is not None and draw.seed is not None
    forged = draw.record["history"][0]["replacement"]
    python = verify(draw.record, draw.seed)
    assert not python.ok, python  # Python, with the openings, agrees
    seen = await full_checked(browser, f"{site}{PAGE}", await full_record(demo, tmp_path))
    assert seen["outcome"] == "pass", seen  # what the public record alone can check
    assert seen["full"] == "fail"
    assert seen["checks"] == {
        "same": "pass",
        "openings": "pass",
        "households": "pass",
        "replayed": "fail",
    }, seen
    assert f"not {forged}" in seen["details"]["replayed"], seen["details"]
    assert "A check failed" in seen["summary"]


@pytest.mark.slow  # a real browser
@pytest.mark.parametrize(
    ("change", "failing"),
    [
        (swap_in_drawn_panel, {"lists"}),
        (rule_without_households, {"published", "household"}),
    ],
    ids=["panel-swapped", "household-rule-dropped"],
)
async def test_an_assembly_record_tampered_on_the_server_fails_the_check_it_breaks(
    demo: Chat,
    site: str,
    browser: Any,
    change: Any,
    failing: set[str],
) -> None:
    await drawn(demo)
    await declined(demo, 1)
    await tamper(demo, change, model=AssemblyDraw)
    seen = await checked(browser, f"{site}{PAGE}")
    assert seen["outcome"] == "fail"
    failed = {name for name, state in seen["checks"].items() if state == "fail"}
    assert failing <= failed and "seed" not in failed, seen["checks"]
    assert "A check failed" in seen["summary"]


async def test_record_and_show_give_the_page_when_the_pages_have_an_address(
    demo: Chat,
) -> None:
    await drawn(demo)
    assert "/assemblies/draws/" not in joined(await demo.say("Alice", "/assembly show 1"))
    demo.core.settings = replace(demo.core.settings, web_base_url="https://pages.example/")
    link = "https://pages.example/assemblies/draws/1"
    assert link in joined(await demo.say("Alice", "/assembly show 1"))
    assert link in joined(await demo.say("Alice", "/assembly record 1"))
