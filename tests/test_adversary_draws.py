"""Sortition cannot be steered: the record and its use (issue 13).

Each test is an attack an organiser (or a database reader, or a curious member)
tried on a draw by lot, and what the product now does about it.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from adapters.sortition_cli import add_parser
from bot.lib.sortition.building import commit
from bot.lib.sortition.drawing import draw_index, features_of, next_replacement, reserve_order
from bot.lib.sortition.encoding import digest, entry_commitment
from bot.lib.sortition.synthetic import proportional_quotas, skewed_pool
from bot.lib.sortition.verification import verify
from storage.models import AuditEntry, Draw, DrawEntrant, Invitation, Person
from tests.helpers import LOTTO_RESULT, Chat, add_members, lotto, seed_by_lottery
from tests.helpers import text as joined

GENDERS = ["woman", "man", "non-binary", "prefer not to say"]
AGES = ["18-29", "30-44", "45-64", "65+"]
PSEUDONYM = re.compile(r"\bP\d{4}\b")


async def pool(demo: Chat, n: int = 16) -> None:
    """``n`` paid-up Frome members who opted in, named Member 1..n."""
    await add_members(demo, n, features=lambda i: {"gender": GENDERS[i % 3], "age": AGES[i % 4]})


async def seed(demo: Chat, draw_id: int) -> str:
    """Complete draw ``draw_id`` with its public seed (two witnesses, after the
    lottery result is out)."""
    return joined(await seed_by_lottery(demo, draw_id))


async def commit_draw(demo: Chat, line: str = "/draw 5", who: str = "Alice") -> int:
    """Preview and commit ``line`` (seeded from the next Lotto draw); the draw's id."""
    replies = await demo.say(who, f"{line} {lotto(demo.clock)}")
    assert "chance of selection" in joined(replies), joined(replies)
    replies = await demo.press(who, "Commit")
    assert replies[0].text.startswith("Committed: draw"), joined(replies)
    found = re.search(r"draw (\d+)", replies[0].text)
    assert found
    return int(found[1])


def retamper(record: dict[str, Any]) -> dict[str, Any]:
    """Recompute every hash a record carries, after changing its contents: what
    someone who wants a different panel to check out would do."""
    record = json.loads(json.dumps(record))
    record["panels_hash"] = digest(record["panels"])
    if "pool_hash" in record and "pool" in record:
        record["pool_hash"] = digest(record["pool"])
    record["field_hashes"] = {name: digest(record[name]) for name in record["field_hashes"]}
    record["record_hash"] = digest(record["field_hashes"])
    return record


def swap_selected(record: dict[str, Any], seed_text: str) -> dict[str, Any]:
    """Replace the panel ``seed_text`` selects with another panel of the lottery
    (so every quota still holds), then recompute every hash."""
    index = draw_index(record["record_hash"], seed_text, record["m"])
    other = next(p for p in record["panels"] if p != record["panels"][index])
    tampered = json.loads(json.dumps(record))
    tampered["panels"][index] = other
    tampered = retamper(tampered)
    # The new record hash moves the index: put the wanted panel where the seed now points.
    new_index = draw_index(tampered["record_hash"], seed_text, tampered["m"])
    tampered["panels"][new_index] = other
    return retamper(tampered) if new_index != index else tampered


# --- Draw shopping ---------------------------------------------------------------------


