"""A committed draw waiting for its seed: /draw seed (a lottery's result entered
by two witnesses, a trial's seed typed by an organiser) and /draw cancel.
"""

from __future__ import annotations

from bot.draws import queries, rules
from bot.draws.access import draw_named, in_body, may_draw, no_such_draw
from bot.draws.bodies import Body
from bot.draws.completion import cancel, complete_group
from bot.draws.profile_handlers import reader_tz
from bot.draws.texts import drawn_text
from bot.kernel.context import Context, parse_id
from bot.kernel.effects import audit
from bot.kernel.i18n import format_local
from bot.kernel.messages import Reply
from bot.kernel.permissions import holds_at_branch, holds_at_region, holds_nationally
from bot.lib.sortition import seeds
from storage.models import Branch, Draw, Person
from storage.vocabulary import ADMIN, ORGANISER, SCOPE_BRANCH, SCOPE_REGION


async def _is_staff(ctx: Context, body: Body, person_id: int) -> bool:
    grants = await queries.grants_of(ctx.session, person_id)
    if body.scope == SCOPE_BRANCH:
        branch = await ctx.session.get(Branch, body.scope_id)
        return branch is not None and any(
            holds_at_branch(grants, role, branch) for role in (ORGANISER, ADMIN)
        )
    if body.scope == SCOPE_REGION:
        return any(holds_at_region(grants, role, body.scope_id) for role in (ORGANISER, ADMIN))
    return any(holds_nationally(grants, role) for role in (ORGANISER, ADMIN))


async def enter_seed(ctx: Context, text: str) -> Reply:
    """A witness enters a lottery's result (read into its canonical text), or an
    organiser a trial's seed. A beacon's round is fetched, never typed."""
    ident, _, seed = text.strip().partition(" ")
    person = ctx.require_person()
    draw_id = parse_id(ident.strip().lstrip("#"))
    draw = await ctx.session.get(Draw, draw_id) if draw_id is not None else None
    body = await queries.draw_body(ctx.session, ctx.settings, draw) if draw is not None else None
    source = dict(draw.record["seed_source"]) if draw is not None else {}
    lottery = source.get("kind") == seeds.LOTTERY
    if draw is None or body is None:
        raise ctx.refuse(no_such_draw(ctx, ident))
    if not await may_draw(ctx, body) and not (lottery and await in_body(ctx, body, person)):
        raise ctx.refuse(no_such_draw(ctx, ident), audit="draw")
    seed = " ".join(seed.split())
    if not seed or len(seed) > 500:
        raise ctx.refuse(ctx.t("Send /draw seed {id} followed by the seed.", id=draw.id))
    if draw.status == rules.CANCELLED:
        raise ctx.refuse(ctx.t("Draw {id} was cancelled.", id=draw.id))
    if draw.status != "committed":
        raise ctx.refuse(ctx.t("Draw {id} is already done.", id=draw.id))
    if source.get("kind") == seeds.BEACON:
        raise ctx.refuse(
            ctx.t(
                "Draw {id} waits for round {round} of {chain}: the bot fetches it and checks "
                "its signature; nobody types it.",
                id=draw.id,
                round=source.get("round"),
                chain=source.get("name"),
            )
        )
    if ctx.now < draw.seed_due_at:
        tz = await reader_tz(ctx)
        raise ctx.refuse(
            ctx.t(
                "The seed of draw {id} does not exist yet: {name} is drawn on {date}, and its "
                "result can be entered after {when}, {tz} time. Nothing was recorded.",
                id=draw.id,
                name=source.get("name") or "?",
                date=source.get("date") or "?",
                when=format_local(draw.seed_due_at, "iso_datetime", ctx.t, tz=tz),
                tz=tz,
            )
        )
    group = await queries.group_of(ctx.session, draw)
    if lottery:
        try:
            seed = seeds.lottery_seed(source, seed)
        except seeds.SeedProblem as exc:
            raise ctx.refuse(exc.render(ctx.t)) from None
        refused = await _witness_problem(ctx, draw, body, person, seed)
        if refused:
            raise ctx.refuse(refused, audit="draw.witness")
        agree = await _add_witness(ctx, draw, group, person, seed)
        if not agree:
            return Reply(
                ctx.t(
                    "Result noted for draw {id}, read as {seed}. A second witness must enter "
                    "the same result before the draw is made.",
                    id=draw.id,
                    seed=seed,
                ),
                private=True,
            )
    invitations = await complete_group(ctx.session, ctx.settings, draw, seed, ctx.now)
    if invitations is None:
        raise ctx.refuse(ctx.t("Draw {id} is already done.", id=draw.id))
    audit(ctx, "draw.drawn", draw=draw.id, index=draw.chosen_index)
    return Reply(drawn_text(ctx.t, draw, group, len(invitations)))


