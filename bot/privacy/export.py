"""/mydata's document: everything held about a person, found from the schema
where it can be, so that a table added later is exported too."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import or_, select

from bot.kernel.context import Context
from bot.kernel.permissions import is_member
from bot.linking.merging import person_columns
from bot.privacy.queries import keys_of
from storage.models import (
    AuditEntry,
    Branch,
    Consent,
    Identity,
    OutboxMessage,
    Person,
    Prompt,
    RoleGrant,
)


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
            "language",
            "timezone",
            "joined_branch_at",
            "dues_paid_until",
            "dues_reminded_for",
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
                or_(
                    Prompt.person_id == person.id, Prompt.owner_key.in_(await keys_of(ctx, person))
                ),
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
