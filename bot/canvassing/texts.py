"""Canvassing's words: a session as a calendar app shows it, the notices of a
session cancelled, moved or a place opened up, and the chart of the last weeks."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable

from bot.canvassing.rules import SESSION_LENGTH, Week
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


def chart(branch_name: str, weeks: list[Week], labels: dict[str, str], locale: str) -> bytes:
    """A PNG of people out, doors and conversations per week, dated in ``locale``."""
    # The object-oriented API, not pyplot: no global state, so it may run in a thread.
    from matplotlib.figure import Figure

    x = [format_local(w.start, "day_month", locale) for w in weeks]
    figure = Figure(figsize=(8, 5))
    top, bottom = figure.subplots(2, 1, sharex=True)
    top.bar(x, [w.doors for w in weeks], color="#6a9fb5", label=labels["doors"])
    top.plot(
        x,
        [w.conversations for w in weeks],
        color="#d4843e",
        marker="o",
        label=labels["conversations"],
    )
    top.legend(loc="upper left")
    top.set_title(labels["title"].format(branch=branch_name))
    bottom.bar(x, [w.people for w in weeks], color="#8fb56a", label=labels["people"])
    bottom.legend(loc="upper left")
    bottom.tick_params(axis="x", rotation=45)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()
