#!/usr/bin/env python3
"""How fast and how fair the sortition engine is, against sortition-algorithms.

Instances: the two public ones of Flanigan et al. (``tests/data/sortition``:
example_small_20, n=200, k=20; example_large_200, n=2000, k=200) and generated
pools with 6 categories and skewed self-selection (``bot.lib.sortition.synthetic``,
seed 1): n = 1,000 / 10,000 / 100,000 with k = 30 / 50 / 100.

For each, in a fresh child process (so that peak memory is the instance's own):
``Problem.build`` + ``commit`` (LEXIMIN, the 1,000-panel lottery, the record),
timed; peak resident memory; min and max selection probability.

Reference: the ``sortition-algorithms`` package (GPL; not a project dependency)
from a separate virtualenv at ``/tmp/sa-venv``, its default maximin on highspy,
run as a subprocess with a time limit per instance (default 600 s). It runs
with ``--reference`` (which installs it there if needed:
``python -m venv /tmp/sa-venv && /tmp/sa-venv/bin/pip install sortition-algorithms``)
and by default whenever it is already installed; ``--no-reference`` skips it.
Its numbers are null when it is missing or runs out of time.

    python bench/sortition.py [--reference | --no-reference] [--reference-timeout 600]
                              [--only NAME ...]

Targets: min probability equal to the reference's optimum; at least 100x faster
on the 1,000-person pool; n = 100,000 in under 30 s. The last line printed is
one JSON object: ``{"instances": [{"name", "n", "k", "seconds", "min_p", "max_p",
"peak_mb", "reference_seconds", "reference_min_p", "speedup"}, ...]}``.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.lib.sortition import Problem, commit, read_people, read_quotas  # noqa: E402
from bot.lib.sortition.synthetic import proportional_quotas, skewed_pool  # noqa: E402

DATA = ROOT / "tests" / "data" / "sortition"
REFERENCE_VENV = Path("/tmp/sa-venv")
REFERENCE_PYTHON = REFERENCE_VENV / "bin" / "python"
SEED = 1
SEED_SOURCE = {"kind": "string", "description": "benchmark"}
INSTANCES: dict[str, tuple[int, int]] = {  # name -> (n, k)
    "example_small_20": (200, 20),
    "example_large_200": (2000, 200),
    "generated_1000": (1_000, 30),
    "generated_10000": (10_000, 50),
    "generated_100000": (100_000, 100),
}

# Runs inside the reference virtualenv: argv = features.csv people.csv k
REFERENCE_SCRIPT = """
import json, sys, time
from sortition_algorithms import CSVStringDataSource, SelectionData, Settings
from sortition_algorithms.committee_generation.maximin import find_distribution_maximin
features_csv, people_csv, k = open(sys.argv[1]).read(), open(sys.argv[2]).read(), int(sys.argv[3])
data = SelectionData(CSVStringDataSource(features_csv, people_csv))
features, _ = data.load_features(k)
people, _ = data.load_people(Settings(id_column="id", columns_to_keep=[]), features)
started = time.perf_counter()
committees, probabilities, _ = find_distribution_maximin(features, people, k, [], "highspy")
seconds = time.perf_counter() - started
marginal = {}
for committee, p in zip(committees, probabilities):
    for person in committee:
        marginal[person] = marginal.get(person, 0.0) + p
