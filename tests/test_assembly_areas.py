"""An assembly's area at each level: a branch's postcode prefixes (its
organisers), a region's whole area or prefixes in it (its organisers and
admins), a list of prefixes for the party (national staff). Registration checks
a resident's postcode against that area, and who runs the assembly follows its
level: a branch's organiser cannot open or run a region's, nor a region's admin
another region's."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from storage.models import Assembly, AssemblyDraw
from tests.helpers import LOTTO_RESULT, Chat, lotto, snapshot
from tests.helpers import text as joined
from tests.test_assemblies import TARGETS, resident

DATES = "4 | 2027-03-06 to 2027-03-07 | 2027-02-01"
IGNORED = ("audit_log", "prompts", "identities")


async def _open(demo: Chat, who: str, area: str) -> str:
    replies = await demo.say(who, f"/assembly open Climate assembly | {area} | {DATES}")
    code = re.search(r"code ([A-Z0-9]{8})", joined(replies))
    assert code, joined(replies)
    return code.group(1)


async def _registers(demo: Chat, who: str, code: str, postcode: str) -> bool:
    """Does the resident get as far as the consent (their postcode in the area)?"""
    replies = await demo.say(who, f"/register {code} {postcode} 3")
    if "I agree" in [b.label for r in replies for b in r.button_list()]:
        return True
    assert "is not in it" in joined(replies) and "Nothing was kept" in joined(replies)
    return False


async def _assembly(demo: Chat, code: str) -> Assembly:
    async with demo.core.db.transaction() as session:
        row = await session.scalar(select(Assembly).where(Assembly.code == code))
        assert row is not None
        return row


async def test_a_region_admin_opens_one_for_the_regions_whole_area(demo: Chat) -> None:
    code = await _open(demo, "Jo", "region")
    assembly = await _assembly(demo, code)
    # The union of the South West's branches' postcode prefixes (Frome, Bath, Wells).
    assert (assembly.scope, assembly.area) == ("region", "BA1, BA11, BA2, BA5")
    assert await _registers(demo, "Rita", code, "BA2 4AB")  # Bath's, not Jo's own branch
    assert await _registers(demo, "Sam", code, "BA5 1AA")
    assert not await _registers(demo, "Tom", code, "BS1 4DJ")
    # A region's organisers run it, not a branch's: Alice organises Frome only.
    assert "Climate assembly" in joined(await demo.say("Jo", f"/assembly show {assembly.id}"))
    assert "Climate assembly" in joined(await demo.say("Kai", f"/assembly show {assembly.id}"))
    refused = joined(await demo.say("Alice", f"/assembly show {assembly.id}"))
    assert f"no assembly {assembly.id}" in refused


async def test_prefixes_in_a_region_and_for_the_party(demo: Chat) -> None:
    in_region = await _open(demo, "Jo", "region: ba1, BA2")
    assert (await _assembly(demo, in_region)).area == "BA1, BA2"
    assert await _registers(demo, "Rita", in_region, "BA1 1AA")
    assert not await _registers(demo, "Sam", in_region, "BA11 1AB")  # Frome: not asked for
    national = await _open(demo, "Kai", "national: BS1, CF10, BA")
    assembly = await _assembly(demo, national)
    assert (assembly.scope, assembly.area) == ("national", "BA, BS1, CF10")
    assert await _registers(demo, "Tom", national, "CF10 1EP")
    assert await _registers(demo, "Uma", national, "BA11 1AB")  # BA covers BA11
    assert not await _registers(demo, "Vic", national, "EH1 1YZ")
    # National staff's to run; the region's admin is no national organiser.
    assert f"no assembly {assembly.id}" in joined(
        await demo.say("Jo", f"/assembly show {assembly.id}")
    )


async def test_bad_areas_and_the_wrong_people_change_nothing(demo: Chat) -> None:
    before = await snapshot(demo.core.db)
    tries = {
        ("Kai", "national: BA11, 12XY"): "“12XY” is not a postcode prefix",
        ("Kai", "national: BA11 Frome"): "“Frome” is not a postcode prefix",
        ("Kai", "national"): "needs its postcode prefixes",
        ("Jo", "region:"): "Give the area's postcode prefixes",
        ("Alice", "BA11, B@1"): "“B@1” is not a postcode prefix",
        ("Jo", "region: BA1, BS1"): "BS1 are not in the South West region's area",
        ("Jo", "region=nowhere"): "Only a region's organisers and admins",
        ("Alice", "region"): "Only a region's organisers and admins",  # a branch's organiser
        ("Carol", "region"): "Only a region's organisers and admins",
        ("Jo", "national: BS1"): "Only the party's national organisers and admins",
        ("Alice", "national: BS1"): "Only the party's national organisers and admins",
        ("Carol", "BA11"): "",  # a member who organises nothing
    }
    for (who, area), said in tries.items():
        replies = await demo.say(who, f"/assembly open Climate assembly | {area} | {DATES}")
        assert replies[0].error and said in joined(replies), (who, area, joined(replies))
    after = await snapshot(demo.core.db)
    assert {k: v for k, v in after.items() if k not in IGNORED} == {
        k: v for k, v in before.items() if k not in IGNORED
    }


async def test_a_region_admin_cannot_run_another_regions_assembly(demo: Chat) -> None:
    await demo.say("Kai", "/region add North East")
    await demo.say("Kai", "/region areas North East: Newcastle, NE1, NE2")
    code = await _open(demo, "Kai", "region=north-east")
    assembly = await _assembly(demo, code)
    assert (assembly.scope, assembly.area) == ("region", "NE1, NE2")
    assert await _registers(demo, "Rita", code, "NE1 4ST")
    assert not await _registers(demo, "Sam", code, "BA11 1AB")
    before = await snapshot(demo.core.db)
    for command in ("show", "link", "tolerance {id} 2", "retention {id} 30", "record"):
        request = command.format(id=assembly.id)
        if "{" not in command and " " not in command:
            request = f"{command} {assembly.id}"
        refused = await demo.say("Jo", f"/assembly {request}")
        assert refused[0].error and f"no assembly {assembly.id}" in joined(refused), request
    # Nor open one for it: her own region is the South West.
    assert "Only a region's" in joined(
        await demo.say("Jo", f"/assembly open Climate assembly | region=north-east | {DATES}")
    )
    after = await snapshot(demo.core.db)
    assert {k: v for k, v in after.items() if k not in IGNORED} == {
        k: v for k, v in before.items() if k not in IGNORED
    }
    # Her /assembly lists the South West's and Frome's, not the North East's.
    await _open(demo, "Jo", "region")
    listing = joined(await demo.say("Jo", "/assembly"))
    assert "2: Climate assembly" in listing and "1: Climate assembly" not in listing


async def test_a_regions_draw_is_witnessed_by_members_of_its_branches(demo: Chat) -> None:
    """Witnesses are members of the region's affiliated branches (not national
    staff in none of them, not someone in no branch); a branch's organiser who
    does not organise the region is no second organiser beside the region's."""
    code = await _open(demo, "Jo", "region")
    await demo.say("Jo", "/assembly categories 1 tenure: owner | renter")
    for i in range(12):
        await resident(demo, f"Res{i}", code, i)
    await demo.say("Jo", TARGETS)
    await demo.say("Jo", f"/assembly draw 1 {lotto(demo.clock)}")
    committed = await demo.press("Jo", "Commit")
    assert "Record hash" in joined(committed), joined(committed)
    async with demo.core.db.transaction() as session:
        draw = await session.get(AssemblyDraw, 1)
        assert draw is not None
        demo.clock.set(draw.seed_due_at + dt.timedelta(minutes=5))
    assert "Result noted" in joined(await demo.say("Jo", f"/assembly seed 1 {LOTTO_RESULT}"))
    for outsider in ("Kai", "Nia"):  # national staff in no branch of it; in no branch
        refused = await demo.say(outsider, f"/assembly seed 1 {LOTTO_RESULT}")
        assert refused[0].error, joined(refused)
    # Alice organises Frome, not the South West: as a member of a branch in it she may witness.
    drawn = joined(await demo.say("Alice", f"/assembly seed 1 {LOTTO_RESULT}"))
    assert "4 residents selected" in drawn, drawn


async def test_national_staff_in_no_branch_see_what_they_run(demo: Chat) -> None:
    usage = joined(await demo.say("Kai", "/assembly"))
    assert "/assembly open" in usage and "national: <prefixes>" in usage, usage
    await _open(demo, "Kai", "national: BS1")
    assert "1: Climate assembly" in joined(await demo.say("Kai", "/assembly"))
    refused = await demo.say("Carol", "/assembly")  # a member who runs nothing
    assert refused[0].error
