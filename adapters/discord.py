"""The Discord adapter (discord.py v2): interactions in, core replies out.

It only translates. Each core command is a slash command with typed options
(autocomplete where a branch or a person is named); its text becomes a neutral
:class:`~bot.messages.Request`, exactly as typed on Telegram. Buttons are
components whose ``custom_id`` is the core's ``action:id``; one
:class:`~discord.ui.DynamicItem` template catches every such id, so buttons keep
working after a restart, and the presser is always the interaction's user (a
forged or stale id is the core's to refuse).

Replies that concern only the person (``Reply.private``, errors) are
ephemeral in a server channel. A command the core takes more than two seconds
to answer is deferred (Discord allows three) and followed up. Personal outbox
messages go by DM; a refused DM (50007) marks the identity unreachable.

Intents: guilds only. Slash commands need neither message content nor members.

One gateway connection for all workers: every worker logs in over HTTP (the
outbox needs nothing more to send), and only the holder of the gateway's lead
(``lead``, the runtime's advisory lock) connects the gateway, receiving every
interaction; the others stand by and try for the lead every few seconds, so
one takes over when the holder's session ends. A holder whose lead breaks
closes its gateway at once. Without a ``lead`` the adapter is alone and holds
it. The slash commands are published only when they changed since the last
time (as ``memory``, kept by the runtime across restarts, says).
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import io
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

import discord
from aiolimiter import AsyncLimiter
from discord import app_commands
from discord.ext import commands

from bot.config import Settings
from bot.core import Core
from bot.i18n import translator
from bot.messages import ChatRef, Reply, Request, Sender
from bot.outbox import Recipient, Undeliverable
from bot.registry import COMMANDS, CommandSpec

log = logging.getLogger(__name__)

PLATFORM = "discord"
MAX_TEXT = 2000
MAX_LABEL = 80
MAX_ROWS, MAX_PER_ROW = 5, 5
ANSWER_WITHIN = 3.0  # seconds; Discord drops an interaction not answered within 3
DEFER_AFTER = 2.0  # seconds: so a slow answer is deferred in time
GLOBAL_PER_SECOND = 50  # Discord's global limit; the outbox stays under it
DM_REFUSED = 50007  # "Cannot send messages to this user"
GONE = {10003, 10013, 50001}  # unknown channel, unknown user, missing access
# Discord's names for commands whose core name says "chat".
DISCORD_NAMES = {"linkchat": "linkchannel", "unlinkchat": "unlinkchannel"}


Step = Callable[[], Awaitable[None]]


class Lead(Protocol):
    """One worker of several holds it (see :mod:`runtime.leader`)."""

    @property
    def held(self) -> bool: ...

    @property
    def leading(self) -> bool: ...

    async def start(self) -> bool: ...

    async def stop(self) -> None: ...


class Memory(Protocol):
    """What survives a restart: what was last published."""

    async def recall(self, key: str) -> str | None: ...

    async def remember(self, key: str, value: str) -> None: ...


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


@dataclass(frozen=True)
class Option:
    name: str
    description: str
    required: bool = False
    suggest: str | None = None  # "branch" or "person": autocomplete
    choices: tuple[str, ...] = ()
    prefix: str = ""  # put before the value in the command text (e.g. "to ")


DETAILS = Option("details", "what to do (see /help)")
OPTIONS: dict[str, tuple[Option, ...]] = {
    "join": (Option("place", "your town or postcode", True, "branch"),),
    "branch": (Option("branch", "which branch (default: yours)", False, "branch"),),
    "delivery": (Option("branch", "which branch (default: yours)", False, "branch"),),
    "linkchat": (Option("branch", "which branch (default: yours)", False, "branch"),),
    "signup": (Option("branch", "which branch (default: the party's or yours)", False, "branch"),),
    "promote": (
        Option("person", "who", True, "person"),
        Option("role", "which role", True, choices=("organiser", "treasurer", "admin")),
        Option("level", "where (default: their branch)", choices=("branch", "region", "national")),
    ),
    "demote": (
        Option("person", "who", True, "person"),
        Option("role", "which role", True, choices=("organiser", "treasurer", "admin")),
        Option("level", "where (default: their branch)", choices=("branch", "region", "national")),
    ),
    "dues": (
        Option("person", "who", True, "person"),
        Option("paid_until", "YYYY-MM-DD, or none", True),
    ),
    "affiliate": (
        Option("branch", "the branch", True, "branch"),
        Option("region", "the region (default: its own)", prefix="to "),
    ),
    "reminders": (Option("setting", "on or off", True, choices=("on", "off")),),
    "claim": (Option("code", "the code your organiser gave you", True),),
    "link": (Option("code", "the code from your other account (empty: get a code)"),),
}
NO_OPTIONS = {"start", "help", "me", "mydata", "forget", "leave", "unlink", "unlinkchat"}


def options_of(spec: CommandSpec) -> tuple[Option, ...]:
    if spec.name in OPTIONS:
        return OPTIONS[spec.name]
    return () if spec.name in NO_OPTIONS else (DETAILS,)


def command_text(name: str, options: tuple[Option, ...], values: dict[str, Any]) -> str:
    """The command as typed: ``/promote AB12CD organiser``."""
    parts = [f"/{name}"]
    for option in options:
        value = values.get(option.name)
        if value is not None and str(value).strip():
            parts.append(f"{option.prefix}{str(value).strip()}")
    return " ".join(parts)


def sender_of(user: discord.abc.User, locale: discord.Locale | None) -> Sender:
    return Sender(
        PLATFORM,
        str(user.id),
        user.display_name,
        handle=user.name,
        locale=str(locale) if locale is not None else None,
    )


def chat_of(interaction: discord.Interaction[Any]) -> ChatRef:
    kind = "group" if interaction.guild_id is not None else "private"
    return ChatRef(PLATFORM, kind, str(interaction.channel_id or interaction.user.id))


def chunks(text: str, size: int = MAX_TEXT) -> list[str]:
    """Split a long text at line ends into messages Discord accepts."""
    out: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > size:
            if current:
                out.append(current)
                current = ""
            out.append(line[:size])
            line = line[size:]
        if len(current) + len(line) > size:
            out.append(current)
            current = ""
        current += line
    if current or not out:
        out.append(current)
    return [c.rstrip("\n") or "…" for c in out]


class CoreButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"(?s)(?P<data>.{1,100})"
):
    """Every button the core makes: ``custom_id`` is its ``action:id`` data."""

    def __init__(self, data: str, label: str = "…", row: int | None = None) -> None:
        super().__init__(
            discord.ui.Button(
                label=label[:MAX_LABEL] or "…",
                custom_id=data,
                style=discord.ButtonStyle.secondary,
                row=row,
            )
        )
        self.data = data

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: Any,
    ) -> CoreButton:
        label = getattr(item, "label", None) or "…"
        return cls(match["data"], label)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        adapter: DiscordAdapter = interaction.client.adapter
        try:
            await adapter.on_button(interaction, self.data)
        except Exception as exc:  # discord.py would only log it: the presser hears why
            await adapter.on_app_command_error(interaction, exc)


def view_of(reply: Reply) -> discord.ui.View | None:
    """The reply's buttons, in its rows (Discord: five rows of five at most)."""
    if not reply.buttons:
        return None
    rows = [list(r) for r in reply.buttons]
    if len(rows) > MAX_ROWS or any(len(r) > MAX_PER_ROW for r in rows):
        flat = [b for r in rows for b in r]
        rows = [flat[i : i + MAX_PER_ROW] for i in range(0, len(flat), MAX_PER_ROW)]
        if len(rows) > MAX_ROWS:
            log.warning("discord: %d buttons; showing the first 25", len(flat))
            rows = rows[:MAX_ROWS]
    view = discord.ui.View(timeout=None)
    for index, row in enumerate(rows):
        for button in row:
            view.add_item(CoreButton(button.data, button.label, row=index))
    return view


