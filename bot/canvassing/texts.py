"""Canvassing's words: a session as a calendar app shows it, the notices of a
session cancelled, moved or a place opened up, the week's list with its buttons,
and the chart of the last weeks."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Sequence

from bot.canvassing.queries import Listing
from bot.canvassing.rules import SESSION_LENGTH, WeekStats
from bot.kernel.actions import Action
from bot.kernel.i18n import Translator, format_local
from bot.kernel.messages import Button
from bot.lib.ics import Event, uid
from storage.models import Branch, CanvassSession, Person
from storage.vocabulary import GOING


def calendar_event(t: Translator, session: CanvassSession, branch: Branch, party: str) -> Event:
    """The session as a calendar app shows it (see ``bot.lib.ics``), in the language
    of the person who asked for it."""
    return Event(
        uid=uid("canvass", session.id),
        summary=t("{party}: canvassing with the {branch} branch", party=party, branch=branch.name),
        starts=session.starts_at,
        ends=session.starts_at + SESSION_LENGTH,
        location=session.meeting_point,
    )


def cancelled_notice(at: dt.datetime, tz: str) -> Callable[[Translator], str]:
    return lambda t: t(
        "The canvassing session {when} is cancelled.",
        when=format_local(at, "day_time", t, tz=tz),
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
        when = format_local(item.session.starts_at, "day_time", t, tz=branch.timezone)
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
    lines.append(t("Times are {tz} time.", tz=t.zone or branch.timezone))  # the reader's
    return "\n".join(lines), tuple(rows)


def promoted_notice(session: CanvassSession, branch: Branch) -> Callable[[Translator], str]:
    at, tz, point = session.starts_at, branch.timezone, session.meeting_point
    return lambda t: t(
        "A place opened up: you're now going canvassing {when} at {point}.",
        when=format_local(at, "day_time", t, tz=tz),
        point=point,
    )


def moved_notice(at: dt.datetime, tz: str, point: str) -> Callable[[Translator], str]:
    return lambda t: t(
        "The canvassing session {when} now meets at {point}.",
        when=format_local(at, "day_time", t, tz=tz),
        point=point,
    )


def here_listing(
    t: Translator, branch: Branch, sessions: Sequence[CanvassSession]
) -> tuple[list[str], list[tuple[Button, ...]]]:
    """The sessions under way that the person is going to, each with "I'm here"."""
    lines: list[str] = []
    rows: list[tuple[Button, ...]] = []
    for session in sessions:
        when = format_local(session.starts_at, "day_time", t, tz=branch.timezone)
        lines.append(
            t(
                "Under way now: {when} at {point}. Check in when you're there:",
                when=when,
                point=session.meeting_point,
            )
        )
        rows.append((Button(t("I'm here"), Action.CANVASS_HERE, str(session.id)),))
    return lines, rows


SHEET_COLUMNS = 4


def came_sheet(
    t: Translator,
    session: CanvassSession,
    branch: Branch,
    people: Sequence[Person],
    came: set[int],
    listed: int,
) -> tuple[str, tuple[tuple[Button, ...], ...]]:
    """/canvass came: the session's sign-up list as buttons, a tick on those who came
    (pressing a name marks them, again undoes it), and how many came."""
    lines = [
        t(
            "Who came canvassing {when}? Press the name of each person who came (again to undo).",
            when=format_local(session.starts_at, "day_time", t, tz=branch.timezone),
        ),
        t("So far: {came}.", came=t.plural("{n} person came", "{n} people came", len(came))),
    ]
    if listed > len(people):
        lines.append(t("Mark the others by short id or @handle: /canvass came <who>"))
    rows = tuple(
        tuple(
            Button(
                ("✓ " if p.id in came else "") + p.display_name[:40],
                Action.CANVASS_CAME,
                f"{session.id}.{p.id}",
            )
            for p in people[i : i + SHEET_COLUMNS]
        )
        for i in range(0, len(people), SHEET_COLUMNS)
    )
    return "\n".join(lines), rows


def stats_line(t: Translator, name: str, weeks: Sequence[WeekStats], people: int) -> str:
    """One branch's (or region's) last weeks in a line: sessions held, people who came,
    doors, conversations and the core now."""
    return t(
        "{name}: {sessions}, {people}, {doors} doors, {conversations} conversations; "
        "core now {core}.",
        name=name,
        sessions=t.plural("{n} session held", "{n} sessions held", sum(w.sessions for w in weeks)),
        people=t.plural("{n} person came", "{n} people came", people),
        doors=sum(w.doors for w in weeks),
        conversations=sum(w.conversations for w in weeks),
        core=weeks[-1].core if weeks else 0,
    )


def stats_labels(t: Translator) -> dict[str, str]:
    return {
        "doors": t("doors knocked"),
        "conversations": t("conversations"),
        "people": t("people who came"),
        "sessions": t("sessions held"),
        "core": t("the core (3 of the last 4 weeks)"),
    }


def chart(title: str, weeks: list[WeekStats], labels: dict[str, str], locale: str) -> bytes:
    """A PNG of a branch's weeks: doors and conversations above; people who came,
    sessions held and the core below, dated in ``locale``."""
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
    top.set_title(title)
    bottom.bar(x, [w.people for w in weeks], color="#8fb56a", label=labels["people"])
    bottom.plot(x, [w.core for w in weeks], color="#7a4f9a", marker="o", label=labels["core"])
    bottom.plot(
        x, [w.sessions for w in weeks], color="#555555", linestyle="--", label=labels["sessions"]
    )
    bottom.legend(loc="upper left")
    bottom.tick_params(axis="x", rotation=45)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def side_by_side(
    title: str, series: dict[str, list[WeekStats]], labels: dict[str, str], locale: str
) -> bytes:
    """A PNG of several branches (or regions) side by side: a line each for the people
    who came every week above, and for the core below."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 5.5))
    top, bottom = figure.subplots(2, 1, sharex=True)
    for name, weeks in series.items():
        x = [format_local(w.start, "day_month", locale) for w in weeks]
        top.plot(x, [w.people for w in weeks], marker="o", label=name[:30])
        bottom.plot(x, [w.core for w in weeks], marker="o", label=name[:30])
    top.set_title(title)
    top.set_ylabel(labels["people"])
    bottom.set_ylabel(labels["core"])
    if series:
        top.legend(loc="upper left", fontsize="small")
    bottom.tick_params(axis="x", rotation=45)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def summary(
    region: str, flagged: Sequence[tuple[str, bool, bool, int]], minimum: int
) -> Callable[[Translator], str]:
    """The weekly summary to a region's admins: each flagged branch (its name, no
    session for two weeks, core below ``minimum``, the core's size)."""

    def render(t: Translator) -> str:
        lines = [
            t("Canvassing in the {region} region: branches to look at this week", region=region)
        ]
        for name, idle, small, core in flagged:
            if idle:
                lines.append(
                    "• " + t("{branch}: no session held in the last two weeks.", branch=name)
                )
            if small:
                lines.append(
                    "• "
                    + t(
                        "{branch}: its core is {core}, below {minimum} (people who came at "
                        "least 3 of the last 4 weeks).",
                        branch=name,
                        core=core,
                        minimum=minimum,
                    )
                )
        lines.append(t("/canvass stats shows the region's branches side by side."))
        return "\n".join(lines)

    return render
