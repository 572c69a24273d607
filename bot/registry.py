"""The table of commands and button actions. Command modules register here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.context import Context
from bot.messages import Reply

Result = Reply | list[Reply]
CommandHandler = Callable[[Context], Awaitable[Result]]
ActionHandler = Callable[[Context, str], Awaitable[Result]]
AnswerHandler = Callable[[Context, str], Awaitable[Result]]  # (ctx, the text typed)


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    summary: str  # one line for /help (marked N_, translated when shown)
    usage: str  # the argument part, e.g. "<person> <role>"
    roles: tuple[str, ...]  # empty: everyone; else /help shows it to holders of these
    handler: CommandHandler
    private: bool  # its reply concerns only the person: send it privately
    # Answered where it was asked, even in a group chat. Everything else asked in
    # a group is answered privately: replies are about one person by default.
    public: bool = False
    # Extra /help lines for staff: (usage, summary, roles that see it).
    staff: tuple[tuple[str, str, tuple[str, ...]], ...] = ()


COMMANDS: dict[str, CommandSpec] = {}
ACTIONS: dict[str, ActionHandler] = {}
PUBLIC_ACTIONS: set[str] = set()
ANSWERS: dict[str, AnswerHandler] = {}


def command(
    name: str,
    summary: str,
    *,
    usage: str = "",
    roles: tuple[str, ...] = (),
    private: bool = False,
    staff: tuple[tuple[str, str, tuple[str, ...]], ...] = (),
    public: bool = False,
) -> Callable[[CommandHandler], CommandHandler]:
    def register(handler: CommandHandler) -> CommandHandler:
        if name in COMMANDS:
            raise ValueError(f"command /{name} registered twice")
        COMMANDS[name] = CommandSpec(
            name, summary, usage, roles, handler, private, public=public, staff=staff
        )
        return handler

    return register


def action(name: str, *, public: bool = False) -> Callable[[ActionHandler], ActionHandler]:
    """A button action; ``public``: its answer may show in a group chat (else it
    goes privately, like every reply about one person)."""

    def register(handler: ActionHandler) -> ActionHandler:
        if name in ACTIONS:
            raise ValueError(f"action {name} registered twice")
        ACTIONS[name] = handler
        if public:
            PUBLIC_ACTIONS.add(name)
        return handler

    return register


def answer(kind: str) -> Callable[[AnswerHandler], AnswerHandler]:
    """A question answered by typing: plain text (no command) in a private chat goes
    to this handler while its asker holds an open prompt of ``kind``
    (``ctx.prompt(kind)``); the prompt is taken first, so it is answered once,
    unless the handler refuses (a refusal rolls the taking back: ask again)."""

    def register(handler: AnswerHandler) -> AnswerHandler:
        if kind in ANSWERS:
            raise ValueError(f"answer {kind} registered twice")
        ANSWERS[kind] = handler
        return handler

    return register
