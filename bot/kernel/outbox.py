"""The outbox: messages to people other than the one being answered.

``enqueue`` writes a row in the caller's transaction, so the message exists if
and only if the change that caused it was committed; its idempotency key makes
writing the same message twice a no-op. ``deliver_pending`` hands rows to a
transport (the console prints them; Telegram and Discord send them).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import typing
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import (
    JSON,
    Integer,
    Select,
    String,
    Table,
    and_,
    bindparam,
    case,
    cast,
    literal,
    outerjoin,
    select,
    true,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.kernel.clock import Clock
from bot.kernel.i18n import Translator, pick_language, shipped_languages, translator
from bot.kernel.messages import Attachment, Button, Recipient, Reply, Transport, Undeliverable
from storage.db import Database
from storage.models import Branch, BranchChat, Identity, OutboxMessage, Person, UTCDateTime
from storage.writes import upsert, upsert_statement

log = logging.getLogger(__name__)
T = TypeVar("T")
P = ParamSpec("P")

PENDING, SENT, UNDELIVERABLE = "pending", "sent", "undeliverable"
GIVE_UP_AFTER = dt.timedelta(hours=24)  # a message still failing after this is given up
# How long a worker holds the rows it claimed; renewed while it is still sending them.
LEASE = dt.timedelta(minutes=1)


async def enqueue(
    session: AsyncSession,
    *,
    key: str,
    text: str,
    now: dt.datetime,
    person_id: int | None = None,
    branch_chat_id: int | None = None,
    buttons: Sequence[Sequence[Button]] = (),
    file: Attachment | None = None,
    about_id: int | None = None,
    to: Recipient | None = None,
) -> None:
    """Queue one message for a person or a branch chat (or, with neither, for the
    account ``to``: someone who is no person, a resident registered for an
    assembly); a second call with the same key does nothing. ``about_id``: the person the message is about (their
    /mydata shows it; their /forget erases their name from it). ``to``: one
    account of the person, rather than the one they last used."""
    values = {
        "to_platform": to.platform if to else None,
        "to_user_id": to.user_id if to else None,
        "to_chat_id": to.chat_id if to else None,
        "file_name": file.filename if file else None,
        "file_type": file.mime_type if file else None,
        "file_data": file.content if file else None,
        "key": key[:160],
        "person_id": person_id,
        "branch_chat_id": branch_chat_id,
        "about_id": about_id,
        "text": text,
        "buttons": _button_rows(buttons),
        "status": PENDING,
        "attempts": 0,
        "created_at": now,
    }
    await upsert(session, OutboxMessage, values, key=["key"])


def _button_rows(buttons: Sequence[Sequence[Button]]) -> list[list[list[str]]]:
    return [[[b.label, b.action, b.id] for b in row] for row in buttons]


@dataclass(frozen=True, slots=True)
class Recipients:
    """Who a message goes to: a SELECT of person ids, built once (module-level,
    with bind parameters), and the values of those parameters."""

    query: Select[Any]
    params: dict[str, Any]


_COLUMNS = ["key", "person_id", "about_id", "text", "buttons", "status", "attempts", "created_at"]
# (query, statement) by the query's identity; the query is kept alive in the value
# so that its id can never be reused by another query.
_INSERTS: dict[tuple[int, str, int, int, bool], tuple[Select[Any], Any]] = {}


def _insert_for(query: Select[Any], dialect: str, languages: int, zones: int, exclude: bool) -> Any:
    """The INSERT ... SELECT for these recipients, built once and reused: building
    SQLAlchemy statements costs more than running them on the hot path. The text
    (and buttons) of version ``o_text{i}_{j}``: language ``o_lang{i}`` (0: English),
    read in time zone ``o_zone{j}`` (0: none of one's own, the caller's)."""
    cache_key = (id(query), dialect, languages, zones, exclude)
    cached = _INSERTS.get(cache_key)
    if cached is not None and cached[0] is query:
        return cached[1]
    if len(_INSERTS) > 256 and not zones:
        raise RuntimeError("Recipients queries must be built once (module level), not per call")
    joined: Any = Person
    is_lang: Callable[[int], Any] = lambda i: true()  # noqa: E731 - English alone: everyone
    if languages > 1:
        # The reader's language, as bot.kernel.people.choose_language picks it: the
        # first the bot speaks (o_lang0.. : English, then each catalogue's) of what
        # they chose, their platform's, their branch's; else the party's.
        shipped: list[Any] = [bindparam(f"o_lang{i}") for i in range(languages)]
        lang = case(
            (Person.language.in_(shipped), Person.language),
            (Person.locale.in_(shipped), Person.locale),
            (Branch.language.in_(shipped), Branch.language),
            else_=bindparam("o_default", type_=String),
        )
        joined = outerjoin(Person, Branch, Branch.id == Person.branch_id)
        is_lang = lambda i: lang == bindparam(f"o_lang{i}")  # noqa: E731
    versions = [
        (and_(is_lang(i), Person.timezone == bindparam(f"o_zone{j}")), i, j)
        for j in range(1, zones + 1)
        for i in range(languages)
    ] + [(is_lang(i), i, 0) for i in range(1, languages)]
    text: Any = bindparam("o_text0_0")
    buttons: Any = bindparam("o_buttons0_0", type_=JSON)
    if versions:
        text = case(*((c, bindparam(f"o_text{i}_{j}")) for c, i, j in versions), else_=text)
        buttons = case(
            *((c, bindparam(f"o_buttons{i}_{j}", type_=JSON)) for c, i, j in versions),
            else_=buttons,
        )
    rows = (
        select(
            (bindparam("o_key", type_=String) + cast(Person.id, String)).label("key"),
            Person.id,
            bindparam("o_about", type_=Integer),
            text,
            buttons,
            literal(PENDING),
            literal(0),
            bindparam("o_now", type_=UTCDateTime()),
        )
        .select_from(joined)
        .where(Person.id.in_(query))
    )
    if exclude:
        rows = rows.where(Person.id != bindparam("o_exclude"))
    # The table, not the entity: with parameters, an ORM insert would read
    # them as rows to insert in bulk.
    stmt = upsert_statement(
        dialect, typing.cast(Table, OutboxMessage.__table__), key=["key"], rows=(_COLUMNS, rows)
    )
    if not zones:  # those with zones of their own are few, and their count varies: built anew
        _INSERTS[cache_key] = (query, stmt)
    return stmt


async def enqueue_for(
    session: AsyncSession,
    who: Recipients,
    *,
    key: str,
    render: Callable[[Translator], str],
    now: dt.datetime,
    exclude_id: int | None = None,
    buttons: Callable[[Translator], Sequence[Sequence[Button]]] | None = None,
    about_id: int | None = None,
    default_locale: str | None = None,
) -> None:
    """Queue one message for each person ``who`` selects (but ``exclude_id``) in
    one ``INSERT ... SELECT``: the text (and button labels) rendered once per
    language, each person given theirs (what they chose, their platform's, their
    branch's, else the party's ``default_locale``), the key ``{key}:{person id}``
    (a repeat does nothing). ``about_id``: the person the message is about, as
    for ``enqueue``."""
    languages = shipped_languages()
    params: dict[str, Any] = {
        **who.params,
        "o_key": f"{key[:140]}:",
        "o_now": now,
        "o_about": about_id,
    }
    if exclude_id is not None:
        params["o_exclude"] = exclude_id
    if len(languages) > 1:
        params["o_default"] = pick_language(default_locale)
        params |= {f"o_lang{i}": lang for i, lang in enumerate(languages)}

    def version(t: Translator) -> tuple[str, list[list[list[str]]]]:
        return render(t), _button_rows(buttons(t) if buttons else ())

    english = version(translator(languages[0]))
    # The time zones of their own some of them read in, if the message shows a moment.
    zones: list[str] = []
    if any(version(translator(languages[0], probe)) != english for probe in _PROBES):
        zones = await _own_zones(session, who)
    for j, zone in enumerate([None, *zones]):
        if zone is not None:
            params[f"o_zone{j}"] = zone
        for i, lang in enumerate(languages):
            text, rows = english if (i, j) == (0, 0) else version(translator(lang, zone))
            params[f"o_text{i}_{j}"], params[f"o_buttons{i}_{j}"] = text, rows
    dialect = session.get_bind().dialect.name
    stmt = _insert_for(who.query, dialect, len(languages), len(zones), exclude_id is not None)
    await session.execute(stmt, params)


# Two zones no branch shares both of: a message rendered alike in each shows no moment.
_PROBES = ("Pacific/Kiritimati", "Pacific/Pago_Pago")
_ZONES_OF = select(Person.timezone).where(Person.timezone.is_not(None)).distinct()


async def _own_zones(session: AsyncSession, who: Recipients) -> list[str]:
    """The time zones of their own (/timezone) that people among ``who`` keep."""
    rows = await session.scalars(_ZONES_OF.where(Person.id.in_(who.query)), who.params)
    return sorted(z for z in rows if z)


@dataclass
class DeliveryReport:
    sent: int = 0
    undeliverable: int = 0
    retry: int = 0


def to_reply(row: OutboxMessage) -> Reply:
    rows = tuple(tuple(Button(label, action, id_) for label, action, id_ in r) for r in row.buttons)
    file = None
    if row.file_data is not None:
        file = Attachment(
            row.file_name or "file", row.file_data, row.file_type or "application/octet-stream"
        )
    return Reply(row.text, buttons=rows, private=True, file=file)


async def deliver_pending(
    db: Database, transports: Mapping[str, Transport], clock: Clock, *, limit: int = 100
) -> DeliveryReport:
    """Send up to ``limit`` pending messages, oldest first, each marked as it goes.

    A message to a person goes to their most recently seen reachable identity
    on a platform we have a transport for. If the transport refuses for good,
    the next identity is tried; with none left the row is marked undeliverable
    (and kept, so an organiser can see who could not be reached). A message to
    a branch's group chat goes to that chat. A temporary failure leaves the row
    pending for the next round.

    The rows are claimed with a lease (``LEASE``), renewed while the batch is
    being sent; a row another worker claimed meanwhile (this one stalled past
    its lease) is left to that worker. So only a message in flight when a worker
    dies or stalls can be sent twice, and one whose send timed out after the
    platform had taken it (its answer lost on the way): delivery is at least once,
    and neither platform takes an idempotency key for a message.
    """
    report = DeliveryReport()
    rows, candidates, claimed_at = await _claim(db, list(transports), clock, limit)
    held = {row.id for row in rows}
    renew_at = claimed_at + LEASE / 2
    lease = claimed_at + LEASE
    for i, row in enumerate(rows):
        if clock.now() >= renew_at:
            # A long batch (a slow platform, 429s) would outlive its lease and be
            # claimed again by another worker while still being sent here: renew
            # the lease of the rows still to send, and leave any another worker
            # has claimed meanwhile to that worker.
            held, lease = await _reconnecting(
                _renew_lease, db, [r.id for r in rows[i:]], lease, clock
            )
            renew_at = clock.now() + LEASE / 2
        if row.id not in held:
            continue
        outcome, error, unreachable = await _send(
            transports, row, candidates.get(row.id, []), clock
        )
        # Marked on a new connection if the database connection was lost meanwhile
        # (a restart): else the message, sent, would be sent again once the lease ends.
        marked = await _reconnecting(_mark, db, clock, row.id, outcome, error, unreachable)
        if not marked:  # the person was forgotten meanwhile
            continue
        if outcome == SENT:
            report.sent += 1
        elif outcome == PENDING:
            report.retry += 1
        else:
            report.undeliverable += 1
    return report


async def _claim(
    db: Database, platforms: list[str], clock: Clock, limit: int
) -> tuple[list[OutboxMessage], dict[int, list[tuple[Recipient, int | None]]], dt.datetime]:
    """Claim up to ``limit`` pending rows this process can deliver, oldest first, with
    a lease, and find where each can go; returns the rows, their candidates and the
    moment of the claim."""
    reachable = select(Identity.id).where(
        Identity.person_id == OutboxMessage.person_id, Identity.unreachable.is_(False)
    )
    async with db.transaction() as session:
        # Rows we can deliver here, or that nobody could deliver anywhere. A row for
        # someone reachable only on a platform this process does not serve waits
        # for the process that does.
        for_people = OutboxMessage.person_id.is_not(None) & (
            OutboxMessage.to_platform.in_(platforms)
            | OutboxMessage.to_platform.is_(None)
            & (reachable.where(Identity.platform.in_(platforms)).exists() | ~reachable.exists())
        )
        for_chats = OutboxMessage.branch_chat_id.in_(
            select(BranchChat.id).where(BranchChat.platform.in_(platforms))
        )
        # An account that is no person (a resident registered for an assembly).
        for_accounts = (
            OutboxMessage.person_id.is_(None)
            & OutboxMessage.branch_chat_id.is_(None)
            & OutboxMessage.to_platform.in_(platforms)
        )
        rows = list(
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.status == PENDING, for_people | for_chats | for_accounts)
                .where(
                    OutboxMessage.next_attempt_at.is_(None)
                    | (OutboxMessage.next_attempt_at <= clock.now())
                )
                .order_by(OutboxMessage.id)
                .limit(limit)
                # Several workers (PostgreSQL): each claims its own rows.
                .with_for_update(skip_locked=True, of=OutboxMessage)
            )
        )
        # The claim: a lease, so that no other worker takes these rows while they
        # are being sent; a worker that dies leaves them to be retried when it ends.
        claimed_at = clock.now()
        for row in rows:
            row.next_attempt_at = claimed_at + LEASE
        candidates = await _candidates(session, rows, platforms)
    return rows, candidates, claimed_at


async def _send(
    transports: Mapping[str, Transport],
    row: OutboxMessage,
    candidates: list[tuple[Recipient, int | None]],
    clock: Clock,
) -> tuple[str, str | None, list[int]]:
    """Try the row's candidates in turn: the outcome (sent, pending for a retry,
    undeliverable), the error to keep, and the identities found unreachable."""
    outcome: str = UNDELIVERABLE
    error: str | None = "no reachable identity"
    unreachable: list[int] = []
    for recipient, identity_id in candidates:
        try:
            await transports[recipient.platform].send(recipient, to_reply(row))
        except Undeliverable as exc:
            if identity_id is not None:
                unreachable.append(identity_id)
            error = f"{recipient.platform}: {exc}"
            continue
        except Exception as exc:  # a network error: try again next round
            log.warning("outbox %s: temporary failure: %s", row.id, exc)
            outcome, error = PENDING, f"{type(exc).__name__}: {exc}"
            if clock.now() - row.created_at > GIVE_UP_AFTER:
                outcome, error = UNDELIVERABLE, f"gave up after 24 hours: {error}"
            break
        outcome, error = SENT, None
        break
    return outcome, error, unreachable


async def _mark(
    db: Database,
    clock: Clock,
    row_id: int,
    outcome: str,
    error: str | None,
    unreachable: list[int],
) -> bool:
    """Record how a delivery went; False if the row is gone (its person forgotten)."""
    async with db.transaction() as session:
        fresh = await session.get(OutboxMessage, row_id)
        if fresh is None:
            return False
        fresh.attempts += 1
        fresh.status, fresh.last_error = outcome, error
        if outcome == SENT:
            fresh.sent_at = clock.now()
        elif outcome == PENDING:
            fresh.next_attempt_at = clock.now() + backoff(fresh.attempts)
        for ident_id in unreachable:
            stale = await session.get(Identity, ident_id)
            if stale is not None:
                stale.unreachable = True
    return True


async def _reconnecting(
    transaction: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs
) -> T:
    """Run ``transaction``; if it lost its database connection (a server restart,
    a connection killed), once more: the pool has dropped the dead connections."""
    try:
        return await transaction(*args, **kwargs)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        log.warning("outbox: lost the database connection (%s); once more", exc.orig)
        return await transaction(*args, **kwargs)


async def _renew_lease(
    db: Database, ids: list[int], lease: dt.datetime, clock: Clock
) -> tuple[set[int], dt.datetime]:
    """Extend the lease of the rows among ``ids`` still held under ``lease``
    (pending, and claimed by no one else since); (their ids, the new lease)."""
    renewed = clock.now() + LEASE
    async with db.transaction() as session:
        kept = await session.scalars(
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_(ids),
                OutboxMessage.status == PENDING,
                OutboxMessage.next_attempt_at == lease,
            )
            .values(next_attempt_at=renewed)
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        )
        return set(kept), renewed


def backoff(attempts: int) -> dt.timedelta:
    """How long to wait after the n-th temporary failure: 2 s, 4 s, ... up to 10 min."""
    return dt.timedelta(seconds=min(2**attempts, 600))


async def run_outbox(
    db: Database,
    transports: Mapping[str, Transport],
    clock: Clock,
    stop: asyncio.Event,
    *,
    idle: float = 1.0,
) -> None:
    """Deliver until ``stop`` is set: at once while there is work, every ``idle``
    seconds otherwise. An error is logged and the loop goes on.

    On SQLite (one process by design) the leases a killed predecessor held are
    released at once; on PostgreSQL, where other workers may hold live leases,
    they run out after ``LEASE``.
    """
    if db.is_sqlite:
        async with db.transaction() as session:
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at > clock.now())
                .values(next_attempt_at=None)
            )
    while not stop.is_set():
        try:
            report = await deliver_pending(db, transports, clock)
            busy = report.sent + report.undeliverable > 0
        except Exception:
            log.exception("outbox delivery failed; trying again")
            busy = False
        if not busy:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), idle)


async def _candidates(
    session: AsyncSession, rows: list[OutboxMessage], platforms: list[str]
) -> dict[int, list[tuple[Recipient, int | None]]]:
    """For each row, where it may go, best first: (recipient, identity id or None)."""
    person_ids = {r.person_id for r in rows if r.person_id is not None}
    people = {
        p.id: p for p in await session.scalars(select(Person).where(Person.id.in_(person_ids)))
    }
    by_person: dict[int, list[tuple[Recipient, int | None]]] = {}
    for ident in await session.scalars(
        select(Identity)
        .where(
            Identity.person_id.in_(person_ids),
            Identity.unreachable.is_(False),
            Identity.platform.in_(platforms),
        )
        .order_by(Identity.last_seen_at.desc(), Identity.id)
    ):
        recipient = Recipient(
            ident.person_id,
            people[ident.person_id].display_name,
            ident.platform,
            ident.user_id,
            ident.chat_id,
        )
        by_person.setdefault(ident.person_id, []).append((recipient, ident.id))
    chat_ids = {r.branch_chat_id for r in rows if r.branch_chat_id is not None}
    chats = {
        c.id: c
        for c in await session.scalars(select(BranchChat).where(BranchChat.id.in_(chat_ids)))
    }
    out: dict[int, list[tuple[Recipient, int | None]]] = {}
    for row in rows:
        if row.person_id is not None and row.to_platform is not None:
            person = people.get(row.person_id)
            out[row.id] = [
                (
                    Recipient(
                        row.person_id,
                        person.display_name if person else "",
                        row.to_platform,
                        row.to_user_id or "",
                        row.to_chat_id or "",
                    ),
                    None,
                )
            ]
        elif row.person_id is not None:
            out[row.id] = by_person.get(row.person_id, [])
        elif row.branch_chat_id in chats:
            chat = chats[row.branch_chat_id]
            out[row.id] = [(Recipient(None, "", chat.platform, "", chat.chat_id), None)]
        elif row.to_platform is not None and row.to_chat_id is not None:
            out[row.id] = [
                (Recipient(None, "", row.to_platform, row.to_user_id or "", row.to_chat_id), None)
            ]
    return out
