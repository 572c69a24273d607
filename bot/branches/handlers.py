"""Whom and what an organiser's command means, within their reach: the branch
they name (or their own), the person they name, and the check that they look
after that branch. The organising commands of this package, and other features'
staff commands, build on these.

A person outside the actor's scope is answered exactly like a person who does
not exist, so that nobody can probe who is a member of a branch they do not
look after.
"""

from __future__ import annotations

from bot.branches.queries import search
from bot.branches.texts import role_label
from bot.kernel.context import Context
from bot.kernel.people import resolve_reference
from bot.kernel.permissions import holds_at_branch, holds_nationally
from storage.models import Branch, Person
from storage.vocabulary import ADMIN, ORGANISER, TREASURER

STAFF = (ORGANISER, TREASURER, ADMIN)


async def target_person(ctx: Context, ref: str, role: str) -> tuple[Person, Branch | None]:
    """The person an organiser means, if they look after that person's branch."""
    grants = await ctx.grants()
    matches: list[tuple[Person, Branch | None]] = []
    seen = False  # on a Members list the actor reads, but the role is missing
    for person in await resolve_reference(ctx.session, ref):
        branch = await ctx.session.get(Branch, person.branch_id) if person.branch_id else None
        if branch is not None and holds_at_branch(grants, role, branch):
            matches.append((person, branch))
        elif branch is None and holds_nationally(grants, ADMIN):
            matches.append((person, None))
        elif branch is not None and any(
            holds_at_branch(grants, r, branch) for r in (ORGANISER, TREASURER)
        ):
            seen = True
    if not matches and seen:
        # They can see this person (their Members list), so say the real reason.
        raise ctx.refuse(
            ctx.t(
                "That needs the {role} role (or an admin's) in their branch.",
                role=role_label(ctx.t, role),
            ),
            audit=f"target:{role}",
        )
    if not matches:
        raise ctx.refuse(
            ctx.t(
                "I cannot find {ref} among the people you look after. Use their short id "
                "(shown under /branch, Members) or their @handle.",
                ref=ref[:40],
            ),
            audit=f"target:{role}",
        )
    if len(matches) > 1:
        raise ctx.refuse(ctx.t("{ref} matches several people; use their short id.", ref=ref[:40]))
    return matches[0]


async def branch_named_or_own(ctx: Context, name: str) -> Branch:
    """The branch an organiser asks about: named, or their own."""
    person = ctx.require_person()
    if name:
        exact, found = await search(ctx, name)
        branch = exact or (found[0] if len(found) == 1 else None)
        if branch is None:
            raise ctx.refuse(ctx.t("There is no branch called {name}.", name=name[:40]))
        return branch
    branch = await ctx.session.get(Branch, person.branch_id) if person.branch_id else None
    if branch is None:
        raise ctx.refuse(ctx.t("You are not in a branch; name one: /branch Frome"))
    return branch


async def require_staff(ctx: Context, branch: Branch, roles: tuple[str, ...], what: str) -> None:
    """Refuse (audited as ``what``) unless the sender holds one of ``roles`` at
    ``branch`` or above it: the check every feature's staff command makes."""
    grants = await ctx.grants()
    if not any(holds_at_branch(grants, r, branch) for r in roles):
        raise ctx.refuse(
            ctx.t(
                "Only the organisers of the {branch} branch (or admins above it) can do that.",
                branch=branch.name,
            ),
            audit=what,
        )
