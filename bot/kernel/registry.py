"""How commands, button actions and typed answers are declared, and the tables
the core dispatches from (:class:`Handlers`, built by the composition root,
:mod:`bot.app`, from the feature modules it lists).

A command is described as data (:class:`CommandSpec`): its name, what it does
(a sentence of the catalogue), who sees it in /help, the typed things it takes
(:class:`Param`: a person, a branch, a choice from the vocabulary, a date, free
text) and the chats whose menus offer it. Platforms build their own forms from
that description (Discord its slash commands and their options, Telegram its
command menus); none of them knows a command by name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, TypeVar

from sqlalchemy.sql import Executable

from bot.kernel.actions import Action
from bot.kernel.context import Context
from bot.kernel.i18n import N_
from bot.kernel.messages import Reply, Request

Result = Reply | list[Reply]
CommandHandler = Callable[[Context], Awaitable[Result]]
ActionHandler = Callable[[Context, str], Awaitable[Result]]
AnswerHandler = Callable[[Context, str], Awaitable[Result]]  # (ctx, the text typed)
# A hot path's first read, done together with finding the person: given the request,
# a statement made with bot.kernel.people.by_sender (its first columns the sender's
# Identity and Person, then the handler's) and its own parameters; None when there is
# nothing to read (a target that names no row). The core runs it in place of its own
# person lookup and hands the handler the rest of the row as ``ctx.prefetched``; if
# it finds no row, the core looks the person up alone and ``ctx.prefetched`` is None,
# so the handler reads as it would have (and says why not).
Prefetch = Callable[[Request], tuple[Executable, dict[str, Any]] | None]

# What a parameter is (a platform may offer suggestions or a list for it).
TEXT, PERSON, BRANCH, CHOICE, DATE = "text", "person", "branch", "choice", "date"
# The chats a command is offered in (``ChatRef.kind``).
PRIVATE, GROUP = "private", "group"


@dataclass(frozen=True, slots=True)
class Param:
    """One thing a command takes, in the order it is typed after the command."""

    name: str  # short, lower case, no spaces (a Discord option's name)
    description: str  # marked N_, translated when shown
    kind: str = TEXT  # PERSON and BRANCH: suggested as typed; CHOICE: one of ``choices``
    required: bool = False
    choices: tuple[str, ...] = ()
    prefix: str = ""  # typed before the value ("to " in "/affiliate Frome to West")

    @classmethod
    def text(
        cls, name: str, description: str, *, required: bool = False, prefix: str = ""
    ) -> Param:
        return cls(name, description, TEXT, required, prefix=prefix)

    @classmethod
    def person(cls, description: str = N_("who"), *, name: str = "person") -> Param:
        return cls(name, description, PERSON, required=True)

    @classmethod
    def branch(
        cls,
        description: str = N_("which branch (default: yours)"),
        *,
        name: str = "branch",
        required: bool = False,
    ) -> Param:
        return cls(name, description, BRANCH, required)

    @classmethod
    def choice(
        cls, name: str, description: str, choices: tuple[str, ...], *, required: bool = False
    ) -> Param:
        return cls(name, description, CHOICE, required, choices)

    @classmethod
    def date(cls, name: str, description: str, *, required: bool = False) -> Param:
        return cls(name, description, DATE, required)


# What a command takes unless it says: free text, as /help explains it.
DETAILS = (Param.text("details", N_("what to do (see /help)")),)


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
    params: tuple[Param, ...] = DETAILS  # what it takes, typed
    # The chats whose command menu offers it (it is answered wherever it is typed).
    chats: tuple[str, ...] = (PRIVATE,)
    # Its name on a platform whose word differs: (platform, name), e.g. a
    # Telegram "chat" is a Discord "channel".
    names: tuple[tuple[str, str], ...] = ()
    # The most characters it takes after its name; longer is refused before it runs.
    longest: int = 1000
    prefetch: Prefetch | None = None  # its first read, with the person's (a hot path)

    def name_on(self, platform: str) -> str:
        return dict(self.names).get(platform, self.name)

    def typed(self, values: Mapping[str, object]) -> str:
        """The command as typed, from a value for each parameter (None: not given):
        ``/promote AB12CD organiser``."""
        parts = [f"/{self.name}"]
        for param in self.params:
            value = values.get(param.name)
            if value is not None and str(value).strip():
                parts.append(f"{param.prefix}{str(value).strip()}")
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class ActionSpec:
    name: Action
    handler: ActionHandler
    public: bool  # its answer may show in a group chat
    prefetch: Prefetch | None = None  # its first read, with the person's (a hot path)


@dataclass(frozen=True, slots=True)
class AnswerSpec:
    kind: str  # the kind of prompt it answers
    handler: AnswerHandler


Declaration = CommandSpec | ActionSpec | AnswerSpec
# Where a decorator leaves its declaration on the handler it marks.
_DECLARED = "__declared__"
H = TypeVar("H")
V = TypeVar("V")


def declarations(value: object) -> tuple[Declaration, ...]:
    """What ``value`` (a module's function) was declared to handle: its marks."""
    found = getattr(value, _DECLARED, ())
    return found if isinstance(found, tuple) else ()


def _mark(handler: H, declaration: Declaration) -> H:
    setattr(handler, _DECLARED, (*declarations(handler), declaration))
    return handler


@dataclass(frozen=True)
class Handlers:
    """The tables the core dispatches from: commands by name, button actions by
    name, typed answers by prompt kind. Built from an explicit list of modules
    (:func:`Handlers.collect`); nothing is registered by importing a module."""

    commands: Mapping[str, CommandSpec]
    actions: Mapping[str, ActionHandler]
    public_actions: frozenset[str]
    answers: Mapping[str, AnswerHandler]
    # The actions whose first read comes with the person's (``prefetch``).
    prefetches: Mapping[str, Prefetch] = field(default_factory=dict)

    @classmethod
    def collect(cls, modules: Iterable[ModuleType]) -> Handlers:
        """The handlers marked in ``modules`` (those defined there, not those they
        import), in order; a name declared twice is refused."""
        commands: dict[str, CommandSpec] = {}
        actions: dict[str, ActionHandler] = {}
        public: set[str] = set()
        answers: dict[str, AnswerHandler] = {}
        prefetches: dict[str, Prefetch] = {}
        for module in modules:
            for value in list(vars(module).values()):
                if getattr(value, "__module__", None) != module.__name__:
                    continue
                for declared in declarations(value):
                    if isinstance(declared, CommandSpec):
                        _add(commands, declared.name, declared, f"command /{declared.name}")
                    elif isinstance(declared, ActionSpec):
                        _add(actions, declared.name, declared.handler, f"action {declared.name}")
                        if declared.public:
                            public.add(declared.name)
                        if declared.prefetch is not None:
                            prefetches[declared.name] = declared.prefetch
                    else:
                        _add(answers, declared.kind, declared.handler, f"answer {declared.kind}")
        return cls(commands, actions, frozenset(public), answers, prefetches)


def _add(table: dict[str, V], name: str, value: V, what: str) -> None:
    if name in table and table[name] is not value:
        raise ValueError(f"{what} declared twice")
    table[name] = value


def command(
    name: str,
    summary: str,
    *,
    usage: str = "",
    roles: tuple[str, ...] = (),
    private: bool = False,
    staff: tuple[tuple[str, str, tuple[str, ...]], ...] = (),
    public: bool = False,
    params: tuple[Param, ...] = DETAILS,
    chats: tuple[str, ...] = (PRIVATE,),
    names: tuple[tuple[str, str], ...] = (),
    longest: int = 1000,
    prefetch: Prefetch | None = None,
) -> Callable[[CommandHandler], CommandHandler]:
    """Mark a function as the handler of the command ``name`` (it registers
    nothing: :meth:`Handlers.collect` finds it in its module)."""

    def mark(handler: CommandHandler) -> CommandHandler:
        spec = CommandSpec(
            name,
            summary,
            usage,
            roles,
            handler,
            private,
            public=public,
            staff=staff,
            params=params,
            chats=chats,
            names=names,
            longest=longest,
            prefetch=prefetch,
        )
        return _mark(handler, spec)

    return mark


def action(
    name: Action, *, public: bool = False, prefetch: Prefetch | None = None
) -> Callable[[ActionHandler], ActionHandler]:
    """Mark a button action's handler, named in :mod:`bot.kernel.actions`; ``public``: its
    answer may show in a group chat (else it goes privately, like every reply about
    one person); ``prefetch``: its first read, done with the person's (:data:`Prefetch`)."""

    def mark(handler: ActionHandler) -> ActionHandler:
        return _mark(handler, ActionSpec(name, handler, public, prefetch))

    return mark


def answer(kind: str) -> Callable[[AnswerHandler], AnswerHandler]:
    """Mark a question answered by typing: plain text (no command) in a private
    chat goes to this handler while its asker holds an open prompt of ``kind``
    (``ctx.prompt(kind)``); the prompt is taken first, so it is answered once,
    unless the handler refuses (a refusal rolls the taking back: ask again)."""

    def mark(handler: AnswerHandler) -> AnswerHandler:
        return _mark(handler, AnswerSpec(kind, handler))

    return mark
