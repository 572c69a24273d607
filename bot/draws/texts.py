"""What the draws' people read: a body's name, an invitation and its buttons, the
notices of a draw committed, cancelled, due its seed, drawn, or a place taken,
given up or vacant; a preview's summary and seed, a roster line, a receipt.
Each takes a Translator and plain data; nothing here reads the database."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bot.draws.bodies import Body
from bot.draws.rules import (
    DELEGATIONS,
    NATIONAL_COUNCIL,
    REGION_COUNCIL,
    TO_NATIONAL,
    TO_REGION,
    TRIAL,
    n_pool,
)
from bot.kernel.actions import Action
from bot.kernel.i18n import Translator, format_local
from bot.kernel.messages import Button
from bot.lib.sortition import seeds
from bot.lib.sortition.encoding import canonical
from storage.models import Draw, Invitation


def describe(t: Translator, body: Body) -> str:
    if body.kind == TO_REGION:
        return t("the delegation of {unit} to {to}", unit=body.name, to=body.destination)
    if body.kind == TO_NATIONAL:
        return t("the delegation of {unit} to the national level", unit=body.name)
    if body.kind == REGION_COUNCIL:
        return t("the {unit} regional council", unit=body.name)
    if body.kind == NATIONAL_COUNCIL:
        return t("the national council")
    return t("the {unit} council", unit=body.name)


# --- Invitations ----------------------------------------------------------------------


def invitation_text(t: Translator, body: Body, invitation: Invitation, tz: str) -> str:
    if body.kind in DELEGATIONS:
        ask = t("You have been drawn by lot for {body}. Will you go?", body=describe(t, body))
    else:
        ask = t("You have been drawn by lot for {body}. Will you serve?", body=describe(t, body))
    return (
        ask
        + " "
        + t(
            "Please answer by {when} ({tz} time); no answer counts as a no, and someone "
            "else is then drawn. If you accept, the members of {unit} see your name on its "
            "roster (/council).",
            when=format_local(invitation.respond_by, "day_time", t, tz=tz),
            tz=tz,
            unit=body.name,
        )
    )


def invitation_buttons(t: Translator, invitation: Invitation) -> tuple[tuple[Button, ...], ...]:
    return (
        (
            Button(t("Accept"), Action.INVITATION_ACCEPT, str(invitation.id)),
            Button(t("Decline"), Action.INVITATION_DECLINE, str(invitation.id)),
        ),
    )


def reminder_heading(t: Translator) -> str:
    return t("A reminder, please answer:")


def nobody_left_notice(t: Translator, root: Draw, body: Body) -> str:
    return t(
        "Draw {id} for {body}: a place was given up, and nobody is left in the pool "
        "to draw in their place.",
        id=root.id,
        body=describe(t, body),
    )


def replacement_notice(t: Translator, root: Draw, body: Body, shown: str) -> str:
    return t(
        "Draw {id} for {body}: a place was given up; {name} is invited in it, the next "
        "in the reserve order the record committed (for organisers only).",
        id=root.id,
        body=describe(t, body),
        name=shown,
    )


def vacancy_notice(t: Translator, body: Body, draw_id: int) -> str:
    return t(
        "A place on {body} (draw {id}) is vacant: its holder left. The next person is "
        "drawn under the draw's rules.",
        body=describe(t, body),
        id=draw_id,
    )


# --- A draw's end -----------------------------------------------------------------------


def cancelled_notice(t: Translator, member: Draw, body: Body, reason: str) -> str:
    return t(
        "Draw {id} for {body} was cancelled by its organisers before its seed was "
        "known. Their reason: {reason}",
        id=member.id,
        body=describe(t, body),
        reason=reason,
    )


def trial_notice(t: Translator, draw: Draw, trial_body: Body, seed: str, index: int) -> str:
    return t(
        "TRIAL draw {id} for {body}: seed {seed}, panel {index} of {m}. The seed "
        "was typed, not public, so nobody is invited and nobody takes a seat.",
        id=draw.id,
        body=describe(t, trial_body),
        seed=seed[:80],
        index=index,
        m=draw.record["m"],
    )


def drawn_notice(
    t: Translator, draw: Draw, body: Body, seed: str, index: int, selected: tuple[str, ...]
) -> str:
    # No pseudonym: who was drawn is for the people drawn and the organisers.
    return t(
        "Draw {id} for {body} is done: seed {seed}, panel {index} of {m}; the {n} people "
        "selected have been invited. Anyone can check it against the record hash "
        "published at commit (/draw record {id}).",
        id=draw.id,
        body=describe(t, body),
        seed=seed[:80],
        index=index,
        m=draw.record["m"],
        n=len(selected),
    )


def drawn_names_notice(t: Translator, body: Body, names: list[str]) -> str:
    return t(
        "Who was drawn for {body} (for organisers only): {names}.",
        body=describe(t, body),
        names="; ".join(names),
    )


def committed_notice(t: Translator, draw: Draw, body: Body) -> str:
    text = t(
        "Draw {id} for {body} is committed, before its seed is known. Record hash "
        "{hash}; the record is attached (or: /draw record {id}). If you are in its "
        "pool, /draw receipt {id} gives you, privately, what you need to check your "
        "own entry.",
        id=draw.id,
        body=describe(t, body),
        hash=draw.record_hash,
    )
    if seeds.is_trial(draw.record["seed_source"]):
        text = t("TRIAL (its seed will be typed, so it invites nobody):") + " " + text
    return text


def seed_due_notice(t: Translator, draw: Draw, body: Body, source: dict[str, Any]) -> str:
    return t(
        "Draw {id} for {body} waits for the numbers of {name} drawn on {date}. Two "
        "witnesses, members who are not both organisers, each enter them: /draw seed {id} "
        "followed by the numbers.",
        id=draw.id,
        body=describe(t, body),
        name=source.get("name"),
        date=source.get("date"),
    )


def accepted_notice(t: Translator, name: str, body: Body, root: Draw, seated: int | None) -> str:
    return t(
        "{name} accepted a place on {body} (draw {id}): {seated} of {seats} places taken.",
        name=name,
        body=describe(t, body),
        id=root.id,
        seated=seated,
        seats=root.seats,
    )


def summary_text(t: Translator, record: dict[str, Any]) -> str:
    summary = record["summary"]
    low = format_local(float(summary["min_probability"]) * 100, "decimal1", t.locale)
    high = format_local(float(summary["max_probability"]) * 100, "decimal1", t.locale)
    chance = (
        t("Each person's chance of selection is {p}%.", p=low)
        if low == high
        else t(
            "Each person's chance of selection lies between {low}% and {high}%.", low=low, high=high
        )
    )
    return " ".join(
        (
            t.plural("Pool: {n} person;", "Pool: {n} people;", n_pool(record))
            + " "
            + t.plural("{n} seat.", "{n} seats.", record["k"]),
            chance,
            t.plural(
                "The lottery has {n} distinct panel.",
                "The lottery has {n} distinct panels.",
                summary["distinct_panels"],
            ),
            t("Record hash: {hash}.", hash=record["record_hash"][:16]),
        )
    )


def roster_line(t: Translator, body: Body, names: list[str]) -> str:
    """A body and who sits on it (/council)."""
    described = describe(t, body)
    return f"{described[:1].upper()}{described[1:]}: {', '.join(names)}"


def receipt_text(t: Translator, draw: Draw, pseudonym: str, opening: dict[str, Any]) -> str:
    """An entrant's receipt: how to find and check their entry in the public record."""
    features = opening["features"]
    return t(
        "Your receipt for draw {id}, for you alone: you are {pseudonym}, with the salt "
        "{salt}, and your answers went in as {answers}. In the public record "
        "(/draw record {id}), the commitment of {pseudonym} is the SHA-256 of {text}: "
        "recompute it to check your entry.",
        id=draw.id,
        pseudonym=pseudonym,
        salt=opening["salt"],
        answers=", ".join(f"{k}: {v}" for k, v in sorted(features.items())),
        text=canonical({"features": features, "salt": opening["salt"]}).decode(),
    )


