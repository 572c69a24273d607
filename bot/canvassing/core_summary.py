"""The weekly summary to each region's admins: the branches that held no canvassing
session for two weeks, or whose core (people who came at least 3 of the last 4
weeks) is below ``canvassing.core_minimum``.

An hourly sweep: on Mondays from 09:00 in the party's time zone, it queues each
region's summary under a key naming the region and the week, so it goes out once
however often the sweep runs (a Monday with no worker leading has none).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from bot.canvassing.queries import all_regions, region_admins, region_branches
from bot.canvassing.reminders import job_context
from bot.canvassing.rules import flags
from bot.canvassing.texts import summary
from bot.canvassing.weeks import branch_weeks
from bot.kernel.config import Settings
from bot.kernel.effects import notify
from bot.kernel.timed import Every, Sweep
from bot.lib.when import local_moment
from storage.db import Database
from storage.vocabulary import PROPOSED

SUMMARY_AT = dt.time(9, 0)  # Mondays, in the party's time zone


async def core_summary(db: Database, settings: Settings, now: dt.datetime) -> int:
    """Queue this week's summary to each region's admins where a branch is flagged;
    how many regions had one."""
    tz = ZoneInfo(settings.default_timezone)
    today = now.astimezone(tz).date()
    monday = today - dt.timedelta(days=today.weekday())
    if today != monday or now < local_moment(monday, SUMMARY_AT, tz):
        return 0
    year, week, _ = today.isocalendar()
    flagged_regions = 0
    async with db.transaction() as session:
        ctx = job_context(session, settings, now)
        for region in await all_regions(ctx):
            branches = [b for b in await region_branches(ctx, region.id) if b.status != PROPOSED]
            weeks = await branch_weeks(ctx, branches)
            found = []
            for branch in branches:
                idle, small = flags(weeks[branch.id][0], settings.core_minimum)
                if idle or small:
                    found.append((branch.name, idle, small, weeks[branch.id][0][-2].core))
            if not found:
                continue
            flagged_regions += 1
            await notify(
                ctx,
                region_admins(region.id),
                f"coresummary:{region.id}:{year}-W{week:02}",
                summary(region.name, found, settings.core_minimum),
            )
    return flagged_regions


TIMED = (Sweep("canvass-core", core_summary, Every(60)),)  # hourly: Monday's summary, once