async def _add_witness(
    ctx: Context, draw: Draw, group: list[Draw], person: Person, seed: str
) -> bool:
    """Record ``person``'s reading of the result on ``draw`` and the rest of its group;
    true when another witness entered the same."""
    # A witness may correct their own entry; only another person's can agree.
    witnesses = [w for w in draw.witnesses or [] if w["person"] != person.id]
    agree = any(w["seed"] == seed for w in witnesses)
    witnesses = [*witnesses, {"person": person.id, "seed": seed}]
    await queries.record_witnesses(ctx.session, group, witnesses)
    return agree


async def _witness_problem(
    ctx: Context, draw: Draw, body: Body, person: Person, seed: str
) -> str | None:
    """Why ``person`` may not witness ``draw`` now: each witness a member of the
    unit drawn; two different people (linked accounts are one); not both staff."""
    if not await in_body(ctx, body, person):
        return ctx.t(
            "Witnesses of draw {id} are members of {unit}; you are not one.",
            id=draw.id,
            unit=body.name,
        )
    others = [w for w in draw.witnesses or [] if w["person"] != person.id]
    if any(w["person"] == person.id and w["seed"] == seed for w in draw.witnesses or []):
        return ctx.t(
            "You are already a witness of draw {id} (on this or a linked account): a second, "
            "different person must enter the result.",
            id=draw.id,
        )
    if others and await _is_staff(ctx, body, person.id):
        if all([await _is_staff(ctx, body, int(w["person"])) for w in others]):
            return ctx.t(
                "The witnesses of draw {id} may not both be organisers of {unit}: a member who "
                "is not one must enter the result.",
                id=draw.id,
                unit=body.name,
            )
    return None


async def cancel_committed(ctx: Context, text: str) -> Reply:
    """``/draw cancel ID reason``: only before the seed can be known, announced
    to everyone in the body with its reason, and kept in the record's history."""
    ident, _, reason = text.strip().partition(" ")
    draw = await draw_named(ctx, ident)
    reason = " ".join(reason.split())[:300]
    if draw.status != "committed":
        raise ctx.refuse(ctx.t("Draw {id} is not waiting for its seed.", id=draw.id))
    if not reason:
        raise ctx.refuse(
            ctx.t(
                "Send /draw cancel {id} followed by the reason: everyone it concerns is told.",
                id=draw.id,
            )
        )
    if rules.seed_may_be_known(draw, ctx.now):
        raise ctx.refuse(
            ctx.t(
                "Draw {id} can no longer be cancelled: its seed is due or being entered, "
                "and cancelling now could be choosing the panel.",
                id=draw.id,
            ),
            audit="draw.cancel",
        )
    done = await cancel(ctx.session, ctx.settings, draw, reason, ctx.now)
    for cancelled in done:
        audit(ctx, "draw.cancelled", draw=cancelled.id, reason=reason)
    return Reply(
        ctx.t(
            "Cancelled: draw {ids}. Everyone it concerns has been told why.",
            ids=", ".join(str(d.id) for d in done),
        )
    )
