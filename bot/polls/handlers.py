"""Polls: /poll, voting buttons, secret ballots, closing and results.

    /poll                                  open polls you can vote in
    /poll "Question?" "A" "B" ["C" ...] [--multi | --ranked | --times] [--secret]
          [--live] [--closes <date and time>] [--everyone]
          [--scope branch|region|national] [--branch <name>]
    /poll close|results|audit|export <id>

An organiser's poll is shown as a preview (with who may vote and when it
closes) before it is posted. Posting writes the electoral roll and sends the
poll to the scope's linked chats, or to each voter privately where a branch has
none. See :mod:`bot.polls` for the rules that keep one vote per person.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shlex
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, select

from bot.branches.handlers import require_staff
from bot.branches.queries import search
from bot.kernel.actions import Action
from bot.kernel.context import Context, Refusal, parse_id
from bot.kernel.effects import audit
from bot.kernel.i18n import N_, Translator, format_local, translator
from bot.kernel.messages import Attachment, Button, Reply
from bot.kernel.outbox import Recipients, enqueue, enqueue_for
from bot.kernel.permissions import holds_at_branch, holds_at_region, holds_nationally, is_member
from bot.kernel.registry import action, command
from bot.lib.when import WhenError, read_wall_text, read_when, wall_text
from bot.meetings.texts import when_problem
from bot.polls import ballot_box
from bot.polls.casting import cast_open, cast_secret
from bot.polls.closing import close
from bot.polls.queries import (
    Place,
    ballots_of,
    my_choice,
    open_roll,
    poll_for_vote,
    roll_entry,
    roll_query,
    scope_branches,
    scope_timezone,
    turnout,
)
from bot.polls.rules import (
    DEFAULT_OPEN_FOR,
    MAX_OPTIONS,
    RANK_DIGITS,
    check_choice,
    count,
    decode_mask,
    decode_ranking,
    encode_mask,
    encode_ranking,
)
from bot.polls.texts import chart, export_csv, meeting_buttons, option_label, result_text
from storage.models import Branch, BranchChat, Person, Poll, PollVoter, Region
from storage.vocabulary import (
    ADMIN,
    MULTI,
    NATIONAL_SCOPE_ID,
    ORGANISER,
    RANKED,
    SCOPE_BRANCH,
    SCOPE_NATIONAL,
    SCOPE_REGION,
    SINGLE,
    TIMES,
)

MAX_QUESTION = 300
MAX_OPTION = 100
KINDS = {"--multi": MULTI, "--ranked": RANKED, "--times": TIMES}
SWITCHES = {"--secret", "--live", "--everyone"}
VALUED = {"--closes", "--scope", "--branch"}
TIMES_CLOSE_BEFORE = dt.timedelta(days=1)  # a --times poll closes this long before its first time
POLL_USAGE = (
    '"Question?" "Option A" "Option B" [--multi|--ranked|--times] [--secret] [--live] '
    "[--closes <date time>] [--everyone] [--scope branch|region|national]"
)


# --- Posting ------------------------------------------------------------------------


class _Draft:
    def __init__(self) -> None:
        self.question = ""
        self.options: list[str] = []
        self.kind = SINGLE
        self.flags: set[str] = set()
        self.closes = ""
        self.scope = SCOPE_BRANCH
        self.branch = ""


def _parse(ctx: Context, text: str) -> _Draft:
    cleaned = text.replace("“", '"').replace("”", '"').replace("‘", "'").replace("’", "'")
    try:
        words = shlex.split(cleaned)
    except ValueError:
        raise ctx.refuse(
            ctx.t("A quotation mark is missing. Put the question and each option in quotes.")
        ) from None
    draft = _Draft()
    plain: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word.startswith("--"):
            flag = word.lower()
            if flag in KINDS:
                if draft.kind != SINGLE:
                    raise ctx.refuse(ctx.t("Choose one of --multi, --ranked and --times."))
                draft.kind = KINDS[flag]
            elif flag in SWITCHES:
                draft.flags.add(flag)
            elif flag in VALUED:
                values = []
                while i + 1 < len(words) and not words[i + 1].startswith("--"):
                    i += 1
                    values.append(words[i])
                if not values:
                    raise ctx.refuse(ctx.t("{flag} needs a value.", flag=flag))
                if flag == "--closes":
                    draft.closes = " ".join(values)
                elif flag == "--scope":
                    draft.scope = values[0].lower()
                else:
                    draft.branch = " ".join(values)
            else:
                raise ctx.refuse(
                    ctx.t(
                        "I don't know the option {flag}. Send /help to see the others.",
                        flag=word[:30],
                    )
                )
        else:
            plain.append(word.strip())
        i += 1
    if draft.scope not in (SCOPE_BRANCH, SCOPE_REGION, SCOPE_NATIONAL):
        raise ctx.refuse(ctx.t("--scope is one of branch, region and national."))
    if len(plain) < 3 or not all(plain):
        raise ctx.refuse(
            ctx.t(
                "A poll needs a question and at least two options, each in quotes: "
                '/poll "Question?" "Option A" "Option B"'
            )
        )
    draft.question, draft.options = plain[0], plain[1:]
    if len(draft.question) > MAX_QUESTION:
        raise ctx.refuse(
            ctx.t("The question is too long (at most {n} characters).", n=MAX_QUESTION)
        )
    if len(draft.options) > MAX_OPTIONS:
        raise ctx.refuse(ctx.t("At most {n} options, please.", n=MAX_OPTIONS))
    if any(len(o) > MAX_OPTION for o in draft.options):
        raise ctx.refuse(ctx.t("Each option can be at most {n} characters.", n=MAX_OPTION))
    if len({o.casefold() for o in draft.options}) != len(draft.options):
        raise ctx.refuse(ctx.t("Two options are the same."))
    if "--secret" in draft.flags and "--live" in draft.flags:
        raise ctx.refuse(
            ctx.t("A secret ballot's results stay hidden until it closes, so it cannot be --live.")
        )
    return draft


async def _scope_of(ctx: Context, draft: _Draft) -> tuple[str, int, str, str]:
    """(scope, scope id, its name, its time zone), checking the poster may post there."""
    person = ctx.require_person()
    grants = await ctx.grants()
    branch: Branch | None = None
    if draft.branch:
        exact, found = await search(ctx, draft.branch)
        branch = exact or (found[0] if len(found) == 1 else None)
        if branch is None:
            raise ctx.refuse(ctx.t("I cannot find the branch {name}.", name=draft.branch[:60]))
    elif person.branch_id is not None:
        branch = await ctx.session.get(Branch, person.branch_id)
    if draft.scope == SCOPE_NATIONAL:
        if not holds_nationally(grants, ORGANISER):
            raise ctx.refuse(
                ctx.t("Only national organisers and admins can poll the whole party."),
                audit="poll",
            )
        return (
            SCOPE_NATIONAL,
            NATIONAL_SCOPE_ID,
            ctx.t("the whole party"),
            ctx.settings.default_timezone,
        )
    if branch is None:
        raise ctx.refuse(
            ctx.t("You are in no branch. Name one with --branch, or use --scope national.")
        )
    if draft.scope == SCOPE_REGION:
        region = await ctx.session.get(Region, branch.region_id) if branch.region_id else None
        if region is None:
            raise ctx.refuse(ctx.t("The {branch} branch is in no region yet.", branch=branch.name))
        if not holds_at_region(grants, ORGANISER, region.id):
            raise ctx.refuse(
                ctx.t(
                    "Only the organisers and admins of {region} can poll the region.",
                    region=region.name,
                ),
                audit="poll",
            )
        return SCOPE_REGION, region.id, region.name, ctx.settings.default_timezone
    await require_staff(ctx, branch, (ORGANISER,), "poll")
    return SCOPE_BRANCH, branch.id, branch.name, branch.timezone


async def _preview(ctx: Context, text: str) -> Reply:
    draft = _parse(ctx, text)
    scope, scope_id, name, tz = await _scope_of(ctx, draft)
    zone = ZoneInfo(tz)
    if draft.closes:
        try:
            closes = read_when(draft.closes, ctx.now, zone).at
        except WhenError as exc:
            raise ctx.refuse(
                ctx.t("--closes: {problem}", problem=when_problem(ctx.t, exc))
            ) from None
    else:
        closes = ctx.now + DEFAULT_OPEN_FOR
    options = draft.options
    if draft.kind == TIMES:
        times = []
        for option in options:
            try:
                times.append(read_when(option, ctx.now, zone))
            except WhenError as exc:
                raise ctx.refuse(
                    ctx.t(
                        "“{option}”: {problem}",
                        option=option[:40],
                        problem=when_problem(ctx.t, exc),
                    )
                ) from None
        options = [wall_text(t.local) for t in sorted(times, key=lambda w: w.at)]
        if len(set(options)) != len(options):
            raise ctx.refuse(ctx.t("Two options are the same."))
        # A poll about when to meet closes before the first of its times has passed:
        # by default a day before it (half-way there when that leaves under an hour).
        earliest = min(t.at for t in times)
        if draft.closes and closes >= earliest:
            raise ctx.refuse(
                ctx.t(
                    "--closes: the poll must close before its earliest time, {when}.",
                    when=format_local(earliest, "day_time_year_zone", ctx.t.locale, tz=tz),
                )
            )
        if not draft.closes:
            before = earliest - TIMES_CLOSE_BEFORE
            if before <= ctx.now + TIMES_CLOSE_BEFORE / 24:
                before = ctx.now + (earliest - ctx.now) / 2  # too soon for a day's notice
            closes = min(closes, before)
    branches = await scope_branches(ctx.session, scope, scope_id)
    national = ctx.settings.default_timezone if scope == SCOPE_NATIONAL else None
    roll = roll_query(
        branches, ctx.now, "--everyone" in draft.flags, national_timezone=national
    ).subquery()
    voters = int(await ctx.session.scalar(select(func.count()).select_from(roll)) or 0)
    prompt = await ctx.prompt(
        "poll",
        scope=scope,
        scope_id=scope_id,
        question=draft.question,
        options=options,
        poll_kind=draft.kind,
        flags=sorted(draft.flags),
        closes=closes.isoformat(),
    )
    who = (
        ctx.t("members with current dues")
        if "--everyone" not in draft.flags
        else ctx.t("members and supporters")
    )
    kind = {
        SINGLE: ctx.t("one choice"),
        MULTI: ctx.t("any number of choices"),
        RANKED: ctx.t("ranked choices, counted by instant runoff"),
        TIMES: ctx.t("the times people can make"),
    }[draft.kind]
    lines = [
        ctx.t("Preview of your poll:"),
        draft.question,
        *(f"{i + 1}. {o}" for i, o in enumerate(options)),
        ctx.t(
            "Voting: {kind}; {secrecy}.",
            kind=kind,
            secrecy=ctx.t("secret ballot") if "--secret" in draft.flags else ctx.t("open ballot"),
        ),
        ctx.t("Who votes: the {n} {who} of {scope}, as of now.", n=voters, who=who, scope=name),
        ctx.t(
            "Closes: {when}.", when=format_local(closes, "day_time_year_zone", ctx.t.locale, tz=tz)
        ),
    ]
    return Reply(
        "\n".join(lines),
        buttons=(
            (
                Button(ctx.t("Post it"), Action.POLL_POST, str(prompt.id)),
                Button(ctx.t("Cancel"), Action.POLL_CANCEL, str(prompt.id)),
            ),
        ),
        private=True,
    )


_BRANCH_ROLL = (
    select(PollVoter.person_id)
    .join(Person, Person.id == PollVoter.person_id)
    .where(PollVoter.poll_id == bindparam("r_poll"), Person.branch_id == bindparam("r_branch"))
)


_UNBRANCHED_ROLL = (
    select(PollVoter.person_id)
    .join(Person, Person.id == PollVoter.person_id)
    .where(PollVoter.poll_id == bindparam("r_poll"), Person.branch_id.is_(None))
)


def poll_text(t: Translator, poll: Poll, tz: str) -> str:
    lines = [t("Poll: {question}", question=poll.question)]
    lines += [f"{i + 1}. {option_label(poll, i, t.locale)}" for i in range(len(poll.options))]
    how = {
        SINGLE: t("Choose one."),
        MULTI: t("Choose all you support."),
        RANKED: t("Rank the options in order of preference."),
        TIMES: t("Choose every time you can make."),
    }[poll.kind]
    lines.append(how)
    if poll.secret:
        lines.append(
            t("Secret ballot: nobody can see how you voted, and a vote cannot be changed.")
        )
    if poll.closes_at is not None:
        lines.append(
            t(
                "Closes {when}.",
                when=format_local(poll.closes_at, "day_time_year_zone", t.locale, tz=tz),
            )
        )
    return "\n".join(lines)


def poll_buttons(t: Translator, poll: Poll, tz: str) -> tuple[tuple[Button, ...], ...]:
    if poll.kind == SINGLE and not poll.secret:
        rows = [
            (Button(option_label(poll, i, t.locale)[:60], Action.POLL_VOTE, f"{poll.id}.{i}"),)
            for i in range(len(poll.options))
        ]
        if poll.live:
            rows.append((Button(t("Results so far"), Action.POLL_RESULTS, str(poll.id)),))
        return tuple(rows)
    return ((Button(t("Vote"), Action.POLL_OPEN, str(poll.id)),),)


@action(Action.POLL_POST)
async def post(ctx: Context, target: str) -> list[Reply]:
    prompt = await ctx.take_prompt(target, "poll", audit="pollpost")
    person = ctx.require_person()
    data = prompt.payload
    scope, scope_id = str(data["scope"]), int(data["scope_id"])
    # The roles may have changed since the preview.
    if not await _organises(ctx, scope, scope_id):
        raise ctx.refuse(ctx.t("You can no longer post polls there."), audit="pollpost")
    branches = await scope_branches(ctx.session, scope, scope_id)
    closes_at = dt.datetime.fromisoformat(str(data["closes"]))
    if closes_at <= ctx.now:
        raise ctx.refuse(
            ctx.t("This preview's closing time has passed; please send the poll again.")
        )
    flags = set(data.get("flags") or [])
    poll = Poll(
        scope=scope,
        scope_id=scope_id,
        question=str(data["question"]),
        options=list(data["options"]),
        kind=str(data["poll_kind"]),
        secret="--secret" in flags,
        everyone="--everyone" in flags,
        live="--live" in flags,
        opened_at=ctx.now,
        closes_at=closes_at,
        created_by=person.id,
    )
    ctx.session.add(poll)
    await ctx.session.flush()
    voters = await open_roll(ctx.session, poll, branches, ctx.settings.default_timezone)
    tz = await scope_timezone(ctx.session, ctx.settings, poll)
    await _publish(ctx, poll, branches, tz)
    audit(ctx, "poll.posted", poll=poll.id, scope=scope, voters=voters)
    return [
        Reply(
            ctx.t(
                "Posted (poll {id}): {n} people can vote. /poll audit {id} shows the turnout; "
                "/poll close {id} closes it early.",
                id=poll.id,
                n=voters,
            ),
            edit=True,
        )
    ]


async def _publish(ctx: Context, poll: Poll, branches: list[Branch], tz: str) -> None:
    """To each linked chat of the scope; privately to the voters of branches without one."""
    chats = list(
        await ctx.session.scalars(
            select(BranchChat).where(BranchChat.branch_id.in_([b.id for b in branches]))
        )
    )
    party_t = translator(ctx.settings.default_locale)
    for chat in chats:
        await enqueue(
            ctx.session,
            key=f"poll:{poll.id}:chat:{chat.id}",
            text=poll_text(party_t, poll, tz),
            buttons=poll_buttons(party_t, poll, tz),
            now=ctx.now,
            branch_chat_id=chat.id,
        )
    linked = {c.branch_id for c in chats}
    groups = [
        Recipients(_BRANCH_ROLL, {"r_poll": poll.id, "r_branch": b.id})
        for b in branches
        if b.id not in linked
    ]
    if poll.scope == SCOPE_NATIONAL:
        groups.append(Recipients(_UNBRANCHED_ROLL, {"r_poll": poll.id}))
    for who in groups:
        await enqueue_for(
            ctx.session,
            who,
            key=f"poll:{poll.id}",
            render=lambda tr: poll_text(tr, poll, tz),
            buttons=lambda tr: poll_buttons(tr, poll, tz),
            now=ctx.now,
            exclude_id=ctx.person.id if ctx.person else None,
        )


@action(Action.POLL_CANCEL)
async def cancel(ctx: Context, target: str) -> Reply:
    await ctx.take_prompt(target, "poll")
    return Reply(ctx.t("Cancelled: the poll was not posted."), edit=True)


# --- Voting -------------------------------------------------------------------------


async def _poll_from(ctx: Context, text: str) -> Poll:
    """The poll a button names, or a stale-button refusal."""
    poll_id = parse_id(text)
    poll = await ctx.session.get(Poll, poll_id) if poll_id is not None else None
    if poll is None:
        raise ctx.stale()
    return poll


@dataclass(frozen=True, slots=True)
class _Voting:
    """What a press of a ballot's button loads (:func:`bot.polls.queries.poll_for_vote`)."""

    poll: Poll
    tz: str  # the poll's time zone
    place: Place  # the presser's roll entry, and whether a ballot of theirs is in


