"""Sortition cannot be steered through its seed: each test is an attack that
worked before, and what the product now does.

The demo's Frome branch: Alice organises it, Carol is a member, Jo is the
region's admin (staff over Frome too); Femi belongs to Bath."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from sqlalchemy import func, select

from bot.draws.seeding import seed_sweep
from bot.kernel.config import ConfigError, load_settings
from bot.lib.sortition.beacons import randomness, verify_signature
from bot.lib.sortition.chains import DEFAULT, QUICKNET
from bot.lib.sortition.drawing import selected_after
from bot.lib.sortition.seeds import SeedProblem, lottery_seed, lottery_source
from storage.models import Draw, Invitation, OutboxMessage
from tests.helpers import Chat, add_members, confirm_link, lotto, seed_by_lottery, snapshot
from tests.helpers import text as joined
from tests.local_server import serve_locally
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


async def test_an_early_witness_is_told_the_result_time_in_their_branchs_time_zone(
    demo: Chat,
) -> None:
    """UK Lotto's result is out at 21:00 London: 22:00 for a branch in Paris."""
    assert "Europe/Paris" in joined(await demo.say("Kai", "/branch timezone Frome: Europe/Paris"))
    await pool(demo)
    await demo.say("Alice", f"/draw 3 {lotto(demo.clock)}")
    await demo.press("Alice", "Commit")
    replies = await demo.say("Carol", "/draw seed 1 1 2 3 4 5 6 + 7")
    assert "entered after 2026-11-28 22:00, Europe/Paris time." in replies[0].text, joined(replies)


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
        ("/draw 3 lottery:6 of 1-49:2026-11-28", "There is no lottery"),  # names none
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
    irish = lottery_source("Irish Lotto 6 of 1-47", "2026-11-28", "Europe/Dublin", _thursday())
    assert (irish["name"], irish["format"]) == ("Irish Lotto", "6 of 1-47; each group sorted")
    assert lottery_seed(irish, "47, 01, 2, 30, 4, 5") == "1 2 4 5 30 47"
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
    assert ".." not in preview[0].text  # the seed's line ends once, not twice
    committed = await demo.press("Alice", "Commit")
    assert "TRIAL" in committed[0].text
    replies = await demo.say("Alice", "/draw seed 1 anything-we-like")
    assert "TRIAL draw 1 made" in replies[0].text and "nobody is invited" in replies[0].text
    assert await invitations(demo) == 0 and (await draw_row(demo)).status == "trial"
    verified = joined(await demo.say("Alice", "/draw verify 1"))
    assert verified.startswith("TRIAL draw 1") and "proves nothing" in verified
    async with demo.core.db.transaction() as session:
        told = list(await session.scalars(select(OutboxMessage.text)))
    announced = [t for t in told if "raw 1 for the Frome council" in t]
    assert len(announced) >= 2 and all("TRIAL" in t for t in announced), announced
    record = await demo.say("Carol", "/draw record 1")
    assert record[0].text.startswith("TRIAL") and record[0].file is not None


def _thursday() -> dt.datetime:
    return dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


def _t(message: str, **params: object) -> str:
    return message.format(**params)


# --- Beacons ------------------------------------------------------------------------

ROUNDS = json.loads((Path(__file__).parent / "data" / "drand" / "rounds.json").read_text())
ROUND_1000 = ROUNDS["mainnet"][0]  # drand's default chain, out at 2020-07-22 23:37 UTC
BEFORE_ROUND_1000 = dt.datetime(2020, 7, 22, 12, 0, tzinfo=dt.UTC)


def drand_api(rounds: dict[int, dict[str, Any]], redirect: str = "") -> tuple[Any, list[str]]:
    """A fake drand HTTP API (an httpx transport, no network): the rounds published
    so far, or a redirect to ``redirect``; and the list of URLs it was asked."""
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        if redirect:
            return httpx.Response(302, headers={"location": redirect})
        number = int(request.url.path.rsplit("/", 1)[1])
        if number not in rounds:
            return httpx.Response(404, json={"error": "not yet"})
        return httpx.Response(200, json=rounds[number])

    return httpx.AsyncClient(transport=httpx.MockTransport(answer)), asked


async def public_dns(host: str, port: int) -> list[str]:
    """A resolver for the fake: drand's hosts at a public address."""
    return ["104.18.2.3"]


async def beacon_draw(demo: Chat, round_: int = 1000) -> None:
    demo.clock.set(BEFORE_ROUND_1000)
    await pool(demo)
    preview = await demo.say("Alice", f"/draw 3 beacon:drand:{round_}")
    assert (
        "round 1000 of drand default (out at 2020-07-23 00:37, Europe/London time)"
        in preview[0].text
    ), joined(preview)
    await demo.press("Alice", "Commit")


