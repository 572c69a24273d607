"""Settings: ``config.toml`` (every key documented in ``config.example.toml``),
overridden by environment variables ``ORGANISER_<SECTION>_<KEY>`` (for secrets).

A bad or missing key stops start-up with one line naming the key.
"""

from __future__ import annotations

import base64
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_PATH = Path("config.toml")


class ConfigError(Exception):
    """A configuration problem, said in one line that names the key."""


def _timezone(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be an IANA time zone name such as Europe/London")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not a known time zone (e.g. Europe/London)") from None
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be text in quotes")
    return value


def _nonempty(value: Any) -> str:
    value = _text(value)
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _language(value: Any) -> str:
    """A language the bot speaks (English, or one with a catalogue in bot/locale)."""
    from bot.kernel.i18n import is_shipped, language, shipped_languages  # Babel: when read

    value = _nonempty(value).strip()
    if not is_shipped(value):
        raise ValueError(
            f"{value[:40]!r} is not a language the bot speaks (it speaks: "
            f"{', '.join(shipped_languages())})"
        )
    return language(value)


def _https_urls(value: Any) -> str:
    urls = _text(value).replace(",", " ").split()
    if not all(u.startswith("https://") and len(u) > 8 for u in urls):
        raise ValueError("must be https:// addresses, separated by spaces")
    return " ".join(urls)


def _https_url(value: Any) -> str:
    """Empty, or one https:// address with a host (it is shown to people as a link)."""
    value = _text(value).strip()
    if not value:
        return value
    problem = "must be one https:// address (e.g. https://discord.gg/abc123), or empty"
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:  # e.g. an unclosed [ in the host
        raise ValueError(problem) from None
    if parts.scheme != "https" or not host or len(value) > 200:
        raise ValueError(problem)
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise ValueError(problem)
    return value


def _positive_int(value: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError("must be a whole number of 1 or more")
    return value


def _port(value: Any) -> int:
    value = _positive_int(value)
    if value > 65535:
        raise ValueError("must be a port number from 1 to 65535")
    return value


def _port_or_off(value: Any) -> int:
    if isinstance(value, str) and value.strip() == "0":
        value = 0
    if value == 0 and not isinstance(value, bool):
        return 0
    try:
        return _port(value)
    except ValueError:
        raise ValueError("must be a port number from 1 to 65535, or 0 for none") from None


def _base_url(value: Any) -> str:
    value = _text(value).strip().rstrip("/")
    parts = urlsplit(value)
    if value and not (parts.scheme in ("http", "https") and parts.netloc and not parts.query):
        raise ValueError("must be an http(s) address, e.g. https://organiser.example.org, or empty")
    return value


def _secret_token(value: Any) -> str:
    value = _text(value)
    if value and not (
        len(value) <= 256 and all(ch.isascii() and (ch.isalnum() or ch in "_-") for ch in value)
    ):
        raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)")
    return value


def _weekday(value: Any) -> str:
    value = _text(value).lower()
    days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    if value not in days:
        raise ValueError("must be a day of the week, e.g. monday")
    return value


def _clock_time(value: Any) -> str:
    value = _text(value)
    hours, _, minutes = value.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
        raise ValueError("must be a time of day as HH:MM, e.g. 18:00")
    return f"{int(hours):02d}:{int(minutes):02d}"


def _snowflake(value: Any) -> str:
    value = _text(value)
    if value and not (value.isascii() and value.isdigit() and 15 <= len(value) <= 20):
        raise ValueError("must be a Discord server id (15-20 digits), or empty")
    return value


def parse_categories(text: str) -> list[tuple[str, list[str]]]:
    """``"gender: woman | man; age: 18-29 | 30-44"`` -> [(category, values), ...]."""
    out: list[tuple[str, list[str]]] = []
    for part in text.split(";"):
        if not part.strip():
            continue
        name, colon, values = part.partition(":")
        options = [v.strip() for v in values.split("|") if v.strip()]
        if not colon or not name.strip() or len(options) < 2:
            raise ValueError(
                'must read like "gender: woman | man | non-binary; age: 18-29 | 30-64 | 65+" '
                "(each category with two or more values)"
            )
        out.append((name.strip(), options))
    return out


