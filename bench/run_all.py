#!/usr/bin/env python3
"""Every benchmark in one command, with the figures written to ``bench/RESULTS.md``.

Runs each benchmark script in ``bench/`` (every ``bench/*.py`` but
``common.py``, ``run_all.py`` and ``__init__.py``) in a subprocess of this same
Python, one after another, each with a time limit, and writes a Markdown
report: the date (UTC), the machine (CPU count and model, Python version,
PostgreSQL server version if one answers at
``postgresql://postgres@127.0.0.1:5432/postgres``, load average), then for each
run its figures as tables, the command that printed them and its wall time. A
script's figures are the last line it prints, one JSON object: nested objects
are flattened (``votes_per_s.sqlite``), and a list of objects (such as
``{"instances": [...]}``) becomes a table with one row per item. A run that
fails, times out or prints no JSON object on its last line is reported as such,
never dropped; a run that needs a PostgreSQL server none answers is reported as
skipped.

Some scripts run more than once: ``core_throughput`` and ``fanout`` on SQLite
and on PostgreSQL, and ``fanout`` a third time as an announcement to 50,000
people (/announce and Send through the Core); ``poll_burst`` runs on both by
itself; ``workers`` is PostgreSQL only. With ``--quick`` each script that has
smaller sizes or a slow part to leave out gets them (``sortition`` without its
reference comparison, smaller pools and bursts elsewhere); a script this file
does not know runs as it is, in both modes.

    python bench/run_all.py [--quick] [--only NAME ...] [--skip NAME ...]
                            [--timeout SECONDS] [--out PATH]

The report is rewritten after every run, so an interrupted run leaves what it
had. The last line printed is one JSON object ``{"scripts", "runs", "failed",
"skipped", "out"}``; the exit status is 1 if any run failed or timed out.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import DEFAULT_PG, pg_server_version

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
NOT_BENCHMARKS = {"common.py", "run_all.py", "__init__.py"}
DEFAULT_OUT = BENCH / "RESULTS.md"
DEFAULT_TIMEOUT_S = 900.0
INTERRUPT_GRACE_S = 15.0  # after SIGINT (so that throwaway databases are dropped), SIGKILL
HIGH_LOAD_PER_CPU = 0.5  # a 1-minute load average above this many per CPU: "busy machine"
OUTPUT_TAIL = 20  # lines of output (and of stderr) shown for a failed run


@dataclass(frozen=True)
class Variant:
    """One run of a script: its arguments in a full run and in a quick one (None:
    the script has no quick mode, and runs with ``args``)."""

    label: str = ""
    args: tuple[str, ...] = ()
    quick: tuple[str, ...] | None = None
    needs_pg: bool = False


@dataclass(frozen=True)
class Plan:
    variants: tuple[Variant, ...] = (Variant(),)
    timeout_s: float = DEFAULT_TIMEOUT_S


PG = ("--db", DEFAULT_PG)
CORE_QUICK = ("--people", "10000", "--ops", "1000", "--raw", "1000")
FANOUT_QUICK = ("--people", "2000")
ANNOUNCE = ("--announce", "--people", "50000")

# What this file knows of each script (its docstring says what its options do).
PLANS: dict[str, Plan] = {
    "core_throughput": Plan(
        (
            Variant("sqlite", (), CORE_QUICK),
            Variant("postgresql", PG, PG + CORE_QUICK, needs_pg=True),
        )
    ),
    "discord_roundtrip": Plan((Variant("", (), ("--people", "100", "--rounds", "1")),)),
    "fanout": Plan(
        (
            Variant("sqlite", (), FANOUT_QUICK),
            Variant("postgresql", PG, PG + FANOUT_QUICK, needs_pg=True),
            # issue 16: an announcement's fan-out to 50,000 people (250 s a run at L = 200)
            Variant("announce", ANNOUNCE, ("--announce", *FANOUT_QUICK)),
        ),
        1800.0,
    ),
    "poll_burst": Plan((Variant("", (), ("--members", "5000", "--votes", "2000")),), 2400.0),
    # With its reference (sortition-algorithms, up to 600 s an instance) it takes long.
    "sortition": Plan((Variant("", (), ("--no-reference",)),), 4800.0),
    "startup": Plan((Variant("", (), ("--runs", "3")),)),
    "telegram_roundtrip": Plan((Variant("", (), ("--people", "100")),)),
    # issue 18: the public pages and feeds to 200 clients from one worker
    "web_pages": Plan(
        (
            Variant("sqlite", ("--db", "sqlite"), ("--db", "sqlite", "--seconds", "3")),
            Variant("postgresql", PG, (*PG, "--seconds", "3"), needs_pg=True),
        )
    ),
    "workers": Plan(
        (
            Variant(
                "",
                (),
                ("--members", "5000", "--votes", "1000", "--messages", "1000"),
                needs_pg=True,
            ),
        ),
        1800.0,
    ),
}


@dataclass
class Run:
    script: str
    variant: Variant
    command: list[str]
    timeout_s: float
    status: str = "pending"  # ok, failed, timed out, skipped
    reason: str = ""
    exit_code: int | None = None
    wall_s: float = 0.0
    load_before: float = 0.0
    figures: dict[str, Any] | None = None
    stdout_tail: list[str] = field(default_factory=list)
    stderr_tail: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.script} ({self.variant.label})" if self.variant.label else self.script


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these scripts")
    parser.add_argument("--skip", nargs="+", metavar="NAME", default=[], help="leave these out")
    parser.add_argument(
        "--quick", action="store_true", help="smaller sizes, no slow reference runs"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        help="seconds each run may take (default: per script, 900 s for most)",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="the report (bench/RESULTS.md)"
    )
    args = parser.parse_args(argv)
    if args.timeout is not None and args.timeout <= 0:
        parser.error("--timeout must be positive")
    return args


def discover() -> list[str]:
    return sorted(p.stem for p in BENCH.glob("*.py") if p.name not in NOT_BENCHMARKS)


def select_scripts(
    available: list[str], only: list[str] | None, skip: list[str]
) -> list[str] | str:
    """The scripts to run, or why the names given are wrong."""

    def stem(name: str) -> str:
        return Path(name).stem

    unknown = [n for n in [*(only or []), *skip] if stem(n) not in available]
    if unknown:
        return f"no such benchmark: {', '.join(unknown)} (there are: {', '.join(available)})"
    chosen = [s for s in available if only is None or s in {stem(n) for n in only}]
    return [s for s in chosen if s not in {stem(n) for n in skip}]


# --- Running ------------------------------------------------------------------------


def shown(command: list[str]) -> str:
    """The command as a person would type it from the project's root."""
    parts = list(command)
    exe = Path(parts[0])
    if exe.is_relative_to(ROOT):
        parts[0] = str(exe.relative_to(ROOT))
    script = Path(parts[1])
    if script.is_relative_to(ROOT):
        parts[1] = str(script.relative_to(ROOT))
    return shlex.join(parts)


