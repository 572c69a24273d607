"""/canvass: the branch's weekly door-knocking.

/canvass                         the next week's sessions, with Sign up / Cancel
/canvass schedule <weekday> <HH:MM> <meeting point> [capacity]   (organisers)
/canvass slots                   the weekly sessions, with Remove (organisers)

/canvass's subcommands are answered by their modules: signup_handlers (the week's
sessions and their buttons), schedule_handlers (schedule, slots, edit),
results_handlers (log, stats).
"""

from __future__ import annotations

from bot.canvassing.attendance_handlers import came
from bot.canvassing.results_handlers import log, stats
from bot.canvassing.schedule_handlers import edit, schedule, slots
from bot.canvassing.signup_handlers import listing
from bot.kernel.context import Context
from bot.kernel.i18n import N_
from bot.kernel.messages import Reply
from bot.kernel.registry import command
from storage.vocabulary import ORGANISER


def _usage(ctx: Context) -> str:
    return ctx.t(
        "Usage: /canvass, or for organisers /canvass schedule <weekday> <HH:MM> "
        "<meeting point> [capacity], /canvass slots, /canvass log <doors> <conversations> "
        "[issues], /canvass came [who] and /canvass stats"
    )


@command(
    "canvass",
    N_("this week's canvassing sessions: sign up or cancel"),
    staff=(
        (
            N_("schedule <weekday> <HH:MM> <meeting point> [capacity]"),
            N_("a weekly canvassing session"),
            (ORGANISER,),
        ),
        (N_("slots"), N_("the weekly sessions, to remove one"), (ORGANISER,)),
        (N_("edit <n> point <text>|capacity <n>"), N_("change a weekly session"), (ORGANISER,)),
        (
            N_("log <doors> <conversations> [issues]"),
            N_("the latest session's results"),
            (ORGANISER,),
        ),
        (N_("came [who]"), N_("mark who came to the latest session"), (ORGANISER,)),
        (N_("stats"), N_("a chart of the last 12 weeks: who came, the core"), (ORGANISER,)),
    ),
)
async def canvass(ctx: Context) -> Reply:
    sub, _, rest = ctx.request.args.partition(" ")
    if sub.lower() == "schedule":
        return await schedule(ctx, rest.strip())
    if sub.lower() == "slots":
        return await slots(ctx)
    if sub.lower() == "edit":
        return await edit(ctx, rest.split())
    if sub.lower() == "log":
        return await log(ctx, rest.split())
    if sub.lower() == "stats":
        return await stats(ctx, rest.split())
    if sub.lower() == "came":
        return await came(ctx, rest.split())
    if sub:
        raise ctx.refuse(_usage(ctx))
    return await listing(ctx)
