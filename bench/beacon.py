#!/usr/bin/env python3
"""How long checking a drand round's BLS signature takes (pure Python, py-ecc).

A beacon draw completes only once the round's signature verifies against the
chain's public key, and ``/draw verify`` checks the stored round again offline;
both run the check in a thread and cache it. This times
``bot.lib.sortition.beacons.verify_signature`` on the real mainnet rounds kept in
``tests/data/drand/rounds.json`` (drand's default chain, chained, signature on
G2; quicknet, unchained, signature on G1), ``--repeat`` times each, and checks
that a round with one changed byte is refused.

    python bench/beacon.py [--repeat 3]

The last line is one JSON object: ``{"default_s", "quicknet_s", "forged_refused"}``
(seconds: the median of the repeats).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from bot.lib.sortition.beacons import verify_signature
from bot.lib.sortition.chains import CHAINS

ROUNDS = Path(__file__).resolve().parent.parent / "tests" / "data" / "drand" / "rounds.json"


def _time(chain_hash: str, round_: int, signature: str, previous: str) -> tuple[float, bool]:
    chain = CHAINS[chain_hash]
    start = time.perf_counter()
    ok = verify_signature(
        chain.scheme, chain.public_key, round_, signature, previous if chain.chained else ""
    )
    return time.perf_counter() - start, ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rounds = json.loads(ROUNDS.read_text())["mainnet"]
    figures: dict[str, object] = {}
    forged_refused = True
    for entry in rounds:
        chain = CHAINS[entry["chain"]]
        key = "quicknet_s" if "quicknet" in chain.name else "default_s"
        args_ = (
            entry["chain"],
            entry["round"],
            entry["signature"],
            entry.get("previous_signature", ""),
        )
        times = []
        for _ in range(args.repeat):
            seconds, ok = _time(*args_)
            if not ok:
                raise SystemExit(f"{chain.name} round {entry['round']} did not verify")
            times.append(seconds)
        figures[key] = round(statistics.median(times), 3)
        forged = entry["signature"][:-2] + ("00" if entry["signature"][-2:] != "00" else "01")
        _, ok = _time(entry["chain"], entry["round"], forged, args_[3])
        forged_refused = forged_refused and not ok
        print(f"{chain.name} round {entry['round']}: {figures[key]} s (median of {args.repeat})")
    figures["forged_refused"] = forged_refused
    print(json.dumps(figures))
    return 0 if forged_refused else 1


if __name__ == "__main__":
    raise SystemExit(main())
