"""The context a command runs in: one transaction, one person, one request."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.kernel.actions import Action
from bot.kernel.config import Settings
from bot.kernel.i18n import Translator
from bot.kernel.links import Links
from bot.kernel.messages import Button, Reply, Request
from storage.models import Branch, Person, Prompt, RoleGrant
from storage.writes import claim

PROMPT_LIFETIME = dt.timedelta(days=2)
MAX_ID = 2**31 - 1  # ids are 32-bit integers on every database


def parse_id(text: str) -> int | None:
    """The row id a button carries, or None for anything that cannot be one."""
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


class Listed(Protocol):
    """What /help reads of a command (a :class:`bot.kernel.registry.CommandSpec`, which
    imports this module)."""

    @property
    def name(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def usage(self) -> str: ...
    @property
    def roles(self) -> tuple[str, ...]: ...
    @property
    def staff(self) -> tuple[tuple[str, str, tuple[str, ...]], ...]: ...


class Refusal(Exception):
    """Stop the command: nothing it did is kept, and these replies are sent.

    ``audit`` names a forbidden action to record in the audit log.
    """

    def __init__(self, *replies: Reply, audit: str | None = None) -> None:
        super().__init__(replies[0].text if replies else "")
        self.replies = list(replies)
        self.audit = audit


@dataclass
class Context:
    session: AsyncSession
    request: Request
    settings: Settings
    now: dt.datetime
    rng: random.Random
    t: Translator
    person: Person | None
    # How people reach the bot on each platform (the adapters tell the core).
    links: Links = field(default_factory=Links)
    # The commands the core answers (what /help lists).
    commands: Mapping[str, Listed] = field(default_factory=dict)
    # What the handler's prefetch read with the person (bot.kernel.registry.Prefetch):
    # the row's columns after the Identity and Person; None if it had none or found none.
    prefetched: tuple[Any, ...] | None = None
    _grants: list[RoleGrant] | None = field(default=None, repr=False)

    def refuse(self, text: str, *, audit: str | None = None) -> Refusal:
        return Refusal(Reply(text, error=True), audit=audit)

    def require_person(self) -> Person:
        """The person behind the request, or a refusal asking for consent first."""
        if self.person is None:
            raise Refusal(
                Reply(
                    self.t("First, please read the privacy notice and agree: send /start."),
                    error=True,
                )
            )
        return self.person

    async def grants(self) -> list[RoleGrant]:
        if self.person is None:
            return []
        if self._grants is None:
            rows = await self.session.scalars(
                select(RoleGrant).where(RoleGrant.person_id == self.person.id)
            )
            self._grants = list(rows)
        return self._grants

    def forget_grants(self) -> None:
        self._grants = None

    async def prompt(
        self, kind: str, *, lifetime: dt.timedelta = PROMPT_LIFETIME, **payload: object
    ) -> Prompt:
        """Store the state behind a button; the button carries the prompt's id."""
        row = Prompt(
            person_id=self.person.id if self.person else None,
            owner_key=self.request.sender.key,
            kind=kind,
            payload=dict(payload),
            created_at=self.now,
            expires_at=self.now + lifetime,
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def sweep_prompts(self) -> None:
        """Delete expired prompts, so that nothing said before consent (a place
        typed after /join) outlives its button."""
        await self.session.execute(delete(Prompt).where(Prompt.expires_at <= self.now))

    async def take_prompt(self, prompt_id: str, kind: str, *, audit: str | None = None) -> Prompt:
        """The caller's own, unused, unexpired prompt of this kind, now marked used.

        Marking it used is one conditional UPDATE, so two presses at the same
        instant (two devices) cannot both take it. ``audit``: a press of someone
        else's prompt is a forged attempt, recorded under that name.
        """
        row_id = parse_id(prompt_id)
        row = await self.session.get(Prompt, row_id) if row_id is not None else None
        if row is None or row.kind != kind:
            raise self.stale()
        if row.owner_key != self.request.sender.key:
            raise Refusal(*self.stale().replies, audit=audit)
        if not await claim(
            self.session,
            Prompt,
            Prompt.id == row.id,
            Prompt.used_at.is_(None),
            Prompt.expires_at > self.now,
            used_at=self.now,
        ):
            raise self.stale()
        return row

    async def branch_from(self, target: str) -> Branch:
        """The branch a button names, or a stale-button refusal."""
        row_id = parse_id(target)
        branch = await self.session.get(Branch, row_id) if row_id is not None else None
        if branch is None:
            raise self.stale()
        return branch

    def stale(self, *, audit: str | None = None) -> Refusal:
        """The answer to a button that is expired, used, or not the presser's to
        press: the same words in each case, so that a forged button (another
        branch's ids) tells nothing about what it names. ``audit`` records a
        forged attempt."""
        return Refusal(
            Reply(
                self.t("This button has expired; nothing was changed."),
                error=True,
                edit=True,
                private=True,
            ),
            audit=audit,
        )

    def undo_button(self, prompt: Prompt) -> Button:
        return Button(self.t("Undo"), Action.UNDO, str(prompt.id))