def _categories(value: Any) -> str:
    value = _text(value)
    parse_categories(value)
    return value


def _log_level(value: Any) -> str:
    value = _text(value).upper()
    if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
    return value


def _ballot_key(value: Any) -> str:
    """Empty (a key file beside a SQLite database), or 32 random bytes in base64
    (``openssl rand -base64 32``)."""
    value = _text(value).strip()
    if value:
        try:
            raw = base64.b64decode(value.replace("-", "+").replace("_", "/"), validate=True)
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise ValueError("must be 32 random bytes in base64 (openssl rand -base64 32)")
    return value


def setting(
    section: str, key: str, default: Any, validate: Callable[[Any], Any], *, secret: bool = False
) -> Any:
    """A field of ``Settings`` read from ``[section] key`` in the config file, or the
    environment variable ``ORGANISER_<SECTION>_<KEY>``, checked by ``validate``
    (which raises ``ValueError`` saying what the value must be). A ``secret`` is
    never shown in the settings' repr (and so in no log or traceback)."""
    return field(
        default=default,
        repr=not secret,
        metadata={"section": section, "key": key, "validate": validate},
    )


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable, each declared once: its section and key, its
    default and its check (``config.example.toml`` shows each with its default)."""

    party_name: str = setting("party", "name", "Assembly Party", _nonempty)
    default_timezone: str = setting("party", "timezone", "Europe/London", _timezone)
    default_locale: str = setting("party", "locale", "en", _language)
    database_url: str = setting("database", "url", "sqlite:///organiser.db", _nonempty)
    # The founding path: interested people (with an organiser) to start forming,
    # people at the first face-to-face meeting to become active, members with paid
    # dues to be affiliated. An admin may override a step, with a reason.
    forming_threshold: int = setting("branches", "forming_threshold", 3, _positive_int)
    first_meeting_attendees: int = setting("branches", "first_meeting_attendees", 3, _positive_int)
    members_to_affiliate: int = setting("branches", "members_to_affiliate", 3, _positive_int)
    notice_version: str = setting("privacy", "notice_version", "2026-11", _nonempty)
    # Sent messages, used buttons and failed /link tries are deleted after this many days.
    retention_days: int = setting("privacy", "retention_days", 30, _positive_int)
    roundup_day: str = setting("canvassing", "roundup_day", "monday", _weekday)
    roundup_time: str = setting("canvassing", "roundup_time", "18:00", _clock_time)
    reminder_time: str = setting("canvassing", "reminder_time", "18:00", _clock_time)
    # A branch whose core (people who came at least 3 of the last 4 weeks) is smaller
    # is flagged to its region's admins in their weekly summary.
    core_minimum: int = setting("canvassing", "core_minimum", 3, _positive_int)
    # How a member renews their dues (a sentence or a link), told in the reminder
    # before their dues end; empty: ask the branch's treasurer. The treasurers'
    # weekly list of lapsed and renewing members goes out on this day and time.
    dues_renewal: str = setting("dues", "renewal", "", _text)
    dues_list_day: str = setting("dues", "list_day", "monday", _weekday)
    dues_list_time: str = setting("dues", "list_time", "09:00", _clock_time)
    telegram_token: str = setting("telegram", "token", "", _text)
    telegram_base_url: str = setting("telegram", "base_url", "", _text)
    telegram_webhook_url: str = setting("telegram", "webhook_url", "", _text)
    telegram_webhook_listen: str = setting("telegram", "webhook_listen", "127.0.0.1", _nonempty)
    telegram_webhook_port: int = setting("telegram", "webhook_port", 8443, _port)
    telegram_secret_token: str = setting("telegram", "secret_token", "", _secret_token)
    discord_token: str = setting("discord", "token", "", _text)
    # Development: publish the slash commands to this one server (at once)
    # instead of globally.
    discord_guild_id: str = setting("discord", "guild_id", "", _snowflake)
    # The party's Discord server invite, given with /signup (empty: none).
    discord_invite_url: str = setting("discord", "invite_url", "", _https_url)
    # GET /healthz on a port of its own (0: none; in webhook mode the webhook port serves it too).
    health_listen: str = setting("health", "listen", "127.0.0.1", _nonempty)
    health_port: int = setting("health", "port", 0, _port_or_off)
    # The public pages (a draw's check, the branch directory, calendar feeds) on a
    # port of their own (0: none), and the address people reach them at (for links).
    web_listen: str = setting("web", "listen", "127.0.0.1", _nonempty)
    web_port: int = setting("web", "port", 0, _port_or_off)
    web_base_url: str = setting("web", "base_url", "", _base_url)
    # What members declare to be drawn by lot ("prefer not to say" is always offered).
    sortition_categories: str = setting(
        "sortition",
        "categories",
        "gender: woman | man | non-binary; age: 18-29 | 30-44 | 45-64 | 65+",
        _categories,
    )
    sortition_rotation_months: int = setting("sortition", "rotation_months", 24, _positive_int)
    sortition_respond_days: int = setting("sortition", "respond_days", 7, _positive_int)
    sortition_panels: int = setting("sortition", "panels", 1000, _positive_int)
    # Where drand's rounds are fetched (https only; private addresses are never contacted).
    sortition_beacon_urls: str = setting(
        "sortition",
        "beacon_urls",
        "https://api.drand.sh https://api2.drand.sh https://api3.drand.sh "
        "https://drand.cloudflare.com",
        _https_urls,
    )
    log_level: str = setting("logging", "level", "INFO", _log_level)
    # Seals secret ballots; never stored in the database (see bot.polls.ballot_box).
    polls_ballot_key: str = setting("polls", "ballot_key", "", _ballot_key, secret=True)


@dataclass(frozen=True, slots=True)
class Declared:
    """One configurable key, as ``Settings`` declares it."""

    section: str
    key: str
    name: str  # the field of Settings
    default: Any
    validate: Callable[[Any], Any]


def declared() -> list[Declared]:
    """Every key, in the order ``Settings`` declares them."""
    return [
        Declared(
            f.metadata["section"], f.metadata["key"], f.name, f.default, f.metadata["validate"]
        )
        for f in fields(Settings)
    ]


def env_name(section: str, key: str) -> str:
    return f"ORGANISER_{section}_{key}".upper()


def load_settings(path: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read the config file (optional unless a path is given) and the environment."""
    env = os.environ if env is None else env
    explicit = path is not None or "ORGANISER_CONFIG" in env
    path = path or Path(env.get("ORGANISER_CONFIG", DEFAULT_PATH))
    raw: dict[str, Any] = {}
    if path.is_file():
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    elif explicit:
        raise ConfigError(f"{path}: config file not found")

    keys = declared()
    known = {(k.section, k.key) for k in keys}
    for section, table in raw.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [{section}] must be a table of keys")
        for key in table:
            if (section, key) not in known:
                raise ConfigError(f"{path}: unknown key {section}.{key}")

    values: dict[str, Any] = {}
    for k in keys:
        name = env_name(k.section, k.key)
        if name in env:
            value, origin = env[name], f"environment variable {name}"
        else:
            value = raw.get(k.section, {}).get(k.key, k.default)
            origin = f"{path}: {k.section}.{k.key}"
        try:
            values[k.name] = k.validate(value)
        except ValueError as exc:
            raise ConfigError(f"{origin} {exc}") from None
    settings = Settings(**values)
    if settings.telegram_webhook_url and not settings.telegram_secret_token:
        raise ConfigError(
            "telegram.secret_token must be set when telegram.webhook_url is: "
            "without it anyone could post updates to the webhook"
        )
    return settings
