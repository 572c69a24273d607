"""The timed jobs as the core declares them: which exist, for which branches, and
that each does its work once however often it runs."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from bot.app import build_timed_jobs
from bot.kernel.config import Settings
from bot.kernel.timed import At, Every, PerBranch, Planned, Sweep, TimedJobs
from storage.models import Branch
from storage.vocabulary import ACTIVE
from tests.helpers import Chat, post_poll

LONDON = "Europe/London"


async def _branch_ids(chat: Chat) -> dict[str, int]:
    async with chat.core.db.transaction() as session:
        return {b.name: b.id for b in await session.scalars(select(Branch))}


async def test_a_proposed_branch_gets_no_reminder_jobs_and_an_active_one_does(
    demo: Chat,
) -> None:
    core = demo.core
    settings = Settings(roundup_day="sunday", roundup_time="19:30", reminder_time="17:05")
    ids = await _branch_ids(demo)
    frome, wells = ids["Frome"], ids["Wells"]
    planned = await build_timed_jobs().plan(core.db, settings)
    sweeps = [p for p in planned if p.branch is None]
    assert sorted(p.id for p in sweeps) == [
        "assembly-invitations",
        "assembly-retention",
        "canvass-core",
        "dues-renewals",
        "invitations",
        "meetings",
        "polls",
        "retention",
        "seeds",
    ]
    assert all(
        p.when
        == (
            Every(60)
            if p.id in ("canvass-core", "dues-renewals", "assembly-retention")
            else Every(1)
        )
        and p.late is None
        for p in sweeps
    )
    late = dt.timedelta(hours=6)
    assert [p for p in planned if p.branch == frome] == [
        Planned(f"roundup:{frome}", "roundup", At(dt.time(19, 30), LONDON, 6), frome, late),
        Planned(f"campaign:{frome}", "campaign", At(dt.time(9, 0), LONDON), frome, late),
        Planned(f"evening:{frome}", "evening", At(dt.time(17, 5), LONDON), frome, late),
        Planned(f"dues-weekly:{frome}", "dues-weekly", At(dt.time(9, 0), LONDON, 0), frome, late),
    ]
    assert {p.branch for p in planned} == {None, frome, ids["Bath"]}  # Wells: proposed

    async with core.db.transaction() as session:
        await session.execute(update(Branch).where(Branch.id == wells).values(status=ACTIVE))
    planned = await build_timed_jobs().plan(core.db, settings)
    assert [p.id for p in planned if p.branch == wells] == [
        f"roundup:{wells}",
        f"campaign:{wells}",
        f"evening:{wells}",
        f"dues-weekly:{wells}",
    ]


async def test_every_timed_job_run_twice_does_its_work_once(demo: Chat) -> None:
    """A second run at the same moment (a restart, a second worker) queues nothing
    more: here the evening before a canvassing session and a poll's reminders."""
    await demo.say("Alice", "/canvass schedule saturday 10:30 Market Cross")
    await demo.say("Carol", "/canvass")
    await demo.press("Carol", "Sign up 1")
    await demo.say("Alice", "/linkchat", group="frome-group")
    await post_poll(demo, "Alice", '"Yes or no?" "Yes" "No" --closes 2026-11-28 12:00')
    before = await demo.outbox()
    friday_evening = dt.datetime(2026, 11, 27, 18, 0, tzinfo=dt.UTC)
    core, jobs = demo.core, build_timed_jobs()
    planned = await jobs.plan(core.db, core.settings)
    for item in planned:
        assert await jobs.run(item.job, core.db, core.settings, friday_evening, item.branch)
    once = await demo.outbox()
    new = once[len(before) :]
    assert [n for n, t in new if t.startswith("Reminder: canvassing tomorrow")] == ["Carol"]
    assert any(t.startswith("A reminder: the poll") for _, t in new)
    for item in planned:
        assert await jobs.run(item.job, core.db, core.settings, friday_evening, item.branch)
    assert await demo.outbox() == once


def test_a_timed_job_named_twice_is_refused() -> None:
    async def sweep(*args: object) -> None:
        pass

    with pytest.raises(ValueError, match="timed job polls declared twice"):
        TimedJobs([Sweep("polls", sweep), PerBranch("polls", sweep, lambda s, b: None)])
