"""The catalogues' check (CI): every sentence of ``bot/locale/messages.pot`` has a
translation in each shipped language (none empty, none fuzzy), with the same
{placeholders} as the English, every plural form the language has, and each
``.po`` file compiles. Translators run it as ``python3 tasks.py i18n check``.

It passes whatever catalogues exist (none is fine: the bot then speaks English),
and each kind of mistake is shown failing it on a catalogue written to fail.
"""

from __future__ import annotations

import ast
import gettext
import io
from dataclasses import replace
from pathlib import Path
from string import Formatter

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.app import build_handlers
from bot.kernel.context import Context
from bot.kernel.i18n import DOMAIN, LOCALE_DIR
from bot.kernel.registry import CommandSpec, Handlers

TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"


def placeholders(text: str) -> set[str] | None:
    """The names a sentence formats ({name}, {n:>3} -> name, n); None if it is no
    valid format string."""
    try:
        return {
            field.split(".")[0].split("[")[0]
            for _, field, _, _ in Formatter().parse(text)
            if field is not None
        }
    except ValueError:
        return None


def _forms(text: str | tuple[str, ...]) -> tuple[str, ...]:
    return text if isinstance(text, tuple) else (text,)


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh, locale=locale, abort_invalid=True)


def problems(template: Path, po: Path) -> list[str]:
    """What is wrong with the catalogue ``po`` against ``template``, one line each
    (``file:line: msgid: what``); empty when it is complete and compiles."""
    lang = po.parent.parent.name
    try:
        catalog = _read(po, lang)
    except Exception as exc:  # a broken file: nothing else can be checked
        return [f"{po}: does not read as a .po file: {exc}"]
    out: list[str] = []
    for entry in _read(template):
        if not entry.id:
            continue
        key = entry.id if isinstance(entry.id, str) else entry.id[0]
        where = f"{po}:{msg.lineno if (msg := catalog.get(entry.id)) else '?'}: {key[:60]!r}"
        if msg is None or not msg.string or (isinstance(msg.string, tuple) and not any(msg.string)):
            out.append(f"{where}: not translated")
            continue
        if msg.fuzzy:
            out.append(f"{where}: marked fuzzy (check it, then remove the flag)")
        # Every placeholder of the English must be in the translation, and no other;
        # a plural form may leave out its number ({n}: "Dim lle ar ôl", no place left).
        english_forms = [placeholders(text) or set() for text in _forms(entry.id)]
        needed, allowed = set.intersection(*english_forms), set.union(*english_forms)
        if isinstance(entry.id, tuple):
            needed.discard("n")
        forms = _forms(msg.string)
        if isinstance(entry.id, tuple) and (len(forms) != catalog.num_plurals or not all(forms)):
            out.append(
                f"{where}: has {sum(1 for f in forms if f)} of the "
                f"{catalog.num_plurals} plural forms {lang} has"
            )
        for i, form in enumerate(forms):
            if not form:
                continue
            found = placeholders(form)
            if found is None:
                out.append(f"{where}: form {i} has a stray {{ or }}: write {{{{ or }}}}")
            elif not needed <= found <= allowed:
                out.append(
                    f"{where}: placeholders {sorted(found)} where the English has {sorted(allowed)}"
                )
    try:  # compiled and loaded as the bot loads it (bot.kernel.i18n)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        gettext.GNUTranslations(buffer)
    except Exception as exc:
        out.append(f"{po}: does not compile: {exc}")
    return out


