"""drand's League of Entropy chains a draw may name, known by chain hash, with
their genesis, period and public key written in, and the time of a round:
``genesis + (round - 1) * period``. Pure data: fetching and checking a round's
signature is :mod:`bot.lib.sortition.beacons`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Chain:
    name: str
    hash: str
    public_key: str  # hex, compressed
    genesis: int  # Unix seconds
    period: int  # seconds
    scheme: str  # drand's scheme id

    @property
    def chained(self) -> bool:
        return self.scheme == "pedersen-bls-chained"

    def round_time(self, round_: int) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.genesis + (round_ - 1) * self.period, dt.UTC)

    def round_at(self, at: dt.datetime) -> int:
        """The last round published at ``at``."""
        return max(1, (int(at.timestamp()) - self.genesis) // self.period + 1)


DEFAULT = Chain(
    "drand default",
    "8990e7a9aaed2ffed73dbd7092123d6f289930540d7651336225dc172e51b2ce",
    "868f005eb8e6e4ca0a47c8a77ceaa5309a47978a7c71bc5cce96366b5d7a569937c529eeda66c7293784a9402801af31",
    1595431050,
    30,
    "pedersen-bls-chained",
)
QUICKNET = Chain(
    "drand quicknet",
    "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971",
    "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064"
    "510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5"
    "ece45a",
    1692803367,
    3,
    "bls-unchained-g1-rfc9380",
)
CHAINS = {chain.hash: chain for chain in (DEFAULT, QUICKNET)}
NAMES = {"drand": DEFAULT, "default": DEFAULT, "quicknet": QUICKNET}


def chain_named(text: str) -> Chain | None:
    """A chain by name ("drand", "quicknet"), by chain hash, or by an address that
    holds its chain hash (an address without one is drand's default chain)."""
    plain = text.strip().lower().rstrip("/")
    if plain in NAMES:
        return NAMES[plain]
    for chain in CHAINS.values():
        if chain.hash in plain:
            return chain
    return None


def chain_of(source: dict[str, Any]) -> Chain | None:
    return CHAINS.get(str(source.get("chain") or ""))


def round_time(source: dict[str, Any]) -> dt.datetime | None:
    chain, round_ = chain_of(source), source.get("round")
    if chain is None or not isinstance(round_, int) or isinstance(round_, bool) or round_ < 1:
        return None
    return chain.round_time(round_)


__all__ = [
    "CHAINS",
    "DEFAULT",
    "QUICKNET",
    "Chain",
    "chain_named",
    "chain_of",
    "round_time",
]
