"""Sign-up links: how a leaflet, a post or a QR code brings newcomers to the bot.

A Telegram deep link ``https://t.me/<bot>?start=<payload>`` opens the bot and
sends ``/start <payload>``. The payload is ``join`` for the whole party (the
newcomer is asked where they live and lands in the branch covering it), or
``join-<branch slug>`` for one branch (``join_<branch id>`` when the slug is
not one Telegram allows). Telegram allows 1-64 characters of A-Z, a-z, 0-9, _
and - in a payload.

The core knows a platform's link only when its adapter tells it (the Telegram
adapter learns the bot's username from getMe at start-up); the Discord invite
comes from configuration. Nothing here knows a platform's library.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass

import segno

from storage.models import Branch

log = logging.getLogger(__name__)

START_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")  # Telegram's rule for ?start=
TELEGRAM_USERNAME = re.compile(r"[A-Za-z0-9_]{1,64}")
PARTY_PAYLOAD = "join"
BRANCH_PREFIX = "join-"  # join-<branch slug>
BRANCH_ID_PREFIX = "join_"  # join_<branch id>, for a slug Telegram does not allow
QR_SCALE = 12  # pixels a module: a sharp print at leaflet size
QR_BORDER = 4  # modules of quiet zone, as the standard asks


@dataclass
class Links:
    """How people reach the bot on each platform, as the adapters learn it."""

    telegram_username: str | None = None

    def learn_telegram(self, username: str | None) -> None:
        """The Telegram adapter's bot username, from getMe at start-up."""
        if username and TELEGRAM_USERNAME.fullmatch(username):
            self.telegram_username = username
        else:
            log.warning("telegram: the bot has no username; /signup gives no Telegram link")

    def telegram(self, payload: str) -> str | None:
        """The deep link that starts the bot with ``payload``, if the bot's name is known."""
        if not START_PAYLOAD.fullmatch(payload):
            raise ValueError(f"not a Telegram start payload: {payload!r}")
        if self.telegram_username is None:
            return None
        return f"https://t.me/{self.telegram_username}?start={payload}"


def branch_payload(branch: Branch) -> str:
    """The start payload that joins ``branch``: its slug where Telegram allows it."""
    by_slug = BRANCH_PREFIX + branch.slug
    if START_PAYLOAD.fullmatch(by_slug):
        return by_slug
    return f"{BRANCH_ID_PREFIX}{branch.id}"


def qr_png(link: str) -> bytes:
    """A QR code of ``link`` as a black-on-white PNG, ready to print."""
    code = segno.make_qr(link, error="m")
    out = io.BytesIO()
    code.save(out, kind="png", scale=QR_SCALE, border=QR_BORDER)
    return out.getvalue()
