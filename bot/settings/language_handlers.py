"""/language: the language a person reads the bot in.

/language            which language, why (chosen, their app's, their branch's, the
                     party's), and a button for each language the bot speaks
/language NAME       choose one (its code, its own name or its English name)
/language auto       no choice: their app's language again (then the branch's, the party's)
"""

from __future__ import annotations

from bot.kernel.actions import Action
from bot.kernel.context import Context
from bot.kernel.i18n import N_, find_language, language_name, translator
from bot.kernel.messages import Reply
from bot.kernel.people import CHOSEN, language_of
from bot.kernel.registry import Param, action, command
from bot.settings import texts
from bot.settings.rules import AUTO


@command(
    "language",
    N_("the language I write to you in"),
    usage=N_("[language|auto]"),
    params=(Param.text("language", N_("a language, or auto for your app's")),),
    longest=60,
)
async def language_command(ctx: Context) -> Reply:
    typed = " ".join(ctx.request.args.split())
    if not typed:
        return await _screen(ctx)
    return await _choose(ctx, typed, edit=False)


@action(Action.LANGUAGE)
async def language_pressed(ctx: Context, target: str) -> Reply:
    if target != AUTO and find_language(target) != target:
        raise ctx.stale()
    return await _choose(ctx, target, edit=True)


async def _screen(ctx: Context) -> Reply:
    person = ctx.require_person()
    lang, source = await language_of(ctx.session, person, ctx.settings.default_locale)
    chosen = source == CHOSEN
    return Reply(
        texts.language_screen(ctx.t, language_name(lang), source, chosen),
        buttons=texts.language_buttons(ctx.t, chosen),
    )


async def _choose(ctx: Context, typed: str, *, edit: bool) -> Reply:
    person = ctx.require_person()
    if typed.casefold() == AUTO:
        person.language = None
        lang, _ = await language_of(ctx.session, person, ctx.settings.default_locale)
        t = translator(lang)
        return Reply(texts.language_auto(t, language_name(lang)), edit=edit)
    found = find_language(typed)
    if found is None:
        raise ctx.refuse(texts.language_unknown(ctx.t, typed))
    person.language = found
    return Reply(texts.language_set(translator(found), language_name(found)), edit=edit)
