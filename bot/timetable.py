"""The table of timed jobs: the features that have work falling due with time,
listed explicitly (no registry filled by importing them). The composition root
hands the table to the scheduler."""

from __future__ import annotations

from bot import draws, meetings, polls, reminders, retention
from bot.timed import TimedJobs


def timed_jobs() -> TimedJobs:
    """Every feature's timed jobs (see :mod:`bot.timed`)."""
    return TimedJobs(
        (*reminders.TIMED, *meetings.TIMED, *polls.TIMED, *draws.TIMED, *retention.TIMED)
    )
