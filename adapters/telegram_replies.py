"""Replies out on Telegram: how a core reply looks there and how it is sent.

A reply becomes ``sendMessage`` calls (a long text split at line ends, 4,096
UTF-16 code units a message, the inline keyboard under the last), or
``sendPhoto`` / ``sendDocument`` with the text as caption; a reply to a button
press may edit the pressed message instead. Replies marked private go to the
person's private chat even when asked for in a group.

Rate limits: PTB's ``AIORateLimiter`` (overall and per-group limits, and
``RetryAfter`` honoured to the second) and our own one message a second per chat.
Network errors: a reply is retried with back-off; an outbox message stays
queued and is retried by the outbox worker. A 403 (blocked, never started) or a
chat that is gone marks the identity unreachable, never retried.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from aiolimiter import AsyncLimiter
from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    Update,
)
from telegram.constants import ChatType
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter
from telegram.ext import Application

from bot.kernel.core import Core
from bot.kernel.i18n import translator
from bot.kernel.messages import Recipient, Reply, Undeliverable, split_text

log = logging.getLogger("adapters.telegram")

PLATFORM = "telegram"
SEND_ATTEMPTS = 4
PER_CHAT_PER_SECOND = 1
PER_CHAT_LIMITERS = 10_000  # chats whose pace is remembered
MAX_TEXT = 4096  # UTF-16 code units, as Telegram counts
MAX_CAPTION = 1024
MAX_ANSWER = 200  # the text of a callback query's answer

App = Application[Any, Any, Any, Any, Any, Any]


def markup(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b.label, callback_data=b.data) for b in row]
            for row in reply.buttons
        ]
    )


def units(text: str) -> int:
    """The length of ``text`` as Telegram counts it: UTF-16 code units (an emoji
    outside the BMP is two)."""
    return len(text.encode("utf-16-le")) // 2


def fit(text: str, size: int) -> str:
    """``text`` cut to at most ``size`` UTF-16 code units."""
    encoded = text.encode("utf-16-le")
    if len(encoded) <= 2 * size:
        return text
    return encoded[: 2 * size].decode("utf-16-le", errors="ignore")


def chunks(text: str, size: int = MAX_TEXT) -> list[str]:
    """Split a long text at line ends into messages Telegram accepts."""
    return split_text(text, size, units)


def is_gone(exc: BadRequest) -> bool:
    """A 400 that means the chat cannot be reached (not a mistake of ours)."""
    text = exc.message.lower()
    return "chat not found" in text or "user is deactivated" in text


async def with_retries(call: Callable[[], Awaitable[Any]]) -> Any:
    """Retry a network failure with back-off (0.5 s, 1 s, 2 s); a 429 is the rate
    limiter's business, and a 400/403 is final."""
    for attempt in range(SEND_ATTEMPTS):
        try:
            return await call()
        except (Forbidden, BadRequest, RetryAfter):
            raise
        except NetworkError as exc:
            if attempt == SEND_ATTEMPTS - 1:
                raise
            log.warning("telegram: %s; retrying", exc)
            await asyncio.sleep(0.5 * 2**attempt)
    return None


async def send_reply(application: App, chat_id: int, reply: Reply) -> Message:
    """Send a reply: a long text in several messages, the buttons under the last."""
    bot = application.bot
    keyboard = markup(reply)
    if reply.file is not None:
        document = InputFile(reply.file.content, filename=reply.file.filename)
        caption = fit(reply.text, MAX_CAPTION)
        if reply.file.mime_type.startswith("image/"):
            return await with_retries(
                lambda: bot.send_photo(chat_id, document, caption=caption, reply_markup=keyboard)
            )
        return await with_retries(
            lambda: bot.send_document(chat_id, document, caption=caption, reply_markup=keyboard)
        )
    *first, last = chunks(reply.text)
    for part in first:
        await with_retries(functools.partial(bot.send_message, chat_id, part))
    return await with_retries(lambda: bot.send_message(chat_id, last, reply_markup=keyboard))


