"""The console chat: the whole bot in a terminal, no token and no server.

Type what a Telegram user would type (``/start``, ``/join Frome``); buttons
are shown as ``[1] label`` and pressed by typing their number. ``/as NAME``
becomes another simulated person, so one terminal can play a member and an
organiser. Messages the bot sends to other people appear as ``→ to NAME: …``.
Reading a script from standard input replays a session, one message a line.
Files the bot sends (charts, draw records, calendar files) are saved in a folder
(``organiser-files`` by default) and their path shown.
"""

from __future__ import annotations

import asyncio
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from bot.kernel.core import Core
from bot.kernel.i18n import Translator, translator
from bot.kernel.messages import Attachment, Button, ChatRef, Recipient, Reply, Request, Sender

PLATFORM = "console"
INLINE_FILE_LIMIT = 8000


class FileSaver:
    """Writes the files the bot sends (charts, draw records, calendar files) into one
    folder, so that a console user can open them; never over an earlier file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def save(self, file: Attachment) -> Path:
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(file.filename).name).strip(".-") or "file"
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / name
        stem, suffix = path.stem, path.suffix
        n = 1
        while path.exists():
            n += 1
            path = self.folder / f"{stem}-{n}{suffix}"
        path.write_bytes(file.content)
        return path


def render(
    reply: Reply, numbered: list[Button], t: Translator, saver: FileSaver | None = None
) -> str:
    """The reply as text; its buttons are numbered on from ``numbered`` (which grows);
    a file is saved by ``saver`` (when given) and its path shown."""
    lines = [reply.text]
    for row in reply.buttons:
        cells = []
        for button in row:
            numbered.append(button)
            cells.append(f"[{len(numbered)}] {button.label}")
        lines.append("   ".join(cells))
    if reply.file is not None:
        size, name = len(reply.file.content), reply.file.filename
        if saver is not None:
            path = saver.save(reply.file)
            lines.append(
                t.plural(
                    "📎 {file} ({n} byte, saved as {path})",
                    "📎 {file} ({n} bytes, saved as {path})",
                    size,
                    file=name,
                    path=path,
                )
            )
        else:
            lines.append(t.plural("📎 {file} ({n} byte)", "📎 {file} ({n} bytes)", size, file=name))
        if reply.file.mime_type.startswith(("text/", "application/json")):
            body = reply.file.content.decode("utf-8", "replace")
            lines.append(body if len(body) <= INLINE_FILE_LIMIT else body[:INLINE_FILE_LIMIT] + "…")
    return "\n".join(lines)


@dataclass
class ConsoleTransport:
    """Delivers outbox messages by printing them; remembers their buttons per person."""

    out: TextIO
    t: Translator
    buttons: dict[str, list[Button]] = field(default_factory=dict)
    platform: str = PLATFORM
    saver: FileSaver | None = None

    async def send(self, recipient: Recipient, reply: Reply) -> None:
        numbered: list[Button] = []
        text = render(reply, numbered, self.t, self.saver)
        if numbered:
            self.buttons[recipient.user_id] = numbered
        self.out.write(self.t("→ to {name}: {text}", name=recipient.display_name, text=text) + "\n")
        self.out.flush()


class ConsoleChat:
    def __init__(
        self,
        core: Core,
        *,
        out: TextIO,
        name: str = "Sam",
        files: Path | None = None,
    ) -> None:
        self.core = core
        self.t = translator(core.settings.default_locale)
        self.out = out
        self.saver = FileSaver(files) if files is not None else None
        self.transport = ConsoleTransport(out, self.t, saver=self.saver)
        self.name = name

    @property
    def user_id(self) -> str:
        return self.name.lower()

    def sender(self) -> Sender:
        return Sender(PLATFORM, self.user_id, self.name, handle=self.user_id)

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    async def line(self, text: str) -> None:
        """Act on one line the person typed."""
        text = text.strip()
        if not text or text.startswith("#"):
            return
        chat = ChatRef(PLATFORM, "private", self.user_id)
        if text.split()[0].lower() == "/as":
            name = " ".join(text.split()[1:])[:40]
            if not name:
                self.say(self.t("Usage: /as NAME (for example /as Alice)"))
                return
            self.name = name
            await self.read_in()
            self.say(self.t("(you are now {name})", name=name))
            return
        if text.isdigit():
            buttons = self.transport.buttons.get(self.user_id, [])
            index = int(text) - 1
            if not 0 <= index < len(buttons):
                self.say(
                    self.t("There is no button with that number.")
                    if buttons
                    else self.t("There are no buttons to press.")
                )
                return
            request = Request.button_from(self.sender(), chat, buttons[index].data)
        else:
            request = Request.command_from(self.sender(), chat, text)
        replies = await self.core.handle(request)
        await self.read_in()  # they may have agreed, or chosen a language, just now
        numbered: list[Button] = []
        for reply in replies:
            self.say(render(reply, numbered, self.t, self.saver))
        if numbered:  # like a chat, the newest buttons are the ones at hand
            self.transport.buttons[self.user_id] = numbered
        await self.flush_outbox()

    async def read_in(self) -> None:
        """The console's own words in the language of the person it now plays."""
        self.t = self.transport.t = await self.core.reader(self.sender())

    async def flush_outbox(self) -> None:
        while await self.core.deliver({PLATFORM: self.transport}):
            pass

    async def run(self, stream: TextIO = sys.stdin) -> None:
        """Read lines until end of input; echo them when they come from a script."""
        interactive = stream.isatty()
        await self.read_in()
        if interactive:
            self.say(
                self.t(
                    "Assembly Organiser console. Type /start to begin, /help for commands, "
                    "/as NAME to become someone else, a number to press a button, Ctrl-D to quit."
                )
            )
        await self.flush_outbox()
        while True:
            if interactive:
                self.out.write(f"{self.name}> ")
                self.out.flush()
            text = await asyncio.to_thread(stream.readline)
            if not text:
                if interactive:
                    self.say("")
                return
            if not interactive and text.strip():
                self.say(f"{self.name}> {text.strip()}")
            if text.strip().lower() in ("/quit", "/exit"):
                return
            await self.line(text)
