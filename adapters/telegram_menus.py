"""Telegram's command menus, built from the command declarations.

Each command says which chats offer it (:attr:`~bot.kernel.registry.CommandSpec.chats`),
its name here (:meth:`~bot.kernel.registry.CommandSpec.name_on`) and its summary (a
sentence of the catalogue). The menu of private chats and the menu of groups
are set in the default language and in every language the catalogue has; this
module knows no command by name.
"""

from __future__ import annotations

from collections.abc import Iterable

from telegram import (
    Bot,
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
)

from adapters.telegram_replies import PLATFORM
from bot.kernel.i18n import DEFAULT_LOCALE, available_locales, translator
from bot.kernel.registry import GROUP, PRIVATE, CommandSpec

MAX_DESCRIPTION = 256
# The chats a command may be offered in, and the menu that offers it there.
SCOPES: tuple[tuple[str, BotCommandScope], ...] = (
    (PRIVATE, BotCommandScopeAllPrivateChats()),
    (GROUP, BotCommandScopeAllGroupChats()),
)


def menu(specs: Iterable[CommandSpec], chat: str, language: str) -> list[BotCommand]:
    """The commands offered in ``chat`` (``private`` or ``group``), described in
    ``language``, in the order they are declared."""
    t = translator(language)
    return [
        BotCommand(s.name_on(PLATFORM), t(s.summary)[:MAX_DESCRIPTION])
        for s in specs
        if chat in s.chats
    ]


async def publish_menus(bot: Bot, specs: list[CommandSpec]) -> None:
    """Set the menu of each kind of chat in each language (the default language's
    without a language code, what Telegram shows when no other matches)."""
    for language in (DEFAULT_LOCALE, *available_locales()):
        code = None if language == DEFAULT_LOCALE else language
        for chat, scope in SCOPES:
            await bot.set_my_commands(menu(specs, chat, language), scope=scope, language_code=code)