def _pump(stream: Any, keep: list[str] | collections.deque[str], prefix: str) -> None:
    for line in stream:
        line = line.rstrip("\n")
        keep.append(line)
        print(f"{prefix}{line}", flush=True)


def execute(run: Run) -> None:
    """Run one benchmark, echoing its output; fill in its outcome."""
    run.load_before = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.Popen(
        run.command,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
        start_new_session=True,  # its own process group: a timeout ends its children too
    )
    out: list[str] = []
    err: collections.deque[str] = collections.deque(maxlen=OUTPUT_TAIL)
    pumps = [
        threading.Thread(target=_pump, args=(proc.stdout, out, "  | "), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, err, "  : "), daemon=True),
    ]
    for pump in pumps:
        pump.start()
    timed_out = False
    try:
        proc.wait(timeout=run.timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        end_group(proc)
    except BaseException:
        end_group(proc)
        raise
    for pump in pumps:
        pump.join(timeout=10)
    run.wall_s = time.perf_counter() - started
    run.exit_code = proc.returncode
    run.stderr_tail = list(err)
    printed = [line for line in out if line.strip()]
    last = printed[-1] if printed else ""
    try:
        parsed = json.loads(last) if last else None
    except json.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict):
        run.figures = parsed
        printed = printed[:-1]
    run.stdout_tail = printed[-OUTPUT_TAIL:]
    if timed_out:
        run.status, run.reason = "timed out", f"no result within {run.timeout_s:.0f} s: ended"
    elif proc.returncode != 0:
        run.status, run.reason = "failed", f"exit status {proc.returncode}"
    elif run.figures is None:
        run.status = "failed"
        run.reason = "its last line is not one JSON object" + (f": {last[:200]!r}" if last else "")
    else:
        run.status = "ok"


