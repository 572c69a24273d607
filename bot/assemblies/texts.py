"""What residents and organisers read about an assembly, given a Translator:
the invitation to register, the consent asked, the questions, a registration,
the organisers' overview (quotas from the census, coverage, the relaxation),
a preview, the invitation to sit and its practical details, the notices."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from bot.assemblies.rules import (
    Category,
    Coverage,
    categories_of,
    purge_at,
)
from bot.kernel.actions import Action
from bot.kernel.i18n import N_, Translator, format_local
from bot.kernel.messages import Button
from bot.lib.sortition.model import Quota
from storage.models import Assembly, AssemblyInvitation, AssemblyRegistrant

DETAIL_LABELS = {
    "place": N_("Where"),
    "expenses": N_("Expenses"),
    "childcare": N_("Childcare"),
    "contact": N_("Contact"),
}


def dates_text(t: Translator, assembly: Assembly) -> str:
    first = format_local(assembly.sits_from, "date", t.locale)
    if assembly.sits_until == assembly.sits_from:
        return first
    return t(
        "{first} to {last}", first=first, last=format_local(assembly.sits_until, "date", t.locale)
    )


def deadline_text(t: Translator, assembly: Assembly) -> str:
    return format_local(assembly.register_by, "datetime_zone", t, tz=assembly.timezone)


def intro(t: Translator, assembly: Assembly) -> str:
    """What a resident reads first: what the assembly is and what registering means."""
    return t(
        "{title}: a citizens' assembly of {seats} residents of {area}, drawn by lot from "
        "those who register, to mirror the area's population. It sits on {dates}. "
        "Registration closes {deadline}.",
        title=assembly.title,
        seats=assembly.seats,
        area=assembly.area,
        dates=dates_text(t, assembly),
        deadline=deadline_text(t, assembly),
    )


def ask_address(t: Translator, assembly: Assembly) -> str:
    return (
        intro(t, assembly)
        + "\n\n"
        + t(
            "To register, send your postcode and your house number or name (to check you "
            "live in the area, and so that at most one person per household is drawn), "
            "for example: /register {code} BA11 1AB 12",
            code=assembly.code,
        )
    )


def consent_text(t: Translator, assembly: Assembly, party: str) -> str:
    """The notice a resident agrees to: this assembly's, specific and complete."""
    names = ", ".join(c.name for c in categories_of(assembly.categories))
    return (
        intro(t, assembly)
        + "\n\n"
        + t(
            "What is kept if you agree: your answers to {n} questions ({names}), a keyed "
            "hash of your address (never your postcode or address itself, never shown to "
            "anyone) and this chat account, so the bot can tell you if you are drawn. It is "
            "used only to draw this assembly's panel. Registering does not make you a "
            "member or supporter of {party}. You can see, change or withdraw your "
            "registration at any time with /register {code}, and /mydata and /forget cover "
            "it. Everything is deleted {days} days after the assembly ends, on {purge}; the "
            "published record of the draw holds only pseudonyms.",
            n=len(assembly.categories),
            names=names,
            party=party,
            code=assembly.code,
            days=assembly.retention_days,
            purge=format_local(
                purge_at(assembly.sits_until, assembly.timezone, assembly.retention_days),
                "date",
                t,
                tz=assembly.timezone,
            ),
        )
    )


def question(
    t: Translator, registrant: AssemblyRegistrant, categories: Sequence[Category], index: int
) -> tuple[str, tuple[tuple[Button, ...], ...]]:
    """Question ``index`` and a button a value (the current answer ticked)."""
    category = categories[index]
    current = registrant.answers.get(category.name)
    text = t(
        "Question {n} of {total}: {category}?",
        n=index + 1,
        total=len(categories),
        category=category.name,
    )
    rows = tuple(
        (
            Button(
                ("✓ " if value == current else "") + value,
                Action.ASSEMBLY_ANSWER,
                f"{registrant.id}.{index}.{i}",
            ),
        )
        for i, value in enumerate(category.values)
    )
    return text, rows


