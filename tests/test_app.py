"""The composition root: the command, button and answer tables are built from the
feature modules it is given, and importing a module registers nothing."""

from __future__ import annotations

import random
import sys
import types

import pytest

from bot.app import FEATURES, build_core, build_handlers
from bot.kernel.actions import Action
from bot.kernel.clock import FixedClock
from bot.kernel.config import Settings
from bot.kernel.context import Context
from bot.kernel.messages import Reply
from bot.kernel.registry import (
    ActionSpec,
    AnswerSpec,
    CommandSpec,
    action,
    command,
    declarations,
)
from bot.membership import welcome_handlers as welcome
from bot.privacy import handlers as privacy
from storage.db import Database
from tests.helpers import Chat


def _handlers_in(value: object) -> bool:
    """``value`` is a collection holding a marked handler (or its declaration)."""
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if not isinstance(value, list | set | tuple | frozenset):
        return False
    return any(
        declarations(item) or isinstance(item, CommandSpec | ActionSpec | AnswerSpec)
        for item in value
    )


def test_importing_the_features_registers_nothing_global() -> None:
    assert FEATURES  # imported: every handler module is loaded by now
    tables = [
        f"{module_name}.{name}"
        for module_name, module in sorted(sys.modules.items())
        if module_name.split(".")[0] in {"bot", "adapters", "runtime", "storage"}
        for name, value in vars(module).items()
        if name != "FEATURES" and _handlers_in(value)
    ]
    assert tables == []
    first, second = build_handlers(), build_handlers()
    assert first.commands == second.commands and first.actions == second.actions
    assert first.commands is not second.commands and first.actions is not second.actions


def _module(name: str, **members: object) -> types.ModuleType:
    module = types.ModuleType(name)
    for key, value in members.items():
        value.__module__ = name  # type: ignore[attr-defined]
        setattr(module, key, value)
    return module


async def _hello(ctx: Context) -> Reply:
    return Reply("hello")


async def _again(ctx: Context) -> Reply:
    return Reply("again")


def test_a_name_declared_twice_is_refused_when_the_tables_are_built() -> None:
    one = _module("one", hello=command("hello", "says hello")(_hello))
    two = _module("two", again=command("hello", "says hello again")(_again))
    with pytest.raises(ValueError, match="command /hello declared twice"):
        build_handlers([one, two])

    async def pressed(ctx: Context, target: str) -> Reply:
        return Reply(target)

    first = _module("first", pressed=action(Action.MEMBERS)(pressed))

    async def also(ctx: Context, target: str) -> Reply:
        return Reply(target)

    second = _module("second", also=action(Action.MEMBERS)(also))
    with pytest.raises(ValueError, match=f"action {Action.MEMBERS} declared twice"):
        build_handlers([first, second])


def test_a_module_contributes_only_the_handlers_defined_in_it() -> None:
    """A handler another module imports is that module's, counted once."""
    borrowing = types.ModuleType("borrowing")
    borrowing.help_ = welcome.help_  # type: ignore[attr-defined]
    assert build_handlers([borrowing]).commands == {}
    assert "help" in build_handlers([welcome, borrowing]).commands


async def test_a_core_built_with_some_features_answers_only_theirs(
    db: Database, settings: Settings, clock: FixedClock
) -> None:
    some = build_core(db, settings, clock=clock, rng=random.Random(7), features=[welcome, privacy])
    every = build_core(db, settings, clock=clock, rng=random.Random(7))
    assert {spec.name for spec in some.commands} == {"start", "help", "claim", "mydata", "forget"}
    assert len(every.commands) > len(some.commands)

    chat = Chat(some, clock)
    await chat.signup("Sam")
    listed = (await chat.say("Sam", "/help"))[0].text
    assert "/mydata" in listed and "/join" not in listed
    refused = (await chat.say("Sam", "/join Frome"))[0]
    assert refused.error and "I don't know the command /join" in refused.text

    full = Chat(every, clock)
    assert "/join" in (await full.say("Sam", "/help"))[0].text