async def test_a_far_future_drand_draw_cannot_be_completed_with_typed_text(demo: Chat) -> None:
    """The attack: commit a draw on a drand round years away, then two organisers
    type "anything-we-like" as its seed. Now a round must come out after the
    commitment and within 90 days, and nobody types a beacon's seed: the bot
    fetches the round and checks its signature."""
    await pool(demo)
    far = DEFAULT.round_at(demo.clock.now() + dt.timedelta(days=3 * 365))
    past = QUICKNET.round_at(demo.clock.now() - dt.timedelta(minutes=1))
    for line, said in (
        (f"/draw 3 beacon:drand:{far}", "within 90 days"),
        (f"/draw 3 beacon:quicknet:{past}", "published after now"),
        ("/draw 3 beacon:https://beacon.example/api:12", "Only drand's public chains"),
    ):
        replies = await demo.say("Alice", line)
        assert replies[0].error and said in replies[0].text, (line, joined(replies))
    soon = DEFAULT.round_at(demo.clock.now() + dt.timedelta(days=1))
    await demo.say("Alice", f"/draw 3 beacon:drand:{soon}")
    await demo.press("Alice", "Commit")
    demo.clock.advance(dt.timedelta(days=2))  # the round is out, but not fetched
    for who in ("Alice", "Jo"):
        replies = await demo.say(who, "/draw seed 1 anything-we-like")
        assert replies[0].error and "nobody types it" in replies[0].text, joined(replies)
    assert await invitations(demo) == 0 and (await draw_row(demo)).status == "committed"


async def test_a_beacon_round_is_checked_stored_and_verified_offline(demo: Chat) -> None:
    """The real round 1000 of drand's default chain: not asked for before its
    time; once out, fetched, its BLS signature checked against the chain's key,
    stored with the draw, and the draw made with its randomness. /draw verify
    checks the stored round again, with no network; a database reader who
    changes the stored signature is caught."""
    await beacon_draw(demo)
    client, asked = drand_api({1000: {k: v for k, v in ROUND_1000.items() if k != "chain"}})
    db, settings = demo.core.db, demo.core.settings
    await seed_sweep(db, settings, BEFORE_ROUND_1000 + dt.timedelta(hours=1), client, public_dns)
    assert asked == []  # the round's time has not come: nothing to ask
    out = dt.datetime(2020, 7, 22, 23, 38, tzinfo=dt.UTC)
    demo.clock.set(out)
    await seed_sweep(db, settings, out, client, public_dns)
    assert asked == [f"https://api.drand.sh/{DEFAULT.hash}/public/1000"]
    draw = await draw_row(demo)
    assert draw.status == "drawn" and draw.seed == ROUND_1000["randomness"]
    assert draw.seed_proof is not None and draw.seed_proof["round"] == 1000
    assert await invitations(demo) == 3
    verified = joined(await demo.say("Alice", "/draw verify 1"))
    assert "checks out" in verified and "signature checks out" in verified, verified
    async with db.transaction() as session:
        row = await session.get(Draw, 1)
        assert row is not None and row.seed_proof is not None
        row.seed_proof = {**row.seed_proof, "signature": ROUND_1000["previous_signature"]}
    verified = joined(await demo.say("Alice", "/draw verify 1"))
    assert "does not check out" in verified and "signature does not verify" in verified


async def test_a_forged_beacon_round_is_refused(demo: Chat) -> None:
    """The attack: whoever answers for the beacon (a compromised mirror, a proxy)
    serves a round with a signature of their choosing and the randomness they
    like. The signature does not verify against the chain's public key, so the
    draw waits and is not made."""
    await beacon_draw(demo)
    forged = {**ROUND_1000, "signature": ROUND_1000["previous_signature"], "randomness": "00" * 32}
    client, asked = drand_api({1000: forged})
    out = dt.datetime(2020, 7, 22, 23, 38, tzinfo=dt.UTC)
    await seed_sweep(demo.core.db, demo.core.settings, out, client, public_dns)
    assert len(asked) == 4  # every configured endpoint was tried; none verified
    assert await invitations(demo) == 0 and (await draw_row(demo)).status == "committed"


