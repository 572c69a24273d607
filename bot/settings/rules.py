"""What the settings screen's buttons say and mean: a setting and the state it
turns it to, so that pressing one twice leaves it as the first press did."""

from __future__ import annotations

from bot.announcements.rules import LEVELS
from storage.vocabulary import MEETING_REMINDERS

CANVASSING = "canvass"  # the weekly round-up and the evening-before reminder
MEETINGS = MEETING_REMINDERS  # the reminders before a meeting one is going to
# The canvassing and meeting reminders, then the announcements from a branch, a
# region, the party. All but CANVASSING are stored as an opt-out row when off.
SETTINGS = (CANVASSING, MEETINGS, *LEVELS)
# /language's word (and button) for "no choice of mine: my app's language".
AUTO = "auto"


def button_id(setting: str, on: bool) -> str:
    return f"{setting}-{'on' if on else 'off'}"


def read_button(target: str) -> tuple[str, bool] | None:
    """(the setting, on) a button carries, or None for anything else."""
    setting, _, state = target.partition("-")
    if setting not in SETTINGS or state not in ("on", "off"):
        return None
    return setting, state == "on"
