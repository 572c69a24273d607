"""A fake Telegram Bot API server, to drive a real python-telegram-bot over real HTTP.

It listens on 127.0.0.1 (a free port) and answers the Bot API methods the
Telegram adapter uses, in Telegram's own shapes, so a real ``telegram.Bot`` or
``telegram.ext.Application`` built with ``base_url(tg.base_url)`` talks to it
exactly as it would to api.telegram.org::

    async with FakeTelegram() as tg:
        app = ApplicationBuilder().token("123:ABC").base_url(tg.base_url).build()
        ...
        alice = tg.user(1, "Alice", "alice")
        tg.send_text(alice, "/start")
        await tg.wait_for("sendMessage")
        assert tg.sent(alice["id"])[0]["text"] == "Welcome"

Every call is recorded (``tg.calls``) with its parameters decoded: PTB posts
form-encoded or multipart bodies in which non-string values (``chat_id``,
``reply_markup``, ``commands``...) are JSON-encoded; they come back here as
Python values, and uploaded files as :class:`UploadedFile`. JSON bodies work too.

Telegram's behaviour that tests may lean on is reproduced where it is cheap:
``getUpdates`` is a real long poll honouring ``offset`` (confirmed updates are
forgotten), ``limit``, ``timeout`` and ``allowed_updates``, and answers 409 while
a webhook is set; ``setWebhook`` wants an https URL on port 443, 80, 88 or 8443;
``parse_mode="HTML"`` text is checked for unsupported or unclosed tags (as
Telegram does: "can't parse entities") and the stored message holds the plain
text; texts over 4096 and captions over 1024 characters, callback data over 64
bytes, invalid bot commands, edits that change nothing and answers to unknown
or already answered callback queries are refused with Telegram's 400 errors.

Faults on demand: :meth:`FakeTelegram.fail_next` (429 with ``retry_after``,
403, 400, 500, 502, ...; queued per method and consumed in order, ``times`` in a
row for a storm), :meth:`FakeTelegram.fail_chat` (the next calls naming one
``chat_id`` fail, then it works again), :meth:`FakeTelegram.block` (every call
naming one ``chat_id`` fails until unblocked), :meth:`FakeTelegram.upgrade_group` (a
group became a supergroup: 400 with ``migrate_to_chat_id``) and
:meth:`FakeTelegram.delay_next` (an answer held back past the client's timeout,
the call carried out or not).
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import re
import socket
import time
import urllib.parse
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import aiohttp
from aiohttp import web

from tests.local_server import serve_locally

BOT_ID = 999
# Seconds wait_for allows by default before it fails the test: a guard against a
# hang, never a measure of speed, so generous enough for a machine busy with other work.
PATIENCE = 30.0
BOT_USERNAME = "organiser_test_bot"
BOT_FIRST_NAME = "Organiser"

BOT_USER: dict[str, Any] = {
    "id": BOT_ID,
    "is_bot": True,
    "first_name": BOT_FIRST_NAME,
    "username": BOT_USERNAME,
}

GET_ME: dict[str, Any] = {
    **BOT_USER,
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
    "can_connect_to_business": False,
    "has_main_web_app": False,
}

SEND_METHODS = ("sendMessage", "sendDocument", "sendPhoto")

# Update types Telegram leaves out unless asked for by name in allowed_updates.
NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

# Parameters that are strings by definition: never JSON-decoded ("42" stays "42").
STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "url",
        "secret_token",
        "callback_query_id",
        "inline_message_id",
        "language_code",
        "ip_address",
        "business_connection_id",
        "message_effect_id",
        "file_id",
        "document",
        "photo",
        "name",
        "description",
        "short_description",
        "title",
    }
)

DESCRIPTIONS: dict[int, str] = {
    400: "Bad Request: chat not found",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
    500: "Internal Server Error",
    502: "Bad Gateway",
    504: "Gateway Timeout",
}

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)

# Tags Telegram accepts with parse_mode="HTML".
HTML_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "tg-emoji",
        "code",
        "pre",
        "blockquote",
    }
)
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)?([^>]*)>?")
_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")
_BOT_COMMAND = re.compile(r"[a-z0-9_]{1,32}")


class ApiError(Exception):
    """An error answer of the Bot API: ``{"ok": false, "error_code": ..., ...}``."""

    def __init__(self, status: int, description: str | None = None, **parameters: Any) -> None:
        super().__init__(description)
        self.status = status
        self.description = description or DESCRIPTIONS.get(status, f"Error {status}")
        self.parameters = parameters

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


@dataclass
class _Delay:
    """An answer to hold back: see :meth:`FakeTelegram.delay_next`."""

    method: str
    seconds: float
    chat_id: str | None
    processed: bool


@dataclass
class UploadedFile:
    """A file part of a multipart upload."""

    field: str
    filename: str | None
    content: bytes
    content_type: str | None = None


@dataclass
class Call:
    """One request to the fake: the method (canonical spelling) and its decoded parameters."""

    method: str
    params: dict[str, Any]
    token: str = ""
    status: int | None = None  # HTTP status answered; None while open (or abandoned by the client)
    response: dict[str, Any] | None = None
    delayed: float = 0.0  # seconds the answer was held back (see FakeTelegram.delay_next)

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def result(self) -> Any:
        return None if self.response is None else self.response.get("result")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for a webhook server under test)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _same_chat(a: Any, b: Any) -> bool:
    return a is not None and b is not None and str(a) == str(b)


def _decode(key: str, value: Any) -> Any:
    """A form value as PTB meant it: strings stay strings, anything else was JSON-encoded."""
    if not isinstance(value, str) or key in STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _update_type(update: dict[str, Any]) -> str:
    return next((key for key in update if key != "update_id"), "")


def _check_html(text: str) -> str:
    """Validate Telegram HTML as Telegram does; return the plain text Telegram would store."""
    stack: list[str] = []
    for match in _TAG.finditer(text):
        closing, name, rest = match.group(1), (match.group(2) or "").lower(), match.group(3)
        offset = len(text[: match.start()].encode())
        if not name or not match.group(0).endswith(">"):
            raise ApiError(
                400,
                "Bad Request: can't parse entities: Unsupported start tag "
                f'"{name}" at byte offset {offset}',
            )
        if name not in HTML_TAGS:
            kind = "end" if closing else "start"
            raise ApiError(
                400,
                f'Bad Request: can\'t parse entities: Unsupported {kind} tag "{name}" '
                f"at byte offset {offset}",
            )
        if closing:
            if not stack or stack[-1] != name:
                raise ApiError(
                    400,
                    f'Bad Request: can\'t parse entities: Unmatched end tag at byte offset {offset}, expected "</{stack[-1] if stack else ""}>", found "</{name}>"',
                )
            stack.pop()
        elif not rest.rstrip().endswith("/"):
            stack.append(name)
    if stack:
        raise ApiError(
            400,
            "Bad Request: can't parse entities: Can't find end tag corresponding to start tag "
            f'"{stack[-1]}"',
        )
    return html.unescape(re.sub(r"<[^>]*>", "", text))


class FakeTelegram:
    """A fake Bot API server on 127.0.0.1; see the module docstring.

    ``token``: when given, requests with another token get 401 Unauthorized;
    by default any token is accepted (and recorded on each :class:`Call`).
    ``username``: the bot's username, as getMe answers it.
    """

    def __init__(self, token: str | None = None, username: str = BOT_USERNAME) -> None:
        self.token = token
        self.username = username
        self.calls: list[Call] = []
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.webhook: dict[str, Any] = {}
        self.chats: dict[int, dict[str, Any]] = {}
        self.port: int | None = None
        self._pending: list[dict[str, Any]] = []
        self._messages: dict[tuple[str, int], dict[str, Any]] = {}
        self._failures: dict[str, deque[ApiError]] = defaultdict(deque)
        self._blocked: dict[str, ApiError] = {}
        self._chat_failures: dict[str, deque[ApiError]] = defaultdict(deque)
        self._delays: list[_Delay] = []
        self._open_queries: set[str] = set()
        self._files: dict[str, UploadedFile] = {}
        self._file_paths: dict[str, str] = {}
        self._allowed: frozenset[str] | None = None
        self._update_ids = itertools.count(10_001)
        self._message_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._poll_generation = 0
        self._changed = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._methods: dict[str, Callable[[Call], Any]] = {
            name.lower(): handler
            for name, handler in {
                "getMe": self._get_me,
                "getUpdates": self._get_updates,
                "sendMessage": self._send_message,
                "editMessageText": self._edit_message_text,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "answerCallbackQuery": self._answer_callback_query,
                "sendDocument": self._send_document,
                "sendPhoto": self._send_photo,
                "setMyCommands": self._set_my_commands,
                "deleteMyCommands": self._delete_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteWebhook": self._delete_webhook,
                "setWebhook": self._set_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "getFile": self._get_file,
                "close": self._true,
                "logOut": self._true,
            }.items()
        }
        self._canonical = {
            name.lower(): name
            for name in (
                "getMe getUpdates sendMessage editMessageText editMessageReplyMarkup "
                "answerCallbackQuery sendDocument sendPhoto setMyCommands deleteMyCommands "
                "getMyCommands deleteWebhook setWebhook getWebhookInfo getFile close logOut"
            ).split()
        }

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("FakeTelegram is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)``: PTB appends the token and ``/method``."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``ApplicationBuilder().base_file_url(...)``: file downloads after getFile."""
        return f"{self.url}/file/bot"

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("FakeTelegram is already started")
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._closing = False
        self._runner, self.port = await serve_locally(app, shutdown_timeout=2.0)

    async def stop(self) -> None:
        """Stop serving; open long polls are answered at once (with no updates)."""
        if self._runner is None:
            return
        self._closing = True
        self._notify()
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ------------------------------------------------------------------ inspection

    def calls_to(self, method: str) -> list[Call]:
        name = self._canonical.get(method.lower(), method)
        return [call for call in self.calls if call.method == name]

    def sent(self, chat_id: int | str | None = None) -> list[dict[str, Any]]:
        """Params of successful sendMessage/sendDocument/sendPhoto calls, oldest first."""
        return [
            call.params
            for call in self.calls
            if call.method in SEND_METHODS
            and call.ok
            and (chat_id is None or _same_chat(call.params.get("chat_id"), chat_id))
        ]

    def sent_texts(self, chat_id: int | str | None = None) -> list[str]:
        """The text (or caption) of each successful send, as the bot posted it."""
        return [params.get("text", params.get("caption", "")) for params in self.sent(chat_id)]

    def bot_messages(self, chat_id: int | str | None = None) -> list[dict[str, Any]]:
        """Messages the bot sent, as Telegram holds them now (after any edits)."""
        return [
            message
            for message in self._messages.values()
            if message.get("from", {}).get("id") == BOT_ID
            and (chat_id is None or _same_chat(message["chat"]["id"], chat_id))
        ]

    def last_message(self, chat_id: int | str | None = None) -> dict[str, Any]:
        """The bot's latest message (in one chat), current state; for :meth:`press`."""
        messages = self.bot_messages(chat_id)
        if not messages:
            raise AssertionError(f"the bot sent no message (chat_id={chat_id!r})")
        return messages[-1]

    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates queued for getUpdates and not yet confirmed by an offset."""
        return list(self._pending)

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = PATIENCE,  # noqa: ASYNC109
    ) -> list[Call]:
        """Wait until ``count`` calls to ``method`` have arrived (since the last clear())."""
        try:
            async with asyncio.timeout(timeout):
                while len(calls := self.calls_to(method)) < count:
                    await self._changed.wait()
        except TimeoutError:
            seen = [call.method for call in self.calls if call.method != "getUpdates"]
            raise AssertionError(
                f"waited {timeout}s for {count} call(s) to {method}, got "
                f"{len(self.calls_to(method))}; other calls: {seen}"
            ) from None
        return calls

    def clear(self) -> None:
        """Forget the recorded calls (updates, messages, failures and blocks stay)."""
        self.calls.clear()

    # ------------------------------------------------------------------ faults

    def fail_next(
        self,
        method: str,
        status: int = 429,
        retry_after: int = 1,
        description: str | None = None,
        *,
        times: int = 1,
    ) -> None:
        """Make the next call to ``method`` fail (the next ``times`` calls: a storm);
        queued failures are consumed in order.

        429 answers "Too Many Requests: retry after N" with ``parameters.retry_after``;
        403 "Forbidden: bot was blocked by the user"; 400 "Bad Request: chat not found";
        500 "Internal Server Error", 502 "Bad Gateway"; any other status its usual
        description. ``description`` overrides the text.
        """
        name = self._canonical.get(method.lower(), method)
        error = self._error(status, retry_after, description)
        self._failures[name].extend([error] * times)

    def fail_chat(
        self,
        chat_id: int | str,
        status: int = 500,
        retry_after: int = 1,
        description: str | None = None,
        *,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls naming ``chat_id`` (any method) fail, then work
        again: a passing fault of one chat (answers as in :meth:`fail_next`). Failures
        queued per method by :meth:`fail_next` come first."""
        error = self._error(status, retry_after, description)
        self._chat_failures[str(chat_id)].extend([error] * times)

    @staticmethod
    def _error(status: int, retry_after: int, description: str | None) -> ApiError:
        if status == 429:
            return ApiError(
                429,
                description or f"Too Many Requests: retry after {retry_after}",
                retry_after=retry_after,
            )
        return ApiError(status, description)

    def delay_next(
        self,
        method: str,
        seconds: float,
        *,
        chat_id: int | str | None = None,
        times: int = 1,
        processed: bool = True,
    ) -> None:
        """Hold back the answer to the next ``times`` calls to ``method`` (naming
        ``chat_id``, if given) by ``seconds``: longer than the client's timeout, the
        client gives up waiting.

        ``processed=True``: the call is carried out at once (a message is sent, the
        call recorded as answered 200 with ``delayed`` set), only its answer is late,
        as when Telegram accepted a message whose answer was lost on the way.
        ``processed=False``: nothing is done; after ``seconds`` the call is answered
        504 "Gateway Timeout" (if the client is still there to hear it). A call that
        fails (an injected fault, a bad request) fails at once and leaves the delay
        for the next one.
        """
        name = self._canonical.get(method.lower(), method)
        target = None if chat_id is None else str(chat_id)
        self._delays.extend(_Delay(name, seconds, target, processed) for _ in range(times))

    def block(self, chat_id: int | str, status: int = 403, description: str | None = None) -> None:
        """Every call naming ``chat_id`` fails until unblock(): by default 403 "bot was
        blocked by the user"; ``status=400`` gives "Bad Request: chat not found"."""
        self._blocked[str(chat_id)] = ApiError(status, description)

    def chat_not_found(self, chat_id: int | str) -> None:
        self.block(chat_id, status=400)

    def upgrade_group(self, chat_id: int, new_id: int) -> dict[str, Any]:
        """The group ``chat_id`` became the supergroup ``new_id`` (as Telegram does when
        a group grows or an admin changes some settings): from now on every call naming
        the old id fails with 400 "group chat was upgraded to a supergroup chat" and
        ``parameters.migrate_to_chat_id`` (PTB raises ``ChatMigrated``). Returns the
        supergroup's chat."""
        if new_id > -1_000_000_000_000:
            raise ValueError("supergroup ids are -1000000000000 or lower")
        title = self.chats.get(int(chat_id), {}).get("title", f"Chat {new_id}")
        self._blocked[str(chat_id)] = ApiError(
            400,
            "Bad Request: group chat was upgraded to a supergroup chat",
            migrate_to_chat_id=new_id,
        )
        return self.group_chat(new_id, title, "supergroup")

    def unblock(self, chat_id: int | str) -> None:
        self._blocked.pop(str(chat_id), None)

    # ------------------------------------------------------------------ producing updates

    def user(
        self,
        id: int,
        first_name: str,
        username: str | None = None,
        language_code: str | None = "en",
        last_name: str | None = None,
    ) -> dict[str, Any]:
        user: dict[str, Any] = {"id": id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        return user

    def private_chat(self, user: dict[str, Any]) -> dict[str, Any]:
        chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        for key in ("last_name", "username"):
            if key in user:
                chat[key] = user[key]
        self.chats[user["id"]] = chat
        return chat

    def group_chat(self, id: int, title: str, type: str | None = None) -> dict[str, Any]:
        """A group (negative id); ids from -1000000000000 down are supergroups."""
        if id >= 0:
            raise ValueError("group chat ids are negative")
        kind = type or ("supergroup" if id <= -1_000_000_000_000 else "group")
        chat = {"id": id, "type": kind, "title": title}
        self.chats[id] = chat
        return chat

    def text_update(
        self,
        user: dict[str, Any],
        text: str,
        chat: dict[str, Any] | None = None,
        reply_to: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A message update (not queued): for a /command, with its bot_command entity."""
        chat = chat or self.private_chat(user)
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "from": user,
            "chat": chat,
            "date": int(time.time()),
            "text": text,
        }
        command = _COMMAND.match(text)
        if command:
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": _utf16_len(command.group())}
            ]
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        self._messages[(str(chat["id"]), message["message_id"])] = message
        return {"update_id": next(self._update_ids), "message": message}

    def callback_update(
        self, user: dict[str, Any], message: dict[str, Any], data: str
    ) -> dict[str, Any]:
        """A callback_query update (not queued) for a button under ``message``."""
        key = (str(message["chat"]["id"]), message["message_id"])
        query_id = f"{user['id']}{next(self._query_ids):06d}"
        self._open_queries.add(query_id)
        query = {
            "id": query_id,
            "from": user,
            "message": self._messages.get(key, message),
            "chat_instance": str(4_000_000_000 + abs(int(message["chat"]["id"]))),
            "data": data,
        }
        return {"update_id": next(self._update_ids), "callback_query": query}

    def enqueue(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue any update dict for getUpdates; wakes an open long poll."""
        self._pending.append(update)
        self._notify()
        return update

    def send_text(
        self,
        user: dict[str, Any],
        text: str,
        chat: dict[str, Any] | None = None,
        reply_to: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Queue a message from ``user`` (in their private chat unless ``chat``)."""
        return self.enqueue(self.text_update(user, text, chat, reply_to))

    def press(self, user: dict[str, Any], message: dict[str, Any], data: str) -> dict[str, Any]:
        """Queue ``user`` pressing the button with ``data`` under the bot's ``message``."""
        return self.enqueue(self.callback_update(user, message, data))

    async def post_update(
        self, url: str, update: dict[str, Any], secret_token: str | None = None
    ) -> int:
        """POST ``update`` to a webhook as Telegram does; returns the HTTP status."""
        headers = {}
        if secret_token is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret_token
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, json=update, headers=headers) as response,
        ):
            await response.read()
            return response.status

    # ------------------------------------------------------------------ HTTP

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _read_params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = {key: _decode(key, v) for key, v in request.query.items()}
        content_type = request.content_type
        if not request.body_exists:
            return params
        if content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise ApiError(400, "Bad Request: can't parse JSON body") from None
            if not isinstance(body, dict):
                raise ApiError(400, "Bad Request: invalid JSON body")
            params.update({key: _decode(key, value) for key, value in body.items()})
        elif content_type.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
                    continue
                if part.filename is not None:
                    params[part.name] = UploadedFile(
                        field=part.name,
                        filename=part.filename,
                        content=bytes(await part.read()),
                        content_type=part.headers.get("Content-Type"),
                    )
                else:
                    params[part.name] = _decode(part.name, await part.text())
        else:
            form = await request.post()
            params.update({key: _decode(key, value) for key, value in form.items()})
        return params

    async def _handle(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        raw_method = request.match_info["method"]
        method = self._canonical.get(raw_method.lower(), raw_method)
        call = Call(method=method, params={}, token=token)
        try:
            try:
                call.params = await self._read_params(request)
            finally:
                self.calls.append(call)
                self._notify()
            if self.token is not None and token != self.token:
                raise ApiError(401)
            handler = self._methods.get(method.lower())
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            self._inject_failure(call)
            delay = self._find_delay(call)
            if delay is not None and not delay.processed:
                self._delays.remove(delay)
                call.delayed = delay.seconds
                await asyncio.sleep(delay.seconds)  # the client has gone by now
                raise ApiError(504, "Gateway Timeout")
            result = handler(call)
            if asyncio.iscoroutine(result):
                result = await result
            body: dict[str, Any] = {"ok": True, "result": result}
            status = 200
            if delay is not None and delay in self._delays:  # done; only the answer is late
                self._delays.remove(delay)
                call.delayed = delay.seconds
                call.status, call.response = status, body
                self._notify()
                await asyncio.sleep(delay.seconds)
        except ApiError as error:
            body, status = error.body(), error.status
        call.status, call.response = status, body
        self._notify()
        return web.json_response(body, status=status)

    def _find_delay(self, call: Call) -> _Delay | None:
        """The first delay for this call; it is used up only by a call that would have
        been answered at once (an injected or real error comes at once instead)."""
        chat_id = call.params.get("chat_id")
        for delay in self._delays:
            if delay.method == call.method and (
                delay.chat_id is None or _same_chat(delay.chat_id, chat_id)
            ):
                return delay
        return None

    def _inject_failure(self, call: Call) -> None:
        queue = self._failures.get(call.method)
        if queue:
            raise queue.popleft()
        chat_id = call.params.get("chat_id")
        if chat_id is None:
            return
        passing = self._chat_failures.get(str(chat_id))
        if passing:
            raise passing.popleft()
        if str(chat_id) in self._blocked:
            raise self._blocked[str(chat_id)]

    async def _download(self, request: web.Request) -> web.Response:
        file_id = self._file_paths.get(request.match_info["path"])
        if file_id is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        upload = self._files[file_id]
        return web.Response(
            body=upload.content, content_type=upload.content_type or "application/octet-stream"
        )

    # ------------------------------------------------------------------ methods

    def _true(self, call: Call) -> bool:
        return True

    def _get_me(self, call: Call) -> dict[str, Any]:
        return {**GET_ME, "username": self.username}

    def _wanted(self, update: dict[str, Any]) -> bool:
        kind = _update_type(update)
        if self._allowed is None:
            return kind not in NOT_BY_DEFAULT
        return kind in self._allowed

    async def _get_updates(self, call: Call) -> list[dict[str, Any]]:
        if self.webhook.get("url"):
            raise ApiError(409, WEBHOOK_CONFLICT)
        params = call.params
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        if "allowed_updates" in params:
            allowed = params["allowed_updates"] or []
            self._allowed = frozenset(allowed) if allowed else None
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]
        # A newer getUpdates ends an older one still waiting, as on Telegram.
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            self._pending = [u for u in self._pending if self._wanted(u)]
            if self._pending or self._closing:
                return self._pending[:limit]
            if generation != self._poll_generation:
                raise ApiError(409)
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return []
            changed = self._changed
            try:
                async with asyncio.timeout(remaining):
                    await changed.wait()
            except TimeoutError:
                return []

    def _chat(self, chat_id: Any) -> dict[str, Any]:
        if chat_id is None or chat_id == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        try:
            number = int(chat_id)
        except (TypeError, ValueError):
            raise ApiError(400) from None  # "@channelusername": no such chat here
        if number in self.chats:
            return self.chats[number]
        if number > 0:
            return {"id": number, "type": "private", "first_name": f"User {number}"}
        kind = "supergroup" if number <= -1_000_000_000_000 else "group"
        return {"id": number, "type": kind, "title": f"Chat {number}"}

    def _check_markup(self, markup: Any) -> dict[str, Any] | None:
        """The markup Telegram echoes on the message: inline keyboards only."""
        if not isinstance(markup, dict) or "inline_keyboard" not in markup:
            return None
        for row in markup["inline_keyboard"]:
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= 64:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                if not button.get("text"):
                    raise ApiError(
                        400, "Bad Request: text buttons are unallowed in the inline keyboard"
                    )
        return markup

    def _formatted(self, text: str, parse_mode: Any) -> str:
        if isinstance(parse_mode, str) and parse_mode.upper() == "HTML":
            return _check_html(text)
        return text

    def _new_message(self, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        chat = self._chat(params.get("chat_id"))
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "from": dict(BOT_USER),
            "chat": chat,
            "date": int(time.time()),
            **content,
        }
        markup = self._check_markup(params.get("reply_markup"))
        if markup is not None:
            message["reply_markup"] = markup
        reply = params.get("reply_parameters") or {}
        reply_id = reply.get("message_id") if isinstance(reply, dict) else None
        reply_id = reply_id or params.get("reply_to_message_id")
        if reply_id is not None:
            original = self._messages.get((str(chat["id"]), int(reply_id)))
            if original is None:
                raise ApiError(400, "Bad Request: message to be replied not found")
            message["reply_to_message"] = original
        self._messages[(str(chat["id"]), message["message_id"])] = message
        return message

    def _caption(self, params: dict[str, Any]) -> dict[str, Any]:
        caption = params.get("caption")
        if not caption:
            return {}
        caption = self._formatted(caption, params.get("parse_mode"))
        if _utf16_len(caption) > 1024:
            raise ApiError(400, "Bad Request: message caption is too long")
        return {"caption": caption}

    def _send_message(self, call: Call) -> dict[str, Any]:
        text = call.params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        self._chat(call.params.get("chat_id"))
        text = self._formatted(text, call.params.get("parse_mode"))
        if _utf16_len(text) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        return self._new_message(call.params, text=text)

    def _store_file(self, upload: Any, kind: str) -> dict[str, Any]:
        number = next(self._file_ids)
        file_id = f"{kind}-file-{number}"
        info: dict[str, Any] = {"file_id": file_id, "file_unique_id": f"unique-{number}"}
        if isinstance(upload, UploadedFile):
            self._files[file_id] = upload
            self._file_paths[f"{kind}s/file_{number}"] = file_id
            info["file_size"] = len(upload.content)
        elif not isinstance(upload, str) or not upload:
            raise ApiError(400, f"Bad Request: there is no {kind} in the request")
        return info

    def _send_document(self, call: Call) -> dict[str, Any]:
        self._chat(call.params.get("chat_id"))
        upload = call.params.get("document")
        document = self._store_file(upload, "document")
        if isinstance(upload, UploadedFile):
            if upload.filename:
                document["file_name"] = upload.filename
            document["mime_type"] = upload.content_type or "application/octet-stream"
        return self._new_message(call.params, document=document, **self._caption(call.params))

    def _send_photo(self, call: Call) -> dict[str, Any]:
        self._chat(call.params.get("chat_id"))
        photo = self._store_file(call.params.get("photo"), "photo")
        sizes = [
            {**photo, "file_id": f"{photo['file_id']}-s", "width": 90, "height": 90},
            {**photo, "width": 800, "height": 800},
        ]
        return self._new_message(call.params, photo=sizes, **self._caption(call.params))

    def _message_to_edit(self, params: dict[str, Any]) -> dict[str, Any] | None:
        if params.get("inline_message_id"):
            return None
        chat_id, message_id = params.get("chat_id"), params.get("message_id")
        if chat_id is None or message_id is None:
            raise ApiError(400, "Bad Request: message identifier is not specified")
        self._chat(chat_id)
        message = self._messages.get((str(chat_id), int(message_id)))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if message.get("from", {}).get("id") != BOT_ID:
            raise ApiError(400, "Bad Request: message can't be edited")
        return message

    def _edit(self, message: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
        edited = {key: value for key, value in message.items() if key != "edit_date"}
        edited.update(changes)
        edited = {key: value for key, value in edited.items() if value is not None}
        if {k: v for k, v in edited.items() if k != "edit_date"} == {
            k: v for k, v in message.items() if k != "edit_date"
        }:
            raise ApiError(400, NOT_MODIFIED)
        edited["edit_date"] = int(time.time())
        message.clear()
        message.update(edited)
        return message

    def _edit_message_text(self, call: Call) -> dict[str, Any] | bool:
        text = call.params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        text = self._formatted(text, call.params.get("parse_mode"))
        if _utf16_len(text) > 4096:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        markup = self._check_markup(call.params.get("reply_markup"))
        message = self._message_to_edit(call.params)
        if message is None:
            return True
        if "text" not in message:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        return self._edit(message, {"text": text, "reply_markup": markup})

    def _edit_message_reply_markup(self, call: Call) -> dict[str, Any] | bool:
        markup = self._check_markup(call.params.get("reply_markup"))
        message = self._message_to_edit(call.params)
        if message is None:
            return True
        return self._edit(message, {"reply_markup": markup})

    def _answer_callback_query(self, call: Call) -> bool:
        query_id = str(call.params.get("callback_query_id", ""))
        if query_id not in self._open_queries:
            raise ApiError(400, QUERY_TOO_OLD)
        self._open_queries.discard(query_id)
        text = call.params.get("text")
        if isinstance(text, str) and len(text) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        return True

    @staticmethod
    def _scope_key(params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return (json.dumps(scope, sort_keys=True), str(params.get("language_code") or ""))

    def _set_my_commands(self, call: Call) -> bool:
        commands = call.params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            name, description = command.get("command", ""), command.get("description", "")
            if not _BOT_COMMAND.fullmatch(name):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._scope_key(call.params)] = commands
        return True

    def _delete_my_commands(self, call: Call) -> bool:
        self.commands.pop(self._scope_key(call.params), None)
        return True

    def _get_my_commands(self, call: Call) -> list[dict[str, Any]]:
        return self.commands.get(self._scope_key(call.params), [])

    def _delete_webhook(self, call: Call) -> bool:
        self.webhook = {}
        if call.params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    def _set_webhook(self, call: Call) -> bool:
        params = call.params
        url = params.get("url") or ""
        if not url:
            return self._delete_webhook(call)
        if not url.startswith("https://"):
            raise ApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        parsed = urllib.parse.urlsplit(url)
        port = parsed.port or 443
        if port not in (443, 80, 88, 8443):
            raise ApiError(
                400,
                "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443",
            )
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._pending.clear()
        self.webhook = {
            "url": url,
            "secret_token": secret,
            "max_connections": params.get("max_connections", 40),
            "allowed_updates": params.get("allowed_updates"),
            "ip_address": params.get("ip_address"),
        }
        return True

    def _get_webhook_info(self, call: Call) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook:
            info["max_connections"] = self.webhook["max_connections"]
            if self.webhook.get("allowed_updates"):
                info["allowed_updates"] = self.webhook["allowed_updates"]
            if self.webhook.get("ip_address"):
                info["ip_address"] = self.webhook["ip_address"]
        return info

    def _get_file(self, call: Call) -> dict[str, Any]:
        file_id = str(call.params.get("file_id", ""))
        if file_id not in self._files:
            raise ApiError(400, "Bad Request: invalid file_id")
        path = next(path for path, fid in self._file_paths.items() if fid == file_id)
        return {
            "file_id": file_id,
            "file_unique_id": f"unique-{file_id}",
            "file_size": len(self._files[file_id].content),
            "file_path": path,
        }
