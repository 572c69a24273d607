"""Privacy's queries: what names a person and which accounts are theirs, how
many national admins there are, the drawn places a person holds, and deleting
everything of a person's. SQL only.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.kernel.context import Context
from bot.polls.queries import forget_voter
from storage.models import (
    CalendarFeed,
    Consent,
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
from storage.vocabulary import ACCEPTED, INVITED


async def words_naming(session: AsyncSession, person: Person) -> list[str]:
    """What names the person in text: their name, short id, and each identity's
    user id, private chat id and handle."""
    words = [person.display_name, person.short_id]
    rows = await session.execute(
        select(Identity.user_id, Identity.chat_id, Identity.handle).where(
            Identity.person_id == person.id
        )
    )
    for user_id, chat_id, handle in rows:
        words += [user_id, chat_id]
        if handle:
            words += [handle, f"@{handle}"]
    return [w.strip() for w in words if w and w.strip()]


async def keys_of(ctx: Context, person: Person) -> list[str]:
    """The platform keys (``platform:user id``) of a person's identities."""
    rows = await ctx.session.execute(
        select(Identity.platform, Identity.user_id).where(Identity.person_id == person.id)
    )
    return [f"{platform}:{user_id}" for platform, user_id in rows]


async def places_held(session: AsyncSession, person_id: int) -> int:
    """How many places drawn by lot the person holds or is invited to."""
    found = await session.scalar(
        select(func.count(Invitation.id)).where(
            Invitation.person_id == person_id, Invitation.status.in_((INVITED, ACCEPTED))
        )
    )
    return int(found or 0)


async def delete_person(session: AsyncSession, person: Person, keys: list[str]) -> None:
    """Delete the person and every row of theirs; ``keys``: their accounts'
    platform keys (``keys_of``), taken before their identities go."""
    person_id = person.id
    # Explicit deletes (not only ON DELETE CASCADE) so that nothing depends on
    # the database enforcing foreign keys.
    for model in (
        Identity,
        Consent,
        RoleGrant,
        OutboxMessage,
        Prompt,
        LinkCode,
        SortitionProfile,
        CalendarFeed,
    ):
        await session.execute(delete(model).where(model.person_id == person_id))
    # Their places on polls' rolls and their ballots stay, naming nobody, so
    # that no count or result changes.
    await forget_voter(session, person_id)
    await session.execute(delete(Prompt).where(Prompt.owner_key.in_(keys)))
    await session.execute(delete(LinkFailure).where(LinkFailure.owner_key.in_(keys)))
    # Messages to others that named them ("X joined", "X offers to organise").
    for event in ("joined", "volunteer"):
        await session.execute(
            delete(OutboxMessage).where(OutboxMessage.key.like(f"{event}:{person_id}:%"))
        )
    await session.delete(person)