def registration_text(t: Translator, assembly: Assembly, registrant: AssemblyRegistrant) -> str:
    answers = "\n".join(
        f"• {c.name}: {registrant.answers.get(c.name, '?')}"
        for c in categories_of(assembly.categories)
    )
    head = (
        t("You are registered for {title}.", title=assembly.title)
        if registrant.complete
        else t("Your registration for {title} is not finished yet.", title=assembly.title)
    )
    return head + "\n" + answers


def registration_buttons(
    t: Translator, registrant: AssemblyRegistrant, *, may_change: bool
) -> tuple[tuple[Button, ...], ...]:
    row = [Button(t("Withdraw"), Action.ASSEMBLY_WITHDRAW, str(registrant.id))]
    if may_change:
        row.insert(0, Button(t("Change my answers"), Action.ASSEMBLY_CHANGE, str(registrant.id)))
    return (tuple(row),)


def registered_text(t: Translator, assembly: Assembly) -> str:
    return t(
        "Thank you: you are registered for {title}. The panel is drawn after registration "
        "closes; if you are drawn, you will hear from me here. To see, change or withdraw "
        "your registration, send /register {code}.",
        title=assembly.title,
        code=assembly.code,
    )


def mydata_rows(
    t: Translator, held: Sequence[tuple[AssemblyRegistrant, Assembly]]
) -> list[dict[str, Any]]:
    """What /mydata shows of someone's registrations (the household key is said
    to be held, never shown)."""
    return [
        {
            "assembly": assembly.title,
            "platform": r.platform,
            "user_id": r.user_id,
            "chat_id": r.chat_id,
            "language": r.locale,
            "answers": dict(r.answers),
            "household": t("a keyed hash of your address, never shown"),
            "complete": r.complete,
            "consented_at": r.consented_at.isoformat(),
            "notice_version": r.notice_version,
        }
        for r, assembly in held
    ]


# --- Organisers ------------------------------------------------------------------------


def overview(
    t: Translator,
    assembly: Assembly,
    registered: int,
    quotas: Sequence[Quota],
    covered: Sequence[Coverage],
    relaxation: str | None,
) -> str:
    """An assembly as its organisers see it: registrations, the census quotas,
    each value's coverage, and the relaxation if the quotas cannot all be met."""
    lines = [
        t("Assembly {id}: {title}", id=assembly.id, title=assembly.title),
        t(
            "{seats} seats; area {area}; sits {dates}; registration closes {deadline}.",
            seats=assembly.seats,
            area=assembly.area,
            dates=dates_text(t, assembly),
            deadline=deadline_text(t, assembly),
        ),
        t("Registration code {code}; {n} registered.", code=assembly.code, n=registered),
        t(
            "Categories: {names}.",
            names="; ".join(
                f"{c.name} ({', '.join(c.values)})" for c in categories_of(assembly.categories)
            ),
        ),
    ]
    if not quotas:
        lines.append(
            t(
                "No census targets yet: send /assembly targets {id} followed by lines "
                "“category,value,share”.",
                id=assembly.id,
            )
        )
        return "\n".join(lines)
    lines.append(
        t(
            "Quotas from the census (within {tolerance} of the target), with who registered:",
            tolerance=assembly.tolerance,
        )
    )
    for c in covered:
        q = c.quota
        line = t(
            "• {category} {value}: {low}-{high} seats, {n} registered",
            category=q.category,
            value=q.value,
            low=q.min,
            high=q.max,
            n=c.registered,
        )
        if c.short:
            line += " — " + t("only {n} registrants for {seats} seats", n=c.registered, seats=q.min)
        lines.append(line)
    if relaxation:
        lines.append(t("These quotas cannot all be met: {why}", why=relaxation))
    return "\n".join(lines)


def panel_text(t: Translator, counts: dict[str, int]) -> str:
    """Where the invitations stand (no names: residents are known to nobody by name)."""
    return t(
        "The panel: {accepted} accepted, {invited} invited and not yet answered, {declined} "
        "declined, {expired} did not answer, {vacated} gave up their place.",
        accepted=counts.get("accepted", 0),
        invited=counts.get("invited", 0),
        declined=counts.get("declined", 0),
        expired=counts.get("expired", 0),
        vacated=counts.get("vacated", 0),
    )


