"""Neutral requests and replies: what adapters hand the core and get back.

Nothing here knows a platform. A button carries ``action:id`` only; the
person who pressed it is always the request's authenticated sender.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

MAX_BUTTON_DATA = 64  # Telegram's callback_data limit, in bytes


@dataclass(frozen=True, slots=True)
class Sender:
    """A platform identity as the platform authenticated it."""

    platform: str
    user_id: str
    display_name: str
    handle: str | None = None
    locale: str | None = None

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.user_id}"


@dataclass(frozen=True, slots=True)
class ChatRef:
    """Where a message came from or goes to (AstrBot-style ``platform:kind:id``)."""

    platform: str
    kind: str  # "private" or "group"
    chat_id: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.kind}:{self.chat_id}"


@dataclass(frozen=True, slots=True)
class Request:
    """One thing a person did: a command with its argument text, or a button press."""

    sender: Sender
    chat: ChatRef
    command: str | None = None
    args: str = ""
    action: str | None = None
    target: str = ""

    @classmethod
    def command_from(cls, sender: Sender, chat: ChatRef, text: str) -> Request:
        """Parse ``/name args`` (also ``/name@botname args``); other text has no command."""
        text = text.strip()
        if not text.startswith("/"):
            return cls(sender, chat, command="", args=text)
        head, _, rest = text[1:].partition(" ")
        name = head.split("@", 1)[0].lower()
        return cls(sender, chat, command=name, args=rest.strip())

    @classmethod
    def button_from(cls, sender: Sender, chat: ChatRef, data: str) -> Request:
        """A button press whose data is ``action:id`` (anything else is a stale button)."""
        action, _, target = data.partition(":")
        return cls(sender, chat, action=action, target=target)


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    action: str  # a bot.kernel.actions.Action: the handler is the @action registered under it
    id: str = ""

    @property
    def data(self) -> str:
        return f"{self.action}:{self.id}"

    def __post_init__(self) -> None:
        if len(self.data.encode()) > MAX_BUTTON_DATA:
            raise ValueError(f"button data longer than {MAX_BUTTON_DATA} bytes: {self.data!r}")


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content: bytes
    mime_type: str


@dataclass(frozen=True, slots=True)
class Reply:
    """Text plus rows of buttons, optionally a file.

    ``error`` marks a refusal or a correction (adapters may show it only to the
    person, e.g. as an ephemeral Discord reply); ``private`` asks that the
    reply go to the person's private chat even if the request came from a group.
    """

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    file: Attachment | None = None
    error: bool = False
    private: bool = False
    # Set when this reply replaces the message whose button was pressed.
    edit: bool = field(default=False)

    def button_list(self) -> list[Button]:
        return [b for row in self.buttons for b in row]


def split_text(text: str, size: int, length: Callable[[str], int] = len) -> list[str]:
    """A long text in messages a platform accepts: each at most ``size`` as the
    platform counts (``length``), cut at line ends where a line fits, never empty
    nor blank (such a part becomes "…")."""

    def head(line: str) -> str:  # the longest start of ``line`` that fits
        low, high = 1, min(len(line), size)
        while low < high:
            mid = (low + high + 1) // 2
            low, high = (mid, high) if length(line[:mid]) <= size else (low, mid - 1)
        return line[:low]

    out: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while length(line) > size:
            if current:
                out.append(current)
                current = ""
            part = head(line)
            out.append(part)
            line = line[len(part) :]
        if length(current + line) > size:
            out.append(current)
            current = ""
        current += line
    if current or not out:
        out.append(current)
    return [part.rstrip("\n") if part.strip() else "…" for part in out]


# --- delivery: what a platform's transport implements for the outbox --------------


@dataclass(frozen=True, slots=True)
class Recipient:
    """One place a message goes: a person's private chat, or a group chat
    (``person_id`` None)."""

    person_id: int | None
    display_name: str
    platform: str
    user_id: str
    chat_id: str


class Undeliverable(Exception):
    """The platform refused for good (blocked, never started, DMs closed)."""


class Transport(Protocol):
    """Carries a reply to one person on one platform."""

    platform: str

    async def send(self, recipient: Recipient, reply: Reply) -> None: ...