async def _poll_to_vote(ctx: Context, text: str) -> _Voting:
    """The poll a ballot's button names, share-locked, with what a vote needs to
    know of the presser, in one query; or a stale-button refusal."""
    poll_id = parse_id(text)
    found = (
        await poll_for_vote(ctx.session, poll_id, ctx.person.id if ctx.person else None)
        if poll_id is not None
        else None
    )
    if found is None:
        raise ctx.stale()
    poll, branch_tz, place = found
    return _Voting(poll, branch_tz or ctx.settings.default_timezone, place)


@dataclass(frozen=True, slots=True)
class _Voter:
    person: Person
    tz: str  # the poll's time zone
    place: Place

    @property
    def voted(self) -> bool:
        return self.place[0] is not None and self.place[0].voted


async def _may_vote(ctx: Context, voting: _Voting) -> _Voter:
    """The voter, or a private refusal saying why not.

    The poll was loaded share-locked (:func:`_poll_to_vote`), so its row stays
    locked for the rest of the vote: a close (which updates it) waits for this
    vote and counts it, or has already happened and is seen here.
    """
    person = ctx.require_person()
    poll, tz, place = voting.poll, voting.tz, voting.place
    on_roll = place[0] is not None
    if not on_roll:
        branches = {b.id for b in await scope_branches(ctx.session, poll.scope, poll.scope_id)}
        if person.branch_id not in branches:
            # Another part of the party's poll: a forged button, told nothing (not
            # even that the poll exists, or when it closed).
            raise ctx.stale(audit="poll.forged")
    if poll.closed_at is not None or (poll.closes_at is not None and poll.closes_at <= ctx.now):
        raise _private(
            ctx,
            ctx.t(
                "This poll closed on {when}.",
                when=format_local(
                    poll.closed_at or poll.closes_at or ctx.now,
                    "day_time_year_zone",
                    ctx.t.locale,
                    tz=tz,
                ),
            ),
        )
    if on_roll:
        return _Voter(person, tz, place)
    if person.joined_branch_at is not None and person.joined_branch_at > poll.opened_at:
        why = ctx.t(
            "Who may vote was fixed when the poll opened ({when}); you joined after that.",
            when=format_local(poll.opened_at, "day_time_year_zone", ctx.t.locale, tz=tz),
        )
    elif not poll.everyone and not is_member(person, ctx.now, tz):
        why = ctx.t(
            "Only members with current dues vote in this poll. Your branch's treasurer "
            "can record your dues."
        )
    else:
        why = ctx.t(
            "Who may vote was fixed when the poll opened ({when}); your dues were not "
            "current then.",
            when=format_local(poll.opened_at, "day_time_year_zone", ctx.t.locale, tz=tz),
        )
    raise _private(ctx, why)


