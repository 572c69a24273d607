"""The layers stay apart: runtime -> adapters -> bot -> storage, never the other way;
a platform adapter sees only the core's public face; and bot/ is the tree
ARCHITECTURE.md draws: the kernel, the pure libraries, one package a feature."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.kernel import i18n
from bot.kernel.core import Core

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "bot": {"telegram", "discord", "apscheduler", "adapters", "runtime"},
    "storage": {"telegram", "discord", "apscheduler", "adapters", "runtime", "bot"},
}
# The platform adapters: chat in, replies out. The process (database, leads,
# health) is the runtime's, handed to them; the database is the core's.
PLATFORM_ADAPTERS = sorted(
    p.stem
    for pattern in ("telegram*.py", "discord*.py", "console.py")
    for p in (ROOT / "adapters").glob(pattern)
)
NOT_FOR_PLATFORMS = {"storage", "sqlalchemy", "runtime", "alembic", "psycopg", "apscheduler"}
# The core's public face: requests and replies, the core, the command
# descriptions, the catalogue, the settings.
PUBLIC_FACE = {
    "bot.kernel.core",
    "bot.kernel.messages",
    "bot.kernel.registry",
    "bot.kernel.i18n",
    "bot.kernel.config",
}
# A platform adapter only translates: a module of it stays readable in one go.
MAX_ADAPTER_LINES = 300
# The packages whose modules speak to people (their sentences are in the catalogue).
SPEAKING = ("bot", "adapters")


def imported_modules(path: Path, *, whole: bool = False) -> set[str]:
    """The packages ``path`` imports anywhere (in functions too); ``whole``: the
    full dotted names."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") in (
            "__import__",
            "import_module",
        ):
            if node.args and isinstance(node.args[0], ast.Constant):
                names.add(str(node.args[0].value))
    return names if whole else {name.split(".")[0] for name in names}


def test_core_and_storage_never_import_an_edge() -> None:
    leaks = []
    for package, forbidden in FORBIDDEN.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            for name in imported_modules(path) & forbidden:
                leaks.append(f"{path.relative_to(ROOT)} imports {name}")
    assert leaks == []


def test_platform_adapters_see_neither_the_database_nor_the_runtime() -> None:
    assert {"telegram", "discord", "console"} <= set(PLATFORM_ADAPTERS)
    own = {f"adapters.{name}" for name in PLATFORM_ADAPTERS} | {"adapters.web"}
    leaks = []
    for name in PLATFORM_ADAPTERS:
        for module in sorted(imported_modules(ROOT / "adapters" / f"{name}.py", whole=True)):
            first = module.split(".")[0]
            if (
                first in NOT_FOR_PLATFORMS
                # nor an adapter module that might (the scheduler, the command line)
                or (first == "adapters" and module not in own)
                or (first == "bot" and module not in PUBLIC_FACE)
            ):
                leaks.append(f"adapters/{name}.py imports {module}")
    assert leaks == []


def test_the_checker_sees_an_import_it_must_refuse(tmp_path: Path) -> None:
    sample = tmp_path / "leak.py"
    sample.write_text(
        "import telegram.ext\nfrom adapters.console import ConsoleChat\n"
        "def later():\n    from storage.models import Meta\n    import sqlalchemy as sa\n"
    )
    assert {"telegram", "adapters", "storage", "sqlalchemy"} <= imported_modules(sample)
    assert "storage.models" in imported_modules(sample, whole=True)


# The packages whose modules may never import one another in a circle.
LAYERS = ("bot", "adapters", "runtime", "storage")


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Each module of ``LAYERS`` under ``root`` and the modules of theirs it
    imports anywhere: at the top, in a function, or for the type checker only."""
    modules: dict[str, Path] = {}
    for package in LAYERS:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in modules.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        named: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                named.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the package, up level - 1
                    up = here.split(".")[: len(here.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                for alias in node.names:  # a module of the package, else a name in it
                    full = f"{base}.{alias.name}"
                    named.add(full if full in modules else base)
        graph[name] = set()
        for module in named:
            while module and module not in modules:  # a name in a module: the module
                module = module.rpartition(".")[0]
            if module and module != name:
                graph[name].add(module)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Circles of imports (a -> b -> ... -> a): the shortest back to each module in
    turn, but for modules already on one reported."""
    found = []
    seen: set[str] = set()
    for start in sorted(graph):
        if start in seen:
            continue
        paths = {start: [start]}
        queue = [start]
        while queue:  # breadth first: the shortest way back to ``start``
            node = queue.pop(0)
            for nxt in sorted(graph[node]):
                if nxt == start:
                    found.append([*paths[node], start])
                    seen.update(paths[node])
                    queue = []
                    break
                if nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    queue.append(nxt)
    return found


