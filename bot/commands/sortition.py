"""/profile: opting in to be drawn by lot, and the features a draw balances.

The categories (gender, age band, area...) come from ``sortition.categories``
in the configuration. Every question has "Prefer not to say", which is a value
like any other: quotas can be set for it too. Opting in records a consent of
its own (purpose ``sortition``); opting out deletes the answers.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json

from sqlalchemy import delete, select, update

from bot import draws
from bot.branches import audit
from bot.commands.organise import _require_staff
from bot.config import parse_categories
from bot.context import Context, Refusal, parse_id
from bot.i18n import N_
from bot.messages import Attachment, Button, Reply
from bot.outbox import enqueue
from bot.permissions import holds_at_branch
from bot.registry import action, command
from bot.sortition.model import SortitionError
from bot.sortition.record import parse_seed_source, verify
from storage.models import (
    ACCEPTED,
    ADMIN,
    DECLINED,
    INVITED,
    ORGANISER,
    SCOPE_BRANCH,
    Branch,
    BranchChat,
    Consent,
    CouncilSeat,
    Draw,
    DrawEntrant,
    Invitation,
    SortitionProfile,
)

PREFER_NOT = "prefer not to say"
PURPOSE = "sortition"


def categories(ctx: Context) -> list[tuple[str, list[str]]]:
    return parse_categories(ctx.settings.sortition_categories)


async def _profile(ctx: Context) -> SortitionProfile | None:
    person = ctx.require_person()
    return await ctx.session.scalar(
        select(SortitionProfile).where(SortitionProfile.person_id == person.id)
    )


def _answers(ctx: Context, profile: SortitionProfile) -> str:
    lines = []
    for name, _values in categories(ctx):
        value = profile.features.get(name)
        shown = ctx.t("prefer not to say") if value == PREFER_NOT else value or "—"
        lines.append(f"• {name}: {shown}")
    return "\n".join(lines)


@command("profile", N_("be drawn by lot for councils and delegations"), private=True)
async def profile(ctx: Context) -> Reply:
    row = await _profile(ctx)
    if row is None or not row.opted_in:
        return Reply(
            ctx.t(
                "Councils and delegations are drawn by lot from the members who opt in, "
                "balanced so that they look like the membership. To be in the draw, opt in "
                "and answer a few questions (each may be “prefer not to say”). Only the "
                "draw uses your answers; /forget deletes them."
            ),
            buttons=((Button(ctx.t("Opt in"), "pfin", "1"),),),
            private=True,
        )
    return Reply(
        ctx.t("You are in the draw for councils and delegations. Your answers:")
        + "\n"
        + _answers(ctx, row),
        buttons=(
            (
                Button(ctx.t("Change my answers"), "pfin", "1"),
                Button(ctx.t("Opt out"), "pfout", "1"),
            ),
        ),
        private=True,
    )


def _question(ctx: Context, index: int) -> Reply:
    name, values = categories(ctx)[index]
    buttons = [(Button(v[:60], "pf", f"{index}.{i}"),) for i, v in enumerate(values)]
    buttons.append((Button(ctx.t("Prefer not to say"), "pf", f"{index}.{len(values)}"),))
    return Reply(
        ctx.t("{category}?", category=name.capitalize()),
        buttons=tuple(buttons),
        private=True,
        edit=True,
    )


@action("pfin")
async def opt_in(ctx: Context, target: str) -> Reply:
    if target != "1":
        raise ctx.stale()
    person = ctx.require_person()
    row = await _profile(ctx)
    if row is None:
        row = SortitionProfile(person_id=person.id, opted_in=True, features={}, updated_at=ctx.now)
        ctx.session.add(row)
    if not row.opted_in or row.id is None:
        ctx.session.add(
            Consent(
                person_id=person.id,
                purpose=PURPOSE,
                notice_version=ctx.settings.notice_version,
                given_at=ctx.now,
            )
        )
    row.opted_in = True
    row.updated_at = ctx.now
    await ctx.session.flush()
    audit(ctx, "sortition.opted-in", subject=person)
    return _question(ctx, 0)


@action("pf")
async def answer(ctx: Context, target: str) -> Reply:
    row = await _profile(ctx)
    index_text, _, value_text = target.partition(".")
    cats = categories(ctx)
    if not (_small(index_text) and _small(value_text)) or row is None or not row.opted_in:
        raise ctx.stale()
    index, value = int(index_text), int(value_text)
    if index >= len(cats) or value > len(cats[index][1]):
        raise ctx.stale()
    name, values = cats[index]
    chosen = values[value] if value < len(values) else PREFER_NOT
    row.features = {**row.features, name: chosen}
    row.updated_at = ctx.now
    if index + 1 < len(cats):
        return _question(ctx, index + 1)
    return Reply(
        ctx.t("Thank you: you are in the draw. Your answers:") + "\n" + _answers(ctx, row),
        private=True,
        edit=True,
    )


def _small(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 3


@action("pfout")
async def opt_out(ctx: Context, target: str) -> Reply:
    if target != "1":
        raise ctx.stale()
    person = ctx.require_person()
    await ctx.session.execute(
        delete(SortitionProfile).where(SortitionProfile.person_id == person.id)
    )
    await ctx.session.execute(
        delete(Consent).where(Consent.person_id == person.id, Consent.purpose == PURPOSE)
    )
    audit(ctx, "sortition.opted-out", subject=person)
    return Reply(
        ctx.t("Done: you are out of the draw, and your answers are deleted."),
        private=True,
        edit=True,
    )


# --- /draw -------------------------------------------------------------------------

DRAW_USAGE = "<seats> [lottery:NAME:YYYY-MM-DD | beacon:URL:ROUND | a description of the seed]"


async def _staff_branch(ctx: Context, what: str) -> Branch:
    person = ctx.require_person()
    branch = await ctx.session.get(Branch, person.branch_id) if person.branch_id else None
    if branch is None:
        raise ctx.refuse(
            ctx.t("You are in no branch, so there is no council to draw for."), audit=what
        )
    await _require_staff(ctx, branch, (ORGANISER,), what)
    return branch


@command(
    "draw",
    N_("draw a council by lot, verifiably"),
    usage=DRAW_USAGE,
    roles=(ORGANISER, ADMIN),
    staff=(
        ("seed <id> <seed>", N_("enter the seed a draw waits for"), (ORGANISER, ADMIN)),
        ("verify <id>", N_("check a draw against its record"), (ORGANISER, ADMIN)),
    ),
)
async def draw_command(ctx: Context) -> Reply:
    word, _, rest = ctx.request.args.strip().partition(" ")
    if word.lower() == "seed":
        return await _enter_seed(ctx, rest)
    if word.lower() == "verify":
        return await _verify(ctx, rest)
    branch = await _staff_branch(ctx, "draw")
    if not word:
        people = await draws.eligible(ctx.session, ctx.settings, branch, ctx.now)
        return Reply(
            ctx.t(
                "{n} members of {branch} can be drawn (current dues, opted in with /profile, "
                "not on the council lately). Send /draw followed by the number of seats, "
                "and where the seed will come from, e.g. /draw 5 lottery:National Lottery:"
                "2026-12-05",
                n=len(people),
                branch=branch.name,
            ),
            private=True,
        )
    if not (word.isascii() and word.isdigit()) or not 1 <= int(word) <= 99:
        raise ctx.refuse(ctx.t("Send /draw followed by the number of seats (1-99), e.g. /draw 5"))
    seats = int(word)
    people = await draws.eligible(ctx.session, ctx.settings, branch, ctx.now)
    if len(people) < seats:
        raise ctx.refuse(
            ctx.t(
                "Only {n} members of {branch} can be drawn (current dues, opted in with "
                "/profile, not on the council lately): fewer than {seats} seats.",
                n=len(people),
                branch=branch.name,
                seats=seats,
            )
        )
    try:
        source = parse_seed_source(rest or None)
    except SortitionError as exc:
        raise ctx.refuse(str(exc)) from None
    quotas = draws.proportional_quotas([f for _, f in people], ctx.settings, seats)
    problem, behind = draws.build(people, quotas, seats)
    record, relaxed = await draws.solve(problem, source, ctx.settings.sortition_panels)
    prompt = await ctx.prompt("draw", record=record, behind=behind, seats=seats)
    lines = [ctx.t("A draw of {seats} for the {branch} council:", seats=seats, branch=branch.name)]
    if relaxed:
        lines.append(ctx.t("The quotas could not all be met; relaxed: {why}", why=relaxed))
    lines.append(draws.summary_text(ctx.t, record))
    lines.append(ctx.t("Seed: {source}.", source=_source_text(ctx, record["seed_source"])))
    if record["seed_source"].get("kind") == "string":
        # Whoever types a free seed could try seeds offline until one picks the
        # panel they want: only a public draw nobody controls makes it fair.
        lines.append(
            ctx.t(
                "Warning: a seed typed by an organiser can be chosen to pick a panel. For a "
                "real council, name a public source: lottery:NAME:DATE or beacon:URL:ROUND."
            )
        )
    return Reply(
        "\n".join(lines),
        buttons=(
            (
                Button(ctx.t("Commit"), "drawok", str(prompt.id)),
                Button(ctx.t("Cancel"), "cancel", str(prompt.id)),
            ),
        ),
        private=True,
    )


def _source_text(ctx: Context, source: dict[str, object]) -> str:
    if source.get("kind") == "lottery":
        return ctx.t(
            "the numbers of {name} on {date}, entered by two witnesses",
            name=source.get("name"),
            date=source.get("date"),
        )
    if source.get("kind") == "beacon":
        return ctx.t(
            "round {round} of the beacon {url}, entered by two witnesses",
            round=source.get("round"),
            url=source.get("url"),
        )
    return str(source.get("description") or "")


@action("drawok")
async def draw_commit(ctx: Context, target: str) -> Reply:
    prompt = await ctx.take_prompt(target, "draw", audit="draw")
    branch = await _staff_branch(ctx, "draw")
    record = dict(prompt.payload["record"])
    draw = Draw(
        body=draws.COUNCIL,
        scope=SCOPE_BRANCH,
        scope_id=branch.id,
        seats=int(prompt.payload["seats"]),
        status="committed",
        record=record,
        record_hash=record["record_hash"],
        seed_due_at=ctx.now,
        witnesses=[],
        round=0,
        respond_by=ctx.now + dt.timedelta(days=ctx.settings.sortition_respond_days),
        created_by=ctx.person.id if ctx.person else None,
        created_at=ctx.now,
    )
    ctx.session.add(draw)
    await ctx.session.flush()
    ctx.session.add_all(
        DrawEntrant(draw_id=draw.id, pseudonym=name, person_id=int(pid))
        for name, pid in dict(prompt.payload["behind"]).items()
    )
    audit(ctx, "draw.committed", branch=branch, draw=draw.id, record_hash=draw.record_hash)
    record_file = Attachment(
        f"draw-{draw.id}-record.json",
        json.dumps(record, sort_keys=True, indent=1).encode(),
        "application/json",
    )
    for chat in await ctx.session.scalars(
        select(BranchChat).where(BranchChat.branch_id == branch.id)
    ):
        await enqueue(
            ctx.session,
            key=f"draw-record:{draw.id}:{chat.id}",
            text=ctx.t(
                "Draw {id} for the {branch} council is committed, before its seed is known. "
                "Record hash {hash}; the record is attached.",
                id=draw.id,
                branch=branch.name,
                hash=draw.record_hash,
            ),
            now=ctx.now,
            branch_chat_id=chat.id,
            file=record_file,
        )
    return Reply(
        ctx.t(
            "Committed: draw {id}, record hash {hash}. When the seed is known, send "
            "/draw seed {id} <seed>.",
            id=draw.id,
            hash=draw.record_hash,
        ),
        file=record_file,
        edit=True,
    )


async def _draw_of(ctx: Context, text: str) -> Draw:
    draw_id = parse_id(text.strip().lstrip("#"))
    draw = await ctx.session.get(Draw, draw_id) if draw_id is not None else None
    if draw is None or draw.scope != SCOPE_BRANCH:
        raise ctx.refuse(ctx.t("There is no draw {id}.", id=text.strip()[:12]))
    branch = await ctx.session.get(Branch, draw.scope_id)
    if branch is None or not holds_at_branch(await ctx.grants(), ORGANISER, branch):
        raise ctx.refuse(ctx.t("There is no draw {id}.", id=text.strip()[:12]), audit="draw")
    return draw


async def _enter_seed(ctx: Context, text: str) -> Reply:
    ident, _, seed = text.strip().partition(" ")
    draw = await _draw_of(ctx, ident)
    seed = " ".join(seed.split())
    if not seed or len(seed) > 500:
        raise ctx.refuse(ctx.t("Send /draw seed {id} followed by the seed.", id=draw.id))
    if draw.status != "committed":
        raise ctx.refuse(ctx.t("Draw {id} is already done.", id=draw.id))
    person = ctx.require_person()
    witnesses = list(draw.witnesses or [])
    if draw.record["seed_source"].get("kind") in ("lottery", "beacon"):
        others = [w for w in witnesses if w["person"] != person.id]
        agree = any(w["seed"] == seed for w in others)
        witnesses = [*others, {"person": person.id, "seed": seed}]
        await ctx.session.execute(
            update(Draw).where(Draw.id == draw.id).values(witnesses=witnesses)
        )
        if not agree:
            return Reply(
                ctx.t(
                    "Seed noted for draw {id}. A second witness must enter the same seed "
                    "before the draw is made.",
                    id=draw.id,
                ),
                private=True,
            )
    invitations = await draws.complete(ctx.session, ctx.settings, draw, seed, ctx.now)
    if invitations is None:
        raise ctx.refuse(ctx.t("Draw {id} is already done.", id=draw.id))
    audit(ctx, "draw.drawn", draw=draw.id, index=draw.chosen_index)
    return Reply(
        ctx.t(
            "Drawn: panel {index}. The {n} people selected have been invited.",
            index=draw.chosen_index,
            n=len(invitations),
        )
    )


async def _verify(ctx: Context, text: str) -> Reply:
    draw = await _draw_of(ctx, text)
    if draw.seed is None:
        return Reply(ctx.t("Draw {id} waits for its seed.", id=draw.id))
    result = await asyncio.to_thread(verify, draw.record, draw.seed)
    if result.ok:
        return Reply(
            ctx.t(
                "Draw {id} checks out: panel {index}, selected {ids}.",
                id=draw.id,
                index=result.index,
                ids=", ".join(result.selected),
            )
        )
    return Reply(
        ctx.t(
            "Draw {id} does not check out: {fields}.", id=draw.id, fields=", ".join(result.fields)
        ),
        error=True,
    )


async def _invitation(ctx: Context, target: str) -> Invitation:
    person = ctx.require_person()
    invitation_id = parse_id(target)
    invitation = (
        await ctx.session.get(Invitation, invitation_id, with_for_update=True)
        if invitation_id
        else None
    )
    if invitation is None:
        raise ctx.stale()
    if invitation.person_id != person.id:
        raise Refusal(*ctx.stale().replies, audit="invitation")
    if invitation.status != INVITED:
        raise ctx.refuse(ctx.t("You have already answered this invitation."))
    if invitation.respond_by <= ctx.now:
        raise ctx.refuse(ctx.t("The time to answer has passed, so someone else has been drawn."))
    return invitation


@action("invyes")
async def accept(ctx: Context, target: str) -> Reply:
    invitation = await _invitation(ctx, target)
    draw = await ctx.session.get(Draw, invitation.draw_id)
    if draw is None:
        raise ctx.stale()
    invitation.status = ACCEPTED
    invitation.answered_at = ctx.now
    ctx.session.add(
        CouncilSeat(
            body=draw.body,
            scope=draw.scope,
            scope_id=draw.scope_id,
            person_id=invitation.person_id,
            draw_id=draw.id,
            since=ctx.now,
        )
    )
    audit(ctx, "invitation.accepted", draw=draw.id)
    return Reply(
        ctx.t(
            "Thank you: you are on the council. The organisers will tell you when it first "
            "meets; /meetings lists what is coming."
        ),
        edit=True,
    )


@action("invno")
async def decline(ctx: Context, target: str) -> Reply:
    invitation = await _invitation(ctx, target)
    invitation.status = DECLINED
    invitation.answered_at = ctx.now
    await ctx.session.flush()
    await draws.replace(ctx.session, ctx.settings, invitation, ctx.now)
    return Reply(
        ctx.t("Thank you for answering: someone else will be drawn in your place."),
        edit=True,
    )