def file_of(reply: Reply) -> discord.File | None:
    if reply.file is None:
        return None
    return discord.File(io.BytesIO(reply.file.content), filename=reply.file.filename)


def message_kwargs(reply: Reply, text: str | None = None, last: bool = True) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"content": text if text is not None else reply.text[:MAX_TEXT]}
    if last:
        view, file = view_of(reply), file_of(reply)
        if view is not None:
            kwargs["view"] = view
        if file is not None:
            kwargs["file"] = file
    return kwargs


def refusal_code(exc: discord.HTTPException) -> int:
    return int(getattr(exc, "code", 0) or 0)


class DiscordTransport:
    """Delivers outbox messages: to a person by DM, to a branch's channel."""

    platform = PLATFORM

    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot
        # On top of discord.py's own handling of rate-limit headers and 429s.
        self.limiter = AsyncLimiter(GLOBAL_PER_SECOND, 1)

    async def send(self, recipient: Recipient, reply: Reply) -> None:
        try:
            if recipient.person_id is not None:
                async with self.limiter:  # opening a DM is a request too
                    channel: discord.abc.Messageable = await self.bot.create_dm(
                        discord.Object(id=int(recipient.user_id))
                    )
            else:
                channel = self.bot.get_partial_messageable(int(recipient.chat_id))
            parts = chunks(reply.text)
            for index, part in enumerate(parts):
                last = index == len(parts) - 1
                async with self.limiter:
                    await channel.send(**message_kwargs(reply, part, last))
        except discord.Forbidden as exc:
            raise Undeliverable(f"{refusal_code(exc)}: {exc.text}") from exc
        except discord.NotFound as exc:
            raise Undeliverable(f"{refusal_code(exc)}: {exc.text}") from exc
        except discord.HTTPException as exc:
            if refusal_code(exc) in GONE or refusal_code(exc) == DM_REFUSED:
                raise Undeliverable(f"{refusal_code(exc)}: {exc.text}") from exc
            raise