def test_no_module_imports_itself_through_others() -> None:
    found = [" -> ".join(circle) for circle in circles(import_graph())]
    assert found == [], "import circles:\n" + "\n".join(found)


def test_the_circle_checker_sees_a_circle_through_a_function(tmp_path: Path) -> None:
    for package in LAYERS:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "adapters" / "one.py").write_text("from adapters.two import run\n")
    (tmp_path / "adapters" / "two.py").write_text(
        "def run():\n    from . import three\n    three.go()\n"
    )
    (tmp_path / "adapters" / "three.py").write_text("import adapters.one as one\n")
    (tmp_path / "storage" / "__init__.py").write_text("from storage.db import Database\n")
    (tmp_path / "storage" / "db.py").write_text("from storage import sqlite\n")
    (tmp_path / "storage" / "sqlite.py").write_text("import json\n")
    (tmp_path / "bot" / "clean.py").write_text("from storage import Database\n")
    graph = import_graph(tmp_path)
    assert graph["bot.clean"] == {"storage"}
    assert graph["storage.db"] == {"storage.sqlite"}  # not the package's __init__
    assert circles(graph) == [["adapters.one", "adapters.two", "adapters.three", "adapters.one"]]


# The tree inside bot/ (ARCHITECTURE.md): the request kernel, the pure libraries,
# one package a feature, and the composition root, the one module listing them.
BOT = ROOT / "bot"
KERNEL, LIB, COMPOSITION_ROOT = "bot.kernel", "bot.lib", "bot.app"
FEATURES = sorted(
    f"bot.{p.name}"
    for p in BOT.iterdir()
    if (p / "__init__.py").exists() and f"bot.{p.name}" not in (KERNEL, LIB)
)
# What a pure library may use of the rest of the bot: the catalogue.
LIB_MAY_USE = {"bot.kernel.i18n"}
DATABASE = {"storage", "sqlalchemy", "alembic", "psycopg", "aiosqlite"}


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_bot_holds_packages_and_the_composition_root_only() -> None:
    loose = sorted(p.name for p in BOT.glob("*.py") if p.name not in ("__init__.py", "app.py"))
    assert loose == []
    assert {"bot.branches", "bot.meetings", "bot.polls"} <= set(FEATURES)


def test_pure_libraries_know_neither_the_database_nor_a_request() -> None:
    graph = import_graph()
    leaks = []
    for name in sorted(n for n in graph if within(n, LIB)):
        path = ROOT / (name.replace(".", "/") + ".py")
        path = path if path.exists() else ROOT / name.replace(".", "/") / "__init__.py"
        used = graph[name] | (imported_modules(path) & DATABASE)
        for module in sorted(used):
            if module.split(".")[0] in DATABASE or (
                within(module, "bot") and not within(module, LIB) and module not in LIB_MAY_USE
            ):
                leaks.append(f"{name} imports {module}")
    assert leaks == []


def test_the_kernel_imports_no_feature_and_no_feature_the_composition_root() -> None:
    graph = import_graph()
    leaks = [
        f"{name} imports {module}"
        for name in sorted(graph)
        for module in sorted(graph[name])
        if (within(name, KERNEL) and any(within(module, f) for f in [*FEATURES, COMPOSITION_ROOT]))
        or (any(within(name, f) for f in FEATURES) and module == COMPOSITION_ROOT)
    ]
    assert leaks == []


# A feature's rules.py holds decisions over plain data: no session, no request, no waiting.
RULES_MAY_NOT_IMPORT = (
    "sqlalchemy",
    "storage.db",
    "storage.sqlite",
    "storage.writes",
    "bot.kernel.context",
)


def rules_leaks(path: Path) -> list[str]:
    """What makes ``path`` (a feature's rules.py) more than pure decisions: an
    import of SQLAlchemy, the database's session machinery or the request's
    Context, or anything asynchronous."""
    leaks = [
        f"imports {module}"
        for module in sorted(imported_modules(path, whole=True))
        if any(within(module, banned) for banned in RULES_MAY_NOT_IMPORT)
    ]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.AsyncFunctionDef | ast.Await | ast.AsyncFor | ast.AsyncWith):
            leaks.append(f"line {node.lineno}: {type(node).__name__}")
    return leaks


