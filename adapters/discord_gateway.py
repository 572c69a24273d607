"""Discord's gateway: the one WebSocket that brings interactions, held by one
worker of several.

Every worker logs in over HTTP (the outbox needs nothing more to send); only
the holder of the gateway's lead (``lead``: the runtime's advisory lock, see
:mod:`runtime.leader`) connects the gateway; the others stand by, and one takes
over when the holder's session ends. A holder whose lead breaks, or whose
gateway connection ended, leaves the gateway at once. Without a ``lead`` the
worker is alone and holds it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from discord.ext import commands

log = logging.getLogger("adapters.discord")

Step = Callable[[], Awaitable[None]]


class Lead(Protocol):
    """One worker of several holds it (see :mod:`runtime.leader`)."""

    @property
    def held(self) -> bool: ...

    @property
    def leading(self) -> bool: ...

    async def start(self) -> bool: ...

    async def stop(self) -> None: ...


class Alone:
    """The lead of a worker that is the only one: held from the start."""

    def __init__(self, on_gain: Step, on_lose: Step, able: Callable[[], bool]) -> None:
        self.on_gain = on_gain
        self.held = self.leading = False

    async def start(self) -> bool:
        self.held = self.leading = True
        await self.on_gain()
        return True

    async def stop(self) -> None:
        self.held = self.leading = False


Leads = Callable[[Step, Step, Callable[[], bool]], Lead]  # (on_gain, on_lose, able) -> lead


class Gateway:
    """The bot's gateway connection, and the lead that decides whether it is here."""

    def __init__(self, bot: commands.Bot, lead: Leads = Alone) -> None:
        self.bot = bot
        self.lock = lead(self._open, self._close, self.alive)
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()  # the gateway connected here is ready
        self._logged_in = False
        bot.add_listener(self._on_ready, "on_ready")

    async def start(self, token: str) -> None:
        """Log in over HTTP; then, if this worker wins the gateway, connect it and
        return once ready (or raise why not), else stand by."""
        await self.bot.login(token)
        self._logged_in = True
        if not await self.lock.start():
            log.info("discord: another worker holds the gateway; standing by")
            return
        try:
            await self._until_ready()
        except BaseException:
            await self.lock.stop()
            await self._close()
            raise
        log.info("discord: connected as %s", self.bot.user)

    async def stop(self) -> None:
        await self.lock.stop()
        await self._close()
        await self.bot.close()

    @property
    def state(self) -> str:
        """``gateway`` (connected here), ``connecting``, ``standby`` (another worker
        holds the gateway) or ``down``."""
        if not self._logged_in or self.bot.is_closed():
            return "down"
        if not self.lock.leading:
            return "connecting" if self.lock.held else "standby"
        if not self.alive():
            return "down"
        ws = self.bot.ws
        if self._ready.is_set() and ws is not None and ws.open:
            return "gateway"
        return "connecting"

    async def _on_ready(self) -> None:
        self._ready.set()

    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _open(self) -> None:
        """This worker holds the lock: connect the gateway (in the background)."""
        if self.alive() or self.bot.is_closed():
            return
        self._ready.clear()
        self._task = asyncio.create_task(self.bot.connect(reconnect=True), name="gateway")

    async def _until_ready(self) -> None:
        gateway = self._task
        if gateway is None:
            raise RuntimeError("discord: the bot is closed")
        ready = asyncio.create_task(self._ready.wait())
        try:
            done, _ = await asyncio.wait({gateway, ready}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
        if ready not in done:
            gateway.result()  # a login or gateway error: raise it here
            raise RuntimeError("discord: the connection closed before it was ready")

    async def _close(self) -> None:
        """Leave the gateway (the lock is gone or going); HTTP stays logged in."""
        gateway, self._task = self._task, None
        self._ready.clear()
        if gateway is not None:
            gateway.cancel()
            await asyncio.wait({gateway})
            if not gateway.cancelled() and gateway.exception() is not None:
                log.error(
                    "discord: the gateway connection had ended with an error",
                    exc_info=gateway.exception(),
                )
        ws = self.bot.ws
        if ws is not None and ws.open:
            await ws.close(code=1000)
            log.info("discord: left the gateway")