class OrganiserBot(commands.Bot):
    def __init__(self, adapter: DiscordAdapter, **kwargs: Any) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(
            command_prefix=commands.when_mentioned,  # no prefix commands are used
            intents=intents,
            help_command=None,
            # Replies repeat what people typed: "@everyone" in a meeting point must not
            # notify a whole server, nor "<@id>" anyone.
            allowed_mentions=discord.AllowedMentions.none(),
            **kwargs,
        )
        self.adapter = adapter

    async def setup_hook(self) -> None:
        self.add_dynamic_items(CoreButton)
        self.tree.error(self.adapter.on_app_command_error)
        await self.adapter.publish_commands()


class DiscordAdapter:
    """One bot: the slash commands, the buttons, and the start/stop that
    ``organiser run`` drives inside its one asyncio loop."""

    def __init__(
        self,
        core: Core,
        settings: Settings,
        *,
        lead: Callable[[Step, Step, Callable[[], bool]], Lead] = Alone,
        memory: Memory | None = None,
        answer_within: float = ANSWER_WITHIN,
        **bot_options: Any,
    ) -> None:
        self.core = core
        self.settings = settings
        # Defer a slow answer when this many seconds of ``answer_within`` (the time
        # Discord gives; shorter against a test's fake) are gone.
        self.defer_after = DEFER_AFTER * answer_within / ANSWER_WITHIN
        self.bot = OrganiserBot(self, **bot_options)
        self.transport = DiscordTransport(self.bot)
        self.lock = lead(self._open_gateway, self._close_gateway, self._gateway_alive)
        self.memory = memory
        self._gateway: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()  # the gateway connected here is ready
        self._logged_in = False
        self._thought: set[int] = set()  # interactions whose deferral was replaced
        self.synced = False
        self.bot.add_listener(self._on_ready, "on_ready")
        for spec in COMMANDS.values():
            self.bot.tree.add_command(self._slash_command(spec))

    # --- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Log in over HTTP; then, if this worker wins the gateway, connect it and
        return once ready (or raise why not), else stand by."""
        await self.bot.login(self.settings.discord_token)
        self._logged_in = True
        if not await self.lock.start():
            log.info("discord: another worker holds the gateway; standing by")
            return
        try:
            await self._until_ready()
        except BaseException:
            await self.lock.stop()
            await self._close_gateway()
            raise
        log.info("discord: connected as %s", self.bot.user)

    async def stop(self) -> None:
        await self.lock.stop()
        await self._close_gateway()
        await self.bot.close()

    @property
    def state(self) -> str:
        """``gateway`` (connected here), ``connecting``, ``standby`` (another worker
        holds the gateway) or ``down``."""
        if not self._logged_in or self.bot.is_closed():
            return "down"
        if not self.lock.leading:
            return "connecting" if self.lock.held else "standby"
        if not self._gateway_alive():
            return "down"
        ws = self.bot.ws
        if self._ready.is_set() and ws is not None and ws.open:
            return "gateway"
        return "connecting"

    async def _on_ready(self) -> None:
        self._ready.set()

    def _gateway_alive(self) -> bool:
        return self._gateway is not None and not self._gateway.done()

    async def _open_gateway(self) -> None:
        """This worker holds the lock: connect the gateway (in the background)."""
        if self._gateway_alive() or self.bot.is_closed():
            return
        self._ready.clear()
        self._gateway = asyncio.create_task(self.bot.connect(reconnect=True), name="gateway")

    async def _until_ready(self) -> None:
        gateway = self._gateway
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

    async def _close_gateway(self) -> None:
        """Leave the gateway (the lock is gone or going); HTTP stays logged in."""
        gateway, self._gateway = self._gateway, None
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

    async def publish_commands(self) -> None:
        """Sync the slash commands, once: only when the list differs from the last
        one published (kept in the database, so a restart does not re-sync)."""
        tree = self.bot.tree
        guild = (
            discord.Object(id=int(self.settings.discord_guild_id))
            if self.settings.discord_guild_id
            else None
        )
        if guild is not None:
            tree.copy_global_to(guild=guild)
        payload = [c.to_dict(tree) for c in tree.get_commands(guild=guild)]
        digest = hashlib.sha256(
            json.dumps(payload, sort_keys=True, default=str).encode()
        ).hexdigest()
        key = f"discord.commands:{self.bot.application_id}:{guild.id if guild else 'global'}"
        if self.memory is not None and await self.memory.recall(key) == digest:
            log.info("discord: slash commands unchanged; not synced")
            return
        await tree.sync(guild=guild)
        self.synced = True
        if self.memory is not None:
            await self.memory.remember(key, digest)  # workers starting together may race
        log.info("discord: published %d slash commands", len(payload))

    # --- slash commands ----------------------------------------------------------

    def _slash_command(self, spec: CommandSpec) -> app_commands.Command[Any, Any, Any]:
        options = options_of(spec)
        name = spec.name

        async def callback(interaction: discord.Interaction[Any], **values: Any) -> None:
            await self.on_command(interaction, spec, command_text(name, options, values))

        parameters = [inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        for option in options:
            parameters.append(
                inspect.Parameter(
                    option.name,
                    inspect.Parameter.KEYWORD_ONLY,
                    annotation=str if option.required else str | None,
                    default=inspect.Parameter.empty if option.required else None,
                )
            )
        callback.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        t = translator(self.settings.default_locale)
        if options:
            app_commands.describe(**{o.name: o.description for o in options})(callback)
        choices = {
            o.name: [app_commands.Choice(name=c, value=c) for c in o.choices]
            for o in options
            if o.choices
        }
        if choices:
            app_commands.choices(**choices)(callback)
        suggests = {o.name: self._suggester(o.suggest) for o in options if o.suggest}
        if suggests:
            app_commands.autocomplete(**suggests)(callback)
        return app_commands.Command(
            name=DISCORD_NAMES.get(name, name),
            description=t(spec.summary)[:100],
            callback=callback,
        )

    def _suggester(
        self, kind: str | None
    ) -> Callable[
        [discord.Interaction[Any], str], Coroutine[Any, Any, list[app_commands.Choice[str]]]
    ]:
        async def suggest(
            interaction: discord.Interaction[Any], current: str
        ) -> list[app_commands.Choice[str]]:
            request = Request(
                sender_of(interaction.user, interaction.locale),
                chat_of(interaction),
                args=current[:100],
            )
            pairs = await self.core.suggest(request, kind or "")
            return [
                app_commands.Choice(name=label[:100], value=value[:100]) for label, value in pairs
            ]

        return suggest

    async def on_command(
        self, interaction: discord.Interaction[Any], spec: CommandSpec, text: str
    ) -> None:
        request = Request.command_from(
            sender_of(interaction.user, interaction.locale), chat_of(interaction), text
        )
        deferred = await self._answer_in_time(interaction, self.core.handle(request))
        await self.respond(interaction, deferred)

    async def _answer_in_time(
        self,
        interaction: discord.Interaction[Any],
        work: Awaitable[list[Reply]],
        *,
        component: bool = False,
    ) -> list[Reply]:
        """The core's replies. If they are not ready before the interaction is
        ``defer_after`` seconds old (Discord drops it at three), it is deferred
        first. In a server the deferral is ephemeral: whether a reply is
        personal is known only once it is ready (see :meth:`respond`)."""
        task = asyncio.ensure_future(work)
        age = (discord.utils.utcnow() - interaction.created_at).total_seconds()
        done, _ = await asyncio.wait({task}, timeout=max(0.0, self.defer_after - age))
        if not done and not interaction.response.is_done():
            try:
                if component:
                    await interaction.response.defer()
                else:
                    await interaction.response.defer(
                        ephemeral=interaction.guild_id is not None, thinking=True
                    )
            except discord.HTTPException as exc:  # too late: the replies go by DM below
                log.warning("discord: could not defer interaction %s: %s", interaction.id, exc)
        return await task

    async def _send(
        self, interaction: discord.Interaction[Any], reply: Reply, *, ephemeral: bool
    ) -> None:
        """One reply as new message(s): the response, else follow-ups; split if long.

        After an ephemeral deferral a public reply cannot take the deferral's
        place (it would stay ephemeral): the "thinking" message is removed and
        the reply sent as a new one.
        """
        parts = chunks(reply.text)
        for index, part in enumerate(parts):
            kwargs = message_kwargs(reply, part, index == len(parts) - 1)
            if not interaction.response.is_done():
                await interaction.response.send_message(**kwargs, ephemeral=ephemeral)
                continue
            if self._thinking(interaction) and not ephemeral:
                await interaction.delete_original_response()
                self._thought.add(interaction.id)
            await interaction.followup.send(**kwargs, ephemeral=ephemeral)
            self._thought.add(interaction.id)

    def _thinking(self, interaction: discord.Interaction[Any]) -> bool:
        """Deferred ephemerally with "thinking", and nothing sent since."""
        response = interaction.response
        return (
            response.type == discord.InteractionResponseType.deferred_channel_message
            and interaction.guild_id is not None
            and interaction.id not in self._thought
        )

    async def respond(self, interaction: discord.Interaction[Any], replies: list[Reply]) -> None:
        try:
            for reply in replies:
                personal = (reply.private or reply.error) and interaction.guild_id is not None
                await self._send(interaction, reply, ephemeral=personal)
        except discord.HTTPException as exc:
            await self._fallback(interaction, replies, exc)
        finally:
            self._thought.discard(interaction.id)

    async def _fallback(
        self, interaction: discord.Interaction[Any], replies: list[Reply], exc: Exception
    ) -> None:
        """The interaction could not be answered (too late, say): say it by DM, so
        that nothing the core did goes unsaid."""
        log.warning("discord: answering %s failed (%s); sending by DM", interaction.id, exc)
        try:
            channel = await interaction.user.create_dm()
            for reply in replies:
                parts = chunks(reply.text)
                for index, part in enumerate(parts):
                    await channel.send(**message_kwargs(reply, part, index == len(parts) - 1))
        except discord.HTTPException:
            log.error("discord: could not reach the user of %s at all", interaction.id)

    # --- buttons -------------------------------------------------------------------

    async def on_button(self, interaction: discord.Interaction[Any], data: str) -> None:
        request = Request.button_from(
            sender_of(interaction.user, interaction.locale), chat_of(interaction), data
        )
        replies = await self._answer_in_time(interaction, self.core.handle(request), component=True)
        try:
            for reply in replies:
                if reply.edit and not reply.error and self._may_edit(interaction, reply):
                    await self._edit(interaction, reply)
                    continue
                # An answer to the presser alone (their sign-up, a refusal): ephemeral.
                personal = interaction.guild_id is not None and (
                    reply.private or reply.error or reply.edit
                )
                await self._send(interaction, reply, ephemeral=personal)
        except discord.HTTPException as exc:
            await self._fallback(interaction, replies, exc)

    @staticmethod
    def _may_edit(interaction: discord.Interaction[Any], reply: Reply) -> bool:
        """Edit the pressed message in place, unless that would show a personal
        reply to a whole channel."""
        message = interaction.message
        if message is None:
            return False
        if interaction.guild_id is None or message.flags.ephemeral:
            return True
        return not reply.private

    async def _edit(self, interaction: discord.Interaction[Any], reply: Reply) -> None:
        parts = chunks(reply.text)
        view = view_of(reply) if len(parts) == 1 else None
        kwargs: dict[str, Any] = {"content": parts[0], "view": view}
        if not interaction.response.is_done():
            await interaction.response.edit_message(**kwargs)
        else:
            await interaction.edit_original_response(**kwargs)
        personal = interaction.guild_id is not None and reply.private
        # What does not fit in the edit (more text, a file, the buttons then) follows.
        rest = parts[1:]
        if rest or reply.file is not None:
            remainder = Reply(
                "\n".join(rest) or "…", buttons=reply.buttons if rest else (), file=reply.file
            )
            await self._send(interaction, remainder, ephemeral=personal)

    # --- errors --------------------------------------------------------------------

    async def on_app_command_error(
        self, interaction: discord.Interaction[Any], error: Exception
    ) -> None:
        """Log with the interaction id, apologise (privately), keep running."""
        log.error("discord: error handling interaction %s", interaction.id, exc_info=error)
        t = translator(str(interaction.locale) or self.settings.default_locale)
        text = t(
            "Sorry, something went wrong on our side and nothing was changed. "
            "Please try again in a moment."
        )
        try:
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True)
            else:
                await interaction.response.send_message(text, ephemeral=True)
        except discord.HTTPException:
            log.warning("discord: could not send the apology for %s", interaction.id)
