"""/dues: a treasurer records that someone's dues are paid until a date (which
makes them a member), audited, told to them and to the admins over the branch,
with an Undo button.
"""

from __future__ import annotations

import datetime as dt

from bot.branches.handlers import target_person
from bot.branches.recipients import admins_over, national_admins, only
from bot.kernel.context import Context
from bot.kernel.effects import audit, notify
from bot.kernel.i18n import N_, format_local
from bot.kernel.messages import Reply
from bot.kernel.registry import Param, command
from storage.models import Branch, Person
from storage.vocabulary import TREASURER


def _parse_dues(ctx: Context, text: str) -> dt.date | None:
    if text.lower() in ("none", "clear"):
        return None
    try:
        value = dt.date.fromisoformat(text)
    except ValueError:
        raise ctx.refuse(
            ctx.t("Please give the date as YYYY-MM-DD, for example 2027-11-30, or none.")
        ) from None
    today = ctx.now.date()
    if not (today - dt.timedelta(days=366 * 10) <= value <= today + dt.timedelta(days=366 * 10)):
        raise ctx.refuse(ctx.t("That date is more than ten years away; please check it."))
    return value


async def set_dues(
    ctx: Context, person: Person, branch: Branch | None, value: dt.date | None
) -> Reply:
    """Record (or clear, with None) the date ``person``'s dues are paid until, and
    offer Undo; /dues and its Undo button both come here."""
    previous = person.dues_paid_until
    if ctx.person is not None and person.id == ctx.person.id:
        raise ctx.refuse(
            ctx.t("You cannot record your own dues: ask another treasurer or an admin."),
            audit="dues",
        )
    if previous == value:
        raise ctx.refuse(ctx.t("Nothing to change: that is already recorded."))
    person.dues_paid_until = value
    actor = ctx.person.display_name if ctx.person is not None else "?"
    audit(
        ctx,
        "dues.set",
        subject=person,
        branch=branch,
        previous=previous.isoformat() if previous else None,
        until=value.isoformat() if value else None,
    )
    await notify(
        ctx,
        only(person),
        f"dues:{value}:{ctx.now.isoformat()}",
        (
            lambda t: t(
                "Your membership dues are recorded as paid until {date}. Thank you!",
                date=format_local(value, "iso_date", t.locale),
            )
        )
        if value
        else (lambda t: t("Your dues record has been cleared: you are now a supporter.")),
    )
    # Dues make members, who vote and may be drawn: the admins over the branch see
    # every change (the actor, if an admin, reads the reply instead).
    await notify(
        ctx,
        admins_over(branch) if branch is not None else national_admins(),
        f"dues-told:{person.id}:{ctx.now.isoformat()}",
        (
            lambda t: t(
                "{actor} recorded the dues of {name} ({short_id}) as paid until {date}.",
                actor=actor,
                name=person.display_name,
                short_id=person.short_id,
                date=format_local(value, "iso_date", t.locale),
            )
        )
        if value
        else (
            lambda t: t(
                "{actor} cleared the dues of {name} ({short_id}).",
                actor=actor,
                name=person.display_name,
                short_id=person.short_id,
            )
        ),
        about=person,
    )
    undo = await ctx.prompt(
        "undo",
        op="dues",
        person=person.id,
        value=previous.isoformat() if previous else None,
        written=value.isoformat() if value else None,
    )
    text = (
        ctx.t(
            "Dues for {name} are now paid until {date}.",
            name=person.display_name,
            date=format_local(value, "iso_date", ctx.t.locale),
        )
        if value
        else ctx.t("{name} is now recorded as a supporter (no dues).", name=person.display_name)
    )
    return Reply(text, buttons=((ctx.undo_button(undo),),))


@command(
    "dues",
    N_("record that someone's dues are paid until a date"),
    usage=N_("<person> <YYYY-MM-DD|none>"),
    roles=(TREASURER,),
    params=(Param.person(), Param.date("paid_until", N_("YYYY-MM-DD, or none"), required=True)),
)
async def dues(ctx: Context) -> Reply:
    ctx.require_person()
    words = ctx.request.args.split()
    if len(words) != 2:
        raise ctx.refuse(ctx.t("Usage: /dues <person> <YYYY-MM-DD|none>"))
    value = _parse_dues(ctx, words[1])
    person, branch = await target_person(ctx, words[0], TREASURER)
    return await set_dues(ctx, person, branch, value)
