"""Authorisation: every organiser, treasurer and admin command and button, tried by
people without the role over its target, is refused.

Each attempt below carries arguments that *would* work for the rightful role (the
positive control, run last, proves it), and is tried by a plain member and a
supporter of Frome, the organiser and a member of *another* branch (Bath), a person
in no branch, a stranger who never agreed to the privacy notice, and, where it
matters, staff one role short. For every refusal:

- the reply is a refusal (``error=True``);
- nothing changed in the database but one ``audit_log`` row with action "refused"
  and the actor's id (a stranger has no id: nothing may be stored about them, at
  most an anonymous "refused" row);
- the refusal reveals nothing about the person or branch people it concerns: no
  name, short id, dues date or branch they did not type themselves; a person out of
  reach reads exactly like a person who does not exist;
- it was audited: a person who agreed and tried something forbidden is on record.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.app import build_handlers
from bot.kernel.messages import Reply
from bot.membership.importer import import_members, read_rows
from storage.db import Database
from storage.models import AuditEntry, Base, Branch, Identity, Person
from tests.helpers import Chat, snapshot, text

STRANGER = "Zed"  # never agreed to the privacy notice
NEWCOMER = "Nia"  # agreed, in no branch, no role
# Frome member, Frome supporter, Bath organiser+treasurer, Bath member, no branch, stranger.
EVERYONE_ELSE = ("Carol", "Dan", "Erin", "Femi", NEWCOMER, STRANGER)
NOBODY = "ZZZZZZ"  # a short id nobody has (checked)

AUDIT_COLUMNS = [c.name for c in AuditEntry.__table__.columns]


@dataclass(frozen=True)
class Attempt:
    """``what``: a command, or ``action:target`` for a button. ``{Name}`` stands for
    that person's short id, ``{frome}`` for a branch id, ``{undo}``/``{undo_role}``
    for the Undo under Bob's /dues and under Alice's /promote, ``{wells}`` for Wells
    once it is forming."""

    key: str
    what: str
    refused: tuple[str, ...]
    rightful: tuple[str, ...]
    done: str  # in the rightful role's reply
    subject: str | None = None  # the person it concerns
    branch: str | None = None  # the branch it concerns
    changes: bool = True  # whether the rightful role's request changes the party
    group: str | None = None  # sent in this group chat rather than privately

    @property
    def is_button(self) -> bool:
        return not self.what.startswith("/")


ATTEMPTS = [
    Attempt(
        "assembly-open",
        "/assembly open Town climate assembly | BA11 | 4 | 2027-03-06 to 2027-03-07 | 2027-02-01",
        refused=("Carol", "Dan", "Femi", "Bob", "Lee", NEWCOMER, STRANGER),
        rightful=("Alice", "Erin"),  # Frome's organiser, Bath's: each for their own branch
        done="Town climate assembly",
    ),
    Attempt(
        "assembly-open-region",
        "/assembly open Region climate assembly | region=south-west | 4 | 2027-03-06 to "
        "2027-03-07 | 2027-02-01",
        refused=(*EVERYONE_ELSE, "Alice", "Bob", "Lee"),  # a branch's organiser is not the region's
        rightful=("Jo", "Kai"),
        done="Region climate assembly",
    ),
    Attempt(
        "assembly-open-national",
        "/assembly open Party climate assembly | national: BS1, BA11 | 4 | 2027-03-06 to "
        "2027-03-07 | 2027-02-01",
        refused=(*EVERYONE_ELSE, "Alice", "Jo"),  # a region's admin is not the party's
        rightful=("Kai",),
        done="Party climate assembly",
    ),
    Attempt(
        "announce-branch",
        "/announce branch Frome members: Bring leaflets",
        refused=(*EVERYONE_ELSE, "Bob", "Lee"),  # Bob is Frome's treasurer, no organiser
        rightful=("Alice", "Jo", "Kai"),
        done="Preview of your announcement",
        branch="Frome",
    ),
    Attempt(
        "announce-region",
        "/announce region South West: Regional assembly",
        refused=(*EVERYONE_ELSE, "Alice", "Bob"),  # a branch's organiser is not the region's
        rightful=("Jo", "Kai"),
        done="Preview of your announcement",
    ),
    Attempt(
        "announce-national",
        "/announce national: Conference",
        refused=(*EVERYONE_ELSE, "Alice", "Jo"),  # a region's admin is not the party's
        rightful=("Kai",),
        done="Preview of your announcement",
    ),
    Attempt(
        "signup-branch",
        "/signup Frome",
        refused=(*EVERYONE_ELSE, "Bob", "Lee"),  # Bob is Frome's treasurer, no organiser
        rightful=("Alice", "Jo", "Kai"),
        done="The sign-up link for the Frome branch",
        branch="Frome",
        changes=False,
    ),
    Attempt(
        "signup",
        "/signup",
        refused=("Carol", "Dan", "Femi", "Bob", "Lee", NEWCOMER, STRANGER),
        rightful=("Alice", "Erin", "Jo", "Kai"),  # Frome's, Bath's, the party's, the party's
        done="The sign-up link for the",
        changes=False,
    ),
    Attempt(
        "branch",
        "/branch Frome",
        refused=(*EVERYONE_ELSE, "Lee"),
        rightful=("Alice", "Bob", "Jo", "Kai"),
        done="Frome branch: affiliated",
        branch="Frome",
        changes=False,
    ),
    Attempt(
        "branch-own",
        "/branch",
        refused=("Carol", "Dan", "Lee"),
        rightful=("Alice", "Bob", "Jo"),
        done="Frome branch: affiliated",
        branch="Frome",
        changes=False,
    ),
    Attempt(
        "dues",
        "/dues {Carol} 2027-12-31",
        refused=(*EVERYONE_ELSE, "Alice"),  # Alice organises Frome but is no treasurer
        rightful=("Bob", "Jo", "Kai"),
        done="paid until 2027-12-31",
        subject="Carol",
    ),
    Attempt(
        "dues-by-handle",
        "/dues @carol none",
        refused=EVERYONE_ELSE,
        rightful=("Bob",),
        done="recorded as a supporter",
        subject="Carol",
    ),
    Attempt(
        "promote",
        "/promote {Dan} organiser",
        refused=(*EVERYONE_ELSE, "Bob"),  # Bob is Frome's treasurer, no organiser
        rightful=("Alice", "Jo", "Kai"),
        done="Dan is now organiser of the Frome branch",
        subject="Dan",
    ),
    Attempt(
        "demote",
        "/demote {Bob} treasurer",
        refused=EVERYONE_ELSE,
        rightful=("Alice", "Jo", "Kai"),
        done="Bob is no longer treasurer",
        subject="Bob",
    ),
    Attempt(
        "promote-to-admin",
        "/promote {Carol} admin",
        refused=("Alice", "Bob", "Erin", "Carol"),  # an organiser cannot make admins
        rightful=("Jo", "Kai"),
        done="Carol is now admin of the Frome branch",
        subject="Carol",
    ),
    Attempt(
        "promote-self-to-region-admin",
        "/promote {Alice} admin region",
        refused=("Alice", "Erin", "Carol"),
        rightful=("Jo", "Kai"),
        done="Alice is now admin of the South West region",
        subject="Alice",
    ),
    Attempt(
        "promote-self-to-national-admin",
        "/promote {Jo} admin national",
        refused=("Jo", "Alice"),  # a region admin cannot make national admins
        rightful=("Kai",),
        done="Jo is now admin of the national party",
        subject="Jo",
    ),
    Attempt(
        "affiliate",
        "/affiliate Bath",
        refused=(*EVERYONE_ELSE, "Alice", "Gita"),  # Erin organises Bath: no admin
        rightful=("Jo", "Kai"),
        done="Bath branch is now affiliated",
        branch="Bath",
    ),
    Attempt(
        "region-add",
        "/region add North East",
        refused=(*EVERYONE_ELSE, "Alice", "Jo"),  # a region admin cannot make regions
        rightful=("Kai",),
        done="The North East region is created",
    ),
    Attempt(
        "merge",
        "/merge {Deirdre} {Dee}",
        refused=(*EVERYONE_ELSE, "Bob"),  # Bob is Frome's treasurer, no organiser
        rightful=("Alice", "Jo", "Kai"),
        done="Merged: Deirdre",
        subject="Deirdre",
    ),
    Attempt(
        "members",
        "members:{frome}",
        refused=(*EVERYONE_ELSE, "Lee"),
        rightful=("Alice", "Bob", "Jo", "Kai"),
        done="People in the Frome branch",
        branch="Frome",
        changes=False,
    ),
    Attempt(
        "members-list",
        "/members lapsed",
        refused=("Carol", "Dan", "Femi", NEWCOMER, STRANGER, "Lee"),  # Erin sees Bath's
        rightful=("Alice", "Bob", "Erin", "Jo", "Kai"),
        done="People (lapsed)",
        changes=False,
    ),
    Attempt(
        "members-export",
        "/members export",
        refused=("Carol", "Dan", "Femi", NEWCOMER, STRANGER, "Lee"),
        rightful=("Alice", "Bob", "Erin", "Jo", "Kai"),
        done="as a spreadsheet",
    ),
    Attempt(
        "override",
        "/branch override Wells: they met for months before the party existed",
        # Organisers cannot wave their own branch through a step: only admins over it.
        refused=(*EVERYONE_ELSE, "Alice", "Bob", "Ivan"),  # Ivan: a Wells member
        rightful=("Jo", "Kai"),
        done="Overridden: the Wells branch is now forming",
        branch="Wells",
    ),
    Attempt(
        "delivery",
        "/delivery Frome",
        refused=(*EVERYONE_ELSE, "Lee"),
        rightful=("Alice", "Bob", "Jo", "Kai"),
        done="Frome branch",
        branch="Frome",
        changes=False,
    ),
    Attempt(
        "campaign",
        "/campaign start Council election 2026-12-10 region",
        refused=(*EVERYONE_ELSE, "Alice", "Bob"),  # Frome's staff, but no region admins
        rightful=("Jo",),  # the region is the one of her branch
        done="Council election campaign is on",
        changes=True,
    ),
    Attempt(
        "linkchat",
        "/linkchat Frome",
        refused=(*EVERYONE_ELSE, "Bob"),  # Bob is Frome's treasurer, no organiser
        rightful=("Alice", "Jo", "Kai"),
        done="This chat now receives the Frome branch's announcements",
        branch="Frome",
        group="frome-chat",
    ),
    Attempt(
        "unlinkchat",
        "/unlinkchat",
        refused=(*EVERYONE_ELSE, "Bob"),
        rightful=("Alice", "Jo", "Kai"),
        done="no longer receives the Frome branch's announcements",
        branch="Frome",
        group="linked-chat",
    ),
    Attempt(
        "meeting",
        "/meeting online 2026-12-03 19:00 https://meet.example/abc Branch call",
        # Erin organises Bath: she would arrange one there, rightly.
        refused=("Carol", "Dan", "Femi", NEWCOMER, STRANGER, "Bob", "Lee"),
        rightful=("Alice", "Jo"),
        done="Thu 3 Dec 2026, 19:00 (Europe/London)",
        branch="Frome",
    ),
    Attempt(
        "draw",
        "/draw",
        refused=("Carol", "Dan", "Femi", NEWCOMER, STRANGER, "Bob"),
        rightful=("Alice", "Jo"),
        done="members of Frome can be drawn",
        branch="Frome",
        changes=False,
    ),
    Attempt(
        "draw-region",
        "/draw region=south-west",
        refused=("Alice", "Carol", "Erin", "Femi", NEWCOMER, STRANGER),
        rightful=("Jo", "Kai"),
        done="members of South West can be drawn",
        changes=False,
    ),
    Attempt(
        "draw-national",
        "/draw delegates national",
        refused=("Alice", "Jo", "Carol", "Erin", NEWCOMER, STRANGER),
        rightful=("Kai",),
        done="members of South West can be drawn",
        changes=False,
    ),
    Attempt(
        "meeting-reminders",
        "/meeting reminders 48,2",
        refused=("Carol", "Dan", "Femi", NEWCOMER, STRANGER, "Bob"),
        rightful=("Alice", "Jo"),
        done="reminded 48 hours and 2 hours before",
        branch="Frome",
    ),
    Attempt(
        "undo-dues",
        "undo:{undo}",
        refused=(*EVERYONE_ELSE, "Alice", "Kai"),
        rightful=("Bob",),
        done="Undone.",
        subject="Carol",
    ),
    Attempt(
        "undo-promote",
        "undo:{undo_role}",
        refused=("Dan", "Carol", "Erin", "Bob", STRANGER),
        rightful=("Alice",),
        done="Undone. Dan is no longer organiser",
        subject="Dan",
    ),
]


# --- the stage ----------------------------------------------------------------


@dataclass
class Known:
    name: str
    id: int
    short_id: str
    dues: dt.date | None
    branch: str | None


class Stage:
    """The demo party with a newcomer, and whatever an attempt needs set up first."""

    def __init__(self, chat: Chat) -> None:
        self.chat = chat
        self.db: Database = chat.core.db
        self.values: dict[str, str] = {}
        self.people: dict[str, Known] = {}
        self.seen_dues: dict[str, set[str]] = {}  # every dues date a person has had here
        self.rows: dict[str, list[dict[str, Any]]] = {}

    async def prepare(self, attempt: Attempt) -> None:
        chat = self.chat
        await chat.signup(NEWCOMER)
        await self._learn()
        if "{wells}" in attempt.what:  # Wells has two people: a third and an organiser
            await chat.signup("Uma", "Wells")
            replies = await chat.say("Kai", f"/promote {self.values['Hana']} organiser")
            assert (await self._branch("Wells")).status == "forming", text(replies)
        if "{undo}" in attempt.what:
            await chat.say("Bob", f"/dues {self.values['Carol']} 2027-12-31")
            self.values["undo"] = chat.button("Bob", "Undo").id
        if attempt.key == "merge":  # Deirdre was imported; she joined from chat as Dee
            rows = read_rows(io.StringIO("name,branch\nDeirdre,Frome\n"))
            await import_members(self.db, rows, now=chat.clock.now())
            await chat.signup("Dee", "Frome")
        if attempt.key == "unlinkchat":
            await chat.say("Alice", "/linkchat", group="linked-chat")
        if "{undo_role}" in attempt.what:
            await chat.say("Alice", f"/promote {self.values['Dan']} organiser")
            self.values["undo_role"] = chat.button("Alice", "Undo").id
        async with self.db.transaction() as session:  # everyone was seen just now
            await session.execute(update(Identity).values(last_seen_at=chat.clock.now()))
            assert await session.scalar(select(Person).where(Person.short_id == NOBODY)) is None
        await self._learn()
        self.rows = await _raw_rows(self.db)

    async def _branch(self, name: str) -> Branch:
        async with self.db.transaction() as session:
            branch = await session.scalar(select(Branch).where(Branch.name == name))
        assert branch is not None
        return branch

    async def _learn(self) -> None:
        async with self.db.transaction() as session:
            branches = {b.id: b for b in await session.scalars(select(Branch))}
            persons = list(await session.scalars(select(Person)))
        for b in branches.values():
            self.values[b.slug] = str(b.id)
        for p in persons:
            branch = branches[p.branch_id].name if p.branch_id else None
            self.people[p.display_name] = Known(
                p.display_name, p.id, p.short_id, p.dues_paid_until, branch
            )
            self.values[p.display_name] = p.short_id
            if p.dues_paid_until:
                self.seen_dues.setdefault(p.display_name, set()).add(p.dues_paid_until.isoformat())

    def render(self, attempt: Attempt, **override: str) -> str:
        return attempt.what.format(**(self.values | override))

    async def send(
        self, actor: str, what: str, *, button: bool, group: str | None = None
    ) -> list[Reply]:
        if button:
            return await self.chat.press(actor, what)
        return await self.chat.say(actor, what, group=group)

    def secrets(self, attempt: Attempt, actor: str, request: str) -> list[str]:
        """What a refusal must not show: the data of the people it concerns (but what
        the actor typed, and the actor's own)."""
        concerned = []
        if attempt.subject:
            concerned.append(attempt.subject)
        if attempt.branch:
            concerned += [p.name for p in self.people.values() if p.branch == attempt.branch]
        words: set[str] = set()
        for name in concerned:
            if name == actor:
                continue
            person = self.people[name]
            words |= {person.name, person.short_id, *self.seen_dues.get(name, ())}
            if person.branch and attempt.branch is None:
                words.add(person.branch)
        return sorted(w for w in words if w.lower() not in request.lower())


@pytest.fixture
def stage(demo: Chat) -> Stage:
    return Stage(demo)


async def _raw_rows(db: Database) -> dict[str, list[dict[str, Any]]]:
    async with db.engine.connect() as conn:
        return {
            table.name: [dict(r) for r in (await conn.execute(table.select())).mappings()]
            for table in Base.metadata.sorted_tables
        }


async def _restore(db: Database, rows: dict[str, list[dict[str, Any]]]) -> None:
    async with db.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            await conn.execute(table.delete())
        for table in Base.metadata.sorted_tables:
            if rows[table.name]:
                await conn.execute(table.insert(), rows[table.name])


def _added_audit_rows(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[dict]:
    old, new = before["audit_log"], after["audit_log"]
    assert new[: len(old)] == old, "existing audit rows changed"
    return [dict(zip(AUDIT_COLUMNS, json.loads(r), strict=True)) for r in new[len(old) :]]


def _mentions(reply_text: str, word: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", reply_text, re.IGNORECASE) is not None


# --- the table ------------------------------------------------------------------


@pytest.mark.parametrize("attempt", ATTEMPTS, ids=lambda a: a.key)
async def test_refused_without_the_role_done_with_it(stage: Stage, attempt: Attempt) -> None:
    await stage.prepare(attempt)
    db = stage.db
    problems: list[str] = []
    unaudited: list[str] = []

    for actor in attempt.refused:
        request = stage.render(attempt)
        who = f"{actor}: {request!r}"
        actor_id = stage.people[actor].id if actor in stage.people else None
        before = await snapshot(db)
        replies = await stage.send(actor, request, button=attempt.is_button, group=attempt.group)
        after = await snapshot(db)
        said = text(replies)

        if not replies or not all(r.error for r in replies):
            problems.append(f"{who} was NOT refused: {said!r}")
            await _restore(db, stage.rows)
            continue
        changed = sorted(t for t in before if before[t] != after[t] and t != "audit_log")
        if changed:
            problems.append(f"{who} was refused, yet {changed} changed")
        added = _added_audit_rows(before, after)
        wrong = [r for r in added if r["action"] != "refused" or r["actor_id"] != actor_id]
        if wrong or len(added) > 1:
            problems.append(f"{who}: unexpected audit rows {added}")
        leaks = [w for w in stage.secrets(attempt, actor, request) if _mentions(said, w)]
        if leaks:
            problems.append(f"{who}: the refusal reveals {leaks}: {said!r}")
        if actor != STRANGER and not any(r["action"] == "refused" for r in added):
            unaudited.append(f"{who} (told {said!r})")

        # A person out of reach must read exactly like a person who does not exist.
        if (
            attempt.subject
            and "{" + attempt.subject + "}" in attempt.what
            and actor in EVERYONE_ELSE
        ):
            nobody = stage.render(attempt, **{attempt.subject: NOBODY})
            other = text(await stage.send(actor, nobody, button=False))
            real_id = stage.values[attempt.subject]
            if other.replace(NOBODY, "<ref>") != said.replace(real_id, "<ref>"):
                problems.append(
                    f"{who}: a real person out of reach reads {said!r}, "
                    f"nobody reads {other!r}: the difference tells that they exist"
                )

    # The positive control: the same request by the rightful role is done.
    for actor in attempt.rightful:
        request = stage.render(attempt)
        before = await snapshot(db)
        replies = await stage.send(actor, request, button=attempt.is_button, group=attempt.group)
        after = await snapshot(db)
        said = text(replies)
        if any(r.error for r in replies) or attempt.done not in said:
            problems.append(f"positive control: {actor}: {request!r} was not done: {said!r}")
        elif attempt.changes != (before != after):
            problems.append(
                f"positive control: {actor}: {request!r} "
                + ("changed nothing" if attempt.changes else "changed the party")
            )
        if any(r["action"] == "refused" for r in _added_audit_rows(before, after)):
            problems.append(f"positive control: {actor}: {request!r} was audited as refused")
        await _restore(db, stage.rows)

    report = []
    if problems:
        report += ["PROBLEMS:", *problems]
    if unaudited:
        report += [
            "REFUSED BUT NOT AUDITED (no audit_log row 'refused' with the actor's id) — "
            "a forbidden attempt on an organiser action leaves no trace:",
            *unaudited,
        ]
    assert not report, "\n".join(report)


def test_the_table_covers_every_command_and_button_that_needs_a_role() -> None:
    """A new role-bound command or button must be added to the table above."""
    covered = {a.what.split()[0].lstrip("/") for a in ATTEMPTS if not a.is_button}
    buttons = {a.what.split(":")[0] for a in ATTEMPTS if a.is_button}
    needing_a_role = {name for name, spec in build_handlers().commands.items() if spec.roles}
    assert needing_a_role <= covered, f"not in the table: {sorted(needing_a_role - covered)}"
    # Buttons carry no roles in the registry; these are the ones that check one.
    assert {"members", "undo"} <= buttons
