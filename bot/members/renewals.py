"""Dues renewals, as timed jobs: a member whose dues end within 14 days is
reminded once, privately, with how to renew (``[dues] renewal``); each branch's
treasurers get a weekly list of who lapsed in the last week and who renews
within 30 days.

Both are idempotent: the reminder is marked on the person (``dues_reminded_for``,
a conditional UPDATE, so two workers or a rerun after a restart remind once) and
queued under a key naming the dues; the weekly list's key names the branch and
the week.
"""

from __future__ import annotations

import datetime as dt

from bot.kernel.config import Settings
from bot.kernel.i18n import Translator
from bot.kernel.outbox import enqueue_for
from bot.kernel.timed import At, Every, PerBranch, Sweep
from bot.lib.when import read_weekday
from bot.members import queries, texts
from bot.members.rules import today_in, week_of
from storage.db import Database
from storage.models import Branch
from storage.vocabulary import PROPOSED


async def remind_renewals(db: Database, settings: Settings, now: dt.datetime) -> int:
    """Remind each member whose dues end soon, once per date their dues end.
    Returns how many were reminded by this run."""
    today = today_in(now, settings.default_timezone)
    reminded = 0
    async with db.transaction() as session:
        for person in await queries.due_renewal(session, today):
            paid_until = person.dues_paid_until
            if paid_until is None or not await queries.mark_reminded(session, person, paid_until):
                continue  # another run reminded them first

            def render(t: Translator, paid_until: dt.date = paid_until) -> str:
                return texts.renewal_reminder(t, paid_until, settings.dues_renewal)

            await enqueue_for(
                session,
                queries.only(person.id),
                key=f"dues-renew:{paid_until.isoformat()}",
                render=render,
                now=now,
                about_id=person.id,
                default_locale=settings.default_locale,
            )
            reminded += 1
    return reminded


async def weekly_dues(db: Database, settings: Settings, now: dt.datetime, branch_id: int) -> int:
    """The branch's treasurers' list of who lapsed and who renews soon; nothing
    when there is neither. Returns how many people it names."""
    async with db.transaction() as session:
        branch = await session.get(Branch, branch_id)
        if branch is None:
            return 0
        today = today_in(now, branch.timezone)
        lapsed, lapsing = await queries.lapsed_and_lapsing(session, branch, today)
        if not lapsed and not lapsing:
            return 0
        name = branch.name
        await enqueue_for(
            session,
            queries.treasurers_of(branch),
            key=f"dues-week:{branch.id}:{week_of(today)}",
            render=lambda t: texts.weekly_dues(t, name, lapsed, lapsing),
            now=now,
            default_locale=settings.default_locale,
        )
        return len(lapsed) + len(lapsing)


def dues_list_at(settings: Settings, branch: Branch) -> At | None:
    """The weekly list: ``[dues] list_day`` at ``list_time``, in the branch's time;
    none for a proposed branch (no treasurer, no members yet)."""
    if branch.status == PROPOSED:
        return None
    return At(
        dt.time.fromisoformat(settings.dues_list_time),
        branch.timezone,
        read_weekday(settings.dues_list_day),
    )


TIMED = (
    Sweep("dues-renewals", remind_renewals, Every(60)),  # hourly: dues ending within 14 days
    PerBranch("dues-weekly", weekly_dues, dues_list_at),
)
