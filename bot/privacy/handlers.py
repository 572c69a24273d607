"""/mydata and /forget: see and delete everything held about you."""

from __future__ import annotations

import json

from bot.assemblies.queries import registrations_held
from bot.assemblies.registration import withdraw
from bot.assemblies.texts import mydata_rows
from bot.branches.queries import national_admin_count
from bot.draws.invitations import vacate
from bot.kernel.actions import Action
from bot.kernel.context import Context
from bot.kernel.effects import audit
from bot.kernel.i18n import N_
from bot.kernel.messages import Attachment, Button, Reply
from bot.kernel.permissions import is_member
from bot.kernel.registry import action, command
from bot.privacy.erasure import erase_mentions
from bot.privacy.export import export
from bot.privacy.queries import (
    delete_person,
    keys_of,
    places_held,
    words_naming,
)
from bot.privacy.rules import is_last_national_admin
from storage.models import Branch, ErasureCount


@command("mydata", N_("everything held about you, as a file"), private=True, params=())
async def mydata(ctx: Context) -> Reply:
    sender = ctx.request.sender
    # A citizens' assembly's registrations are held by account, person or not.
    person_id = ctx.person.id if ctx.person is not None else None
    registrations = mydata_rows(
        ctx.t, await registrations_held(ctx.session, sender.platform, sender.user_id, person_id)
    )
    if ctx.person is None and not registrations:
        return Reply(ctx.t("Nothing is held about you: you have not agreed to the privacy notice."))
    document = await export(ctx, ctx.person) if ctx.person is not None else {}
    if registrations:
        document["assembly_registrations"] = registrations
    content = json.dumps(document, indent=2, ensure_ascii=False, default=str).encode()
    name = ctx.person.short_id if ctx.person is not None else "registrations"
    return Reply(
        ctx.t("Here is everything held about you."),
        file=Attachment(f"mydata-{name}.json", content, "application/json"),
    )


@command("forget", N_("delete everything held about you"), private=True, params=())
async def forget(ctx: Context) -> Reply:
    sender = ctx.request.sender
    person_id = ctx.person.id if ctx.person is not None else None
    registered = await registrations_held(ctx.session, sender.platform, sender.user_id, person_id)
    if ctx.person is None and not registered:
        return Reply(ctx.t("Nothing is held about you, so there is nothing to delete."))
    prompt = await ctx.prompt("forget")
    if ctx.person is None:
        return Reply(
            ctx.t(
                "This deletes your registration for a citizens' assembly (your answers and "
                "the key of your address); if you were drawn, your place goes to someone "
                "else. It cannot be undone. Are you sure?"
            ),
            buttons=(
                (
                    Button(ctx.t("Yes, delete my data"), Action.FORGET, str(prompt.id)),
                    Button(ctx.t("Cancel"), Action.FORGET_CANCEL, str(prompt.id)),
                ),
            ),
        )
    text = ctx.t(
        "This deletes everything held about you: your record, branch, membership and "
        "dues dates, roles, consent and pending messages, and your name in messages about "
        "you. Only anonymous counts remain. It cannot be undone. Are you sure?"
    )
    places = await places_held(ctx.session, ctx.person.id)
    if places:
        text += "\n\n" + ctx.t(
            "You hold (or are invited to) a place on a council or delegation drawn by lot: "
            "it becomes vacant, and someone else is drawn in your place."
        )
    return Reply(
        text,
        buttons=(
            (
                Button(ctx.t("Yes, delete my data"), Action.FORGET, str(prompt.id)),
                Button(ctx.t("Cancel"), Action.FORGET_CANCEL, str(prompt.id)),
            ),
        ),
    )


@action(Action.FORGET)
async def forget_confirmed(ctx: Context, target: str) -> Reply:
    sender = ctx.request.sender
    if ctx.person is None:
        await ctx.take_prompt(target, "forget")
        for registrant, _ in await registrations_held(
            ctx.session, sender.platform, sender.user_id, None
        ):
            await withdraw(ctx.session, ctx.settings, registrant, ctx.now)
        return Reply(ctx.t("Done: everything held about you has been deleted."), edit=True)
    person = ctx.require_person()
    await ctx.take_prompt(target, "forget")
    if is_last_national_admin(await national_admin_count(ctx.session), await ctx.grants()):
        raise ctx.refuse(
            ctx.t(
                "You are the party's only national admin: make someone else admin first "
                "(/promote <person> admin national), then /forget."
            )
        )
    branch = await ctx.session.get(Branch, person.branch_id) if person.branch_id else None
    tz = branch.timezone if branch else ctx.settings.default_timezone
    ctx.session.add(
        ErasureCount(
            branch_id=person.branch_id,
            was_member=is_member(person, ctx.now, tz),
            month=ctx.now.date().isoformat()[:7],  # "2026-11"
        )
    )
    person_id, keys = person.id, await keys_of(ctx, person)
    # A council seat or an invitation they hold is a vacancy: the organisers are
    # told and the next person is drawn under the draw's rules.
    await vacate(ctx.session, ctx.settings, person_id, ctx.now)
    # So are the citizens' assembly registrations of each of their accounts.
    for registrant, _ in await registrations_held(
        ctx.session, sender.platform, sender.user_id, person_id
    ):
        await withdraw(ctx.session, ctx.settings, registrant, ctx.now)
    # Their name, short id, handles and platform ids, out of what was said about them.
    await erase_mentions(ctx.session, ctx.settings, person, await words_naming(ctx.session, person))
    ctx.person = None  # the audit entry must not point at them
    audit(ctx, "person.forgotten")
    await delete_person(ctx.session, person, keys)
    return Reply(
        ctx.t(
            "Done: everything held about you has been deleted. If you ever want to come "
            "back, send /start."
        ),
        edit=True,
    )


@action(Action.FORGET_CANCEL)
async def cancel(ctx: Context, target: str) -> Reply:
    await ctx.take_prompt(target, "forget")
    return Reply(ctx.t("Cancelled: nothing was changed."), edit=True)
