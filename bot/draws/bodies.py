"""Who a draw is for (:class:`Body`): a council, or one unit's delegation."""

from __future__ import annotations

from dataclasses import dataclass

from bot.draws.rules import NATIONAL_COUNCIL, REGION_COUNCIL, TO_NATIONAL, TO_REGION
from bot.kernel.i18n import Translator


@dataclass(frozen=True, slots=True)
class Body:
    """Who a draw is for: a council, or one unit's delegation. ``scope`` and
    ``scope_id`` name the unit whose members form the pool (a branch, a region,
    or the national party with id 0)."""

    kind: str
    scope: str
    scope_id: int
    name: str
    timezone: str
    destination: str = ""  # a delegation's: the region's name, or the party's

    def describe(self, t: Translator) -> str:
        if self.kind == TO_REGION:
            return t("the delegation of {unit} to {to}", unit=self.name, to=self.destination)
        if self.kind == TO_NATIONAL:
            return t("the delegation of {unit} to the national level", unit=self.name)
        if self.kind == REGION_COUNCIL:
            return t("the {unit} regional council", unit=self.name)
        if self.kind == NATIONAL_COUNCIL:
            return t("the national council")
        return t("the {unit} council", unit=self.name)