def _private(ctx: Context, text: str) -> Refusal:
    """A refusal said only to the person (never in the group where they pressed)."""
    return Refusal(Reply(text, error=True, private=True))


async def _cast(ctx: Context, voting: _Voting, choice: list[int]) -> Reply:
    voter = await _may_vote(ctx, voting)
    poll, person, tz = voting.poll, voter.person, voter.tz
    valid = check_choice(poll, choice)
    if valid is None:
        raise ctx.stale()
    labels = ", ".join(option_label(poll, i, ctx.t.locale) for i in valid)
    if poll.secret:
        if not await cast_secret(ctx.session, poll, person, valid, ctx.settings):
            raise _private(
                ctx,
                ctx.t(
                    "You have already voted in this secret ballot; a secret vote cannot be changed."
                ),
            )
        return Reply(
            ctx.t("Your secret ballot is cast. Nobody can see how you voted."),
            private=True,
            edit=True,
        )
    changed = await cast_open(ctx.session, poll, person, valid, ctx.now, voter.place)
    text = (
        ctx.t("Your vote is changed to: {choice}.", choice=labels)
        if changed
        else ctx.t("Your vote is recorded: {choice}.", choice=labels)
    )
    if poll.closes_at is not None:
        text += "\n" + ctx.t(
            "You can change it until the poll closes, {when}.",
            when=format_local(poll.closes_at, "day_time_year_zone", ctx.t.locale, tz=tz),
        )
    return Reply(text, private=True)