async def test_beacon_endpoints_on_private_addresses_http_or_redirects_are_refused(
    demo: Chat,
) -> None:
    """The attack: a beacon address pointing inside the server's network
    (169.254.169.254, 127.0.0.1, http), or an endpoint that redirects there.
    Only https endpoints with public addresses are asked, and redirects are not
    followed: a server on 127.0.0.1 is never contacted."""
    await beacon_draw(demo)
    hits: list[str] = []

    async def anything(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.json_response({"round": 1000, "randomness": "ff" * 32})

    app = web.Application()
    app.router.add_get("/{tail:.*}", anything)
    runner, port = await serve_locally(app, 1.0)
    out = dt.datetime(2020, 7, 22, 23, 38, tzinfo=dt.UTC)
    try:
        urls = (
            f"http://127.0.0.1:{port} https://127.0.0.1:{port} https://localhost:{port} "
            "https://169.254.169.254 https://[::1]"
        )
        settings = replace(demo.core.settings, sortition_beacon_urls=urls)
        await seed_sweep(demo.core.db, settings, out)  # the real client and resolver
        assert hits == []
        client, asked = drand_api({}, redirect=f"http://127.0.0.1:{port}/latest/meta-data")
        await seed_sweep(demo.core.db, demo.core.settings, out, client, public_dns)
        assert all(u.startswith("https://") and "127.0.0.1" not in u for u in asked), asked
        assert hits == []
    finally:
        await runner.cleanup()
    assert await invitations(demo) == 0 and (await draw_row(demo)).status == "committed"


def test_the_beacon_endpoints_setting_takes_https_only() -> None:
    """An operator (or a leaked environment) cannot point the bot at plain http:
    the setting is refused at start-up, with the reason."""
    with pytest.raises(ConfigError, match="https://"):
        load_settings(env={"ORGANISER_SORTITION_BEACON_URLS": "http://169.254.169.254"})
    settings = load_settings(env={"ORGANISER_SORTITION_BEACON_URLS": "https://drand.example"})
    assert settings.sortition_beacon_urls == "https://drand.example"


def test_drand_signatures_verify_on_real_rounds_and_fail_on_any_change() -> None:
    """The BLS check against drand's own published vectors (both schemes) and the
    mainnet quicknet round 123: each verifies, its randomness is sha256 of the
    signature, and the same signature for another round does not verify."""
    for vector in ROUNDS["schemes"]:
        args = (vector["scheme"], vector["public_key"], vector["round"], vector["signature"])
        previous = vector.get("previous_signature", "")
        assert verify_signature(*args, previous)
        assert randomness(vector["signature"]) == vector["randomness"]
        if not previous:  # a chained round is refused in test_a_forged_beacon_round_is_refused
            wrong = (vector["scheme"], vector["public_key"], vector["round"] + 1)
            assert not verify_signature(*wrong, vector["signature"])
    quick = ROUNDS["mainnet"][1]
    assert verify_signature(QUICKNET.scheme, QUICKNET.public_key, 123, quick["signature"])
    assert not verify_signature(QUICKNET.scheme, QUICKNET.public_key, 124, quick["signature"])


async def test_the_command_line_checks_a_beacon_round_and_reads_lottery_spellings_offline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Anyone with the record checks the seed without the bot: ``organiser
    sortition verify --beacon-round`` verifies the round's signature against the
    chain's key and draws with its randomness (a forged round stops with one
    line); a lottery's result in any spelling is read into the committed format."""
    from adapters.cli import Stop
    from tests.test_sortition_cli import run

    people = tmp_path / "people.csv"
    people.write_text("id,gender\n" + "".join(f"p{i:03d},{GENDERS[i % 3]}\n" for i in range(12)))
    quotas = tmp_path / "quotas.csv"
    quotas.write_text("feature,value,min,max\n" + "".join(f"gender,{g},1,2\n" for g in GENDERS))
    beacon = tmp_path / "beacon.json"
    source = {
        "kind": "beacon", "name": DEFAULT.name, "chain": DEFAULT.hash,
        "url": f"https://api.drand.sh/{DEFAULT.hash}", "round": 1000,
    }  # fmt: skip
    for out, seed_source in (
        (beacon, json.dumps(source)),
        (tmp_path / "lotto.json", "lottery:UK Lotto:2026-11-28"),
    ):
        code = await run(
            "lottery", "--people", str(people), "--quotas", str(quotas), "--k", "3",
            "--m", "50", "--seed-source", seed_source, "--out", str(out),
        )  # fmt: skip
        assert code == 0
    capsys.readouterr()
    round_json = json.dumps(
        {k: ROUND_1000[k] for k in ("round", "signature", "previous_signature")}
    )
    record = json.loads(beacon.read_text())
    published = ("--published-hash", record["record_hash"])
    assert await run("verify", str(beacon), "--beacon-round", round_json, *published) == 0
    printed = capsys.readouterr().out
    assert "round 1000 of drand default: signature checks out" in printed
    assert printed.split()[-3:] == list(selected_after(record, ROUND_1000["randomness"])[1])
    forged = json.dumps({**json.loads(round_json), "signature": ROUND_1000["previous_signature"]})
    with pytest.raises(Stop, match="signature does not verify"):
        await run("verify", str(beacon), "--beacon-round", forged, *published)
    lotto_record = str(tmp_path / "lotto.json")
    lotto_hash = (
        "--published-hash",
        json.loads((tmp_path / "lotto.json").read_text())["record_hash"],
    )
    assert (
        await run("verify", lotto_record, "--seed", "04,11,23,35,42,58 bonus 07", *lotto_hash) == 0
    )
    first = capsys.readouterr().out
    assert "lottery result read as: 4 11 23 35 42 58 + 7" in first
    assert await run("verify", lotto_record, "--seed", "58 42 35 23 11 4 + 7", *lotto_hash) == 0
    assert capsys.readouterr().out.split()[-3:] == first.split()[-3:]
