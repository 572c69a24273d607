"""Logging for ``organiser``: one handler, and nothing secret written through it.

The first line of defence is not logging secrets or message text at all: our
log calls name updates, interactions, requests and outbox rows by id, and the
chatty libraries (httpx and httpcore, which log every Telegram API URL with its
token at INFO; aiosqlite; SQLAlchemy's engine) are held at WARNING whatever the
level. The engines hide bound parameters (``storage.db``), so an SQL error
names its statement but no value.

The second line is :class:`Redactor`, a filter on the handler: every configured
secret (bot tokens, the webhook secret, the database password: see
:func:`secrets_of`) and anything shaped like a Telegram bot token is replaced
by ``[redacted]`` in the message, its arguments, the traceback and the stack,
before anything is written.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from types import TracebackType
from typing import TextIO

from bot.kernel.config import Settings

REDACTED = "[redacted]"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Telegram bot tokens (<bot id>:<35 characters>), also inside /bot<token>/ URLs.
TOKEN_SHAPED = re.compile(r"\b\d{3,}:[A-Za-z0-9_-]{30,}")
BOT_URL = re.compile(r"(/(?:file/)?bot)\d+:[^/\s\"']+(?=/)")
SHORTEST_SECRET = 4  # a shorter "secret" would redact ordinary words

# Loggers that would write secrets or people's words at INFO or DEBUG.
QUIET = ("httpx", "httpcore", "aiosqlite", "sqlalchemy.engine", "sqlalchemy.pool")
# Libraries' own start-up chatter, logged at INFO as they are imported (which the
# commands that need them do after logging is set up).
CHATTY_AT_IMPORT = ("alembic.runtime.plugins",)
# Every run of every scheduled job, at INFO. A failure is logged by bot.kernel.timed, a
# run missed or skipped by APScheduler at WARNING.
ROUTINE = ("apscheduler.executors",)


def secrets_of(settings: Settings) -> list[str]:
    """Every secret in the configuration: what the redactor must never let through."""
    found = [
        settings.telegram_token,
        settings.telegram_secret_token,
        settings.discord_token,
        settings.polls_ballot_key,
    ]
    if ":" in settings.telegram_token:  # the part after the bot id is the secret part
        found.append(settings.telegram_token.split(":", 1)[1])
    password = None
    if "@" in settings.database_url:  # else no user part, no password (and no SQLAlchemy yet)
        from sqlalchemy.engine import make_url

        try:
            password = make_url(settings.database_url).password
        except Exception:  # a bad URL is refused later, with its own message
            password = None
    if password:
        found.append(str(password))
    return [s for s in found if len(s) >= SHORTEST_SECRET]


class Redactor(logging.Filter):
    """Replaces secrets in a record before any handler formats it."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Longest first, so that a secret containing another goes whole.
        self.secrets = sorted({s for s in secrets if len(s) >= SHORTEST_SECRET}, key=len)[::-1]

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        text = BOT_URL.sub(r"\1" + REDACTED, text)
        return TOKEN_SHAPED.sub(REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what there is
            message = str(record.msg)
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def setup_logging(
    level: str, secrets: Iterable[str] = (), *, stream: TextIO | None = None
) -> logging.Handler:
    """One handler on the root logger (replacing any), at ``level``, redacting ``secrets``;
    warnings and an uncaught exception's traceback are logged through it too.
    Returns the handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(Redactor(secrets))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in (*QUIET, *CHATTY_AT_IMPORT, *ROUTINE):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    return handler


def _log_uncaught(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    """A crash's traceback goes through the redacting handler, not straight to stderr."""
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, exc, tb)
        return
    logging.getLogger("organiser").critical("stopped by an error", exc_info=(kind, exc, tb))
