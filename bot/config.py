"""Settings: ``config.toml`` (every key documented in ``config.example.toml``),
overridden by environment variables ``ORGANISER_<SECTION>_<KEY>`` (for secrets).

A bad or missing key stops start-up with one line naming the key.
"""

from __future__ import annotations

import base64
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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


# (section, key) -> (default, validator). The single source of what is configurable.
SCHEMA: dict[tuple[str, str], tuple[Any, Callable[[Any], Any]]] = {
    ("party", "name"): ("Assembly Party", _nonempty),
    ("party", "timezone"): ("Europe/London", _timezone),
    ("party", "locale"): ("en", _nonempty),
    ("database", "url"): ("sqlite:///organiser.db", _nonempty),
    ("branches", "forming_threshold"): (3, _positive_int),
    ("branches", "first_meeting_attendees"): (3, _positive_int),
    ("branches", "members_to_affiliate"): (3, _positive_int),
    ("privacy", "notice_version"): ("2026-11", _nonempty),
    ("privacy", "retention_days"): (30, _positive_int),
    ("canvassing", "roundup_day"): ("monday", _weekday),
    ("canvassing", "roundup_time"): ("18:00", _clock_time),
    ("canvassing", "reminder_time"): ("18:00", _clock_time),
    ("telegram", "token"): ("", _text),
    ("telegram", "base_url"): ("", _text),
    ("telegram", "webhook_url"): ("", _text),
    ("telegram", "webhook_listen"): ("127.0.0.1", _nonempty),
    ("telegram", "webhook_port"): (8443, _port),
    ("telegram", "secret_token"): ("", _secret_token),
    ("discord", "token"): ("", _text),
    ("discord", "guild_id"): ("", _snowflake),
    ("discord", "invite_url"): ("", _https_url),
    ("health", "listen"): ("127.0.0.1", _nonempty),
    ("health", "port"): (0, _port_or_off),
    ("sortition", "categories"): (
        "gender: woman | man | non-binary; age: 18-29 | 30-44 | 45-64 | 65+",
        _categories,
    ),
    ("sortition", "rotation_months"): (24, _positive_int),
    ("sortition", "respond_days"): (7, _positive_int),
    ("sortition", "panels"): (1000, _positive_int),
    ("sortition", "beacon_urls"): (
        "https://api.drand.sh https://api2.drand.sh https://api3.drand.sh "
        "https://drand.cloudflare.com",
        _https_urls,
    ),
    ("logging", "level"): ("INFO", _log_level),
    ("polls", "ballot_key"): ("", _ballot_key),
}


@dataclass(frozen=True, slots=True)
class Settings:
    party_name: str = "Assembly Party"
    default_timezone: str = "Europe/London"
    default_locale: str = "en"
    database_url: str = "sqlite:///organiser.db"
    # The founding path: interested people (with an organiser) to start forming,
    # people at the first face-to-face meeting to become active, members with paid
    # dues to be affiliated. An admin may override a step, with a reason.
    forming_threshold: int = 3
    first_meeting_attendees: int = 3
    members_to_affiliate: int = 3
    notice_version: str = "2026-11"
    # Sent messages, used buttons and failed /link tries are deleted after this many days.
    retention_days: int = 30
    roundup_day: str = "monday"
    roundup_time: str = "18:00"
    reminder_time: str = "18:00"
    telegram_token: str = ""
    telegram_base_url: str = ""
    telegram_webhook_url: str = ""
    telegram_webhook_listen: str = "127.0.0.1"
    telegram_webhook_port: int = 8443
    telegram_secret_token: str = ""
    discord_token: str = ""
    # Development: publish the slash commands to this one server (at once)
    # instead of globally.
    discord_guild_id: str = ""
    # The party's Discord server invite, given with /signup (empty: none).
    discord_invite_url: str = ""
    # GET /healthz on a port of its own (0: none; in webhook mode the webhook port serves it too).
    health_listen: str = "127.0.0.1"
    health_port: int = 0
    # What members declare to be drawn by lot ("prefer not to say" is always offered).
    sortition_categories: str = "gender: woman | man | non-binary; age: 18-29 | 30-44 | 45-64 | 65+"
    sortition_rotation_months: int = 24
    sortition_respond_days: int = 7
    sortition_panels: int = 1000
    # Where drand's rounds are fetched (https only; private addresses are never contacted).
    sortition_beacon_urls: str = (
        "https://api.drand.sh https://api2.drand.sh https://api3.drand.sh "
        "https://drand.cloudflare.com"
    )
    log_level: str = "INFO"
    # Seals secret ballots; never stored in the database (see bot.ballot_box).
    polls_ballot_key: str = field(default="", repr=False)


_FIELDS: dict[tuple[str, str], str] = {
    ("party", "name"): "party_name",
    ("party", "timezone"): "default_timezone",
    ("party", "locale"): "default_locale",
    ("database", "url"): "database_url",
    ("branches", "forming_threshold"): "forming_threshold",
    ("branches", "first_meeting_attendees"): "first_meeting_attendees",
    ("branches", "members_to_affiliate"): "members_to_affiliate",
    ("privacy", "notice_version"): "notice_version",
    ("privacy", "retention_days"): "retention_days",
    ("canvassing", "roundup_day"): "roundup_day",
    ("canvassing", "roundup_time"): "roundup_time",
    ("canvassing", "reminder_time"): "reminder_time",
    ("telegram", "token"): "telegram_token",
    ("telegram", "base_url"): "telegram_base_url",
    ("telegram", "webhook_url"): "telegram_webhook_url",
    ("telegram", "webhook_listen"): "telegram_webhook_listen",
    ("telegram", "webhook_port"): "telegram_webhook_port",
    ("telegram", "secret_token"): "telegram_secret_token",
    ("discord", "token"): "discord_token",
    ("discord", "guild_id"): "discord_guild_id",
    ("discord", "invite_url"): "discord_invite_url",
    ("health", "listen"): "health_listen",
    ("health", "port"): "health_port",
    ("sortition", "categories"): "sortition_categories",
    ("sortition", "rotation_months"): "sortition_rotation_months",
    ("sortition", "respond_days"): "sortition_respond_days",
    ("sortition", "panels"): "sortition_panels",
    ("sortition", "beacon_urls"): "sortition_beacon_urls",
    ("logging", "level"): "log_level",
    ("polls", "ballot_key"): "polls_ballot_key",
}


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

    for section, table in raw.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [{section}] must be a table of keys")
        for key in table:
            if (section, key) not in SCHEMA:
                raise ConfigError(f"{path}: unknown key {section}.{key}")

    values: dict[str, Any] = {}
    for (section, key), (default, validate) in SCHEMA.items():
        name = env_name(section, key)
        if name in env:
            value, origin = env[name], f"environment variable {name}"
        else:
            value, origin = raw.get(section, {}).get(key, default), f"{path}: {section}.{key}"
        try:
            values[_FIELDS[(section, key)]] = validate(value)
        except ValueError as exc:
            raise ConfigError(f"{origin} {exc}") from None
    settings = Settings(**values)
    if settings.telegram_webhook_url and not settings.telegram_secret_token:
        raise ConfigError(
            "telegram.secret_token must be set when telegram.webhook_url is: "
            "without it anyone could post updates to the webhook"
        )
    return settings
