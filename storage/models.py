"""SQLAlchemy 2 models: the party's state.

Every timestamp is stored as UTC and read back timezone-aware, on SQLite as on
PostgreSQL (see :class:`UTCDateTime`). Personal data is kept to the minimum the
product needs: a display name, a locale, a time zone, platform ids, and what
the party itself records (branch, dues, roles, consent). Roles, scopes,
statuses and kinds are plain strings, named in :mod:`storage.vocabulary`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy import false as sa_false
from sqlalchemy import true as sa_true
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.vocabulary import INVITED

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC datetime")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Region(Base):
    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    # The places and postcode prefixes it covers, comma separated (bot.branches.founding.Area).
    area: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Branch(Base):
    __tablename__ = "branches"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    # Free text people search by: place names and postcode prefixes.
    area: Mapped[str] = mapped_column(Text, default="")
    timezone: Mapped[str] = mapped_column(String(64))
    # The language its people read unless they or their platform say otherwise
    # (None: the party's); set by its organisers with /branch language.
    language: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    region_id: Mapped[int | None] = mapped_column(
        ForeignKey("regions.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # Formation: when the first online call and first face-to-face meeting were held.
    first_call_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    first_meeting_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Hours before a meeting that those going are reminded, e.g. "24,1".
    meeting_reminders: Mapped[str] = mapped_column(
        String(32), default="24,1", server_default="24,1"
    )


class BranchTransition(Base):
    """One step of a branch's lifecycle, with who made it and when."""

    __tablename__ = "branch_transitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(
        ForeignKey("branches.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str | None] = mapped_column(String(16))
    # The status it moved to, or MERGED: the step where the branch named in
    # ``merged_from`` was merged into this one.
    to_status: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # A step of a branch since merged into this one (or the merge itself): that
    # branch's name. None: a step of this branch.
    merged_from: Mapped[str | None] = mapped_column(String(120))
    # Set when an admin made the step without what it needs (an override), and why.
    reason: Mapped[str | None] = mapped_column(Text)


class Person(Base):
    """One human. Created only once they have accepted the privacy notice."""

    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The short id the bot shows, by which organisers refer to people.
    short_id: Mapped[str] = mapped_column(String(8), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    # The language their platform tells us (Telegram's language_code, Discord's
    # locale), refreshed as they write; "" when it tells none. The language they
    # read is the first the bot speaks of: ``language``, this, their branch's, the
    # party's (bot.kernel.people.reader_language).
    locale: Mapped[str] = mapped_column(String(16), default="")
    # The language they chose with /language (None: none chosen).
    language: Mapped[str | None] = mapped_column(String(16))
    # Their own time zone, set with /timezone (None: their branch's).
    timezone: Mapped[str | None] = mapped_column(String(64))
    branch_id: Mapped[int | None] = mapped_column(
        ForeignKey("branches.id", ondelete="SET NULL"), index=True
    )
    joined_branch_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Dues paid through the end of this day (in the branch's time zone): a Member.
    # None: a Supporter.
    dues_paid_until: Mapped[dt.date | None] = mapped_column(Date)
    # The dues (their last day) this person was reminded to renew: once per date.
    dues_reminded_for: Mapped[dt.date | None] = mapped_column(Date)
    consented_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # One-time code given to someone imported from a membership list, to claim
    # their record from a chat.
    claim_code: Mapped[str | None] = mapped_column(String(16), unique=True)
    # Reminders (canvassing round-ups and the evening before): on unless turned off.
    reminders: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sa_true())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Identity(Base):
    """A platform account (Telegram, Discord, console) belonging to one Person."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("platform", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(64))
    # The chat in which the bot reaches this person privately.
    chat_id: Mapped[str] = mapped_column(String(64))
    handle: Mapped[str | None] = mapped_column(String(64))
    unreachable: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # When /link joined it to a record that had other accounts (None: the first).
    linked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


Index("ix_identities_platform_handle", Identity.platform, Identity.handle)


class Consent(Base):
    """What a person agreed to, which version of the notice, and when."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    notice_version: Mapped[str] = mapped_column(String(16))
    given_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class RoleGrant(Base):
    __tablename__ = "role_grants"
    __table_args__ = (UniqueConstraint("person_id", "role", "scope", "scope_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(16))
    scope_id: Mapped[int] = mapped_column(Integer)
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


Index("ix_role_grants_scope", RoleGrant.scope, RoleGrant.scope_id, RoleGrant.role)


class AuditEntry(Base):
    """Every organiser/admin action: who, what, when, on whom."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("persons.id", ondelete="SET NULL"), index=True
    )
    action: Mapped[str] = mapped_column(String(48))
    subject_id: Mapped[int | None] = mapped_column(
        ForeignKey("persons.id", ondelete="SET NULL"), index=True
    )
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id", ondelete="SET NULL"))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class BranchChat(Base):
    """A group chat or channel where a branch's announcements go."""

    __tablename__ = "branch_chats"
    __table_args__ = (UniqueConstraint("platform", "chat_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(
        ForeignKey("branches.id", ondelete="CASCADE"), index=True
    )
    platform: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    linked_by: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    linked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


ONE_RECIPIENT = (
    "(person_id IS NULL) <> (branch_chat_id IS NULL) OR (person_id IS NULL AND "
    "branch_chat_id IS NULL AND to_platform IS NOT NULL AND to_chat_id IS NOT NULL)"
)


class OutboxMessage(Base):
    """A message to someone other than the person being answered, or to a
    branch's group chat.

    Written in the same transaction as the change that caused it; the
    idempotency key makes a second write of the same message a no-op.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        # A person, a branch's chat, or (neither) an account that is no person: a
        # resident registered for a citizens' assembly (bot.assemblies).
        CheckConstraint(ONE_RECIPIENT, name="one_recipient"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    branch_chat_id: Mapped[int | None] = mapped_column(
        ForeignKey("branch_chats.id", ondelete="CASCADE")
    )
    # Who a message to others is about ("Zed accepted a place"): their /mydata
    # lists it and their /forget erases their name from it.
    about_id: Mapped[int | None] = mapped_column(
        ForeignKey("persons.id", ondelete="SET NULL"), index=True
    )
    text: Mapped[str] = mapped_column(Text)
    buttons: Mapped[list[list[list[str]]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # After a temporary failure, not before this (backing off).
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # An attachment (a results chart, a calendar file), sent with the text.
    file_name: Mapped[str | None] = mapped_column(String(120))
    file_type: Mapped[str | None] = mapped_column(String(64))
    file_data: Mapped[bytes | None] = mapped_column(LargeBinary)
    # To one account of the person rather than their last used one (a link to
    # confirm, a notice that an account was linked or unlinked).
    to_platform: Mapped[str | None] = mapped_column(String(16))
    to_user_id: Mapped[str | None] = mapped_column(String(64))
    to_chat_id: Mapped[str | None] = mapped_column(String(64))


Index("ix_outbox_status_id", OutboxMessage.status, OutboxMessage.id)
Index("ix_outbox_person_id", OutboxMessage.person_id)


class Prompt(Base):
    """State behind a button that needs more than an id (a place to propose,
    an undo, a confirmation). Buttons carry the prompt's id; only its owner may
    press it, once, before it expires."""

    __tablename__ = "prompts"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    # Before consent there is no Person: the platform identity owns the prompt.
    owner_key: Mapped[str] = mapped_column(String(96))
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class ErasureCount(Base):
    """Anonymous counts kept after people ask to be forgotten."""

    __tablename__ = "erasure_counts"

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id", ondelete="SET NULL"))
    was_member: Mapped[bool] = mapped_column(Boolean)
    # Only the month: an exact time could be matched against the audit log.
    month: Mapped[str] = mapped_column(String(7))


# --- Canvassing ---------------------------------------------------------------------


class Announcement(Base):
    """An organiser's message to the people of a branch, a region or the nation:
    a draft until its author presses Send (``sent_at``); Cancel deletes it, and so
    does the next /announce once it is two days old."""

    __tablename__ = "announcements"

    id: Mapped[int] = mapped_column(primary_key=True)
    # SCOPE_BRANCH (scope_id: the branch), SCOPE_REGION (the region) or
    # SCOPE_NATIONAL (NATIONAL_SCOPE_ID).
    scope: Mapped[str] = mapped_column(String(16))
    scope_id: Mapped[int] = mapped_column(Integer)
    # Who it is for: everyone, members, supporters, canvassers (bot.announcements.rules).
    audience: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("persons.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # How many people (privately) and group chats it was queued for when sent.
    people: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    chats: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


Index("ix_announcements_scope", Announcement.scope, Announcement.scope_id)


class AnnouncementOptOut(Base):
    """A person who does not want announcements from one level (branch, region,
    nation), or meeting reminders (level MEETING_REMINDERS). Only the turning off
    is stored: no row, announcements (and reminders) on."""

    __tablename__ = "announcement_opt_outs"
    __table_args__ = (UniqueConstraint("person_id", "level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    # SCOPE_BRANCH, SCOPE_REGION, SCOPE_NATIONAL, or MEETING_REMINDERS
    level: Mapped[str] = mapped_column(String(16))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class CanvassSlot(Base):
    """A weekly canvassing session of a branch: a weekday and a local time."""

    __tablename__ = "canvass_slots"

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(
        ForeignKey("branches.id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int] = mapped_column(Integer)  # 0 Monday .. 6 Sunday
    local_time: Mapped[str] = mapped_column(String(5))  # HH:MM in the branch's time zone
    meeting_point: Mapped[str] = mapped_column(String(200))
    capacity: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    removed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class CanvassSession(Base):
    """One dated canvassing session (an occurrence of a slot), in UTC."""

    __tablename__ = "canvass_sessions"
    __table_args__ = (UniqueConstraint("slot_id", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(
        ForeignKey("branches.id", ondelete="CASCADE"), index=True
    )
    slot_id: Mapped[int | None] = mapped_column(ForeignKey("canvass_slots.id", ondelete="SET NULL"))
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    meeting_point: Mapped[str] = mapped_column(String(200))
    capacity: Mapped[int | None] = mapped_column(Integer)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Set on the daily sessions a campaign adds.
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )


class CanvassSignup(Base):
    """A person going to (or waiting for a place at) a session."""

    __tablename__ = "canvass_signups"
    __table_args__ = (UniqueConstraint("session_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("canvass_sessions.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class CanvassAttendance(Base):
    """Someone who came to a canvassing session: checked in themselves ("I'm here")
    while it ran, or marked present by an organiser (``marked_by``)."""

    __tablename__ = "canvass_attendance"
    __table_args__ = (UniqueConstraint("session_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("canvass_sessions.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    marked_by: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class CanvassResult(Base):
    """What a session achieved: totals and the issues voters raised, as tags.
    Never a voter's identity or opinion."""

    __tablename__ = "canvass_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("canvass_sessions.id", ondelete="CASCADE"), unique=True
    )
    people_out: Mapped[int] = mapped_column(Integer)
    doors: Mapped[int] = mapped_column(Integer)
    conversations: Mapped[int] = mapped_column(Integer)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Campaign(Base):
    """An election campaign: daily sessions and more reminders until polling day."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    scope: Mapped[str] = mapped_column(String(16))
    scope_id: Mapped[int] = mapped_column(Integer)
    polling_day: Mapped[dt.date] = mapped_column(Date)
    started_by: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    stopped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


# --- One person across platforms --------------------------------------------------------


class CalendarFeed(Base):
    """A person's private calendar feed (/calendar): the meetings and canvassing
    sessions they are going to, at a URL holding an unguessable token.

    Only a hash of the token is kept: the URL exists in the person's chat (and
    their calendar app); /calendar new replaces it, /calendar stop revokes it.
    """

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("persons.id", ondelete="CASCADE"), unique=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class LinkCode(Base):
    """A one-time code that joins a second platform account to a Person (/link).

    Only a hash of the code is kept: the code itself exists only in the chat
    where it was given, for ten minutes.
    """

    __tablename__ = "link_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    # The platform it was asked for on; it is entered on another one.
    platform: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class LinkFailure(Base):
    """A wrong /link code, by platform account: a few an hour are allowed."""

    __tablename__ = "link_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_key: Mapped[str] = mapped_column(String(96))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


Index("ix_link_failures_owner_at", LinkFailure.owner_key, LinkFailure.at)


class AdminCode(Base):
    """A one-time code that makes whoever sends it (/claim) a national admin.

    Printed once by ``organiser init`` or ``organiser admin add``; only its hash is kept.
    """

    __tablename__ = "admin_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    note: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Meta(Base):
    """Small facts the bot keeps about itself, e.g. the hash of the Discord
    command list last published (so that an unchanged list is not synced again)."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


# --- Meetings -------------------------------------------------------------------------


class Meeting(Base):
    """A branch meeting: an online call, a face-to-face meeting, or a local
    people's assembly (open to every resident, so anyone may answer)."""

    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(
        ForeignKey("branches.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    minutes_long: Mapped[int] = mapped_column(Integer, default=120)
    # An address for a face-to-face meeting, a link for an online call.
    place: Mapped[str] = mapped_column(Text, default="")
    capacity: Mapped[int | None] = mapped_column(Integer)
    # Meetings of one recurring series share the first one's id.
    series_id: Mapped[int | None] = mapped_column(Integer, index=True)
    recurrence: Mapped[str | None] = mapped_column(String(16))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    held_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # What was decided, recorded afterwards by an organiser.
    minutes: Mapped[str | None] = mapped_column(Text)
    minutes_by: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    # Bumped by every edit, so that "it changed" is told once per change.
    version: Mapped[int] = mapped_column(Integer, default=1)
    # People who came without being on the list (counted, not named).
    guests: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class MeetingAttendance(Base):
    """Someone an organiser saw at a meeting (confirmed at the door)."""

    __tablename__ = "meeting_attendance"
    __table_args__ = (UniqueConstraint("meeting_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    marked_by: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class MeetingRsvp(Base):
    __tablename__ = "meeting_rsvps"
    __table_args__ = (UniqueConstraint("meeting_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    answer: Mapped[str] = mapped_column(String(16))
    answered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


# --- Polls ----------------------------------------------------------------------------


class Poll(Base):
    """A question put to the members (or, with ``everyone``, to supporters too)
    of a branch, a region or the party."""

    __tablename__ = "polls"

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))
    scope_id: Mapped[int] = mapped_column(Integer)
    question: Mapped[str] = mapped_column(Text)
    options: Mapped[list[str]] = mapped_column(JSON)
    kind: Mapped[str] = mapped_column(String(16))
    secret: Mapped[bool] = mapped_column(Boolean, default=False)
    everyone: Mapped[bool] = mapped_column(Boolean, default=False)
    # Open ballots: results shown while voting (else at close).
    live: Mapped[bool] = mapped_column(Boolean, default=False)
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    closes_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    reminded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # A secret poll: when its tables were vacuumed after the close (the rows
    # written while it was open gone from the pages).
    vacuumed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    # The count, fixed at close.
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # A meeting-time poll: the meeting made from it.
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id", ondelete="SET NULL"))
    # Decision rules (bot.lib.voting.decide): the share of the roll that must vote
    # ("1/2"), the share of the counted votes the motion needs ("majority", "2/3"),
    # and whether the last option is an abstention (a proposal's Abstain is fixed).
    quorum: Mapped[str | None] = mapped_column(String(16))
    threshold: Mapped[str | None] = mapped_column(String(16))
    abstain: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())


class PollVoter(Base):
    """The electoral roll, fixed when the poll opens, and who has voted.

    No time of voting is kept: for a secret ballot, nothing here may be joined
    with the ballots. A voter who /forgets keeps an anonymous place (no
    person), so that the turnout and a closed result stay as they were.
    """

    __tablename__ = "poll_voters"
    __table_args__ = (UniqueConstraint("poll_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    voted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())


class Ballot(Base):
    """An open ballot: whose it is (nobody's once the voter has /forgotten),
    and their latest choice."""

    __tablename__ = "ballots"
    __table_args__ = (UniqueConstraint("poll_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    # Option indices: one (single), any (multi), in order of preference (ranked).
    choice: Mapped[list[int]] = mapped_column(JSON)
    cast_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # A proposal's one-line reason, given after the vote (open ballots only: a
    # secret ballot is never asked for one).
    reason: Mapped[str | None] = mapped_column(Text)


class SecretBallot(Base):
    """A secret ballot: the choice alone, sealed (:mod:`bot.polls.ballot_box`) under a
    key the database does not hold. Its key is random (not a sequence) and it has
    no time, so neither order nor time can tie it to a voter; the close writes
    every ballot anew (:func:`bot.polls.closing.reshuffle`)."""

    __tablename__ = "secret_ballots"
    # SQLite: no hidden rowid, whose order would be the order of voting.
    __table_args__ = ({"sqlite_with_rowid": False},)

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"), index=True)
    # None: a ballot of a poll closed before ballots were sealed (migration 0014
    # dropped its plain choice; the result was fixed at the close).
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary)


# --- Sortition ------------------------------------------------------------------------


class SortitionProfile(Base):
    """A member's consent to be drawn by lot, and the features they declared
    (every one may be "prefer not to say")."""

    __tablename__ = "sortition_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("persons.id", ondelete="CASCADE"), unique=True
    )
    opted_in: Mapped[bool] = mapped_column(Boolean, default=True)
    features: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Draw(Base):
    """One lottery for a body (a council or a delegation): committed first (its
    record published), drawn when the seed is known. A replacement after a
    decline is a draw of its own with ``round`` > 0 and the original as parent.
    ``respond_by - created_at`` is the time each invitation gives to answer,
    counted from when the draw is made."""

    __tablename__ = "draws"

    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(String(32))
    scope: Mapped[str] = mapped_column(String(16))
    scope_id: Mapped[int] = mapped_column(Integer)
    seats: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="committed")
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    record_hash: Mapped[str] = mapped_column(String(64))
    seed_due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    seed: Mapped[str | None] = mapped_column(Text)
    # Seeds entered so far, [{"person": id, "seed": text}]: two witnesses must agree
    # on a lottery's or a beacon's numbers.
    witnesses: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    chosen_index: Mapped[int | None] = mapped_column(Integer)
    round: Mapped[int] = mapped_column(Integer, default=0)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("draws.id", ondelete="CASCADE"))
    # A delegation is one draw per sending branch (or region), committed and
    # seeded together: each names the first of them as its group.
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("draws.id", ondelete="CASCADE"), index=True
    )
    # When the organisers were told that the seed is due (once), and when the
    # bot saw a beacon's round still unpublished after the commitment.
    seed_reminded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    beacon_pending_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # A beacon's round as drand published it (chain, round, signature, previous
    # signature): the seed is its randomness, checkable offline (bot.lib.sortition.beacons).
    seed_proof: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    respond_by: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    drawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


# Draw shopping: a body has at most one draw committed and waiting for its seed
# (replacement rounds are drawn at once and never wait).
PENDING_DRAW = "status = 'committed' AND round = 0"
Index(
    "uq_draws_one_pending",
    Draw.body,
    Draw.scope,
    Draw.scope_id,
    unique=True,
    sqlite_where=text(PENDING_DRAW),
    postgresql_where=text(PENDING_DRAW),
)


class DrawEntrant(Base):
    """Who is behind each pseudonymous id of a draw's pool (never published)."""

    __tablename__ = "draw_entrants"
    __table_args__ = (UniqueConstraint("draw_id", "pseudonym"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("draws.id", ondelete="CASCADE"), index=True)
    pseudonym: Mapped[str] = mapped_column(String(16))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)


class Invitation(Base):
    __tablename__ = "invitations"
    __table_args__ = (UniqueConstraint("draw_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("draws.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=INVITED)
    respond_by: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class CouncilSeat(Base):
    """A place on a body, taken by accepting an invitation; past seats make
    people sit out the rotation period."""

    __tablename__ = "council_seats"

    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(String(32))
    scope: Mapped[str] = mapped_column(String(16))
    scope_id: Mapped[int] = mapped_column(Integer)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    draw_id: Mapped[int | None] = mapped_column(ForeignKey("draws.id", ondelete="SET NULL"))
    since: Mapped[dt.datetime] = mapped_column(UTCDateTime())


# --- Citizens' assemblies of residents -------------------------------------------------


class Assembly(Base):
    """A citizens' assembly: a panel of *residents* of an area (not members)
    drawn to mirror its population. ``code`` is the public registration link's;
    ``categories`` what residents declare ([{"name", "values"}]), ``targets`` the
    census shares per category value ({category: {value: share}}), ``details``
    what those selected are told (place, expenses, childcare)."""

    __tablename__ = "assemblies"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    scope: Mapped[str] = mapped_column(String(16))  # who organises it: branch, region, national
    scope_id: Mapped[int] = mapped_column(Integer)
    area: Mapped[str] = mapped_column(Text)  # postcode prefixes and places (branches.rules.Area)
    seats: Mapped[int] = mapped_column(Integer)
    sits_from: Mapped[dt.date] = mapped_column(Date)
    sits_until: Mapped[dt.date] = mapped_column(Date)
    register_by: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    timezone: Mapped[str] = mapped_column(String(64))
    categories: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    targets: Mapped[dict[str, dict[str, float]]] = mapped_column(JSON, default=dict)
    tolerance: Mapped[int] = mapped_column(Integer, default=1)
    details: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    retention_days: Mapped[int] = mapped_column(Integer, default=90)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # When the registrants' personal data was deleted (the retention period after it sat).
    purged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class AssemblyRegistrant(Base):
    """A resident registered for one assembly. Keyed to the platform account
    that registered (the least needed to reach them): no Person, no name, no
    postcode kept; ``household`` is a keyed hash of the address (one a household
    may be drawn), never shown."""

    __tablename__ = "assembly_registrants"
    __table_args__ = (UniqueConstraint("assembly_id", "platform", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assembly_id: Mapped[int] = mapped_column(
        ForeignKey("assemblies.id", ondelete="CASCADE"), index=True
    )
    platform: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(16), default="en")
    answers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    household: Mapped[str] = mapped_column(String(64))
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    notice_version: Mapped[str] = mapped_column(String(16))
    consented_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


Index("ix_assembly_registrants_account", AssemblyRegistrant.platform, AssemblyRegistrant.user_id)


class AssemblyDraw(Base):
    """An assembly's panel drawn by lot: previewed, committed (its record
    published), drawn with the public seed. Same record and rules as a council's
    draw (bot.lib.sortition), with census quotas and one person a household."""

    __tablename__ = "assembly_draws"

    id: Mapped[int] = mapped_column(primary_key=True)
    assembly_id: Mapped[int] = mapped_column(
        ForeignKey("assemblies.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    record_hash: Mapped[str] = mapped_column(String(64))
    seed_due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    seed: Mapped[str | None] = mapped_column(Text)
    witnesses: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    chosen_index: Mapped[int | None] = mapped_column(Integer)
    answer_within_hours: Mapped[int] = mapped_column(Integer, default=168)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    drawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


# An assembly has one draw committed or drawn (a trial or a cancelled one aside).
LIVE_ASSEMBLY_DRAW = "status IN ('committed', 'drawn')"
Index(
    "uq_assembly_draws_one_live",
    AssemblyDraw.assembly_id,
    unique=True,
    sqlite_where=text(LIVE_ASSEMBLY_DRAW),
    postgresql_where=text(LIVE_ASSEMBLY_DRAW),
)


class AssemblyEntrant(Base):
    """Who is behind each pseudonym of an assembly draw's record (never published)."""

    __tablename__ = "assembly_entrants"
    __table_args__ = (UniqueConstraint("draw_id", "pseudonym"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(
        ForeignKey("assembly_draws.id", ondelete="CASCADE"), index=True
    )
    pseudonym: Mapped[str] = mapped_column(String(16))
    registrant_id: Mapped[int] = mapped_column(
        ForeignKey("assembly_registrants.id", ondelete="CASCADE"), index=True
    )


class AssemblyInvitation(Base):
    """An invitation to sit on an assembly's panel: Accept or Decline by the
    resident invited, reminders, silence at the deadline a decline."""

    __tablename__ = "assembly_invitations"
    __table_args__ = (UniqueConstraint("draw_id", "registrant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(
        ForeignKey("assembly_draws.id", ondelete="CASCADE"), index=True
    )
    registrant_id: Mapped[int] = mapped_column(
        ForeignKey("assembly_registrants.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default=INVITED)
    respond_by: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
