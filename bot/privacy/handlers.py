"""/mydata and /forget: see and delete everything held about you."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import delete, func, or_, select

from bot.draws.invitations import vacate
from bot.kernel.actions import Action
from bot.kernel.context import Context
from bot.kernel.effects import audit
from bot.kernel.i18n import N_
from bot.kernel.messages import Attachment, Button, Reply
from bot.kernel.permissions import is_member
from bot.kernel.registry import action, command
from bot.linking.merging import person_columns
from bot.polls.queries import forget_voter
from bot.privacy.retention import erase_mentions, words_naming
from storage.models import (
    AuditEntry,
    Branch,
    Consent,
    ErasureCount,
    Identity,
    Invitation,
    LinkCode,
    LinkFailure,
    OutboxMessage,
    Person,
    Prompt,
    RoleGrant,
    SortitionProfile,
)
from storage.vocabulary import ACCEPTED, ADMIN, INVITED, SCOPE_NATIONAL


def _row(obj: Any, *fields: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in fields:
        value = getattr(obj, name)
        out[name] = value.isoformat() if isinstance(value, dt.date | dt.datetime) else value
    return out


async def export(ctx: Context, person: Person) -> dict[str, Any]:
    """Everything held about a person, as one JSON-ready document."""
    session = ctx.session
    branch = await session.get(Branch, person.branch_id) if person.branch_id else None

    async def rows(model: Any, *where: Any) -> list[Any]:
        return list(await session.scalars(select(model).where(*where).order_by(model.id)))

    return {
        "exported_at": ctx.now.isoformat(),
        "party": ctx.settings.party_name,
        "person": _row(
            person,
            "short_id",
            "display_name",
            "locale",
            "timezone",
            "joined_branch_at",
            "dues_paid_until",
            "consented_at",
            "created_at",
        )
        | {
            "branch": branch.name if branch else None,
            "member_now": is_member(
                person, ctx.now, branch.timezone if branch else ctx.settings.default_timezone
            ),
        },
        "identities": [
            _row(i, "platform", "user_id", "chat_id", "handle", "unreachable", "last_seen_at")
            for i in await rows(Identity, Identity.person_id == person.id)
        ],
        "consents": [
            _row(c, "purpose", "notice_version", "given_at")
            for c in await rows(Consent, Consent.person_id == person.id)
        ],
        "roles": [
            _row(g, "role", "scope", "scope_id", "granted_at")
            for g in await rows(RoleGrant, RoleGrant.person_id == person.id)
        ],
        "audit_log": [
            _row(a, "at", "action", "details")
            | {"you_acted": a.actor_id == person.id, "about_you": a.subject_id == person.id}
            for a in await rows(
                AuditEntry,
                or_(AuditEntry.actor_id == person.id, AuditEntry.subject_id == person.id),
            )
        ],
        "open_buttons": [
            _row(p, "kind", "payload", "created_at", "expires_at", "used_at")
            for p in await rows(
                Prompt,
                or_(Prompt.person_id == person.id, Prompt.owner_key.in_(await _keys(ctx, person))),
            )
        ],
        "messages_to_you": [
            _row(m, "created_at", "status", "sent_at", "text")
            for m in await rows(OutboxMessage, OutboxMessage.person_id == person.id)
        ],
        # Messages to others about them ("... joined", "... accepted a place"),
        # while they are held (privacy.retention_days after they were sent).
        "messages_about_you": [
            _row(m, "created_at", "status", "sent_at", "text")
            for m in await rows(
                OutboxMessage,
                OutboxMessage.about_id == person.id,
                or_(OutboxMessage.person_id.is_(None), OutboxMessage.person_id != person.id),
            )
        ],
    } | await _owned_rows(ctx, person)


# Exported above, field by field.
_EXPORTED = {"identities", "consents", "role_grants", "audit_log", "prompts", "outbox"}


async def _owned_rows(ctx: Context, person: Person) -> dict[str, list[dict[str, Any]]]:
    """Every other row that belongs to the person (a foreign key to them that is
    deleted with them): sign-ups, meeting answers, ballots, their sortition
    profile... Found from the schema, so that a table added later is exported
    too."""
    out: dict[str, list[dict[str, Any]]] = {}
    for table, column in person_columns():
        fk = next(iter(table.c[column].foreign_keys))
        if table.name in _EXPORTED or fk.ondelete != "CASCADE":
            continue
        found = await ctx.session.execute(
            select(table).where(table.c[column] == person.id).order_by(*table.primary_key)
        )
        out[table.name] = [
            {
                key: value.isoformat() if isinstance(value, dt.date | dt.datetime) else value
                for key, value in row._mapping.items()
                if key != column and not isinstance(value, bytes)
            }
            for row in found
        ]
    return out


def privacy_notice(ctx: Context) -> str:
    return ctx.t(
        "Privacy: {party} keeps only what it needs to organise with you: your name and "
        "account id on this platform, your branch, your membership and dues dates, any "
        "roles you take on, and when you agreed to this notice. Party membership reveals "
        "political opinion, so this is special-category data: other members never see it; "
        "only the organisers and treasurers of your branch see what their role needs. It is "
        "never sold or shared. /mydata shows everything held about you and /forget deletes "
        "it, at any time. If you do not agree, nothing is stored.",
        party=ctx.settings.party_name,
    )


async def ask_consent(ctx: Context, join: str = "", *, ask_where: bool = False) -> Reply:
    """The welcome and privacy notice with an "I agree" button; nothing is stored
    about the person until they press it. ``join``: a place to join afterwards;
    ``ask_where``: ask afterwards where they live (the party's sign-up link)."""
    # Short-lived: the place typed before consent must not outlive the question,
    # and each new question sweeps out the expired ones.
    await ctx.sweep_prompts()
    extra = {"where": True} if ask_where else {}
    prompt = await ctx.prompt("consent", lifetime=dt.timedelta(hours=1), join=join, **extra)
    return Reply(
        ctx.t(
            "Welcome to {party}! I help members and supporters join their local branch, "
            "canvass, meet and decide together.",
            party=ctx.settings.party_name,
        )
        + "\n\n"
        + privacy_notice(ctx),
        buttons=((Button(ctx.t("I agree"), Action.CONSENT, str(prompt.id)),),),
    )


async def _keys(ctx: Context, person: Person) -> list[str]:
    """The platform keys (``platform:user id``) of a person's identities."""
    rows = await ctx.session.execute(
        select(Identity.platform, Identity.user_id).where(Identity.person_id == person.id)
    )
    return [f"{platform}:{user_id}" for platform, user_id in rows]


@command("mydata", N_("everything held about you, as a file"), private=True, params=())
async def mydata(ctx: Context) -> Reply:
    if ctx.person is None:
        return Reply(ctx.t("Nothing is held about you: you have not agreed to the privacy notice."))
    document = await export(ctx, ctx.person)
    content = json.dumps(document, indent=2, ensure_ascii=False, default=str).encode()
    return Reply(
        ctx.t("Here is everything held about you."),
        file=Attachment(f"mydata-{ctx.person.short_id}.json", content, "application/json"),
    )


@command("forget", N_("delete everything held about you"), private=True, params=())
async def forget(ctx: Context) -> Reply:
    if ctx.person is None:
        return Reply(ctx.t("Nothing is held about you, so there is nothing to delete."))
    prompt = await ctx.prompt("forget")
    text = ctx.t(
        "This deletes everything held about you: your record, branch, membership and "
        "dues dates, roles, consent and pending messages, and your name in messages about "
        "you. Only anonymous counts remain. It cannot be undone. Are you sure?"
    )
    places = await ctx.session.scalar(
        select(func.count(Invitation.id)).where(
            Invitation.person_id == ctx.person.id, Invitation.status.in_((INVITED, ACCEPTED))
        )
    )
    if places:
        text += "\n\n" + ctx.t(
            "You hold (or are invited to) a place on a council or delegation drawn by lot: "
            "it becomes vacant, and someone else is drawn in your place."
        )
    return Reply(
        text,
        buttons=(
            (
                Button(ctx.t("Yes, delete my data"), Action.FORGET, str(prompt.id)),
                Button(ctx.t("Cancel"), Action.FORGET_CANCEL, str(prompt.id)),
            ),
        ),
    )


@action(Action.FORGET)
async def forget_confirmed(ctx: Context, target: str) -> Reply:
    person = ctx.require_person()
    await ctx.take_prompt(target, "forget")
    national_admins = await ctx.session.scalar(
        select(func.count())
        .select_from(RoleGrant)
        .where(RoleGrant.role == ADMIN, RoleGrant.scope == SCOPE_NATIONAL)
    )
    held = await ctx.grants()
    if national_admins == 1 and any(g.role == ADMIN and g.scope == SCOPE_NATIONAL for g in held):
        raise ctx.refuse(
            ctx.t(
                "You are the party's only national admin: make someone else admin first "
                "(/promote <person> admin national), then /forget."
            )
        )
    branch = await ctx.session.get(Branch, person.branch_id) if person.branch_id else None
    tz = branch.timezone if branch else ctx.settings.default_timezone
    ctx.session.add(
        ErasureCount(
            branch_id=person.branch_id,
            was_member=is_member(person, ctx.now, tz),
            month=ctx.now.date().isoformat()[:7],  # "2026-11"
        )
    )
    person_id, keys = person.id, await _keys(ctx, person)
    # A council seat or an invitation they hold is a vacancy: the organisers are
    # told and the next person is drawn under the draw's rules.
    await vacate(ctx.session, ctx.settings, person_id, ctx.now)
    # Their name, short id, handles and platform ids, out of what was said about them.
    await erase_mentions(ctx.session, ctx.settings, person, await words_naming(ctx.session, person))
    ctx.person = None  # the audit entry must not point at them
    audit(ctx, "person.forgotten")
    # Explicit deletes (not only ON DELETE CASCADE) so that nothing depends on
    # the database enforcing foreign keys.
    for model in (Identity, Consent, RoleGrant, OutboxMessage, Prompt, LinkCode, SortitionProfile):
        await ctx.session.execute(delete(model).where(model.person_id == person_id))
    # Their places on polls' rolls and their ballots stay, naming nobody, so
    # that no count or result changes.
    await forget_voter(ctx.session, person_id)
    await ctx.session.execute(delete(Prompt).where(Prompt.owner_key.in_(keys)))
    await ctx.session.execute(delete(LinkFailure).where(LinkFailure.owner_key.in_(keys)))
    # Messages to others that named them ("X joined", "X offers to organise").
    for event in ("joined", "volunteer"):
        await ctx.session.execute(
            delete(OutboxMessage).where(OutboxMessage.key.like(f"{event}:{person_id}:%"))
        )
    await ctx.session.delete(person)
    return Reply(
        ctx.t(
            "Done: everything held about you has been deleted. If you ever want to come "
            "back, send /start."
        ),
        edit=True,
    )


@action(Action.FORGET_CANCEL)
async def cancel(ctx: Context, target: str) -> Reply:
    await ctx.take_prompt(target, "forget")
    return Reply(ctx.t("Cancelled: nothing was changed."), edit=True)
