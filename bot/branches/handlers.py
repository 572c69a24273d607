"""Organiser, treasurer and admin commands: /branch, /promote, /demote, /dues,
/affiliate, and the buttons and undos that go with them.

Every change here is audited. A person outside the actor's scope is answered
exactly like a person who does not exist, so that nobody can probe who is a
member of a branch they do not look after.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import available_timezones

from sqlalchemy import delete, func, select

from bot.branches.formation import (
    REASON_LIMIT,
    Progress,
    affiliated,
    affiliation_missing,
    maybe_forming,
    next_step,
    override,
    progress,
)
from bot.branches.founding import clean_area
from bot.branches.merge import holdings, merge_branches, pending_draws
from bot.branches.service import (
    PLACE_LIMIT,
    admins_over,
    clean_place,
    count_people,
    national_admins,
    only,
    organisers,
    people_in,
    role_label,
    search,
    slugify,
    status_label,
)
from bot.kernel.actions import Action
from bot.kernel.context import Context
from bot.kernel.effects import audit, notify, people_of
from bot.kernel.i18n import N_, format_local
from bot.kernel.messages import Button, Reply
from bot.kernel.people import resolve_reference
from bot.kernel.permissions import (
    holds_above_branch,
    holds_at_branch,
    holds_at_region,
    holds_nationally,
    is_member,
)
from bot.kernel.registry import GROUP, PRIVATE, Param, action, command
from bot.linking.service import merge_people, secret_votes_in_common
from bot.membership.handlers import place_name, scope_phrase
from storage.models import Branch, BranchTransition, Identity, Person, Region, RoleGrant
from storage.vocabulary import (
    ADMIN,
    AFFILIATED,
    FORMING,
    MERGED,
    NATIONAL_SCOPE_ID,
    ORGANISER,
    PROPOSED,
    ROLES,
    SCOPE_BRANCH,
    SCOPE_NATIONAL,
    SCOPE_REGION,
    TREASURER,
)

MEMBER_LIST_LIMIT = 100
STAFF = (ORGANISER, TREASURER, ADMIN)
# /promote and /demote: someone, a role from the vocabulary, and where.
ROLE_PARAMS = (
    Param.person(),
    Param.choice("role", N_("which role"), ROLES, required=True),
    Param.choice(
        "level",
        N_("where (default: their branch)"),
        (SCOPE_BRANCH, SCOPE_REGION, SCOPE_NATIONAL),
    ),
)


async def _target(ctx: Context, ref: str, role: str) -> tuple[Person, Branch | None]:
    """The person an organiser means, if they look after that person's branch."""
    grants = await ctx.grants()
    matches: list[tuple[Person, Branch | None]] = []
    seen = False  # on a Members list the actor reads, but the role is missing
    for person in await resolve_reference(ctx.session, ref):
        branch = await ctx.session.get(Branch, person.branch_id) if person.branch_id else None
        if branch is not None and holds_at_branch(grants, role, branch):
            matches.append((person, branch))
        elif branch is None and holds_nationally(grants, ADMIN):
            matches.append((person, None))
        elif branch is not None and any(
            holds_at_branch(grants, r, branch) for r in (ORGANISER, TREASURER)
        ):
            seen = True
    if not matches and seen:
        # They can see this person (their Members list), so say the real reason.
        raise ctx.refuse(
            ctx.t(
                "That needs the {role} role (or an admin's) in their branch.",
                role=role_label(ctx.t, role),
            ),
            audit=f"target:{role}",
        )
    if not matches:
        raise ctx.refuse(
            ctx.t(
                "I cannot find {ref} among the people you look after. Use their short id "
                "(shown under /branch, Members) or their @handle.",
                ref=ref[:40],
            ),
            audit=f"target:{role}",
        )
    if len(matches) > 1:
        raise ctx.refuse(ctx.t("{ref} matches several people; use their short id.", ref=ref[:40]))
    return matches[0]


async def _own_branch(ctx: Context, name: str) -> Branch:
    """The branch an organiser asks about: named, or their own."""
    person = ctx.require_person()
    if name:
        exact, found = await search(ctx, name)
        branch = exact or (found[0] if len(found) == 1 else None)
        if branch is None:
            raise ctx.refuse(ctx.t("There is no branch called {name}.", name=name[:40]))
        return branch
    branch = await ctx.session.get(Branch, person.branch_id) if person.branch_id else None
    if branch is None:
        raise ctx.refuse(ctx.t("You are not in a branch; name one: /branch Frome"))
    return branch


