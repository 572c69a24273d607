"""/delivery: what could not be delivered to the people of a branch, and why."""

from __future__ import annotations

import datetime as dt

from bot.announcements import queries as announcements
from bot.announcements import texts as announcement_texts
from bot.branches.handlers import STAFF, branch_named_or_own, require_staff
from bot.branches.queries import undelivered, unreachable
from bot.kernel.context import Context
from bot.kernel.i18n import N_, format_local
from bot.kernel.messages import Reply
from bot.kernel.outbox import SENT, UNDELIVERABLE
from bot.kernel.registry import Param, command
from storage.models import Branch

WINDOW = dt.timedelta(days=30)
LIMIT = 30


@command(
    "delivery",
    N_("messages that could not reach your branch's people"),
    usage=N_("[branch]"),
    roles=STAFF,
    params=(Param.branch(),),
)
async def delivery(ctx: Context) -> Reply:
    branch = await branch_named_or_own(ctx, ctx.request.args)
    await require_staff(ctx, branch, STAFF, "delivery")
    rows = await undelivered(ctx.session, branch, ctx.now - WINDOW, LIMIT)
    blocked = await unreachable(ctx.session, branch)
    sent = await _announcements(ctx, branch)
    if not rows and not blocked:
        return Reply(
            ctx.t(
                "Every message to the {branch} branch's people in the last 30 days got through.",
                branch=branch.name,
            )
            + sent,
            private=True,
        )
    lines = [ctx.t("Delivery problems for the {branch} branch (last 30 days):", branch=branch.name)]
    for message, person in rows:
        state = ctx.t("given up") if message.status == UNDELIVERABLE else ctx.t("still trying")
        lines.append(
            f"• {person.display_name} ({person.short_id}) · "
            f"{format_local(message.created_at, 'day_time', ctx.t, tz=branch.timezone)}"
            f" · {state}: {message.last_error or '-'}"
        )
    for name, short_id, platform in blocked:
        lines.append(
            ctx.t(
                "• {name} ({short_id}) cannot be reached on {platform}: ask them to open the "
                "bot again.",
                name=name,
                short_id=short_id,
                platform=platform,
            )
        )
    return Reply("\n".join(lines) + sent, private=True)


async def _announcements(ctx: Context, branch: Branch) -> str:
    """How the announcements that reached the branch in the last 30 days fared
    (their copies to everyone they went to), below the problems; empty if none."""
    found = await announcements.recent_for(ctx.session, branch, ctx.now - WINDOW, 10)
    if not found:
        return ""
    lines = ["", "", announcement_texts.delivery_heading(ctx.t)]
    for announcement in found:
        counts = await announcements.delivery_counts(ctx.session, announcement.id)
        lines.append(
            announcement_texts.delivery_line(
                ctx.t,
                announcement,
                counts,
                timezone=branch.timezone,
                sent_status=SENT,
                undeliverable_status=UNDELIVERABLE,
            )
        )
    return "\n".join(lines)
