"""Randomness beacons a draw may name: only drand's League of Entropy chains,
known here by chain hash, with their genesis, period and public key written in.

A round's time is ``genesis + (round - 1) * period``: nobody, not even drand's
operators alone, knows its signature before then, and the signature is checked
against the chain's public key (BLS on BLS12-381), so no server in between can
change it. The seed of a draw is the round's randomness, ``sha256(signature)``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from bot.i18n import N_
from bot.sortition.seeds import BEACON, SeedProblem


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
MAX_AHEAD = dt.timedelta(days=90)


def chain_named(text: str) -> Chain | None:
    """A chain by name ("drand", "quicknet"), by chain hash, or by an address that
    holds its chain hash (an address without one is drand's default chain)."""
    plain = text.strip().lower().rstrip("/")
    if plain in NAMES:
        return NAMES[plain]
    for chain in CHAINS.values():
        if chain.hash in plain:
            return chain
    if plain.startswith("https://") and plain.count("/") == 2:
        return DEFAULT
    return None


def chain_of(source: dict[str, Any]) -> Chain | None:
    return CHAINS.get(str(source.get("chain") or ""))


def round_time(source: dict[str, Any]) -> dt.datetime | None:
    chain, round_ = chain_of(source), source.get("round")
    if chain is None or not isinstance(round_, int) or isinstance(round_, bool) or round_ < 1:
        return None
    return chain.round_time(round_)


def beacon_source(name: str, round_text: str, now: dt.datetime) -> dict[str, Any]:
    """The committed source for round ``round_text`` of the chain ``name``:
    refused unless the chain is known and the round's time is after ``now``
    (and within ``MAX_AHEAD``)."""
    chain = chain_named(name)
    if chain is None:
        raise SeedProblem(
            N_(
                "Only drand's public chains can seed a draw: beacon:drand:ROUND or "
                "beacon:quicknet:ROUND (“{name}” is not one)."
            ),
            name=name[:60],
        )
    text = round_text.strip()
    round_ = int(text) if text.isascii() and text.isdigit() and len(text) < 15 else 0
    at = chain.round_time(round_) if round_ >= 1 else None
    if at is None or at <= now or at > now + MAX_AHEAD:
        soon = chain.round_at(now + dt.timedelta(hours=1))
        raise SeedProblem(
            N_(
                "Name a round of {chain} published after now and within 90 days (one already "
                "out could be chosen): round {round} comes out about an hour from now."
            ),
            chain=chain.name,
            round=soon,
        )
    return {
        "kind": BEACON,
        "name": chain.name,
        "chain": chain.hash,
        "url": f"https://api.drand.sh/{chain.hash}",
        "round": round_,
        "round_time": at.isoformat(),
    }


def randomness(signature_hex: str) -> str:
    return hashlib.sha256(bytes.fromhex(signature_hex)).hexdigest()


__all__ = ["CHAINS", "DEFAULT", "QUICKNET", "Chain", "beacon_source", "chain_named", "round_time"]
