"""A resident's registration: /register CODE (a Telegram deep link's /start
asm-CODE, the QR code on a letter), their postcode and house checked against
the area, consent to this assembly's notice, the questions as buttons, and
seeing, changing or withdrawing it. Residents need be neither members nor
supporters; registering makes them neither (no Person is made)."""

from __future__ import annotations

import datetime as dt

from bot.assemblies import queries
from bot.assemblies.registration import address_key, register, withdraw
from bot.assemblies.rules import (
    answers_complete,
    categories_of,
    clean_postcode,
    code_in,
    next_question,
    registration_open,
)
from bot.assemblies.texts import (
    ask_address,
    consent_text,
    question,
    registered_text,
    registration_buttons,
    registration_text,
)
from bot.branches.rules import Area
from bot.kernel.actions import Action
from bot.kernel.context import Context, parse_id
from bot.kernel.i18n import N_
from bot.kernel.messages import Button, Reply
from bot.kernel.registry import Param, action, answer, command
from bot.polls.ballot_box import BallotKeyMissing
from storage.models import Assembly, AssemblyRegistrant

ADDRESS = "assembly-address"  # the typed answer: postcode and house
HOUSE_LIMIT = 60


def _private(ctx: Context) -> None:
    if ctx.request.chat.kind != "private":
        raise ctx.refuse(ctx.t("Please register in a private chat with me: send /register there."))


async def _open_assembly(ctx: Context, code: str) -> Assembly:
    assembly = await queries.by_code(ctx.session, code) if code else None
    if assembly is None:
        raise ctx.refuse(
            ctx.t(
                "There is no assembly with the code “{code}”: check the letter or link.",
                code=code[:12],
            )
            if code
            else ctx.t(
                "Send /register followed by the code on your letter, e.g. /register K7PQ2XMA"
            )
        )
    return assembly


def split_address(text: str) -> tuple[str | None, str]:
    """The postcode (its one or two words first) and the house number or name after it."""
    words = text.split()
    if (
        len(words) >= 2
        and clean_postcode(" ".join(words[:2]))
        and any(c.isdigit() for c in words[1])
    ):
        postcode, house = " ".join(words[:2]), words[2:]
    elif words:
        postcode, house = words[0], words[1:]
    else:
        return None, ""
    cleaned = clean_postcode(postcode)
    if cleaned and " " not in cleaned and len(cleaned) >= 5:
        cleaned = f"{cleaned[:-3]} {cleaned[-3:]}"  # BA111AB -> BA11 1AB
    return cleaned, " ".join(house)


async def begin(ctx: Context, text: str) -> Reply:
    """``/register CODE [POSTCODE HOUSE]`` (and the deep link's /start asm-CODE)."""
    _private(ctx)
    code = code_in(text)
    assembly = await _open_assembly(ctx, code)
    mine = await queries.registrant(
        ctx.session, assembly.id, ctx.request.sender.platform, ctx.request.sender.user_id
    )
    if mine is not None:
        return await _show(ctx, assembly, mine)
    if not await _may_change(ctx, assembly):
        raise ctx.refuse(ctx.t("Registration for {title} has closed.", title=assembly.title))
    rest = text.strip()[len(text.strip().split(" ")[0]) :].strip()
    if not rest:
        await ctx.prompt(ADDRESS, lifetime=dt.timedelta(hours=1), assembly=assembly.id)
        return Reply(ask_address(ctx.t, assembly))
    return await _address_given(ctx, assembly, rest)


async def _address_given(ctx: Context, assembly: Assembly, text: str) -> Reply:
    postcode, house = split_address(text)
    if postcode is None or not house or len(house) > HOUSE_LIMIT:
        raise ctx.refuse(
            ctx.t(
                "Send your postcode and then your house number or name, for example: "
                "/register {code} BA11 1AB 12. Nothing was kept.",
                code=assembly.code,
            )
        )
    if not Area.parse(assembly.area).covers(postcode):
        raise ctx.refuse(
            ctx.t(
                "{title} is for residents of {area}, and {postcode} is not in it. "
                "Nothing was kept.",
                title=assembly.title,
                area=assembly.area,
                postcode=postcode,
            )
        )
    try:
        household = address_key(ctx.settings, ctx.session, assembly.id, postcode, house)
    except BallotKeyMissing:
        raise ctx.refuse(
            ctx.t("Registration is not available yet: please try again later.")
        ) from None
    # Only the keyed hash waits for the consent: never the postcode or the house.
    await ctx.sweep_prompts()
    prompt = await ctx.prompt(
        "assembly-consent",
        lifetime=dt.timedelta(hours=1),
        assembly=assembly.id,
        household=household,
    )
    return Reply(
        consent_text(ctx.t, assembly, ctx.settings.party_name),
        buttons=((Button(ctx.t("I agree"), Action.ASSEMBLY_CONSENT, str(prompt.id)),),),
    )


@answer(ADDRESS)
async def address_typed(ctx: Context, text: str) -> Reply:
    prompt = await queries.latest_prompt(ctx.session, ctx.request.sender.key, ADDRESS)
    assembly_id = parse_id(str(prompt.payload.get("assembly", ""))) if prompt else None
    assembly = await ctx.session.get(Assembly, assembly_id) if assembly_id else None
    if assembly is None:
        raise ctx.stale()
    return await _address_given(ctx, assembly, text)


