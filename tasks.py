#!/usr/bin/env python3
"""One entry point for people and CI; needs only Python 3.11+.

    python3 tasks.py run [ARGS]    set up .venv, then `organiser run ARGS`
                                   (the console chat on SQLite when no token is set)
    python3 tasks.py console ...   set up .venv, then `organiser console ...`
    python3 tasks.py test [ARGS]   set up .venv with the dev tools, then ruff, mypy
                                   and the whole test suite (`pytest -n auto ARGS`:
                                   one worker per CPU)
    python3 tasks.py i18n          extract every sentence (bot/, adapters/) into
                                   bot/locale/messages.pot
    python3 tasks.py i18n add LANG extract, then start LANG's catalogue (a new language:
                                   bot/locale/LANG/LC_MESSAGES/messages.po to translate)
    python3 tasks.py i18n update   extract, then add the new sentences to every
                                   catalogue (untranslated) and drop the gone ones
    python3 tasks.py i18n check    every catalogue complete, its placeholders and
                                   plural forms right, and compiling (tests/test_catalogues.py)

The virtual environment is (re)installed only when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
POT = "bot/locale/messages.pot"


def ensure_venv(extra: str | None) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - said plainly on an older Python
        sys.exit("Assembly Organiser needs Python 3.11 or newer")
    if not (BIN / "python").exists():
        print("creating .venv …", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    target = f".[{extra}]" if extra else "."
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    stamp = VENV / f".installed-{extra or 'base'}"
    if stamp.exists() and stamp.read_text() == digest:
        return
    print(f"installing {target} into .venv …", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "-e", target], cwd=ROOT, check=True)
    stamp.write_text(digest)


def parallel(args: list[str]) -> list[str]:
    """One pytest worker per CPU (pytest-xdist) unless the arguments choose: each
    worker has its own PostgreSQL database and its own ports."""
    if any(a == "-n" or a.startswith(("-n", "--numprocesses")) or "xdist" in a for a in args):
        return []
    return ["-n", "auto"]


def run(*command: str) -> int:
    return subprocess.run(command, cwd=ROOT).returncode


def i18n(args: list[str]) -> int:
    """The catalogue's tasks (see the module's help)."""
    pybabel = str(BIN / "pybabel")
    if args[:1] == ["check"]:
        return run(
            str(BIN / "python"),
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_catalogues.py",
        )
    code = run(
        pybabel,
        "extract",
        "--no-location",
        "--omit-header",
        "--sort-output",
        "-k",
        "t",
        "-k",
        "N_",
        "-k",
        "plural:1,2",
        "-o",
        POT,
        "bot",
        "adapters",  # what the platform adapters say themselves
    )
    if code or not args:
        return code
    if args[0] == "add" and len(args) == 2:
        lang = args[1]
        if (ROOT / "bot" / "locale" / lang).exists():
            print(f"bot/locale/{lang} exists already: python3 tasks.py i18n update")
            return 2
        return run(pybabel, "init", "-i", POT, "-d", "bot/locale", "-l", lang)
    if args[0] == "update":
        return run(
            pybabel,
            "update",
            "-i",
            POT,
            "-d",
            "bot/locale",
            "--no-fuzzy-matching",
            "--ignore-obsolete",
        )
    print(__doc__)
    return 2


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "console", "test", "i18n"}:
        print(__doc__)
        return 2
    task, rest = argv[0], argv[1:]
    if task in ("run", "console"):
        ensure_venv(None)
        return run(str(BIN / "organiser"), task, *rest)
    ensure_venv("dev")
    if task == "i18n":
        return i18n(rest)
    steps = [
        [str(BIN / "ruff"), "check", "."],
        [str(BIN / "ruff"), "format", "--check", "."],
        [str(BIN / "mypy")],
        [str(BIN / "python"), "-m", "pytest", *parallel(rest), *rest],
    ]
    for step in steps:
        print(
            "$",
            " ".join(Path(step[0]).name if i == 0 else a for i, a in enumerate(step)),
            flush=True,
        )
        code = run(*step)
        if code != 0:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
