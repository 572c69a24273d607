"""The fake Telegram server speaks the Bot API well enough for a real python-telegram-bot."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    RetryAfter,
)
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from tests.fake_telegram import BOT_ID, BOT_USERNAME, FakeTelegram, UploadedFile, free_port

TOKEN = "123:ABC"
KEYBOARD = InlineKeyboardMarkup(
    [
        [
            InlineKeyboardButton("Yes", callback_data="yes"),
            InlineKeyboardButton("No", callback_data="no"),
        ]
    ]
)
KEYBOARD_JSON = {
    "inline_keyboard": [
        [{"text": "Yes", "callback_data": "yes"}, {"text": "No", "callback_data": "no"}]
    ]
}


@pytest.fixture(autouse=True)
def timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    """PTB 22 warns whenever RetryAfter.retry_after is read (even by PTB itself) unless
    opted in to its future timedelta type."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=tg.base_url, base_file_url=tg.base_file_url) as bot:
        yield bot


def build_app(tg: FakeTelegram, rate_limiter: AIORateLimiter | None = None) -> Application:
    builder = ApplicationBuilder().token(TOKEN).base_url(tg.base_url)
    if rate_limiter is not None:
        builder = builder.rate_limiter(rate_limiter)
    return builder.build()


@contextlib.asynccontextmanager
async def polling(app: Application) -> AsyncIterator[Application]:
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None and update.effective_user is not None
    await update.effective_message.reply_text(
        f"Welcome {update.effective_user.first_name}", reply_markup=KEYBOARD
    )


async def echo_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(f"got {update.effective_message.text}")


async def chosen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("Noted")
    await query.edit_message_text(f"You chose {query.data}")


# --------------------------------------------------------------------- plain Bot


async def test_get_me(tg: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.first_name, me.is_bot) == (
        BOT_ID,
        BOT_USERNAME,
        "Organiser",
        True,
    )
    assert bot.username == BOT_USERNAME  # initialize() called getMe
    assert [call.method for call in tg.calls] == ["getMe", "getMe"]
    assert tg.calls[0].token == TOKEN


async def test_send_message_records_decoded_markup(tg: FakeTelegram, bot: Bot) -> None:
    first = await bot.send_message(42, "Pick one", reply_markup=KEYBOARD)
    second = await bot.send_message(42, "Again")

    (params, _) = tg.sent(42)
    assert params["chat_id"] == 42
    assert params["text"] == "Pick one"
    assert params["reply_markup"] == KEYBOARD_JSON
    assert tg.sent(7) == []
    assert second.message_id > first.message_id
    assert first.from_user is not None and first.from_user.id == BOT_ID
    assert first.chat.id == 42 and first.chat.type == "private"
    assert first.reply_markup == KEYBOARD
    assert tg.last_message(42)["text"] == "Again"


async def test_send_document_records_upload(tg: FakeTelegram, bot: Bot) -> None:
    message = await bot.send_document(
        42, document=b"name,branch\nAlice,Bath\n", filename="members.csv", caption="Members"
    )

    (params,) = tg.sent(42)
    upload = params["document"]
    assert isinstance(upload, UploadedFile)
    assert upload.filename == "members.csv"
    assert upload.content == b"name,branch\nAlice,Bath\n"
    assert params["caption"] == "Members"
    assert message.document is not None and message.document.file_name == "members.csv"
    assert message.caption == "Members"


async def test_send_photo_and_download_it_again(tg: FakeTelegram, bot: Bot) -> None:
    message = await bot.send_photo(42, photo=b"\x89PNG fake", caption="Map")
    assert tg.sent(42)[0]["photo"].content == b"\x89PNG fake"
    file = await bot.get_file(message.photo[-1].file_id)
    assert bytes(await file.download_as_bytearray()) == b"\x89PNG fake"


async def test_set_my_commands_records_scope_and_language(tg: FakeTelegram, bot: Bot) -> None:
    scope = BotCommandScopeAllPrivateChats()
    commands = [BotCommand("start", "Begin"), BotCommand("help", "Show help")]
    assert await bot.set_my_commands(commands, scope=scope, language_code="de")

    (call,) = tg.calls_to("setMyCommands")
    assert call.params["commands"] == [
        {"command": "start", "description": "Begin"},
        {"command": "help", "description": "Show help"},
    ]
    assert call.params["scope"] == {"type": "all_private_chats"}
    assert call.params["language_code"] == "de"
    assert await bot.get_my_commands(scope=scope, language_code="de") == tuple(commands)
    assert await bot.get_my_commands() == ()
    assert await bot.delete_my_commands(scope=scope, language_code="de")
    assert await bot.get_my_commands(scope=scope, language_code="de") == ()
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Start!", "Begin")])


