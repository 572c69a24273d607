"""Voting: the ballot's buttons (one choice, ticks, a ranking being built), who
may vote, casting; a secret ballot's buttons carry per-voter tokens."""

from __future__ import annotations

from dataclasses import dataclass

from bot.kernel.actions import Action
from bot.kernel.context import Context, Refusal, parse_id
from bot.kernel.i18n import format_local
from bot.kernel.messages import Button, Reply
from bot.kernel.permissions import is_member
from bot.kernel.registry import action
from bot.polls import ballot_box
from bot.polls.casting import cast_open, cast_secret
from bot.polls.proposals import ask_reason, report_block
from bot.polls.queries import (
    Place,
    my_choice,
    poll_for_vote,
    scope_branches,
    vote_ahead,
    vote_read_ahead,
)
from bot.polls.rules import (
    BLOCK,
    ONE_CHOICE,
    RANK_DIGITS,
    check_choice,
    decode_mask,
    decode_ranking,
    encode_mask,
    encode_ranking,
)
from bot.polls.texts import option_label, poll_text
from storage.models import Person, Poll
from storage.vocabulary import PROPOSAL, RANKED


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
    if ctx.prefetched is not None:  # read with the person (vote_ahead: this same poll)
        found: tuple[Poll, str | None, Place] | None = vote_read_ahead(ctx.prefetched)
    elif poll_id is not None:
        found = await poll_for_vote(ctx.session, poll_id, ctx.person.id if ctx.person else None)
    else:
        found = None
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
                    ctx.t,
                    tz=tz,
                ),
            ),
        )
    if on_roll:
        return _Voter(person, tz, place)
    if person.joined_branch_at is not None and person.joined_branch_at > poll.opened_at:
        why = ctx.t(
            "Who may vote was fixed when the poll opened ({when}); you joined after that.",
            when=format_local(poll.opened_at, "day_time_year_zone", ctx.t, tz=tz),
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
            when=format_local(poll.opened_at, "day_time_year_zone", ctx.t, tz=tz),
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
            when=format_local(poll.closes_at, "day_time_year_zone", ctx.t, tz=tz),
        )
    if poll.kind == PROPOSAL:
        # Open proposals only: a secret ballot is never asked why (a reason kept
        # with the voter would undo the secret), nor reported as a Block before close.
        if valid == [BLOCK]:
            await report_block(ctx, poll, person, tz)
        text += "\n" + await ask_reason(ctx, poll)
    return Reply(text, private=True)


@action(Action.POLL_VOTE, prefetch=vote_ahead)
async def vote_single(ctx: Context, target: str) -> Reply:
    poll_text_id, _, option = target.partition(".")
    voting = await _poll_to_vote(ctx, poll_text_id)
    poll = voting.poll
    if poll.kind not in ONE_CHOICE or poll.secret or not (option.isascii() and option.isdigit()):
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
            if poll.kind in ONE_CHOICE:
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
    if poll.kind == RANKED or picked is None or (poll.kind in ONE_CHOICE and len(picked) > 1):
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
