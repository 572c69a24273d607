"""/branch: a branch's status, counts, history and next step, its Members list,
and the admins' edits (rename, area, time zone, override). /branch merge is in
bot.branches.merge_handlers.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import available_timezones

from bot.branches.formation import REASON_LIMIT, maybe_forming, override
from bot.branches.handlers import STAFF, branch_named_or_own, require_staff
from bot.branches.merge_handlers import merge_preview
from bot.branches.queries import branch_with_slug, history, organisers, people_in, progress
from bot.branches.rules import PLACE_LIMIT, Progress, clean_area, clean_place, slugify
from bot.branches.texts import next_step, status_label
from bot.kernel.actions import Action
from bot.kernel.context import Context
from bot.kernel.effects import audit
from bot.kernel.i18n import N_, find_language, format_local, language_name
from bot.kernel.messages import Button, Reply
from bot.kernel.permissions import is_member
from bot.kernel.registry import GROUP, PRIVATE, Param, action, command
from bot.settings.texts import language_unknown
from storage.models import Branch, Region
from storage.vocabulary import ADMIN, MERGED, ORGANISER

MEMBER_LIST_LIMIT = 100


BRANCH_EDITS = ("rename", "area", "timezone", "language")


async def _edit_branch(ctx: Context, verb: str, rest: str) -> Reply:
    """/branch rename|area|timezone <branch>: <value>, by the admins over the branch;
    /branch language <branch>: <language>, by its organisers too."""
    name, _, value = rest.partition(":")
    branch = await branch_named_or_own(ctx, name.strip())
    roles = (ORGANISER, ADMIN) if verb == "language" else (ADMIN,)
    await require_staff(ctx, branch, roles, "branch.edit")
    value = " ".join(value.split())
    before: str | None
    if verb == "rename":
        new = clean_place(value)
        if new is None:
            raise ctx.refuse(
                ctx.t("A branch's name is a place name of up to {n} letters.", n=PLACE_LIMIT)
            )
        taken = await branch_with_slug(ctx.session, slugify(new))
        if taken is not None and taken.id != branch.id:
            raise ctx.refuse(ctx.t("There is already a {name} branch.", name=taken.name))
        before, branch.name, branch.slug = branch.name, new, slugify(new)
        text = ctx.t("The {old} branch is now called {name}.", old=before, name=new)
    elif verb == "area":
        area = clean_area(value)
        if area is None:
            raise ctx.refuse(
                ctx.t(
                    "Give the places and postcode prefixes it covers, separated by commas, "
                    "e.g. /branch area {branch}: Frome, BA11, Nunney",
                    branch=branch.name,
                )
            )
        before, branch.area = branch.area, area
        text = ctx.t("The {branch} branch covers: {area}.", branch=branch.name, area=area)
    elif verb == "language":
        lang = find_language(value)
        if lang is None:
            raise ctx.refuse(language_unknown(ctx.t, value or "?"))
        before, branch.language = branch.language, lang
        text = ctx.t(
            "The {branch} branch's language is now {language}: its people read it unless "
            "they chose another or their app speaks one I know.",
            branch=branch.name,
            language=language_name(lang),
        )
        value = lang
    else:
        if value not in available_timezones():
            raise ctx.refuse(
                ctx.t(
                    "{tz} is not a time zone I know: give one like Europe/London or "
                    "America/New_York.",
                    tz=value[:40] or "?",
                )
            )
        before, branch.timezone = branch.timezone, value
        text = ctx.t("The {branch} branch now keeps time in {tz}.", branch=branch.name, tz=value)
    audit(ctx, f"branch.{verb}", branch=branch, before=before, after=value)
    return Reply(text)


@command(
    "branch",
    N_("your branch: status, counts and next step"),
    usage=N_("[branch]"),
    roles=STAFF,
    params=(Param.branch(),),
    chats=(PRIVATE, GROUP),
    staff=(
        (
            N_("rename|area|timezone <branch>: <value>"),
            N_("rename a branch, set the places it covers or its time zone"),
            (ADMIN,),
        ),
        (
            N_("language <branch>: <language>"),
            N_("the language the branch's people read unless they choose another"),
            (ORGANISER, ADMIN),
        ),
        (
            N_("merge <branch>: <into branch>"),
            N_("merge a duplicate proposal into the branch for the same place"),
            (ADMIN,),
        ),
    ),
)
async def branch_status(ctx: Context) -> Reply:
    verb, _, rest = ctx.request.args.strip().partition(" ")
    if verb.lower() in BRANCH_EDITS and ":" in rest:
        return await _edit_branch(ctx, verb.lower(), rest)
    if verb.lower() == "merge":
        return await merge_preview(ctx, rest)
    if verb.lower() == "override":
        return await _override(ctx, rest)
    branch = await branch_named_or_own(ctx, ctx.request.args)
    await require_staff(ctx, branch, STAFF, "branch")
    await maybe_forming(ctx, branch, None)  # e.g. after an import brought the interest
    tz = branch.timezone
    at = await progress(ctx, branch)
    region = await ctx.session.get(Region, branch.region_id) if branch.region_id else None
    orgs = await organisers(ctx, branch)
    lines = [
        ctx.t(
            "{branch} branch: {status}",
            branch=branch.name,
            status=status_label(ctx.t, branch.status),
        )
        + (" (" + ctx.t("{region} region", region=region.name) + ")" if region else ""),
        ctx.t("Area: {area}. Time zone: {tz}.", area=branch.area or "-", tz=tz),
        ctx.t(
            "People: {n}: {members}, {supporters}.",
            n=at.interested,
            members=ctx.t.plural(
                "{n} member with current dues", "{n} members with current dues", at.paid
            ),
            supporters=ctx.t.plural("{n} supporter", "{n} supporters", at.interested - at.paid),
        ),
        ctx.t(
            "Organisers: {names}.",
            names=", ".join(f"{o.display_name} ({o.short_id})" for o in orgs) or ctx.t("none yet"),
        ),
        ctx.t("History: {steps}.", steps="; ".join(await _history(ctx, branch, at))),
        next_step(ctx.t, ctx.settings, branch, at),
    ]
    buttons = [Button(ctx.t("Members"), Action.MEMBERS, str(branch.id))]
    return Reply("\n".join(lines), buttons=(tuple(buttons),))


async def _history(ctx: Context, branch: Branch, at: Progress) -> list[str]:
    """The branch's steps and founding meetings, with dates, in order; an
    overridden step says who overrode it and why."""
    tz = branch.timezone
    steps = await history(ctx.session, branch)
    events: list[tuple[dt.datetime, str]] = []
    for step, actor in steps:
        date = format_local(step.at, "iso_date", ctx.t, tz=tz)
        text = f"{status_label(ctx.t, step.to_status)} {date}"
        if step.merged_from is not None and step.to_status == MERGED:
            text = ctx.t("{branch} merged in {date}", branch=step.merged_from, date=date)
        elif step.merged_from is not None:  # a step of a branch since merged into this one
            text = f"{step.merged_from}: {text}"
        if step.reason:
            text += " " + ctx.t(
                "(overridden by {name}: {reason})", name=actor or "?", reason=step.reason
            )
        events.append((step.at, text))
    if branch.first_call_at is not None:
        events.append(
            (
                branch.first_call_at,
                ctx.t(
                    "first online call {date}",
                    date=format_local(branch.first_call_at, "iso_date", ctx.t, tz=tz),
                ),
            )
        )
    if branch.first_meeting_at is not None:
        events.append(
            (
                branch.first_meeting_at,
                ctx.t(
                    "first face-to-face meeting {date}, {came}",
                    date=format_local(branch.first_meeting_at, "iso_date", ctx.t, tz=tz),
                    came=ctx.t.plural("{n} came", "{n} came", at.came),
                ),
            )
        )
    return [text for _, text in sorted(events, key=lambda e: e[0])]


async def _override(ctx: Context, rest: str) -> Reply:
    """/branch override <branch>: <reason>, by the admins over the branch: the
    branch takes its next step without what the step needs."""
    name, colon, reason = rest.partition(":")
    reason = " ".join("".join(ch for ch in reason if ch.isprintable()).split())
    if not colon or not name.strip() or not reason:
        raise ctx.refuse(
            ctx.t(
                "Usage: /branch override <branch>: <reason>. It takes the branch to its next "
                "step; the reason is kept in its history."
            )
        )
    if len(reason) > REASON_LIMIT:
        raise ctx.refuse(ctx.t("Please keep the reason under {n} characters.", n=REASON_LIMIT))
    branch = await branch_named_or_own(ctx, name.strip())
    await require_staff(ctx, branch, (ADMIN,), "branch.override")
    return Reply(await override(ctx, branch, reason))


@action(Action.MEMBERS)
async def members_pressed(ctx: Context, target: str) -> Reply:
    branch = await ctx.branch_from(target)
    await require_staff(ctx, branch, STAFF, "members")
    people = await people_in(ctx, branch)
    lines = [ctx.t("People in the {branch} branch ({n}):", branch=branch.name, n=len(people))]
    for p in people[:MEMBER_LIST_LIMIT]:
        paid_until = p.dues_paid_until
        status = (
            ctx.t("member until {date}", date=format_local(paid_until, "iso_date", ctx.t.locale))
            if paid_until is not None and is_member(p, ctx.now, branch.timezone)
            else ctx.t("supporter")
        )
        lines.append(f"{p.display_name} · {p.short_id} · {status}")
    if len(people) > MEMBER_LIST_LIMIT:
        lines.append(ctx.t("…and {n} more.", n=len(people) - MEMBER_LIST_LIMIT))
    return Reply("\n".join(lines), private=True)
