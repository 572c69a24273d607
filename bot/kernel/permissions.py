"""Who may do what, where.

Roles are held at a scope: a branch, a region or the national party. A role
held at a level holds for every level below it (a region's admin is an admin of
each of its branches), and an admin holds the organiser's and the treasurer's
powers too. This module is the only place that answers "may they?".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from storage.models import Branch, Person, RoleGrant
from storage.vocabulary import ADMIN, NATIONAL_SCOPE_ID, SCOPE_BRANCH, SCOPE_NATIONAL, SCOPE_REGION


def is_member(person: Person, at: dt.datetime, branch_timezone: str) -> bool:
    """A Member (may vote, may be drawn by lot) at ``at``: dues paid through that day.

    Dues are paid *through* the end of ``dues_paid_until`` in the branch's time
    zone, so a member whose dues run to 30 November votes until midnight there.
    Everyone else in a branch is a Supporter.
    """
    if person.dues_paid_until is None:
        return False
    local_day = at.astimezone(ZoneInfo(branch_timezone)).date()
    return local_day <= person.dues_paid_until


def _implies(held: str, wanted: str) -> bool:
    return held == wanted or held == ADMIN


def holds_at_branch(grants: Iterable[RoleGrant], role: str, branch: Branch) -> bool:
    """Does one of these grants give ``role`` over ``branch``?"""
    for g in grants:
        if not _implies(g.role, role):
            continue
        if g.scope == SCOPE_NATIONAL:
            return True
        if (
            g.scope == SCOPE_REGION
            and branch.region_id is not None
            and g.scope_id == branch.region_id
        ):
            return True
        if g.scope == SCOPE_BRANCH and g.scope_id == branch.id:
            return True
    return False


def holds_above_branch(grants: Iterable[RoleGrant], role: str, branch: Branch) -> bool:
    """Does one of these grants give ``role`` over ``branch`` from above it: in the
    branch's region, or nationally (a role held in the branch itself does not count)?"""
    if holds_nationally(grants, role):
        return True
    return branch.region_id is not None and holds_at_region(grants, role, branch.region_id)


def holds_at_region(grants: Iterable[RoleGrant], role: str, region_id: int) -> bool:
    return any(
        _implies(g.role, role)
        and (g.scope == SCOPE_NATIONAL or (g.scope == SCOPE_REGION and g.scope_id == region_id))
        for g in grants
    )


def holds_nationally(grants: Iterable[RoleGrant], role: str) -> bool:
    return any(
        _implies(g.role, role) and g.scope == SCOPE_NATIONAL and g.scope_id == NATIONAL_SCOPE_ID
        for g in grants
    )


def holds_anywhere(grants: Iterable[RoleGrant], role: str) -> bool:
    return any(_implies(g.role, role) for g in grants)
