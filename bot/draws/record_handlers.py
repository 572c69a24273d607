"""A committed draw's record: who may read it, /draw verify, /draw record (public
or full) and an entrant's /draw receipt.
"""

from __future__ import annotations

import asyncio
import json

from bot.draws import queries, rules
from bot.draws.access import committed_draw, draw_named, in_body, may_draw, no_such_draw
from bot.draws.bodies import Body
from bot.draws.texts import describe, receipt_text
from bot.kernel.context import Context
from bot.kernel.effects import audit
from bot.kernel.messages import Attachment, Reply
from bot.lib.sortition import beacons, seeds
from bot.lib.sortition.drawing import public_view
from bot.lib.sortition.verification import verify
from storage.models import Draw


def record_file(draw: Draw, *, full: bool = False) -> Attachment:
    """The public record (no entrant's features), or the organisers' full one."""
    record = draw.record if full else public_view(draw.record)
    return Attachment(
        f"draw-{draw.id}-record{'-full' if full else ''}.json",
        json.dumps(record, sort_keys=True, indent=1).encode(),
        "application/json",
    )


async def draw_verify(ctx: Context, text: str) -> Reply:
    draw = await draw_named(ctx, text)
    if draw.seed is None:
        return Reply(ctx.t("Draw {id} waits for its seed.", id=draw.id))
    published = await queries.published_hash(ctx.session, draw)
    if published is None:
        return Reply(
            ctx.t("Draw {id} does not check out: no record hash was published for it.", id=draw.id),
            error=True,
        )
    result = await asyncio.to_thread(verify, draw.record, draw.seed, published_hash=published)
    seed_problem = await asyncio.to_thread(_seed_problem, draw)
    if result.ok and seed_problem:
        return Reply(
            ctx.t("Draw {id} does not check out: {fields}.", id=draw.id, fields=seed_problem),
            error=True,
        )
    if result.ok and draw.status == rules.TRIAL:
        return Reply(
            ctx.t(
                "TRIAL draw {id}: panel {index}, selected {ids}; the record checks out, but the "
                "seed was typed by an organiser, so it proves nothing and nobody was invited.",
                id=draw.id,
                index=result.index,
                ids=", ".join(result.selected),
            )
        )
    if result.ok:
        source = draw.record["seed_source"]
        proved = (
            " "
            + ctx.t(
                "Its seed is the randomness of round {round} of {chain}, whose signature "
                "checks out against the chain's public key.",
                round=source.get("round"),
                chain=source.get("name"),
            )
            if source.get("kind") == seeds.BEACON and draw.round == 0
            else ""
        )
        return Reply(
            ctx.t(
                "Draw {id} checks out: panel {index}, selected {ids}.",
                id=draw.id,
                index=result.index,
                ids=", ".join(result.selected),
            )
            + proved
        )
    return Reply(
        ctx.t(
            "Draw {id} does not check out against the record hash published at commit "
            "({hash}): {fields}.",
            id=draw.id,
            hash=published[:16],
            fields=", ".join(result.fields),
        ),
        error=True,
    )


def _seed_problem(draw: Draw) -> str | None:
    """Is the seed the one its committed source gives? A beacon's: the stored
    round's signature verifies against the chain's key and the seed is its
    randomness. A lottery's: the seed is a result in the committed format."""
    source = dict(draw.record.get("seed_source") or {})
    if draw.round != 0 or draw.seed is None:
        return None
    if source.get("kind") == seeds.BEACON:
        proof = beacons.Proof.from_json(draw.seed_proof)
        return beacons.proof_problem(source, proof, draw.seed)
    if source.get("kind") == seeds.LOTTERY:
        try:
            canonical = seeds.lottery_seed(source, draw.seed)
        except seeds.SeedProblem:
            canonical = None
        if canonical != draw.seed:
            return "the seed is not a result in the committed lottery's format"
    return None


async def _visible(ctx: Context, ident: str) -> tuple[Draw, Body]:
    """A committed draw the person may read: its body's own people and its staff."""
    person = ctx.require_person()
    draw, body = await committed_draw(ctx, ident)
    inside = draw is not None and body is not None and await in_body(ctx, body, person)
    if draw is None or body is None or not (inside or await may_draw(ctx, body)):
        raise ctx.refuse(no_such_draw(ctx, ident))
    return draw, body


async def draw_record(ctx: Context, text: str) -> Reply:
    """The published record, for the body's own people and its staff; with
    ``full``, the organisers' record that opens every entrant's features."""
    ident, _, rest = text.strip().partition(" ")
    draw, body = await _visible(ctx, ident)
    full = rest.strip().lower() == "full"
    if full and not await may_draw(ctx, body):
        raise ctx.refuse(
            ctx.t(
                "Only the organisers of {body} may see the full record, with each "
                "entrant's features; /draw record {id} is the public one.",
                body=describe(ctx.t, body),
                id=draw.id,
            ),
            audit="draw.record-full",
        )
    if full:
        audit(ctx, "draw.record-full", draw=draw.id)
    return Reply(
        (ctx.t("TRIAL:") + " " if seeds.is_trial(draw.record["seed_source"]) else "")
        + ctx.t("The record of draw {id} (hash {hash}).", id=draw.id, hash=draw.record_hash),
        file=record_file(draw, full=full),
        private=True,
    )


async def draw_receipt(ctx: Context, text: str) -> Reply:
    """An entrant's own receipt: their pseudonym and salt, to find and check
    their entry in the public record; only ever to themselves."""
    draw, _body = await _visible(ctx, text.strip().split(" ")[0] if text.strip() else "")
    person = ctx.require_person()
    pseudonym = await queries.pseudonym_of(ctx.session, draw, person)
    opening = (draw.record.get("openings") or {}).get(pseudonym) if pseudonym else None
    if pseudonym is None or not isinstance(opening, dict):
        raise ctx.refuse(ctx.t("You are not in the pool of draw {id}.", id=draw.id))
    return Reply(receipt_text(ctx.t, draw, pseudonym, opening), private=True)
