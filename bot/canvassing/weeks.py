"""The canvassing weeks of branches, as /canvass stats and the weekly summary read
them: each in its own time zone, from who came (not who signed up)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from bot.canvassing.queries import record
from bot.canvassing.rules import WeekStats, first_counted, local, people_shown, week_stats
from bot.kernel.context import Context
from storage.models import Branch


def start_of(day: dt.date, tz: str) -> dt.datetime:
    """Midnight starting ``day`` in ``tz``, in UTC."""
    return dt.datetime.combine(day, dt.time(), ZoneInfo(tz)).astimezone(dt.UTC)


async def branch_weeks(
    ctx: Context, branches: list[Branch]
) -> dict[int, tuple[list[WeekStats], int]]:
    """Each branch's weeks (in its own time zone) and how many different people came."""
    today = {b.id: local(ctx.now, b.timezone).date() for b in branches}
    since = min(
        (start_of(first_counted(today[b.id]), b.timezone) for b in branches), default=ctx.now
    )
    done = await record(ctx, [b.id for b in branches], since)
    return {
        b.id: (
            week_stats(
                done.held[b.id], done.came[b.id], done.results[b.id], b.timezone, today[b.id]
            ),
            people_shown(done.came[b.id], b.timezone, today[b.id]),
        )
        for b in branches
    }