ids = [line.split(",")[0] for line in people_csv.splitlines()[1:] if line]
print(json.dumps({"seconds": seconds, "min_p": min(marginal.get(i, 0.0) for i in ids)}))
"""


def problem_for(name: str) -> Problem:
    n, k = INSTANCES[name]
    if name.startswith("example"):
        folder = DATA / name
        quotas = read_quotas((folder / "categories.csv").read_text(encoding="utf-8"))
        people = read_people(
            (folder / "respondents.csv").read_text(encoding="utf-8"),
            {q.category for q in quotas},
        )
        return Problem.build(people, quotas, k)
    return Problem.build(skewed_pool(n, SEED), proportional_quotas(k), k)


def run_one(name: str) -> dict[str, Any]:
    """One instance, in this process (the parent runs each in a child)."""
    problem = problem_for(name)
    started = time.perf_counter()
    _, lottery = commit(problem, SEED_SOURCE)
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "name": name,
        "n": len(problem.people),
        "k": problem.k,
        "seconds": round(seconds, 3),
        "min_p": lottery.min_probability,
        "max_p": lottery.max_probability,
        "peak_mb": round(peak_kb / 1024, 1),
        "method": lottery.distribution.method,
        "max_deviation": lottery.max_deviation,
    }


def write_reference_files(problem: Problem, folder: Path) -> tuple[Path, Path]:
    features = folder / "features.csv"
    with features.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["feature", "value", "min", "max"])
        for q in problem.quotas:
            writer.writerow([q.category, q.value, q.min, q.max])
    people = folder / "people.csv"
    categories = problem.categories
    with people.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", *categories])
        for person in problem.people:
            writer.writerow([person.id, *(person.features[c] for c in categories)])
    return features, people


def run_reference(name: str, timeout: float) -> tuple[float | None, float | None]:
    problem = problem_for(name)
    with tempfile.TemporaryDirectory() as folder:
        features, people = write_reference_files(problem, Path(folder))
        try:
            done = subprocess.run(
                [str(REFERENCE_PYTHON), "-c", REFERENCE_SCRIPT, str(features), str(people),
                 str(problem.k)],
                capture_output=True, text=True, timeout=timeout,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            print(f"  reference: no answer within {timeout:.0f} s", flush=True)
            return None, None
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["?"])[-1]
        print(f"  reference failed: {reason}", flush=True)
        return None, None
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return float(found["seconds"]), float(found["min_p"])


def install_reference() -> bool:
    if REFERENCE_PYTHON.exists():
        return True
    print("installing sortition-algorithms into /tmp/sa-venv ...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(REFERENCE_VENV)], check=True)
        subprocess.run(
            [str(REFERENCE_VENV / "bin" / "pip"), "install", "-q", "sortition-algorithms"],
            check=True,
            timeout=900,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        print(f"  cannot install the reference: {exc}", flush=True)
        return False
    return REFERENCE_PYTHON.exists()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--reference", action="store_true", help="run (installing if needed)")
    choice.add_argument("--no-reference", action="store_true", help="never run the reference")
    parser.add_argument("--reference-timeout", type=float, default=600.0)
    parser.add_argument("--only", nargs="+", choices=sorted(INSTANCES), help="these instances")
    parser.add_argument("--one", choices=sorted(INSTANCES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # child process: one instance, one JSON line
        print(json.dumps(run_one(args.one)))
        return
    names = [n for n in INSTANCES if not args.only or n in args.only]
    if not DATA.exists():
        names = [n for n in names if not n.startswith("example")]
    reference = False
    if args.reference:
        reference = install_reference()
    elif not args.no_reference:
        reference = REFERENCE_PYTHON.exists()
    results = []
    for name in names:
        done = subprocess.run(
            [sys.executable, __file__, "--one", name], capture_output=True, text=True, check=True
        )
        row = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"{name}: n={row['n']} k={row['k']} {row['seconds']:.2f} s, peak {row['peak_mb']} MB, "
            f"min p {row['min_p']:.6f}, max p {row['max_p']:.6f} ({row['method']}; "
            f"lottery within {row['max_deviation']:.4f} of LEXIMIN)",
            flush=True,
        )
        ref_seconds = ref_min = None
        if reference:
            ref_seconds, ref_min = run_reference(name, args.reference_timeout)
            if ref_seconds is not None and ref_min is not None:
                print(
                    f"  reference (sortition-algorithms maximin): {ref_seconds:.2f} s, "
                    f"min p {ref_min:.6f}; speedup {ref_seconds / row['seconds']:.0f}x, "
                    f"min p difference {row['min_p'] - ref_min:+.2e}",
                    flush=True,
                )
        results.append(
            {
                "name": name,
                "n": row["n"],
                "k": row["k"],
                "seconds": row["seconds"],
                "min_p": row["min_p"],
                "max_p": row["max_p"],
                "peak_mb": row["peak_mb"],
                "reference_seconds": ref_seconds,
                "reference_min_p": ref_min,
                "speedup": round(ref_seconds / row["seconds"], 1) if ref_seconds else None,
            }
        )
    print(json.dumps({"instances": results}))


if __name__ == "__main__":
    main()
