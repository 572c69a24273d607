"""What canvassing achieved: totals per session, and a chart of the last weeks.

Only totals and the issues voters raised (as tags) are stored: never a voter's
identity or opinion.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import select

from bot.canvassing.rules import local
from bot.kernel.context import Context
from bot.kernel.i18n import format_local
from storage.models import Branch, CanvassResult, CanvassSession

WEEKS = 12
TAG = re.compile(r"^[a-z][a-z0-9-]{0,29}$")
MAX_TAGS = 10
MAX_COUNT = 100_000


def parse_tags(words: list[str]) -> list[str] | None:
    """Lower-case tags such as ``housing`` or ``bus-routes``; None if any is not one."""
    tags = [w.lower().strip(",#") for w in words]
    if len(tags) > MAX_TAGS or not all(TAG.match(t) for t in tags):
        return None
    return list(dict.fromkeys(tags))


@dataclass(frozen=True, slots=True)
class Week:
    start: dt.date
    people: int
    doors: int
    conversations: int


async def weekly_totals(ctx: Context, branch: Branch) -> tuple[list[Week], Counter[str]]:
    """The last ``WEEKS`` weeks (oldest first, empty weeks included) and the issues raised."""
    today = local(ctx.now, branch.timezone).date()
    this_monday = today - dt.timedelta(days=today.weekday())
    first = this_monday - dt.timedelta(weeks=WEEKS - 1)
    rows = await ctx.session.execute(
        select(CanvassSession.starts_at, CanvassResult)
        .join(CanvassResult, CanvassResult.session_id == CanvassSession.id)
        .where(CanvassSession.branch_id == branch.id)
    )
    weeks = {first + dt.timedelta(weeks=i): [0, 0, 0] for i in range(WEEKS)}
    issues: Counter[str] = Counter()
    for starts_at, result in rows:
        day = local(starts_at, branch.timezone).date()
        monday = day - dt.timedelta(days=day.weekday())
        if monday in weeks:
            totals = weeks[monday]
            totals[0] += result.people_out
            totals[1] += result.doors
            totals[2] += result.conversations
            issues.update(result.tags or [])
    return [Week(m, *t) for m, t in sorted(weeks.items())], issues


def chart(branch_name: str, weeks: list[Week], labels: dict[str, str], locale: str) -> bytes:
    """A PNG of people out, doors and conversations per week, dated in ``locale``."""
    # The object-oriented API, not pyplot: no global state, so it may run in a thread.
    from matplotlib.figure import Figure

    x = [format_local(w.start, "day_month", locale) for w in weeks]
    figure = Figure(figsize=(8, 5))
    top, bottom = figure.subplots(2, 1, sharex=True)
    top.bar(x, [w.doors for w in weeks], color="#6a9fb5", label=labels["doors"])
    top.plot(
        x,
        [w.conversations for w in weeks],
        color="#d4843e",
        marker="o",
        label=labels["conversations"],
    )
    top.legend(loc="upper left")
    top.set_title(labels["title"].format(branch=branch_name))
    bottom.bar(x, [w.people for w in weeks], color="#8fb56a", label=labels["people"])
    bottom.legend(loc="upper left")
    bottom.tick_params(axis="x", rotation=45)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()
