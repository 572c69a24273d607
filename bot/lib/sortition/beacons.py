"""Randomness beacons a draw may name: only drand's League of Entropy chains
(:mod:`bot.lib.sortition.chains`: by chain hash, with their genesis, period and
public key written in).

A round's time is ``genesis + (round - 1) * period``: nobody, not even drand's
operators alone, knows its signature before then, and the signature is checked
against the chain's public key (BLS on BLS12-381), so no server in between can
change it. The seed of a draw is the round's randomness, ``sha256(signature)``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bot.kernel.i18n import N_
from bot.lib.sortition.chains import CHAINS, Chain, chain_named
from bot.lib.sortition.seeds import BEACON, SeedProblem

if TYPE_CHECKING:  # fetching imports it; checking a round offline does not
    import httpx


MAX_AHEAD = dt.timedelta(days=90)


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
    """A round's randomness: SHA-256 of its signature (drand's definition)."""
    return hashlib.sha256(bytes.fromhex(signature_hex)).hexdigest()


# --- Checking a round --------------------------------------------------------------

G1_DST = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_"


@dataclass(frozen=True, slots=True)
class Proof:
    """What drand published for a round: stored with the draw, so that anyone can
    check the seed offline against the chain's public key."""

    chain: str
    round: int
    signature: str
    previous_signature: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "chain": self.chain,
            "round": self.round,
            "signature": self.signature,
            "previous_signature": self.previous_signature,
        }

    @classmethod
    def from_json(cls, value: Any) -> Proof | None:
        if not isinstance(value, dict):
            return None
        try:
            proof = cls(
                str(value["chain"]),
                int(value["round"]),
                str(value["signature"]).lower(),
                str(value.get("previous_signature") or "").lower(),
            )
            bytes.fromhex(proof.signature + proof.previous_signature)
        except (KeyError, TypeError, ValueError):
            return None
        return proof

    @property
    def randomness(self) -> str:
        return randomness(self.signature)


def verify_signature(
    scheme: str, public_key: str, round_: int, signature: str, previous: str = ""
) -> bool:
    """Does ``signature`` sign ``round_`` under ``public_key``, in drand's ``scheme``?

    ``pedersen-bls-chained``: public key on G1, signature on G2, message
    ``sha256(previous_signature || round as 8 bytes big-endian)``.
    ``bls-unchained-g1-rfc9380``: public key on G2, signature on G1, message
    ``sha256(round as 8 bytes)``, hashed to G1 with the RFC 9380 suite. Slow in
    pure Python (1-3 s): call it from a thread; ``check`` caches it."""
    try:
        sig, key, prev = (
            bytes.fromhex(signature),
            bytes.fromhex(public_key),
            bytes.fromhex(previous),
        )
    except ValueError:
        return False
    if round_ < 1 or round_ >= 2**64:
        return False
    number = round_.to_bytes(8, "big")
    if scheme == "pedersen-bls-chained":
        from eth_typing import BLSPubkey, BLSSignature
        from py_ecc.bls import G2Basic

        if len(sig) != 96 or len(key) != 48 or len(prev) != 96:
            return False
        return bool(
            G2Basic.Verify(
                BLSPubkey(key), hashlib.sha256(prev + number).digest(), BLSSignature(sig)
            )
        )
    if scheme == "bls-unchained-g1-rfc9380":
        return len(sig) == 48 and len(key) == 96 and _verify_g1(key, sig, number)
    return False


def _verify_g1(key: bytes, sig: bytes, number: bytes) -> bool:
    from py_ecc.bls.hash_to_curve import hash_to_G1
    from py_ecc.bls.point_compression import decompress_G1, decompress_G2
    from py_ecc.optimized_bls12_381 import (
        FQ12,
        G2,
        curve_order,
        final_exponentiate,
        is_inf,
        multiply,
        neg,
        pairing,
    )

    try:
        point = decompress_G1(int.from_bytes(sig, "big"))  # type: ignore[arg-type]
        if is_inf(point) or not is_inf(multiply(point, curve_order)):
            return False
        public = decompress_G2(
            (int.from_bytes(key[:48], "big"), int.from_bytes(key[48:], "big"))  # type: ignore[arg-type]
        )
        message = hash_to_G1(hashlib.sha256(number).digest(), G1_DST, hashlib.sha256)  # type: ignore[arg-type]
        value = final_exponentiate(
            pairing(G2, point, final_exponentiate=False)
            * pairing(public, neg(message), final_exponentiate=False)
        )
        return bool(value == FQ12.one())
    except (ValueError, AssertionError, TypeError):
        return False


