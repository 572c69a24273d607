"""The Telegram adapter (python-telegram-bot v22): updates in, core replies out.

It only translates. A message becomes a neutral :class:`~bot.kernel.messages.Request`
(a callback query becomes a button press whose presser is the authenticated
Telegram user, never an id read from the data); the core's replies go out
through :mod:`adapters.telegram_replies` (messages, edits, files, rate limits,
unreachable chats), and every callback query is answered. The command menus are
built from the command declarations (:mod:`adapters.telegram_menus`).

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
import hmac
import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from telegram import Update, User
from telegram.constants import ChatType
from telegram.ext import (
    AIORateLimiter,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    ExtBot,
    MessageHandler,
    filters,
)

from adapters.telegram_menus import publish_menus
from adapters.telegram_replies import PLATFORM, Answers, TelegramTransport
from adapters.web import start_site
from bot.kernel.config import Settings
from bot.kernel.core import Core
from bot.kernel.messages import ChatRef, Request, Sender

log = logging.getLogger(__name__)

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
        self.answers = Answers(self.application, core)
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
            await publish_menus(app.bot, self.core.commands)
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

    # --- updates in --------------------------------------------------------------

    async def on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user = update.effective_message, update.effective_user
        if message is None or user is None or message.text is None:
            return
        request = Request.command_from(sender_of(user), chat_of(update), message.text)
        await self.answers.message(update, await self.core.handle(request))

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or query.from_user is None:
            return
        data = query.data if isinstance(query.data, str) else ""
        request = Request.button_from(sender_of(query.from_user), chat_of(update), data)
        await self.answers.button(update, query, await self.core.handle(request))

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The one error handler: log with the update id, apologise, keep running."""
        update_id = update.update_id if isinstance(update, Update) else None
        log.error("telegram: error handling update %s", update_id, exc_info=context.error)
        if isinstance(update, Update):
            await self.answers.apologise(update)