class TelegramTransport:
    """Delivers outbox messages through the bot (see :mod:`bot.kernel.outbox`).

    On top of the application's ``AIORateLimiter`` (30 messages/s overall, 20 a
    minute per group), it keeps Telegram's one message a second per chat, which
    that limiter leaves to the 429 answers.
    """

    platform = PLATFORM

    def __init__(
        self,
        application: App,
        on_moved: Callable[[str, str, str], Awaitable[object]] | None = None,
    ) -> None:
        self.application = application
        self.on_moved = on_moved  # told when a group turns out to have a new id
        self._per_chat: OrderedDict[int, AsyncLimiter] = OrderedDict()

    def _limiter(self, chat_id: int) -> AsyncLimiter:
        limiter = self._per_chat.pop(chat_id, None) or AsyncLimiter(PER_CHAT_PER_SECOND, 1)
        self._per_chat[chat_id] = limiter  # most recently used last
        while len(self._per_chat) > PER_CHAT_LIMITERS:
            self._per_chat.popitem(last=False)
        return limiter

    async def send(self, recipient: Recipient, reply: Reply) -> None:
        chat_id = int(recipient.chat_id)
        try:
            async with self._limiter(chat_id):
                await send_reply(self.application, chat_id, reply)
        except Forbidden as exc:
            raise Undeliverable(exc.message) from exc
        except ChatMigrated as exc:  # the group became a supergroup, with a new id
            log.warning("telegram: chat %s is now %s", chat_id, exc.new_chat_id)
            if self.on_moved is not None:
                await self.on_moved(PLATFORM, str(chat_id), str(exc.new_chat_id))
            await self.send(dataclasses.replace(recipient, chat_id=str(exc.new_chat_id)), reply)
        except BadRequest as exc:
            if is_gone(exc):
                raise Undeliverable(exc.message) from exc
            raise


class Answers:
    """Answers updates with the core's replies: in the chat, privately, or as an
    edit of the pressed message."""

    def __init__(self, application: App, core: Core) -> None:
        self.application = application
        self.core = core

    async def message(self, update: Update, replies: list[Reply]) -> None:
        for reply in replies:
            await self.deliver(update, reply)

    async def button(self, update: Update, query: CallbackQuery, replies: list[Reply]) -> None:
        """Answer the query (no spinning button; a refusal is said right there),
        then edit the pressed message or send new ones."""
        first = replies[0] if replies else None
        await query.answer(first.text[:MAX_ANSWER] if first is not None and first.error else None)
        for reply in replies:
            message = query.message
            # A personal answer never replaces a message everyone in a group reads.
            shared = message is not None and message.chat.type != ChatType.PRIVATE
            if (
                reply.edit
                and not reply.error
                and message is not None
                and not (reply.private and shared)
            ):
                await self.edit(query, reply)
            elif not reply.error:
                await self.deliver(update, reply)

    async def edit(self, query: CallbackQuery, reply: Reply) -> None:
        """Edit the pressed message; what does not fit in it follows as new messages."""
        first, *rest = chunks(reply.text)
        keyboard = None if rest else markup(reply)
        try:
            await with_retries(lambda: query.edit_message_text(first, reply_markup=keyboard))
        except BadRequest as exc:
            if "not modified" not in exc.message.lower():
                raise
        if rest and query.message is not None:
            remainder = dataclasses.replace(reply, text="\n".join(rest))
            await send_reply(self.application, query.message.chat.id, remainder)

    async def deliver(self, update: Update, reply: Reply) -> None:
        chat, user = update.effective_chat, update.effective_user
        assert chat is not None and user is not None
        if not reply.private or chat.type == ChatType.PRIVATE:
            await send_reply(self.application, chat.id, reply)
            return
        try:  # personal: to the person's private chat, never to the group
            await send_reply(self.application, user.id, reply)
        except Forbidden:
            name = f"@{user.username}" if user.username else user.first_name
            t = translator(user.language_code or self.core.settings.default_locale)
            bot_name = self.application.bot.username
            await send_reply(
                self.application,
                chat.id,
                Reply(
                    t(
                        "{name}, I can only answer that privately: open a chat with me "
                        "(t.me/{bot}), press Start, then ask again there.",
                        name=name,
                        bot=bot_name,
                    )
                ),
            )

    async def apologise(self, update: Update) -> None:
        """Say that something failed on our side, if the update came from a chat."""
        if update.effective_chat is None:
            return
        user = update.effective_user
        apology = self.core.apology(user.language_code if user else None)
        try:
            await self.application.bot.send_message(update.effective_chat.id, apology.text)
        except Exception:  # the error may be that Telegram is unreachable
            log.warning("telegram: could not send the apology for update %s", update.update_id)
