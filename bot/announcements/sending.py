"""Where an announcement goes and queuing it there: for each branch in its scope,
the linked group chats or the people its audience selects (bot.announcements.rules
decides which), and for the party's, those in no branch too, counted for the preview and queued in the outbox on Send, every
copy keyed by the announcement so that it is queued once whatever happens."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from bot.announcements import queries
from bot.announcements.rules import local_day, this_month, to_chats
from bot.kernel.i18n import Translator, pick_language, translator
from bot.kernel.outbox import Recipients, enqueue, enqueue_for
from storage.models import Announcement, Branch
from storage.vocabulary import SCOPE_NATIONAL


@dataclass
class Reach:
    """Who an announcement reaches: group chats (ids) and, where it goes
    privately, each branch's recipients; with how many of each."""

    chats: list[int] = field(default_factory=list)
    # Each chat's branch's language (None: the party's): a group reads its branch's.
    chat_languages: dict[int, str | None] = field(default_factory=dict)
    # (the branch, or None for those in no branch; its recipients)
    private: list[tuple[Branch | None, Recipients]] = field(default_factory=list)
    people: int = 0


async def reach(
    session: AsyncSession,
    *,
    scope: str,
    scope_id: int,
    audience: str,
    author_id: int,
    now: dt.datetime,
    timezone: str,
) -> Reach:
    """Who an announcement reaches; ``timezone``: the party's, whose day counts
    the dues of those in no branch."""
    branches = await queries.branches_in(session, scope, scope_id)
    chats = await queries.linked_chats(session, [b.id for b in branches])
    found = Reach()
    for branch in branches:
        linked = chats.get(branch.id, [])
        if to_chats(audience, len(linked)):
            found.chats.extend(linked)
            found.chat_languages |= dict.fromkeys(linked, branch.language)
            continue
        who = queries.audience_of(
            audience,
            branch,
            level=scope,
            author_id=author_id,
            day=local_day(now, branch.timezone),
            month=this_month(now, branch.timezone),
        )
        found.private.append((branch, who))
        found.people += await queries.count(session, who)
    if scope == SCOPE_NATIONAL:
        unbranched = queries.audience_without_branch(
            audience, author_id=author_id, day=local_day(now, timezone)
        )
        if unbranched is not None:
            found.private.append((None, unbranched))
            found.people += await queries.count(session, unbranched)
    return found


async def queue(
    session: AsyncSession,
    announcement: Announcement,
    found: Reach,
    render: Callable[[Translator], str],
    *,
    default_locale: str,
    now: dt.datetime,
) -> None:
    """Queue the announcement's copies: one a group chat (in its branch's language,
    else the party's: a group has no one reader), one a person (in theirs)."""
    key = queries.key_of(announcement.id)
    texts: dict[str, str] = {}
    for chat_id in found.chats:
        lang = pick_language(found.chat_languages.get(chat_id), default_locale)
        if lang not in texts:
            texts[lang] = render(translator(lang))
        await enqueue(
            session, key=f"{key}:chat{chat_id}", text=texts[lang], now=now, branch_chat_id=chat_id
        )
    for _branch, who in found.private:
        await enqueue_for(
            session, who, key=key, render=render, now=now, default_locale=default_locale
        )