def drawn_text(t: Translator, draw: Draw, group: list[Draw], invited: int) -> str:
    """What the person who completed the draw is told."""
    if draw.status == TRIAL:
        return t(
            "TRIAL draw {id} made: panel {index}. Its seed was typed, not public, so "
            "nobody is invited.",
            id=draw.id,
            index=draw.chosen_index,
        )
    if len(group) > 1:
        return t(
            "Drawn: the {draws} draws of this delegation. The {n} people selected have "
            "been invited.",
            draws=len(group),
            n=invited,
        )
    return t(
        "Drawn: panel {index}. The {n} people selected have been invited.",
        index=draw.chosen_index,
        n=invited,
    )


def source_text(t: Translator, source: dict[str, Any], tz: str) -> str:
    if source.get("kind") == seeds.LOTTERY:
        return t(
            "the numbers of {name} ({format}) drawn on {date}, entered by two witnesses once "
            "the result is out (after {when}, {tz} time)",
            name=source.get("name"),
            format=source.get("format"),
            date=source.get("date"),
            when=moment_text(t, source.get("results_after"), tz),
            tz=tz,
        )
    if source.get("kind") == seeds.BEACON:
        return t(
            "round {round} of {chain} (out at {when}, {tz} time), fetched and its "
            "signature checked when it is published",
            round=source.get("round"),
            chain=source.get("name"),
            when=moment_text(t, source.get("round_time"), tz),
            tz=tz,
        )
    return t(
        "TRIAL: “{description}”. A seed typed by an organiser can be chosen to pick a "
        "panel, so a trial draw invites nobody. For a real draw, name a public source: "
        "lottery:NAME:DATE or beacon:drand:ROUND.",
        description=str(source.get("description") or "")[:80],
    )


def moment_text(t: Translator, value: object, tz: str) -> str:
    """A moment kept in a draw's record (ISO 8601), in the reader's time zone."""
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return "?"
    if moment.tzinfo is None:
        return "?"
    return format_local(moment, "iso_datetime", t, tz=tz)


def how_seeded(t: Translator, draw: Draw, tz: str) -> str:
    """How a committed draw gets its seed, and who does what next."""
    source = draw.record["seed_source"]
    if source.get("kind") == seeds.BEACON:
        return t("The scheduler fetches the beacon's round when it is published.")
    if source.get("kind") == seeds.LOTTERY:
        return t(
            "Once the result is out (after {when}, {tz} time), two witnesses, members who "
            "are not both organisers, each send /draw seed {id} followed by the numbers.",
            when=moment_text(t, source.get("results_after"), tz),
            tz=tz,
            id=draw.id,
        )
    return t(
        "This is a TRIAL: /draw seed {id} <seed> draws it, and nobody is invited.",
        id=draw.id,
    )
