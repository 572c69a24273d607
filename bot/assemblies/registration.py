"""A resident's registration: the household key (a keyed hash under a key the
database never holds), recording consent and answers, and withdrawing (a place
held or offered becomes a vacancy, filled under the committed rule).
"""

from __future__ import annotations

import datetime as dt

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.ext.asyncio import AsyncSession

from bot.assemblies import queries
from bot.assemblies.invitations import vacate
from bot.assemblies.rules import NOTICE_VERSION, household_key
from bot.kernel.config import Settings
from bot.kernel.messages import Request
from bot.polls.ballot_box import master_key
from storage.models import Assembly, AssemblyRegistrant


def address_key(
    settings: Settings, session: AsyncSession, assembly_id: int, postcode: str, house: str
) -> str:
    """The household key of an address for one assembly: HMAC-SHA256 under a key
    derived (HKDF) from the key that seals secret ballots, which lives outside
    the database (``polls.ballot_key``)."""
    master = master_key(settings, session.get_bind().engine.url)
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"assembly household").derive(
        master
    )
    return household_key(key, assembly_id, postcode, house)


async def register(
    session: AsyncSession,
    assembly: Assembly,
    request: Request,
    household: str,
    locale: str,
    now: dt.datetime,
) -> AssemblyRegistrant:
    """Record a resident's consent to ``assembly``'s notice: keyed to the
    platform account that agreed (and its private chat), nothing else."""
    row = AssemblyRegistrant(
        assembly_id=assembly.id,
        platform=request.sender.platform,
        user_id=request.sender.user_id,
        chat_id=request.chat.chat_id,
        locale=locale,
        answers={},
        household=household,
        complete=False,
        notice_version=NOTICE_VERSION,
        consented_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def withdraw(
    session: AsyncSession, settings: Settings, registrant: AssemblyRegistrant, now: dt.datetime
) -> int:
    """Delete a registration; a place it holds or was offered is vacated first
    (the next resident is invited). Returns how many places were vacated."""
    vacated = await vacate(session, settings, registrant, now)
    await queries.forget_registrant(session, registrant)
    return vacated
