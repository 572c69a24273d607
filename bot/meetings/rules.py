"""Meetings' rules on plain facts: who may answer a meeting, and the limits of what
an organiser writes.

Who may answer (and fetch the calendar file): for an online call or a face-to-face
meeting, the people of the branch (members and supporters) and the organisers and
admins over it; a people's assembly is open to every resident, so to anyone who has
agreed to the privacy notice ("guests"), in a branch or not.
"""

from __future__ import annotations

import datetime as dt

from storage.models import Branch, Meeting, Person
from storage.vocabulary import ASSEMBLY

MINUTES_LIMIT = 2000


def answers_by_right(person: Person, meeting: Meeting, branch: Branch) -> bool:
    """Anyone may answer an assembly, the people of the branch any of its meetings;
    whether the branch's organisers (and admins above) may is a question of their
    roles (``bot.meetings.access.may_answer``)."""
    return meeting.kind == ASSEMBLY or person.branch_id == branch.id


def running(meeting: Meeting, now: dt.datetime) -> bool:
    """Is the meeting under way: from its start until it ends (not cancelled)?"""
    ends = meeting.starts_at + dt.timedelta(minutes=meeting.minutes_long)
    return meeting.cancelled_at is None and meeting.starts_at <= now < ends
