"""The assemblies' SQL: assemblies by code and scope, registrants by account,
the pool of a draw, entrants and invitations, and what retention deletes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.assemblies.rules import COMMITTED, DRAWN, PREVIEW
from storage.models import (
    Assembly,
    AssemblyDraw,
    AssemblyEntrant,
    AssemblyInvitation,
    AssemblyRegistrant,
    Branch,
    Identity,
    OutboxMessage,
    Prompt,
    Region,
)

MESSAGE_KEY = "asm:"  # every outbox key of a message to a registrant starts so


async def by_code(session: AsyncSession, code: str) -> Assembly | None:
    return await session.scalar(select(Assembly).where(Assembly.code == code))


async def code_taken(session: AsyncSession, code: str) -> bool:
    return await session.scalar(select(Assembly.id).where(Assembly.code == code)) is not None


async def every_assembly(session: AsyncSession) -> list[Assembly]:
    return list(await session.scalars(select(Assembly).order_by(Assembly.id)))


async def region_areas(session: AsyncSession, region: Region) -> list[str]:
    """The region's own area and each of its branches' areas."""
    rows = await session.scalars(select(Branch.area).where(Branch.region_id == region.id))
    return [region.area, *rows]


async def latest_prompt(session: AsyncSession, owner_key: str, kind: str) -> Prompt | None:
    """The latest prompt of ``kind`` its owner was given (a typed answer's, taken)."""
    return await session.scalar(
        select(Prompt)
        .where(Prompt.owner_key == owner_key, Prompt.kind == kind)
        .order_by(Prompt.id.desc())
        .limit(1)
    )


async def registrant(
    session: AsyncSession, assembly_id: int, platform: str, user_id: str
) -> AssemblyRegistrant | None:
    return await session.scalar(
        select(AssemblyRegistrant).where(
            AssemblyRegistrant.assembly_id == assembly_id,
            AssemblyRegistrant.platform == platform,
            AssemblyRegistrant.user_id == user_id,
        )
    )


async def registrations_of(
    session: AsyncSession, platform: str, user_id: str
) -> list[tuple[AssemblyRegistrant, Assembly]]:
    """Every registration held for one platform account, with its assembly."""
    rows = await session.execute(
        select(AssemblyRegistrant, Assembly)
        .join(Assembly, Assembly.id == AssemblyRegistrant.assembly_id)
        .where(AssemblyRegistrant.platform == platform, AssemblyRegistrant.user_id == user_id)
        .order_by(AssemblyRegistrant.id)
    )
    return [(r, a) for r, a in rows]


async def registrations_held(
    session: AsyncSession, platform: str, user_id: str, person_id: int | None
) -> list[tuple[AssemblyRegistrant, Assembly]]:
    """The registrations of this account and, for a person, of each of their accounts."""
    accounts = {(platform, user_id)}
    if person_id is not None:
        rows = await session.execute(
            select(Identity.platform, Identity.user_id).where(Identity.person_id == person_id)
        )
        accounts |= {(p, u) for p, u in rows}
    held: list[tuple[AssemblyRegistrant, Assembly]] = []
    for account in sorted(accounts):
        held.extend(await registrations_of(session, *account))
    return held


async def pool(session: AsyncSession, assembly_id: int) -> list[AssemblyRegistrant]:
    """The registrants who answered every question, in registration order."""
    return list(
        await session.scalars(
            select(AssemblyRegistrant)
            .where(
                AssemblyRegistrant.assembly_id == assembly_id,
                AssemblyRegistrant.complete.is_(True),
            )
            .order_by(AssemblyRegistrant.id)
        )
    )


async def registered_count(session: AsyncSession, assembly_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(AssemblyRegistrant)
            .where(
                AssemblyRegistrant.assembly_id == assembly_id,
                AssemblyRegistrant.complete.is_(True),
            )
        )
        or 0
    )


async def registrant_count(session: AsyncSession, assembly_id: int) -> int:
    """Everyone who agreed, whether or not they answered every question."""
    return int(
        await session.scalar(
            select(func.count())
            .select_from(AssemblyRegistrant)
            .where(AssemblyRegistrant.assembly_id == assembly_id)
        )
        or 0
    )


async def drop_draw(session: AsyncSession, draw_id: int) -> None:
    await session.execute(delete(AssemblyDraw).where(AssemblyDraw.id == draw_id))


