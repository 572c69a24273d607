"""/reminders: the canvassing round-ups and reminders, on or off.

/reminders on|off
"""

from __future__ import annotations

from bot.kernel.context import Context
from bot.kernel.i18n import N_
from bot.kernel.messages import Reply
from bot.kernel.registry import Param, command


@command(
    "reminders",
    N_("turn canvassing reminders on or off"),
    usage="on|off",
    params=(Param.choice("setting", N_("on or off"), ("on", "off"), required=True),),
)
async def reminders(ctx: Context) -> Reply:
    person = ctx.require_person()
    choice = ctx.request.args.strip().lower()
    if choice not in ("on", "off"):
        state = ctx.t("on") if person.reminders else ctx.t("off")
        return Reply(
            ctx.t("Your reminders are {state}. Send /reminders on or /reminders off.", state=state)
        )
    person.reminders = choice == "on"
    if person.reminders:
        return Reply(
            ctx.t(
                "Reminders are on: you'll get the weekly round-up and a reminder the evening before."
            )
        )
    return Reply(ctx.t("Reminders are off. Send /reminders on to have them again."))