async def _require_staff(ctx: Context, branch: Branch, roles: tuple[str, ...], what: str) -> None:
    grants = await ctx.grants()
    if not any(holds_at_branch(grants, r, branch) for r in roles):
        raise ctx.refuse(
            ctx.t(
                "Only the organisers of the {branch} branch (or admins above it) can do that.",
                branch=branch.name,
            ),
            audit=what,
        )


BRANCH_EDITS = ("rename", "area", "timezone")


async def _edit_branch(ctx: Context, verb: str, rest: str) -> Reply:
    """/branch rename|area|timezone <branch>: <value>, by the admins over the branch."""
    name, _, value = rest.partition(":")
    branch = await _own_branch(ctx, name.strip())
    await _require_staff(ctx, branch, (ADMIN,), "branch.edit")
    value = " ".join(value.split())
    before: str
    if verb == "rename":
        new = clean_place(value)
        if new is None:
            raise ctx.refuse(
                ctx.t("A branch's name is a place name of up to {n} letters.", n=PLACE_LIMIT)
            )
        taken = await ctx.session.scalar(select(Branch).where(Branch.slug == slugify(new)))
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


MERGEABLE = (PROPOSED, FORMING)


async def _merge_pair(ctx: Context, rest: str) -> tuple[Branch, Branch]:
    """The two branches of /branch merge <branch>: <into branch>."""
    name, colon, into_name = rest.partition(":")
    name, into_name = name.strip(), into_name.strip()
    if not (name and colon and into_name):
        raise ctx.refuse(
            ctx.t(
                "Usage: /branch merge <branch>: <into branch>, e.g. "
                "/branch merge Frome Town: Frome (Frome Town's people join Frome)."
            )
        )
    return await _own_branch(ctx, name), await _own_branch(ctx, into_name)


async def _check_merge(ctx: Context, source: Branch, into: Branch) -> None:
    """Refuse unless the actor may merge ``source`` into ``into`` now."""
    grants = await ctx.grants()
    # Admins above both branches: no admin takes another region's branch (and its
    # people's data) by merging it into one of theirs. A branch's own roles never do.
    if not all(holds_above_branch(grants, ADMIN, b) for b in (source, into)):
        raise ctx.refuse(
            ctx.t(
                "Only the admins of both branches' regions, or national admins, can merge branches."
            ),
            audit="branch.merge",
        )
    if source.id == into.id:
        raise ctx.refuse(ctx.t("A branch cannot be merged into itself."))
    if source.status not in MERGEABLE:
        reason = ctx.t(
            "The {branch} branch is {status}: it has held its first face-to-face meeting, "
            "so it is not merged away. Only a proposed or forming branch is merged into "
            "another.",
            branch=source.name,
            status=status_label(ctx, source.status),
        )
        if into.status in MERGEABLE:
            reason += " " + ctx.t(
                "To keep {branch}, merge the other one into it: /branch merge {other}: {branch}",
                branch=source.name,
                other=into.name,
            )
        raise ctx.refuse(reason)
    if await pending_draws(ctx.session, source):
        raise ctx.refuse(
            ctx.t(
                "The {branch} branch has a draw by lot waiting for its seed: merge it once "
                "that draw is made.",
                branch=source.name,
            )
        )


