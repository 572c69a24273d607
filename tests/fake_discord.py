"""A fake Discord (REST API v10 and gateway), to drive a real discord.py over real HTTP.

It listens on 127.0.0.1 (a free port): REST under ``/api/v10`` and the gateway
WebSocket at ``/gateway`` (``/resume-gateway`` is the ``resume_gateway_url``). A
real, unmodified ``discord.Client`` or ``commands.Bot`` logs in, connects,
receives the events a test injects and makes REST calls the fake records and
answers in Discord's own shapes::

    async with FakeDiscord() as discord_:   # also patches discord.py to talk to it
        alice = discord_.user(301, "alice")
        bot = commands.Bot(command_prefix="!", intents=intents, guild_ready_timeout=0.05)
        async with discord_.running(bot):
            await bot.tree.sync()
            hit = await discord_.slash(alice, "join", {"branch": "Bath"})
            assert (await discord_.wait_response(hit))["data"]["flags"] == 64

Patching: ``async with FakeDiscord()`` (``patch_discord=True``, the default) sets
``discord.http.Route.BASE`` (REST, interaction callbacks and webhooks all use it)
and ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` to the fake and restores
them on exit; :meth:`FakeDiscord.patched` does the same by hand.

Gateway: HELLO, IDENTIFY -> READY + GUILD_CREATE, heartbeats -> ACK, RESUME ->
replay of missed events + RESUMED (or INVALID_SESSION when not resumable),
REQUEST_GUILD_MEMBERS -> GUILD_MEMBERS_CHUNK; ``zlib-stream`` transport
compression (what discord.py asks for) is honoured. One client at a time.

Discord's behaviour tests may lean on is reproduced where it is cheap: JSON
error bodies with Discord's codes (50007 DMs refused, 10062 unknown interaction,
40060 already acknowledged, 50006 empty message, 50035 invalid form body for
messages over 2000 characters, custom_ids over 100 or repeated within a message
(COMPONENT_CUSTOM_ID_DUPLICATED), more than 5 action rows or 5 buttons in a row,
badly named commands...; the error names the field as Discord nests it); an
interaction's first response (reply, deferral, update, modal, choices) must
reach the fake within ``answer_within`` seconds (Discord's 3 by default; a test
may shorten it) of the interaction's creation, or it is refused as Discord
does (404, 10062 "Unknown interaction") and the user is shown "This
interaction failed" (:attr:`InteractionRecord.failed`, set when the time runs
out unanswered); the first follow-up after a deferral (type 5) fills
the "thinking" message instead of adding one; a component interaction's
``@original`` is the message the component was on; unknown users are refused;
a bot message in a server channel saying "@everyone" or "@here" has
``mention_everyone`` set (everyone is notified) unless its ``allowed_mentions``
leave "everyone" out.

Faults on demand: :meth:`FakeDiscord.fail_next` (429 storms, 403, 5xx... for
requests matching a path, or only those to one user's DM channel),
:meth:`FakeDiscord.refuse_dms` (50007) and :meth:`FakeDiscord.delay_next` (an
answer held back past the client's timeout, the request carried out or not).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
import fnmatch
import json
import mimetypes
import re
import secrets
import time
import zlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import aiohttp
import yarl
from aiohttp import web

from tests.local_server import serve_locally

if TYPE_CHECKING:
    import discord

TOKEN = "MTEwMDAwMDAwMDAwMDAwMDAwMQ.fake.discord-token"
BOT_ID = 1_100_000_000_000_000_001
APPLICATION_ID = BOT_ID  # as for every application created since 2018
BOT_NAME = "Organiser"
GUILD_ID = 1_200_000_000_000_000_000
GUILD_NAME = "Assembly"
CHANNELS: dict[str, int] = {
    "general": GUILD_ID + 1,
    "organising": GUILD_ID + 2,
    "announcements": GUILD_ID + 3,
}

# Message flags.
EPHEMERAL = 1 << 6
LOADING = 1 << 7
COMPONENTS_V2 = 1 << 15

# Gateway intents the fake looks at.
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_MESSAGES = 1 << 9
DIRECT_MESSAGES = 1 << 12
MESSAGE_CONTENT = 1 << 15

# Permissions: what @everyone may do, and everything (what Discord sends for administrators).
DEFAULT_PERMISSIONS = (
    (1 << 6)  # add reactions
    | (1 << 10)  # view channel
    | (1 << 11)  # send messages
    | (1 << 14)  # embed links
    | (1 << 15)  # attach files
    | (1 << 16)  # read message history
    | (1 << 31)  # use application commands
)
ALL_PERMISSIONS = (1 << 51) - 1
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024
DISCORD_EPOCH_MS = 1_420_070_400_000

# Seconds Discord gives a bot to send an interaction's first response.
ANSWER_WITHIN = 3.0
# Seconds a wait of this fake (a client ready, a request, a response) allows by
# default before it fails the test: a guard against a hang, never a measure of
# speed, so generous enough for a machine busy with other work.
PATIENCE = 30.0

# Interaction types and callback types.
APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 2, 3, 4, 5
CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE = 4, 5, 6, 7
AUTOCOMPLETE_RESULT, MODAL = 8, 9
ALLOWED_CALLBACKS: dict[int, frozenset[int]] = {
    APPLICATION_COMMAND: frozenset({CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, MODAL}),
    MESSAGE_COMPONENT: frozenset(
        {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE, MODAL}
    ),
    AUTOCOMPLETE: frozenset({AUTOCOMPLETE_RESULT}),
    MODAL_SUBMIT: frozenset(
        {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE}
    ),
}

# Application command option types.
SUB_COMMAND, SUB_COMMAND_GROUP, STRING, INTEGER, BOOLEAN = 1, 2, 3, 4, 5
USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = 6, 7, 8, 9, 10, 11

_COMMAND_NAME = re.compile(r"[-_\w]{1,32}")
# The locales Discord localises commands into (its API reference, "Locales").
DISCORD_LOCALES = frozenset(
    "id da de en-GB en-US es-ES es-419 fr hr it lt hu nl no pl pt-BR ro fi sv-SE vi tr "
    "cs el bg ru uk hi th zh-CN ja zh-TW ko".split()
)
_FILE_FIELD = re.compile(r"files\[(\d+)\]")

UserLike = int | Mapping[str, Any]


class ApiError(Exception):
    """An error answer of the REST API: ``{"message": ..., "code": ...}`` (and ``errors``)."""

    def __init__(
        self,
        status: int,
        message: str,
        code: int = 0,
        errors: dict[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.errors = errors
        self.headers = dict(headers or {})
        self._body = body

    def body(self) -> Any:
        if self._body is not None:
            return self._body
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


def form_error(path: Sequence[str | int], code: str, message: str) -> ApiError:
    """A 400 "Invalid Form Body" (50035) naming the offending field, as Discord nests it."""
    errors: dict[str, Any] = {"_errors": [{"code": code, "message": message}]}
    for key in reversed(path):
        errors = {str(key): errors}
    return ApiError(400, "Invalid Form Body", 50035, errors=errors)


def _unknown(what: str, code: int) -> ApiError:
    return ApiError(404, f"Unknown {what}", code)


@dataclass
class UploadedFile:
    """A file part of a multipart request (``files[n]``)."""

    field: str
    filename: str | None
    content: bytes
    content_type: str | None = None


@dataclass
class RecordedRequest:
    """One REST request to the fake; ``path`` is relative to ``/api/v10``."""

    method: str
    path: str
    query: dict[str, str]
    json: Any  # the JSON body, or a multipart body's payload_json; None without either
    files: list[UploadedFile]
    headers: dict[str, str]
    status: int | None = None  # None while being answered (or abandoned by the client)
    response: Any = None
    delayed: float = 0.0  # seconds the answer was held back (see FakeDiscord.delay_next)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class InteractionRecord:
    """An interaction the fake sent, and everything the bot did with it."""

    id: int
    token: str
    type: int
    payload: dict[str, Any]  # the INTERACTION_CREATE data
    user_id: int
    channel_id: int
    guild_id: int | None
    callback: dict[str, Any] | None = None  # {"type": ..., "data": ...} as the bot posted it
    callback_files: list[UploadedFile] = field(default_factory=list)
    original_id: int | None = None  # the message @original refers to
    followup_ids: list[int] = field(default_factory=list)
    edits: list[dict[str, Any]] = field(default_factory=list)  # bodies PATCHed to @original
    deadline: float = float("inf")  # time.monotonic() by which the first response must arrive
    # The user was shown "This interaction failed": no first response in time.
    failed: bool = False

    @property
    def response_type(self) -> int | None:
        return None if self.callback is None else self.callback.get("type")

    @property
    def response_data(self) -> dict[str, Any]:
        return {} if self.callback is None else self.callback.get("data") or {}


@dataclass
class _Failure:
    method: str | None
    pattern: str
    error: ApiError
    dm_to: int | None = None


@dataclass
class _Delay:
    method: str | None
    pattern: str
    seconds: float
    processed: bool
    dm_to: int | None = None


@dataclass
class GatewaySession:
    id: str
    intents: int
    seq: int = 0
    resumable: bool = True
    events: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


class _Compressor:
    """Transport compression of one gateway connection: one stream, flushed after each message
    (what discord.py decompresses). zstd-stream only where discord.py could ask for it."""

    def __init__(self, kind: str) -> None:
        self.compress: Callable[[bytes], bytes]
        if kind == "zlib-stream":
            stream = zlib.compressobj()
            self.compress = lambda data: stream.compress(data) + stream.flush(zlib.Z_SYNC_FLUSH)
            return
        if kind != "zstd-stream":
            raise ValueError(kind)
        try:
            from compression import zstd  # type: ignore[import-not-found]  # Python 3.14+

            compressor = zstd.ZstdCompressor()
            self.compress = lambda data: compressor.compress(
                data, mode=zstd.ZstdCompressor.FLUSH_BLOCK
            )
        except ImportError:
            import zstandard  # type: ignore[import-not-found]

            zstream = zstandard.ZstdCompressor().compressobj()
            self.compress = lambda data: (
                zstream.compress(data) + zstream.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
            )


@dataclass
class GatewayConnection:
    """One WebSocket connection to the fake gateway."""

    ws: web.WebSocketResponse
    path: str
    query: dict[str, str]
    compressor: _Compressor | None
    session: GatewaySession | None = None
    live: bool = False  # READY or RESUMED sent: events may flow
    resumed: bool = False
    close_code: int | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def send(self, payload: dict[str, Any]) -> None:
        text = json.dumps(payload)
        async with self.lock:
            if self.compressor is not None:
                await self.ws.send_bytes(self.compressor.compress(text.encode()))
            else:
                await self.ws.send_str(text)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def _snowflake_id(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise form_error(
            ["id"], "NUMBER_TYPE_COERCE", f"Value {value!r} is not snowflake."
        ) from None


def _json(status: int, body: Any, headers: Mapping[str, str] | None = None) -> web.Response:
    # Exactly "application/json": with "; charset=utf-8" discord.py reads the body as text.
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        headers={**(headers or {}), "Content-Type": "application/json"},
    )


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true", "yes")


def _pings_everyone(body: Mapping[str, Any]) -> bool:
    """Whether a new message from the bot in a server channel notifies everyone there:
    "@everyone" or "@here" in its content, unless ``allowed_mentions`` leaves
    "everyone" out of ``parse`` (without ``allowed_mentions`` Discord parses all
    mentions; the fake's bot holds the Mention Everyone permission)."""
    content = str(body.get("content") or "")
    if "@everyone" not in content and "@here" not in content:
        return False
    allowed = body.get("allowed_mentions")
    if not isinstance(allowed, Mapping):
        return True
    return "everyone" in (allowed.get("parse") or [])


def _walk_components(components: Sequence[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    for _, component in _walk_paths(components):
        yield component


def _walk_paths(
    components: Sequence[Mapping[str, Any]], path: tuple[str | int, ...] = ("components",)
) -> Iterator[tuple[tuple[str | int, ...], Mapping[str, Any]]]:
    """Every component, nested ones too, with its path in the body (as Discord names
    the field in an "Invalid Form Body" error: ``components.0.components.1``)."""
    for index, component in enumerate(components):
        here = (*path, index)
        yield here, component
        yield from _walk_paths(component.get("components") or [], (*here, "components"))
        if isinstance(component.get("component"), Mapping):  # label (18)
            yield (*here, "component"), component["component"]
            yield from _walk_paths(
                component["component"].get("components") or [], (*here, "component", "components")
            )
        if isinstance(component.get("accessory"), Mapping):  # section (9)
            yield (*here, "accessory"), component["accessory"]


class FakeDiscord:
    """A fake Discord on 127.0.0.1; see the module docstring.

    ``token``: when given, other tokens get 401 on REST and close code 4004 on
    IDENTIFY; by default any token is accepted. ``channels``: names of the
    guild's text channels (ids in :attr:`channels`). ``answer_within``: seconds
    an interaction's first response has to arrive (Discord's 3; shorter keeps
    a test of it fast).
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        bot_id: int = BOT_ID,
        bot_name: str = BOT_NAME,
        application_id: int | None = None,
        guild_id: int = GUILD_ID,
        guild_name: str = GUILD_NAME,
        channels: Sequence[str] = tuple(CHANNELS),
        heartbeat_interval: int = 41_250,
        patch_discord: bool = True,
        answer_within: float = ANSWER_WITHIN,
    ) -> None:
        if not answer_within > 0:
            raise ValueError("answer_within must be a positive number of seconds")
        self.token = token
        self.answer_within = answer_within
        self.application_id = application_id or bot_id
        self.bot_user: dict[str, Any] = {
            "id": str(bot_id),
            "username": bot_name,
            "global_name": None,
            "discriminator": "0",
            "avatar": None,
            "bot": True,
            "public_flags": 0,
            "flags": 0,
            "verified": True,
            "mfa_enabled": False,
            "email": None,
        }
        self.bot_id = bot_id
        self.guild_id = guild_id
        self.guild_name = guild_name
        self.heartbeat_interval = heartbeat_interval
        self.patch_discord = patch_discord
        self.port: int | None = None

        self.users: dict[int, dict[str, Any]] = {}
        self.members: dict[int, dict[str, Any]] = {}  # guild members by user id (bot included)
        self.roles: dict[int, dict[str, Any]] = {}
        self.channels: dict[str, int] = {}  # guild text channels: name -> id
        self._channels: dict[int, dict[str, Any]] = {}  # every channel (guild and DM) by id
        self._dm_channels: dict[int, int] = {}  # user id -> DM channel id
        self._locales: dict[int, str] = {}
        self._permissions: dict[int, int] = {}
        self._messages: dict[int, dict[str, Any]] = {}
        self._channel_messages: dict[int, list[int]] = {}
        self._files: dict[int, UploadedFile] = {}
        self._refused: dict[int, bool] = {}  # user id -> also refuse creating the DM channel
        self._failures: deque[_Failure] = deque()
        self._delays: deque[_Delay] = deque()

        self.requests: list[RecordedRequest] = []
        self.interactions: dict[int, InteractionRecord] = {}
        self._by_token: dict[str, InteractionRecord] = {}
        self._expiries: list[asyncio.TimerHandle] = []
        self.sync_count = 0
        self._commands: dict[int | None, list[dict[str, Any]]] = {}

        self.sessions: dict[str, GatewaySession] = {}
        self.connections: list[GatewayConnection] = []
        self.gateway_received: list[dict[str, Any]] = []
        self.identify_count = 0
        self.resume_count = 0

        self._last_snowflake = 0
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._patch_stack = contextlib.ExitStack()

        self.roles[guild_id] = self._role(guild_id, "@everyone", DEFAULT_PERMISSIONS, 0)
        for name in channels:
            self.add_channel(name)
        self.members[bot_id] = self._member(self.bot_user)

        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Any]]] = [
            (method, re.compile(pattern), handler)
            for method, pattern, handler in [
                ("GET", r"/users/@me", self._get_me),
                ("GET", r"/oauth2/applications/@me", self._get_application),
                ("GET", r"/applications/@me", self._get_application),
                ("GET", r"/gateway", self._get_gateway),
                ("GET", r"/gateway/bot", self._get_gateway_bot),
                ("POST", r"/users/@me/channels", self._create_dm),
                ("GET", r"/users/(?P<user_id>\d+)", self._get_user),
                ("GET", r"/channels/(?P<channel_id>\d+)", self._get_channel),
                ("POST", r"/channels/(?P<channel_id>\d+)/typing", self._no_content),
                ("GET", r"/channels/(?P<channel_id>\d+)/messages", self._list_messages),
                ("POST", r"/channels/(?P<channel_id>\d+)/messages", self._create_message),
                (
                    "GET",
                    r"/channels/(?P<channel_id>\d+)/messages/(?P<message_id>\d+)",
                    self._get_message,
                ),
                (
                    "PATCH",
                    r"/channels/(?P<channel_id>\d+)/messages/(?P<message_id>\d+)",
                    self._edit_message,
                ),
                (
                    "DELETE",
                    r"/channels/(?P<channel_id>\d+)/messages/(?P<message_id>\d+)",
                    self._delete_message,
                ),
                (
                    "POST",
                    r"/interactions/(?P<interaction_id>\d+)/(?P<token>[^/]+)/callback",
                    self._interaction_callback,
                ),
                ("POST", r"/webhooks/(?P<app_id>\d+)/(?P<token>[^/]+)", self._create_followup),
                (
                    "GET",
                    r"/webhooks/(?P<app_id>\d+)/(?P<token>[^/]+)/messages/(?P<message_id>\d+|@original)",
                    self._get_webhook_message,
                ),
                (
                    "PATCH",
                    r"/webhooks/(?P<app_id>\d+)/(?P<token>[^/]+)/messages/(?P<message_id>\d+|@original)",
                    self._edit_webhook_message,
                ),
                (
                    "DELETE",
                    r"/webhooks/(?P<app_id>\d+)/(?P<token>[^/]+)/messages/(?P<message_id>\d+|@original)",
                    self._delete_webhook_message,
                ),
                ("GET", r"/applications/(?P<app_id>\d+)/commands", self._get_commands),
                ("PUT", r"/applications/(?P<app_id>\d+)/commands", self._put_commands),
                (
                    "GET",
                    r"/applications/(?P<app_id>\d+)/guilds/(?P<guild_id>\d+)/commands",
                    self._get_commands,
                ),
                (
                    "PUT",
                    r"/applications/(?P<app_id>\d+)/guilds/(?P<guild_id>\d+)/commands",
                    self._put_commands,
                ),
                ("GET", r"/guilds/(?P<guild_id>\d+)", self._get_guild),
                ("GET", r"/guilds/(?P<guild_id>\d+)/channels", self._get_guild_channels),
                ("GET", r"/guilds/(?P<guild_id>\d+)/members/(?P<user_id>\d+)", self._get_member),
            ]
        ]

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("FakeDiscord is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        """For ``discord.http.Route.BASE``."""
        return f"{self.url}/api/v10"

    @property
    def gateway_url(self) -> str:
        """For ``DiscordWebSocket.DEFAULT_GATEWAY`` (discord.py appends ``?v=10&encoding=json&compress=zlib-stream``)."""
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def resume_gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/resume-gateway"

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("FakeDiscord is already started")
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/resume-gateway", self._gateway)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._download)
        app.router.add_route("*", "/api/v10/{path:.*}", self._handle)
        self._runner, self.port = await serve_locally(app, shutdown_timeout=1.0)

    async def stop(self) -> None:
        """Close gateway connections (code 1001) and stop serving."""
        for expiry in self._expiries:
            expiry.cancel()
        self._expiries.clear()
        if self._runner is None:
            return
        for conn in self.connections:
            conn.live = False
            if not conn.ws.closed:
                with contextlib.suppress(Exception):
                    await conn.ws.close(code=1001)
        runner, self._runner = self._runner, None
        await runner.cleanup()

    @contextlib.contextmanager
    def patched(self) -> Iterator[Self]:
        """Point discord.py at this fake (REST base and default gateway), restored on exit."""
        from discord.gateway import DiscordWebSocket
        from discord.http import Route

        old_base, old_gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
        Route.BASE = self.api_base
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        try:
            yield self
        finally:
            Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = old_base, old_gateway

    async def __aenter__(self) -> Self:
        await self.start()
        if self.patch_discord:
            self._patch_stack.enter_context(self.patched())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._patch_stack.close()
        await self.stop()

    @contextlib.asynccontextmanager
    async def running(
        self,
        client: discord.Client,
        token: str = TOKEN,
        *,
        timeout: float = PATIENCE,  # noqa: ASYNC109
    ) -> AsyncIterator[discord.Client]:
        """Run ``client.start(token)`` until on_ready, yield, then close it and await its task.

        A login or gateway error fails at once instead of timing out. Build the
        client with ``guild_ready_timeout=0.05`` or on_ready waits 2 seconds.
        """
        task = asyncio.create_task(client.start(token), name="fake-discord-client")
        try:
            async with asyncio.timeout(timeout):
                while not client.is_ready():
                    if task.done():
                        task.result()
                        raise AssertionError("the client stopped before it was ready")
                    await asyncio.sleep(0.005)
        except TimeoutError:
            await client.close()
            await asyncio.gather(task, return_exceptions=True)
            raise AssertionError(f"the client was not ready after {timeout}s") from None
        except BaseException:
            await client.close()
            await asyncio.gather(task, return_exceptions=True)
            raise
        failed = False
        try:
            yield client
        except BaseException:
            failed = True
            raise
        finally:
            await client.close()
            async with asyncio.timeout(timeout):
                (outcome,) = await asyncio.gather(task, return_exceptions=True)
            if isinstance(outcome, BaseException) and not failed:
                raise outcome

    # ------------------------------------------------------------------ the world

    def _snowflake(self) -> int:
        candidate = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last_snowflake = max(candidate, self._last_snowflake + 1)
        return self._last_snowflake

    def user(
        self,
        id: int,
        name: str,
        *,
        global_name: str | None = None,
        locale: str = "en-US",
        member: bool = True,
        permissions: int | None = None,
        bot: bool = False,
    ) -> dict[str, Any]:
        """Register a user (a guild member unless ``member=False``); returns the user object.

        ``locale`` is sent with their interactions; ``permissions`` (default
        :data:`DEFAULT_PERMISSIONS`; :data:`ALL_PERMISSIONS` for an admin) is the
        member's ``permissions`` in guild interactions.
        """
        user = {
            "id": str(id),
            "username": name,
            "global_name": global_name,
            "discriminator": "0",
            "avatar": None,
            "bot": bot,
            "public_flags": 0,
        }
        self.users[id] = user
        self._locales[id] = locale
        if permissions is not None:
            self._permissions[id] = permissions
        if member:
            self.members[id] = self._member(user)
        return user

    def add_channel(self, name: str, *, type: int = 0) -> dict[str, Any]:
        """Add a guild channel (text by default); before the bot connects, or it won't know it."""
        channel_id = CHANNELS.get(name) if self.guild_id == GUILD_ID else None
        if channel_id is None or channel_id in self._channels:
            channel_id = self._snowflake()
        channel = {
            "id": str(channel_id),
            "type": type,
            "guild_id": str(self.guild_id),
            "name": name,
            "position": len(self.channels),
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }
        self.channels[name] = channel_id
        self._channels[channel_id] = channel
        self._channel_messages[channel_id] = []
        return channel

    def _role(self, id: int, name: str, permissions: int, position: int) -> dict[str, Any]:
        return {
            "id": str(id),
            "name": name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": position,
            "permissions": str(permissions),
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }

    def _member(self, user: dict[str, Any]) -> dict[str, Any]:
        return {
            "user": user,
            "nick": None,
            "avatar": None,
            "roles": [],
            "joined_at": "2026-01-01T00:00:00+00:00",
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }

    def guild_payload(self) -> dict[str, Any]:
        """The guild as GUILD_CREATE carries it (members: only the bot, as without presences)."""
        return {
            "id": str(self.guild_id),
            "name": self.guild_name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": str(self.bot_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 1,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "roles": list(self.roles.values()),
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "joined_at": "2026-01-01T00:00:00+00:00",
            "large": False,
            "unavailable": False,
            "member_count": len(self.members),
            "voice_states": [],
            "members": [self.members[self.bot_id]],
            "channels": [
                {k: v for k, v in self._channels[cid].items() if k != "guild_id"}
                for cid in self.channels.values()
            ],
            "threads": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def application_payload(self) -> dict[str, Any]:
        return {
            "id": str(self.application_id),
            "name": self.bot_user["username"],
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "hook": True,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": 0,
            "owner": {
                "id": "1",
                "username": "owner",
                "global_name": None,
                "discriminator": "0",
                "avatar": None,
                "public_flags": 0,
            },
            "team": None,
            "bot": self.bot_user,
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "approximate_guild_count": 1,
        }

    def dm_channel_id(self, user_id: int) -> int | None:
        """The DM channel between the bot and ``user_id``, if it exists yet."""
        return self._dm_channels.get(user_id)

    def _dm_channel(self, user_id: int) -> dict[str, Any]:
        channel_id = self._dm_channels.get(user_id)
        if channel_id is None:
            channel_id = self._snowflake()
            self._dm_channels[user_id] = channel_id
            self._channels[channel_id] = {
                "id": str(channel_id),
                "type": 1,
                "last_message_id": None,
                "flags": 0,
                "recipients": [self.users[user_id]],
            }
            self._channel_messages[channel_id] = []
        return self._channels[channel_id]

    def _user_id(self, user: UserLike) -> int:
        if isinstance(user, Mapping):
            user_id = int(user["id"])
            if user_id not in self.users:
                self.user(user_id, str(user.get("username", f"user{user_id}")))
            return user_id
        if user not in self.users:
            raise KeyError(f"unknown user {user}: register it with FakeDiscord.user() first")
        return user

    # ------------------------------------------------------------------ inspection

    def message(self, message_id: int) -> dict[str, Any]:
        """A message as Discord holds it now (after edits)."""
        return copy.deepcopy(self._messages[message_id])

    def channel_messages(self, channel_id: int) -> list[dict[str, Any]]:
        """Every message in a channel (any author, interaction responses too), oldest first."""
        return [
            copy.deepcopy(self._messages[mid]) for mid in self._channel_messages.get(channel_id, [])
        ]

    def messages_to(self, user_id: int, *, ephemeral: bool = False) -> list[dict[str, Any]]:
        """The bot's messages in its DM channel with ``user_id`` (interaction answers included),
        oldest first; with ``ephemeral=True`` also ephemeral answers to them in guild channels."""
        found: list[dict[str, Any]] = []
        dm = self._dm_channels.get(user_id)
        for mid in sorted(self._messages):
            message = self._messages[mid]
            if message["author"]["id"] != str(self.bot_id):
                continue
            in_dm = dm is not None and message["channel_id"] == str(dm)
            meta = message.get("interaction_metadata") or {}
            own_ephemeral = (
                ephemeral
                and message.get("flags", 0) & EPHEMERAL
                and meta.get("user", {}).get("id") == str(user_id)
            )
            if in_dm or own_ephemeral:
                found.append(copy.deepcopy(message))
        return found

    def attachment_bytes(self, attachment: Mapping[str, Any] | int) -> bytes:
        """The content of an attachment (an attachment object from a message, or its id)."""
        key = int(attachment["id"]) if isinstance(attachment, Mapping) else attachment
        return self._files[key].content

    def registered_commands(self, guild_id: int | None = None) -> list[dict[str, Any]]:
        """Application commands as last bulk-overwritten (global, or for ``guild_id``)."""
        return copy.deepcopy(self._commands.get(guild_id, []))

    def requests_to(self, pattern: str, method: str | None = None) -> list[RecordedRequest]:
        """Recorded requests whose path matches a glob (``/channels/*/messages``); ``*`` spans ``/``."""
        return [
            request
            for request in self.requests
            if fnmatch.fnmatchcase(request.path, pattern)
            and (method is None or request.method == method.upper())
        ]

    def interaction(self, interaction: InteractionRecord | int) -> InteractionRecord:
        return self.interactions[
            interaction.id if isinstance(interaction, InteractionRecord) else interaction
        ]

    def original(self, interaction: InteractionRecord | int) -> dict[str, Any] | None:
        """The interaction's @original message now (None before a message answer)."""
        record = self.interaction(interaction)
        if record.original_id is None or record.original_id not in self._messages:
            return None
        return self.message(record.original_id)

    def followups(self, interaction: InteractionRecord | int) -> list[dict[str, Any]]:
        """The interaction's follow-up messages now (one that filled a deferral included)."""
        record = self.interaction(interaction)
        return [self.message(mid) for mid in record.followup_ids if mid in self._messages]

    @property
    def connected(self) -> bool:
        """Whether a client has a live gateway session (READY or RESUMED sent)."""
        return self._live() is not None

    def clear(self) -> None:
        """Forget recorded requests (messages, interactions and the rest stay)."""
        self.requests.clear()

    # ------------------------------------------------------------------ waiting

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_until(
        self,
        predicate: Callable[[], Any],
        timeout: float = PATIENCE,  # noqa: ASYNC109
        what: str = "a condition",
    ) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked on every request and gateway
        frame); returns its value."""
        try:
            async with asyncio.timeout(timeout):
                while not (value := predicate()):
                    await self._changed.wait()
        except TimeoutError:
            recent = [f"{r.method} {r.path} -> {r.status}" for r in self.requests[-8:]]
            raise AssertionError(
                f"waited {timeout}s for {what}; recent requests: {recent}"
            ) from None
        return value

    async def wait_response(
        self,
        interaction: InteractionRecord | int,
        timeout: float = PATIENCE,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """The interaction callback the bot posted: ``{"type": 4, "data": {...}}``.

        Fails at once (AssertionError with Discord's error body) if the fake
        refused the bot's callback, e.g. for an invalid component."""
        record = self.interaction(interaction)

        def answered() -> bool:
            if record.callback is not None:
                return True
            for request in self.requests_to(f"/interactions/{record.id}/*/callback"):
                if (
                    request.status is not None
                    and 400 <= request.status < 500
                    and request.status != 429
                ):
                    raise AssertionError(
                        f"the bot's response to interaction {record.id} was refused: "
                        f"{request.status} {request.response}"
                    )
            return False

        await self.wait_until(answered, timeout, f"a response to interaction {record.id}")
        assert record.callback is not None
        return record.callback

    async def wait_followups(
        self,
        interaction: InteractionRecord | int,
        count: int = 1,
        timeout: float = PATIENCE,  # noqa: ASYNC109
    ) -> list[dict[str, Any]]:
        """Wait for ``count`` follow-up messages; returns them all (current state)."""
        record = self.interaction(interaction)
        await self.wait_until(
            lambda: len(record.followup_ids) >= count,
            timeout,
            f"{count} follow-up(s) to interaction {record.id}",
        )
        return self.followups(record)

    async def wait_request(
        self,
        pattern: str,
        method: str | None = None,
        count: int = 1,
        timeout: float = PATIENCE,  # noqa: ASYNC109
    ) -> list[RecordedRequest]:
        """Wait until ``count`` answered requests match (see :meth:`requests_to`)."""

        def answered() -> list[RecordedRequest] | None:
            found = [r for r in self.requests_to(pattern, method) if r.status is not None]
            return found if len(found) >= count else None

        return await self.wait_until(answered, timeout, f"{count} {method or ''} {pattern}")

    async def wait_messages(
        self,
        *,
        channel_id: int | None = None,
        user_id: int | None = None,
        count: int = 1,
        timeout: float = PATIENCE,  # noqa: ASYNC109
    ) -> list[dict[str, Any]]:
        """Wait for ``count`` messages in a channel, or the bot's DMs to a user."""
        if (channel_id is None) == (user_id is None):
            raise TypeError("give channel_id or user_id")

        def found() -> list[dict[str, Any]] | None:
            if user_id is not None:
                messages = self.messages_to(user_id)
            else:
                messages = self.channel_messages(channel_id)  # type: ignore[arg-type]
            return messages if len(messages) >= count else None

        return await self.wait_until(found, timeout, f"{count} message(s)")

    async def wait_connected(self, timeout: float = PATIENCE) -> GatewayConnection:  # noqa: ASYNC109
        return await self.wait_until(self._live, timeout, "a live gateway session")

    # ------------------------------------------------------------------ faults

    def fail_next(
        self,
        pattern: str,
        status: int = 429,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        *,
        method: str | None = None,
        retry_after: float = 0.05,
        times: int = 1,
        dm_to: int | None = None,
    ) -> None:
        """Fail the next ``times`` requests whose path matches the glob ``pattern``
        (with ``dm_to``: only those to that user's DM channel, ``/channels/<dm>...``).

        429 gets ``{"message": "You are being rate limited.", "retry_after": ...,
        "global": false}`` with ``Retry-After``, ``X-RateLimit-*`` and ``Via``
        headers (discord.py treats a 429 without ``Via`` as a Cloudflare ban and
        does not retry). Other statuses get ``{"message", "code"}``; ``body`` and
        ``headers`` override. discord.py retries 429 after ``retry_after`` and
        500/502/504 after 1 s, 3 s...; other errors raise at once.
        """
        extra: dict[str, str] = {}
        if status == 429:
            default: Any = {
                "message": "You are being rate limited.",
                "retry_after": retry_after,
                "global": False,
            }
            extra = {
                "Retry-After": str(max(1, round(retry_after + 0.5))),
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
                "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                "X-RateLimit-Bucket": secrets.token_hex(16),
                "X-RateLimit-Scope": "user",
                "Via": "1.1 google",
            }
        else:
            messages = {
                400: ("Invalid Form Body", 50035),
                401: ("401: Unauthorized", 0),
                403: ("Missing Permissions", 50013),
                404: ("404: Not Found", 0),
                500: ("500: Internal Server Error", 0),
                502: ("502: Bad Gateway", 0),
                503: ("503: Service Unavailable", 0),
            }
            message, code = messages.get(status, (f"{status}: Error", 0))
            default = {"message": message, "code": code}
        error = ApiError(
            status,
            "injected",
            headers={**extra, **(headers or {})},
            body=body if body is not None else default,
        )
        for _ in range(times):
            self._failures.append(_Failure(method and method.upper(), pattern, error, dm_to))

    def delay_next(
        self,
        pattern: str,
        seconds: float,
        *,
        method: str | None = None,
        times: int = 1,
        dm_to: int | None = None,
        processed: bool = True,
    ) -> None:
        """Hold back the answer to the next ``times`` requests matching ``pattern`` (and
        ``method``, and ``dm_to`` as in :meth:`fail_next`) by ``seconds``: longer than
        the client's timeout, the client gives up waiting.

        ``processed=True``: the request is carried out at once (a message is posted,
        the request recorded as answered, ``delayed`` set), only its answer is late,
        as when Discord accepted a message whose answer was lost on the way.
        ``processed=False``: nothing is done; after ``seconds`` the request is
        answered 504 (if the client is still there to hear it). A request that fails
        (an injected fault, a refusal) fails at once and leaves the delay for the next.
        """
        for _ in range(times):
            self._delays.append(
                _Delay(method and method.upper(), pattern, seconds, processed, dm_to)
            )

    def refuse_dms(self, user_id: int, *, on_create: bool = False) -> None:
        """Messages to ``user_id``'s DM channel get 403 ``{"message": "Cannot send messages to
        this user", "code": 50007}``; with ``on_create`` opening the DM channel fails so too."""
        self._refused[user_id] = on_create

    def allow_dms(self, user_id: int) -> None:
        self._refused.pop(user_id, None)

    # ------------------------------------------------------------------ gateway

    def _live(self) -> GatewayConnection | None:
        for conn in reversed(self.connections):
            if conn.live and not conn.ws.closed:
                return conn
        return None

    async def dispatch(
        self,
        event: str,
        data: dict[str, Any],
        timeout: float = PATIENCE,  # noqa: ASYNC109
    ) -> int:
        """Send a DISPATCH event (waiting for a live session first); returns its sequence number."""
        conn = await self.wait_connected(timeout)
        return await self._send_dispatch(conn, event, data)

    async def _send_dispatch(self, conn: GatewayConnection, event: str, data: Any) -> int:
        session = conn.session
        assert session is not None
        session.seq += 1
        payload = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.events.append((session.seq, payload))
        with contextlib.suppress(ConnectionError, RuntimeError):
            # A connection dropping now: the event is replayed when the client resumes.
            await conn.send(payload)
        self._notify()
        return session.seq

    async def disconnect(self, code: int = 4000, *, resumable: bool = True) -> None:
        """Drop the gateway connection with close ``code``. discord.py reconnects and RESUMEs
        (codes 4004 and 4010-4014 end it instead); with ``resumable=False`` the RESUME is
        answered with INVALID_SESSION and the client IDENTIFYs afresh."""
        conn = self._live()
        if conn is None:
            raise AssertionError("no live gateway connection to drop")
        conn.live = False
        if conn.session is not None:
            conn.session.resumable = resumable
        self._notify()
        await conn.ws.close(code=code)

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT: the client closes and resumes."""
        conn = await self.wait_connected()
        conn.live = False
        await conn.send({"op": 7, "d": None, "s": None, "t": None})

    async def invalidate_session(self, resumable: bool = False) -> None:
        """Send op 9 INVALID_SESSION: the client identifies afresh (or resumes if ``resumable``)."""
        conn = await self.wait_connected()
        conn.live = False
        if conn.session is not None:
            conn.session.resumable = resumable
        await conn.send({"op": 9, "d": resumable, "s": None, "t": None})

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        query = dict(request.query)
        compress = query.get("compress")
        supported = query.get("encoding", "json") == "json"  # not ETF
        try:
            compressor = None if compress is None else _Compressor(compress)
        except (ValueError, ImportError):
            compressor, supported = None, False
        conn = GatewayConnection(ws=ws, path=request.path, query=query, compressor=compressor)
        self.connections.append(conn)
        self._notify()
        if not supported:
            await ws.close(code=4002, message=b"Decode error")
            return ws
        await conn.send(
            {"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval}, "s": None, "t": None}
        )
        try:
            async for msg in ws:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    await self._gateway_frame(conn, json.loads(msg.data))
                elif msg.type is aiohttp.WSMsgType.BINARY:
                    await ws.close(code=4002, message=b"Decode error")
        finally:
            conn.live = False
            conn.close_code = ws.close_code
            self._notify()
        return ws

    async def _gateway_frame(self, conn: GatewayConnection, frame: dict[str, Any]) -> None:
        self.gateway_received.append(frame)
        self._notify()
        op, data = frame.get("op"), frame.get("d")
        if op == 1:
            await conn.send({"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:
            await self._identify(conn, data or {})
        elif op == 6:
            await self._resume(conn, data or {})
        elif conn.session is None:
            await conn.ws.close(code=4003, message=b"Not authenticated.")
        elif op == 8:
            await self._request_members(conn, data or {})
        elif op in (3, 4):
            pass  # presence and voice state updates: recorded only
        else:
            await conn.ws.close(code=4001, message=b"Unknown opcode.")

    async def _identify(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        if conn.session is not None:
            await conn.ws.close(code=4005, message=b"Already authenticated.")
            return
        if self.token is not None and data.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        session = GatewaySession(id=secrets.token_hex(16), intents=int(data.get("intents") or 0))
        self.sessions[session.id] = session
        conn.session = session
        self.identify_count += 1
        ready: dict[str, Any] = {
            "v": 10,
            "user": self.bot_user,
            "user_settings": {},
            "guilds": [{"id": str(self.guild_id), "unavailable": True}],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.resume_gateway_url,
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "geo_ordered_rtc_regions": [],
            "application": {"id": str(self.application_id), "flags": 0},
            "_trace": ["fake-discord"],
        }
        if "shard" in data:
            ready["shard"] = data["shard"]
        await self._send_dispatch(conn, "READY", ready)
        if session.intents & GUILDS:
            await self._send_dispatch(conn, "GUILD_CREATE", self.guild_payload())
        conn.live = True
        self._notify()

    async def _resume(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        session = self.sessions.get(str(data.get("session_id")))
        token_ok = self.token is None or data.get("token") == self.token
        if session is None or not session.resumable or not token_ok:
            await conn.send({"op": 9, "d": False, "s": None, "t": None})
            return
        for old in self.connections:
            if old is not conn and old.session is session:
                old.live = False
                if not old.ws.closed:
                    await old.ws.close(code=4000)
        conn.session = session
        conn.resumed = True
        self.resume_count += 1
        seen = int(data.get("seq") or 0)
        for seq, payload in session.events:
            if seq > seen:
                await conn.send(payload)
        await self._send_dispatch(conn, "RESUMED", {"_trace": ["fake-discord"]})
        conn.live = True
        self._notify()

    async def _request_members(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        members = list(self.members.values())
        if data.get("user_ids"):
            wanted = {int(u) for u in data["user_ids"]}
            members = [m for m in members if int(m["user"]["id"]) in wanted]
        elif data.get("query"):
            members = [m for m in members if m["user"]["username"].startswith(data["query"])]
        if data.get("limit"):
            members = members[: int(data["limit"])]
        chunk: dict[str, Any] = {
            "guild_id": str(self.guild_id),
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        await self._send_dispatch(conn, "GUILD_MEMBERS_CHUNK", chunk)

    # ------------------------------------------------------------------ producing events

    async def user_message(
        self,
        user: UserLike,
        content: str,
        *,
        channel_id: int | None = None,
        mentions_bot: bool = False,
    ) -> dict[str, Any]:
        """A user writes a message (in their DM with the bot unless ``channel_id``).

        Stored, then sent as MESSAGE_CREATE if the client's intents ask for it;
        without the message content intent a guild message arrives with empty
        content unless it mentions the bot, as on Discord."""
        user_id = self._user_id(user)
        if channel_id is None:
            channel = self._dm_channel(user_id)
        else:
            channel = self._channels[channel_id]
        in_guild = "guild_id" in channel
        message = self._store_message(
            int(channel["id"]),
            {
                "content": f"<@{self.bot_id}> {content}" if mentions_bot else content,
                "mentions": [self.bot_user] if mentions_bot else [],
            },
            [],
            author=self.users[user_id],
        )
        conn = await self.wait_connected()
        intents = conn.session.intents if conn.session else 0
        if not intents & (GUILD_MESSAGES if in_guild else DIRECT_MESSAGES):
            return message
        event = copy.deepcopy(message)
        if in_guild:
            event["guild_id"] = str(self.guild_id)
            event["member"] = {k: v for k, v in self.members[user_id].items() if k != "user"}
            if not intents & MESSAGE_CONTENT and not mentions_bot:
                event.update(content="", embeds=[], attachments=[], components=[])
        await self._send_dispatch(conn, "MESSAGE_CREATE", event)
        return message

    async def slash(
        self,
        user: UserLike,
        name: str,
        options: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        *,
        guild: bool = True,
        channel_id: int | None = None,
        locale: str | None = None,
    ) -> InteractionRecord:
        """``user`` runs the slash command ``name`` ("group sub" for sub-commands).

        ``options``: a mapping name -> value (types taken from the synced
        command, else from the Python values; a user option takes a user id and
        gets ``resolved`` filled in), or raw option dicts sent as they are.
        In the guild (first channel unless ``channel_id``) or, with
        ``guild=False``, in the user's DM with the bot."""
        data = self._command_data(name, options, guild, focused=None)
        return await self._interact(
            APPLICATION_COMMAND, user, data, guild=guild, channel_id=channel_id, locale=locale
        )

    async def autocomplete(
        self,
        user: UserLike,
        name: str,
        options: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *,
        focused: str | None = None,
        guild: bool = True,
        channel_id: int | None = None,
        locale: str | None = None,
    ) -> InteractionRecord:
        """``user`` types into an option of ``name``: the ``focused`` option (default: the last
        one given), whose value is sent as a string, as Discord does."""
        if focused is None and isinstance(options, Mapping) and options:
            focused = list(options)[-1]
        data = self._command_data(name, options, guild, focused=focused)
        return await self._interact(
            AUTOCOMPLETE, user, data, guild=guild, channel_id=channel_id, locale=locale
        )

    async def click(
        self,
        user: UserLike,
        custom_id: str,
        *,
        message_id: int | None = None,
        channel_id: int | None = None,
        guild: bool | None = None,
        values: Sequence[str] | None = None,
        component_type: int | None = None,
        locale: str | None = None,
    ) -> InteractionRecord:
        """``user`` presses the button (or picks ``values`` in the select) ``custom_id``.

        The message is ``message_id``, else the newest message of the bot
        carrying that custom_id (in ``channel_id``; in the guild's channels with
        ``guild=True``, the user's DM with ``guild=False``, anywhere by default).
        If there is none, a bot message with just that component is made up (in
        ``channel_id``, else the first guild channel with ``guild=True``, else the
        user's DM): discord.py needs the message to dispatch dynamic items."""
        user_id = self._user_id(user)
        message = self._find_component_message(user_id, custom_id, message_id, channel_id, guild)
        if message is None:
            if channel_id is None:
                channel_id = (
                    next(iter(self.channels.values()))
                    if guild
                    else int(self._dm_channel(user_id)["id"])
                )
            component: dict[str, Any]
            if values is None and component_type in (None, 2):
                component = {"type": 2, "style": 1, "label": custom_id, "custom_id": custom_id}
            else:
                component = {
                    "type": component_type or 3,
                    "custom_id": custom_id,
                    "options": [{"label": v, "value": v} for v in values or ()],
                    "min_values": 1,
                    "max_values": max(1, len(values or ())),
                }
            message = self._store_message(
                channel_id, {"content": "", "components": [{"type": 1, "components": [component]}]}
            )
            if message_id is not None:  # made up under the id the test named
                self._rekey_message(message, message_id)
        found = next(
            c for c in _walk_components(message["components"]) if c.get("custom_id") == custom_id
        )
        data: dict[str, Any] = {
            "custom_id": custom_id,
            "component_type": component_type or found["type"],
        }
        if "id" in found:
            data["id"] = found["id"]
        if values is not None or data["component_type"] in (3, 5, 6, 7, 8):
            data["values"] = list(values or ())
        channel = self._channels[int(message["channel_id"])]
        return await self._interact(
            MESSAGE_COMPONENT,
            user_id,
            data,
            guild="guild_id" in channel,
            channel_id=int(channel["id"]),
            locale=locale,
            message=message,
        )

    async def submit_modal(
        self,
        interaction: InteractionRecord | int,
        values: Mapping[str, str | Sequence[str]],
        *,
        locale: str | None = None,
    ) -> InteractionRecord:
        """The user fills in and submits the modal the bot answered ``interaction`` with
        (values by the inputs' custom_id; a list for a select)."""
        record = self.interaction(interaction)
        if record.response_type != MODAL:
            raise AssertionError(f"interaction {record.id} was not answered with a modal")
        modal = record.response_data

        def submitted(component: Mapping[str, Any]) -> dict[str, Any]:
            kind = component["type"]
            if kind == 1:
                return {"type": 1, "components": [submitted(c) for c in component["components"]]}
            if kind == 18:
                return {"type": 18, "component": submitted(component["component"])}
            out = {"type": kind, "custom_id": component.get("custom_id")}
            value = values.get(component.get("custom_id", ""), component.get("value", ""))
            if isinstance(value, str):
                out["value"] = value
            else:
                out["values"] = list(value)
            return out

        data = {
            "custom_id": modal["custom_id"],
            "components": [submitted(c) for c in modal.get("components", [])],
        }
        message = record.payload.get("message")
        return await self._interact(
            MODAL_SUBMIT,
            record.user_id,
            data,
            guild=record.guild_id is not None,
            channel_id=record.channel_id,
            locale=locale,
            message=self._messages.get(int(message["id"])) if message else None,
        )

    def _find_component_message(
        self,
        user_id: int,
        custom_id: str,
        message_id: int | None,
        channel_id: int | None,
        guild: bool | None,
    ) -> dict[str, Any] | None:
        if message_id is not None:
            message = self._messages.get(message_id)
            if message is not None and not any(
                c.get("custom_id") == custom_id for c in _walk_components(message["components"])
            ):
                raise ValueError(
                    f"message {message_id} has no component with custom_id {custom_id!r}"
                )
            return message
        if channel_id is not None:
            channels = [channel_id]
        elif guild is False:
            dm = self._dm_channels.get(user_id)
            channels = [] if dm is None else [dm]
        elif guild is True:
            channels = list(self.channels.values())
        else:
            channels = list(self._channel_messages)
        candidates = [
            mid
            for cid in channels
            for mid in self._channel_messages.get(cid, [])
            if self._messages[mid]["author"]["id"] == str(self.bot_id)
            and any(
                c.get("custom_id") == custom_id
                for c in _walk_components(self._messages[mid]["components"])
            )
        ]
        return self._messages[max(candidates)] if candidates else None

    def _find_command(self, name: str, guild: bool) -> tuple[dict[str, Any] | None, bool]:
        """The synced command called ``name``: (definition, is a guild command)."""
        if guild:
            for command in self._commands.get(self.guild_id, []):
                if command["name"] == name and command.get("type", 1) == 1:
                    return command, True
        for command in self._commands.get(None, []):
            if command["name"] == name and command.get("type", 1) == 1:
                return command, False
        return None, False

    def _command_data(
        self,
        name: str,
        options: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None,
        guild: bool,
        focused: str | None,
    ) -> dict[str, Any]:
        root, *path = name.split()
        command, is_guild = self._find_command(root, guild)
        data: dict[str, Any] = {
            "id": command["id"] if command else str(self._snowflake()),
            "name": root,
            "type": 1,
        }
        if is_guild:
            data["guild_id"] = str(self.guild_id)
        resolved: dict[str, dict[str, Any]] = {}
        definitions: list[dict[str, Any]] | None = command.get("options", []) if command else None
        # Sub-command groups and sub-commands: nested options of type 2 / 1.
        container = data
        for part in path:
            definition = next((o for o in definitions or [] if o["name"] == part), None)
            if definition is None and definitions is not None:
                raise ValueError(f"the synced command {root!r} has no sub-command {part!r}")
            kind = (
                definition["type"]
                if definition
                else (SUB_COMMAND_GROUP if part != path[-1] else SUB_COMMAND)
            )
            nested: dict[str, Any] = {"name": part, "type": kind, "options": []}
            container.setdefault("options", []).append(nested)
            container = nested
            definitions = definition.get("options", []) if definition else None
        values = self._option_values(options, definitions, guild, focused, resolved)
        if values or path:
            container["options"] = values
        if resolved:
            data["resolved"] = resolved
        return data

    def _option_values(
        self,
        options: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None,
        definitions: list[dict[str, Any]] | None,
        guild: bool,
        focused: str | None,
        resolved: dict[str, dict[str, Any]],
    ) -> list[dict[str, Any]]:
        if options is None:
            return []
        if not isinstance(options, Mapping):
            return [dict(o) for o in options]
        out: list[dict[str, Any]] = []
        for name, given in options.items():
            definition = next((o for o in definitions or [] if o["name"] == name), None)
            if definition is None and definitions is not None:
                raise ValueError(f"the synced command has no option {name!r}")
            kind = definition["type"] if definition else self._infer_type(given)
            option: dict[str, Any] = {"name": name, "type": kind}
            value: Any = given
            if name == focused:
                option["focused"] = True
                value = str(given)  # what the user has typed so far, whatever the type
            elif kind in (USER, MENTIONABLE, CHANNEL, ROLE):
                if isinstance(given, Mapping):
                    value = int(given["id"])
                self._resolve(kind, int(value), guild, resolved)
                value = str(value)
            elif kind == STRING:
                value = str(value)
            elif kind == INTEGER and not isinstance(value, bool):
                value = int(value)
            elif kind == NUMBER:
                value = float(value)
            option["value"] = value
            out.append(option)
        return out

    @staticmethod
    def _infer_type(value: Any) -> int:
        if isinstance(value, bool):
            return BOOLEAN
        if isinstance(value, int):
            return INTEGER
        if isinstance(value, float):
            return NUMBER
        if isinstance(value, Mapping) and "username" in value:
            return USER
        return STRING

    def _resolve(
        self, kind: int, snowflake: int, guild: bool, resolved: dict[str, dict[str, Any]]
    ) -> None:
        key = str(snowflake)
        if kind in (USER, MENTIONABLE) and snowflake in self.users:
            resolved.setdefault("users", {})[key] = self.users[snowflake]
            if guild and snowflake in self.members:
                member = {k: v for k, v in self.members[snowflake].items() if k != "user"}
                member["permissions"] = str(self._member_permissions(snowflake))
                resolved.setdefault("members", {})[key] = member
        elif kind in (ROLE, MENTIONABLE) and snowflake in self.roles:
            resolved.setdefault("roles", {})[key] = self.roles[snowflake]
        elif kind == CHANNEL and snowflake in self._channels:
            channel = self._channels[snowflake]
            resolved.setdefault("channels", {})[key] = {
                "id": key,
                "name": channel.get("name"),
                "type": channel["type"],
                "permissions": str(ALL_PERMISSIONS),
                "parent_id": channel.get("parent_id"),
            }

    def _member_permissions(self, user_id: int) -> int:
        if user_id in self._permissions:
            return self._permissions[user_id]
        return DEFAULT_PERMISSIONS

    async def _interact(
        self,
        type: int,
        user: UserLike,
        data: dict[str, Any],
        *,
        guild: bool,
        channel_id: int | None,
        locale: str | None,
        message: dict[str, Any] | None = None,
    ) -> InteractionRecord:
        user_id = self._user_id(user)
        interaction_id = self._snowflake()
        token = f"aW50ZXJhY3Rpb246{interaction_id}:{secrets.token_urlsafe(24)}"
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": type,
            "data": data,
            "token": token,
            "version": 1,
            "locale": locale or self._locales.get(user_id, "en-US"),
            "app_permissions": str(ALL_PERMISSIONS & ~(1 << 3)),
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        }
        if guild:
            if user_id not in self.members:
                raise ValueError(f"user {user_id} is not a member of the guild")
            channel = self._channels[channel_id or next(iter(self.channels.values()))]
            if "guild_id" not in channel:
                raise ValueError(f"channel {channel['id']} is not a guild channel")
            member = copy.deepcopy(self.members[user_id])
            member["permissions"] = str(self._member_permissions(user_id))
            payload.update(
                guild_id=str(self.guild_id),
                guild={"id": str(self.guild_id), "locale": "en-US", "features": []},
                guild_locale="en-US",
                member=member,
                context=0,
                authorizing_integration_owners={"0": str(self.guild_id)},
            )
        else:
            channel = self._dm_channel(user_id)
            payload.update(
                user=self.users[user_id],
                context=1,
                authorizing_integration_owners={"0": "0"},
            )
        payload["channel_id"] = channel["id"]
        payload["channel"] = copy.deepcopy(channel)
        if message is not None:
            payload["message"] = copy.deepcopy(message)
        record = InteractionRecord(
            id=interaction_id,
            token=token,
            type=type,
            payload=payload,
            user_id=user_id,
            channel_id=int(channel["id"]),
            guild_id=self.guild_id if guild else None,
            deadline=time.monotonic() + self.answer_within,
        )
        self.interactions[interaction_id] = record
        self._by_token[token] = record
        self._expiries.append(
            asyncio.get_running_loop().call_later(self.answer_within, self._expire, record)
        )
        await self.dispatch("INTERACTION_CREATE", payload)
        return record

    def _expire(self, record: InteractionRecord) -> None:
        """The time to answer ``record`` ran out: unanswered, the user sees it failed."""
        if record.callback is None:
            record.failed = True
        self._notify()

    # ------------------------------------------------------------------ messages

    def _check_message(
        self,
        body: Mapping[str, Any],
        files: Sequence[UploadedFile],
        *,
        creating: bool,
        at: tuple[str, ...] = (),
    ) -> None:
        """Discord's documented limits on a message: content of 2000 characters at most,
        10 embeds, 5 action rows of 5 buttons, custom_ids of 1-100 characters unique
        within the message... A breach is a 400 "Invalid Form Body" (50035) naming the
        field, under ``at`` (``("data",)`` in an interaction callback)."""
        content = body.get("content")
        if content is not None and len(str(content)) > 2000:
            raise form_error(
                [*at, "content"], "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length."
            )
        embeds = body.get("embeds") or []
        if len(embeds) > 10:
            raise form_error(
                [*at, "embeds"], "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length."
            )
        components = body.get("components") or []
        v2 = bool(int(body.get("flags") or 0) & COMPONENTS_V2)
        self._check_components(components, v2, at)
        if v2 and (content or embeds):
            raise form_error(
                [*at, "content"],
                "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
                "The 'content' and 'embeds' fields cannot be used when using MessageFlags.IS_COMPONENTS_V2",
            )
        if creating and not (
            content or embeds or files or components or body.get("sticker_ids") or body.get("poll")
        ):
            raise ApiError(400, "Cannot send an empty message", 50006)

    def _check_components(
        self, components: Sequence[Mapping[str, Any]], v2: bool, at: tuple[str, ...] = ()
    ) -> None:
        if not v2 and len(components) > 5:
            raise form_error(
                [*at, "components"], "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length."
            )
        seen: set[str] = set()
        for row_index, row in enumerate(components):
            if not v2 and row.get("type") != 1:
                raise form_error(
                    [*at, "components", row_index, "type"],
                    "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                    "Top-level components must be action rows without MessageFlags.IS_COMPONENTS_V2.",
                )
            children = row.get("components") or []
            if row.get("type") == 1 and len(children) > 5:
                raise form_error(
                    [*at, "components", row_index, "components"],
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 5 or fewer in length.",
                )
        for path, component in _walk_paths(components):
            where = [*at, *path]
            custom_id = component.get("custom_id")
            kind = component.get("type")
            if custom_id is not None:
                if not 1 <= len(custom_id) <= 100:
                    raise form_error(
                        [*where, "custom_id"],
                        "BASE_TYPE_BAD_LENGTH",
                        "Must be between 1 and 100 in length.",
                    )
                if custom_id in seen:
                    raise form_error(
                        [*where, "custom_id"],
                        "COMPONENT_CUSTOM_ID_DUPLICATED",
                        "Component custom id cannot be duplicated",
                    )
                seen.add(custom_id)
            if kind == 2:
                style = component.get("style")
                if style == 5 and not component.get("url"):
                    raise form_error(
                        [*where, "url"], "BASE_TYPE_REQUIRED", "This field is required"
                    )
                if style not in (5, 6) and custom_id is None:
                    raise form_error(
                        [*where, "custom_id"], "BASE_TYPE_REQUIRED", "This field is required"
                    )
                if len(component.get("label") or "") > 80:
                    raise form_error(
                        [*where, "label"],
                        "BASE_TYPE_MAX_LENGTH",
                        "Must be 80 or fewer in length.",
                    )
            if kind == 3 and not 1 <= len(component.get("options") or []) <= 25:
                raise form_error(
                    [*where, "options"],
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 25 in length.",
                )

    def _attachments(
        self,
        channel_id: int,
        declared: Sequence[Mapping[str, Any]] | None,
        files: Sequence[UploadedFile],
        existing: Sequence[dict[str, Any]],
    ) -> list[dict[str, Any]]:
        uploads: dict[int, UploadedFile] = {}
        for index, upload in enumerate(files):
            match = _FILE_FIELD.fullmatch(upload.field)
            uploads[int(match.group(1)) if match else index] = upload
        if declared is None:  # no "attachments" field: keep what there was, add the uploads
            return list(existing) + [
                self._new_attachment(channel_id, upload, {})
                for _, upload in sorted(uploads.items())
            ]
        kept = {str(a["id"]): a for a in existing}
        result: list[dict[str, Any]] = []
        used: set[int] = set()
        for position, item in enumerate(declared):
            key = str(item.get("id"))
            if key in kept:
                result.append(kept[key])
                continue
            index = int(key) if key.isdigit() else -1
            upload = uploads.get(index)
            if upload is None:
                raise form_error(
                    ["attachments", position, "id"], "ATTACHMENT_NOT_FOUND", "Unknown attachment."
                )
            used.add(index)
            result.append(self._new_attachment(channel_id, upload, item))
        for index, upload in sorted(uploads.items()):
            if index not in used:
                result.append(self._new_attachment(channel_id, upload, {}))
        return result

    def _new_attachment(
        self, channel_id: int, upload: UploadedFile, declared: Mapping[str, Any]
    ) -> dict[str, Any]:
        attachment_id = self._snowflake()
        filename = str(declared.get("filename") or upload.filename or f"file{attachment_id}")
        url = f"{self.url}/attachments/{channel_id}/{attachment_id}/{filename}"
        attachment = {
            "id": str(attachment_id),
            "filename": filename,
            "size": len(upload.content),
            "url": url,
            "proxy_url": url,
            "content_type": mimetypes.guess_type(filename)[0] or "application/octet-stream",
        }
        if declared.get("description"):
            attachment["description"] = declared["description"]
        self._files[attachment_id] = upload
        return attachment

    def _store_message(
        self,
        channel_id: int,
        body: Mapping[str, Any],
        files: Sequence[UploadedFile] = (),
        *,
        author: dict[str, Any] | None = None,
        interaction: InteractionRecord | None = None,
        flags: int | None = None,
    ) -> dict[str, Any]:
        message_id = self._snowflake()
        message: dict[str, Any] = {
            "id": str(message_id),
            "type": 0,
            "channel_id": str(channel_id),
            "author": author or self._public_bot(),
            "content": body.get("content") or "",
            "timestamp": _now(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts")),
            "mention_everyone": False,
            "mentions": list(body.get("mentions") or []),
            "mention_roles": [],
            "attachments": self._attachments(channel_id, body.get("attachments"), files, []),
            "embeds": list(body.get("embeds") or []),
            "components": list(body.get("components") or []),
            "pinned": False,
            "flags": int(body.get("flags") or 0) if flags is None else flags,
        }
        if body.get("nonce") is not None:
            message["nonce"] = body["nonce"]
        reference = body.get("message_reference")
        if reference and reference.get("message_id"):
            referenced = self._messages.get(int(reference["message_id"]))
            if referenced is None and reference.get("fail_if_not_exists", True):
                raise form_error(
                    ["message_reference"], "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message"
                )
            message["type"] = 19
            message["message_reference"] = {
                "type": 0,
                "message_id": str(reference["message_id"]),
                "channel_id": str(channel_id),
            }
            message["referenced_message"] = referenced
        channel = self._channels[channel_id]
        if author is None and "guild_id" in channel and not message["flags"] & EPHEMERAL:
            message["mention_everyone"] = _pings_everyone(body)
        if interaction is not None:
            message["webhook_id"] = str(self.application_id)
            message["application_id"] = str(self.application_id)
            if interaction.type == APPLICATION_COMMAND:
                message["type"] = 20
            message["interaction_metadata"] = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": self.users[interaction.user_id],
                "authorizing_integration_owners": interaction.payload[
                    "authorizing_integration_owners"
                ],
            }
        self._messages[message_id] = message
        self._channel_messages.setdefault(channel_id, []).append(message_id)
        self._channels[channel_id]["last_message_id"] = str(message_id)
        return message

    def _rekey_message(self, message: dict[str, Any], message_id: int) -> None:
        old = int(message["id"])
        channel_id = int(message["channel_id"])
        self._messages[message_id] = self._messages.pop(old)
        order = self._channel_messages[channel_id]
        order[order.index(old)] = message_id
        message["id"] = str(message_id)
        self._channels[channel_id]["last_message_id"] = str(message_id)

    def _public_bot(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in self.bot_user.items()
            if k not in ("email", "verified", "mfa_enabled", "flags")
        }

    def _apply_edit(
        self, message: dict[str, Any], body: Mapping[str, Any], files: Sequence[UploadedFile]
    ) -> dict[str, Any]:
        channel_id = int(message["channel_id"])
        for key in ("content", "embeds", "components"):
            if key in body:
                message[key] = (
                    body[key] if body[key] is not None else ("" if key == "content" else [])
                )
        if body.get("flags") is not None:  # ephemeral (and loading) are not for edits to change
            fixed = EPHEMERAL | LOADING
            message["flags"] = (message["flags"] & fixed) | (int(body["flags"]) & ~fixed)
        if "attachments" in body or files:
            message["attachments"] = self._attachments(
                channel_id, body.get("attachments"), files, message["attachments"]
            )
        message["edited_timestamp"] = _now()
        return message

    def _channel(self, channel_id: int) -> dict[str, Any]:
        channel = self._channels.get(channel_id)
        if channel is None:
            raise _unknown("Channel", 10003)
        return channel

    def _check_dm_allowed(self, channel: Mapping[str, Any]) -> None:
        if channel["type"] == 1:
            recipient = int(channel["recipients"][0]["id"])
            if recipient in self._refused:
                raise ApiError(403, "Cannot send messages to this user", 50007)

    # ------------------------------------------------------------------ HTTP

    async def _read_body(self, request: web.Request) -> tuple[Any, list[UploadedFile]]:
        if not request.body_exists:
            return None, []
        if request.content_type.startswith("multipart/"):
            payload: Any = None
            files: list[UploadedFile] = []
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
                    continue
                if part.name == "payload_json":
                    payload = json.loads(await part.text())
                else:
                    files.append(
                        UploadedFile(
                            field=part.name,
                            filename=part.filename,
                            content=bytes(await part.read()),
                            content_type=part.headers.get("Content-Type"),
                        )
                    )
            return payload, files
        raw = await request.read()
        if not raw:
            return None, []
        try:
            return json.loads(raw), []
        except ValueError:
            raise ApiError(400, "400: Bad Request", 50109) from None  # "invalid JSON"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        recorded = RecordedRequest(
            method=request.method,
            path=path,
            query=dict(request.query),
            json=None,
            files=[],
            headers=dict(request.headers),
        )
        self.requests.append(recorded)
        status, body, headers = 200, None, {}
        try:
            try:
                recorded.json, recorded.files = await self._read_body(request)
            finally:
                self._notify()
            self._check_auth(request, path)
            self._inject_failure(recorded)
            handler, params = self._route(request.method, path)
            delay = self._find_delay(recorded)
            if delay is not None and not delay.processed:
                self._delays.remove(delay)
                recorded.delayed = delay.seconds
                await asyncio.sleep(delay.seconds)  # the client has gone by now
                raise ApiError(504, "504: Gateway Timeout", 0)
            result = handler(recorded, **params)
            if isinstance(result, Awaitable):
                result = await result
            body = result
            status = 204 if body is None else 200
            if delay is not None and delay in self._delays:  # done; only the answer is late
                self._delays.remove(delay)
                recorded.delayed = delay.seconds
                recorded.status, recorded.response = status, body
                self._notify()
                await asyncio.sleep(delay.seconds)
        except ApiError as error:
            status, body, headers = error.status, error.body(), error.headers
        recorded.status, recorded.response = status, body
        self._notify()
        if status == 204:
            return web.Response(status=204)
        return _json(status, body, headers)

    def _check_auth(self, request: web.Request, path: str) -> None:
        if path.startswith(("/interactions/", "/webhooks/")) or self.token is None:
            return
        if request.headers.get("Authorization") != f"Bot {self.token}":
            raise ApiError(401, "401: Unauthorized", 0)

    def _matches(
        self, recorded: RecordedRequest, method: str | None, pattern: str, dm_to: int | None
    ) -> bool:
        if method is not None and method != recorded.method:
            return False
        if not fnmatch.fnmatchcase(recorded.path, pattern):
            return False
        if dm_to is None:
            return True
        dm = self._dm_channels.get(dm_to)
        return dm is not None and recorded.path.startswith(f"/channels/{dm}/")

    def _inject_failure(self, recorded: RecordedRequest) -> None:
        for failure in self._failures:
            if self._matches(recorded, failure.method, failure.pattern, failure.dm_to):
                self._failures.remove(failure)
                raise failure.error

    def _find_delay(self, recorded: RecordedRequest) -> _Delay | None:
        """The first delay for this request; it is used up only by a request that would
        have been answered at once (an injected or real error comes at once instead)."""
        for delay in self._delays:
            if self._matches(recorded, delay.method, delay.pattern, delay.dm_to):
                return delay
        return None

    def _route(self, method: str, path: str) -> tuple[Callable[..., Any], dict[str, str]]:
        allowed = False
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if route_method == method:
                return handler, match.groupdict()
            allowed = True
        if allowed:
            raise ApiError(405, "405: Method Not Allowed", 0)
        raise ApiError(404, "404: Not Found", 0)

    async def _download(self, request: web.Request) -> web.Response:
        upload = self._files.get(int(request.match_info["attachment_id"]))
        if upload is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=upload.content, content_type="application/octet-stream")

    # ------------------------------------------------------------------ REST handlers

    def _no_content(self, req: RecordedRequest, **_: str) -> None:
        return None

    def _get_me(self, req: RecordedRequest) -> dict[str, Any]:
        return self.bot_user

    def _get_application(self, req: RecordedRequest) -> dict[str, Any]:
        return self.application_payload()

    def _get_gateway(self, req: RecordedRequest) -> dict[str, Any]:
        return {"url": self.gateway_url}

    def _get_gateway_bot(self, req: RecordedRequest) -> dict[str, Any]:
        return {
            "url": self.gateway_url,
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 1000 - self.identify_count,
                "reset_after": 86_400_000,
                "max_concurrency": 1,
            },
        }

    def _get_user(self, req: RecordedRequest, user_id: str) -> dict[str, Any]:
        if int(user_id) == self.bot_id:
            return self._public_bot()
        user = self.users.get(int(user_id))
        if user is None:
            raise _unknown("User", 10013)
        return user

    def _create_dm(self, req: RecordedRequest) -> dict[str, Any]:
        body = req.json or {}
        try:
            user_id = int(body.get("recipient_id"))
        except (TypeError, ValueError):
            raise form_error(
                ["recipient_id"], "BASE_TYPE_REQUIRED", "This field is required"
            ) from None
        if user_id not in self.users:
            raise ApiError(400, "Invalid Recipient(s)", 50033)
        if self._refused.get(user_id):
            raise ApiError(403, "Cannot send messages to this user", 50007)
        return self._dm_channel(user_id)

    def _get_channel(self, req: RecordedRequest, channel_id: str) -> dict[str, Any]:
        return self._channel(int(channel_id))

    def _list_messages(self, req: RecordedRequest, channel_id: str) -> list[dict[str, Any]]:
        self._channel(int(channel_id))
        limit = int(req.query.get("limit", 50))
        return list(reversed(self.channel_messages(int(channel_id))))[:limit]

    def _create_message(self, req: RecordedRequest, channel_id: str) -> dict[str, Any]:
        channel = self._channel(int(channel_id))
        self._check_dm_allowed(channel)
        body = req.json or {}
        self._check_message(body, req.files, creating=True)
        flags = int(body.get("flags") or 0) & ~(EPHEMERAL | LOADING)
        return self._store_message(int(channel_id), body, req.files, flags=flags)

    def _message_in(self, channel_id: str, message_id: str) -> dict[str, Any]:
        self._channel(int(channel_id))
        message = self._messages.get(int(message_id))
        if message is None or message["channel_id"] != channel_id:
            raise _unknown("Message", 10008)
        return message

    def _get_message(
        self, req: RecordedRequest, channel_id: str, message_id: str
    ) -> dict[str, Any]:
        return self._message_in(channel_id, message_id)

    def _edit_message(
        self, req: RecordedRequest, channel_id: str, message_id: str
    ) -> dict[str, Any]:
        message = self._message_in(channel_id, message_id)
        if message["author"]["id"] != str(self.bot_id):
            raise ApiError(403, "Cannot edit a message authored by another user", 50005)
        body = req.json or {}
        self._check_message(body, req.files, creating=False)
        return self._apply_edit(message, body, req.files)

    def _delete_message(self, req: RecordedRequest, channel_id: str, message_id: str) -> None:
        self._message_in(channel_id, message_id)
        self._forget_message(int(message_id))

    def _forget_message(self, message_id: int) -> None:
        message = self._messages.pop(message_id)
        self._channel_messages[int(message["channel_id"])].remove(message_id)

    # -- interactions

    def _interaction_callback(
        self, req: RecordedRequest, interaction_id: str, token: str
    ) -> dict[str, Any] | None:
        record = self.interactions.get(int(interaction_id))
        if record is None or record.token != token:
            raise _unknown("interaction", 10062)
        if record.callback is not None:
            raise ApiError(400, "Interaction has already been acknowledged.", 40060)
        if time.monotonic() >= record.deadline:  # too late: Discord has dropped it
            record.failed = True
            raise _unknown("interaction", 10062)
        body = req.json or {}
        kind = body.get("type")
        if kind not in ALLOWED_CALLBACKS.get(record.type, frozenset()):
            raise form_error(
                ["type"],
                "INTERACTION_CALLBACK_TYPE_INVALID",
                f"Interaction callback type {kind} is not valid for interaction type {record.type}.",
            )
        data = body.get("data") or {}
        message: dict[str, Any] | None = None
        if kind == CHANNEL_MESSAGE:
            self._check_message(data, req.files, creating=True, at=("data",))
            flags = int(data.get("flags") or 0) & ~LOADING
            message = self._store_message(
                record.channel_id, data, req.files, interaction=record, flags=flags
            )
            record.original_id = int(message["id"])
        elif kind == DEFERRED_CHANNEL_MESSAGE:
            flags = LOADING | (int(data.get("flags") or 0) & EPHEMERAL)
            message = self._store_message(
                record.channel_id, {"content": ""}, interaction=record, flags=flags
            )
            record.original_id = int(message["id"])
        elif kind in (DEFERRED_UPDATE, UPDATE_MESSAGE):
            clicked = record.payload.get("message")
            if clicked is None:
                raise form_error(
                    ["type"], "INTERACTION_NO_MESSAGE", "This interaction has no message."
                )
            message = self._messages.get(int(clicked["id"]))
            if message is None:  # the message went: Discord has nothing to update
                raise _unknown("Message", 10008)
            record.original_id = int(message["id"])
            if kind == UPDATE_MESSAGE:
                self._check_message(data, req.files, creating=False, at=("data",))
                self._apply_edit(message, data, req.files)
        elif kind == AUTOCOMPLETE_RESULT:
            choices = data.get("choices") or []
            if len(choices) > 25:
                raise form_error(
                    ["data", "choices"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
                )
            for index, choice in enumerate(choices):
                if not 1 <= len(str(choice.get("name", ""))) <= 100:
                    raise form_error(
                        ["data", "choices", index, "name"],
                        "BASE_TYPE_BAD_LENGTH",
                        "Must be between 1 and 100 in length.",
                    )
        elif kind == MODAL:
            for key in ("custom_id", "title", "components"):
                if not data.get(key):
                    raise form_error(["data", key], "BASE_TYPE_REQUIRED", "This field is required")
        record.callback = body
        record.callback_files = list(req.files)
        if not _truthy(req.query.get("with_response")):
            return None
        interaction: dict[str, Any] = {"id": str(record.id), "type": record.type}
        response: dict[str, Any] = {"interaction": interaction}
        if message is not None:
            interaction.update(
                response_message_id=message["id"],
                response_message_loading=bool(message["flags"] & LOADING),
                response_message_ephemeral=bool(message["flags"] & EPHEMERAL),
            )
            response["resource"] = {"type": kind, "message": message}
        elif kind == MODAL:
            response["resource"] = {"type": kind}
        return response

    def _webhook_record(self, app_id: str, token: str) -> InteractionRecord:
        record = self._by_token.get(token)
        if record is None or int(app_id) != self.application_id:
            raise _unknown("Webhook", 10015)
        return record

    def _create_followup(
        self, req: RecordedRequest, app_id: str, token: str
    ) -> dict[str, Any] | None:
        record = self._webhook_record(app_id, token)
        if record.callback is None:
            raise _unknown("Webhook", 10015)  # no follow-ups before the interaction is answered
        body = req.json or {}
        self._check_message(body, req.files, creating=True)
        original = (
            self._messages.get(record.original_id) if record.original_id is not None else None
        )
        if original is not None and original["flags"] & LOADING:
            # The first follow-up after a deferral replaces the "thinking..." message.
            self._apply_edit(original, body, req.files)
            original["flags"] &= ~LOADING
            original["edited_timestamp"] = None
            channel = self._channels[record.channel_id]
            if "guild_id" in channel and not original["flags"] & EPHEMERAL:
                original["mention_everyone"] = _pings_everyone(body)  # sent as new, it notifies
            message = original
        else:
            flags = int(body.get("flags") or 0) & ~LOADING
            message = self._store_message(
                record.channel_id, body, req.files, interaction=record, flags=flags
            )
        record.followup_ids.append(int(message["id"]))
        return message if _truthy(req.query.get("wait")) else None

    def _webhook_message(self, record: InteractionRecord, message_id: str) -> dict[str, Any]:
        if message_id == "@original":
            mid = record.original_id
        else:
            mid = int(message_id)
            if mid != record.original_id and mid not in record.followup_ids:
                mid = None
        if mid is None or mid not in self._messages:
            raise _unknown("Message", 10008)
        return self._messages[mid]

    def _get_webhook_message(
        self, req: RecordedRequest, app_id: str, token: str, message_id: str
    ) -> dict[str, Any]:
        return self._webhook_message(self._webhook_record(app_id, token), message_id)

    def _edit_webhook_message(
        self, req: RecordedRequest, app_id: str, token: str, message_id: str
    ) -> dict[str, Any]:
        record = self._webhook_record(app_id, token)
        message = self._webhook_message(record, message_id)
        body = req.json or {}
        self._check_message(body, req.files, creating=False)
        if message_id == "@original" or int(message_id) == record.original_id:
            record.edits.append(body)
        self._apply_edit(message, body, req.files)
        message["flags"] &= ~LOADING
        return message

    def _delete_webhook_message(
        self, req: RecordedRequest, app_id: str, token: str, message_id: str
    ) -> None:
        record = self._webhook_record(app_id, token)
        message = self._webhook_message(record, message_id)
        self._forget_message(int(message["id"]))

    # -- application commands

    def _check_app(self, app_id: str) -> None:
        if int(app_id) != self.application_id:
            raise ApiError(403, "Missing Access", 50001)

    def _check_guild(self, guild_id: str | None) -> int | None:
        if guild_id is None:
            return None
        if int(guild_id) != self.guild_id:
            raise ApiError(403, "Missing Access", 50001)
        return int(guild_id)

    def _get_commands(
        self, req: RecordedRequest, app_id: str, guild_id: str | None = None
    ) -> list[dict[str, Any]]:
        self._check_app(app_id)
        return self._commands.get(self._check_guild(guild_id), [])

    def _put_commands(
        self, req: RecordedRequest, app_id: str, guild_id: str | None = None
    ) -> list[dict[str, Any]]:
        self._check_app(app_id)
        key = self._check_guild(guild_id)
        body = req.json
        if not isinstance(body, list):
            raise form_error([], "BASE_TYPE_ARRAY", "Must be an array.")
        if len(body) > 100:
            raise form_error([], "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
        previous = {(c["name"], c.get("type", 1)): c for c in self._commands.get(key, [])}
        seen: set[tuple[str, int]] = set()
        stored: list[dict[str, Any]] = []
        for index, command in enumerate(body):
            kind = int(command.get("type", 1))
            self._check_command(command, [index], chat_input=kind == 1)
            name_key = (command["name"], kind)
            if name_key in seen:
                raise form_error(
                    [index, "name"],
                    "APPLICATION_COMMANDS_DUPLICATE_NAME",
                    f"Application command names must be unique: {command['name']}",
                )
            seen.add(name_key)
            old = previous.get(name_key)
            entry = {
                "id": old["id"] if old else str(self._snowflake()),
                "application_id": str(self.application_id),
                "version": str(self._snowflake()),
                "type": kind,
                "name": command["name"],
                "name_localizations": command.get("name_localizations"),
                "description": command.get("description", ""),
                "description_localizations": command.get("description_localizations"),
                "default_member_permissions": command.get("default_member_permissions"),
                "dm_permission": command.get("dm_permission", True),
                "contexts": command.get("contexts"),
                "integration_types": command.get("integration_types", [0]),
                "nsfw": command.get("nsfw", False),
            }
            if command.get("options"):
                entry["options"] = command["options"]
            if key is not None:
                entry["guild_id"] = str(key)
            stored.append(entry)
        self._commands[key] = stored
        self.sync_count += 1
        return stored

    def _check_command(
        self, command: Mapping[str, Any], path: list[str | int], *, chat_input: bool = True
    ) -> None:
        """Discord's naming rules: chat-input names (and every option name) lowercase, 1-32
        word characters or dashes, descriptions 1-100 characters; at most 25 options and
        choices; required options first."""
        name = str(command.get("name", ""))
        if not _COMMAND_NAME.fullmatch(name) or (chat_input and name != name.lower()):
            raise form_error(
                [*path, "name"],
                "APPLICATION_COMMAND_INVALID_NAME",
                f"Command name is invalid: {name!r}",
            )
        if chat_input and not 1 <= len(command.get("description") or "") <= 100:
            raise form_error(
                [*path, "description"],
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 100 in length.",
            )
        self._check_localizations(command, path)
        options = command.get("options") or []
        if len(options) > 25:
            raise form_error(
                [*path, "options"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
            )
        optional_seen = False
        for index, option in enumerate(options):
            where: list[str | int] = [*path, "options", index]
            if len(option.get("choices") or []) > 25:
                raise form_error(
                    [*where, "choices"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
                )
            self._check_command(option, where)
            if option.get("type") in (SUB_COMMAND, SUB_COMMAND_GROUP):
                continue
            if option.get("required") and optional_seen:
                raise form_error(
                    [*where, "required"],
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
            optional_seen = optional_seen or not option.get("required")

    @staticmethod
    def _check_localizations(command: Mapping[str, Any], path: list[str | int]) -> None:
        """A name's or description's localizations: Discord's locales only, each
        as long as the default may be."""
        for field_name, fits in (
            ("name_localizations", lambda text: bool(_COMMAND_NAME.fullmatch(text))),
            ("description_localizations", lambda text: 1 <= len(text) <= 100),
        ):
            for locale, text in (command.get(field_name) or {}).items():
                where: list[str | int] = [*path, field_name, locale]
                if locale not in DISCORD_LOCALES:
                    raise form_error(where, "LOCALE_INVALID", f"Invalid locale: {locale!r}")
                if not isinstance(text, str) or not fits(text):
                    raise form_error(where, "BASE_TYPE_BAD_LENGTH", "Invalid value.")

    # -- guild

    def _get_guild(self, req: RecordedRequest, guild_id: str) -> dict[str, Any]:
        self._check_guild(guild_id)
        guild = self.guild_payload()
        for key in (
            "members",
            "channels",
            "threads",
            "presences",
            "voice_states",
            "joined_at",
            "large",
            "member_count",
        ):
            guild.pop(key, None)
        return guild

    def _get_guild_channels(self, req: RecordedRequest, guild_id: str) -> list[dict[str, Any]]:
        self._check_guild(guild_id)
        return [self._channels[cid] for cid in self.channels.values()]

    def _get_member(self, req: RecordedRequest, guild_id: str, user_id: str) -> dict[str, Any]:
        self._check_guild(guild_id)
        member = self.members.get(int(user_id))
        if member is None:
            raise _unknown("Member", 10007)
        return member
