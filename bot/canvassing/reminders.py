"""Reminders at each branch's own time: the weekly round-up (daily in a campaign)
and the evening before a session.

Each is a plain async function of ids and a time, declared in :data:`TIMED` with
the rule of which branches get one and when (:func:`canvassing_at`); the
scheduler calls them, tests call them with a moved clock. What they send goes
through the outbox with a key naming the week or the session, so a reminder
that fires twice (a restart, a second worker) is queued once.
"""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import select

from bot.canvassing.queries import BRANCH_WITH_REMINDERS, GOING_WITH_REMINDERS, active_campaign
from bot.canvassing.rules import HORIZON, local
from bot.canvassing.sessions import ensure_sessions, upcoming
from bot.kernel.config import Settings
from bot.kernel.context import Context
from bot.kernel.effects import notify
from bot.kernel.i18n import Translator, format_local, translator
from bot.kernel.messages import ChatRef, Request, Sender
from bot.kernel.outbox import Recipients
from bot.kernel.timed import At, PerBranch
from bot.lib.when import read_weekday
from storage.db import Database
from storage.models import Branch, CanvassSession
from storage.vocabulary import PROPOSED

SYSTEM = Sender("system", "scheduler", "Scheduler")


def job_context(session: object, settings: Settings, now: dt.datetime) -> Context:
    request = Request(SYSTEM, ChatRef("system", "private", "scheduler"), command="")
    return Context(
        session,  # type: ignore[arg-type]
        request,
        settings,
        now,
        random.Random(),
        translator(settings.default_locale),
        None,
    )


async def weekly_roundup(db: Database, settings: Settings, now: dt.datetime, branch_id: int) -> int:
    """This week's sessions and places left, to the branch's people who want reminders.
    Returns how many sessions it announced (0: nothing queued)."""
    return await _roundup(db, settings, now, branch_id, daily=False)


async def campaign_roundup(
    db: Database, settings: Settings, now: dt.datetime, branch_id: int
) -> int:
    """During a campaign that covers the branch, the round-up comes every day."""
    return await _roundup(db, settings, now, branch_id, daily=True)


def _period(day: dt.date, *, daily: bool) -> str:
    """The round-up's key: ``2026-11-26`` each day in a campaign, else the ISO week
    (``2026-W48``), so that a round-up goes out once per period."""
    if daily:
        return day.isoformat()
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02}"


async def _roundup(
    db: Database, settings: Settings, now: dt.datetime, branch_id: int, *, daily: bool
) -> int:
    async with db.transaction() as session:
        ctx = job_context(session, settings, now)
        branch = await session.get(Branch, branch_id)
        if branch is None:
            return 0
        # In a campaign the daily round-up replaces the weekly one.
        if daily != (await active_campaign(ctx, branch) is not None):
            return 0
        listings = await upcoming(ctx, branch, None)
        if not listings:
            return 0
        period = _period(local(now, branch.timezone).date(), daily=daily)

        def render(t: Translator) -> str:
            lines = [t("Canvassing with the {branch} branch this week:", branch=branch.name)]
            for item in listings:
                when = format_local(item.session.starts_at, "day_time", t, tz=branch.timezone)
                if item.places_left is None:
                    places = t("open to all")
                else:
                    places = t.plural("{n} place left", "{n} places left", item.places_left)
                lines.append(f"• {when} · {item.session.meeting_point} · {places}")
            lines.append(t("Send /canvass to sign up. (/reminders off to stop these.)"))
            return "\n".join(lines)

        await notify(
            ctx,
            Recipients(BRANCH_WITH_REMINDERS, {"r_branch": branch.id}),
            f"roundup:{branch.id}:{period}",
            render,
        )
        return len(listings)


async def evening_before(db: Database, settings: Settings, now: dt.datetime, branch_id: int) -> int:
    """A reminder to everyone going to a session tomorrow (branch-local). Returns how
    many sessions it reminded about."""
    async with db.transaction() as session:
        ctx = job_context(session, settings, now)
        branch = await session.get(Branch, branch_id)
        if branch is None:
            return 0
        await ensure_sessions(ctx, branch, now + HORIZON)
        tomorrow = local(now, branch.timezone).date() + dt.timedelta(days=1)
        sessions = [
            s
            for s in await session.scalars(
                select(CanvassSession).where(
                    CanvassSession.branch_id == branch.id,
                    CanvassSession.cancelled_at.is_(None),
                    CanvassSession.starts_at > now,
                    CanvassSession.starts_at <= now + dt.timedelta(days=2),
                )
            )
            if local(s.starts_at, branch.timezone).date() == tomorrow
        ]
        tz = branch.timezone
        for item in sessions:
            at, point = item.starts_at, item.meeting_point
            await notify(
                ctx,
                Recipients(GOING_WITH_REMINDERS, {"r_session": item.id}),
                f"reminder:{item.id}",
                lambda t, at=at, point=point: t(  # type: ignore[misc]
                    "Reminder: canvassing tomorrow, {when}, meeting at {point}. "
                    "Can't make it? Send /canvass to cancel, so someone waiting gets your place.",
                    when=format_local(at, "day_time", t, tz=tz),
                    point=point,
                ),
            )
        return len(sessions)


CAMPAIGN_AT = dt.time(9, 0)  # the daily round-up while a campaign runs


def canvassing_at(branch: Branch, at: dt.time, weekday: int | None = None) -> At | None:
    """When a canvassing reminder goes to ``branch``: at ``at`` (on ``weekday``, or
    daily) in the branch's own time zone; never to a proposed branch, which has
    no sessions yet."""
    return None if branch.status == PROPOSED else At(at, branch.timezone, weekday)


def roundup_at(settings: Settings, branch: Branch) -> At | None:
    """The weekly round-up: ``canvassing.roundup_day`` at ``roundup_time``."""
    when = dt.time.fromisoformat(settings.roundup_time)
    return canvassing_at(branch, when, read_weekday(settings.roundup_day))


def campaign_at(settings: Settings, branch: Branch) -> At | None:
    """The daily round-up, sent while a campaign covers the branch."""
    return canvassing_at(branch, CAMPAIGN_AT)


def evening_at(settings: Settings, branch: Branch) -> At | None:
    """The evening before a session: daily at ``canvassing.reminder_time``."""
    return canvassing_at(branch, dt.time.fromisoformat(settings.reminder_time))


TIMED = (
    PerBranch("roundup", weekly_roundup, roundup_at),
    PerBranch("campaign", campaign_roundup, campaign_at),
    PerBranch("evening", evening_before, evening_at),
)