async def _merge_preview(ctx: Context, rest: str) -> Reply:
    """/branch merge <branch>: <into branch>: what would move, and a Confirm button.
    Nothing changes until it is pressed."""
    ctx.require_person()
    source, into = await _merge_pair(ctx, rest)
    await _check_merge(ctx, source, into)
    has = await holdings(ctx.session, source)
    kept = await holdings(ctx.session, into)
    counts = ", ".join(
        [
            ctx.t.plural("{n} person", "{n} people", has.people),
            ctx.t.plural("{n} organiser", "{n} organisers", has.organisers),
            ctx.t.plural("{n} meeting", "{n} meetings", has.meetings),
            ctx.t.plural(
                "{n} weekly canvassing session", "{n} weekly canvassing sessions", has.canvass_slots
            ),
            ctx.t.plural("{n} poll", "{n} polls", has.polls),
            ctx.t.plural("{n} linked group chat", "{n} linked group chats", has.chats),
        ]
    )
    prompt = await ctx.prompt("brmerge", source=source.id, into=into.id)
    text = "\n".join(
        [
            ctx.t(
                "Merge the {branch} branch ({status}) into the {into} branch ({into_status})?",
                branch=source.name,
                status=status_label(ctx, source.status),
                into=into.name,
                into_status=status_label(ctx, into.status),
            ),
            ctx.t("{branch} has {counts}.", branch=source.name, counts=counts),
            ctx.t(
                "All of it moves to {into}, and {branch}'s history shows in {into}'s. "
                "{branch} is then no longer a branch of its own: its name and area are added "
                "to {into}'s area, so that people looking for {branch} find {into}.",
                branch=source.name,
                into=into.name,
            ),
            ctx.t.plural(
                "{into} will have {n} person. Everyone in both branches will be told.",
                "{into} will have {n} people. Everyone in both branches will be told.",
                has.people + kept.people,
                into=into.name,
            ),
        ]
    )
    return Reply(
        text,
        buttons=(
            (
                Button(ctx.t("Merge them"), Action.BRANCH_MERGE, str(prompt.id)),
                Button(ctx.t("Cancel"), Action.BRANCH_MERGE_CANCEL, str(prompt.id)),
            ),
        ),
    )


@action(Action.BRANCH_MERGE)
async def merge_confirmed(ctx: Context, target: str) -> Reply:
    """The Confirm of /branch merge: everything checked again, then one transaction."""
    ctx.require_person()
    prompt = await ctx.take_prompt(target, "brmerge", audit="branch.merge")
    ids = sorted({int(prompt.payload["source"]), int(prompt.payload["into"])})
    # Both rows locked, in id order (PostgreSQL): no join or second merge slips between.
    found = {}
    for branch_id in ids:
        branch = await ctx.session.get(Branch, branch_id, with_for_update=True)
        if branch is None:
            raise ctx.stale()
        found[branch_id] = branch
    source = found[int(prompt.payload["source"])]
    into = found[int(prompt.payload["into"])]
    await _check_merge(ctx, source, into)
    source_id, source_name, into_id, into_name = source.id, source.name, into.id, into.name
    moved = await holdings(ctx.session, source)
    # Told before the move, while each branch's people are still its own.
    await notify(
        ctx,
        people_of(source),
        f"branch-merged:{source_id}:{into_id}",
        lambda t: t(
            "The {branch} branch you joined was a second proposal for the same place as "
            "the {into} branch, so the two are now one: you are in the {into} branch. Its "
            "organisers, meetings and canvassing are yours too; nothing else changes for you.",
            branch=source_name,
            into=into_name,
        ),
    )
    await notify(
        ctx,
        people_of(into),
        f"branch-merged-in:{source_id}:{into_id}",
        lambda t: t.plural(
            "The {branch} branch, a second proposal for the same place, is now part of your "
            "{into} branch: its {n} person is in {into} with you.",
            "The {branch} branch, a second proposal for the same place, is now part of your "
            "{into} branch: its {n} people are in {into} with you.",
            moved.people,
            branch=source_name,
            into=into_name,
        ),
    )
    kept = await merge_branches(
        ctx.session, source, into, now=ctx.now, actor_id=ctx.person.id if ctx.person else None
    )
    ctx.forget_grants()
    audit(
        ctx,
        "branch.merged",
        branch=kept,
        merged=source_name,
        merged_branch_id=source_id,
        kept_branch_id_before=into_id,
        people=moved.people,
    )
    # The interest grew: enough people and an organiser now make it form.
    formed = await maybe_forming(ctx, kept, ctx.person)
    people = await count_people(ctx, kept)
    text = ctx.t.plural(
        "Merged: {branch} is now part of the {into} branch, which has {n} person.",
        "Merged: {branch} is now part of the {into} branch, which has {n} people.",
        people,
        branch=source_name,
        into=kept.name,
    )
    if formed:
        text += " " + ctx.t("With them it has enough people and an organiser: it is now forming.")
    return Reply(text, edit=True)