async def test_edits_and_their_refusals(tg: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(42, "Pick one", reply_markup=KEYBOARD)
    edited = await bot.edit_message_text("Picked", chat_id=42, message_id=sent.message_id)
    assert isinstance(edited, type(sent)) and edited.text == "Picked"
    assert edited.reply_markup is None  # editing the text without a keyboard drops it
    with pytest.raises(BadRequest, match="not modified"):
        await bot.edit_message_text("Picked", chat_id=42, message_id=sent.message_id)
    await bot.edit_message_reply_markup(
        chat_id=42, message_id=sent.message_id, reply_markup=KEYBOARD
    )
    assert tg.last_message(42)["reply_markup"] == KEYBOARD_JSON
    with pytest.raises(BadRequest, match="not found"):
        await bot.edit_message_text("Nope", chat_id=42, message_id=9999)


async def test_html_is_checked_like_telegram(tg: FakeTelegram, bot: Bot) -> None:
    message = await bot.send_message(42, "<b>Bath</b> &amp; Wells", parse_mode="HTML")
    assert message.text == "Bath & Wells"
    assert tg.sent(42)[0]["text"] == "<b>Bath</b> &amp; Wells"
    for bad in ("a < b", "<b>unclosed", "<div>x</div>"):
        with pytest.raises(BadRequest, match="parse entities"):
            await bot.send_message(42, bad, parse_mode="HTML")
    with pytest.raises(BadRequest, match="too long"):
        await bot.send_message(42, "x" * 4097)
    assert len(tg.sent(42)) == 1  # refused sends are not "sent"


async def test_unknown_callback_query_is_refused(bot: Bot) -> None:
    with pytest.raises(BadRequest, match="is too old and response timeout expired"):
        await bot.answer_callback_query("12345")


async def test_webhook_info_close_and_log_out(tg: FakeTelegram, bot: Bot) -> None:
    assert await bot.set_webhook("https://bot.example.org/hook", secret_token="s3cret")
    assert tg.webhook["url"] == "https://bot.example.org/hook"
    assert (await bot.get_webhook_info()).url == "https://bot.example.org/hook"
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    with pytest.raises(BadRequest, match="an https url must be provided"):
        await bot.set_webhook("http://127.0.0.1:8080/hook")
    assert await bot.delete_webhook()
    assert (await bot.get_webhook_info()).url == ""
    assert await bot.close()
    assert await bot.log_out()


async def test_unknown_method_is_404(tg: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("frobnicate")
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{tg.base_url}{TOKEN}/frobnicate") as response,
    ):
        assert response.status == 404
        assert await response.json() == {
            "ok": False,
            "error_code": 404,
            "description": "Not Found: method not found",
        }


async def test_json_and_form_bodies(tg: FakeTelegram) -> None:
    url = f"{tg.base_url}{TOKEN}/sendMessage"
    async with aiohttp.ClientSession() as session:
        async with session.post(
            url, json={"chat_id": 5, "text": "42", "reply_markup": KEYBOARD_JSON}
        ) as response:
            body = await response.json()
            assert body["ok"] and body["result"]["reply_markup"] == KEYBOARD_JSON
        form = {"chat_id": "5", "text": "true", "reply_markup": json.dumps(KEYBOARD_JSON)}
        async with session.post(url, data=form) as response:
            assert response.status == 200
    json_params, form_params = tg.sent(5)
    assert json_params == {"chat_id": 5, "text": "42", "reply_markup": KEYBOARD_JSON}
    assert form_params == {"chat_id": 5, "text": "true", "reply_markup": KEYBOARD_JSON}


async def test_wrong_token_is_unauthorized() -> None:
    async with FakeTelegram(token=TOKEN) as tg:
        with pytest.raises(InvalidToken):  # __aenter__ shuts the bot down again on failure
            async with Bot("456:DEF", base_url=tg.base_url):
                pass


async def test_wait_for_times_out_with_a_clear_message(tg: FakeTelegram) -> None:
    with pytest.raises(AssertionError, match="sendMessage"):
        await tg.wait_for("sendMessage", timeout=0.05)


# --------------------------------------------------------------------- getUpdates


async def test_get_updates_honours_offset_and_limit(tg: FakeTelegram, bot: Bot) -> None:
    alice = tg.user(1, "Alice", "alice")
    ids = [tg.send_text(alice, f"hello {n}")["update_id"] for n in range(3)]

    first = await bot.get_updates(limit=2)
    assert [u.update_id for u in first] == ids[:2]
    assert first[0].message is not None and first[0].message.text == "hello 0"
    assert first[0].effective_user is not None and first[0].effective_user.username == "alice"
    again = await bot.get_updates()  # nothing confirmed yet: the same updates again
    assert [u.update_id for u in again] == ids
    rest = await bot.get_updates(offset=ids[1] + 1)
    assert [u.update_id for u in rest] == ids[2:]
    # Confirmed updates are forgotten, even when asked for with an older offset.
    assert [u.update_id for u in await bot.get_updates(offset=ids[0])] == ids[2:]
    assert await bot.get_updates(offset=ids[2] + 1) == ()
    assert tg.pending_updates() == []


async def test_get_updates_honours_allowed_updates(tg: FakeTelegram, bot: Bot) -> None:
    alice = tg.user(1, "Alice")
    tg.send_text(alice, "hi")
    press = tg.press(alice, tg.pending_updates()[0]["message"], "yes")
    updates = await bot.get_updates(allowed_updates=["callback_query"])
    assert [u.update_id for u in updates] == [press["update_id"]]
    assert updates[0].callback_query is not None and updates[0].callback_query.data == "yes"


async def test_long_poll_returns_as_soon_as_an_update_arrives(tg: FakeTelegram, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await tg.wait_for("getUpdates")
    assert not poll.done()
    update = tg.send_text(tg.user(1, "Alice"), "hi")
    updates = await asyncio.wait_for(poll, 10)  # a hang guard, far below the poll timeout
    assert [u.update_id for u in updates] == [update["update_id"]]


async def test_stop_ends_an_open_long_poll() -> None:
    tg = FakeTelegram()
    await tg.start()
    async with Bot(TOKEN, base_url=tg.base_url) as bot:
        poll = asyncio.create_task(bot.get_updates(timeout=30))
        await tg.wait_for("getUpdates")
        await asyncio.wait_for(tg.stop(), 10)  # hang guards, far below the poll timeout
        assert await asyncio.wait_for(poll, 10) == ()


# --------------------------------------------------------------------- faults


async def test_429_raises_retry_after(tg: FakeTelegram, bot: Bot) -> None:
    tg.fail_next("sendMessage", status=429, retry_after=3)
    with pytest.raises(RetryAfter) as raised:
        await bot.send_message(42, "hello")
    assert raised.value.retry_after == dt.timedelta(seconds=3)
    (failed,) = tg.calls_to("sendMessage")
    assert failed.status == 429
    assert failed.response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }
    await bot.send_message(42, "hello")  # one failure only
    assert tg.sent_texts(42) == ["hello"]


async def test_rate_limiter_retries_after_429(tg: FakeTelegram) -> None:
    app = build_app(tg, AIORateLimiter(max_retries=1))
    async with app:
        tg.fail_next("sendMessage", status=429, retry_after=1)
        message = await app.bot.send_message(42, "hello")
    assert message.text == "hello"
    assert [call.status for call in tg.calls_to("sendMessage")] == [429, 200]
    assert tg.sent_texts(42) == ["hello"]


async def test_403_raises_forbidden(tg: FakeTelegram, bot: Bot) -> None:
    tg.fail_next("sendMessage", status=403)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(42, "hello")


async def test_queued_failures_are_consumed_in_order(tg: FakeTelegram, bot: Bot) -> None:
    tg.fail_next("sendMessage", status=429, retry_after=1)
    tg.fail_next("sendMessage", status=403)
    tg.fail_next("sendMessage", status=400)
    with pytest.raises(RetryAfter):
        await bot.send_message(42, "one")
    with pytest.raises(Forbidden):
        await bot.send_message(42, "two")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(42, "three")
    await bot.send_message(42, "four")
    assert tg.sent_texts() == ["four"]


async def test_block_and_chat_not_found(tg: FakeTelegram, bot: Bot) -> None:
    tg.block(42)
    tg.chat_not_found(43)
    for _ in range(2):
        with pytest.raises(Forbidden):
            await bot.send_message(42, "hello")
    with pytest.raises(Forbidden):
        await bot.send_document(42, document=b"x", filename="x.txt")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(43, "hello")
    await bot.send_message(44, "hello")
    tg.unblock(42)
    await bot.send_message(42, "again")
    assert tg.sent_texts() == ["hello", "again"]


# --------------------------------------------------------------------- Application


async def test_application_polls_commands_and_button_presses(tg: FakeTelegram) -> None:
    app = build_app(tg)
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(chosen))
    alice = tg.user(1, "Alice", "alice")

    async with polling(app):
        tg.send_text(alice, "/start")
        await tg.wait_for("sendMessage")
        (reply,) = tg.sent(alice["id"])
        assert reply["text"] == "Welcome Alice"
        assert reply["reply_markup"] == KEYBOARD_JSON

        press = tg.press(alice, tg.last_message(alice["id"]), "yes")
        await tg.wait_for("editMessageText")
        (answer,) = tg.calls_to("answerCallbackQuery")
        assert answer.ok
        assert answer.params["callback_query_id"] == press["callback_query"]["id"]
        assert answer.params["text"] == "Noted"
        message = tg.last_message(alice["id"])
        assert message["text"] == "You chose yes" and "reply_markup" not in message

    # Bootstrapping removed any webhook; polling confirmed what it handled.
    assert tg.calls_to("deleteWebhook")
    assert tg.pending_updates() == []