def preview_text(
    t: Translator, assembly: Assembly, record: dict[str, Any], relaxation: str | None
) -> str:
    summary = record["summary"]
    lines = [
        t(
            "Preview of the draw for {title}: {k} of {n} registrants, one person per household.",
            title=assembly.title,
            k=record["k"],
            n=len(record["entrants"]),
        ),
        t(
            "Each registrant's chance of selection is between {low} and {high}.",
            low=format_local(float(summary["min_probability"]) * 100, "decimal1", t.locale) + "%",
            high=format_local(float(summary["max_probability"]) * 100, "decimal1", t.locale) + "%",
        ),
    ]
    if relaxation:
        lines.append(t("The census quotas were relaxed as follows: {why}", why=relaxation))
    lines.append(
        t(
            "Commit publishes the record's hash now; the seed comes from {source} and "
            "nobody can choose the panel.",
            source=seed_text(t, record["seed_source"]),
        )
    )
    return "\n".join(lines)


def seed_text(t: Translator, source: dict[str, Any]) -> str:
    if source.get("kind") == "lottery":
        return t("{name}'s result on {date}", name=source.get("name"), date=source.get("date"))
    if source.get("kind") == "beacon":
        return t("round {round} of {name}", round=source.get("round"), name=source.get("name"))
    return t("a typed text: a TRIAL that invites nobody")


def committed_text(t: Translator, assembly: Assembly, draw_id: int, record_hash: str) -> str:
    return t(
        "Committed: the draw for {title} (assembly {id}, draw {draw}). Record hash "
        "{hash}. Once the seed is public, two witnesses enter it with /assembly seed {id} "
        "followed by the numbers.",
        title=assembly.title,
        id=assembly.id,
        draw=draw_id,
        hash=record_hash,
    )


def drawn_text(t: Translator, assembly: Assembly, invited: int, trial: bool) -> str:
    if trial:
        return t("Drawn as a TRIAL for {title}: nobody is invited.", title=assembly.title)
    return t(
        "Drawn: the {n} residents selected for {title} have been invited.",
        n=invited,
        title=assembly.title,
    )


def invitation_text(t: Translator, assembly: Assembly, invitation: AssemblyInvitation) -> str:
    lines = [
        t(
            "You have been drawn by lot to sit on {title}, a citizens' assembly of {seats} "
            "residents, on {dates}.",
            title=assembly.title,
            seats=assembly.seats,
            dates=dates_text(t, assembly),
        )
    ]
    for key, label in DETAIL_LABELS.items():
        if assembly.details.get(key):
            lines.append(f"{t(label)}: {assembly.details[key]}")
    lines.append(
        t(
            "Please answer by {deadline}; if you cannot take part, decline and someone else is "
            "drawn.",
            deadline=format_local(invitation.respond_by, "datetime_zone", t, tz=assembly.timezone),
        )
    )
    return "\n".join(lines)


def invitation_buttons(
    t: Translator, invitation: AssemblyInvitation
) -> tuple[tuple[Button, ...], ...]:
    return (
        (
            Button(t("Accept"), Action.ASSEMBLY_ACCEPT, str(invitation.id)),
            Button(t("Decline"), Action.ASSEMBLY_DECLINE, str(invitation.id)),
        ),
    )


def reminder_heading(t: Translator) -> str:
    return t("Reminder: you have not answered yet.")


def vacancy_notice(t: Translator, assembly: Assembly, replaced: bool) -> str:
    if replaced:
        return t(
            "A place on {title} was given up; the next resident under the committed rule "
            "has been invited.",
            title=assembly.title,
        )
    return t(
        "A place on {title} was given up and nobody is left who keeps the quotas and one "
        "person per household: the place stays empty.",
        title=assembly.title,
    )


def purge_notice(t: Translator, assembly: Assembly, n: int, when: dt.datetime) -> str:
    return t(
        "The retention period of {title} is over: the data of its {n} registrants was "
        "deleted on {when}. The committed record keeps only pseudonyms.",
        title=assembly.title,
        n=n,
        when=format_local(when, "date", t, tz=assembly.timezone),
    )
