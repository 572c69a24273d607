"""/announce: an organiser's or admin's message to the people of their branch, their
region or the whole party. The command shows a preview with how many people and
group chats it reaches; Send queues it (once, however often it is pressed), Cancel
drops it.

/announce [branch <name>|region [<name>]|national] [everyone|members|supporters|canvassers]: <text>
"""

from __future__ import annotations

from bot.announcements import queries, sending, texts
from bot.announcements.rules import (
    DRAFT_LIFETIME,
    EMPTY,
    EVERYONE,
    MAX_TEXT,
    Asked,
    may_still_send,
    read_announce,
    text_problem,
)
from bot.branches.handlers import branch_named_or_own, require_staff
from bot.kernel.actions import Action
from bot.kernel.context import Context, parse_id
from bot.kernel.effects import audit
from bot.kernel.i18n import N_
from bot.kernel.messages import Reply
from bot.kernel.permissions import holds_at_region, holds_nationally
from bot.kernel.registry import action, command
from storage.models import Announcement, Branch, Region
from storage.vocabulary import (
    ADMIN,
    NATIONAL_SCOPE_ID,
    ORGANISER,
    SCOPE_BRANCH,
    SCOPE_NATIONAL,
    SCOPE_REGION,
)

ANNOUNCERS = (ORGANISER, ADMIN)


@command(
    "announce",
    N_("send a message to the people of your branch, your region or the party"),
    usage=N_("[branch <name>|region|national] [everyone|members|supporters|canvassers]: <text>"),
    roles=ANNOUNCERS,
    private=True,
    # Room for the text and the level and audience before it; a longer text is
    # refused by the handler, saying how long it may be.
    longest=2 * MAX_TEXT,
)
async def announce_command(ctx: Context) -> Reply:
    person = ctx.require_person()
    asked = read_announce(ctx.request.args)
    scope, scope_id, name = await _scope(ctx, asked)
    problem = text_problem(asked.text)
    if problem == EMPTY:
        raise ctx.refuse(texts.usage(ctx.t))
    if problem is not None:
        raise ctx.refuse(texts.too_long(ctx.t, len(asked.text)))
    await queries.drop_stale(ctx.session, ctx.now - DRAFT_LIFETIME)
    found = await sending.reach(
        ctx.session,
        scope=scope,
        scope_id=scope_id,
        audience=asked.audience,
        author_id=person.id,
        now=ctx.now,
        timezone=ctx.settings.default_timezone,
    )
    if not found.people and not found.chats:
        raise ctx.refuse(texts.nobody(ctx.t, scope, name, asked.audience))
    draft = Announcement(
        scope=scope,
        scope_id=scope_id,
        audience=asked.audience,
        text=asked.text,
        author_id=person.id,
        created_at=ctx.now,
    )
    ctx.session.add(draft)
    await ctx.session.flush()
    kept = asked.audience != EVERYONE and bool(
        await queries.linked_chats(ctx.session, [b.id for b, _ in found.private if b])
    )
    return Reply(
        texts.preview(
            ctx.t, draft, name, people=found.people, chats=len(found.chats), kept_from_chats=kept
        ),
        buttons=texts.preview_buttons(ctx.t, draft),
    )


@action(Action.ANNOUNCE_SEND)
async def send_pressed(ctx: Context, target: str) -> Reply:
    draft = await _own_draft(ctx, target)
    if draft.sent_at is not None:
        return Reply(texts.already_sent(ctx.t), edit=True)
    # The sender may have lost the role since the preview: asked again.
    scope, scope_id, name = await _allowed(ctx, draft.scope, draft.scope_id)
    found = await sending.reach(
        ctx.session,
        scope=scope,
        scope_id=scope_id,
        audience=draft.audience,
        author_id=draft.author_id or 0,
        now=ctx.now,
        timezone=ctx.settings.default_timezone,
    )
    if not await queries.take(
        ctx.session, draft, sent_at=ctx.now, people=found.people, chats=len(found.chats)
    ):
        return Reply(texts.already_sent(ctx.t), edit=True)
    await sending.queue(
        ctx.session,
        draft,
        found,
        texts.copy(scope, name, draft.text),
        default_locale=ctx.settings.default_locale,
        now=ctx.now,
    )
    branch = await ctx.session.get(Branch, scope_id) if scope == SCOPE_BRANCH else None
    audit(
        ctx,
        "announce",
        branch=branch,
        announcement=draft.id,
        scope=scope,
        scope_id=scope_id,
        audience=draft.audience,
        people=found.people,
        chats=len(found.chats),
    )
    return Reply(texts.sent(ctx.t, found.people, len(found.chats)), edit=True)


