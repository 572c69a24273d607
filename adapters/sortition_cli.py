"""``organiser sortition``: build, draw and check a transparent sortition lottery.

    organiser sortition lottery --people P.csv --quotas Q.csv --k K [--m 1000]
                                [--exclude IDS.txt] [--seed-source S] --out RECORD.json
    organiser sortition draw RECORD.json --seed S
    organiser sortition verify RECORD.json [--seed S] [--beacon-round ROUND.json]
                               --published-hash H [--deep]

``lottery`` computes the LEXIMIN selection probabilities, rounds them to ``m``
equally likely panels and writes the commitment record; publish its record
hash before the seed exists. ``draw`` prints the ids the seed selects;
``verify`` recomputes every hash and check against the record hash that was
published at commit (required: whoever can edit a record can recompute every
hash inside it) and prints the selected ids or exactly what does not match
(exit status 1). Wired in by ``adapters.cli``
through ``add_parser``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapters.cli_base import Stop

# The sortition library is imported by the commands that use it (``lottery``
# loads the solver, ``verify`` only what it checks with), so that `organiser
# --help` and `organiser sortition verify` start quickly.
if TYPE_CHECKING:
    from bot.lib.sortition import Problem


async def _read(path: Path) -> str:
    try:
        return await asyncio.to_thread(path.read_text, encoding="utf-8-sig")
    except OSError as exc:
        raise Stop(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise Stop(f"{path}: not UTF-8 text") from None


async def _read_record(path: Path) -> dict[str, Any]:
    text = await _read(path)
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Stop(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(record, dict):
        raise Stop(f"{path}: not a sortition record (expected a JSON object)")
    return record


def _build(
    args: argparse.Namespace, quotas_text: str, people_text: str, exclude_text: str
) -> Problem:
    from bot.lib.sortition import Problem, SortitionError, read_ids, read_people, read_quotas

    try:
        quotas = read_quotas(quotas_text)
    except SortitionError as exc:
        raise Stop(f"{args.quotas}: {exc}") from None
    try:
        people = read_people(people_text, {q.category for q in quotas})
    except SortitionError as exc:
        raise Stop(f"{args.people}: {exc}") from None
    try:
        return Problem.build(people, quotas, args.k, read_ids(exclude_text))
    except SortitionError as exc:
        raise Stop(str(exc)) from None


async def cmd_lottery(args: argparse.Namespace, settings: object) -> int:
    from bot.lib.sortition import (
        DEFAULT_M,
        InfeasibleQuotas,
        SortitionError,
        commit,
        parse_seed_source,
    )

    m = DEFAULT_M if args.m is None else args.m
    quotas_text = await _read(args.quotas)
    people_text = await _read(args.people)
    exclude_text = await _read(args.exclude) if args.exclude else ""
    if m < 1:
        raise Stop("--m must be at least 1")
    problem = _build(args, quotas_text, people_text, exclude_text)
    try:
        seed_source = parse_seed_source(args.seed_source)
    except SortitionError as exc:
        raise Stop(str(exc)) from None
    started = time.perf_counter()
    try:
        record, lottery = await asyncio.to_thread(commit, problem, seed_source, m)
    except InfeasibleQuotas as exc:
        raise Stop(str(exc)) from None
    except SortitionError as exc:
        raise Stop(f"cannot build the lottery: {exc}") from None
    seconds = time.perf_counter() - started
    text = json.dumps(record, ensure_ascii=False, sort_keys=True)
    try:
        await asyncio.to_thread(args.out.write_text, text + "\n", encoding="utf-8")
    except OSError as exc:
        raise Stop(f"cannot write {args.out}: {exc.strerror}") from None
    eligible = len(problem.people) - len(problem.exclude)
    type_panels = int((lottery.distribution.weights > 0).sum())
    print(
        f"pool {len(problem.people)} ({len(problem.exclude)} excluded, {eligible} eligible), "
        f"k {problem.k}, m {lottery.m}"
    )
    print(
        f"selection probability: min {lottery.min_probability:.6f}, "
        f"max {lottery.max_probability:.6f} (LEXIMIN, {lottery.distribution.method})"
    )
    print(
        f"lottery: {lottery.distinct_panels} distinct panels of {lottery.m} "
        f"(from {type_panels} panels of the distribution); largest difference between a "
        f"person's lottery and LEXIMIN probability {lottery.max_deviation:.6f}"
    )
    print(f"time: {seconds:.2f} s")
    print(f"record hash: {record['record_hash']}")
    print(f"wrote {args.out}: publish the record hash before the seed is known")
    return 0


async def cmd_draw(args: argparse.Namespace, settings: object) -> int:
    from bot.lib.sortition.verification import verify

    record = await _read_record(args.record)
    seed = await _seed_of(args, record, quiet=True)
    result = await asyncio.to_thread(verify, record, seed)
    if not result.ok:
        raise Stop(
            f"{args.record} does not match itself ({', '.join(result.fields)}): "
            "run `organiser sortition verify` for details"
        )
    for person in result.selected:
        print(person)
    return 0


async def _seed_of(args: argparse.Namespace, record: dict[str, Any], quiet: bool = False) -> str:
    """The seed to draw with: a beacon round's randomness once its signature checks
    out offline against the chain's key; a lottery result read into the committed
    format; else ``--seed`` as given."""
    from bot.lib.sortition import beacons, seeds

    source = record.get("seed_source") if isinstance(record, dict) else None
    source = source if isinstance(source, dict) else {}
    if source.get("kind") == "beacon" and args.beacon_round:
        text = args.beacon_round
        if not text.lstrip().startswith("{"):
            text = await _read(Path(text))
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            raise Stop("--beacon-round: not a JSON object") from None
        if isinstance(value, dict):
            value = {"chain": source.get("chain"), **value}
        proof = beacons.Proof.from_json(value)
        problem = await asyncio.to_thread(beacons.proof_problem, source, proof, None)
        if problem or proof is None:
            raise Stop(f"--beacon-round: {problem}")
        if args.seed is not None and args.seed != proof.randomness:
            raise Stop("--seed is not the round's randomness")
        if not quiet:
            print(f"beacon: round {proof.round} of {source.get('name')}: signature checks out")
        return proof.randomness
    if args.seed is None:
        raise Stop("give --seed (or, for a beacon, --beacon-round with the round drand published)")
    if source.get("kind") == "lottery" and seeds.game_of(source) is not None:
        try:
            canonical = seeds.lottery_seed(source, args.seed)
        except seeds.SeedProblem as exc:
            raise Stop(f"--seed: {exc.render(_english)}") from None
        if not quiet:
            print(f"lottery result read as: {canonical}")
        return canonical
    if seeds.is_trial(source) and not quiet:
        print("TRIAL: the seed source is a text nobody outside can check; the draw proves nothing")
    return str(args.seed)


def _english(message: str, **params: object) -> str:
    return message.format(**params)


async def cmd_verify(args: argparse.Namespace, settings: object) -> int:
    from bot.lib.sortition import SortitionError
    from bot.lib.sortition.verification import verify

    record = await _read_record(args.record)
    seed = await _seed_of(args, record)
    try:
        result = await asyncio.to_thread(
            verify,
            record,
            seed,
            published_hash=args.record_hash,
            deep=args.deep,
            tolerance=args.tolerance,
        )
    except (SortitionError, KeyError, TypeError, ValueError) as exc:
        raise Stop(f"{args.record}: cannot solve the problem again: {exc}") from None
    if not result.ok:
        for mismatch in result.mismatches:
            print(f"mismatch: {mismatch}")
        print(f"does not match: {', '.join(result.fields)}", file=sys.stderr)
        return 1
    m = record["m"]
    print(
        f"record hash {result.record_hash}: every check passed" + (" (deep)" if args.deep else "")
    )
    print(f"index {result.index} of {m}; selected:")
    for person in result.selected:
        print(person)
    return 0


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``sortition`` (with ``lottery``, ``draw``, ``verify``) on ``subparsers``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sortition", help="build, draw and verify a transparent sortition lottery"
    )
    sub = parser.add_subparsers(dest="sortition_command", required=True)

    lottery = sub.add_parser("lottery", help="compute the lottery and its commitment record")
    lottery.add_argument("--people", type=Path, required=True, help="pool CSV: id + categories")
    lottery.add_argument("--quotas", type=Path, required=True, help="quotas CSV")
    lottery.add_argument("--k", type=int, required=True, help="panel size")
    lottery.add_argument("--m", type=int, help="panels in the lottery")
    lottery.add_argument("--exclude", type=Path, help="ids who may not be selected, one a line")
    lottery.add_argument(
        "--seed-source",
        help='where the seed will come from: "lottery:NAME:DATE", "beacon:URL:ROUND", '
        "a JSON object, or any description",
    )
    lottery.add_argument("--out", type=Path, required=True, help="where to write the record")
    lottery.set_defaults(func=cmd_lottery)

    draw = sub.add_parser("draw", help="print the ids a seed selects")
    draw.add_argument("record", type=Path)
    draw.add_argument("--seed", help="the seed (a lottery's result in any spelling)")
    draw.add_argument("--beacon-round", help="for a beacon: the round drand published (JSON)")
    draw.set_defaults(func=cmd_draw)

    check = sub.add_parser("verify", help="check a record and the draw")
    check.add_argument("record", type=Path)
    check.add_argument("--seed", help="the seed (a lottery's result in any spelling)")
    check.add_argument(
        "--beacon-round",
        help="for a beacon: the round as drand published it, JSON or a file "
        '({"round": N, "signature": ..., "previous_signature": ...}); checked offline',
    )
    check.add_argument("--deep", action="store_true", help="also solve LEXIMIN again and compare")
    check.add_argument(
        "--published-hash",
        "--record-hash",
        dest="record_hash",
        required=True,
        help="the record hash published at commit, before the seed was known",
    )
    check.add_argument(
        "--tolerance", type=float, help="--deep: allowed probability difference (default 5/m)"
    )
    check.set_defaults(func=cmd_verify)
    return parser
