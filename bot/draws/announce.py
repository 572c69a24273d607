"""Telling a body about its draw: to its branches' linked chats, else to each of
its people privately."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.draws.bodies import Body
from bot.draws.queries import branches_in, people_in
from bot.kernel.config import Settings
from bot.kernel.i18n import pick_language, translator
from bot.kernel.messages import Attachment
from bot.kernel.outbox import enqueue, enqueue_for
from storage.models import Branch, BranchChat

RECORD_FILE_LIMIT = 8_000_000  # bytes: larger records are fetched with /draw record


async def publish(
    session: AsyncSession,
    settings: Settings,
    body: Body,
    *,
    key: str,
    render: Any,
    now: dt.datetime,
    file: Attachment | None = None,
) -> None:
    """To the body's chats (the linked chats of its branches) if it has any, each in
    its branch's language (else the party's: a group has no one reader), with
    ``file``; else to each of its people privately, in theirs (without the file: a
    pool's record can be large)."""
    chats = list(
        await session.execute(
            select(BranchChat.id, Branch.language)
            .join(Branch, Branch.id == BranchChat.branch_id)
            .where(BranchChat.branch_id.in_(branches_in(body.scope, body.scope_id)))
        )
    )
    if not chats:
        await enqueue_for(
            session,
            people_in(body),
            key=key,
            render=render,
            now=now,
            default_locale=settings.default_locale,
        )
        return
    texts: dict[str, str] = {}
    if file is not None and len(file.content) > RECORD_FILE_LIMIT:
        file = None
    for chat_id, branch_language in chats:
        lang = pick_language(branch_language, settings.default_locale)
        if lang not in texts:
            texts[lang] = render(translator(lang))
        await enqueue(
            session,
            key=f"{key}:chat{chat_id}",
            text=texts[lang],
            now=now,
            branch_chat_id=chat_id,
            file=file,
        )