@action(Action.ANNOUNCE_CANCEL)
async def cancel_pressed(ctx: Context, target: str) -> Reply:
    draft = await _own_draft(ctx, target)
    if draft.sent_at is not None or not await queries.drop(ctx.session, draft):
        return Reply(texts.already_sent(ctx.t), edit=True)
    return Reply(texts.dropped(ctx.t), edit=True)


async def _own_draft(ctx: Context, target: str) -> Announcement:
    """The announcement a button names, if the presser wrote it and it is fresh."""
    person = ctx.require_person()
    draft = await queries.draft(ctx.session, _id(target))
    if draft is None or draft.author_id != person.id:
        raise ctx.stale(audit=None if draft is None else "announce")
    if draft.sent_at is None and not may_still_send(draft.created_at, ctx.now):
        raise ctx.stale()
    return draft


def _id(target: str) -> int:
    return parse_id(target) or 0


async def _scope(ctx: Context, asked: Asked) -> tuple[str, int, str]:
    """The scope an announcement is for, (scope, scope id, its name), once the
    sender is found to be an organiser or admin there; else a refusal, audited."""
    person = ctx.require_person()
    if asked.level == SCOPE_NATIONAL:
        return await _allowed(ctx, SCOPE_NATIONAL, NATIONAL_SCOPE_ID)
    if asked.level == SCOPE_REGION:
        region = await _region(ctx, asked.name)
        return await _allowed(ctx, SCOPE_REGION, region.id)
    branch = await _branch(ctx, asked.name, person.branch_id)
    return await _allowed(ctx, SCOPE_BRANCH, branch.id)


async def _allowed(ctx: Context, scope: str, scope_id: int) -> tuple[str, int, str]:
    """(scope, scope id, its name) if the sender may announce there; else a
    refusal, audited."""
    grants = await ctx.grants()
    if scope == SCOPE_NATIONAL:
        if not holds_nationally(grants, ORGANISER):
            raise ctx.refuse(
                ctx.t("Only the party's national admins can announce to the whole party."),
                audit="announce",
            )
        return scope, scope_id, ctx.settings.party_name
    if scope == SCOPE_REGION:
        region = await ctx.session.get(Region, scope_id)
        if region is None:
            raise ctx.stale()
        if not holds_at_region(grants, ORGANISER, region.id):
            raise ctx.refuse(
                ctx.t(
                    "Only the {region} region's admins (or the party's) can announce to "
                    "the region.",
                    region=region.name,
                ),
                audit="announce",
            )
        return scope, scope_id, region.name
    branch = await ctx.session.get(Branch, scope_id)
    if branch is None:
        raise ctx.stale()
    await require_staff(ctx, branch, ANNOUNCERS, "announce")
    return scope, scope_id, branch.name


async def _region(ctx: Context, name: str) -> Region:
    """The region named, or the one the sender looks after (or lives in)."""
    if name:
        region = await queries.region_named(ctx.session, name)
        if region is None:
            raise ctx.refuse(ctx.t("There is no region called {name}.", name=name[:40]))
        return region
    held = {g.scope_id for g in await ctx.grants() if g.scope == SCOPE_REGION}
    person = ctx.require_person()
    home = await ctx.session.get(Branch, person.branch_id) if person.branch_id else None
    region_id = next(iter(held)) if len(held) == 1 else home.region_id if home else None
    region = await ctx.session.get(Region, region_id) if region_id is not None else None
    if region is None:
        await _announcer(ctx)
        raise ctx.refuse(ctx.t("Name the region: /announce region South West: <text>"))
    return region


async def _announcer(ctx: Context) -> None:
    """Refuse (audited) someone who announces nowhere, before asking them to name a
    place: they would only be refused there."""
    if not any(g.role in ANNOUNCERS for g in await ctx.grants()):
        raise ctx.refuse(
            ctx.t("Only organisers and admins can send announcements."), audit="announce"
        )


async def _branch(ctx: Context, name: str, own: int | None) -> Branch:
    """The branch named, or the sender's own."""
    if name:
        return await branch_named_or_own(ctx, name)
    branch = await ctx.session.get(Branch, own) if own is not None else None
    if branch is None:
        await _announcer(ctx)
        raise ctx.refuse(ctx.t("You are not in a branch; name one: /announce branch Frome: <text>"))
    return branch
