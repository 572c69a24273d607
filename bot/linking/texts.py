"""How linking reads: a platform's name as people know it."""

from __future__ import annotations

PLATFORM_NAMES = {"telegram": "Telegram", "discord": "Discord", "console": "console"}


def platform_name(platform: str) -> str:
    return PLATFORM_NAMES.get(platform, platform)
