"""Who a branch's messages go to, as queries the outbox runs when it delivers:
the branch's organisers, the admins over it, the national admins, one person."""

from __future__ import annotations

from sqlalchemy import bindparam, select

from bot.kernel.outbox import Recipients
from storage.models import Branch, Person, RoleGrant
from storage.vocabulary import ADMIN, ORGANISER, SCOPE_BRANCH, SCOPE_NATIONAL, SCOPE_REGION

_ORGANISERS_OF = select(RoleGrant.person_id).where(
    RoleGrant.scope == SCOPE_BRANCH,
    RoleGrant.scope_id == bindparam("r_branch"),
    RoleGrant.role == ORGANISER,
)


_NATIONAL_ADMINS = select(RoleGrant.person_id).where(
    RoleGrant.role == ADMIN, RoleGrant.scope == SCOPE_NATIONAL
)


_ADMINS_OVER = select(RoleGrant.person_id).where(
    RoleGrant.role == ADMIN,
    (RoleGrant.scope == SCOPE_NATIONAL)
    | ((RoleGrant.scope == SCOPE_REGION) & (RoleGrant.scope_id == bindparam("r_region"))),
)


_ONLY = select(Person.id).where(Person.id == bindparam("r_person"))


def organisers_of(branch: Branch) -> Recipients:
    """The organisers of the branch itself (not region or national staff)."""
    return Recipients(_ORGANISERS_OF, {"r_branch": branch.id})


def admins_over(branch: Branch) -> Recipients:
    """The national admins, and the admins of the branch's region if it has one."""
    if branch.region_id is None:
        return national_admins()
    return Recipients(_ADMINS_OVER, {"r_region": branch.region_id})


def national_admins() -> Recipients:
    return Recipients(_NATIONAL_ADMINS, {})


def only(person: Person) -> Recipients:
    return Recipients(_ONLY, {"r_person": person.id})
