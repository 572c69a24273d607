"""What an announcement is and where it goes, as plain decisions: reading
/announce's words, the limits on its text, whether it goes to group chats or
privately, and the days and months its audience is counted on."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from storage.vocabulary import SCOPE_BRANCH, SCOPE_NATIONAL, SCOPE_REGION

# Who an announcement is for.
EVERYONE, MEMBERS, SUPPORTERS, CANVASSERS = "everyone", "members", "supporters", "canvassers"
AUDIENCES = (EVERYONE, MEMBERS, SUPPORTERS, CANVASSERS)
LEVELS = (SCOPE_BRANCH, SCOPE_REGION, SCOPE_NATIONAL)
# The words /announce takes for a level ("nation" is read as "national").
_LEVEL_WORDS = {"branch": SCOPE_BRANCH, "region": SCOPE_REGION, "national": SCOPE_NATIONAL}
_LEVEL_WORDS["nation"] = SCOPE_NATIONAL

# An announcement's text fits one Discord message (2,000 characters) with the
# heading above it; Telegram takes 4,096.
MAX_TEXT = 1800
# A preview left unsent this long can no longer be sent.
DRAFT_LIFETIME = dt.timedelta(days=2)

# Why /announce's words are refused.
EMPTY, TOO_LONG = "empty", "too long"


@dataclass(frozen=True, slots=True)
class Asked:
    """What /announce asked for: the level (None: the sender's branch), the branch or
    region named after it (empty: the sender's own), the audience and the text."""

    level: str | None
    name: str
    audience: str
    text: str


def read_announce(args: str) -> Asked:
    """Read ``[branch <name>|region [<name>]|national] [<audience>]: <text>``.

    Words before the first colon are read as the level and audience only when
    they start with one of those words; otherwise everything is the text
    ("Reminder: bring leaflets" is one sentence)."""
    head, colon, rest = args.partition(":")
    words = head.split()
    if colon and words and (words[0].lower() in _LEVEL_WORDS or words[0].lower() in AUDIENCES):
        audience = EVERYONE
        if words[-1].lower() in AUDIENCES:
            audience = words.pop().lower()
        level = _LEVEL_WORDS.get(words[0].lower()) if words else None
        name = " ".join(words[1:]) if words else ""
        if words and level is None:  # an audience word followed by more words
            return Asked(None, "", audience, args.strip())
        return Asked(level, name, audience, rest.strip())
    return Asked(None, "", EVERYONE, args.strip())


def text_problem(text: str) -> str | None:
    """Why this text cannot be announced (EMPTY, TOO_LONG), or None."""
    if not text.strip():
        return EMPTY
    if len(text) > MAX_TEXT:
        return TOO_LONG
    return None


def to_chats(audience: str, linked_chats: int) -> bool:
    """Whether a branch's copy goes to its linked group chats rather than to each
    person privately: only an announcement for everyone, since a group chat holds
    members and supporters alike, and only where the branch has a chat."""
    return audience == EVERYONE and linked_chats > 0


def local_day(now: dt.datetime, timezone: str) -> dt.date:
    """The day it is in a branch's time zone: dues paid through it make a Member
    (as bot.kernel.permissions.is_member counts)."""
    return now.astimezone(ZoneInfo(timezone)).date()


def this_month(now: dt.datetime, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """The start of this month and of the next, in a branch's time zone, as UTC
    instants: those signed up to a session between them canvass this month."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    start = dt.datetime(local.year, local.month, 1, tzinfo=zone)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    end = dt.datetime(year, month, 1, tzinfo=zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def may_still_send(created_at: dt.datetime, now: dt.datetime) -> bool:
    return now - created_at < DRAFT_LIFETIME
