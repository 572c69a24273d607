"""The Telegram adapter (python-telegram-bot v22): updates in, core replies out.

It only translates. A message becomes a neutral :class:`~bot.messages.Request`
(a callback query becomes a button press whose presser is the authenticated
Telegram user, never an id read from the data); the core's replies become
``sendMessage`` / ``editMessageText`` / ``sendDocument`` calls with inline
keyboards. Every callback query is answered. Replies marked private go to the
person's private chat even when asked for in a group.

Rate limits: PTB's ``AIORateLimiter`` (overall and per-group limits, and
``RetryAfter`` honoured to the second). Network errors: a reply is retried with
back-off; an outbox message stays queued and is retried by the outbox worker.
A 403 (blocked, never started) marks the identity unreachable, never retried.

Updates arrive by long polling (one worker) or, with ``telegram.webhook_url``,
through our own small aiohttp server, so that every worker behind a load
balancer takes webhook posts: the path of the webhook URL (POST, the
``X-Telegram-Bot-Api-Secret-Token`` header must match ``telegram.secret_token``,
else 403; a body that is not an update gets 400) and ``GET /healthz``. Each
update is processed before the post is answered (up to ``ACK_WITHIN`` seconds;
a slower one is answered and goes on), so a worker that dies mid-update leaves
Telegram to deliver it again. Every worker sets the same webhook at start.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hmac
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiolimiter import AsyncLimiter
from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    Update,
    User,
)
from telegram.constants import ChatType
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    ExtBot,
    MessageHandler,
    filters,
)

from adapters.web import start_site
from bot.config import Settings
from bot.core import Core
from bot.i18n import DEFAULT_LOCALE, available_locales, translator
from bot.messages import ChatRef, Recipient, Reply, Request, Sender, Undeliverable
from bot.registry import GROUP, PRIVATE

log = logging.getLogger(__name__)

PLATFORM = "telegram"
SEND_ATTEMPTS = 4
PER_CHAT_PER_SECOND = 1
PER_CHAT_LIMITERS = 10_000  # chats whose pace is remembered
MAX_TEXT = 4096  # UTF-16 code units, as Telegram counts
MAX_CAPTION = 1024
ALLOWED_UPDATES = ["message", "callback_query"]
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ACK_WITHIN = 10.0  # seconds an update may take before its webhook post is answered anyway


def sender_of(user: User) -> Sender:
    return Sender(
        PLATFORM,
        str(user.id),
        user.full_name,
        handle=user.username,
        locale=user.language_code,
    )


def chat_of(update: Update) -> ChatRef:
    chat = update.effective_chat
    assert chat is not None
    kind = "private" if chat.type == ChatType.PRIVATE else "group"
    return ChatRef(PLATFORM, kind, str(chat.id))


def markup(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b.label, callback_data=b.data) for b in row]
            for row in reply.buttons
        ]
    )


def fit(text: str, units: int) -> str:
    """``text`` cut to at most ``units`` UTF-16 code units (how Telegram counts length:
    an emoji outside the BMP is two)."""
    encoded = text.encode("utf-16-le")
    if len(encoded) <= 2 * units:
        return text
    return encoded[: 2 * units].decode("utf-16-le", errors="ignore")


def chunks(text: str, size: int = MAX_TEXT) -> list[str]:
    """Split a long text at line ends into messages Telegram accepts."""
    out: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while fit(line, size) != line:
            if current:
                out.append(current)
                current = ""
            head = fit(line, size)
            out.append(head)
            line = line[len(head) :]
        if fit(current + line, size) != current + line:
            out.append(current)
            current = ""
        current += line
    if current or not out:
        out.append(current)
    return [c.rstrip("\n") if c.strip() else "…" for c in out]


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


class TelegramTransport:
    """Delivers outbox messages through the bot (see :mod:`bot.outbox`).

    On top of the application's ``AIORateLimiter`` (30 messages/s overall, 20 a
    minute per group), it keeps Telegram's one message a second per chat, which
    that limiter leaves to the 429 answers.
    """

    platform = PLATFORM

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
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


async def send_reply(
    application: Application[Any, Any, Any, Any, Any, Any], chat_id: int, reply: Reply
) -> Message:
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


class TelegramAdapter:
    """One bot: its application, handlers, and the manual lifecycle that
    ``organiser run`` drives inside its one asyncio loop."""

    def __init__(self, core: Core, settings: Settings, *, rate_limit: bool = True) -> None:
        self.core = core
        self.settings = settings
        builder = ApplicationBuilder().token(settings.telegram_token)
        if settings.telegram_base_url:
            builder = builder.base_url(settings.telegram_base_url)
            builder = builder.base_file_url(settings.telegram_base_url.replace("/bot", "/file/bot"))
        if rate_limit:
            # PTB types the builder by its rate limiter's argument type; any limiter fits.
            builder = builder.rate_limiter(AIORateLimiter(max_retries=3))  # type: ignore[arg-type]
        self.application = builder.build()
        self.application.add_handler(
            MessageHandler(
                filters.COMMAND | (filters.TEXT & filters.ChatType.PRIVATE), self.on_message
            )
        )
        self.application.add_handler(CallbackQueryHandler(self.on_button))
        self.application.add_error_handler(self.on_error)
        self.transport = TelegramTransport(self.application, on_moved=core.chat_moved)
        # What GET /healthz answers (the runtime's health of the worker, set by `serve`).
        self.healthz: Callable[[web.Request], Awaitable[web.Response]] | None = None
        self._runner: web.AppRunner | None = None  # the webhook server
        self._in_hand: set[asyncio.Task[None]] = set()  # updates being processed

    # --- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Start taking updates: the webhook server (and setWebhook), or long polling."""
        app = self.application
        try:
            await app.initialize()  # getMe: the bot's own username
            self.core.links.learn_telegram(app.bot.username)
            await self.publish_commands()
            await app.start()
            if self.settings.telegram_webhook_url:
                await self._start_webhook()
            else:
                assert app.updater is not None
                await app.updater.start_polling(allowed_updates=ALLOWED_UPDATES)
                log.info("telegram: long polling")
        except BaseException:
            await self.stop()
            raise

    async def _start_webhook(self) -> None:
        settings = self.settings
        if not settings.telegram_secret_token:  # load_settings refuses this too
            raise ValueError("telegram.secret_token must be set for a webhook")
        web_app = web.Application()
        web_app.router.add_post("/" + self.webhook_path, self._on_webhook)
        web_app.router.add_get("/healthz", self._on_healthz)
        self._runner = await start_site(
            web_app,
            settings.telegram_webhook_listen,
            settings.telegram_webhook_port,
            shutdown_timeout=ACK_WITHIN + 5,
        )
        # Every worker sets the same URL: idempotent.
        await self.application.bot.set_webhook(
            url=settings.telegram_webhook_url,
            secret_token=settings.telegram_secret_token,
            allowed_updates=ALLOWED_UPDATES,
        )
        log.info(
            "telegram: webhook on %s:%s",
            settings.telegram_webhook_listen,
            settings.telegram_webhook_port,
        )

    async def stop(self) -> None:
        """Stop taking updates, finish those in hand, then shut the application down."""
        app = self.application
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()  # no new posts; those in flight are answered
        if self._in_hand:
            await asyncio.gather(*self._in_hand, return_exceptions=True)
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()

    @property
    def state(self) -> str:
        """``webhook`` or ``polling`` while updates are taken, else ``down``."""
        app = self.application
        if not app.running:
            return "down"
        if self._runner is not None:
            return "webhook"
        if app.updater is not None and app.updater.running:
            return "polling"
        return "down"

    @property
    def webhook_path(self) -> str:
        url = self.settings.telegram_webhook_url
        return url.split("://", 1)[-1].partition("/")[2]

    # --- the webhook server --------------------------------------------------------

    async def _on_webhook(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self.settings.telegram_secret_token.encode()):
            log.warning("telegram: a webhook post without the right secret token (403)")
            return web.Response(status=403, text="forbidden")
        try:
            data = json.loads(await request.read())
            update = Update.de_json(data, self.application.bot) if isinstance(data, dict) else None
        except Exception:  # not JSON, or not an update
            update = None
        if update is None:
            log.warning("telegram: a webhook post that is not an update (400)")
            return web.Response(status=400, text="not an update")
        bot = self.application.bot
        if isinstance(bot, ExtBot):
            bot.insert_callback_data(update)
        task = asyncio.create_task(self._process(update))
        self._in_hand.add(task)
        task.add_done_callback(self._in_hand.discard)
        await asyncio.wait({task}, timeout=ACK_WITHIN)
        return web.Response(text="ok")

    async def _process(self, update: Update) -> None:
        try:
            await self.application.process_update(update)  # handler errors go to on_error
        except Exception:
            log.exception("telegram: could not process update %s", update.update_id)

    async def _on_healthz(self, request: web.Request) -> web.Response:
        if self.healthz is not None:
            return await self.healthz(request)
        healthy = self.state != "down"
        return web.json_response(
            {"status": "ok" if healthy else "unhealthy", "adapters": {PLATFORM: self.state}},
            status=200 if healthy else 503,
        )

    async def publish_commands(self) -> None:
        """The command menu, for private chats and for groups (the commands whose
        description offers them there), in each language."""
        bot = self.application.bot
        specs = self.core.commands
        for language in (DEFAULT_LOCALE, *available_locales()):
            t = translator(language)
            code = None if language == DEFAULT_LOCALE else language
            private, group = (
                [
                    BotCommand(s.name_on(PLATFORM), t(s.summary)[:256])
                    for s in specs
                    if kind in s.chats
                ]
                for kind in (PRIVATE, GROUP)
            )
            await bot.set_my_commands(
                private, scope=BotCommandScopeAllPrivateChats(), language_code=code
            )
            await bot.set_my_commands(
                group, scope=BotCommandScopeAllGroupChats(), language_code=code
            )

    # --- updates in --------------------------------------------------------------

    async def on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user = update.effective_message, update.effective_user
        if message is None or user is None or message.text is None:
            return
        request = Request.command_from(sender_of(user), chat_of(update), message.text)
        replies = await self.core.handle(request)
        for reply in replies:
            await self.deliver(update, reply)

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or query.from_user is None:
            return
        data = query.data if isinstance(query.data, str) else ""
        request = Request.button_from(sender_of(query.from_user), chat_of(update), data)
        replies = await self.core.handle(request)
        first = replies[0] if replies else None
        # Answer every query (no spinning button); a refusal is said right there.
        await query.answer(first.text[:200] if first is not None and first.error else None)
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

    # --- replies out -------------------------------------------------------------

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
            t = translator(user.language_code or self.settings.default_locale)
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

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The one error handler: log with the update id, apologise, keep running."""
        update_id = update.update_id if isinstance(update, Update) else None
        log.error("telegram: error handling update %s", update_id, exc_info=context.error)
        if not isinstance(update, Update) or update.effective_chat is None:
            return
        user = update.effective_user
        t = translator((user.language_code if user else None) or self.settings.default_locale)
        try:
            await self.application.bot.send_message(
                update.effective_chat.id,
                t(
                    "Sorry, something went wrong on our side and nothing was changed. "
                    "Please try again in a moment."
                ),
            )
        except Exception:  # the error may be that Telegram is unreachable
            log.warning("telegram: could not send the apology for update %s", update_id)
