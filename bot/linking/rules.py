"""Linking's rules: what a link code looks like and how long it lasts, how many
codes and wrong guesses are allowed, which of two records is kept when they
become one and what it keeps of the other, and when a newly linked account may
unlink the older ones. No database, no request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from bot.kernel.people import SHORT_ID_ALPHABET
from storage.models import Identity, Person

CODE_LENGTH = 8  # 32**8: about 10**12 codes
CODE_LIFETIME = dt.timedelta(minutes=10)
FAILURES_ALLOWED = 5  # wrong codes per account ...
FAILURE_WINDOW = dt.timedelta(hours=1)  # ... in this time
CODES_ALLOWED = 5  # codes a person may ask for ...
CODE_WINDOW = dt.timedelta(hours=1)  # ... in this time
# What people mistype for Crockford base32 digits.
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1", "U": "V"})
UNLINK_WAIT = dt.timedelta(days=7)  # before a newly linked account may unlink older ones


def new_code() -> str:
    """A code to show: eight characters in two groups, e.g. ``7KQ2-M9XD``.

    From ``secrets``, never from the bot's seeded random source: whoever could
    reproduce that source (it also makes short ids and trial draws) must not be
    able to compute someone's code.
    """
    raw = "".join(secrets.choice(SHORT_ID_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def normalise_code(text: str) -> str | None:
    """The code as typed (any case, with or without the dash or spaces), or None."""
    raw = "".join(text.split()).replace("-", "").upper().translate(_READ_AS)
    if len(raw) != CODE_LENGTH or any(ch not in SHORT_ID_ALPHABET for ch in raw):
        return None
    return raw


def code_hash(raw: str) -> str:
    return hashlib.sha256(f"link:{raw}".encode()).hexdigest()


def older_membership(a: Person, b: Person) -> tuple[Person, Person]:
    """(keep, drop): the record whose branch membership is older is kept; with
    no membership on either side, the older record."""

    def age(p: Person) -> tuple[int, dt.datetime, int]:
        joined = p.joined_branch_at if p.branch_id is not None else None
        return (0 if joined is not None else 1, joined or p.created_at, p.id)

    return (a, b) if age(a) <= age(b) else (b, a)


def merged_dues_and_consent(
    keep: Person, drop: Person
) -> tuple[dt.date | None, dt.datetime | None]:
    """What the kept record holds once ``drop`` is merged into it: the longer
    dues, and the earlier consent."""
    dues, consented = keep.dues_paid_until, keep.consented_at
    if drop.dues_paid_until is not None and (dues is None or drop.dues_paid_until > dues):
        dues = drop.dues_paid_until
    if consented is None or (drop.consented_at is not None and drop.consented_at < consented):
        consented = drop.consented_at
    return dues, consented


def may_unlink(identity: Identity, since: dt.datetime | None, now: dt.datetime) -> bool:
    """May the account linked at ``since`` unlink ``identity``? A link made with a
    stolen code must not lock the owner out: for a week the new account cannot
    unlink the older ones (they can unlink it)."""
    return not (
        since is not None
        and now < since + UNLINK_WAIT
        and (identity.linked_at is None or identity.linked_at < since)
    )
