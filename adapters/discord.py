"""The Discord adapter (discord.py v2): interactions in, core replies out.

It only translates. Each core command is a slash command built from its
description (:class:`~bot.kernel.registry.CommandSpec`): its typed parameters become
options (a person or a branch suggested as typed, a choice from a list), and
the values are put back together as the command would be typed on Telegram,
then handed to the core as a neutral :class:`~bot.kernel.messages.Request`. Buttons
are the core's ``action:id`` (:mod:`adapters.discord_replies`). The descriptions are
in every language the catalogue has (:mod:`adapters.discord_commands`).

A command the core takes more than two seconds to answer is deferred (Discord
allows three) and followed up. Intents: guilds only. Slash commands need
neither message content nor members.

One gateway connection for all workers (:mod:`adapters.discord_gateway`): only
the holder of ``lead`` connects it. The slash commands are published only when
they changed since the last time (as ``memory``, kept by the runtime across
restarts, says).
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

import discord
from discord import app_commands
from discord.ext import commands

from adapters.discord_commands import CatalogueTranslator, described
from adapters.discord_gateway import Alone, Gateway, Lead, Leads
from adapters.discord_replies import Answers, CoreButton, DiscordTransport
from bot.kernel.config import Settings
from bot.kernel.core import Core
from bot.kernel.i18n import translator
from bot.kernel.messages import ChatRef, Reply, Request, Sender
from bot.kernel.registry import BRANCH, PERSON, CommandSpec

log = logging.getLogger(__name__)

PLATFORM = "discord"
ANSWER_WITHIN = 3.0  # seconds; Discord drops an interaction not answered within 3
DEFER_AFTER = 2.0  # seconds: so a slow answer is deferred in time
SUGGESTED = (BRANCH, PERSON)  # parameters whose values are suggested as typed
Interaction = discord.Interaction[Any]


class Memory(Protocol):
    """What survives a restart: what was last published."""

    async def recall(self, key: str) -> str | None: ...

    async def remember(self, key: str, value: str) -> None: ...


def sender_of(user: discord.abc.User, locale: discord.Locale | None) -> Sender:
    return Sender(
        PLATFORM,
        str(user.id),
        user.display_name,
        handle=user.name,
        locale=str(locale) if locale is not None else None,
    )


def chat_of(interaction: Interaction) -> ChatRef:
    kind = "group" if interaction.guild_id is not None else "private"
    return ChatRef(PLATFORM, kind, str(interaction.channel_id or interaction.user.id))


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
        await self.tree.set_translator(CatalogueTranslator(self.adapter.settings.default_locale))
        await self.adapter.publish_commands()


class DiscordAdapter:
    """One bot: the slash commands, the buttons, and the start/stop that
    ``organiser run`` drives inside its one asyncio loop."""

    def __init__(
        self,
        core: Core,
        settings: Settings,
        *,
        lead: Leads = Alone,
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
        self.gateway = Gateway(self.bot, lead)
        self.memory = memory
        self.answers = Answers()
        self.synced = False
        for spec in core.commands:
            self.bot.tree.add_command(self._slash_command(spec))

    # --- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Log in over HTTP; then, if this worker wins the gateway, connect it and
        return once ready (or raise why not), else stand by."""
        await self.gateway.start(self.settings.discord_token)

    async def stop(self) -> None:
        await self.gateway.stop()

    @property
    def state(self) -> str:
        return self.gateway.state

    @property
    def lock(self) -> Lead:
        return self.gateway.lock

    async def publish_commands(self) -> None:
        """Sync the slash commands, once: only when the list differs from the last
        one published (as ``memory`` says, so a restart does not re-sync)."""
        tree = self.bot.tree
        guild = (
            discord.Object(id=int(self.settings.discord_guild_id))
            if self.settings.discord_guild_id
            else None
        )
        if guild is not None:
            tree.copy_global_to(guild=guild)
        translated = tree.translator
        payload = [  # with every language's descriptions: a new translation is synced too
            await c.get_translated_payload(tree, translated) if translated else c.to_dict(tree)
            for c in tree.get_commands(guild=guild)
        ]
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
        """The command as its description says: an option for each parameter."""

        async def callback(interaction: Interaction, **values: Any) -> None:
            await self.on_command(interaction, spec, spec.typed(values))

        params = spec.params
        callback.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
            + [
                inspect.Parameter(
                    p.name,
                    inspect.Parameter.KEYWORD_ONLY,
                    annotation=str if p.required else str | None,
                    default=inspect.Parameter.empty if p.required else None,
                )
                for p in params
            ]
        )
        t = translator(self.settings.default_locale)
        if params:
            app_commands.describe(**{p.name: described(t, p.description) for p in params})(callback)
        choices = {
            p.name: [app_commands.Choice(name=c, value=c) for c in p.choices]
            for p in params
            if p.choices
        }
        if choices:
            app_commands.choices(**choices)(callback)
        suggests = {p.name: self._suggester(p.kind) for p in params if p.kind in SUGGESTED}
        if suggests:
            app_commands.autocomplete(**suggests)(callback)
        return app_commands.Command(
            name=spec.name_on(PLATFORM), description=described(t, spec.summary), callback=callback
        )

    def _suggester(
        self, kind: str
    ) -> Callable[[Interaction, str], Coroutine[Any, Any, list[app_commands.Choice[str]]]]:
        async def suggest(interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
            request = Request(
                sender_of(interaction.user, interaction.locale),
                chat_of(interaction),
                args=current[:100],
            )
            pairs = await self.core.suggest(request, kind)
            return [
                app_commands.Choice(name=label[:100], value=value[:100]) for label, value in pairs
            ]

        return suggest

    async def on_command(self, interaction: Interaction, spec: CommandSpec, text: str) -> None:
        request = Request.command_from(
            sender_of(interaction.user, interaction.locale), chat_of(interaction), text
        )
        replies = await self._answer_in_time(interaction, self.core.handle(request))
        await self.answers.command(interaction, replies)

    async def _answer_in_time(
        self,
        interaction: Interaction,
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

    # --- buttons -------------------------------------------------------------------

    async def on_button(self, interaction: Interaction, data: str) -> None:
        request = Request.button_from(
            sender_of(interaction.user, interaction.locale), chat_of(interaction), data
        )
        replies = await self._answer_in_time(interaction, self.core.handle(request), component=True)
        await self.answers.button(interaction, replies)

    # --- errors --------------------------------------------------------------------

    async def on_app_command_error(self, interaction: Interaction, error: Exception) -> None:
        """Log with the interaction id, apologise (privately), keep running."""
        log.error("discord: error handling interaction %s", interaction.id, exc_info=error)
        text = self.core.apology(str(interaction.locale)).text
        try:
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True)
            else:
                await interaction.response.send_message(text, ephemeral=True)
        except discord.HTTPException:
            log.warning("discord: could not send the apology for %s", interaction.id)
