"""Every button action is named once (bot.kernel.actions) and used by name on both sides:
the handler registered under it and the buttons that carry it."""

from __future__ import annotations

import ast
import datetime as dt
import os
from pathlib import Path

from bot.app import build_handlers
from bot.kernel.actions import Action
from bot.kernel.messages import MAX_BUTTON_DATA, Button
from bot.polls.ballot_box import CAPACITY, BallotBox
from bot.polls.rules import MAX_OPTIONS, RANK_DIGITS, encode_mask, encode_ranking

ROOT = Path(__file__).resolve().parent.parent
TELEGRAM_CALLBACK_DATA = 64  # bytes
DISCORD_CUSTOM_ID = 100  # characters

# The longest row id a button may name: ten digits, far above any real table.
ID = "9" * 10
_TOKEN = BallotBox(os.urandom(32)).token(int(ID), int(ID), RANK_DIGITS[:CAPACITY])
_FAR = round(dt.datetime(9999, 12, 31, tzinfo=dt.UTC).timestamp() * 1_000_000)
# The longest id each action's buttons carry, built as bot/ builds them.
LONGEST_ID: dict[Action, str] = {
    **{a: ID for a in Action},
    Action.PROFILE_ANSWER: f"{99}.{99}",  # question index . answer index
    Action.MEETING_KIND: "in_person",
    Action.POLL_MEET: f"{ID}.in_person",
    Action.POLL_VOTE: f"{ID}.{MAX_OPTIONS - 1}",
    # a ballot's mask or ranking, or in a secret ballot the voter's token for it
    Action.POLL_TOGGLE: f"{ID}.{max(_TOKEN, encode_mask(range(MAX_OPTIONS)), key=len)}",
    Action.POLL_RANK: f"{ID}.{max(_TOKEN, encode_ranking(range(MAX_OPTIONS)), key=len)}",
    Action.POLL_CAST: f"{ID}.{max(_TOKEN, encode_ranking(range(MAX_OPTIONS)), key=len)}",
    Action.MEETING_CAME: f"{ID}.{ID}",  # meeting . person
    Action.MEETING_GUEST: f"{ID}.+",
    Action.UNJOIN: f"{ID}.{_FAR}",  # branch . the join's time in microseconds
    Action.ASSEMBLY_ANSWER: f"{ID}.{99}.{99}",  # registrant . question . value
}


def test_every_action_has_exactly_one_handler() -> None:
    # a name declared twice is refused as the tables are built; here: none missing,
    # none undeclared
    actions = build_handlers().actions
    assert set(actions) == set(Action)
    assert all(isinstance(name, Action) for name in actions)


def test_wire_strings_are_unique_and_fit_both_platforms() -> None:
    assert len({a.value for a in Action}) == len(Action.__members__)
    assert all(a.value and ":" not in a.value for a in Action)
    for action in Action:
        data = Button("x", action, LONGEST_ID[action]).data
        assert len(data.encode()) <= min(MAX_BUTTON_DATA, TELEGRAM_CALLBACK_DATA), data
        assert len(data) <= DISCORD_CUSTOM_ID, data


def _literal_actions(tree: ast.AST) -> list[int]:
    """Lines where an @action or a Button is given its action other than by name."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name == "action":
            arg = node.args[0] if node.args else None
            named = (
                isinstance(arg, ast.Attribute)
                and isinstance(arg.value, ast.Name)
                and arg.value.id == "Action"
            )
            if not named:
                found.append(node.lineno)
        elif name == "Button" and len(node.args) >= 2:
            if isinstance(node.args[1], ast.Constant | ast.JoinedStr | ast.BinOp):
                found.append(node.lineno)
    return sorted(found)


def test_buttons_and_handlers_name_their_action() -> None:
    bad = []
    for path in sorted((ROOT / "bot").rglob("*.py")) + sorted((ROOT / "adapters").rglob("*.py")):
        if path.name in {"registry.py", "actions.py"}:
            continue
        lines = _literal_actions(ast.parse(path.read_text(), str(path)))
        bad += [f"{path.relative_to(ROOT)}:{n}" for n in lines]
    assert bad == []


def test_the_checker_sees_a_literal_action() -> None:
    source = (
        "@action('pv')\nasync def f(ctx, t): ...\n"
        "b = Button('Vote', 'pv', '1')\n"
        "c = Button('Vote', f'p{x}', '1')\n"
        "@action(Action.POLL_VOTE)\nasync def g(ctx, t): ...\n"
        "d = Button('Vote', Action.POLL_VOTE, '1')\n"
    )
    assert _literal_actions(ast.parse(source)) == [1, 3, 4]