async def test_application_in_groups_and_commands_with_bot_username(tg: FakeTelegram) -> None:
    app = build_app(tg)
    app.add_handler(CommandHandler("start", echo_command))
    alice = tg.user(1, "Alice", "alice", language_code="de")
    group = tg.group_chat(-1001, "Bath branch")
    assert group["type"] == "group"
    assert tg.group_chat(-1001234567890, "Frome")["type"] == "supergroup"

    async with polling(app):
        update = tg.send_text(alice, f"/start@{BOT_USERNAME} now", chat=group)
        assert update["message"]["entities"] == [
            {"type": "bot_command", "offset": 0, "length": len(f"/start@{BOT_USERNAME}")}
        ]
        tg.send_text(alice, "/start@some_other_bot", chat=group)  # not for us
        tg.send_text(alice, "/start")
        await tg.wait_for("sendMessage", 2)

    assert tg.sent_texts(-1001) == [f"got /start@{BOT_USERNAME} now"]
    assert tg.sent_texts(1) == ["got /start"]


async def test_application_never_gets_an_update_twice(tg: FakeTelegram) -> None:
    app = build_app(tg)
    app.add_handler(CommandHandler("start", echo_command))
    alice = tg.user(1, "Alice")

    async with polling(app):
        for n in range(3):
            tg.send_text(alice, f"/start {n}")
        await tg.wait_for("sendMessage", 3)
        # Updates are handled in order: a redelivery would answer before this one does.
        tg.send_text(alice, "/start 3")
        await tg.wait_for("sendMessage", 4)

    assert tg.sent_texts(1) == [f"got /start {n}" for n in range(4)]
    offsets = [call.params.get("offset") for call in tg.calls_to("getUpdates")]
    assert offsets == sorted(offsets, key=lambda offset: offset or 0)