async def test_three_committed_draws_for_one_body_are_refused_and_a_cancel_is_public(
    demo: Chat,
) -> None:
    """Attack: commit three draws for one council, wait for the seed, complete
    the one whose panel you like. Now: a body has one pending draw; a second is
    refused at preview and at commit (two previews pressed one after the other);
    ``/draw cancel ID reason`` is announced to the whole branch with its reason
    and kept in the record's history; a cancelled draw cannot be completed."""
    await pool(demo)
    await demo.say("Alice", f"/draw 3 {lotto(demo.clock)}")
    first = demo.button("Alice", "Commit")
    await demo.say("Alice", f"/draw 4 {lotto(demo.clock)}")
    second = demo.button("Alice", "Commit")
    assert (await demo.press("Alice", first))[0].text.startswith("Committed: draw")
    refused = await demo.press("Alice", second)
    assert refused[0].error and "waits for its seed" in refused[0].text, joined(refused)
    refused = await demo.say("Alice", f"/draw 3 {lotto(demo.clock)}")
    assert refused[0].error and "/draw cancel" in refused[0].text, joined(refused)
    async with demo.core.db.transaction() as session:
        pending = await session.scalar(
            select(func.count()).select_from(Draw).where(Draw.status == "committed")
        )
    assert pending == 1

    draw_id = 1
    refused = await demo.say("Alice", f"/draw cancel {draw_id}")
    assert refused[0].error and "reason" in refused[0].text
    refused = await demo.say("Carol", f"/draw cancel {draw_id} I do not like it")
    assert refused[0].error
    replies = await demo.say("Alice", f"/draw cancel {draw_id} the hall flooded")
    assert "cancelled" in joined(replies).lower(), joined(replies)
    told = [t for n, t in await demo.outbox() if n == "Dan"]  # a supporter of Frome
    assert any("cancelled" in t and "the hall flooded" in t for t in told), told
    async with demo.core.db.transaction() as session:
        draw = await session.get(Draw, draw_id)
        assert draw is not None
        history = draw.record.get("history")
    assert draw.status == "cancelled"
    assert history and history[0]["event"] == "cancelled"
    assert history[0]["reason"] == "the hall flooded"
    said = joined(await demo.say("Alice", f"/draw seed {draw_id} {LOTTO_RESULT}"))
    assert "cancelled" in said and "invited" not in said
    assert await commit_draw(demo, "/draw 3") > draw_id


# --- verify passes a tampered record -----------------------------------------------------


def cli() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="organiser")
    add_parser(root.add_subparsers(dest="command", required=True))
    return root


async def run(*argv: str) -> int:
    args = cli().parse_args(["sortition", *argv])
    result: int = await args.func(args, None)
    return result


