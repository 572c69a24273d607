"""/reminders: one screen of a person's settings, with a button for each: the
canvassing round-ups and reminders, the reminders before a meeting one is going
to, and the announcements from their branch,
their region and the party. Invitations to a council and ballots are no setting:
they always reach people.

/reminders            the screen
/reminders on|off     the canvassing round-ups and reminders, as before
"""

from __future__ import annotations

from bot.announcements import queries
from bot.announcements.rules import LEVELS
from bot.kernel.actions import Action
from bot.kernel.context import Context
from bot.kernel.i18n import N_
from bot.kernel.messages import Reply
from bot.kernel.registry import Param, action, command
from bot.settings import texts
from bot.settings.rules import CANVASSING, MEETINGS, read_button
from storage.models import Person


@command(
    "reminders",
    N_("your reminders and announcements, on or off"),
    usage=N_("[on|off]"),
    params=(Param.choice("setting", N_("on or off"), ("on", "off")),),
)
async def reminders(ctx: Context) -> Reply:
    person = ctx.require_person()
    choice = ctx.request.args.strip().lower()
    if choice not in ("on", "off"):
        return await _screen(ctx, person)
    person.reminders = choice == "on"
    if person.reminders:
        return Reply(
            ctx.t(
                "Reminders are on: you'll get the weekly round-up and a reminder the evening before."
            )
        )
    return Reply(ctx.t("Reminders are off. Send /reminders on to have them again."))


@action(Action.SETTING)
async def setting_pressed(ctx: Context, target: str) -> Reply:
    person = ctx.require_person()
    pressed = read_button(target)
    if pressed is None:
        raise ctx.stale()
    setting, on = pressed
    if setting == CANVASSING:
        person.reminders = on
    elif on:
        await queries.opt_in(ctx.session, person.id, setting)
    else:
        await queries.opt_out(ctx.session, person.id, setting, ctx.now)
    screen = await _screen(ctx, person)
    return Reply(screen.text, buttons=screen.buttons, edit=True)


async def _screen(ctx: Context, person: Person) -> Reply:
    off = await queries.opted_out(ctx.session, person.id)
    on = {CANVASSING: person.reminders, MEETINGS: MEETINGS not in off}
    on |= {level: level not in off for level in LEVELS}
    return Reply(texts.screen(ctx.t, on), buttons=texts.buttons(ctx.t, on))
