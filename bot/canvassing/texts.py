"""Canvassing's words: a session as a calendar app shows it, the notices of a
session cancelled, moved or a place opened up, the week's list with its buttons,
and the chart of the last weeks."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Sequence

from bot.canvassing.queries import Listing
from bot.canvassing.rules import SESSION_LENGTH, Week
from bot.kernel.actions import Action
from bot.kernel.i18n import Translator, format_local
from bot.kernel.messages import Button
from bot.lib.ics import Event, uid
from storage.models import Branch, CanvassSession
from storage.vocabulary import GOING


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


def week_listing(
    t: Translator, branch: Branch, listings: Sequence[Listing]
) -> tuple[str, tuple[tuple[Button, Button], ...]]:
    """/canvass's list of the coming week's sessions (places left, the person's own
    status) and a row of buttons each: Sign up (or Wait for a place) or Cancel, and
    Calendar."""
    lines = [t("Canvassing with the {branch} branch this week:", branch=branch.name)]
    rows = []
    for n, item in enumerate(listings, 1):
        when = format_local(item.session.starts_at, "day_time", t.locale, tz=branch.timezone)
        if item.places_left is None:
            places = t("open to all")
        else:
            places = t.plural("{n} place left", "{n} places left", item.places_left)
        mine = ""
        if item.mine == GOING:
            mine = " · " + t("you're going ✓")
        elif item.mine is not None:
            mine = " · " + t("you're on the waiting list")
        lines.append(f"{n}. {when} · {item.session.meeting_point} · {places}{mine}")
        sid = str(item.session.id)
        if item.mine is None:
            label = (
                t("Sign up {n}", n=n) if item.places_left != 0 else t("Wait for a place {n}", n=n)
            )
            first = Button(label, Action.CANVASS_GO, sid)
        else:
            first = Button(t("Cancel {n}", n=n), Action.CANVASS_NO, sid)
        rows.append((first, Button(t("Calendar {n}", n=n), Action.CANVASS_ICS, sid)))
    lines.append(t("Times are {tz} time.", tz=branch.timezone))
    return "\n".join(lines), tuple(rows)


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
