"""Replies out on Discord: how a core reply looks there and how it is sent.

A long text is split at line ends (2,000 characters a message); buttons become
components whose ``custom_id`` is the core's ``action:id`` (one
:class:`~discord.ui.DynamicItem` template catches every such id, so buttons
keep working after a restart, and the presser is always the interaction's
user); a file is attached to the last message. An interaction is answered by
its response, then follow-ups; a reply that concerns only the person is
ephemeral in a server channel; one that cannot be sent there (too late, say)
goes by DM. Outbox messages go to a person by DM (a refused DM, 50007, marks
the identity unreachable) or to a branch's channel.
"""

from __future__ import annotations

import io
import logging
from typing import Any, Protocol

import discord
from aiolimiter import AsyncLimiter
from discord.ext import commands

from bot.kernel.messages import Recipient, Reply, Undeliverable, split_text

log = logging.getLogger("adapters.discord")

MAX_TEXT = 2000
MAX_LABEL = 80
MAX_ROWS, MAX_PER_ROW = 5, 5
GLOBAL_PER_SECOND = 50  # Discord's global limit; the outbox stays under it
DM_REFUSED = 50007  # "Cannot send messages to this user"
GONE = {10003, 10013, 50001}  # unknown channel, unknown user, missing access

Interaction = discord.Interaction[Any]


def chunks(text: str, size: int = MAX_TEXT) -> list[str]:
    """Split a long text at line ends into messages Discord accepts."""
    return split_text(text, size)


class Presses(Protocol):
    """Who handles a press of a core button (the adapter)."""

    async def on_button(self, interaction: Interaction, data: str) -> None: ...

    async def on_app_command_error(self, interaction: Interaction, error: Exception) -> None: ...


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
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: Any
    ) -> CoreButton:
        label = getattr(item, "label", None) or "…"
        return cls(match["data"], label)

    async def callback(self, interaction: Interaction) -> None:
        adapter: Presses = interaction.client.adapter
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


def message_kwargs(reply: Reply, text: str | None = None, last: bool = True) -> dict[str, Any]:
    """One message of the reply; the last carries its buttons and file."""
    kwargs: dict[str, Any] = {"content": text if text is not None else reply.text[:MAX_TEXT]}
    if last:
        view = view_of(reply)
        if view is not None:
            kwargs["view"] = view
        if reply.file is not None:
            content = io.BytesIO(reply.file.content)
            kwargs["file"] = discord.File(content, filename=reply.file.filename)
    return kwargs


def messages(reply: Reply) -> list[dict[str, Any]]:
    parts = chunks(reply.text)
    return [message_kwargs(reply, part, i == len(parts) - 1) for i, part in enumerate(parts)]


def refusal_code(exc: discord.HTTPException) -> int:
    return int(getattr(exc, "code", 0) or 0)


class DiscordTransport:
    """Delivers outbox messages: to a person by DM, to a branch's channel."""

    platform = "discord"

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
            for message in messages(reply):
                async with self.limiter:
                    await channel.send(**message)
        except (discord.Forbidden, discord.NotFound) as exc:
            raise Undeliverable(f"{refusal_code(exc)}: {exc.text}") from exc
        except discord.HTTPException as exc:
            if refusal_code(exc) in GONE or refusal_code(exc) == DM_REFUSED:
                raise Undeliverable(f"{refusal_code(exc)}: {exc.text}") from exc
            raise


class Answers:
    """Answers interactions with the core's replies."""

    def __init__(self) -> None:
        self._thought: set[int] = set()  # interactions whose deferral was replaced

    async def send(self, interaction: Interaction, reply: Reply, *, ephemeral: bool) -> None:
        """One reply as new message(s): the response, else follow-ups; split if long.

        After an ephemeral deferral a public reply cannot take the deferral's
        place (it would stay ephemeral): the "thinking" message is removed and
        the reply sent as a new one.
        """
        for kwargs in messages(reply):
            if not interaction.response.is_done():
                await interaction.response.send_message(**kwargs, ephemeral=ephemeral)
                continue
            if self._thinking(interaction) and not ephemeral:
                await interaction.delete_original_response()
                self._thought.add(interaction.id)
            await interaction.followup.send(**kwargs, ephemeral=ephemeral)
            self._thought.add(interaction.id)

    def _thinking(self, interaction: Interaction) -> bool:
        """Deferred ephemerally with "thinking", and nothing sent since."""
        response = interaction.response
        return (
            response.type == discord.InteractionResponseType.deferred_channel_message
            and interaction.guild_id is not None
            and interaction.id not in self._thought
        )

    async def command(self, interaction: Interaction, replies: list[Reply]) -> None:
        """The replies to a slash command; the personal ones ephemeral in a server."""
        try:
            for reply in replies:
                personal = (reply.private or reply.error) and interaction.guild_id is not None
                await self.send(interaction, reply, ephemeral=personal)
        except discord.HTTPException as exc:
            await self.by_dm(interaction, replies, exc)
        finally:
            self._thought.discard(interaction.id)

    async def button(self, interaction: Interaction, replies: list[Reply]) -> None:
        """The replies to a press: an edit of the pressed message, or new messages."""
        try:
            for reply in replies:
                if reply.edit and not reply.error and self._may_edit(interaction, reply):
                    await self._edit(interaction, reply)
                    continue
                # An answer to the presser alone (their sign-up, a refusal): ephemeral.
                personal = interaction.guild_id is not None and (
                    reply.private or reply.error or reply.edit
                )
                await self.send(interaction, reply, ephemeral=personal)
        except discord.HTTPException as exc:
            await self.by_dm(interaction, replies, exc)

    async def by_dm(self, interaction: Interaction, replies: list[Reply], exc: Exception) -> None:
        """The interaction could not be answered (too late, say): say it by DM, so
        that nothing the core did goes unsaid."""
        log.warning("discord: answering %s failed (%s); sending by DM", interaction.id, exc)
        try:
            channel = await interaction.user.create_dm()
            for reply in replies:
                for message in messages(reply):
                    await channel.send(**message)
        except discord.HTTPException:
            log.error("discord: could not reach the user of %s at all", interaction.id)

    @staticmethod
    def _may_edit(interaction: Interaction, reply: Reply) -> bool:
        """Edit the pressed message in place, unless that would show a personal
        reply to a whole channel."""
        message = interaction.message
        if message is None:
            return False
        if interaction.guild_id is None or message.flags.ephemeral:
            return True
        return not reply.private

    async def _edit(self, interaction: Interaction, reply: Reply) -> None:
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
            await self.send(interaction, remainder, ephemeral=personal)
