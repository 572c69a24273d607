"""Canvassing's words: a session as a calendar app shows it, and the notices of a
session cancelled or a place opened up."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from bot.canvassing.rules import SESSION_LENGTH
from bot.kernel.i18n import Translator, format_local
from bot.lib.ics import Event, uid
from storage.models import Branch, CanvassSession


def calendar_event(session: CanvassSession, branch: Branch, party: str) -> Event:
    """The session as a calendar app shows it (see ``bot.lib.ics``)."""
    return Event(
        uid=uid("canvass", session.id),
        summary=f"{party}: canvassing with the {branch.name} branch",
        starts=session.starts_at,
        ends=session.starts_at + SESSION_LENGTH,
        location=session.meeting_point,
    )


def cancelled_notice(at: dt.datetime, tz: str) -> Callable[[Translator], str]:
    return lambda t: t(
        "The canvassing session {when} is cancelled.",
        when=format_local(at, "day_time", t.locale, tz=tz),
    )


def promoted_notice(session: CanvassSession, branch: Branch) -> Callable[[Translator], str]:
    at, tz, point = session.starts_at, branch.timezone, session.meeting_point
    return lambda t: t(
        "A place opened up: you're now going canvassing {when} at {point}.",
        when=format_local(at, "day_time", t.locale, tz=tz),
        point=point,
    )


def moved_notice(at: dt.datetime, tz: str, point: str) -> Callable[[Translator], str]:
    return lambda t: t(
        "The canvassing session {when} now meets at {point}.",
        when=format_local(at, "day_time", t.locale, tz=tz),
        point=point,
    )
