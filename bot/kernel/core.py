"""The core: one entry point from every adapter, one transaction per request.

``Core.handle`` resolves the sender to a Person, runs the command or button
action inside one database transaction, and returns neutral replies. A
refusal rolls back everything the command did; an unexpected error is logged
with its traceback and the person gets a short apology, never the traceback.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.kernel import suggest
from bot.kernel.clock import Clock, SystemClock
from bot.kernel.config import Settings
from bot.kernel.context import Context, Refusal
from bot.kernel.i18n import Translator, pick_language, translator
from bot.kernel.links import Links
from bot.kernel.messages import ChatRef, Reply, Request, Sender, Transport
from bot.kernel.outbox import deliver_pending
from bot.kernel.people import find_person, find_reader, refresh, sender_params, translator_for
from bot.kernel.registry import AnswerHandler, CommandSpec, Handlers, Prefetch
from storage.db import Database
from storage.models import AuditEntry, BranchChat, Person, Prompt

log = logging.getLogger(__name__)

ATTEMPTS = 3
RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected


class Retry(Exception):
    """The request lost a race or its connection; run it again from the start."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Core:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        handlers: Handlers,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        # What it answers: built by the composition root (bot.app.build_core).
        self.handlers = handlers
        self.clock = clock or SystemClock()
        self.rng = rng or random.Random()
        # How people reach the bot: each adapter tells what it learns at start-up
        # (the Telegram bot's username, for /signup's deep links).
        self.links = Links()

    async def handle(self, request: Request) -> list[Reply]:
        """Answer one request. Always returns at least one reply.

        A request that lost a race with another (two presses of one button from
        two devices, say) is rolled back and run once more on the new state.
        """
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return await self._handle_once(request)
            except Retry as exc:
                if attempt == ATTEMPTS:
                    break
                log.info("retrying %s: %s", _describe(request), exc.reason)
        log.error("gave up on %s after %d attempts", _describe(request), ATTEMPTS)
        return [self._apology(request)]

    @property
    def commands(self) -> list[CommandSpec]:
        """Every command, described: what a platform builds its menus and forms from."""
        return list(self.handlers.commands.values())

    def apology(self, locale: str | None) -> Reply:
        """What a person is told when something failed on our side (an adapter's
        own error, too)."""
        t = translator(pick_language(locale, self.settings.default_locale))
        return Reply(
            t(
                "Sorry, something went wrong on our side and nothing was changed. "
                "Please try again in a moment."
            ),
            error=True,
        )

    def _apology(self, request: Request) -> Reply:
        return self.apology(request.sender.locale)

    async def reader(self, sender: Sender) -> Translator:
        """What ``sender`` reads in (their language and their own time zone), for an
        adapter's own words (the console's); the party's for someone unknown."""
        t = translator(pick_language(sender.locale, self.settings.default_locale))
        request = Request.command_from(
            sender, ChatRef(sender.platform, "private", sender.user_id), ""
        )
        try:
            async with self.db.transaction() as session:
                person, branch_language = await find_reader(session, request, self.clock.now())
        except Exception:
            log.exception("could not read the language of a %s sender", sender.platform)
            return t
        if person is None:
            return t
        return translator_for(person, branch_language, self.settings.default_locale)

    async def deliver(self, transports: Mapping[str, Transport], *, limit: int = 200) -> int:
        """Send what waits in the outbox through ``transports`` now (the console's
        own round; ``organiser run`` has its outbox worker). How many were handled."""
        report = await deliver_pending(self.db, transports, self.clock, limit=limit)
        return report.sent + report.undeliverable

    async def _handle_once(self, request: Request) -> list[Reply]:
        t = translator(pick_language(request.sender.locale, self.settings.default_locale))
        try:
            async with self.db.transaction() as session:
                now = self.clock.now()
                person, branch_language, prefetched = await self._find(session, request, now)
                if person is not None:
                    t = translator_for(person, branch_language, self.settings.default_locale)
                ctx = Context(
                    session,
                    request,
                    self.settings,
                    now,
                    self.rng,
                    t,
                    person,
                    links=self.links,
                    commands=self.handlers.commands,
                    prefetched=prefetched,
                )
                replies = await self._dispatch(ctx)
            return _where_asked(request, replies, self.handlers)
        except Refusal as refusal:
            if refusal.audit:
                await self._audit_refusal(request, refusal.audit)
            return _where_asked(request, refusal.replies, self.handlers)
        except IntegrityError as exc:
            raise Retry("a conflicting write") from exc
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise Retry("the database connection was lost") from exc
            if getattr(exc.orig, "sqlstate", None) in RETRYABLE_SQLSTATES:
                raise Retry("a deadlock or serialization failure") from exc
            log.exception("failed to handle %s", _describe(request))
            return [self._apology(request)]
        except Exception:
            log.exception("failed to handle %s", _describe(request))
            return [self._apology(request)]

    def _prefetch(self, request: Request) -> Prefetch | None:
        if not _readable(request.args) or not _readable(request.target):
            return None  # refused before any handler runs (_dispatch)
        if request.action is not None:
            return self.handlers.prefetches.get(request.action)
        spec = self.handlers.commands.get(request.command or "")
        return spec.prefetch if spec is not None else None

    async def _find(
        self, session: AsyncSession, request: Request, now: dt.datetime
    ) -> tuple[Person | None, str | None, tuple[Any, ...] | None]:
        """The person behind the request and their branch's language (find_reader)
        and, for a handler with a prefetch, its first read, in one statement
        (bot.kernel.registry.Prefetch); else the person alone."""
        prefetch = self._prefetch(request)
        ask = prefetch(request) if prefetch is not None else None
        if ask is not None:
            stmt, params = ask
            row = (await session.execute(stmt, {**sender_params(request), **params})).first()
            if row is not None:
                identity, person, branch_language, *rest = row
                return refresh(identity, person, request, now), branch_language, tuple(rest)
        person, branch_language = await find_reader(session, request, now)
        return person, branch_language, None

    async def _dispatch(self, ctx: Context) -> list[Reply]:
        request = ctx.request
        if not _readable(request.args) or not _readable(request.target):
            raise ctx.refuse(
                ctx.t("Your message has characters I cannot read; please type it again.")
            )
        if request.action is not None:
            handler = self.handlers.actions.get(request.action)
            if handler is None or len(request.target) > 64:
                raise ctx.stale()
            return _as_list(await handler(ctx, request.target))
        name = request.command or ""
        if not name:
            answered = await _typed_answer(ctx, self.handlers.answers)
            if answered is not None:
                return answered
            return [
                Reply(
                    ctx.t("I understand commands, such as /join or /help. Send /help to see yours.")
                )
            ]
        spec = self.handlers.commands.get(name)
        if spec is None:
            raise ctx.refuse(
                ctx.t(
                    "I don't know the command /{name}. Send /help to see what you can do.",
                    name=name[:32],
                )
            )
        if len(request.args) > spec.longest:
            raise ctx.refuse(ctx.t("That message is too long for me; please shorten it."))
        replies = _as_list(await spec.handler(ctx))
        if spec.private:
            replies = [replace(r, private=True) for r in replies]
        return replies

    async def suggest(self, request: Request, kind: str) -> list[tuple[str, str]]:
        """(label, value) pairs for what the sender is typing (``request.args``):
        ``branch`` names, or ``person`` references for staff. Never raises."""
        try:
            async with self.db.transaction() as session:
                if kind == "branch":
                    return await suggest.branches(session, request.args)
                if kind == "person":
                    person = await find_person(session, request, self.clock.now())
                    return await suggest.people(session, person, request.args)
        except Exception:
            log.exception("suggestions failed for %s", _describe(request))
        return []

    async def chat_moved(self, platform: str, old_chat_id: str, new_chat_id: str) -> int:
        """A group chat got a new id (a Telegram group upgraded to a supergroup): its
        branch links follow, so announcements keep reaching it. How many moved."""
        old = (BranchChat.platform == platform) & (BranchChat.chat_id == old_chat_id)
        async with self.db.transaction() as session:
            taken = await session.scalar(
                select(BranchChat.id).where(
                    BranchChat.platform == platform, BranchChat.chat_id == new_chat_id
                )
            )
            if taken is not None:  # the new chat was linked already: the old link goes
                for link in await session.scalars(select(BranchChat).where(old)):
                    session.add(  # every unlink is audited
                        AuditEntry(
                            at=self.clock.now(),
                            actor_id=None,
                            action="chat.unlinked",
                            branch_id=link.branch_id,
                            details={
                                "platform": platform,
                                "why": "the group moved to a chat linked already",
                            },
                        )
                    )
                moved = await session.execute(delete(BranchChat).where(old))
            else:
                moved = await session.execute(
                    update(BranchChat).where(old).values(chat_id=new_chat_id)
                )
        count = int(getattr(moved, "rowcount", 0) or 0)
        if count:
            log.info(
                "%s chat %s is now %s: its branch links follow", platform, old_chat_id, new_chat_id
            )
        return count

    async def _audit_refusal(self, request: Request, what: str) -> None:
        """Record a forbidden attempt (in its own transaction: the attempt was rolled back)."""
        try:
            async with self.db.transaction() as session:
                person = await find_person(session, request, self.clock.now())
                session.add(
                    AuditEntry(
                        at=self.clock.now(),
                        actor_id=person.id if person else None,
                        action="refused",
                        details={"what": what},
                    )
                )
        except Exception:
            log.exception("could not audit a refused %s", what)


