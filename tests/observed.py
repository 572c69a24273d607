"""The real adapters, each telling a test when it has finished with an update or
an interaction (so a test waits for exactly that, never for a fixed time)."""

from __future__ import annotations

import asyncio
from typing import Any

import discord
from telegram import Update
from telegram.ext import ContextTypes

from adapters.discord import DiscordAdapter
from adapters.telegram import TelegramAdapter


class ObservedTelegram(TelegramAdapter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.handled: asyncio.Queue[int] = asyncio.Queue()

    async def on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        try:
            await super().on_message(update, context)
        finally:
            self.handled.put_nowait(update.update_id)

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        try:
            await super().on_button(update, context)
        finally:
            self.handled.put_nowait(update.update_id)


class ObservedDiscord(DiscordAdapter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.handled: asyncio.Queue[int] = asyncio.Queue()

    async def on_command(self, interaction: discord.Interaction[Any], *args: Any) -> None:
        try:
            await super().on_command(interaction, *args)
        finally:
            self.handled.put_nowait(interaction.id)

    async def on_button(self, interaction: discord.Interaction[Any], data: str) -> None:
        try:
            await super().on_button(interaction, data)
        finally:
            self.handled.put_nowait(interaction.id)