@action(Action.BRANCH_MERGE_CANCEL)
async def merge_cancelled(ctx: Context, target: str) -> Reply:
    await ctx.take_prompt(target, "brmerge")
    return Reply(ctx.t("Cancelled: nothing was changed."), edit=True)


@command(
    "branch",
    N_("your branch: status, counts and next step"),
    usage="[branch]",
    roles=STAFF,
    params=(Param.branch(),),
    chats=(PRIVATE, GROUP),
    staff=(
        (
            "rename|area|timezone <branch>: <value>",
            N_("rename a branch, set the places it covers or its time zone"),
            (ADMIN,),
        ),
        (
            "merge <branch>: <into branch>",
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
        return await _merge_preview(ctx, rest)
    if verb.lower() == "override":
        return await _override(ctx, rest)
    branch = await _own_branch(ctx, ctx.request.args)
    await _require_staff(ctx, branch, STAFF, "branch")
    await maybe_forming(ctx, branch, None)  # e.g. after an import brought the interest
    tz = branch.timezone
    at = await progress(ctx, branch)
    region = await ctx.session.get(Region, branch.region_id) if branch.region_id else None
    orgs = await organisers(ctx, branch)
    lines = [
        ctx.t(
            "{branch} branch: {status}", branch=branch.name, status=status_label(ctx, branch.status)
        )
        + (f" ({ctx.t('{region} region', region=region.name)})" if region else ""),
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
        next_step(ctx, branch, at),
    ]
    buttons = [Button(ctx.t("Members"), Action.MEMBERS, str(branch.id))]
    return Reply("\n".join(lines), buttons=(tuple(buttons),))


async def _history(ctx: Context, branch: Branch, at: Progress) -> list[str]:
    """The branch's steps and founding meetings, with dates, in order; an
    overridden step says who overrode it and why."""
    tz = branch.timezone
    steps = list(
        await ctx.session.execute(
            select(BranchTransition, Person.display_name)
            .outerjoin(Person, Person.id == BranchTransition.actor_id)
            .where(BranchTransition.branch_id == branch.id)
            .order_by(BranchTransition.at, BranchTransition.id)
        )
    )
    events: list[tuple[dt.datetime, str]] = []
    for step, actor in steps:
        date = format_local(step.at, "iso_date", ctx.t.locale, tz=tz)
        text = f"{status_label(ctx, step.to_status)} {date}"
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
                    date=format_local(branch.first_call_at, "iso_date", ctx.t.locale, tz=tz),
                ),
            )
        )
    if branch.first_meeting_at is not None:
        events.append(
            (
                branch.first_meeting_at,
                ctx.t(
                    "first face-to-face meeting {date}, {came}",
                    date=format_local(branch.first_meeting_at, "iso_date", ctx.t.locale, tz=tz),
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
    branch = await _own_branch(ctx, name.strip())
    await _require_staff(ctx, branch, (ADMIN,), "branch.override")
    return Reply(await override(ctx, branch, reason))


@action(Action.MEMBERS)
async def members_pressed(ctx: Context, target: str) -> Reply:
    branch = await ctx.branch_from(target)
    await _require_staff(ctx, branch, STAFF, "members")
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


def _parse_role_args(ctx: Context, usage: str) -> tuple[str, str, str]:
    words = ctx.request.args.split()
    if len(words) not in (2, 3) or words[1].lower() not in ROLES:
        raise ctx.refuse(
            ctx.t(
                "Usage: {usage}. Roles: organiser, treasurer, admin. Where: branch (the "
                "default), region or national.",
                usage=usage,
            )
        )
    scope = words[2].lower() if len(words) == 3 else SCOPE_BRANCH
    if scope not in (SCOPE_BRANCH, SCOPE_REGION, SCOPE_NATIONAL):
        raise ctx.refuse(ctx.t("Where must be branch, region or national."))
    return words[0], words[1].lower(), scope


def _scope_id(ctx: Context, scope: str, branch: Branch | None) -> int:
    """The id of the scope a grant is made at, from the person's branch."""
    if scope == SCOPE_BRANCH:
        if branch is None:
            raise ctx.refuse(ctx.t("They are not in a branch yet."))
        return branch.id
    if scope == SCOPE_REGION:
        if branch is None or branch.region_id is None:
            raise ctx.refuse(ctx.t("Their branch is not in a region yet."))
        return branch.region_id
    return NATIONAL_SCOPE_ID


async def _may_grant(ctx: Context, role: str, scope: str, scope_id: int, grant: bool) -> bool:
    """Branch organisers make organisers of their branch (and may end a treasurer's
    role); admins of a level make anything at that level and below. Only admins
    make treasurers: a treasurer makes members (who vote and may be drawn), so an
    organiser must not choose one."""
    grants = await ctx.grants()
    if scope == SCOPE_BRANCH:
        branch = await ctx.session.get(Branch, scope_id)
        by_organiser = role == ORGANISER or (role == TREASURER and not grant)
        needed = ORGANISER if by_organiser else ADMIN
        return branch is not None and holds_at_branch(grants, needed, branch)
    if scope == SCOPE_REGION:
        return holds_at_region(grants, ADMIN, scope_id)
    return holds_nationally(grants, ADMIN)


async def _may_touch(ctx: Context, person: Person, role: str) -> bool:
    """Does the actor hold ``role`` over this person (their branch, or nationally)?"""
    grants = await ctx.grants()
    branch = await ctx.session.get(Branch, person.branch_id) if person.branch_id else None
    if branch is not None:
        return holds_at_branch(grants, role, branch)
    return holds_nationally(grants, ADMIN)


async def _find_grant(
    ctx: Context, person: Person, role: str, scope: str, scope_id: int
) -> RoleGrant | None:
    return await ctx.session.scalar(
        select(RoleGrant).where(
            RoleGrant.person_id == person.id,
            RoleGrant.role == role,
            RoleGrant.scope == scope,
            RoleGrant.scope_id == scope_id,
        )
    )


async def _change_role(
    ctx: Context, person: Person, role: str, scope: str, scope_id: int, grant: bool
) -> Reply:
    branch = await ctx.session.get(Branch, scope_id) if scope == SCOPE_BRANCH else None
    if grant and ctx.person is not None and person.id == ctx.person.id:
        raise ctx.refuse(
            ctx.t("You cannot give yourself a role: ask another organiser or an admin."),
            audit="promote",
        )
    if not await _may_grant(ctx, role, scope, scope_id, grant):
        raise ctx.refuse(
            ctx.t("Only admins make treasurers.")
            if role == TREASURER and grant
            else ctx.t("You do not have the role needed to change that."),
            audit="promote" if grant else "demote",
        )
    existing = await _find_grant(ctx, person, role, scope, scope_id)
    place = await place_name(ctx, scope, scope_id)
    where = scope_phrase(ctx.t, scope, place)
    label = role_label(ctx.t, role)
    if grant:
        if existing is not None:
            raise ctx.refuse(
                ctx.t(
                    "{name} is already {role} of {where}.",
                    name=person.display_name,
                    role=label,
                    where=where,
                )
            )
        ctx.session.add(
            RoleGrant(
                person_id=person.id,
                role=role,
                scope=scope,
                scope_id=scope_id,
                granted_by=ctx.person.id if ctx.person else None,
                granted_at=ctx.now,
            )
        )
        await ctx.session.flush()
    else:
        if existing is None:
            raise ctx.refuse(
                ctx.t(
                    "{name} is not {role} of {where}.",
                    name=person.display_name,
                    role=label,
                    where=where,
                )
            )
        if role == ADMIN and scope == SCOPE_NATIONAL:
            admins = await ctx.session.scalar(
                select(func.count())
                .select_from(RoleGrant)
                .where(RoleGrant.role == ADMIN, RoleGrant.scope == SCOPE_NATIONAL)
            )
            if (admins or 0) <= 1:
                raise ctx.refuse(ctx.t("The party must keep at least one national admin."))
        await ctx.session.execute(delete(RoleGrant).where(RoleGrant.id == existing.id))
    ctx.forget_grants()
    audit(
        ctx,
        "role.granted" if grant else "role.revoked",
        subject=person,
        branch=branch if scope == SCOPE_BRANCH else None,
        role=role,
        scope=scope,
        scope_id=scope_id,
    )
    key = f"role:{'+' if grant else '-'}:{role}:{scope}:{scope_id}:{ctx.now.isoformat()}"
    await notify(
        ctx,
        only(person),
        key,
        # In the recipient's language, role and place names too.
        (
            lambda t: t(
                "You are now {role} of {where}.",
                role=role_label(t, role),
                where=scope_phrase(t, scope, place),
            )
        )
        if grant
        else (
            lambda t: t(
                "You are no longer {role} of {where}.",
                role=role_label(t, role),
                where=scope_phrase(t, scope, place),
            )
        ),
    )
    if grant and role == ORGANISER and scope == SCOPE_BRANCH and branch is not None:
        await maybe_forming(ctx, branch, ctx.person)
    undo = await ctx.prompt(
        "undo",
        op="role",
        person=person.id,
        role=role,
        scope=scope,
        scope_id=scope_id,
        grant=not grant,
    )
    text = (
        ctx.t("{name} is now {role} of {where}.", name=person.display_name, role=label, where=where)
        if grant
        else ctx.t(
            "{name} is no longer {role} of {where}.",
            name=person.display_name,
            role=label,
            where=where,
        )
    )
    return Reply(text, buttons=((ctx.undo_button(undo),),))


@command(
    "promote",
    N_("give someone a role"),
    usage="<person> <organiser|treasurer|admin> [branch|region|national]",
    roles=(ORGANISER, ADMIN),
    params=ROLE_PARAMS,
)
async def promote(ctx: Context) -> Reply:
    ctx.require_person()
    ref, role, scope = _parse_role_args(ctx, "/promote <person> <role> [where]")
    person, branch = await _target(ctx, ref, ORGANISER)
    return await _change_role(ctx, person, role, scope, _scope_id(ctx, scope, branch), grant=True)


@command(
    "demote",
    N_("take a role away from someone"),
    usage="<person> <organiser|treasurer|admin> [branch|region|national]",
    roles=(ORGANISER, ADMIN),
    params=ROLE_PARAMS,
)
async def demote(ctx: Context) -> Reply:
    ctx.require_person()
    ref, role, scope = _parse_role_args(ctx, "/demote <person> <role> [where]")
    person, branch = await _target(ctx, ref, ORGANISER)
    return await _change_role(ctx, person, role, scope, _scope_id(ctx, scope, branch), grant=False)


def _parse_dues(ctx: Context, text: str) -> dt.date | None:
    if text.lower() in ("none", "clear"):
        return None
    try:
        value = dt.date.fromisoformat(text)
    except ValueError:
        raise ctx.refuse(
            ctx.t("Please give the date as YYYY-MM-DD, for example 2027-11-30, or none.")
        ) from None
    today = ctx.now.date()
    if not (today - dt.timedelta(days=366 * 10) <= value <= today + dt.timedelta(days=366 * 10)):
        raise ctx.refuse(ctx.t("That date is more than ten years away; please check it."))
    return value


async def _set_dues(
    ctx: Context, person: Person, branch: Branch | None, value: dt.date | None
) -> Reply:
    previous = person.dues_paid_until
    if ctx.person is not None and person.id == ctx.person.id:
        raise ctx.refuse(
            ctx.t("You cannot record your own dues: ask another treasurer or an admin."),
            audit="dues",
        )
    if previous == value:
        raise ctx.refuse(ctx.t("Nothing to change: that is already recorded."))
    person.dues_paid_until = value
    actor = ctx.person.display_name if ctx.person is not None else "?"
    audit(
        ctx,
        "dues.set",
        subject=person,
        branch=branch,
        previous=previous.isoformat() if previous else None,
        until=value.isoformat() if value else None,
    )
    await notify(
        ctx,
        only(person),
        f"dues:{value}:{ctx.now.isoformat()}",
        (
            lambda t: t(
                "Your membership dues are recorded as paid until {date}. Thank you!",
                date=format_local(value, "iso_date", t.locale),
            )
        )
        if value
        else (lambda t: t("Your dues record has been cleared: you are now a supporter.")),
    )
    # Dues make members, who vote and may be drawn: the admins over the branch see
    # every change (the actor, if an admin, reads the reply instead).
    await notify(
        ctx,
        admins_over(branch) if branch is not None else national_admins(),
        f"dues-told:{person.id}:{ctx.now.isoformat()}",
        (
            lambda t: t(
                "{actor} recorded the dues of {name} ({short_id}) as paid until {date}.",
                actor=actor,
                name=person.display_name,
                short_id=person.short_id,
                date=format_local(value, "iso_date", t.locale),
            )
        )
        if value
        else (
            lambda t: t(
                "{actor} cleared the dues of {name} ({short_id}).",
                actor=actor,
                name=person.display_name,
                short_id=person.short_id,
            )
        ),
        about=person,
    )
    undo = await ctx.prompt(
        "undo",
        op="dues",
        person=person.id,
        value=previous.isoformat() if previous else None,
        written=value.isoformat() if value else None,
    )
    text = (
        ctx.t(
            "Dues for {name} are now paid until {date}.",
            name=person.display_name,
            date=format_local(value, "iso_date", ctx.t.locale),
        )
        if value
        else ctx.t("{name} is now recorded as a supporter (no dues).", name=person.display_name)
    )
    return Reply(text, buttons=((ctx.undo_button(undo),),))


@command(
    "dues",
    N_("record that someone's dues are paid until a date"),
    usage="<person> <YYYY-MM-DD|none>",
    roles=(TREASURER,),
    params=(Param.person(), Param.date("paid_until", N_("YYYY-MM-DD, or none"), required=True)),
)
async def dues(ctx: Context) -> Reply:
    ctx.require_person()
    words = ctx.request.args.split()
    if len(words) != 2:
        raise ctx.refuse(ctx.t("Usage: /dues <person> <YYYY-MM-DD|none>"))
    value = _parse_dues(ctx, words[1])
    person, branch = await _target(ctx, words[0], TREASURER)
    return await _set_dues(ctx, person, branch, value)


@command(
    "merge",
    N_("merge an imported membership record with the same person's chat record"),
    usage="<imported person> <person who joined from chat>",
    roles=(ORGANISER,),
)
async def merge(ctx: Context) -> Reply:
    """One person, two records: the one a membership list imported (no chat account)
    and the one made when they joined from a chat. The imported record is kept;
    everything of the other moves onto it, nothing doubled (as /link merges)."""
    ctx.require_person()
    words = ctx.request.args.split()
    if len(words) != 2:
        raise ctx.refuse(ctx.t("Usage: /merge <imported person> <person who joined from chat>"))
    (a, _), (b, _) = [await _target(ctx, w, ORGANISER) for w in words]
    if a.id == b.id:
        raise ctx.refuse(ctx.t("Those are the same record."))
    has = {}
    for p in (a, b):
        has[p.id] = bool(
            await ctx.session.scalar(
                select(func.count()).select_from(Identity).where(Identity.person_id == p.id)
            )
        )
    if has[a.id] == has[b.id]:
        # Two chat accounts are joined by their owner (/link), never by an organiser.
        raise ctx.refuse(
            ctx.t(
                "Merging joins an imported record (no chat account yet) with a record made "
                "from a chat. Two chat accounts of one person are joined by that person, "
                "with /link."
            )
        )
    keep, drop = (b, a) if has[a.id] else (a, b)
    if await secret_votes_in_common(ctx.session, keep, drop):
        raise ctx.refuse(
            ctx.t("Both records have voted in an open secret ballot: merge them after it closes.")
        )
    drop_id, drop_short = drop.id, drop.short_id
    await merge_people(ctx.session, keep, drop)
    keep.claim_code = None
    audit(ctx, "person.merged", subject=keep, merged=drop_short)
    await notify(
        ctx,
        only(keep),
        f"merged:{keep.id}:{drop_id}",
        lambda t: t(
            "Your organiser joined your chat account to your membership record: one "
            "membership, one vote. Send /me to see it.",
        ),
    )
    return Reply(
        ctx.t(
            "Merged: {name} ({short_id}) is one record now, with the chat account.",
            name=keep.display_name,
            short_id=keep.short_id,
        )
    )


@command(
    "affiliate",
    N_("sign an active branch up to the party structure"),
    usage="<branch> [to <region>]",
    roles=(ADMIN,),
    params=(
        Param.branch(N_("the branch"), required=True),
        Param.text("region", N_("the region (default: its own)"), prefix="to "),
    ),
)
async def affiliate(ctx: Context) -> Reply:
    ctx.require_person()
    text = ctx.request.args
    branch_name, _, region_name = text.rpartition(" to ") if " to " in text else (text, "", "")
    if not branch_name.strip():
        raise ctx.refuse(ctx.t("Usage: /affiliate <branch> [to <region>]"))
    exact, _found = await search(ctx, branch_name.strip())
    if exact is None:
        raise ctx.refuse(ctx.t("There is no branch called {name}.", name=branch_name.strip()[:40]))
    branch = exact
    grants = await ctx.grants()
    region = await _pick_region(ctx, branch, region_name.strip())
    # Admins of both the region it joins and the region it is in: no region's admin
    # can take another region's branch (and its members' data). A branch in no
    # region is put in one by a national admin only.
    if branch.region_id is None and not holds_nationally(grants, ADMIN):
        raise ctx.refuse(
            ctx.t(
                "The {branch} branch is in no region yet: only a national admin can put it in one.",
                branch=branch.name,
            ),
            audit="affiliate",
        )
    in_region = branch.region_id is None or holds_at_region(grants, ADMIN, branch.region_id)
    if not (holds_at_region(grants, ADMIN, region.id) and in_region):
        raise ctx.refuse(
            ctx.t(
                "Only admins of the {region} region or the national party can do that.",
                region=region.name,
            ),
            audit="affiliate",
        )
    await ctx.session.refresh(branch, with_for_update=True)  # one step, however many asks
    if branch.status == AFFILIATED:
        raise ctx.refuse(ctx.t("The {branch} branch is already affiliated.", branch=branch.name))
    missing = affiliation_missing(ctx, branch, await progress(ctx, branch))
    if missing:
        raise ctx.refuse(missing)
    await affiliated(ctx, branch, region)
    return Reply(
        ctx.t(
            "The {branch} branch is now affiliated, in the {region} region.",
            branch=branch.name,
            region=region.name,
        )
    )


async def _pick_region(ctx: Context, branch: Branch, name: str) -> Region:
    if name:
        region = await ctx.session.scalar(
            select(Region).where(
                (func.lower(Region.name) == name.lower()) | (Region.slug == name.lower())
            )
        )
        if region is None:
            raise ctx.refuse(ctx.t("There is no region called {name}.", name=name[:40]))
        return region
    if branch.region_id is not None:
        region = await ctx.session.get(Region, branch.region_id)
        if region is not None:
            return region
    grants = await ctx.grants()
    mine = [g.scope_id for g in grants if g.role == ADMIN and g.scope == SCOPE_REGION]
    if len(mine) == 1:
        region = await ctx.session.get(Region, mine[0])
        if region is not None:
            return region
    regions = list(await ctx.session.scalars(select(Region).order_by(Region.id).limit(2)))
    if len(regions) == 1:
        return regions[0]
    raise ctx.refuse(
        ctx.t("Which region? Send /affiliate {branch} to <region>", branch=branch.name)
    )


def _date(text: object) -> dt.date | None:
    return dt.date.fromisoformat(str(text)) if text else None


@action(Action.UNDO)
async def undo(ctx: Context, target: str) -> Reply:
    """Undo a role change or a dues entry, checking the actor's rights again."""
    ctx.require_person()
    prompt = await ctx.take_prompt(target, "undo", audit="undo")
    data = prompt.payload
    person = await ctx.session.get(Person, int(data["person"]))
    if person is None:
        raise ctx.stale()
    if data["op"] == "dues":
        if not await _may_touch(ctx, person, TREASURER):
            raise ctx.refuse(ctx.t("You do not have the role needed to change that."), audit="undo")
        if person.dues_paid_until != _date(data["written"]):
            raise ctx.refuse(
                ctx.t(
                    "The dues of {name} were changed again since, so nothing was undone.",
                    name=person.display_name,
                )
            )
        branch = await ctx.session.get(Branch, person.branch_id) if person.branch_id else None
        reply = await _set_dues(ctx, person, branch, _date(data["value"]))
    else:
        reply = await _change_role(
            ctx,
            person,
            str(data["role"]),
            str(data["scope"]),
            int(data["scope_id"]),
            grant=bool(data["grant"]),
        )
    return Reply(ctx.t("Undone.") + " " + reply.text, buttons=reply.buttons, edit=True)