def test_a_features_rules_are_pure_decisions() -> None:
    found = sorted(BOT.glob("*/rules.py"))
    assert BOT / "polls" / "rules.py" in found
    leaks = [f"{p.relative_to(ROOT)} {leak}" for p in found for leak in rules_leaks(p)]
    assert leaks == []


def test_the_rules_checker_sees_a_query_and_a_wait(tmp_path: Path) -> None:
    sample = tmp_path / "rules.py"
    sample.write_text(
        "from sqlalchemy import select\nimport storage.db\n"
        "from storage.models import Poll\nfrom storage.vocabulary import SINGLE\n"
        "async def allowed(ctx):\n    from bot.kernel.context import Context\n"
        "    return await ctx.session.scalar(select(Poll))\n"
    )
    assert rules_leaks(sample) == [
        "imports bot.kernel.context",
        "imports sqlalchemy",
        "imports storage.db",
        "line 5: AsyncFunctionDef",
        "line 7: Await",
    ]
    sample.write_text(
        "from storage.models import Poll\ndef allowed(poll: Poll) -> bool:\n"
        "    return not poll.secret\n"
    )
    assert rules_leaks(sample) == []


def test_every_sentence_is_in_the_catalogue() -> None:
    """`python3 tasks.py i18n` has been run since the last sentence was written."""
    method_map = [("**.py", "python")]
    keywords = {"t": None, "N_": None, "plural": (1, 2)}
    in_code: set[str] = set()
    for package in SPEAKING:
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT / package), method_map=method_map, keywords=keywords
        ):
            in_code.update([message] if isinstance(message, str) else [m for m in message if m])
    catalogue: set[str] = set()
    with (ROOT / "bot" / "locale" / "messages.pot").open("rb") as fh:
        for entry in read_po(fh):
            catalogue.update([entry.id] if isinstance(entry.id, str) else entry.id)
    missing = sorted(in_code - catalogue)
    assert missing == [], "run `python3 tasks.py i18n`: these are missing from the catalogue"


def test_only_the_checked_packages_speak_to_people() -> None:
    """A module that uses the catalogue is in a package the check above reads."""
    with (ROOT / "pyproject.toml").open("rb") as fh:
        packages = tomllib.load(fh)["tool"]["mypy"]["packages"]  # all the product's code
    assert set(SPEAKING) < set(packages)
    outside = [
        str(path.relative_to(ROOT))
        for package in sorted(set(packages) - set(SPEAKING))
        for path in sorted((ROOT / package).rglob("*.py"))
        if i18n.__name__ in imported_modules(path, whole=True)  # wherever the catalogue moves
    ]
    assert outside == [], "add their package to SPEAKING"


def test_platform_adapters_are_small() -> None:
    long = {
        f"adapters/{name}.py": lines
        for name in PLATFORM_ADAPTERS
        if (lines := len((ROOT / "adapters" / f"{name}.py").read_text().splitlines()))
        > MAX_ADAPTER_LINES
    }
    assert long == {}, f"split them (at most {MAX_ADAPTER_LINES} lines a module)"


def string_literals(path: Path) -> set[str]:
    """The strings written in ``path``, docstrings aside."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        if id(node) not in docstrings
    }


def command_names(core: Core) -> set[str]:
    """Every name a command has, on any platform, from its declaration."""
    return {name for spec in core.commands for name in (spec.name, *dict(spec.names).values())}


def test_platform_adapters_know_no_command_by_name(core: Core) -> None:
    """They build their menus and forms from the command declarations."""
    names = command_names(core)
    assert {"help", "start"} <= names
    named = [
        f"adapters/{module}.py: {value!r}"
        for module in PLATFORM_ADAPTERS
        for value in sorted(string_literals(ROOT / "adapters" / f"{module}.py"))
        if value.strip().removeprefix("/") in names
    ]
    assert named == []


def test_the_name_checker_sees_a_command_named(tmp_path: Path) -> None:
    sample = tmp_path / "named.py"
    sample.write_text(
        '"""The menu: /help first."""\n'
        'def menu(text):\n    """Not /join."""\n'
        '    return text == "/join" or text in ("help", f"x{text}")\n'
    )
    assert string_literals(sample) == {"/join", "help", "x"}


def test_no_print_in_library_code() -> None:
    offenders = []
    for package in ("bot", "storage"):
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "print":
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def people_dates_by_hand(path: Path) -> list[str]:
    """Dates formatted without ``bot.kernel.i18n.format_local``: a ``strftime`` call, a
    ``{moment:%a}`` format spec, or ``.isoformat()`` handed to a sentence as a value."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "strftime":
            found.append(f"{path.name}:{node.lineno} strftime")
        elif isinstance(node, ast.FormattedValue) and isinstance(node.format_spec, ast.JoinedStr):
            spec = "".join(
                str(part.value)
                for part in node.format_spec.values
                if isinstance(part, ast.Constant)
            )
            if re.search("%[A-Za-z]", spec):  # not "{share:.0%}", a number
                found.append(f"{path.name}:{node.lineno} format spec {spec}")
        elif isinstance(node, ast.Call) and _speaks(node.func):
            for keyword in node.keywords:
                value = keyword.value
                if (
                    isinstance(value, ast.Call)
                    and isinstance(value.func, ast.Attribute)
                    and value.func.attr == "isoformat"
                ):
                    found.append(f"{path.name}:{node.lineno} isoformat() in a sentence")
    return sorted(found, key=lambda f: int(f.split(":")[1].split(" ")[0]))


