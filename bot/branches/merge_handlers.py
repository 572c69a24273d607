"""Merging duplicates: two branches proposed for the same place (/branch merge,
previewed, then confirmed with a button) and two records of one person, an
imported one and one made from a chat (/merge). Every change is audited.
"""

from __future__ import annotations

from bot.branches.formation import maybe_forming
from bot.branches.handlers import branch_named_or_own, target_person
from bot.branches.merge import merge_branches
from bot.branches.queries import count_people, holdings, identity_count, pending_draws
from bot.branches.recipients import only
from bot.branches.texts import status_label
from bot.kernel.actions import Action
from bot.kernel.context import Context
from bot.kernel.effects import audit, notify, people_of
from bot.kernel.i18n import N_
from bot.kernel.messages import Button, Reply
from bot.kernel.permissions import holds_above_branch
from bot.kernel.registry import action, command
from bot.linking.merging import merge_people
from bot.linking.queries import secret_votes_in_common
from storage.models import Branch
from storage.vocabulary import ADMIN, FORMING, ORGANISER, PROPOSED

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
    return await branch_named_or_own(ctx, name), await branch_named_or_own(ctx, into_name)


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
            status=status_label(ctx.t, source.status),
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


async def merge_preview(ctx: Context, rest: str) -> Reply:
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
                status=status_label(ctx.t, source.status),
                into=into.name,
                into_status=status_label(ctx.t, into.status),
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
    "merge",
    N_("merge an imported membership record with the same person's chat record"),
    usage=N_("<imported person> <person who joined from chat>"),
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
    (a, _), (b, _) = [await target_person(ctx, w, ORGANISER) for w in words]
    if a.id == b.id:
        raise ctx.refuse(ctx.t("Those are the same record."))
    has = {}
    for p in (a, b):
        has[p.id] = bool(await identity_count(ctx.session, p))
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
