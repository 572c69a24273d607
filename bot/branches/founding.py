"""Founding a party from an empty database: its name, its first national admin,
its regions and the places each region covers.

A national admin is made by a one-time code: ``organiser init`` (or
``organiser admin add``) prints it on the server's terminal, and whoever sends
``/claim CODE`` from a chat becomes a national admin. Only a hash of the code is
kept, it lasts a day, and it works once: a database reader cannot use it, and a
code seen later in a log or a screenshot is spent.

(What a region's area covers is a rule of :mod:`bot.branches.rules`; the region
that covers a place, a query of :mod:`bot.branches.queries`.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AdminCode, Meta, Person, RoleGrant
from storage.vocabulary import ADMIN, NATIONAL_SCOPE_ID, SCOPE_NATIONAL

ADMIN_CODE_PREFIX = "ADMIN"
ADMIN_CODE_LIFETIME = dt.timedelta(hours=24)
# No 0/O, 1/I/L: a code read aloud or copied from a terminal survives.
_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_GROUPS, _GROUP = 3, 5
PARTY_NAME_KEY = "party.name"


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def new_admin_code() -> str:
    groups = ("".join(secrets.choice(_ALPHABET) for _ in range(_GROUP)) for _ in range(_GROUPS))
    return "-".join((ADMIN_CODE_PREFIX, *groups))


def is_admin_code(text: str) -> bool:
    return text.strip().upper().startswith(ADMIN_CODE_PREFIX + "-")


def _normalise(text: str) -> str:
    return "-".join(part for part in re.split(r"[\s-]+", text.strip().upper()) if part)


async def issue_admin_code(
    session: AsyncSession, now: dt.datetime, note: str = "", *, replacing: bool = False
) -> str:
    """A new one-time code that makes whoever claims it a national admin; with
    ``replacing``, earlier unused codes of the same note stop working (a second
    ``organiser init`` leaves one valid code, not two)."""
    if replacing:
        await session.execute(
            update(AdminCode)
            .where(AdminCode.note == note[:120], AdminCode.used_at.is_(None))
            .where(AdminCode.expires_at > now)
            .values(expires_at=now)
        )
    code = new_admin_code()
    session.add(
        AdminCode(
            code_hash=_hash(code),
            note=note[:120],
            created_at=now,
            expires_at=now + ADMIN_CODE_LIFETIME,
        )
    )
    await session.flush()
    return code


async def take_admin_code(session: AsyncSession, text: str, now: dt.datetime) -> AdminCode | None:
    """The unused, unexpired code ``text`` names, now spent; None if there is none."""
    row = await session.scalar(
        select(AdminCode).where(AdminCode.code_hash == _hash(_normalise(text))).with_for_update()
    )
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    row.used_at = now
    return row


async def national_admins(session: AsyncSession) -> list[Person]:
    rows = await session.scalars(
        select(Person)
        .join(RoleGrant, RoleGrant.person_id == Person.id)
        .where(RoleGrant.role == ADMIN, RoleGrant.scope == SCOPE_NATIONAL)
        .order_by(Person.id)
    )
    return list(rows)


async def make_national_admin(
    session: AsyncSession, person: Person, now: dt.datetime, granted_by: int | None = None
) -> bool:
    """Grant ``person`` the national admin role; False if they held it already."""
    held = await session.scalar(
        select(func.count())
        .select_from(RoleGrant)
        .where(
            RoleGrant.person_id == person.id,
            RoleGrant.role == ADMIN,
            RoleGrant.scope == SCOPE_NATIONAL,
        )
    )
    if held:
        return False
    session.add(
        RoleGrant(
            person_id=person.id,
            role=ADMIN,
            scope=SCOPE_NATIONAL,
            scope_id=NATIONAL_SCOPE_ID,
            granted_by=granted_by,
            granted_at=now,
        )
    )
    await session.flush()
    return True


async def party_name(session: AsyncSession) -> str | None:
    row = await session.get(Meta, PARTY_NAME_KEY)
    return row.value if row is not None else None


async def set_party_name(session: AsyncSession, name: str) -> None:
    row = await session.get(Meta, PARTY_NAME_KEY)
    if row is None:
        session.add(Meta(key=PARTY_NAME_KEY, value=name))
    else:
        row.value = name