async def test_a_swapped_panel_with_every_hash_recomputed_fails_cli_verify(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Attack: swap the selected panel for one you prefer and recompute every
    hash, then run ``organiser sortition verify`` as the README shows it. Now:
    verify requires the hash published at commit (``--published-hash``) and
    the doctored record fails against it."""
    people = skewed_pool(60, seed=3)
    from bot.lib.sortition.model import Problem

    record, _ = commit(Problem.build(people, proportional_quotas(6), 6), {"kind": "string"}, 50)
    published = record["record_hash"]
    seed_text = "3 9 27 41 45 49"
    honest, doctored = tmp_path / "honest.json", tmp_path / "doctored.json"
    honest.write_text(json.dumps(record), encoding="utf-8")
    doctored.write_text(json.dumps(swap_selected(record, seed_text)), encoding="utf-8")

    with pytest.raises(SystemExit):  # without the published hash, nothing to trust
        cli().parse_args(["sortition", "verify", str(doctored), "--seed", seed_text])
    capsys.readouterr()
    assert await run("verify", str(honest), "--seed", seed_text, "--published-hash", published) == 0
    capsys.readouterr()
    assert (
        await run("verify", str(doctored), "--seed", seed_text, "--published-hash", published) == 1
    )
    assert "differs from the published record hash" in capsys.readouterr().out
    # The older spelling still works, and still fails the doctored record.
    assert await run("verify", str(doctored), "--seed", seed_text, "--record-hash", published) == 1


async def test_a_record_altered_in_the_database_fails_draw_verify(demo: Chat) -> None:
    """Attack: with write access to the database, replace a drawn record by one
    whose selected panel is another, every hash recomputed (also the draw's
    ``record_hash`` column). Now: ``/draw verify`` checks against the hash that
    was announced and audited at commit, and says the record does not check out."""
    await pool(demo)
    draw_id = await commit_draw(demo)
    assert "have been invited" in await seed(demo, draw_id)
    assert "checks out" in joined(await demo.say("Alice", f"/draw verify {draw_id}"))
    async with demo.core.db.transaction() as session:
        draw = await session.get(Draw, draw_id)
        assert draw is not None and draw.seed is not None
        doctored = swap_selected(draw.record, draw.seed)
        await session.execute(
            update(Draw)
            .where(Draw.id == draw_id)
            .values(record=doctored, record_hash=doctored["record_hash"])
        )
        audited = await session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "draw.committed")
        )
    assert audited == 1
    replies = await demo.say("Alice", f"/draw verify {draw_id}")
    assert replies[0].error and "does not check out" in replies[0].text, joined(replies)
    assert "published" in replies[0].text


# --- Declared features leak ------------------------------------------------------------


async def test_an_organisers_mydata_holds_no_preview_map(demo: Chat) -> None:
    """Attack: the organiser's ``/mydata`` (their own prompts) handed over the
    preview's pseudonym-to-person map. Now: the preview is a draw in status
    ``preview``; the button's stored payload names only that draw."""
    await pool(demo)
    await demo.say("Alice", f"/draw 5 {lotto(demo.clock)}")
    commit_button = demo.button("Alice", "Commit")
    replies = await demo.say("Alice", "/mydata")
    assert replies[0].file is not None
    exported = replies[0].file.content.decode()
    assert not PSEUDONYM.search(exported), exported[:2000]
    assert "behind" not in exported
    await demo.press("Alice", commit_button)
    exported = (await demo.say("Alice", "/mydata"))[0].file.content.decode()  # type: ignore[union-attr]
    assert not PSEUDONYM.search(exported)


async def test_a_supporter_in_the_branch_learns_no_pseudonym_from_announcements(
    demo: Chat,
) -> None:
    """Attack: the whole branch, supporters too, was told "Selected: P0004";
    with the record, that named P0004's features. Now: announcements say how
    many were selected and how to check, never a pseudonym; organisers alone
    hear who was drawn."""
    await pool(demo)
    draw_id = await commit_draw(demo)
    await seed(demo, draw_id)
    told = [t for n, t in await demo.outbox() if n == "Dan"]
    assert any(f"Draw {draw_id}" in t and "done" in t for t in told), told
    assert not any(PSEUDONYM.search(t) for t in told), told
    invited = [t for n, t in await demo.outbox() if n.startswith("Member") and "drawn by lot" in t]
    assert invited and not any(PSEUDONYM.search(t) for t in invited)


# --- vacate -------------------------------------------------------------------------------


async def test_a_seat_vacated_is_told_to_the_organisers_and_filled(demo: Chat) -> None:
    """A seat freed (e.g. by /forget) is a vacancy: the organisers are told and
    the next person is invited under the draw's rules."""
    from bot.draws import invitations as draws

    await pool(demo)
    draw_id = await commit_draw(demo)
    await seed(demo, draw_id)
    async with demo.core.db.transaction() as session:
        first = await session.scalar(select(Invitation).order_by(Invitation.id))
        assert first is not None
        person_id = first.person_id
        await draws.vacate(session, demo.core.settings, person_id, demo.clock.now())
    async with demo.core.db.transaction() as session:
        standing = list(
            await session.scalars(
                select(Invitation.person_id).where(Invitation.status.in_(("invited", "accepted")))
            )
        )
    assert len(standing) == 5 and person_id not in standing
    told = [t for n, t in await demo.outbox() if n == "Alice"]
    assert any("vacan" in t for t in told), told


# --- Replacements chosen after the seed ---------------------------------------------------


async def behind_of(demo: Chat, draw_id: int) -> dict[str, int]:
    async with demo.core.db.transaction() as session:
        rows = await session.execute(
            select(DrawEntrant.pseudonym, DrawEntrant.person_id).where(
                DrawEntrant.draw_id == draw_id
            )
        )
        return dict(rows.all())


async def standing_people(demo: Chat) -> set[int]:
    async with demo.core.db.transaction() as session:
        return set(
            await session.scalars(
                select(Invitation.person_id).where(Invitation.status.in_(("invited", "accepted")))
            )
        )


async def test_a_declines_replacement_is_fixed_by_the_committed_record(demo: Chat) -> None:
    """Attack: each decline built a new record after the seed was known, so the
    organisers could choose who came in. Now: the record committed before the
    seed fixes the reserve order and the rule; a decline adds an event to the
    history, no new record; the replacement is the one anyone with the record
    and the seed derives offline, and a history naming anyone else fails verify."""
    await pool(demo)
    draw_id = await commit_draw(demo)
    await seed(demo, draw_id)
    async with demo.core.db.transaction() as session:
        first = await session.scalar(select(Invitation).order_by(Invitation.id))
        assert first is not None
        decliner = first.person_id
        published = await session.scalar(select(Draw.record_hash).where(Draw.id == draw_id))
    async with demo.core.db.transaction() as session:
        person = await session.get(Person, decliner)
        assert person is not None
        name = person.display_name
    replies = await demo.press(name, f"invno:{first.id}")
    assert "someone else" in replies[0].text

    async with demo.core.db.transaction() as session:
        draws_now = await session.scalar(select(func.count()).select_from(Draw))
        draw = await session.get(Draw, draw_id)
        assert draw is not None and draw.seed is not None
    assert draws_now == 1  # no new record after the seed
    full = draw.record
    behind = await behind_of(demo, draw_id)
    index = draw_index(full["record_hash"], draw.seed, full["m"])
    selected = set(full["panels"][index])
    of = {pid: name for name, pid in behind.items()}
    due = next_replacement(
        full, draw.seed, selected - {of[decliner]}, selected, set(), features_of(full) or {}
    )
    assert due is not None and due in reserve_order(full, draw.seed)
    assert {of[p] for p in await standing_people(demo)} == (selected - {of[decliner]}) | {due}
    assert verify(full, draw.seed, published_hash=published).ok
    # The only other "choice": name another reserve in the history. It fails.
    other = next(r for r in reserve_order(full, draw.seed) if r != due)
    forged = json.loads(json.dumps(full))
    forged["history"][-1]["replacement"] = other
    result = verify(forged, draw.seed, published_hash=published)
    assert not result.ok and "history" in result.fields


# --- Declared features leak ---------------------------------------------------------------


def pairs_id_with_features(value: Any) -> bool:
    """Does any object in ``value`` hold both an entrant's id and their features?"""
    if isinstance(value, dict):
        if "id" in value and "features" in value:
            return True
        if any(PSEUDONYM.fullmatch(str(k)) and isinstance(v, dict) for k, v in value.items()):
            return True
        return any(pairs_id_with_features(v) for v in value.values())
    if isinstance(value, list):
        return any(pairs_id_with_features(v) for v in value)
    return False


async def test_the_public_record_names_nobodys_features_yet_the_quotas_are_checkable(
    demo: Chat, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Attack: ``/draw record`` gave anyone in the branch P0004's gender and age,
    and ``/council`` then named P0004. Now: the public record holds a salted
    commitment per entrant and opens only the drawn panel's counts per feature
    value, enough for anyone to check the quotas and that the panel is the
    seeded one; the full record is for the organisers."""
    await pool(demo)
    draw_id = await commit_draw(demo)
    await seed(demo, draw_id)
    public = await demo.say("Dan", f"/draw record {draw_id}")  # a supporter of Frome
    assert public[0].file is not None
    record = json.loads(public[0].file.content)
    assert not pairs_id_with_features(record)
    assert all(set(e) == {"id", "commitment"} for e in record["entrants"])
    assert record["opened"]["counts"]
    refused = await demo.say("Dan", f"/draw record {draw_id} full")
    assert refused[0].error and refused[0].file is None
    full = await demo.say("Alice", f"/draw record {draw_id} full")
    assert full[0].file is not None and pairs_id_with_features(json.loads(full[0].file.content))

    async with demo.core.db.transaction() as session:
        draw = await session.get(Draw, draw_id)
        assert draw is not None and draw.seed is not None
    path = tmp_path / "public.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    code = await run("verify", str(path), "--seed", draw.seed, "--published-hash", draw.record_hash)
    assert code == 0, capsys.readouterr().out
    # A drawn panel that broke a quota could not be hidden: the opened counts are committed.
    record["opened"]["counts"][0][2] += 1
    path.write_text(json.dumps(record), encoding="utf-8")
    code = await run("verify", str(path), "--seed", draw.seed, "--published-hash", draw.record_hash)
    assert code == 1


async def test_an_entrant_checks_their_own_entry_with_a_private_receipt(demo: Chat) -> None:
    """An entrant (and nobody else) gets a receipt: their pseudonym and salt,
    privately; with their own answers they recompute the commitment in the
    public record and see their entry went in unchanged."""
    await pool(demo)
    draw_id = await commit_draw(demo)
    replies = await demo.say("Member 1", f"/draw receipt {draw_id}")
    assert replies[0].private, joined(replies)
    found = re.search(r"\b(P\d{4})\b.*?\b([0-9a-f]{32})\b", replies[0].text, re.S)
    assert found, replies[0].text
    pseudonym, salt = found[1], found[2]
    record = json.loads((await demo.say("Dan", f"/draw record {draw_id}"))[0].file.content)  # type: ignore[union-attr]
    entry = next(e for e in record["entrants"] if e["id"] == pseudonym)
    mine = {"age": AGES[1 % 4], "gender": GENDERS[1 % 3]}
    assert entry["commitment"] == entry_commitment(salt, mine)
    refused = await demo.say("Dan", f"/draw receipt {draw_id}")
    assert not PSEUDONYM.search(joined(refused))


@pytest.fixture(scope="module")
def sealed() -> tuple[dict[str, Any], str]:
    """A format 2 record (full, with openings), drawn, one vacancy replayed."""
    from bot.lib.sortition.building import commit_sealed
    from bot.lib.sortition.drawing import open_drawn
    from bot.lib.sortition.model import Problem

    problem = Problem.build(skewed_pool(40, seed=5), proportional_quotas(6), 6)
    record, _ = commit_sealed(problem, {"kind": "string"}, 40)
    seed_text = "4 11 23 35 42 58 + 7"
    index = draw_index(record["record_hash"], seed_text, record["m"])
    record["opened"] = open_drawn(record, index)
    gone = record["panels"][index][0]
    standing = set(record["panels"][index]) - {gone}
    chosen = next_replacement(
        record, seed_text, standing, set(record["panels"][index]), set(), features_of(record) or {}
    )
    record["history"] = [{"event": "declined", "id": gone, "replacement": chosen, "skipped": []}]
    return record, seed_text


SEALED_TAMPERING: dict[str, Any] = {
    "entrants": lambda r: r["entrants"][0].update(commitment="0" * 64),
    "panels": lambda r: r["panels"].reverse(),
    "compositions": lambda r: r["compositions"].reverse(),
    "quotas": lambda r: r["quotas"][0].update(max=r["quotas"][0]["max"] + 1),
    "replacement": lambda r: r.update(replacement="whoever the organisers like"),
    "excluded": lambda r: r["excluded"].append(r["entrants"][0]["id"]),
    "opened": lambda r: r["opened"].update(salt="0" * 32),
    "openings": lambda r: next(iter(r["openings"].values())).update(salt="0" * 32),
}


@pytest.mark.parametrize("field", sorted(SEALED_TAMPERING))
def test_a_sealed_record_changed_anywhere_fails_verify(
    sealed: tuple[dict[str, Any], str], field: str
) -> None:
    """Attack: change one part of a sealed record (a commitment, a panel, a
    composition, a quota, the replacement rule, the opened counts, an
    organiser's opening). Now: verify against the published hash names what
    does not match; the public view verifies as well as the full record."""
    from bot.lib.sortition.drawing import public_view

    record, seed_text = sealed
    published = record["record_hash"]
    assert verify(record, seed_text, published_hash=published).ok
    assert verify(public_view(record), seed_text, published_hash=published).ok
    tampered = json.loads(json.dumps(record))
    SEALED_TAMPERING[field](tampered)
    assert not verify(tampered, seed_text, published_hash=published).ok
    if field != "openings":
        assert not verify(public_view(tampered), seed_text, published_hash=published).ok