@command(
    "register",
    N_("register for a citizens' assembly, or see, change or withdraw your registration"),
    usage=N_("<code> [postcode house]"),
    private=True,
    params=(
        Param.text("code", N_("the code on your letter"), required=True),
        Param.text("address", N_("your postcode and house number or name")),
    ),
)
async def register_command(ctx: Context) -> Reply:
    return await begin(ctx, ctx.request.args)


@action(Action.ASSEMBLY_CONSENT)
async def consented(ctx: Context, target: str) -> list[Reply]:
    prompt = await ctx.take_prompt(target, "assembly-consent", audit="assembly.consent")
    assembly = await ctx.session.get(Assembly, int(prompt.payload.get("assembly", 0)))
    if assembly is None or not await _may_change(ctx, assembly):
        raise ctx.stale()
    sender = ctx.request.sender
    if await queries.registrant(ctx.session, assembly.id, sender.platform, sender.user_id):
        return [Reply(ctx.t("You have already agreed; thank you."), edit=True)]
    registrant = await register(
        ctx.session,
        assembly,
        ctx.request,
        str(prompt.payload["household"]),
        ctx.t.locale,
        ctx.now,
    )
    text, buttons = question(ctx.t, registrant, categories_of(assembly.categories), 0)
    return [
        Reply(ctx.t("Thank you: your agreement is recorded."), edit=True),
        Reply(text, buttons=buttons),
    ]


async def _mine(ctx: Context, target: str) -> tuple[AssemblyRegistrant, Assembly]:
    """The registration a button names, if it is the presser's own (else stale, audited)."""
    registrant_id = parse_id(target.split(".")[0])
    registrant = await ctx.session.get(AssemblyRegistrant, registrant_id) if registrant_id else None
    if registrant is None:
        raise ctx.stale()
    sender = ctx.request.sender
    if (registrant.platform, registrant.user_id) != (sender.platform, sender.user_id):
        raise ctx.stale(audit="assembly.registration")
    assembly = await ctx.session.get(Assembly, registrant.assembly_id)
    if assembly is None:
        raise ctx.stale()
    return registrant, assembly


async def _may_change(ctx: Context, assembly: Assembly) -> bool:
    """Registrations are taken, and answers may change, while registration is open
    and until the panel's draw is committed (it is drawn from them)."""
    open_ = registration_open(assembly.register_by, assembly.purged_at is not None, ctx.now)
    return open_ and await queries.live_draw(ctx.session, assembly.id) is None


@action(Action.ASSEMBLY_ANSWER)
async def answered(ctx: Context, target: str) -> Reply:
    registrant, assembly = await _mine(ctx, target)
    parts = target.split(".")
    categories = categories_of(assembly.categories)
    try:
        index, choice = int(parts[1]), int(parts[2])
        category = categories[index]
        value = category.values[choice]
    except (IndexError, ValueError):
        raise ctx.stale() from None
    if not await _may_change(ctx, assembly):
        raise ctx.refuse(
            ctx.t(
                "The panel of {title} is being drawn: answers can no longer change.",
                title=assembly.title,
            )
        )
    registrant.answers = {**registrant.answers, category.name: value}
    registrant.updated_at = ctx.now
    if index + 1 < len(categories):
        text, buttons = question(ctx.t, registrant, categories, index + 1)
        return Reply(text, buttons=buttons, edit=True)
    missing = next_question(registrant.answers, categories)
    if missing is not None:
        text, buttons = question(ctx.t, registrant, categories, missing)
        return Reply(text, buttons=buttons, edit=True)
    registrant.complete = answers_complete(registrant.answers, categories)
    return Reply(registered_text(ctx.t, assembly), edit=True)


async def _show(ctx: Context, assembly: Assembly, registrant: AssemblyRegistrant) -> Reply:
    may_change = await _may_change(ctx, assembly)
    return Reply(
        registration_text(ctx.t, assembly, registrant),
        buttons=registration_buttons(ctx.t, registrant, may_change=may_change),
    )


@action(Action.ASSEMBLY_CHANGE)
async def change(ctx: Context, target: str) -> Reply:
    registrant, assembly = await _mine(ctx, target)
    if not await _may_change(ctx, assembly):
        raise ctx.refuse(
            ctx.t(
                "The panel of {title} is being drawn: answers can no longer change.",
                title=assembly.title,
            )
        )
    registrant.complete = False
    text, buttons = question(ctx.t, registrant, categories_of(assembly.categories), 0)
    return Reply(text, buttons=buttons, edit=True)


@action(Action.ASSEMBLY_WITHDRAW)
async def withdraw_asked(ctx: Context, target: str) -> Reply:
    registrant, assembly = await _mine(ctx, target)
    return Reply(
        ctx.t(
            "Withdraw from {title}? Your registration and answers are deleted; if you were "
            "drawn, your place goes to someone else.",
            title=assembly.title,
        ),
        buttons=(
            (Button(ctx.t("Yes, withdraw"), Action.ASSEMBLY_WITHDRAW_CONFIRM, str(registrant.id)),),
        ),
        edit=True,
    )


@action(Action.ASSEMBLY_WITHDRAW_CONFIRM)
async def withdraw_confirmed(ctx: Context, target: str) -> Reply:
    registrant, assembly = await _mine(ctx, target)
    await withdraw(ctx.session, ctx.settings, registrant, ctx.now)
    return Reply(
        ctx.t(
            "Done: your registration for {title} is deleted. You can register again with "
            "/register {code} while registration is open.",
            title=assembly.title,
            code=assembly.code,
        ),
        edit=True,
    )
