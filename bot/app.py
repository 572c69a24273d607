"""The composition root: the one place that lists the bot's features and builds
the core from them.

A feature module marks its handlers (``@command``, ``@action``, ``@answer`` in
:mod:`bot.kernel.registry`); nothing is registered by importing it. Here the tables
are built from the modules listed in :data:`FEATURES`, a name declared twice
is refused, and the core is handed them. Likewise the features' timed jobs
(:func:`build_timed_jobs`), for the scheduler.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from types import ModuleType

import bot.assemblies.invitations
import bot.assemblies.retention
import bot.canvassing.core_summary
import bot.canvassing.reminders
import bot.draws.invitations
import bot.draws.seeding
import bot.meetings.reminders
import bot.members.renewals
import bot.polls.sweeps
import bot.privacy.retention
from bot.announcements import handlers as announcements
from bot.assemblies import assembly_handlers as assemblies
from bot.assemblies import invitation_handlers as assembly_invitations
from bot.assemblies import registration_handlers as assembly_registration
from bot.branches import affiliation_handlers as affiliation
from bot.branches import branch_handlers as branch
from bot.branches import chat_handlers as chats
from bot.branches import delivery_handlers as delivery
from bot.branches import dues_handlers as dues
from bot.branches import merge_handlers as merging
from bot.branches import region_handlers as regions
from bot.branches import role_handlers as roles
from bot.branches import undo_handlers as undo
from bot.canvassing import attendance_handlers as canvass_attendance
from bot.canvassing import campaign_handlers as campaign
from bot.canvassing import handlers as canvass
from bot.canvassing import results_handlers as canvass_results
from bot.canvassing import schedule_handlers as canvass_schedule
from bot.canvassing import signup_handlers as canvass_signup
from bot.draws import handlers as sortition
from bot.draws import invitation_handlers as councils
from bot.draws import profile_handlers as sortition_profile
from bot.kernel.clock import Clock
from bot.kernel.config import Settings
from bot.kernel.core import Core
from bot.kernel.registry import Handlers
from bot.kernel.timed import TimedJobs
from bot.linking import handlers as link
from bot.meetings import answer_handlers as meeting_answers
from bot.meetings import attendance_handlers as meeting_attendance
from bot.meetings import edit_handlers as meeting_edits
from bot.meetings import handlers as meetings
from bot.meetings import schedule_handlers as meeting_schedule
from bot.members import handlers as members
from bot.membership import handlers as membership
from bot.membership import leave_handlers as leaving
from bot.membership import me_handlers as me
from bot.membership import propose_handlers as proposing
from bot.membership import signup_handlers as signup
from bot.membership import welcome_handlers as welcome
from bot.polls import handlers as polls
from bot.polls import post_handlers as poll_posting
from bot.polls import reason_handlers as poll_reasons
from bot.polls import result_handlers as poll_results
from bot.polls import vote_handlers as poll_votes
from bot.privacy import handlers as privacy
from bot.public import handlers as public_calendar
from bot.settings import handlers as settings
from bot.settings import language_handlers as languages
from bot.settings import timezone_handlers as timezones
from storage.db import Database

# Every feature whose commands, buttons and typed answers the bot answers, in the
# order their commands are offered (Discord's slash commands, Telegram's menus).
FEATURES: tuple[ModuleType, ...] = (
    campaign,
    privacy,
    membership,
    proposing,
    leaving,
    me,
    branch,
    roles,
    dues,
    members,
    merging,
    affiliation,
    undo,
    canvass,
    settings,
    languages,
    public_calendar,
    timezones,
    canvass_signup,
    canvass_schedule,
    canvass_results,
    canvass_attendance,
    chats,
    delivery,
    announcements,
    link,
    meetings,
    meeting_answers,
    meeting_schedule,
    meeting_edits,
    meeting_attendance,
    polls,
    poll_posting,
    poll_votes,
    poll_reasons,
    poll_results,
    regions,
    signup,
    sortition_profile,
    sortition,
    councils,
    assemblies,
    assembly_registration,
    assembly_invitations,
    welcome,
)


def build_timed_jobs() -> TimedJobs:
    """The table of the features' timed jobs (reminders, closes, deadlines, beacon
    rounds, purges: see bot.kernel.timed), which the scheduler runs."""
    return TimedJobs(
        (
            *bot.canvassing.reminders.TIMED,
            *bot.canvassing.core_summary.TIMED,
            *bot.meetings.reminders.TIMED,
            *bot.polls.sweeps.TIMED,
            *bot.draws.invitations.TIMED,
            *bot.draws.seeding.TIMED,
            *bot.privacy.retention.TIMED,
            *bot.members.renewals.TIMED,
            *bot.assemblies.invitations.TIMED,
            *bot.assemblies.retention.TIMED,
        )
    )


def build_handlers(features: Iterable[ModuleType] = FEATURES) -> Handlers:
    """The command, button and answer tables of ``features``."""
    return Handlers.collect(features)


def build_core(
    db: Database,
    settings: Settings,
    *,
    clock: Clock | None = None,
    rng: random.Random | None = None,
    features: Iterable[ModuleType] = FEATURES,
) -> Core:
    """The core answering the commands, buttons and typed answers of ``features``."""
    return Core(db, settings, build_handlers(features), clock=clock, rng=rng)