def shipped_catalogues(directory: Path = LOCALE_DIR) -> list[Path]:
    return sorted(directory.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


def test_every_shipped_catalogue_is_complete_and_compiles() -> None:
    found = [line for po in shipped_catalogues() for line in problems(TEMPLATE, po)]
    assert not found, "\n".join([f"{len(found)} problems:", *found[:60]])


POT = """\
msgid "Hello, {name}."
msgstr ""

msgid "Good morning."
msgstr ""

msgid "Bye."
msgstr ""

msgid "{n} place left"
msgid_plural "{n} places left"
msgstr[0] ""
msgstr[1] ""

msgid "It is {when}."
msgstr ""

msgid "The first person in {branch}."
msgid_plural "{n} people in {branch}."
msgstr[0] ""
msgstr[1] ""
"""

WELSH_HEADER = """\
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"
"Plural-Forms: nplurals=6; plural=(n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : n==3 ? 3 : n==6 ? 4 : 5);\\n"

"""

GOOD = """\
msgid "Hello, {name}."
msgstr "Helo, {name}."

msgid "Good morning."
msgstr "Bore da."

msgid "Bye."
msgstr "Hwyl."

msgid "{n} place left"
msgid_plural "{n} places left"
msgstr[0] "Dim lle ar ôl"
msgstr[1] "{n} lle ar ôl"
msgstr[2] "{n} le ar ôl"
msgstr[3] "{n} lle ar ôl"
msgstr[4] "{n} lle ar ôl"
msgstr[5] "{n} o leoedd ar ôl"

msgid "It is {when}."
msgstr "Mae'n {when}."

msgid "The first person in {branch}."
msgid_plural "{n} people in {branch}."
msgstr[0] "{n} o bobl yn {branch}."
msgstr[1] "Y person cyntaf yn {branch}."
msgstr[2] "{n} berson yn {branch}."
msgstr[3] "{n} pherson yn {branch}."
msgstr[4] "{n} pherson yn {branch}."
msgstr[5] "{n} o bobl yn {branch}."
"""


def write(tmp_path: Path, po_text: str) -> tuple[Path, Path]:
    template = tmp_path / "messages.pot"
    template.write_text(POT, encoding="utf-8")
    po = tmp_path / "cy" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    po.write_text(WELSH_HEADER + po_text, encoding="utf-8")
    return template, po


def test_a_complete_catalogue_passes(tmp_path: Path) -> None:
    """Its zero form says no number, and its "first person" form no {n}: a plural
    form may leave out its number, no other placeholder."""
    assert problems(*write(tmp_path, GOOD)) == []
    assert shipped_catalogues(tmp_path) == [tmp_path / "cy" / "LC_MESSAGES" / "messages.po"]


@pytest.mark.parametrize(
    ("broken", "reported"),
    [
        (GOOD.replace('msgstr "Hwyl."', 'msgstr ""'), "'Bye.': not translated"),
        (GOOD.replace('msgid "Bye."\nmsgstr "Hwyl."\n', ""), "'Bye.': not translated"),
        (
            GOOD.replace('msgid "Good morning."', '#, fuzzy\nmsgid "Good morning."'),
            "'Good morning.': marked fuzzy",
        ),
        (
            GOOD.replace('"Helo, {name}."', '"Helo, {enw}."'),
            "'Hello, {name}.': placeholders ['enw'] where the English has ['name']",
        ),
        (
            GOOD.replace('"Helo, {name}."', '"Helo."'),
            "'Hello, {name}.': placeholders [] where the English has ['name']",
        ),
        (GOOD.replace("Mae'n {when}.", "Mae'n {when."), "'It is {when}.': form 0 has a stray"),
        (
            GOOD.replace('msgstr[5] "{n} o leoedd ar ôl"\n', ""),
            "'{n} place left': has 5 of the 6 plural forms cy has",
        ),
        (
            GOOD.replace('msgstr[3] "{n} lle ar ôl"', 'msgstr[3] ""'),
            "'{n} place left': has 5 of the 6 plural forms cy has",
        ),
        (
            GOOD.replace('"Y person cyntaf yn {branch}."', '"Y person cyntaf."'),
            "'The first person in {branch}.': placeholders [] where the English has",
        ),
        (GOOD.replace('msgid "Bye."', 'msgid "Bye."\nBye!'), "does not read as a .po file"),
    ],
)
def test_each_kind_of_mistake_fails_the_check(tmp_path: Path, broken: str, reported: str) -> None:
    found = problems(*write(tmp_path, broken))
    assert any(reported in line for line in found), found


def test_a_catalogue_that_does_not_compile_fails_the_check(tmp_path: Path) -> None:
    # Babel reads an entry with fewer plural forms than the header says, but its
    # plural expression must compile: a header that is no expression cannot.
    template, po = write(tmp_path, GOOD)
    po.write_text(WELSH_HEADER.replace("plural=(n==0", "plural=(n=0") + GOOD, encoding="utf-8")
    assert any(
        "does not compile: invalid token in plural form" in x for x in problems(template, po)
    )


def sentences_inside_fstrings(root: Path) -> list[str]:
    """Each ``t("...")`` written inside an f-string under ``root``'s bot/,
    adapters/ and runtime/: the extractor (Python 3.11's tokenizer) cannot see
    into an f-string, so such a sentence never reaches the catalogue and stays
    English for every reader."""
    found = []
    for path in sorted(p for d in ("bot", "adapters", "runtime") for p in (root / d).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.JoinedStr):
                continue
            for call in ast.walk(node):
                if not isinstance(call, ast.Call) or not call.args:
                    continue
                name = getattr(call.func, "attr", getattr(call.func, "id", None))
                if name in {"t", "plural"} and isinstance(call.args[0], ast.Constant):
                    found.append(f"{path.relative_to(root)}:{call.lineno}: {call.args[0].value!r}")
    return found


def test_no_sentence_is_hidden_from_the_extractor_inside_an_fstring(tmp_path: Path) -> None:
    root = LOCALE_DIR.parent.parent
    assert sentences_inside_fstrings(root) == []
    (tmp_path / "bot").mkdir()
    (tmp_path / "bot" / "page.py").write_text(
        "def head(t):\n    return f\"<h1>{t('Hello')}</h1>\"\n"
    )
    assert sentences_inside_fstrings(tmp_path) == ["bot/page.py:2: 'Hello'"]


def words_not_in_the_catalogue(handlers: Handlers, template: Path = TEMPLATE) -> list[str]:
    """Each command's /help line (summary and hint, the staff lines' too) and each
    parameter's description that the catalogue lacks: one declared without ``N_``,
    which every reader would read in English."""
    known = {m.id if isinstance(m.id, str) else m.id[0] for m in _read(template) if m.id}
    found = []
    for spec in handlers.commands.values():
        words = [spec.summary, spec.usage, *(p.description for p in spec.params)]
        words += [text for usage, summary, _ in spec.staff for text in (usage, summary)]
        found += [f"/{spec.name}: {w!r}" for w in words if w and w not in known]
    return found


def test_every_commands_help_line_and_parameter_is_in_the_catalogue() -> None:
    assert words_not_in_the_catalogue(build_handlers()) == []
    spec = CommandSpec("hush", "be quiet", "<a hint nobody marked>", (), hush, False)
    forgotten = replace(Handlers.collect([]), commands={"hush": spec})
    assert words_not_in_the_catalogue(forgotten) == [
        "/hush: 'be quiet'",
        "/hush: '<a hint nobody marked>'",
    ]


async def hush(ctx: Context, args: str) -> None:
    """A command declared without ``N_``: the check above must name its words."""


def _constant(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def sentences_the_extractor_misses(root: Path, template: Path = TEMPLATE) -> list[str]:
    """Each sentence written in a call to the translator (``t(...)``, ``ctx.t(...)``,
    ``translator(locale)(...)``, ``t.plural(...)``) under ``root``'s bot/, adapters/
    and runtime/ that the catalogue lacks, or whose plural it lacks: the extractor
    did not read the call whole (a nested call in a plural's arguments, a
    translator called by another name), so every reader reads it in English."""
    entries = {
        m.id if isinstance(m.id, str) else m.id[0]: m.pluralizable for m in _read(template) if m.id
    }
    found = []
    for path in sorted(p for d in ("bot", "adapters", "runtime") for p in (root / d).rglob("*.py")):
        for call in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(call, ast.Call) or not call.args:
                continue
            func = call.func
            name = getattr(func, "attr", getattr(func, "id", None))
            translating = name == "t" or (
                isinstance(func, ast.Call) and getattr(func.func, "id", None) == "translator"
            )
            plural = name == "plural" and len(call.args) >= 2
            text = _constant(call.args[0])
            if text is None or not (translating or plural):
                continue
            where = f"{path.relative_to(root)}:{call.lineno}: {text[:50]!r}"
            if text not in entries:
                found.append(where)
            elif plural and not entries[text]:
                found.append(where + " (its plural)")
    return found


def test_every_sentence_the_code_translates_reaches_the_catalogue(tmp_path: Path) -> None:
    assert sentences_the_extractor_misses(LOCALE_DIR.parent.parent) == []
    (tmp_path / "bot").mkdir()
    (tmp_path / "bot" / "chart.py").write_text(
        "def legend(locale, t, n, f):\n"
        "    return translator(locale)('axis of nothing'), t.plural('{n} day', '{n} days', n, x=f(t))\n"
    )
    assert sentences_the_extractor_misses(tmp_path) == [
        "bot/chart.py:2: 'axis of nothing'",
        "bot/chart.py:2: '{n} day'",
    ]