@action(Action.POLL_VOTE)
async def vote_single(ctx: Context, target: str) -> Reply:
    poll_text_id, _, option = target.partition(".")
    voting = await _poll_to_vote(ctx, poll_text_id)
    poll = voting.poll
    if poll.kind != SINGLE or poll.secret or not (option.isascii() and option.isdigit()):
        raise ctx.stale()
    return await _cast(ctx, voting, [int(option[:3])])


def _data(ctx: Context, poll: Poll, person: Person, payload: str) -> str:
    """A ballot button's payload (a mask or a ranking) as the platform sees it:
    in a secret ballot, a token only this voter's press opens
    (:meth:`bot.polls.ballot_box.BallotBox.token`), so the platform cannot compare
    one voter's data with another's, nor read a choice from them."""
    if not poll.secret:
        return f"{poll.id}.{payload}"
    token = ballot_box.box(ctx.settings, ctx.session).token(poll.id, person.id, payload)
    return f"{poll.id}.{token}"


def _payload(ctx: Context, poll: Poll, data: str) -> str | None:
    """The payload of a ballot button pressed by this person (None: not theirs)."""
    if not poll.secret:
        return data
    person = ctx.require_person()
    return ballot_box.box(ctx.settings, ctx.session).untoken(poll.id, person.id, data)