def end_group(proc: subprocess.Popen[str]) -> None:
    """End the run's process group: SIGINT first (so that it drops its throwaway
    databases), SIGKILL if it is still there after a grace period."""
    for sig, grace in ((signal.SIGINT, INTERRUPT_GRACE_S), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


# --- The machine --------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "cpu model") and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def git_commit() -> str:
    def git(*args: str) -> str:
        try:
            done = subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("log", "-1", "--format=%h (%cs)")
    if not commit:
        return "unknown"
    return commit + (" with uncommitted changes" if git("status", "--porcelain") else "")


@dataclass
class Machine:
    cpus: int
    model: str
    python: str
    postgresql: str | None
    load_start: tuple[float, float, float]
    commit: str

    @classmethod
    def now(cls) -> Machine:
        load = os.getloadavg()
        return cls(
            cpus=os.cpu_count() or 1,
            model=cpu_model(),
            python=f"{platform.python_implementation()} {platform.python_version()}",
            postgresql=pg_server_version(DEFAULT_PG),
            load_start=(load[0], load[1], load[2]),
            commit=git_commit(),
        )

    def busy(self, load: float) -> bool:
        return load > HIGH_LOAD_PER_CPU * self.cpus


# --- The report ---------------------------------------------------------------------


def cell(value: Any) -> str:
    if value is None:
        text = "null"
    elif isinstance(value, str):
        text = value
    elif isinstance(value, float):
        text = repr(float(f"{value:.6g}"))  # 6 significant digits are plenty here
    elif isinstance(value, bool | int):
        text = json.dumps(value)
    else:
        text = json.dumps(value, separators=(", ", ": "))
    return text.replace("|", "\\|").replace("\n", " ")


def flatten(obj: dict[str, Any], prefix: str = "") -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """(scalar figures by dotted key, lists of objects by dotted key)."""
    scalars: dict[str, Any] = {}
    tables: dict[str, list[Any]] = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            inner, inner_tables = flatten(value, f"{name}.")
            scalars.update(inner)
            tables.update(inner_tables)
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            tables[name] = value
        elif isinstance(value, list):
            scalars[name] = ", ".join(cell(v) for v in value)
        else:
            scalars[name] = value
    return scalars, tables


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def figure_tables(figures: dict[str, Any]) -> list[str]:
    scalars, tables = flatten(figures)
    lines: list[str] = []
    if scalars:
        lines += markdown_table(
            ["figure", "value"], [[f"`{k}`", cell(v)] for k, v in scalars.items()]
        )
    for name, items in tables.items():
        flat_items = []
        for item in items:
            flat, nested = flatten(item)
            flat.update({k: v for k, v in nested.items()})
            flat_items.append(flat)
        columns = list(dict.fromkeys(k for item in flat_items for k in item))
        if lines:
            lines.append("")
        lines.append(f"`{name}`:")
        lines.append("")
        lines += markdown_table(
            columns, [[cell(item.get(c, "")) for c in columns] for item in flat_items]
        )
    return lines or ["(an empty JSON object)"]


def seconds(s: float) -> str:
    return f"{s:.1f} s" if s < 120 else f"{s / 60:.1f} min"


def render(
    runs: list[Run], machine: Machine, started: dt.datetime, invocation: str, quick: bool
) -> str:
    done = [r for r in runs if r.status != "pending"]
    lines = [
        "# Benchmark results",
        "",
        f"Written by `{invocation}` (generated: do not edit by hand). "
        f"Started {started:%Y-%m-%d %H:%M} UTC"
        + (
            f"; {len(done)} of {len(runs)} runs done so far."
            if len(done) < len(runs)
            else f"; took {seconds((dt.datetime.now(dt.UTC) - started).total_seconds())}."
        ),
        "",
    ]
    load = ", ".join(f"{x:.2f}" for x in machine.load_start)
    lines += markdown_table(
        ["machine", ""],
        [
            ["CPUs", str(machine.cpus)],
            ["CPU model", cell(machine.model)],
            ["Python", machine.python],
            ["PostgreSQL", cell(machine.postgresql or f"no server answered at {DEFAULT_PG}")],
            ["load average at start (1, 5, 15 min)", load],
            ["code", machine.commit],
            ["mode", "quick (smaller sizes, no reference runs)" if quick else "full"],
        ],
    )
    if machine.busy(machine.load_start[0]):
        lines += [
            "",
            f"> **Note:** the machine was busy when the run started (load average "
            f"{machine.load_start[0]:.2f} on {machine.cpus} CPUs): other work was sharing the "
            f"CPUs, so these figures are pessimistic. Each run's own load average at its start "
            f"is in its section.",
        ]
    lines += [
        "",
        "Each run's figures are the JSON object on the last line it printed (floats here "
        "to 6 significant digits); what they mean is in the script's docstring.",
        "",
        "## Summary",
        "",
    ]
    lines += markdown_table(
        ["run", "outcome", "wall time", "load at start"],
        [
            [
                f"[{r.name}](#{anchor(r.name)})",
                r.status + (f": {cell(r.reason)}" if r.status != "ok" and r.reason else ""),
                seconds(r.wall_s) if r.status not in ("pending", "skipped") else "",
                f"{r.load_before:.2f}" if r.status not in ("pending", "skipped") else "",
            ]
            for r in runs
        ],
    )
    for r in runs:
        lines += ["", f"## {r.name}", ""]
        if r.status == "pending":
            lines += ["Not run yet."]
            continue
        lines += [f"    {shown(r.command)}", ""]
        if r.status == "skipped":
            lines += [f"**Skipped:** {r.reason}."]
            continue
        quick_note = ""
        if quick and r.variant.quick is None:
            quick_note = " This script has no quick mode: it ran as it is."
        lines += [
            f"Wall time {seconds(r.wall_s)}, exit status {r.exit_code}, load average at start "
            f"{r.load_before:.2f}.{quick_note}",
            "",
        ]
        if r.status != "ok":
            lines += [f"**{r.status.upper()}:** {r.reason}.", ""]
            for what, tail in (("output", r.stdout_tail), ("stderr", r.stderr_tail)):
                if tail:
                    lines += [f"Its last lines of {what}:", "", "```"]
                    lines += [line[:300] for line in tail]
                    lines += ["```", ""]
        if r.figures is not None:
            if r.status != "ok":
                lines += ["The figures it printed all the same:", ""]
            lines += figure_tables(r.figures)
    tidy = [line for i, line in enumerate(lines) if line or (i and lines[i - 1])]
    return "\n".join(tidy).rstrip() + "\n"


def anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    kept = "".join(c for c in heading.lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


# --- Main ---------------------------------------------------------------------------


def plan_runs(scripts: list[str], quick: bool, timeout: float | None) -> list[Run]:
    runs = []
    for script in scripts:
        plan = PLANS.get(script, Plan())
        for variant in plan.variants:
            args = variant.quick if quick and variant.quick is not None else variant.args
            command = [sys.executable, str(BENCH / f"{script}.py"), *args]
            runs.append(Run(script, variant, command, timeout or plan.timeout_s))
    return runs


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    available = discover()
    scripts = select_scripts(available, args.only, args.skip)
    if isinstance(scripts, str):
        raise SystemExit(scripts)
    out: Path = args.out if args.out.is_absolute() else Path.cwd() / args.out
    started = dt.datetime.now(dt.UTC)
    invocation = shown([sys.executable, str(Path(__file__).resolve()), *(argv or sys.argv[1:])])
    machine = Machine.now()
    runs = plan_runs(scripts, args.quick, args.timeout)
    print(
        f"{len(runs)} runs of {len(scripts)} scripts ({'quick' if args.quick else 'full'}); "
        f"{machine.cpus} CPUs ({machine.model}), {machine.python}, PostgreSQL "
        f"{machine.postgresql or 'unreachable'}; load average {machine.load_start[0]:.2f}"
        + (
            " (busy: the figures will be pessimistic)"
            if machine.busy(machine.load_start[0])
            else ""
        ),
        flush=True,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    for i, run in enumerate(runs, 1):
        print(f"[{i}/{len(runs)}] {run.name}: {shown(run.command)}", flush=True)
        if run.variant.needs_pg and machine.postgresql is None:
            run.status, run.reason = "skipped", f"no PostgreSQL server answered at {DEFAULT_PG}"
        else:
            execute(run)
        figures = "" if run.figures is None else f"; last line {json.dumps(run.figures)[:300]}"
        print(
            f"[{i}/{len(runs)}] {run.name}: {run.status}"
            + (f" ({run.reason})" if run.reason else "")
            + (f" in {seconds(run.wall_s)}" if run.status != "skipped" else "")
            + figures,
            flush=True,
        )
        out.write_text(render(runs, machine, started, invocation, args.quick))
    failed = [r.name for r in runs if r.status in ("failed", "timed out")]
    skipped = [r.name for r in runs if r.status == "skipped"]
    try:
        where = str(out.relative_to(Path.cwd()))
    except ValueError:
        where = str(out)
    print(
        json.dumps(
            {
                "scripts": len(scripts),
                "runs": len(runs),
                "failed": failed,
                "skipped": skipped,
                "out": where,
            }
        )
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