def _speaks(func: ast.expr) -> bool:
    """``t(...)``, ``ctx.t(...)``, ``t.plural(...)``: a sentence for a person."""
    if isinstance(func, ast.Name):
        return func.id in ("t", "tr")
    return isinstance(func, ast.Attribute) and func.attr in ("t", "plural")


def test_dates_people_read_go_through_format_local() -> None:
    """One formatting function (Babel, the reader's language and time zone) for every
    date and time a person reads; machine output (CSV, JSON, records) uses isoformat."""
    offenders = []
    for package in ("bot", "adapters"):
        for path in sorted((ROOT / package).rglob("*.py")):
            offenders += [f"{package}/{o}" for o in people_dates_by_hand(path)]
    assert offenders == []


def test_the_date_checker_sees_a_date_formatted_by_hand(tmp_path: Path) -> None:
    sample = tmp_path / "by_hand.py"
    sample.write_text(
        "a = at.strftime('%a %d %b')\n"
        "b = f'{at:%a} {at.day} {at:%b %Y}'\n"
        "c = ctx.t('paid until {date}', date=day.isoformat())\n"
        "d = t('closes {when}', when=at.isoformat())\n"
        "e = f'{share:.0%}'\n"
        "f = audit(ctx, 'dues.set', until=day.isoformat())\n"
    )
    assert [o.split(" ", 1)[1] for o in people_dates_by_hand(sample)] == [
        "strftime",
        "format spec %a",
        "format spec %b %Y",
        "isoformat() in a sentence",
        "isoformat() in a sentence",
    ]


# What `organiser --help` and `organiser sortition verify` may load: none of the
# platform libraries, the scheduler, the database layer, the charts or the
# solver, which the commands that need them import (start-up time; see
# bench/startup.py).
HEAVY = {
    "telegram",
    "discord",
    "alembic",
    "matplotlib",
    "apscheduler",
    "sqlalchemy",
    "storage",
    "runtime",
    "highspy",
    "py_ecc",
    "httpx",
}


def modules_loaded_by(code: str, cwd: Path = ROOT) -> set[str]:
    """The top-level packages a fresh Python holds after running ``code``."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return {name.split(".")[0] for name in json.loads(done.stdout.splitlines()[-1])}


@pytest.mark.slow  # a fresh interpreter
def test_the_command_line_starts_without_the_heavy_libraries() -> None:
    loaded = modules_loaded_by("import adapters.cli\nadapters.cli.build_parser()")
    assert loaded & HEAVY == set()
    assert "numpy" not in loaded


@pytest.mark.slow  # a fresh interpreter
def test_the_checker_sees_a_heavy_library_loaded() -> None:
    assert {"sqlalchemy", "storage"} <= modules_loaded_by("import storage.models") & HEAVY


@pytest.mark.slow  # a fresh interpreter
def test_checking_a_sortition_record_loads_no_solver(tmp_path: Path) -> None:
    """`organiser sortition verify` on a record file loads numpy, not HiGHS, nor
    the bot's database or platforms."""
    from bot.lib.sortition import Problem, commit
    from bot.lib.sortition.synthetic import proportional_quotas, skewed_pool

    problem = Problem.build(skewed_pool(40, seed=3), proportional_quotas(6), 6)
    record, _ = commit(problem, {"kind": "string", "description": "a test"}, 20)
    path = tmp_path / "record.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    argv = ["sortition", "verify", str(path), "--seed", "7", "--published-hash"]
    code = (
        "import contextlib, io\n"
        "from adapters.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        f"    assert main({[*argv, record['record_hash']]!r}) == 0\n"
        "assert 'every check passed' in out.getvalue(), out.getvalue()"
    )
    loaded = modules_loaded_by(code, cwd=tmp_path)
    assert "numpy" in loaded  # it did check the record
    assert loaded & HEAVY == set()


