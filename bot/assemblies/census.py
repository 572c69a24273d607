"""Census targets and what they give: reading an organiser's shares (typed in
chat or a CSV file on the command line) and the overview shown before anything
is committed, the quotas with each value's coverage and, when they cannot all be
met, the smallest relaxation. Shared by /assembly and ``organiser assembly``."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession

from bot.assemblies import queries
from bot.assemblies.drawing import quotas_of
from bot.assemblies.rules import Problem, categories_of, coverage, read_targets
from bot.assemblies.texts import overview, panel_text
from bot.kernel.i18n import N_, Translator
from storage.models import Assembly


async def set_targets(session: AsyncSession, assembly: Assembly, text: str) -> None:
    """Store the census shares ``text`` gives (raises Problem), unless the draw is committed."""
    if await queries.live_draw(session, assembly.id) is not None:
        raise Problem(N_("The draw is committed: its targets can no longer change."))
    assembly.targets = read_targets(text, categories_of(assembly.categories))


async def overview_text(session: AsyncSession, assembly: Assembly, t: Translator) -> str:
    pool = await queries.pool(session, assembly.id)
    quotas = quotas_of(assembly)
    relaxation = None
    if quotas and len(pool) >= assembly.seats:
        answers = [dict(r.answers) for r in pool]
        relaxation = await asyncio.to_thread(relaxation_of, assembly, answers)
    text = overview(
        t, assembly, len(pool), quotas, coverage(quotas, [r.answers for r in pool]), relaxation
    )
    counts = await queries.invitation_counts(session, assembly.id)
    if counts:
        text += "\n" + panel_text(t, counts)
    return text


def relaxation_of(assembly: Assembly, answers: list[dict[str, str]]) -> str | None:
    """Why the census quotas cannot all be met by this pool, and the smallest fix (None: they can)."""
    from bot.lib.sortition import relaxation_for
    from bot.lib.sortition.model import Person as Entrant
    from bot.lib.sortition.model import Problem as Selection
    from bot.lib.sortition.model import SortitionError

    try:
        problem = Selection.build(
            [Entrant(f"r{i}", a) for i, a in enumerate(answers)],
            quotas_of(assembly),
            assembly.seats,
        )
    except SortitionError as exc:
        return str(exc)
    found = relaxation_for(problem)
    return found.describe() if found is not None else None