def _ballot(ctx: Context, poll: Poll, tz: str, picked: list[int], person: Person) -> Reply:
    """The private ballot: toggles (one/any choice) or a ranking being built."""
    lines = [poll_text(ctx.t, poll, tz)]
    rows: list[tuple[Button, ...]] = []
    if poll.kind == RANKED:
        if picked:
            lines.append(ctx.t("Your ranking so far:"))
            lines += [
                f"{n}. {option_label(poll, i, ctx.t.locale)}" for n, i in enumerate(picked, 1)
            ]
            lines.append(ctx.t("Press your next choice, or cast your vote."))
        else:
            lines.append(ctx.t("Press your first choice."))
        ranking = encode_ranking(picked)
        for i in range(len(poll.options)):
            if i not in picked:
                rows.append(
                    (
                        Button(
                            option_label(poll, i, ctx.t.locale)[:60],
                            Action.POLL_RANK,
                            _data(ctx, poll, person, f"{ranking}{RANK_DIGITS[i]}"),
                        ),
                    )
                )
        payload = ranking
        reset = Button(ctx.t("Start again"), Action.POLL_RANK, _data(ctx, poll, person, ""))
    else:
        for i in range(len(poll.options)):
            chosen = i in picked
            if poll.kind == SINGLE:
                after = [] if chosen else [i]
            else:
                after = [j for j in picked if j != i] if chosen else [*picked, i]
            mark = "☑" if chosen else "☐"
            rows.append(
                (
                    Button(
                        f"{mark} {option_label(poll, i, ctx.t.locale)}"[:60],
                        Action.POLL_TOGGLE,
                        _data(ctx, poll, person, encode_mask(after)),
                    ),
                )
            )
        payload = encode_mask(picked)
        # Not "pm" with the empty mask: with one option ticked, unticking it is that
        # same press, and Discord refuses a message whose buttons repeat their data.
        reset = Button(ctx.t("Clear"), Action.POLL_CLEAR, str(poll.id))
    if picked:
        rows.append(
            (
                Button(ctx.t("Cast my vote"), Action.POLL_CAST, _data(ctx, poll, person, payload)),
                reset,
            )
        )
    return Reply("\n".join(lines), buttons=tuple(rows), private=True, edit=True)


