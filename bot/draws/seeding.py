"""Draws waiting for their seed: the ``seeds`` sweep fetches a beacon's round once
it is due, checks it and completes the draw; on a lottery's day it reminds the
organisers to have the numbers entered.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.draws.completion import complete_group
from bot.draws.queries import draw_body, staff_of
from bot.draws.texts import seed_due_notice
from bot.kernel.config import Settings
from bot.kernel.outbox import enqueue_for
from bot.kernel.timed import Sweep
from bot.lib.sortition import beacons, chains
from storage.db import Database
from storage.models import Draw

# httpx is imported where a beacon round is fetched: a bot that never fetches one
# does not hold it in memory.
if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)


async def seed_sweep(
    db: Database,
    settings: Settings,
    now: dt.datetime,
    client: httpx.AsyncClient | None = None,
    resolver: beacons.Resolver = beacons.resolve,
) -> None:
    """Draws waiting for their seed: once a beacon's round is due, fetch it, check
    its signature against the chain's key, store it and complete the draw; on a
    lottery's day, remind the organisers to have the result entered."""
    due_beacons = await _due_beacons(db, settings, now)
    if not due_beacons:
        return
    import httpx

    owned = client is None
    client = client or httpx.AsyncClient(timeout=10.0, follow_redirects=False)
    urls = beacons.endpoints(settings.sortition_beacon_urls)
    try:
        for draw_id, source in due_beacons:
            chain = chains.chain_of(source)
            round_ = source.get("round")
            if chain is None or not isinstance(round_, int):
                continue
            try:
                proof = await beacons.fetch_round(chain, round_, urls, client, resolver)
            except beacons.BeaconError as exc:
                log.warning("draw %s: %s round %s: %s", draw_id, chain.name, round_, exc)
                continue
            if proof is None:
                continue
            await _complete_with(db, settings, draw_id, proof, now)
    finally:
        if owned:
            await client.aclose()


async def _due_beacons(
    db: Database, settings: Settings, now: dt.datetime
) -> list[tuple[int, dict[str, Any]]]:
    """The draws whose beacon round is due, with their seed sources; on the way,
    the organisers of a lottery whose day it is are reminded."""
    async with db.transaction() as session:
        # Only the seed sources, not the records (a national pool's is megabytes).
        waiting = (
            await session.execute(
                select(Draw.id, Draw.record["seed_source"], Draw.seed_due_at)
                .where(
                    Draw.status == "committed",
                    Draw.round == 0,
                    Draw.seed_reminded_at.is_(None),
                    (Draw.group_id.is_(None)) | (Draw.group_id == Draw.id),
                )
                .order_by(Draw.id)
            )
        ).all()
        due_beacons = [
            (i, dict(source))
            for i, source, due in waiting
            if source.get("kind") == "beacon" and due <= now
        ]
        for draw_id, source, due in waiting:
            if source.get("kind") == "lottery" and due <= now:
                draw = await session.get(Draw, draw_id)
                if draw is not None:
                    await _remind_seed(session, settings, draw, now)
    return due_beacons


async def _complete_with(
    db: Database, settings: Settings, draw_id: int, proof: beacons.Proof, now: dt.datetime
) -> None:
    """Store the beacon's ``proof`` on ``draw_id`` and its delegation, and complete
    them with its randomness (unless cancelled or completed meanwhile)."""
    async with db.transaction() as session:
        row = await session.get(Draw, draw_id, with_for_update=True)
        if row is None or row.status != "committed":
            return
        await session.execute(
            update(Draw)
            .where((Draw.id == row.id) | (Draw.group_id == row.id))
            .values(seed_proof=proof.as_json())
            .execution_options(synchronize_session=False)
        )
        await complete_group(session, settings, row, proof.randomness, now)


TIMED = (Sweep("seeds", seed_sweep),)  # once a minute: beacon rounds due, lottery days


async def _remind_seed(
    session: AsyncSession, settings: Settings, draw: Draw, now: dt.datetime
) -> None:
    if draw.seed_reminded_at is not None or draw.seed_due_at > now:
        return
    body = await draw_body(session, settings, draw)
    if body is None:
        return
    draw.seed_reminded_at = now
    source = draw.record["seed_source"]
    await enqueue_for(
        session,
        staff_of(body),
        key=f"draw-seed-due:{draw.id}",
        render=lambda t: seed_due_notice(t, draw, body, source),
        now=now,
        default_locale=settings.default_locale,
    )