async def live_draw(session: AsyncSession, assembly_id: int) -> AssemblyDraw | None:
    """The assembly's committed or drawn draw, if any."""
    return await session.scalar(
        select(AssemblyDraw).where(
            AssemblyDraw.assembly_id == assembly_id, AssemblyDraw.status.in_((COMMITTED, DRAWN))
        )
    )


async def latest_draw(session: AsyncSession, assembly_id: int) -> AssemblyDraw | None:
    return await session.scalar(
        select(AssemblyDraw)
        .where(AssemblyDraw.assembly_id == assembly_id, AssemblyDraw.status != PREVIEW)
        .order_by(AssemblyDraw.id.desc())
        .limit(1)
    )


async def drop_stale_previews(session: AsyncSession, before: dt.datetime) -> None:
    await session.execute(
        delete(AssemblyDraw).where(AssemblyDraw.status == PREVIEW, AssemblyDraw.created_at < before)
    )


async def add_entrants(session: AsyncSession, draw_id: int, behind: dict[str, int]) -> None:
    session.add_all(
        AssemblyEntrant(draw_id=draw_id, pseudonym=name, registrant_id=rid)
        for name, rid in behind.items()
    )
    await session.flush()


async def entrants_of(session: AsyncSession, draw_id: int) -> dict[str, int]:
    """pseudonym -> registrant id (those withdrawn since have none)."""
    rows = await session.execute(
        select(AssemblyEntrant.pseudonym, AssemblyEntrant.registrant_id).where(
            AssemblyEntrant.draw_id == draw_id
        )
    )
    return {name: rid for name, rid in rows}


async def invitations_of(session: AsyncSession, draw_id: int) -> list[AssemblyInvitation]:
    return list(
        await session.scalars(
            select(AssemblyInvitation)
            .where(AssemblyInvitation.draw_id == draw_id)
            .order_by(AssemblyInvitation.id)
        )
    )


async def invitations_held(session: AsyncSession, registrant_id: int) -> list[AssemblyInvitation]:
    return list(
        await session.scalars(
            select(AssemblyInvitation).where(
                AssemblyInvitation.registrant_id == registrant_id,
                AssemblyInvitation.status.in_(("invited", "accepted")),
            )
        )
    )


async def invitation_counts(session: AsyncSession, assembly_id: int) -> dict[str, int]:
    """How many invitations of the assembly's live draw are in each state."""
    rows = await session.execute(
        select(AssemblyInvitation.status, func.count())
        .join(AssemblyDraw, AssemblyDraw.id == AssemblyInvitation.draw_id)
        .where(AssemblyDraw.assembly_id == assembly_id, AssemblyDraw.status == DRAWN)
        .group_by(AssemblyInvitation.status)
    )
    return {status: int(n) for status, n in rows}


async def due_invitations(session: AsyncSession, before: dt.datetime) -> list[int]:
    return list(
        await session.scalars(
            select(AssemblyInvitation.id).where(
                AssemblyInvitation.status == "invited", AssemblyInvitation.respond_by <= before
            )
        )
    )


async def to_purge(session: AsyncSession) -> list[Assembly]:
    return list(await session.scalars(select(Assembly).where(Assembly.purged_at.is_(None))))


async def purge_registrants(session: AsyncSession, assembly_id: int) -> int:
    """Delete every registrant of an assembly (their entrants and invitations
    go with them) and what is still queued to them; returns how many."""
    ids = list(
        await session.scalars(
            select(AssemblyRegistrant.id).where(AssemblyRegistrant.assembly_id == assembly_id)
        )
    )
    await session.execute(
        delete(OutboxMessage).where(OutboxMessage.key.like(f"{MESSAGE_KEY}{assembly_id}:%"))
    )
    await session.execute(
        delete(AssemblyRegistrant).where(AssemblyRegistrant.assembly_id == assembly_id)
    )
    return len(ids)


async def forget_registrant(session: AsyncSession, registrant: AssemblyRegistrant) -> None:
    """Delete one registration and every message still queued to it."""
    await session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.key.like(f"{MESSAGE_KEY}{registrant.assembly_id}:{registrant.id}:%")
        )
    )
    await session.execute(delete(AssemblyRegistrant).where(AssemblyRegistrant.id == registrant.id))
