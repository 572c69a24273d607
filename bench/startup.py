#!/usr/bin/env python3
"""How fast ``organiser`` starts, and how much memory an idle ``organiser run`` holds.

Start-up: each command is run ``--runs`` (7) times as a person types it, the
``organiser`` script of this Python's environment in a fresh process, and the
median wall time and the median CPU time (user + system, of that process) are
reported:

* ``organiser --help``;
* ``organiser sortition --help``;
* ``organiser sortition verify RECORD --seed S --published-hash H`` on a record
  of 200 people (k 12, m 1000) made beforehand, as someone checking a published
  draw would run it.

Wall time is what a person waits and depends on what else the machine is
doing; CPU time is the process's own work and barely does. Both are printed.

Idle memory: ``organiser run`` on a fresh SQLite database in a temporary
folder, with no ``ORGANISER_*`` variable but those given here, is asked one
``/help`` and, once it has answered, left alone for ``--settle`` (3) seconds;
then its resident set (``VmRSS``) and its peak (``VmHWM``) are read from
``/proc`` (Linux only; elsewhere they are null). Two modes:

* ``console``: no token, so the console chat, with its standard input kept open;
* ``telegram``: a token and ``telegram.base_url`` pointing at the fake Bot API
  server of ``tests/fake_telegram.py`` in this process (long polling; the
  scheduler and the outbox worker run too, as in production).

    python bench/startup.py [--runs 7] [--settle 3] [--modes console telegram]

The last line printed is one JSON object ``{"help_s", "help_cpu_s",
"sortition_help_s", "sortition_help_cpu_s", "sortition_verify_s",
"sortition_verify_cpu_s", "runs", "idle": [{"mode", "rss_mb", "peak_mb"}, ...]}``.
The exit status is 1 if a command fails or ``organiser run`` does not answer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fake_telegram import FakeTelegram

ORGANISER = str(Path(sys.executable).parent / "organiser")
SEED = "3 9 27 41 50 58 + 1"
ANSWER = "Here is what you can do"  # the start of the answer to /help
MODES = ("console", "telegram")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=7, help="runs of each command (7)")
    parser.add_argument(
        "--settle", type=float, default=3.0, help="idle seconds before memory is read (3)"
    )
    parser.add_argument(
        "--modes", nargs="+", choices=MODES, default=list(MODES), help="organiser run modes"
    )
    args = parser.parse_args(argv)
    if args.runs < 1 or args.settle < 0:
        parser.error("--runs must be at least 1 and --settle not negative")
    return args


def clean_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORGANISER_")}
    return env | settings


def timed(command: list[str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of ``command``, which must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=clean_env(), capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def medians(command: list[str], cwd: Path, runs: int) -> tuple[float, float]:
    timed(command, cwd)  # once first, so that every run finds the files in the page cache
    results = [timed(command, cwd) for _ in range(runs)]
    return (
        round(statistics.median(w for w, _ in results), 3),
        round(statistics.median(c for _, c in results), 3),
    )


def make_record(folder: Path) -> tuple[Path, str]:
    """A committed lottery record of 200 people, and its hash."""
    from bot.lib.sortition import Problem, commit
    from bot.lib.sortition.synthetic import proportional_quotas, skewed_pool

    problem = Problem.build(skewed_pool(200, seed=11), proportional_quotas(12), 12)
    record, _ = commit(problem, {"kind": "lottery", "name": "Lotto", "date": "2026-12-05"})
    path = folder / "record.json"
    path.write_text(json.dumps(record, sort_keys=True), encoding="utf-8")
    return path, str(record["record_hash"])


def memory_of(pid: int) -> tuple[float | None, float | None]:
    """(resident MB, peak resident MB) of process ``pid``, from /proc (Linux)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None, None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)

    def mb(key: str) -> float | None:
        value = fields.get(key, "").split()
        return round(int(value[0]) / 1024, 1) if value else None

    return mb("VmRSS"), mb("VmHWM")


async def idle_console(folder: Path, settle: float) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        ORGANISER,
        "run",
        cwd=folder,
        env=clean_env(),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write(b"/help\n")
        await process.stdin.drain()
        async with asyncio.timeout(120):
            while ANSWER not in (await process.stdout.readline()).decode(errors="replace"):
                if process.stdout.at_eof():
                    raise SystemExit("organiser run (console) ended without answering /help")
        await asyncio.sleep(settle)
        rss, peak = memory_of(process.pid)
    finally:
        process.stdin.close()  # the console's input ends: it stops
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()
    return {"mode": "console", "rss_mb": rss, "peak_mb": peak}


async def idle_telegram(folder: Path, settle: float) -> dict[str, Any]:
    async with FakeTelegram() as tg:
        env = clean_env(ORGANISER_TELEGRAM_TOKEN="1:T", ORGANISER_TELEGRAM_BASE_URL=tg.base_url)
        process = await asyncio.create_subprocess_exec(
            ORGANISER,
            "run",
            cwd=folder,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            await tg.wait_for("getUpdates", timeout=120)
            tg.send_text(tg.user(101, "Sam", "sam"), "/help")
            await tg.wait_for("sendMessage", timeout=120)
            if not tg.sent_texts(101)[0].startswith(ANSWER):
                raise SystemExit(f"organiser run (telegram) answered {tg.sent_texts(101)[0]!r}")
            await asyncio.sleep(settle)
            rss, peak = memory_of(process.pid)
        finally:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()
    return {"mode": "telegram", "rss_mb": rss, "peak_mb": peak}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="organiser-bench-startup-") as tmp:
        folder = Path(tmp)
        record, record_hash = make_record(folder)
        commands = {
            "help": [ORGANISER, "--help"],
            "sortition_help": [ORGANISER, "sortition", "--help"],
            "sortition_verify": [
                *(ORGANISER, "sortition", "verify", str(record)),
                *("--seed", SEED, "--published-hash", record_hash),
            ],
        }
        for name, command in commands.items():
            wall, cpu = medians(command, folder, args.runs)
            figures[f"{name}_s"], figures[f"{name}_cpu_s"] = wall, cpu
            print(f"organiser {' '.join(command[1:3])}: median {wall:.3f} s wall, {cpu:.3f} s CPU")
        figures["runs"] = args.runs
        idle = []
        for mode in args.modes:
            run_folder = folder / mode
            run_folder.mkdir()
            measure = idle_console if mode == "console" else idle_telegram
            result = asyncio.run(measure(run_folder, args.settle))
            print(f"organiser run ({mode}), idle: {result['rss_mb']} MB (peak {result['peak_mb']})")
            idle.append(result)
        figures["idle"] = idle
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