def private_names_borrowed(path: Path) -> list[str]:
    """The names with a leading underscore that ``path`` imports from another
    module of ours: what one module shares with another is public, so that a
    reader sees what a module offers from its names alone."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        f"{path.name}:{node.lineno} takes {alias.name} from {'.' * node.level}{node.module}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and node.module
        and (node.level > 0 or node.module.split(".")[0] in LAYERS)
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]


def test_no_module_borrows_another_modules_private_name() -> None:
    borrowed = [
        f"{path.relative_to(ROOT).parent}/{found}"
        for layer in LAYERS
        for path in sorted((ROOT / layer).rglob("*.py"))
        if "migrations" not in path.parts
        for found in private_names_borrowed(path)
    ]
    assert borrowed == []


def test_the_borrowing_checker_sees_a_private_name_taken(tmp_path: Path) -> None:
    sample = tmp_path / "borrower.py"
    sample.write_text(
        "from bot.draws.record_handlers import record, _may_draw\n"
        "from os.path import _get_sep\n"
        "def later():\n    from .handlers import _own_branch\n"
    )
    found = private_names_borrowed(sample)
    assert [f.split(" takes ")[1] for f in found] == [
        "_may_draw from bot.draws.record_handlers",
        "_own_branch from .handlers",
    ]


# A handler parses, calls the queries and rules, and renders: its SQL is in the
# package's queries.py (issue 15).
SQL_BUILDERS = {"select", "update", "delete", "insert"}
SESSION_SQL = {"execute", "scalar", "scalars", "delete"}


def _sql_method(func: ast.Attribute) -> bool:
    """``sqlalchemy.select(...)``, or ``session.execute(...)`` (``ctx.session`` too)."""
    owner = func.value
    name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
    if name in {"sqlalchemy", "sa"}:
        return func.attr in SQL_BUILDERS
    return name == "session" and func.attr in SESSION_SQL


def sql_in_handler(path: Path) -> list[str]:
    """Where ``path`` (a handlers module) writes SQL itself: a statement built with
    select, update, delete or insert (or those imported from SQLAlchemy), or one
    run or a row deleted through the session."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlalchemy":
            found += [
                f"line {node.lineno}: imports {alias.name}"
                for alias in node.names
                if alias.name in SQL_BUILDERS
            ]
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in SQL_BUILDERS:
                found.append(f"line {node.lineno}: {func.id}(")
            elif isinstance(func, ast.Attribute) and _sql_method(func):
                found.append(f"line {node.lineno}: {ast.unparse(func)}(")
    return sorted(found, key=lambda leak: int(leak.split(":")[0].removeprefix("line ")))


def test_handlers_leave_their_sql_to_the_queries() -> None:
    found = {path: sql_in_handler(path) for path in sorted(BOT.glob("*/*handlers*.py"))}
    assert BOT / "draws" / "profile_handlers.py" in found
    leaks = [f"{path.relative_to(ROOT)} {leak}" for path, leaks in found.items() for leak in leaks]
    assert leaks == []


def test_the_handler_sql_checker_sees_a_statement(tmp_path: Path) -> None:
    sample = tmp_path / "handlers.py"
    sample.write_text(
        "from sqlalchemy import func, select\n"
        "from sqlalchemy.sql import expression as ex\n"
        "import sqlalchemy\n"
        "async def show(ctx, thing, names):\n"
        "    rows = await ctx.session.scalars(select(thing))\n"
        "    await ctx.session.delete(thing)\n"
        "    await session.execute(sqlalchemy.insert(thing))\n"
        "    names.update({'a': 1})\n"
        "    await ctx.session.get(thing, 1)\n"
        "    return await queries.delete_thing(ctx.session, thing)\n"
    )
    assert sql_in_handler(sample) == [
        "line 1: imports select",
        "line 5: ctx.session.scalars(",
        "line 5: select(",
        "line 6: ctx.session.delete(",
        "line 7: session.execute(",
        "line 7: sqlalchemy.insert(",
    ]
    sample.write_text(
        "from bot.draws import queries\n"
        "async def show(ctx, thing):\n"
        "    return await queries.delete_thing(ctx.session, thing)\n"
    )
    assert sql_in_handler(sample) == []