@lru_cache(maxsize=256)
def _checked(chain_hash: str, round_: int, signature: str, previous: str) -> bool:
    chain = CHAINS.get(chain_hash)
    if chain is None:
        return False
    return verify_signature(
        chain.scheme, chain.public_key, round_, signature, previous if chain.chained else ""
    )


def proof_problem(
    source: dict[str, Any], proof: Proof | None, seed: str | None = None
) -> str | None:
    """Why ``proof`` does not prove the seed of a draw committed to ``source`` (and,
    given, that ``seed`` is its randomness), or None. Cached; slow the first time."""
    if proof is None:
        return "no beacon round is stored with the draw"
    if proof.chain != source.get("chain") or proof.round != source.get("round"):
        return "the stored round is not the committed chain and round"
    if not _checked(proof.chain, proof.round, proof.signature, proof.previous_signature):
        return "the round's signature does not verify against the chain's public key"
    if seed is not None and seed != proof.randomness:
        return "the seed is not the round's randomness"
    return None


# --- Fetching a round --------------------------------------------------------------

DEFAULT_URLS = (
    "https://api.drand.sh https://api2.drand.sh https://api3.drand.sh https://drand.cloudflare.com"
)
Resolver = Callable[[str, int], Awaitable[list[str]]]


class BeaconError(Exception):
    """No endpoint gave a round that checks out."""


def endpoints(setting: str) -> list[str]:
    return [u.rstrip("/") for u in setting.replace(",", " ").split() if u]


async def resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def _public(host: str, port: int, resolver: Resolver) -> bool:
    """Is every address ``host`` has public (no loopback, private, link-local...)?"""
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            addresses = [ipaddress.ip_address(a.split("%")[0]) for a in await resolver(host, port)]
        except (OSError, ValueError):
            return False
    return bool(addresses) and all(a.is_global and not a.is_multicast for a in addresses)


async def fetch_round(
    chain: Chain,
    round_: int,
    urls: list[str],
    client: httpx.AsyncClient,
    resolver: Resolver = resolve,
) -> Proof | None:
    """The round's proof from the first endpoint whose answer verifies; None while
    no endpoint has it yet. Only https, no redirects, no private addresses: an
    endpoint that breaks a rule is skipped (and logged), never contacted."""
    import httpx

    problems = []
    for base in urls:
        parts = urlsplit(base)
        if parts.scheme != "https" or not parts.hostname:
            problems.append(f"{base}: not https")
            continue
        if not await _public(parts.hostname, parts.port or 443, resolver):
            problems.append(f"{parts.hostname}: not a public address")
            continue
        url = f"{base}/{chain.hash}/public/{round_}"
        try:
            response = await client.get(url, follow_redirects=False)
        except httpx.HTTPError as exc:
            problems.append(f"{parts.hostname}: {type(exc).__name__}")
            continue
        if response.status_code in (404, 425):
            continue
        if response.status_code != 200:
            problems.append(f"{parts.hostname}: HTTP {response.status_code}")
            continue
        proof = _proof_in(chain, round_, response)
        if proof is None:
            problems.append(f"{parts.hostname}: not a round of {chain.name}")
            continue
        if await asyncio.to_thread(
            _checked, chain.hash, round_, proof.signature, proof.previous_signature
        ):
            return proof
        problems.append(f"{parts.hostname}: a signature that does not verify")
    if problems:
        raise BeaconError("; ".join(problems))
    return None


def _proof_in(chain: Chain, round_: int, response: httpx.Response) -> Proof | None:
    try:
        data = response.json()
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("round") != round_:
        return None
    previous = data.get("previous_signature") if chain.chained else ""
    value = {"chain": chain.hash, "round": round_, "signature": data.get("signature")}
    value["previous_signature"] = previous or ""
    if not isinstance(value["signature"], str) or len(value["signature"]) > 400:
        return None
    return Proof.from_json(value)


__all__ = [
    "BeaconError",
    "Proof",
    "beacon_source",
    "fetch_round",
    "proof_problem",
    "verify_signature",
]