async def _already_voted(ctx: Context, poll: Poll, voter: _Voter) -> None:
    """A secret ballot already cast: say so, privately."""
    if poll.secret:
        if voter.voted:
            raise _private(
                ctx,
                ctx.t(
                    "You have already voted in this secret ballot; a secret vote cannot be changed."
                ),
            )


@action(Action.POLL_OPEN)
async def open_ballot(ctx: Context, target: str) -> Reply:
    voting = await _poll_to_vote(ctx, target)
    poll = voting.poll
    voter = await _may_vote(ctx, voting)
    person, tz = voter.person, voter.tz
    await _already_voted(ctx, poll, voter)
    current = await my_choice(ctx.session, poll, person) or []
    reply = _ballot(ctx, poll, tz, current, person)
    return Reply(reply.text, buttons=reply.buttons, private=True)


@action(Action.POLL_TOGGLE)
async def toggle(ctx: Context, target: str) -> Reply:
    poll_text_id, _, data = target.partition(".")
    voting = await _poll_to_vote(ctx, poll_text_id)
    poll = voting.poll
    mask = _payload(ctx, poll, data)
    picked = decode_mask(mask, len(poll.options)) if mask is not None else None
    if poll.kind == RANKED or picked is None or (poll.kind == SINGLE and len(picked) > 1):
        raise ctx.stale()
    voter = await _may_vote(ctx, voting)
    return _ballot(ctx, poll, voter.tz, picked, voter.person)


@action(Action.POLL_CLEAR)
async def clear(ctx: Context, target: str) -> Reply:
    """The ballot with nothing ticked (it holds no choice, so needs no token)."""
    voting = await _poll_to_vote(ctx, target)
    poll = voting.poll
    if poll.kind == RANKED:
        raise ctx.stale()
    voter = await _may_vote(ctx, voting)
    return _ballot(ctx, poll, voter.tz, [], voter.person)


