"""``organiser run``: one worker, every configured adapter in one asyncio loop.

The platform adapters are handed what they need of the process (Discord: the
gateway lead among workers and a memory of what it published); they never
reach for the database themselves.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from adapters.scheduler import Scheduler
from adapters.web import start_pages, start_site
from bot.app import build_core, build_timed_jobs
from bot.kernel.clock import SystemClock
from bot.kernel.config import Settings
from bot.kernel.outbox import Transport, run_outbox
from bot.public.pages import Site
from runtime.health import Health, Heartbeat, health_app
from runtime.leader import GATEWAY_LOCK, LeaderLock
from runtime.meta import Memory
from storage.db import Database

log = logging.getLogger("organiser")


@dataclass(frozen=True, slots=True)
class Timing:
    """How often a worker contends for a lead, checks the lead it holds, and
    writes its heartbeat (seconds). Tests make these short."""

    takeover_every: float = 5.0
    check_every: float = 5.0
    heartbeat_every: float = 15.0


class Adapter(Protocol):
    """What ``serve`` needs of a platform adapter."""

    @property
    def transport(self) -> Transport: ...

    @property
    def state(self) -> str: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


Step = Callable[[], Awaitable[None]]


def gateway_lead(
    db: Database, timing: Timing = Timing()
) -> Callable[[Step, Step, Callable[[], bool]], LeaderLock]:
    """The Discord gateway's lead: one worker of those sharing ``db`` connects it."""

    def lead(on_gain: Step, on_lose: Step, able: Callable[[], bool]) -> LeaderLock:
        return LeaderLock(
            db,
            GATEWAY_LOCK,
            "discord gateway",
            on_gain=on_gain,
            on_lose=on_lose,
            able=able,
            retry_every=timing.takeover_every,
            check_every=timing.check_every,
        )

    return lead


async def serve(
    db: Database,
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    stop_on_signals: bool = False,
    timing: Timing | None = None,
) -> None:
    """Every configured adapter, the scheduler, the outbox worker, /healthz and the
    heartbeat, in this one asyncio loop, until ``stop`` is set (or SIGTERM/SIGINT);
    then everything stops in reverse. Several such workers may share one
    PostgreSQL database (``timing``: how often they contend for and check the
    leads and write their heartbeats)."""
    timing = timing or Timing()
    stop = stop or asyncio.Event()
    if stop_on_signals:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
    clock = SystemClock()
    core = build_core(db, settings, clock=clock)
    adapters: list[Adapter] = []
    scheduler = Scheduler(
        db,
        settings,
        clock,
        build_timed_jobs(),
        takeover_every=timing.takeover_every,
        check_every=timing.check_every,
    )
    health = Health(db, clock, scheduler=scheduler)
    if settings.telegram_token:
        from adapters.telegram import TelegramAdapter

        telegram = TelegramAdapter(core, settings)
        telegram.healthz = health.handle
        adapters.append(telegram)
    if settings.discord_token:
        from adapters.discord import DiscordAdapter

        adapters.append(
            DiscordAdapter(core, settings, lead=gateway_lead(db, timing), memory=Memory(db))
        )
    health.adapters = {a.transport.platform: a for a in adapters}
    heartbeat = Heartbeat(db, clock, health.local, every=timing.heartbeat_every, name=health.name)
    started: list[Adapter] = []
    worker: asyncio.Task[None] | None = None
    health_site = None
    pages_site = None
    beating = False
    try:
        for adapter in adapters:
            await adapter.start()
            started.append(adapter)
        await scheduler.start()
        transports = {a.transport.platform: a.transport for a in adapters}
        worker = asyncio.create_task(run_outbox(db, transports, clock, stop))
        if settings.health_port:
            health_site = await start_site(
                health_app(health), settings.health_listen, settings.health_port
            )
        if settings.web_port:
            pages_site = await start_pages(
                Site(db, settings, clock, core.links), settings.web_listen, settings.web_port
            )
        await heartbeat.start()
        beating = True
        await stop.wait()
    finally:
        log.info("stopping")
        stop.set()
        if beating:
            await heartbeat.stop()
        if health_site is not None:
            await health_site.cleanup()
        if pages_site is not None:
            await pages_site.cleanup()
        if worker is not None:
            await worker
        await scheduler.stop()
        for adapter in reversed(started):
            await adapter.stop()
