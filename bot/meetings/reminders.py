"""Meeting reminders. The branch's ``meeting_reminders`` ("24,1": hours before the start) go to
those Going (but not to one who turned meeting reminders off on /reminders), by the
``meetings`` sweep, which runs once a minute. A reminder ``h`` hours
ahead is due while ``start - h <= now < start - h + 1 hour`` (and the start is still
ahead): a sweep that was down for less than an hour catches up, while one whose moment
is long past (a meeting created 30 minutes before it starts gets no 24-hour reminder)
is never sent late. Its outbox key ``mtrem:<meeting>:<version>:<hours>`` makes a second
sweep (or a second worker) queue nothing more; an edit bumps the version, so a moved
meeting is reminded again for its new time. A cancelled meeting is never reminded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import select

from bot.kernel.actions import Action
from bot.kernel.config import Settings
from bot.kernel.i18n import Translator, format_local
from bot.kernel.messages import Button
from bot.kernel.outbox import enqueue_for
from bot.kernel.timed import Sweep
from bot.meetings.parsing import MAX_REMINDER_HOURS, reminder_hours
from bot.meetings.queries import to_remind
from bot.meetings.texts import kind_label, where_line
from storage.db import Database
from storage.models import Branch, Meeting

REMINDER_WINDOW = dt.timedelta(hours=1)


def reminder_notice(meeting: Meeting, branch: Branch) -> Callable[[Translator], str]:
    title, kind, place = meeting.title, meeting.kind, meeting.place
    at, tz = meeting.starts_at, branch.timezone
    return lambda t: "\n".join(
        [
            t(
                "Reminder: {title} ({kind}) is on {when}, {tz} time.",
                title=title,
                kind=kind_label(t, kind),
                when=format_local(at, "datetime", t, tz=tz),
                tz=tz,
            ),
            where_line(t, kind, place),
            t("Can't come after all? Press Can't, so that someone waiting gets your place."),
        ]
    )


def _reminder_buttons(meeting_id: int) -> Callable[[Translator], list[list[Button]]]:
    mid = str(meeting_id)
    return lambda t: [
        [
            Button(t("Can't"), Action.MEETING_NO, mid),
            Button(t("Calendar (.ics)"), Action.MEETING_ICS, mid),
        ]
    ]


def due_reminders(meeting: Meeting, setting: str, now: dt.datetime) -> list[int]:
    """The hours-before of the reminders due now (see the module's docstring)."""
    if meeting.cancelled_at is not None or meeting.starts_at <= now:
        return []
    due = []
    for hours in reminder_hours(setting):
        moment = meeting.starts_at - dt.timedelta(hours=hours)
        if moment <= now < moment + REMINDER_WINDOW:
            due.append(hours)
    return due


async def remind(db: Database, settings: Settings, now: dt.datetime) -> int:
    """Queue the reminders due now to those going; returns how many were due (a
    second run at the same moment queues nothing more, though it counts the same)."""
    async with db.transaction() as session:
        rows = await session.execute(
            select(Meeting, Branch)
            .join(Branch, Branch.id == Meeting.branch_id)
            .where(
                Meeting.cancelled_at.is_(None),
                Meeting.starts_at > now,
                Meeting.starts_at <= now + dt.timedelta(hours=MAX_REMINDER_HOURS),
            )
            .order_by(Meeting.starts_at, Meeting.id)
        )
        due = 0
        for meeting, branch in rows:
            for hours in due_reminders(meeting, branch.meeting_reminders, now):
                await enqueue_for(
                    session,
                    to_remind(meeting),
                    key=f"mtrem:{meeting.id}:{meeting.version}:{hours}",
                    render=reminder_notice(meeting, branch),
                    now=now,
                    buttons=_reminder_buttons(meeting.id),
                    default_locale=settings.default_locale,
                )
                due += 1
        return due


TIMED = (Sweep("meetings", remind),)  # once a minute: the reminders due now