@action(Action.POLL_RANK)
async def rank(ctx: Context, target: str) -> Reply:
    poll_text_id, _, data = target.partition(".")
    voting = await _poll_to_vote(ctx, poll_text_id)
    poll = voting.poll
    ranking = _payload(ctx, poll, data)
    picked = decode_ranking(ranking, len(poll.options)) if ranking is not None else None
    if poll.kind != RANKED or picked is None:
        raise ctx.stale()
    voter = await _may_vote(ctx, voting)
    return _ballot(ctx, poll, voter.tz, picked, voter.person)


@action(Action.POLL_CAST)
async def cast(ctx: Context, target: str) -> Reply:
    poll_text_id, _, data = target.partition(".")
    voting = await _poll_to_vote(ctx, poll_text_id)
    poll = voting.poll
    payload = _payload(ctx, poll, data)
    if payload is None:
        # Another voter's button, or a forged one: say what is true of this voter.
        await _already_voted(ctx, poll, await _may_vote(ctx, voting))
        raise ctx.stale()
    if poll.kind == RANKED:
        picked = decode_ranking(payload, len(poll.options))
    else:
        picked = decode_mask(payload, len(poll.options))
    if not picked:
        raise ctx.stale()
    reply = await _cast(ctx, voting, picked)
    return Reply(reply.text, private=True, edit=True)


# --- Results and management -------------------------------------------------------------


async def _organises(ctx: Context, scope: str, scope_id: int) -> bool:
    """Does the person hold the organiser role over this branch, region or party?"""
    grants = await ctx.grants()
    if scope == SCOPE_NATIONAL:
        return holds_nationally(grants, ORGANISER)
    if scope == SCOPE_REGION:
        return holds_at_region(grants, ORGANISER, scope_id)
    branch = await ctx.session.get(Branch, scope_id)
    return branch is not None and holds_at_branch(grants, ORGANISER, branch)


async def _staff_of(ctx: Context, poll: Poll, what: str) -> None:
    if not await _organises(ctx, poll.scope, poll.scope_id):
        raise ctx.refuse(
            ctx.t("Only the organisers who ran this poll's area can do that."), audit=what
        )


async def _result_of(ctx: Context, poll: Poll) -> dict[str, object]:
    if poll.result is not None:
        return poll.result
    if poll.secret or not poll.live:
        raise ctx.refuse(ctx.t("The results are shown when the poll closes."))
    return count(poll, await ballots_of(ctx.session, poll, ctx.settings))


@action(Action.POLL_MEET)
async def schedule_from_poll(ctx: Context, target: str) -> Reply:
    """Turn a meeting-time poll's winning time into a meeting: the time is set,
    the organiser gives the place (the guided /meeting exchange)."""
    poll_text_id, _, kind = target.partition(".")
    poll = await _poll_from(ctx, poll_text_id)
    if poll.kind != TIMES or poll.scope != SCOPE_BRANCH or kind not in ("online", "in_person"):
        raise ctx.stale()
    if not await _organises(ctx, poll.scope, poll.scope_id):
        raise ctx.stale(audit="pollmeet")
    winners = (poll.result or {}).get("winners") or []
    branch = await ctx.session.get(Branch, poll.scope_id)
    if not winners or branch is None:
        raise ctx.refuse(ctx.t("The poll has no winning time yet."))
    when = poll.options[int(winners[0])]
    await ctx.prompt(
        "mtdraft", lifetime=dt.timedelta(hours=1), branch=branch.id, meeting_kind=kind, when=when
    )
    shown = format_local(read_wall_text(when), "datetime_zone", ctx.t.locale, tz=branch.timezone)
    if kind == "online":
        return Reply(
            ctx.t(
                "{when}. Now the link, and a title if you like: /meeting "
                "https://meet.example/abc Branch call",
                when=shown,
            )
        )
    return Reply(
        ctx.t(
            '{when}. Now the place: /meeting "Library, Market St", optionally followed '
            'by a title in quotes, "cap 30" and "weekly".',
            when=shown,
        )
    )


@action(Action.POLL_RESULTS)
async def results_pressed(ctx: Context, target: str) -> Reply:
    poll = await _poll_from(ctx, target)
    await _may_see(ctx, poll, ctx.stale())
    tz = await scope_timezone(ctx.session, ctx.settings, poll)
    result = await _result_of(ctx, poll)
    return Reply(result_text(ctx.t, poll, result, tz), private=True)


async def _may_see(ctx: Context, poll: Poll, refusal: Refusal) -> None:
    """Results are for those on the poll's roll and the staff who ran it; to
    anyone else the poll does not exist."""
    person = ctx.require_person()
    if await roll_entry(ctx.session, poll, person) is not None:
        return
    try:
        await _staff_of(ctx, poll, "poll-results")
    except Refusal:
        raise refusal from None


