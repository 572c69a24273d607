"""Privacy's rules: how a person's names are found in text and replaced, which
stored button state acts on a person, and who may not /forget themselves (the
party's last national admin). No database, no request.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from storage.models import RoleGrant
from storage.vocabulary import ADMIN, SCOPE_NATIONAL


def is_last_national_admin(national_admins: int, held: Iterable[RoleGrant]) -> bool:
    """Would forgetting someone who holds ``held`` leave the party with no
    national admin (``national_admins`` is how many there are)?"""
    return national_admins == 1 and any(g.role == ADMIN and g.scope == SCOPE_NATIONAL for g in held)


def name_pattern(words: Iterable[str]) -> re.Pattern[str] | None:
    """Any of ``words`` as a whole word, in any case, the longest first; None
    when there are none."""
    unique = sorted({w for w in words if w}, key=len, reverse=True)
    if not unique:
        return None
    return re.compile(
        r"(?<!\w)(?:" + "|".join(re.escape(w) for w in unique) + r")(?!\w)", re.IGNORECASE
    )


def scrub(value: Any, pattern: re.Pattern[str], placeholder: str) -> Any:
    """``value`` (text, or JSON of lists, dicts and text) with every match replaced."""
    if isinstance(value, str):
        return pattern.sub(placeholder, value)
    if isinstance(value, list):
        return [scrub(v, pattern, placeholder) for v in value]
    if isinstance(value, dict):
        return {
            pattern.sub(placeholder, k): scrub(v, pattern, placeholder) for k, v in value.items()
        }
    return value


def holds_person(value: Any, person_id: int) -> bool:
    """Whether a button's stored state acts on ``person_id``: ``{"person": id}``
    (an Undo), or a draw preview's pool (``{"behind": {pseudonym: id}}``)."""
    if isinstance(value, list):
        return any(holds_person(v, person_id) for v in value)
    if isinstance(value, dict):
        if value.get("person") == person_id or value.get("person_id") == person_id:
            return True
        behind = value.get("behind")
        if isinstance(behind, dict) and person_id in behind.values():
            return True
        return any(holds_person(v, person_id) for v in value.values())
    return False
