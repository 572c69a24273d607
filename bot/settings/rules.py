"""What the settings screen's buttons say and mean: a setting and the state it
turns it to, so that pressing one twice leaves it as the first press did."""

from __future__ import annotations

from bot.announcements.rules import LEVELS

CANVASSING = "canvass"  # the weekly round-up and the evening-before reminder
SETTINGS = (CANVASSING, *LEVELS)  # the announcements from a branch, a region, the party


def button_id(setting: str, on: bool) -> str:
    return f"{setting}-{'on' if on else 'off'}"


def read_button(target: str) -> tuple[str, bool] | None:
    """(the setting, on) a button carries, or None for anything else."""
    setting, _, state = target.partition("-")
    if setting not in SETTINGS or state not in ("on", "off"):
        return None
    return setting, state == "on"