@command(
    "poll",
    N_("the polls you can vote in"),
    usage="",
    staff=(
        (POLL_USAGE, N_("post a poll"), (ORGANISER, ADMIN)),
        (
            "close|audit|export <id>",
            N_("close a poll early, see its turnout, export it"),
            (ORGANISER, ADMIN),
        ),
    ),
)
async def poll_command(ctx: Context) -> Reply | list[Reply]:
    args = ctx.request.args.strip()
    if args.startswith(('"', "“", "'")):
        return await _preview(ctx, args)
    word, _, rest = args.partition(" ")
    word = word.lower()
    if word in ("close", "results", "audit", "export"):
        poll = await _poll_from_arg(ctx, rest)
        return await _manage(ctx, word, poll)
    if word:
        raise ctx.refuse(
            ctx.t(
                'Send /poll for your polls, or (organisers) /poll "Question?" "Option A" "Option B".'
            )
        )
    return await _my_polls(ctx)


async def _poll_from_arg(ctx: Context, text: str) -> Poll:
    poll_id = parse_id(text.strip().lstrip("#"))
    poll = await ctx.session.get(Poll, poll_id) if poll_id is not None else None
    if poll is None:
        raise _no_such_poll(ctx, text)
    return poll


def _no_such_poll(ctx: Context, text: str) -> Refusal:
    return ctx.refuse(
        ctx.t("There is no poll {id}. Send /poll to see yours.", id=text.strip()[:12])
    )


async def _manage(ctx: Context, word: str, poll: Poll) -> Reply | list[Reply]:
    tz = await scope_timezone(ctx.session, ctx.settings, poll)
    if word == "results":
        await _may_see(ctx, poll, _no_such_poll(ctx, str(poll.id)))
        return Reply(result_text(ctx.t, poll, await _result_of(ctx, poll), tz), private=True)
    await _staff_of(ctx, poll, f"poll-{word}")
    if word == "close":
        closed = await close(ctx.session, ctx.settings, poll, ctx.now)
        if closed is None:
            raise ctx.refuse(ctx.t("That poll is already closed."))
        audit(ctx, "poll.closed", poll=poll.id)
        png = await asyncio.to_thread(chart, poll, closed.result, ctx.t.locale, poll.question)
        return Reply(
            result_text(ctx.t, poll, closed.result, tz),
            file=Attachment(f"poll-{poll.id}.png", png, "image/png"),
            buttons=meeting_buttons(ctx.t, poll, closed.result),
        )
    roll, voted, ballots = await turnout(ctx.session, poll)
    if word == "audit":
        return Reply(
            ctx.t("Poll {id}:", id=poll.id)
            + " "
            + ctx.t.plural("{n} on the roll,", "{n} on the roll,", roll)
            + " "
            + ctx.t.plural("{n} has voted,", "{n} have voted,", voted)
            + " "
            + ctx.t.plural("{n} ballot in the box.", "{n} ballots in the box.", ballots)
            + ("\n" + ctx.t("Every vote is counted once.") if voted == ballots else ""),
            private=True,
        )
    result = await _result_of(ctx, poll)
    return Reply(
        ctx.t("Poll {id}, exported.", id=poll.id),
        file=Attachment(
            f"poll-{poll.id}.csv",
            export_csv(poll, result, (roll, voted, ballots)),
            "text/csv",
        ),
        private=True,
    )


async def _my_polls(ctx: Context) -> Reply:
    person = ctx.require_person()
    rows = list(
        await ctx.session.execute(
            select(Poll, PollVoter.voted)
            .join(PollVoter, PollVoter.poll_id == Poll.id)
            .where(PollVoter.person_id == person.id, Poll.closed_at.is_(None))
            .order_by(Poll.closes_at, Poll.id)
            .limit(10)
        )
    )
    if not rows:
        return Reply(ctx.t("There are no open polls for you right now."))
    lines = [ctx.t("Open polls:")]
    buttons = []
    for n, (poll, voted) in enumerate(rows, 1):
        tz = await scope_timezone(ctx.session, ctx.settings, poll)
        state = ctx.t("you voted ✓") if voted else ctx.t("not voted yet")
        when = (
            format_local(poll.closes_at, "day_time_year_zone", ctx.t.locale, tz=tz)
            if poll.closes_at
            else ""
        )
        lines.append(f"{n}. {poll.question} · {when} · {state}")
        buttons.append((Button(ctx.t("Vote {n}", n=n), Action.POLL_OPEN, str(poll.id)),))
    return Reply("\n".join(lines), buttons=tuple(buttons))