async def _typed_answer(ctx: Context, answers: Mapping[str, AnswerHandler]) -> list[Reply] | None:
    """Plain text in a private chat answers the sender's latest open question that
    waits for one (``@answer``), if any; it is taken, so it is answered once."""
    request = ctx.request
    if request.chat.kind != "private" or not answers:
        return None
    waiting = await ctx.session.scalar(
        select(Prompt)
        .where(
            Prompt.owner_key == request.sender.key,
            Prompt.kind.in_(sorted(answers)),
            Prompt.used_at.is_(None),
            Prompt.expires_at > ctx.now,
        )
        .order_by(Prompt.id.desc())
        .limit(1)
    )
    if waiting is None:
        return None
    await ctx.take_prompt(str(waiting.id), waiting.kind)
    return _as_list(await answers[waiting.kind](ctx, request.args))


def _where_asked(request: Request, replies: list[Reply], handlers: Handlers) -> list[Reply]:
    """In a group chat (a Telegram group, a Discord server channel) every reply is
    about one person and goes privately (a DM, an ephemeral answer), but for the
    few commands and buttons that are about the chat itself."""
    if request.chat.kind != "group":
        return replies
    if request.action is not None:
        public = request.action in handlers.public_actions
    else:
        spec = handlers.commands.get(request.command or "")
        public = spec is not None and spec.public
    if public:
        return replies
    return [r if r.private else replace(r, private=True) for r in replies]


def _readable(text: str) -> bool:
    """No NUL (PostgreSQL refuses it) and no lone surrogate (no encoding has one)."""
    return "\x00" not in text and not any("\ud800" <= ch <= "\udfff" for ch in text)


def _as_list(result: Reply | list[Reply]) -> list[Reply]:
    return [result] if isinstance(result, Reply) else list(result)


def _describe(request: Request) -> str:
    what = f"/{request.command}" if request.action is None else f"button {request.action}"
    # Not who sent it: that an account uses a party's bot is itself personal data.
    return f"{what} from {request.sender.platform}"