async def test_application_webhook_checks_the_secret(tg: FakeTelegram) -> None:
    app = build_app(tg)
    app.add_handler(CommandHandler("start", echo_command))
    alice = tg.user(1, "Alice")
    port = free_port()
    hook = f"http://127.0.0.1:{port}/hook"

    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_webhook(
        listen="127.0.0.1",
        port=port,
        url_path="hook",
        webhook_url="https://bot.example.org/hook",
        secret_token="s3cret",
    )
    try:
        (set_webhook,) = tg.calls_to("setWebhook")
        assert set_webhook.params["url"] == "https://bot.example.org/hook"
        assert set_webhook.params["secret_token"] == "s3cret"

        assert await tg.post_update(hook, tg.text_update(alice, "/start 1"), "s3cret") == 200
        await tg.wait_for("sendMessage")
        assert await tg.post_update(hook, tg.text_update(alice, "/start 2"), "wrong") == 403
        assert await tg.post_update(hook, tg.text_update(alice, "/start 3")) == 403
        assert await tg.post_update(hook, tg.text_update(alice, "/start 4"), "s3cret") == 200
        await tg.wait_for("sendMessage", 2)
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()

    assert tg.sent_texts(1) == ["got /start 1", "got /start 4"]
    assert tg.calls_to("getUpdates") == []
