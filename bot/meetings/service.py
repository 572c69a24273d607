"""Branch meetings: an online call, a face-to-face meeting, or a local people's assembly.

Times are typed in the branch's own time zone (``bot.lib.when``) and kept in UTC. A
recurring series is one row per occurrence, sharing ``series_id`` (the first one's
id), each at the same local wall time across clock changes (``bot.lib.when.recurrences``).

Who may answer (and fetch the calendar file): for an online call or a face-to-face
meeting, the people of the branch (members and supporters) and the organisers and
admins over it; a people's assembly is open to every resident, so to anyone who has
agreed to the privacy notice ("guests"), in a branch or not.

Capacity: Going when the meeting is full puts a person on the waiting list; when
someone going changes to Maybe or Can't, the first waiting (first come, first served)
is let in and told. The meeting's row is locked while places are counted, so two people
taking the last place at once cannot both get it.

Reminders: see bot.meetings.reminders.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select

from bot.kernel.actions import Action
from bot.kernel.context import Context
from bot.kernel.i18n import Translator, format_local, translator
from bot.kernel.messages import Button
from bot.kernel.outbox import Recipients, enqueue, enqueue_for
from bot.kernel.permissions import holds_at_branch
from bot.kernel.waiting_list import WaitingList
from bot.lib.ics import Event, uid
from bot.lib.when import When, WhenError, read_when
from storage.models import Branch, BranchChat, Meeting, MeetingRsvp, Person
from storage.vocabulary import (
    ASSEMBLY,
    IN_PERSON,
    ONLINE,
    ORGANISER,
    RSVP_GOING,
    RSVP_MAYBE,
    RSVP_NO,
    RSVP_WAITING,
)

TITLE_LIMIT = 200
PLACE_LIMIT = 200
LINK_LIMIT = 500
MINUTES_LIMIT = 2000
CAPACITY_LIMIT = 1000
LINE_LIMIT = 900
DEFAULT_COUNT = {"weekly": 8, "monthly": 6}
MAX_COUNT = {"weekly": 52, "monthly": 24}
MAX_REMINDER_HOURS = 168  # a week
MAX_REMINDERS = 4
MAX_DATE_WORDS = 7

KIND_WORDS = {
    "online": ONLINE,
    "call": ONLINE,
    "in-person": IN_PERSON,
    "inperson": IN_PERSON,
    "in_person": IN_PERSON,
    "face-to-face": IN_PERSON,
    "f2f": IN_PERSON,
    "assembly": ASSEMBLY,
}
RULES = {"weekly": "weekly", "monthly": "monthly"}
CAPACITY_WORDS = {"cap", "capacity", "max", "places"}
ANSWERS = (RSVP_GOING, RSVP_MAYBE, RSVP_NO)

# A meeting's places: Going while there is room, then a waiting list (bot.kernel.waiting_list).
PLACES = WaitingList(
    MeetingRsvp,
    MeetingRsvp.meeting_id,
    MeetingRsvp.answer,
    MeetingRsvp.answered_at,
    RSVP_GOING,
    RSVP_WAITING,
)

LINK = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_TIMES = re.compile(r"[x×]([0-9]{1,3})|([0-9]{1,3})[x×]")
_TOKEN = re.compile(r"\"([^\"]*)\"?|“([^”]*)”?|(\S+)")

# Recipients (built once: see bot.kernel.outbox.Recipients).
GOING_TO = select(MeetingRsvp.person_id).where(
    MeetingRsvp.meeting_id == bindparam("r_meeting"), MeetingRsvp.answer == RSVP_GOING
)
# Everyone who answered but Can't: going, maybe, waiting.
ANSWERED = select(MeetingRsvp.person_id).where(
    MeetingRsvp.meeting_id == bindparam("r_meeting"), MeetingRsvp.answer != RSVP_NO
)
_ANY_ANSWER = select(MeetingRsvp.person_id).where(MeetingRsvp.meeting_id == bindparam("r_meeting"))
_BRANCH_PEOPLE = select(Person.id).where(Person.branch_id == bindparam("r_branch"))
_ONE = select(Person.id).where(Person.id == bindparam("r_person"))


def going_to(meeting: Meeting) -> Recipients:
    return Recipients(GOING_TO, {"r_meeting": meeting.id})


def answered(meeting: Meeting) -> Recipients:
    return Recipients(ANSWERED, {"r_meeting": meeting.id})


def anyone_who_answered(meeting: Meeting) -> Recipients:
    """Those who answered, "can't" included: a new time may suit them."""
    return Recipients(_ANY_ANSWER, {"r_meeting": meeting.id})


def one(person_id: int) -> Recipients:
    return Recipients(_ONE, {"r_person": person_id})


# --- reading one line ---------------------------------------------------------------


class LineError(ValueError):
    """A line the bot will not take: ``reason`` a short key, ``params`` the details;
    reason "when" carries the ``WhenError`` as ``error``."""

    def __init__(self, reason: str, **params: object) -> None:
        super().__init__(reason)
        self.reason = reason
        self.params = params


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    quoted: bool


@dataclass(frozen=True, slots=True)
class Draft:
    """A meeting as typed, before it is confirmed."""

    kind: str
    when: When
    place: str
    title: str | None
    capacity: int | None
    rule: str | None  # "weekly", "monthly" or None
    count: int


def _printable(text: str) -> str:
    return " ".join("".join(ch for ch in text if ch.isprintable()).split())


def tokenize(text: str) -> list[Token]:
    """Words, and "quoted phrases" (straight or curly quotes) as one token each."""
    tokens = []
    for match in _TOKEN.finditer(text):
        bare, straight, curly = match.group(3), match.group(1), match.group(2)
        if bare is not None:
            tokens.append(Token(_printable(bare), False))
        else:
            tokens.append(Token(_printable(straight if straight is not None else curly), True))
    return [t for t in tokens if t.text or t.quoted]


_NUMBERISH = re.compile(r"[-+\u2212]?\d*[.,]?\d+")


def _digits(word: str) -> bool:
    return word.isascii() and word.isdigit() and len(word) <= 6


def _options(tokens: list[Token]) -> tuple[list[Token], int | None, str | None, int | None]:
    """Strip ``cap N`` and ``weekly|monthly [xN]`` from the end of the line."""
    capacity: int | None = None
    rule: str | None = None
    count: int | None = None
    while tokens:
        words = [None if t.quoted else t.text.lower() for t in tokens]
        last = words[-1]
        before = words[-2] if len(words) > 1 else None
        times = _TIMES.fullmatch(last) if last is not None else None
        if rule is None and before in RULES and times is not None:
            rule, count = RULES[before], int(times.group(1) or times.group(2))
            tokens = tokens[:-2]
        elif rule is None and last in RULES:
            rule = RULES[last]
            tokens = tokens[:-1]
        elif capacity is None and before in CAPACITY_WORDS and last is not None and _digits(last):
            capacity = int(last)
            tokens = tokens[:-2]
        elif before in CAPACITY_WORDS and last is not None and _NUMBERISH.fullmatch(last):
            # "cap -3", "cap 3.5": a capacity meant and mistyped, refused with a hint,
            # never kept as the end of the title.
            raise LineError("capacity", n=CAPACITY_LIMIT)
        else:
            break
    if capacity is not None and not 1 <= capacity <= CAPACITY_LIMIT:
        raise LineError("capacity", n=CAPACITY_LIMIT)
    if rule is not None:
        if count is None:
            count = DEFAULT_COUNT[rule]
        if not 1 <= count <= MAX_COUNT[rule]:
            raise LineError("count", n=MAX_COUNT[rule])
    return tokens, capacity, rule, count


def _read_date(tokens: list[Token], now: dt.datetime, tz: ZoneInfo) -> tuple[When, int]:
    """The date and time at the start of ``tokens``, and how many tokens it took:
    the longest run of words that reads as one (so "next tue 19:00" is not cut short),
    without trailing words that change nothing ("at", "the")."""
    specific: WhenError | None = None
    last: WhenError | None = None
    for n in range(min(len(tokens), MAX_DATE_WORDS), 0, -1):
        prefix = tokens[:n]
        if any(t.quoted for t in prefix):
            continue
        try:
            when = read_when(" ".join(t.text for t in prefix), now, tz)
        except WhenError as exc:
            last = exc
            if specific is None and exc.reason != "unreadable":
                specific = exc
            continue
        while n > 1:
            try:
                shorter = read_when(" ".join(t.text for t in tokens[: n - 1]), now, tz)
            except WhenError:
                break
            if shorter.at != when.at:
                break
            n -= 1
        return when, n
    error = specific or last
    if error is None:
        raise LineError("no_when")
    raise LineError("when", error=error)


def _place_and_title(kind: str, tokens: list[Token]) -> tuple[str, str | None]:
    if kind == ONLINE:
        link = next((t for t in tokens if LINK.fullmatch(t.text)), None)
        if link is None:
            raise LineError("link")
        place = link.text
        title = " ".join(t.text for t in tokens if t is not link)
        if len(place) > LINK_LIMIT:
            raise LineError("place_too_long", n=LINK_LIMIT)
    elif not tokens:
        raise LineError("no_place")
    elif tokens[0].quoted:
        place, title = tokens[0].text, " ".join(t.text for t in tokens[1:])
    else:
        words = tokens[1:] if len(tokens) > 1 and tokens[0].text.lower() in ("at", "@") else tokens
        place, title = " ".join(t.text for t in words), ""
    if not place:
        raise LineError("no_place")
    if len(place) > PLACE_LIMIT and kind != ONLINE:
        raise LineError("place_too_long", n=PLACE_LIMIT)
    if len(title) > TITLE_LIMIT:
        raise LineError("title_too_long", n=TITLE_LIMIT)
    return place, title or None


def parse_line(text: str, now: dt.datetime, tz: ZoneInfo) -> Draft:
    """``<kind> <date and time> <link or place> [title] [cap N] [weekly|monthly [xN]]``.

    The place of a face-to-face meeting or an assembly is the rest of the line, or a
    "quoted phrase" followed by the title; an online call's link is any word that is a
    link, the other words its title. Raises ``LineError``."""
    if len(text) > LINE_LIMIT:
        raise LineError("too_long")
    tokens = tokenize(text)
    kind = KIND_WORDS.get(tokens[0].text.lower()) if tokens and not tokens[0].quoted else None
    if kind is None:
        raise LineError("kind")
    rest, capacity, rule, count = _options(tokens[1:])
    when, used = _read_date(rest, now, tz)
    place, title = _place_and_title(kind, rest[used:])
    return Draft(kind, when, place, title, capacity, rule, count or 1)


def parse_kind(word: str) -> str | None:
    return KIND_WORDS.get(word.lower())


def reminder_hours(setting: str) -> list[int]:
    """The hours of a branch's ``meeting_reminders`` ("24,1"), largest first; what
    cannot be read is ignored."""
    hours = {int(w.strip()) for w in setting.split(",") if _digits(w.strip())}
    return sorted((h for h in hours if 1 <= h <= MAX_REMINDER_HOURS), reverse=True)


def parse_reminder_hours(text: str) -> list[int] | None:
    """ "48,2" or "48 2" -> [48, 2]; "off" -> []; None if it is not that."""
    if text.lower() in ("off", "none"):
        return []
    words = [w for w in re.split(r"[\s,]+", text) if w]
    if not words or len(words) > MAX_REMINDERS or not all(_digits(w) for w in words):
        return None
    hours = {int(w) for w in words}
    if not all(1 <= h <= MAX_REMINDER_HOURS for h in hours):
        return None
    return sorted(hours, reverse=True)


# --- words -------------------------------------------------------------------------


def kind_label(t: Translator, kind: str) -> str:
    labels = {
        ONLINE: t("online call"),
        IN_PERSON: t("face-to-face meeting"),
        ASSEMBLY: t("people's assembly"),
    }
    return labels.get(kind, kind)


def default_title(t: Translator, kind: str, branch: Branch) -> str:
    if kind == ONLINE:
        return t("{branch} branch call", branch=branch.name)
    if kind == ASSEMBLY:
        return t("{branch} people's assembly", branch=branch.name)
    return t("{branch} branch meeting", branch=branch.name)


def where_line(t: Translator, kind: str, place: str) -> str:
    if kind == ONLINE:
        return t("Link: {link}", link=place)
    return t("Place: {place}", place=place)


def answer_buttons(t: Translator, meeting_id: int) -> list[list[Button]]:
    mid = str(meeting_id)
    return [
        [
            Button(t("Going"), Action.MEETING_GOING, mid),
            Button(t("Maybe"), Action.MEETING_MAYBE, mid),
            Button(t("Can't"), Action.MEETING_NO, mid),
        ],
        [Button(t("Calendar (.ics)"), Action.MEETING_ICS, mid)],
    ]


def when_problem(t: Translator, error: WhenError) -> str:
    """A friendly sentence for a date or time that ``read_when`` refused."""
    p = error.params
    examples = "2026-12-03 19:00, tomorrow 19:00, next tue 19:00"
    if error.reason == "unreadable" and p.get("word"):
        return t(
            "I could not read “{word}” as part of a date or time. Try, for example: {examples}.",
            word=p["word"],
            examples=examples,
        )
    if error.reason == "no_time":
        return t("Please add the time of day, for example 19:00 or 7pm.")
    if error.reason == "ambiguous":
        return t(
            "“{text}” could be read two ways; please write the date as 2026-12-03 or 3 Dec.",
            text=p.get("text", ""),
        )
    if error.reason == "no_such_date":
        year = p.get("year")
        date = f"{p.get('day')}/{p.get('month')}" + (f"/{year}" if year else "")
        return t("There is no such day as {date}.", date=date)
    if error.reason == "no_such_time":
        return t(
            "There is no such time as {time}.", time=f"{p.get('hour')}:{p.get('minute', 0):02}"
        )
    moment = p.get("local")
    shown = format_local(moment, "datetime", t.locale) if isinstance(moment, dt.datetime) else ""
    if error.reason == "past":
        return t("{when} has already passed; please give a time still to come.", when=shown)
    if error.reason == "too_far":
        return t(
            "{when} is more than {years} years ahead; please choose a nearer date.",
            when=shown,
            years=p.get("years", 2),
        )
    if error.reason == "gap":
        return t(
            "{when} does not exist in {tz}: the clocks go forward then. Please choose "
            "another time.",
            when=shown,
            tz=p.get("tz", ""),
        )
    return t("Please give a date and time, for example: {examples}.", examples=examples)


# --- answers -----------------------------------------------------------------------


async def may_answer(ctx: Context, meeting: Meeting, branch: Branch) -> bool:
    """People of the branch and its organisers (and admins above); anyone who agreed
    to the privacy notice for an assembly."""
    person = ctx.person
    if person is None:
        return False
    if meeting.kind == ASSEMBLY or person.branch_id == branch.id:
        return True
    return holds_at_branch(await ctx.grants(), ORGANISER, branch)


async def answer(
    ctx: Context, meeting: Meeting, person_id: int, wanted: str
) -> tuple[str, list[int]]:
    """Record the person's answer: (their answer now, the ids let in from the waiting
    list). Going to a full meeting is waiting; leaving a place lets the first waiting in."""
    await ctx.session.refresh(meeting, with_for_update=True)
    row = await ctx.session.scalar(
        select(MeetingRsvp).where(
            MeetingRsvp.meeting_id == meeting.id, MeetingRsvp.person_id == person_id
        )
    )
    previous = row.answer if row is not None else None
    if wanted == RSVP_GOING:
        if previous in (RSVP_GOING, RSVP_WAITING):
            return str(previous), []
        status = await PLACES.place_for(ctx.session, meeting.id, meeting.capacity)
    else:
        status = wanted
    if status == previous:
        return status, []
    if row is None:
        ctx.session.add(
            MeetingRsvp(
                meeting_id=meeting.id, person_id=person_id, answer=status, answered_at=ctx.now
            )
        )
    else:
        row.answer = status
        row.answered_at = ctx.now
    await ctx.session.flush()
    promoted = await promote_waiting(ctx, meeting) if previous == RSVP_GOING else []
    return status, promoted


async def promote_waiting(ctx: Context, meeting: Meeting) -> list[int]:
    """Let people in from the waiting list into free places, first come first served;
    the ids of those let in. (The caller holds the meeting's row lock.)"""
    return await PLACES.promote(ctx.session, meeting.id, meeting.capacity)


# --- telling people ----------------------------------------------------------------


def promoted_notice(meeting: Meeting, branch: Branch) -> Callable[[Translator], str]:
    at, tz, kind, place, title = (
        meeting.starts_at,
        branch.timezone,
        meeting.kind,
        meeting.place,
        meeting.title,
    )
    return lambda t: (
        t(
            "A place opened up: you're now going to {title}, {when}.",
            title=title,
            when=format_local(at, "datetime_zone", t.locale, tz=tz),
        )
        + "\n"
        + where_line(t, kind, place)
    )


async def tell(
    ctx: Context,
    who: Recipients,
    key: str,
    render: Callable[[Translator], str],
    buttons: Callable[[Translator], Sequence[Sequence[Button]]] | None = None,
) -> None:
    """Queue a message for each of ``who`` but the person being answered."""
    await enqueue_for(
        ctx.session,
        who,
        key=key,
        render=render,
        now=ctx.now,
        exclude_id=ctx.person.id if ctx.person is not None else None,
        buttons=buttons,
    )


async def announce(
    ctx: Context,
    branch: Branch,
    key: str,
    render: Callable[[Translator], str],
    buttons: Callable[[Translator], Sequence[Sequence[Button]]],
) -> None:
    """Like ``bot.kernel.effects.announce``, with buttons: to the branch's linked group chats
    if it has any (in the party's language), else to each of its people privately."""
    chats = list(
        await ctx.session.scalars(select(BranchChat.id).where(BranchChat.branch_id == branch.id))
    )
    if not chats:
        await tell(ctx, Recipients(_BRANCH_PEOPLE, {"r_branch": branch.id}), key, render, buttons)
        return
    t = translator(ctx.settings.default_locale)
    for chat_id in chats:
        await enqueue(
            ctx.session,
            key=f"{key}:chat{chat_id}",
            text=render(t),
            now=ctx.now,
            branch_chat_id=chat_id,
            buttons=buttons(t),
        )


# --- calendar ----------------------------------------------------------------------


def calendar_event(meeting: Meeting, branch: Branch, party: str) -> Event:
    """The meeting as a calendar app shows it (see ``bot.lib.ics``): its UID stays the
    same through edits and its SEQUENCE counts them, so an app updates the event."""
    return Event(
        uid=uid("meeting", meeting.id),
        summary=meeting.title,
        starts=meeting.starts_at,
        ends=meeting.starts_at + dt.timedelta(minutes=meeting.minutes_long or 120),
        sequence=max(meeting.version - 1, 0),
        location=meeting.place,
        url=meeting.place if meeting.kind == ONLINE else None,
        description=f"{party}: {branch.name}",
        cancelled=meeting.cancelled_at is not None,
    )
