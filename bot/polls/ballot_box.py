"""The ballot box: a secret choice sealed under a key the database never holds.

What each party holds, and so what it can learn:

* **The database** (anyone with SELECT, a ``pg_dump``, a copy of the SQLite
  file) holds each secret ballot sealed with AES-256-GCM: a random nonce, the
  choice padded to one length whatever it is, and the poll's id as associated
  data (a blob cannot be moved to another poll). Without the key it reads as
  random bytes of one size.
* **The key** is ``polls.ballot_key`` (``ORGANISER_POLLS_BALLOT_KEY``): 32
  random bytes in base64, kept in the configuration, never in the database. On
  SQLite without a configured key, one is made beside the database file
  (``organiser.db.ballot-key``, mode 0600); an in-memory database has a random
  key for the life of the process. PostgreSQL has no default: ``organiser run``
  stops and says so. Every worker must share the key.
* **The platform** sees the data of each button pressed. On a secret ballot
  those data are per-voter tokens (AES-SIV, deterministic: the same state
  gives the same button) under a key derived from the ballot key, bound to the
  poll and the voter; they name no option that the platform could compare
  across voters, and a token pressed by anyone else does not decode.

Two keys are derived from the configured one with HKDF-SHA256, one per use.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import threading
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

from bot.kernel.config import Settings

KEY_FILE_SUFFIX = ".ballot-key"
CAPACITY = 20  # options a choice may name (bot.polls.rules.MAX_OPTIONS)
PLAIN = 1 + CAPACITY  # a length byte, then one byte an option, zero-padded
NONCE = 12
SEALED = NONCE + PLAIN + 16  # every sealed ballot is this long
TOKEN_PLAIN = 21  # a length byte and a payload (a mask or a ranking) of up to 20, padded


class BallotKeyMissing(Exception):
    """No ballot key is configured where none can be made (PostgreSQL)."""


class BallotBox:
    """Seals and opens ballots, makes and reads button tokens, with one key."""

    def __init__(self, master: bytes) -> None:
        if len(master) != 32:
            raise ValueError("a ballot key is 32 bytes")
        self._seal = AESGCM(_derive(master, b"secret ballots: sealed choices", 32))
        self._siv = AESSIV(_derive(master, b"secret ballots: button tokens", 64))

    def seal(self, poll_id: int, choice: Sequence[int]) -> bytes:
        if not 0 < len(choice) <= CAPACITY or any(not 0 <= i < 256 for i in choice):
            raise ValueError("not a choice")
        plain = bytes([len(choice), *choice]).ljust(PLAIN, b"\0")
        nonce = os.urandom(NONCE)
        return nonce + self._seal.encrypt(nonce, plain, _poll_aad(poll_id))

    def open(self, poll_id: int, sealed: bytes) -> list[int]:
        """The choice in a sealed ballot; ValueError if it was not sealed for this poll."""
        sealed = bytes(sealed)
        try:
            plain = self._seal.decrypt(sealed[:NONCE], sealed[NONCE:], _poll_aad(poll_id))
        except InvalidTag:
            raise ValueError("this ballot was not sealed for this poll with this key") from None
        return list(plain[1 : 1 + plain[0]])

    def token(self, poll_id: int, person_id: int, payload: str) -> str:
        """Button data for ``payload`` (ASCII, short) that only this voter's press opens."""
        raw = payload.encode("ascii")
        if len(raw) > TOKEN_PLAIN - 1:
            raise ValueError("payload too long")
        padded = bytes([len(raw)]) + raw.ljust(TOKEN_PLAIN - 1, b"\0")
        sealed = self._siv.encrypt(padded, [_voter_aad(poll_id, person_id)])
        return base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def untoken(self, poll_id: int, person_id: int, token: str) -> str | None:
        """The payload of a token, or None if it is not this voter's for this poll."""
        try:
            sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            padded = self._siv.decrypt(sealed, [_voter_aad(poll_id, person_id)])
            return padded[1 : 1 + padded[0]].decode("ascii")
        except (InvalidTag, ValueError, binascii.Error, IndexError):
            return None


def _derive(master: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(master)


def _poll_aad(poll_id: int) -> bytes:
    return f"poll {poll_id}".encode()


def _voter_aad(poll_id: int, person_id: int) -> bytes:
    return f"poll {poll_id} voter {person_id}".encode()


def decode_key(text: str) -> bytes:
    return base64.b64decode(text.strip().replace("-", "+").replace("_", "/"), validate=True)


_lock = threading.Lock()
_memory_key: bytes | None = None
_boxes: dict[bytes, BallotBox] = {}


def key_file(url: URL) -> Path | None:
    """Where a SQLite database's own ballot key lives (None: in memory, or not SQLite)."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(f"{url.database}{KEY_FILE_SUFFIX}")


def master_key(settings: Settings, url: URL) -> bytes:
    """The configured key; else a SQLite database's key file (made on first use);
    else, in memory, one random key for this process."""
    global _memory_key
    if settings.polls_ballot_key:
        return decode_key(settings.polls_ballot_key)
    if url.get_backend_name() != "sqlite":
        raise BallotKeyMissing(
            "polls.ballot_key is not set: secret ballots on PostgreSQL need a key kept "
            "outside the database. Make one with `openssl rand -base64 32` and give every "
            "worker the same ORGANISER_POLLS_BALLOT_KEY (and keep it out of the backups)."
        )
    path = key_file(url)
    with _lock:
        if path is None:
            if _memory_key is None:
                _memory_key = secrets.token_bytes(32)
            return _memory_key
        return _file_key(path)


def _file_key(path: Path) -> bytes:
    if not path.exists():
        # Written aside and linked into place: two processes starting at once
        # agree on one key, and nobody reads a half-written file.
        spare = path.with_name(f"{path.name}.{secrets.token_hex(4)}")
        fd = os.open(spare, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
        try:
            os.link(spare, path)
        except FileExistsError:
            pass
        finally:
            spare.unlink()
    return decode_key(path.read_text())


def box(settings: Settings, session: AsyncSession) -> BallotBox:
    """The ballot box for the database this session talks to."""
    master = master_key(settings, session.get_bind().engine.url)
    with _lock:
        found = _boxes.get(master)
        if found is None:
            found = _boxes[master] = BallotBox(master)
        return found


def check_configured(settings: Settings, url: URL) -> str | None:
    """Why secret ballots could not be sealed here (None: they can). For start-up."""
    try:
        master_key(settings, url)
    except BallotKeyMissing as exc:
        return str(exc)
    except (ValueError, OSError) as exc:
        return f"the ballot key cannot be read: {exc}"
    return None
