"""/profile: opting in to be drawn by lot, and the features a draw balances.

The categories (gender, age band, area...) come from ``sortition.categories``
in the configuration. Every question has "Prefer not to say", which is a value
like any other: quotas can be set for it too. Opting in records a consent of
its own (purpose ``sortition``); opting out deletes the answers.
"""

from __future__ import annotations

from bot.draws.queries import forget_profile, profile_of
from bot.kernel.actions import Action
from bot.kernel.config import parse_categories
from bot.kernel.context import Context
from bot.kernel.effects import audit
from bot.kernel.i18n import N_
from bot.kernel.messages import Button, Reply
from bot.kernel.permissions import is_member
from bot.kernel.registry import action, command
from storage.models import Branch, Consent, SortitionProfile

PREFER_NOT = "prefer not to say"
PURPOSE = "sortition"


def categories(ctx: Context) -> list[tuple[str, list[str]]]:
    return parse_categories(ctx.settings.sortition_categories)


async def _profile(ctx: Context) -> SortitionProfile | None:
    person = ctx.require_person()
    return await profile_of(ctx.session, person.id)


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
            buttons=((Button(ctx.t("Opt in"), Action.PROFILE_OPT_IN, "1"),),),
            private=True,
        )
    return Reply(
        await _in_the_draw(ctx, thanks=False) + "\n" + _answers(ctx, row),
        buttons=(
            (
                Button(ctx.t("Change my answers"), Action.PROFILE_OPT_IN, "1"),
                Button(ctx.t("Opt out"), Action.PROFILE_OPT_OUT, "1"),
            ),
        ),
        private=True,
    )


def _question(ctx: Context, index: int) -> Reply:
    name, values = categories(ctx)[index]
    buttons = [
        (Button(v[:60], Action.PROFILE_ANSWER, f"{index}.{i}"),) for i, v in enumerate(values)
    ]
    buttons.append(
        (Button(ctx.t("Prefer not to say"), Action.PROFILE_ANSWER, f"{index}.{len(values)}"),)
    )
    return Reply(
        ctx.t("{category}?", category=name.capitalize()),
        buttons=tuple(buttons),
        private=True,
        edit=True,
    )


@action(Action.PROFILE_OPT_IN)
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


@action(Action.PROFILE_ANSWER)
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
        await _in_the_draw(ctx, thanks=True) + "\n" + _answers(ctx, row),
        private=True,
        edit=True,
    )


async def reader_tz(ctx: Context) -> str:
    """The time zone the person answered reads times in: their branch's."""
    person = ctx.person
    branch = (
        await ctx.session.get(Branch, person.branch_id) if person and person.branch_id else None
    )
    return branch.timezone if branch else ctx.settings.default_timezone


async def _in_the_draw(ctx: Context, *, thanks: bool) -> str:
    """Whether an opted-in person is drawable now: only Members (dues paid) are."""
    person = ctx.require_person()
    if is_member(person, ctx.now, await reader_tz(ctx)):
        if thanks:
            return ctx.t("Thank you: you are in the draw. Your answers:")
        return ctx.t("You are in the draw for councils and delegations. Your answers:")
    return ctx.t(
        "You are opted in, and will be in the draw for councils and delegations once your "
        "membership dues are paid (ask your branch treasurer). Your answers:"
    )


def _small(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 3


@action(Action.PROFILE_OPT_OUT)
async def opt_out(ctx: Context, target: str) -> Reply:
    if target != "1":
        raise ctx.stale()
    person = ctx.require_person()
    await forget_profile(ctx.session, person.id, PURPOSE)
    audit(ctx, "sortition.opted-out", subject=person)
    return Reply(
        ctx.t("Done: you are out of the draw, and your answers are deleted."),
        private=True,
        edit=True,
    )
