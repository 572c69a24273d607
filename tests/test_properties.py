"""Property tests: whatever anyone sends, the core answers, and a refusal changes nothing.

Hypothesis feeds arbitrary text to every registered command and arbitrary targets to
every registered button action, as people of every kind: a stranger who has not
agreed to the privacy notice, a newcomer in no branch, a plain member, an organiser,
a treasurer and a national admin. For every single request:

- ``Core.handle`` returns at least one reply, each with text, and raises nothing;
- the core did not have to swallow an unexpected exception (its "something went
  wrong" apology is for real outages, not for odd input);
- no reply shows a traceback;
- if a reply is a refusal (``error=True``), the database is exactly as it was, but
  for at most one ``audit_log`` row recording a "refused" attempt by that person.

Hypothesis runs all its examples inside one test, so the demo party is seeded once
per test (function-scoped fixtures, hence the suppressed health check). Each request
is compared with the snapshot taken just before it; whenever a valid request changed
the party, the database is put back to the seeded state, so that every example meets
the same people in the same roles.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from bot.app import build_handlers
from bot.kernel.messages import Reply, Request
from storage.db import Database
from storage.models import AuditEntry, Base, Branch, Identity, Person, Prompt, Region
from tests.helpers import Chat, snapshot

pytestmark = pytest.mark.slow  # every command and button, fuzzed, on each database

HANDLERS = build_handlers()
COMMAND_NAMES = sorted(HANDLERS.commands)
ACTION_NAMES = sorted(HANDLERS.actions)

STRANGER = "Zed"  # has never agreed to the privacy notice: nothing is held about them
NEWCOMER = "Nia"  # has agreed, is in no branch and holds no role
# A stranger, a newcomer, a plain member, an organiser, a treasurer, a national admin.
ACTORS = (STRANGER, NEWCOMER, "Carol", "Alice", "Bob", "Kai")

# Requests that only read: whoever sends them with whatever text, nothing changes
# (but for the "refused" audit row of a forbidden attempt).
READ_ONLY_COMMANDS = {"help", "me", "mydata", "branch"}
READ_ONLY_ACTIONS = {"members", "mempage"}
# A wrong /link or /claim code is remembered, even though it changes nothing else: that
# is what limits guessing.
REMEMBERED_FAILURES = {"link": {"link_failures"}, "claim": {"link_failures"}}
# Buttons whose id is a prompt's (the others carry a branch's id).
PROMPT_ACTIONS = {"consent", "forget", "cancel", "propose", "undo"}

APOLOGY = "something went wrong on our side"
AUDIT_COLUMNS = [c.name for c in AuditEntry.__table__.columns]

# Examples per test (about 25 such tests per database): few, so that the file stays fast.
EXAMPLES = 15
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

HOSTILE = [
    "<b>bold</b>",
    "</b><i>",
    "*_[",
    "_*`[]()~>#+-=|{}.!",
    "[link](http://example.org)",
    "<script>alert(1)</script>",
    "&amp;&lt;",
    "'; DROP TABLE persons; --",
    '" OR 1=1 --',
    "\x00",
    "a\x00b",
    "%",
    "_",
    "\\",
    "%_%",
    "@",
    "@@",
    "{name}",
    "{0}",
    "%s",
    "%(name)s",
    "\u202e",
    "\ufeff",
    "\u200b",
    "\n",
    "\r\n",
    "\t",
    "𝕏",
    "👩\u200d👩\u200d👧",
    "²",
    "፩",
    "١٢",
    "2147483648",
    "9223372036854775808",
    "99999999999999999999",
    "-1",
    "0",
    "00",
    "1e9",
    "none",
    "clear",
    "2027-12-31",
    "9999-12-31",
    "0001-01-01",
    "2027-02-30",
    "to",
    " to ",
    "organiser",
    "treasurer",
    "admin",
    "ADMIN",
    "branch",
    "region",
    "national",
    "join-",
    "join-frome",
    "join-shepton-mallet",
    "BA11",
    "/help",
    "@botname",
    "\ud800",
    "\udfff",
]


# --- the world every example runs in -------------------------------------------


class World:
    """The seeded party, the people who act in it, and what the checks need.

    (A plain class: Hypothesis prints a failing example's arguments, fixtures included,
    and would print a dataclass field by field.)
    """

    def __init__(
        self,
        chat: Chat,
        *,
        vocabulary: Vocabulary,
        baseline: dict[str, list[str]],
        rows: dict[str, list[dict[str, Any]]],
        swallowed: list[logging.LogRecord],
    ) -> None:
        self.chat = chat
        self.db: Database = chat.core.db
        self.ids = vocabulary.actor_ids  # an actor's person id (none for the stranger)
        self.baseline = baseline
        self.rows = rows
        self.swallowed = swallowed
        self.current: dict[str, list[str]] | None = baseline  # as of the last request
        self.requests = 0
        self.restores = 0
        self.arguments = _arguments(vocabulary)
        self.targets = _targets(vocabulary)
        self.branch_ids = st.sampled_from(vocabulary.branch_ids)
        self.prompt_ids = st.sampled_from(vocabulary.prompt_ids)

    def __repr__(self) -> str:
        return f"<World on {self.db.backend}: {self.requests} requests, {self.restores} restores>"


class Vocabulary:
    """Words and ids that mean something in the seeded party."""

    def __init__(
        self,
        persons: list[Person],
        handles: list[str],
        branches: list[Branch],
        regions: list[Region],
        prompt_ids: list[int],
    ) -> None:
        ids = {p.display_name: p.id for p in persons}
        self.actor_ids = {name: ids[name] for name in ACTORS if name in ids}
        self.people = sorted(
            {p.short_id for p in persons}
            | {p.short_id.lower() for p in persons}
            | {f"@{h}" for h in handles}
        )
        self.branches = sorted(
            {b.name for b in branches} | {b.name.lower() for b in branches} | {"Nowhere"}
        )
        self.regions = sorted({r.name for r in regions} | {r.slug for r in regions} | {"Mars"})
        self.branch_ids = sorted(str(b.id) for b in branches)
        self.prompt_ids = sorted(str(i) for i in prompt_ids)
        every = [p.id for p in persons] + [b.id for b in branches] + prompt_ids
        self.numbers = sorted({str(n + d) for n in every for d in (-1, 0, 1)})


class _Swallowed(logging.Handler):
    """Keeps what the core logs when it catches an unexpected exception."""

    def __init__(self, into: list[logging.LogRecord]) -> None:
        super().__init__(logging.ERROR)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record)


@pytest.fixture
def swallowed() -> Iterator[list[logging.LogRecord]]:
    records: list[logging.LogRecord] = []
    handler = _Swallowed(records)
    logger = logging.getLogger("bot.kernel.core")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


async def _raw_rows(db: Database) -> dict[str, list[dict[str, Any]]]:
    async with db.engine.connect() as conn:
        return {
            table.name: [dict(r) for r in (await conn.execute(table.select())).mappings()]
            for table in Base.metadata.sorted_tables
        }


async def _restore(world: World) -> None:
    """Put every table back to the seeded state."""
    async with world.db.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            await conn.execute(table.delete())
        for table in Base.metadata.sorted_tables:
            if world.rows[table.name]:
                await conn.execute(table.insert(), world.rows[table.name])
    world.restores += 1
    world.current = await snapshot(world.db)
    assert world.current == world.baseline, "could not put the seeded state back"


@pytest.fixture
async def world(demo: Chat, swallowed: list[logging.LogRecord]) -> AsyncIterator[World]:
    """The demo party, a newcomer, and live buttons (prompts) of several kinds to aim at."""
    chat = demo
    await chat.signup(NEWCOMER)
    carol, dan = await chat.person("Carol"), await chat.person("Dan")
    assert carol is not None and dan is not None
    await chat.say(STRANGER, "/start")  # a consent prompt
    await chat.say("Kai", "/forget")  # forget prompts
    await chat.say("Carol", "/forget")
    await chat.say(NEWCOMER, "/join Shepton Mallet")  # a propose prompt
    assert not (await chat.say("Bob", f"/dues {carol.short_id} 2027-12-31"))[0].error  # undo
    assert not (await chat.say("Alice", f"/promote {dan.short_id} organiser"))[0].error  # undo
    db = chat.core.db
    # Everyone has been seen just now, so that no request refreshes "last seen".
    async with db.transaction() as session:
        await session.execute(update(Identity).values(last_seen_at=chat.clock.now()))
    async with db.transaction() as session:
        vocabulary = Vocabulary(
            persons=list(await session.scalars(select(Person))),
            handles=[h for h in await session.scalars(select(Identity.handle)) if h],
            branches=list(await session.scalars(select(Branch))),
            regions=list(await session.scalars(select(Region))),
            prompt_ids=list(await session.scalars(select(Prompt.id))),
        )
    world = World(
        chat,
        vocabulary=vocabulary,
        baseline=await snapshot(db),
        rows=await _raw_rows(db),
        swallowed=swallowed,
    )
    swallowed.clear()
    yield world


# --- strategies ----------------------------------------------------------------

ODD_CHARACTERS = st.characters(categories=["Cs", "Cc", "Cf", "Nd", "No", "Zs", "So", "Mn"])


def _insert(text: str, piece: str, at: int) -> str:
    at = min(at, len(text))
    return text[:at] + piece + text[at:]


def _arguments(words: Vocabulary) -> st.SearchStrategy[str]:
    """The text after a command: nearly valid arguments (a person, a role, a date, a
    branch), the same with something hostile slipped in, hostile words, anything."""
    person, branch = st.sampled_from(words.people), st.sampled_from(words.branches)
    plausible = st.one_of(
        st.builds(  # /promote, /demote
            lambda *w: " ".join(x for x in w if x),
            person,
            st.sampled_from(["organiser", "treasurer", "admin", "Organiser", "organizer", ""]),
            st.sampled_from(["", "", "branch", "region", "national", "galaxy"]),
        ),
        st.builds(  # /dues
            lambda who, when: f"{who} {when}",
            person,
            st.sampled_from(["2027-12-31", "2026-11-26", "none", "clear", "2040-01-01", "31/12/27"])
            | st.dates().map(dt.date.isoformat),
        ),
        st.builds(  # /branch, /join, /affiliate
            lambda where, region: f"{where} to {region}" if region else where,
            branch,
            st.sampled_from(["", "", *words.regions]),
        ),
        st.sampled_from(words.people),  # /claim, or a bare person
        st.just(""),
    )
    piece = st.one_of(
        st.text(max_size=40),  # arbitrary unicode, NUL and other control characters included
        st.text(ODD_CHARACTERS, max_size=12),  # lone surrogates, odd digits, invisibles
        st.sampled_from(HOSTILE),
        person,
        branch,
        st.sampled_from(words.numbers),
        st.integers().map(str),
    )
    spoilt = st.builds(_insert, plausible, piece, st.integers(0, 30))
    anything = st.builds(
        lambda parts, sep: sep.join(parts),
        st.lists(piece, max_size=5),
        st.sampled_from([" ", "  ", "\n", "\t", ""]),
    )
    huge = st.builds(
        lambda unit, n: (unit * n)[:n],
        st.sampled_from(HOSTILE) | st.text(min_size=1, max_size=4),
        st.integers(100, 1500),  # around the core's limit of 1000 characters
    )
    return st.one_of(plausible, plausible, spoilt, anything, anything, huge)


def _targets(words: Vocabulary) -> st.SearchStrategy[str]:
    """What a button carries after ``action:``: ids that exist (or nearly), and anything."""
    return st.one_of(
        st.sampled_from(words.numbers),
        st.integers(min_value=-(10**3), max_value=10**25).map(str),
        st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=4),
        st.text(max_size=20),
        st.sampled_from(HOSTILE),
        st.sampled_from(words.people + words.branches),
        st.text(min_size=65, max_size=200),
        st.just(""),
    )


# --- the check every request goes through ------------------------------------


def _describe(actor: str, request: Request) -> str:
    if request.action is not None:
        return f"{actor} pressed {request.action}:{request.target[:200]!r}"
    return f"{actor} sent /{request.command} with {request.args[:200]!r}"


def command(world: World, actor: str, name: str, args: str) -> Request:
    return Request(world.chat.sender(actor), world.chat.chat_ref(actor), command=name, args=args)


def button(world: World, actor: str, name: str, target: str) -> Request:
    return Request(world.chat.sender(actor), world.chat.chat_ref(actor), action=name, target=target)


async def ask(
    world: World, actor: str, request: Request, *, read_only: bool = False, keep: bool = False
) -> list[Reply]:
    """Send one request and check every property. Then put the party back if the
    request changed it, unless ``keep`` (the caller goes on from the changed state)."""
    what = f"[{world.db.backend}] " + _describe(actor, request)
    before = world.current if world.current is not None else await snapshot(world.db)
    world.swallowed.clear()
    replies = await world.chat.core.handle(request)
    after = world.current = await snapshot(world.db)
    world.requests += 1

    assert not world.swallowed, (
        f"{what}: the core caught an unexpected exception and apologised: "
        + "; ".join(
            f"{r.exc_info[0].__name__}: {r.exc_info[1]}" if r.exc_info else r.getMessage()
            for r in world.swallowed
        )
    )
    assert isinstance(replies, list) and replies, f"{what}: no reply"
    for reply in replies:
        assert isinstance(reply, Reply), f"{what}: {reply!r} is no Reply"
        assert reply.text.strip(), f"{what}: a reply without text: {reply!r}"
        assert "Traceback" not in reply.text, f"{what}: a traceback in {reply.text!r}"
        assert APOLOGY not in reply.text, f"{what}: internal error: {reply.text!r}"

    if any(r.error for r in replies) or read_only:
        remembered = REMEMBERED_FAILURES.get(request.command or "", set())
        _only_a_refusal_was_audited(before, after, world.ids.get(actor), what, remembered)
    elif after != before and not keep:
        await _restore(world)
    return replies


def _only_a_refusal_was_audited(
    before: dict[str, list[str]],
    after: dict[str, list[str]],
    actor_id: int | None,
    what: str,
    remembered: set[str] | frozenset[str] = frozenset(),
) -> None:
    changed = sorted(t for t in before if before[t] != after[t])
    assert set(changed) <= {"audit_log", *remembered}, (
        f"{what}: refused or read-only, yet {changed} changed"
    )
    old, new = before["audit_log"], after["audit_log"]
    assert new[: len(old)] == old, f"{what}: existing audit rows changed"
    added = [dict(zip(AUDIT_COLUMNS, json.loads(row), strict=True)) for row in new[len(old) :]]
    assert len(added) <= 1, f"{what}: {len(added)} audit rows for one refusal: {added}"
    for row in added:
        assert row["action"] == "refused", f"{what}: an audit row that is no refusal: {row}"
        assert row["actor_id"] == actor_id, f"{what}: refusal audited as someone else: {row}"
        assert row["subject_id"] is None and row["branch_id"] is None, f"{what}: {row}"
        assert isinstance(row["details"], dict) and "what" in row["details"], f"{what}: {row}"


# --- the properties ------------------------------------------------------------


@pytest.mark.parametrize("name", COMMAND_NAMES)
@FUZZ
@given(data=st.data())
async def test_every_command_answers_any_text(world: World, name: str, data: st.DataObject) -> None:
    actor = data.draw(st.sampled_from(ACTORS), label="actor")
    args = data.draw(world.arguments, label="args")
    await ask(world, actor, command(world, actor, name, args), read_only=name in READ_ONLY_COMMANDS)


@pytest.mark.parametrize("name", ACTION_NAMES)
@FUZZ
@given(data=st.data())
async def test_every_button_answers_any_target(
    world: World, name: str, data: st.DataObject
) -> None:
    actor = data.draw(st.sampled_from(ACTORS), label="actor")
    # Half the time an id that exists, of the kind this button carries.
    real = world.prompt_ids if name in PROMPT_ACTIONS else world.branch_ids
    target = data.draw(real | world.targets, label="target")
    await ask(world, actor, button(world, actor, name, target), read_only=name in READ_ONLY_ACTIONS)


@FUZZ
@given(data=st.data())
async def test_any_message_is_answered(world: World, data: st.DataObject) -> None:
    """Whole messages as an adapter parses them: commands, unknown commands, chatter."""
    actor = data.draw(st.sampled_from(ACTORS), label="actor")
    text = data.draw(
        st.one_of(
            st.builds(
                lambda name, sep, args: f"/{name}{sep}{args}",
                st.sampled_from(COMMAND_NAMES) | st.text(max_size=12),
                st.sampled_from([" ", "@organiser_bot ", "\n", ""]),
                world.arguments,
            ),
            world.arguments,
        ),
        label="text",
    )
    chat = world.chat
    await ask(world, actor, Request.command_from(chat.sender(actor), chat.chat_ref(actor), text))


@FUZZ
@given(data=st.data())
async def test_any_button_data_is_answered(world: World, data: st.DataObject) -> None:
    """Button data as an adapter receives it, unknown actions and missing colons included."""
    actor = data.draw(st.sampled_from(ACTORS), label="actor")
    raw = data.draw(
        st.one_of(
            st.builds(
                lambda name, sep, target: f"{name}{sep}{target}",
                st.sampled_from(ACTION_NAMES) | st.text(max_size=12),
                st.sampled_from([":", "", "::"]),
                world.targets,
            ),
            st.text(max_size=80),
        ),
        label="data",
    )
    chat = world.chat
    await ask(world, actor, Request.button_from(chat.sender(actor), chat.chat_ref(actor), raw))


@FUZZ
@given(data=st.data())
async def test_agreeing_is_recorded_whatever_place_came_with_it(
    world: World, data: st.DataObject
) -> None:
    """A stranger sends /join <anything> (or opens a /start join-<anything> link); pressing
    "I agree" then records their consent, whether or not the place turns out to be one."""
    name = data.draw(st.sampled_from(["join", "start"]), label="command")
    place = data.draw(world.arguments, label="place")
    args = f"join-{place}" if name == "start" else place
    replies = await ask(world, STRANGER, command(world, STRANGER, name, args), keep=True)
    agree = [b for r in replies for b in r.button_list() if b.action == "consent"]
    if not agree:  # too long for any command: refused before the notice is shown
        assert replies[0].error
        return
    replies = await ask(world, STRANGER, button(world, STRANGER, "consent", agree[0].id), keep=True)
    recorded = await world.chat.person(STRANGER)
    await _restore(world)
    assert recorded is not None, (
        f"[{world.db.backend}] /{name} {args[:80]!r} then 'I agree': the consent was not "
        f"recorded; the stranger was told {[r.text for r in replies]}"
    )


# The pattern itself: @given on an async test, with function-scoped fixtures, runs
# every example, each awaited on the test's event loop against the same database.

COUNTED = 12


@pytest.fixture
async def counted(world: World) -> AsyncIterator[World]:
    yield world
    assert world.requests >= COUNTED, f"only {world.requests} of {COUNTED} examples ran"


@settings(
    max_examples=COUNTED,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    database=None,
)
@given(args=st.text(max_size=10))
async def test_hypothesis_runs_every_example(counted: World, args: str) -> None:
    await ask(counted, "Carol", command(counted, "Carol", "help", args), read_only=True)


# --- what the properties found, pinned as plain examples -----------------------


async def _problems(world: World, cases: list[tuple[str, Request]]) -> list[str]:
    """Ask each case; the first line of each property it breaks."""
    found = []
    for actor, request in cases:
        try:
            replies = await ask(world, actor, request)
            assert replies[0].error, f"{_describe(actor, request)}: not refused: {replies}"
        except AssertionError as exc:
            found.append(str(exc).splitlines()[0])
    return found


# "²".isdigit() and "፩".isdigit() are true, but int() refuses them; SQLite holds no
# integer past 2**63 - 1, and PostgreSQL's id columns none past 2**31 - 1.
NUMERIC_LOOKING = ["²", "፩", "2147483648", "9223372036854775808", "99999999999999999999"]


async def test_numeric_looking_button_targets_are_stale_buttons(world: World) -> None:
    cases = [
        ("Alice", button(world, "Alice", name, target))
        for name in ACTION_NAMES
        for target in NUMERIC_LOOKING
    ]
    problems = await _problems(world, cases)
    assert not problems, f"{len(problems)} of {len(cases)} crashed:\n" + "\n".join(problems)


ODD_ARGUMENTS = [
    ("Alice", "branch", "Fr\x00ome"),
    ("Bob", "dues", "\x00x 2027-12-31"),
    ("Alice", "promote", "@ali\x00ce organiser"),
    ("Kai", "affiliate", "B\x00ath"),
    ("Kai", "affiliate", "Bath to South\x00West"),
    ("Carol", "claim", "AB\x00CD"),
    ("Alice", "branch", "Fr\ud800ome"),
    ("Alice", "promote", "\ud800 organiser"),
    ("Alice", "demote", "@\udfff organiser"),
    ("Bob", "dues", "\udfff 2027-12-31"),
    ("Kai", "affiliate", "\ud800"),
    ("Carol", "claim", "\ud800"),
]


async def test_nul_and_lone_surrogates_in_arguments_are_refused_not_crashes(world: World) -> None:
    """PostgreSQL cannot store NUL in text; neither database can encode a lone surrogate
    (which ``json.loads`` gladly produces from a platform's ``"\\ud800"``)."""
    cases = [(actor, command(world, actor, name, args)) for actor, name, args in ODD_ARGUMENTS]
    problems = await _problems(world, cases)
    assert not problems, f"{len(problems)} of {len(cases)} crashed:\n" + "\n".join(problems)


async def test_a_place_that_is_no_place_does_not_lose_the_consent(world: World) -> None:
    chat = world.chat
    problems = []
    for text in ["/join Frome?", "/join BA11 4AB!", "/start join-st-ives!", "/join " + "x" * 81]:
        first = await chat.say(STRANGER, text)
        offered = [b for r in first for b in r.button_list() if b.label == "I agree"]
        if not offered:
            # Refused before any consent was asked for: a clear reply, nothing kept.
            if not (first[0].error and "town, area or postcode" in first[0].text):
                problems.append(f"{text}: neither consent nor a clear refusal: {first[0].text}")
            continue
        replies = await chat.press(STRANGER, offered[0])
        if await chat.person(STRANGER) is None:
            problems.append(f"{text} then 'I agree': no consent; told {[r.text for r in replies]}")
        await _restore(world)
    assert not problems, "\n".join(problems)
