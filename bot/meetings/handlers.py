"""The /meeting command: its subcommands routed to the modules doing each job
(schedule_handlers, edit_handlers, attendance_handlers), and the branch's reminder
hours. /meetings and the answer buttons are in answer_handlers.

Organisers (and admins above the branch):

/meeting                       the one-line syntax, and buttons that guide through it:
                               kind -> /meeting <date and time> -> /meeting <link or place>
/meeting <kind> <date and time> <link or place> [title] [cap N] [weekly|monthly [xN]]
                               e.g. /meeting online next tue 19:00 https://meet.example/abc
                                    /meeting in-person 2026-12-03 19:00 "Library, Market St"
                                        "Branch meeting" cap 30 weekly
                               the time is echoed with its weekday and zone, with Confirm
                               and Cancel; only Confirm posts it (and its series)
/meeting show <id>             the organiser's view: answers, and Held once it started
/meeting edit <id> time|place|capacity|title <value>   those who answered are told
/meeting cancel <id> [all]     (all: the rest of its series too); those who answered told
/meeting held <id>             it took place; a forming branch's first online call is
                               recorded; for a face-to-face meeting, who came is asked
/meeting came <id> [@person]   who came: a sheet of those who answered, to press at the
                               door (or mark one person by short id or @handle); with
                               enough people, a forming branch's first face-to-face
                               meeting makes it active
/meeting minutes <id> [+]<text>   what was decided (+: added to what is there)
/meeting reminders <hours,...|off>   when those going are reminded (default 24,1)

Everyone: /meetings [past] [branch], and the Going / Maybe / Can't / Calendar buttons.
"""

from __future__ import annotations

from bot.kernel.context import Context
from bot.kernel.effects import audit
from bot.kernel.i18n import N_
from bot.kernel.messages import Reply
from bot.kernel.registry import command
from bot.meetings.access import (
    gate,
    organised_branch,
)
from bot.meetings.attendance_handlers import came, held, minutes
from bot.meetings.edit_handlers import cancel, edit, show
from bot.meetings.parsing import parse_kind, parse_reminder_hours, reminder_hours
from bot.meetings.schedule_handlers import from_line, guided_step, pending_draft, start, usage
from storage.models import Branch
from storage.vocabulary import (
    ADMIN,
    ORGANISER,
)

# --- /meeting ----------------------------------------------------------------------


# /help stays short (the whole of it must fit one Discord message): /meeting alone
# shows the full syntax and the other subcommands.
@command("meeting", N_("arrange a branch meeting"), roles=(ORGANISER, ADMIN))
async def meeting_command(ctx: Context) -> Reply:
    await gate(ctx)
    args = ctx.request.args.strip()
    parts = args.split(None, 1)
    sub = parts[0].lower() if parts else ""
    rest = parts[1] if len(parts) > 1 else ""
    if not sub:
        return await start(ctx)
    if sub == "show":
        return await show(ctx, rest.strip())
    if sub == "edit":
        return await edit(ctx, rest)
    if sub == "cancel":
        return await cancel(ctx, rest.split())
    if sub == "held":
        return await held(ctx, rest.strip())
    if sub == "came":
        return await came(ctx, rest.split())
    if sub == "minutes":
        return await minutes(ctx, rest)
    if sub == "reminders":
        return await _reminders(ctx, rest.strip())
    branch = await organised_branch(ctx)
    if parse_kind(sub) is not None:
        return await from_line(ctx, branch, args)
    draft = await pending_draft(ctx)
    if draft is not None:
        return await guided_step(ctx, branch, draft, args)
    raise ctx.refuse(usage(ctx, branch.timezone))


async def _reminders(ctx: Context, text: str) -> Reply:
    branch = await organised_branch(ctx)
    if not text:
        hours = reminder_hours(branch.meeting_reminders)
        return Reply(_reminders_state(ctx, branch, hours))
    hours_or_none = parse_reminder_hours(text)
    if hours_or_none is None:
        raise ctx.refuse(
            ctx.t(
                "Usage: /meeting reminders 24,1 (hours before, up to 4 of them, each at most "
                "168) or /meeting reminders off"
            )
        )
    branch.meeting_reminders = ",".join(str(h) for h in hours_or_none)
    audit(ctx, "meeting.reminders", branch=branch, hours=branch.meeting_reminders)
    return Reply(_reminders_state(ctx, branch, hours_or_none))


def _reminders_state(ctx: Context, branch: Branch, hours: list[int]) -> str:
    if not hours:
        return ctx.t(
            "Those going to the {branch} branch's meetings get no reminders. "
            "/meeting reminders 24,1 turns them on.",
            branch=branch.name,
        )
    return ctx.t(
        "Those going to the {branch} branch's meetings are reminded {hours} before.",
        branch=branch.name,
        hours=ctx.t(" and ").join(ctx.t.plural("{n} hour", "{n} hours", h) for h in hours),
    )
