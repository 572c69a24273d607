"""Branches: finding them, joining and leaving, and their lifecycle.

proposed -> forming -> active -> affiliated. A branch is *proposed* when
someone asks for one where none exists; the people who join it are its
interest. It is *forming* once enough people are interested (the configured
threshold) and it has an organiser; *active* once its first online call and
first face-to-face meeting have been held; *affiliated* once a region or
national admin signs it up to the party structure. Each step is recorded with
who and when; what each step needs is in :mod:`bot.branches.formation`.
"""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import bindparam, func, or_, select

from bot.branches.founding import is_postcode_district
from bot.kernel.context import Context
from bot.kernel.i18n import Translator
from bot.kernel.outbox import Recipients
from bot.kernel.suggest import escape_like
from storage.models import Branch, BranchTransition, Person, RoleGrant
from storage.vocabulary import (
    ACTIVE,
    ADMIN,
    AFFILIATED,
    FORMING,
    ORGANISER,
    PROPOSED,
    SCOPE_BRANCH,
    SCOPE_NATIONAL,
    SCOPE_REGION,
    TREASURER,
)

SEARCH_LIMIT = 6
PLACE_LIMIT = 80


def slugify(text: str) -> str:
    """A URL-safe key for a name: ASCII where the name has Latin letters (Zürich ->
    zurich), else the name's own letters (東京, القاهرة), so every script has one."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:80]
    if slug:
        return slug
    return re.sub(r"[\W_]+", "-", unicodedata.normalize("NFKC", text).casefold()).strip("-")[:80]


def clean_place(text: str) -> str | None:
    """A place name fit to search for or to propose, or None if it is not one."""
    text = " ".join(text.split())
    if not text or len(text) > PLACE_LIMIT or not slugify(text):
        return None
    if any(not (ch.isalnum() or ch in " -'.,&()/") for ch in text):
        return None
    return text


_BY_SLUG = select(Branch).where(Branch.slug == bindparam("slug"))


async def search(ctx: Context, query: str) -> tuple[Branch | None, list[Branch]]:
    """(the exact match, if one; every match, best first) for a place or branch name.

    The exact match is the one branch of that name, or else the one branch whose
    area names the place.

    A branch matches by slug, by name prefix, or by a word of its area (place
    names, postcode prefixes: ``BA11 4AB`` finds the branch whose area says BA11).
    """
    slug = slugify(query)
    # The common case, a branch's own name or slug, is one unique-index lookup.
    by_slug = await ctx.session.scalar(_BY_SLUG, {"slug": slug})
    if by_slug is not None:
        return by_slug, [by_slug]
    words = [w for w in re.split(r"[\s,]+", query.lower()) if w]
    like = [
        func.lower(Branch.area).like(f"%{escape_like(w)}%", escape="\\")
        for w in words[:1] + words[1:2]
    ]
    stmt = (
        select(Branch)
        .where(
            or_(
                func.lower(Branch.name).like(f"{escape_like(query.lower())}%", escape="\\"),
                *like,
            )
        )
        .limit(50)
    )
    found = list(await ctx.session.scalars(stmt))
    exact = [b for b in found if b.name.casefold() == query.casefold()]
    area_words = {b.id: {w.strip().lower() for w in re.split(r"[,;]", b.area)} for b in found}
    whole = " ".join(words)
    precise = [
        b for b in found if b not in exact and words and {words[0], whole} & area_words[b.id]
    ]
    rest = [b for b in found if b not in exact and b not in precise]
    ranked = exact + precise + sorted(rest, key=lambda b: b.name)
    # A place one branch's area names (Nunney; Frome Town, once merged into Frome;
    # BA11, also as BA11 4AB) is that branch's, as its name would be; "Frome
    # Selwood" is not Frome's.
    postcode = bool(words) and is_postcode_district(words[0])
    named = [b for b in precise if whole in area_words[b.id] or postcode]
    only = exact if exact else named
    return (only[0] if len(only) == 1 else None), ranked[:SEARCH_LIMIT]


async def record_transition(
    ctx: Context, branch: Branch, to_status: str, actor: Person | None, reason: str | None = None
) -> None:
    """One step of the branch's life, with who made it and when; ``reason`` when an
    admin made it without what it needs (an override)."""
    ctx.session.add(
        BranchTransition(
            branch_id=branch.id,
            from_status=branch.status,
            to_status=to_status,
            actor_id=actor.id if actor else None,
            at=ctx.now,
            reason=reason,
        )
    )
    branch.status = to_status


async def people_in(ctx: Context, branch: Branch) -> list[Person]:
    return list(
        await ctx.session.scalars(
            select(Person).where(Person.branch_id == branch.id).order_by(Person.id)
        )
    )


async def count_people(ctx: Context, branch: Branch) -> int:
    return (
        await ctx.session.scalar(
            select(func.count()).select_from(Person).where(Person.branch_id == branch.id)
        )
        or 0
    )


async def organisers(ctx: Context, branch: Branch) -> list[Person]:
    who = organisers_of(branch)
    rows = await ctx.session.scalars(
        select(Person).where(Person.id.in_(who.query)).order_by(Person.id), who.params
    )
    return list(rows)


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


async def anyone(ctx: Context, who: Recipients) -> bool:
    """Does ``who`` select anybody at all (so that a message to them reaches someone)?"""
    return (await ctx.session.execute(who.query.limit(1), who.params)).first() is not None


def only(person: Person) -> Recipients:
    return Recipients(_ONLY, {"r_person": person.id})


def status_label(ctx: Context, status: str) -> str:
    labels = {
        PROPOSED: ctx.t("proposed"),
        FORMING: ctx.t("forming"),
        ACTIVE: ctx.t("active"),
        AFFILIATED: ctx.t("affiliated"),
    }
    return labels.get(status, status)


def role_label(t: Translator, role: str) -> str:
    labels = {
        ORGANISER: t("organiser"),
        TREASURER: t("treasurer"),
        ADMIN: t("admin"),
    }
    return labels.get(role, role)
