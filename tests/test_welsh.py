"""Welsh has six plural forms (CLDR: zero, one, two, few, many, other: the counts
0, 1, 2, 3, 6 and the rest); these prove the plural machinery with the real
catalogue, from the compiled .po to a reply."""

from __future__ import annotations

import pytest

from bot.kernel.i18n import LOCALE_DIR, translator
from tests.helpers import Chat, text

pytestmark = pytest.mark.skipif(
    not (LOCALE_DIR / "cy" / "LC_MESSAGES" / "messages.po").is_file(),
    reason="needs the Welsh catalogue, bot/locale/cy/LC_MESSAGES/messages.po",
)

COUNTS = (0, 1, 2, 3, 6, 11)


@pytest.mark.parametrize(
    ("singular", "plural", "welsh"),
    [
        (  # the noun soft-mutates after two, takes the aspirate after three and six
            "{n} supporter",
            "{n} supporters",
            (
                "0 o gefnogwyr",
                "1 cefnogwr",
                "2 gefnogwr",
                "3 chefnogwr",
                "6 chefnogwr",
                "11 o gefnogwyr",
            ),
        ),
        (
            "{n} place left",
            "{n} places left",
            (
                "0 o leoedd ar ôl",
                "1 lle ar ôl",
                "2 le ar ôl",
                "3 lle ar ôl",
                "6 lle ar ôl",
                "11 o leoedd ar ôl",
            ),
        ),
        (
            "{n} member with current dues",
            "{n} members with current dues",
            (
                "0 o aelodau â thâl aelodaeth cyfredol",
                "1 aelod â thâl aelodaeth cyfredol",
                "2 aelod â thâl aelodaeth cyfredol",
                "3 aelod â thâl aelodaeth cyfredol",
                "6 aelod â thâl aelodaeth cyfredol",
                "11 o aelodau â thâl aelodaeth cyfredol",
            ),
        ),
    ],
)
def test_each_welsh_count_takes_its_own_form(
    singular: str, plural: str, welsh: tuple[str, ...]
) -> None:
    t = translator("cy")
    assert tuple(t.plural(singular, plural, n) for n in COUNTS) == welsh
    # The English, for the same counts, has two forms.
    english = translator("en")
    assert [english.plural(singular, plural, n) for n in (1, 2)] == [
        singular.format(n=1),
        plural.format(n=2),
    ]


async def test_a_welsh_reader_sees_the_places_left_in_the_right_form(demo: Chat) -> None:
    days = ("monday", "tuesday", "wednesday", "thursday", "friday")
    for day, capacity in zip(days, (1, 2, 3, 6, 11), strict=True):
        await demo.say("Alice", f"/canvass schedule {day} 18:00 Market Cross {capacity}")
    await demo.say("Carol", "/language cy")
    shown = text(await demo.say("Carol", "/canvass"))
    for places in ("1 lle ar ôl", "2 le ar ôl", "3 lle ar ôl", "6 lle ar ôl", "11 o leoedd ar ôl"):
        assert places in shown, shown
