"""/assembly: an organiser opens a citizens' assembly for an area (their
branch's postcode prefixes, their region's whole area or prefixes in it, or
national staff's list of prefixes) and runs it: its categories, census targets (the quotas, coverage and
relaxation shown before anything is committed), tolerance, practical details,
retention, the registration link and QR code, the draw's preview and commit,
the seed entered by two witnesses, and the record."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

from bot.assemblies import queries
from bot.assemblies.access import (
    assembly_named,
    manages,
    opening,
    organised_branch,
    witness_problem,
)
from bot.assemblies.census import overview_text, set_targets
from bot.assemblies.drawing import cancel, commit, complete, preview
from bot.assemblies.invitations import body_of
from bot.assemblies.rules import (
    COMMITTED,
    DEFAULT_RETENTION_DAYS,
    MAX_RETENTION_DAYS,
    MAX_SEATS,
    MAX_TOLERANCE,
    PREVIEW,
    TITLE_LIMIT,
    Category,
    Problem,
    merged_categories,
    new_code,
    payload,
    read_area,
    read_categories,
    read_date,
    read_details,
    read_whole,
)
from bot.assemblies.texts import committed_text, drawn_text, preview_text
from bot.draws.access import may_draw
from bot.draws.draw_plan import read_seed_source
from bot.kernel.actions import Action
from bot.kernel.config import parse_categories
from bot.kernel.context import Context, parse_id
from bot.kernel.effects import audit
from bot.kernel.i18n import N_, format_local
from bot.kernel.links import qr_png
from bot.kernel.messages import Attachment, Button, Reply
from bot.kernel.permissions import holds_anywhere
from bot.kernel.registry import action, command
from bot.lib.sortition import seeds
from bot.lib.sortition.drawing import public_view
from bot.public.rules import assembly_draw_url
from storage.models import Assembly, AssemblyDraw
from storage.vocabulary import ORGANISER

USAGE = N_(
    "/assembly open <title> | <area> | <seats> | <first day> [to <last day>] "
    "| <registration closes YYYY-MM-DD>\n"
    "  the area: your branch's postcode prefixes (BA11, BA12); region (your region's whole "
    "area), region=NAME, region: <prefixes in it>; national: <prefixes> (national staff)\n"
    "/assembly categories <id> tenure: owner | renter | social; area: town | rural\n"
    "/assembly targets <id> then lines category,value,share (e.g. age,18-29,21%)\n"
    "/assembly tolerance <id> <seats>, /assembly details <id> place: ...; expenses: ...; "
    "childcare: ...\n"
    "/assembly retention <id> <days>, /assembly link <id>, /assembly show <id>\n"
    "/assembly draw <id> lottery:UK Lotto:<date>, /assembly seed <id> <numbers>, "
    "/assembly record <id>, /assembly cancel <id> <reason> (before the seed is due)"
)


@command(
    "assembly",
    N_("run a citizens' assembly of residents (organisers)"),
    usage=N_(
        "open|categories|targets|tolerance|details|retention|link|show|draw|seed|record|cancel ..."
    ),
    roles=("organiser", "admin"),
    private=True,
    longest=6000,
)
async def assembly_command(ctx: Context) -> Reply:
    ctx.require_person()
    word, rest = _first_word(ctx.request.args)
    word = word.lower()
    if word == "open":
        return await _open(ctx, rest)
    handler = _ON_ONE.get(word)
    if handler is None:
        mine = await manages(ctx)
        if not mine and not holds_anywhere(await ctx.grants(), ORGANISER):
            await organised_branch(ctx)  # refused to all but organisers, as before
        listing = "\n".join(f"{a.id}: {a.title} ({a.code})" for a in mine)
        return Reply((listing + "\n\n" if listing else "") + ctx.t(USAGE))
    ident, rest = _first_word(rest)
    assembly = await assembly_named(ctx, ident, witness=word == "seed")
    try:
        return await handler(ctx, assembly, rest.strip())
    except Problem as problem:
        raise ctx.refuse(problem.render(ctx.t)) from None


def _first_word(text: str) -> tuple[str, str]:
    """The first word and the rest (its lines kept: targets are typed a line each)."""
    parts = text.strip().split(maxsplit=1)
    return (parts[0], parts[1]) if len(parts) == 2 else ((parts[0], "") if parts else ("", ""))


async def _open(ctx: Context, text: str) -> Reply:
    parts = [p.strip() for p in text.split("|")]
    if len(parts) != 5:
        raise ctx.refuse(ctx.t(USAGE))
    title, area_text, seats_text, days, closes = parts
    try:
        asked = read_area(area_text)
    except Problem as problem:
        raise ctx.refuse(problem.render(ctx.t)) from None
    where = await opening(ctx, asked)
    seats = read_whole(seats_text.split(" ")[0], 2, MAX_SEATS)
    first, _, last = days.partition(" to ")
    sits_from, sits_until = read_date(first), read_date(last or first)
    closes_on = read_date(closes.split(" ")[-1])
    today = ctx.now.astimezone(ZoneInfo(where.timezone)).date()
    if not title or len(title) > TITLE_LIMIT:
        raise ctx.refuse(
            ctx.t(
                "Give the assembly a title and its area as postcode prefixes, e.g. "
                "“Frome climate assembly | BA11, BA12 | 30 | 2027-03-06 to 2027-03-07 | 2027-02-01”."
            )
        )
    if seats is None:
        raise ctx.refuse(
            ctx.t("The number of seats is a whole number from 2 to {most}.", most=MAX_SEATS)
        )
    if (
        sits_from is None
        or sits_until is None
        or closes_on is None
        or not today < closes_on < sits_from <= sits_until
    ):
        raise ctx.refuse(
            ctx.t(
                "Dates are YYYY-MM-DD: registration closes after today and before the first "
                "day, and the last day is not before the first."
            )
        )
    code = new_code(ctx.rng.choice)
    while await queries.code_taken(ctx.session, code):
        code = new_code(ctx.rng.choice)
    closes_at = dt.datetime.combine(
        closes_on + dt.timedelta(days=1), dt.time(), ZoneInfo(where.timezone)
    ).astimezone(dt.UTC)
    configured = [
        Category(name, tuple(values))
        for name, values in parse_categories(ctx.settings.sortition_categories)
    ]
    assembly = Assembly(
        code=code,
        title=title,
        scope=where.scope,
        scope_id=where.scope_id,
        area=where.area,
        seats=seats,
        sits_from=sits_from,
        sits_until=sits_until,
        register_by=closes_at,
        timezone=where.timezone,
        categories=[c.as_dict() for c in configured],
        targets={},
        tolerance=1,
        details={},
        retention_days=DEFAULT_RETENTION_DAYS,
        created_by=ctx.person.id if ctx.person else None,
        created_at=ctx.now,
    )
    ctx.session.add(assembly)
    await ctx.session.flush()
    audit(ctx, "assembly.opened", assembly=assembly.id, scope=where.scope, scope_id=where.scope_id)
    return await _show(ctx, assembly, "")


async def _categories(ctx: Context, assembly: Assembly, text: str) -> Reply:
    if await queries.registrant_count(ctx.session, assembly.id):
        raise ctx.refuse(
            ctx.t("Residents have registered already: the questions can no longer change.")
        )
    configured = [
        Category(name, tuple(values))
        for name, values in parse_categories(ctx.settings.sortition_categories)
    ]
    assembly.categories = [
        c.as_dict() for c in merged_categories(configured, read_categories(text))
    ]
    assembly.targets = {}
    return await _show(ctx, assembly, "")


async def _targets(ctx: Context, assembly: Assembly, text: str) -> Reply:
    await set_targets(ctx.session, assembly, text)
    audit(ctx, "assembly.targets", assembly=assembly.id)
    return await _show(ctx, assembly, "")


async def _tolerance(ctx: Context, assembly: Assembly, text: str) -> Reply:
    value = read_whole(text, 0, MAX_TOLERANCE)
    if value is None:
        raise ctx.refuse(
            ctx.t("The tolerance is a whole number of seats from 0 to {most}.", most=MAX_TOLERANCE)
        )
    assembly.tolerance = value
    return await _show(ctx, assembly, "")


async def _details(ctx: Context, assembly: Assembly, text: str) -> Reply:
    assembly.details = {**assembly.details, **read_details(text)}
    return await _show(ctx, assembly, "")


async def _retention(ctx: Context, assembly: Assembly, text: str) -> Reply:
    value = read_whole(text, 1, MAX_RETENTION_DAYS)
    if value is None:
        raise ctx.refuse(
            ctx.t(
                "The retention period is a whole number of days from 1 to {most}.",
                most=MAX_RETENTION_DAYS,
            )
        )
    assembly.retention_days = value
    return await _show(ctx, assembly, "")


async def _show(ctx: Context, assembly: Assembly, _: str) -> Reply:
    text = await overview_text(ctx.session, assembly, ctx.t)
    draw = await queries.latest_draw(ctx.session, assembly.id)
    return Reply("\n".join([text, *_page_line(ctx, draw)]))


def _page_line(ctx: Context, draw: AssemblyDraw | None) -> list[str]:
    """The draw's public page, where the party's pages have a public address."""
    base = ctx.settings.web_base_url
    if draw is None or not base:
        return []
    return [
        ctx.t(
            "Anyone can check the draw in a browser: {url}",
            url=assembly_draw_url(base, draw.id),
        )
    ]


async def _link(ctx: Context, assembly: Assembly, _: str) -> Reply:
    link = ctx.links.telegram(payload(assembly.code))
    lines = [
        ctx.t("Registration for {title}, code {code}:", title=assembly.title, code=assembly.code),
        ctx.t(
            "On Discord and in the console, residents send /register {code}.", code=assembly.code
        ),
    ]
    if link is None:
        lines.append(
            ctx.t("The Telegram link is not known yet (the bot learns it when it starts).")
        )
        return Reply("\n".join(lines))
    lines.insert(1, link)
    lines.append(ctx.t("The QR code below opens the Telegram link: print it on the letters."))
    return Reply(
        "\n".join(lines),
        file=Attachment(f"assembly-{assembly.code}.png", qr_png(link), "image/png"),
    )


async def _draw(ctx: Context, assembly: Assembly, text: str) -> Reply:
    if await queries.live_draw(ctx.session, assembly.id) is not None:
        raise ctx.refuse(ctx.t("{title} already has a committed draw.", title=assembly.title))
    body = body_of(assembly)
    source = read_seed_source(ctx, text, [body])
    if source.get("kind") == seeds.BEACON:
        raise ctx.refuse(
            ctx.t("An assembly's seed is a public lottery's result: e.g. lottery:UK Lotto:<date>.")
        )
    draw, relaxation = await preview(
        ctx.session, assembly, source, ctx.person.id if ctx.person else None, ctx.now
    )
    return Reply(
        preview_text(ctx.t, assembly, draw.record, relaxation),
        buttons=(
            (
                Button(ctx.t("Commit"), Action.ASSEMBLY_COMMIT, str(draw.id)),
                Button(ctx.t("Drop"), Action.ASSEMBLY_DROP, str(draw.id)),
            ),
        ),
    )


async def _previewed(ctx: Context, target: str) -> tuple[AssemblyDraw, Assembly]:
    draw_id = parse_id(target)
    draw = await ctx.session.get(AssemblyDraw, draw_id) if draw_id else None
    if draw is None or draw.status != PREVIEW:
        raise ctx.stale()
    assembly = await assembly_named(ctx, str(draw.assembly_id), stale=True)
    return draw, assembly


@action(Action.ASSEMBLY_COMMIT)
async def commit_pressed(ctx: Context, target: str) -> Reply:
    draw, assembly = await _previewed(ctx, target)
    if not await commit(ctx.session, assembly, draw, ctx.now):
        raise ctx.refuse(ctx.t("{title} already has a committed draw.", title=assembly.title))
    await ctx.session.refresh(draw)
    audit(
        ctx, "assembly.committed", assembly=assembly.id, draw=draw.id, record_hash=draw.record_hash
    )
    record = json.dumps(public_view(draw.record), indent=1, ensure_ascii=False).encode()
    return Reply(
        committed_text(ctx.t, assembly, draw.id, draw.record_hash),
        edit=True,
        file=Attachment(f"assembly-{assembly.id}-record.json", record, "application/json"),
    )


@action(Action.ASSEMBLY_DROP)
async def drop_pressed(ctx: Context, target: str) -> Reply:
    draw, _ = await _previewed(ctx, target)
    await queries.drop_draw(ctx.session, draw.id)
    return Reply(ctx.t("Dropped: nothing was committed."), edit=True)


async def _seed(ctx: Context, assembly: Assembly, text: str) -> Reply:
    """A witness enters the lottery's result (two must agree), or an organiser a trial's seed."""
    person = ctx.require_person()
    draw = await queries.live_draw(ctx.session, assembly.id)
    if draw is None or draw.status != COMMITTED:
        raise ctx.refuse(ctx.t("{title} has no draw waiting for its seed.", title=assembly.title))
    source = dict(draw.record["seed_source"])
    if ctx.now < draw.seed_due_at:
        raise ctx.refuse(
            ctx.t(
                "The seed does not exist yet: it can be entered after {when}. Nothing was recorded.",
                when=format_local(draw.seed_due_at, "datetime_zone", ctx.t, tz=assembly.timezone),
            )
        )
    if source.get("kind") != seeds.LOTTERY and not await may_draw(ctx, body_of(assembly)):
        raise ctx.refuse(ctx.t("There is no assembly {id}.", id=assembly.id), audit="assembly")
    seed = " ".join(text.split())
    if not seed or len(seed) > 500:
        raise ctx.refuse(ctx.t("Send /assembly seed {id} followed by the seed.", id=assembly.id))
    if source.get("kind") == seeds.LOTTERY:
        try:
            seed = seeds.lottery_seed(source, seed)
        except seeds.SeedProblem as exc:
            raise ctx.refuse(exc.render(ctx.t)) from None
        refused = await witness_problem(ctx, assembly, draw, person, seed)
        if refused:
            raise ctx.refuse(refused, audit="assembly.witness")
        witnesses = [w for w in draw.witnesses or [] if w["person"] != person.id]
        agree = any(w["seed"] == seed for w in witnesses)
        draw.witnesses = [*witnesses, {"person": person.id, "seed": seed}]
        if not agree:
            return Reply(
                ctx.t(
                    "Result noted for {title}, read as {seed}. A second witness must enter the "
                    "same result before the panel is drawn.",
                    title=assembly.title,
                    seed=seed,
                )
            )
    invitations = await complete(ctx.session, ctx.settings, draw, seed, ctx.now)
    if invitations is None:
        raise ctx.refuse(ctx.t("{title} has no draw waiting for its seed.", title=assembly.title))
    audit(ctx, "assembly.drawn", assembly=assembly.id, draw=draw.id, index=draw.chosen_index)
    return Reply(drawn_text(ctx.t, assembly, len(invitations), draw.status != "drawn"))


async def _cancel(ctx: Context, assembly: Assembly, text: str) -> Reply:
    """Cancel the committed draw before its seed can be known (a reason is kept)."""
    reason = " ".join(text.split())
    draw = await queries.live_draw(ctx.session, assembly.id)
    if draw is None or draw.status != COMMITTED:
        raise ctx.refuse(ctx.t("{title} has no draw waiting for its seed.", title=assembly.title))
    if not reason or len(reason) > 300:
        raise ctx.refuse(
            ctx.t("Say why, for the record: /assembly cancel {id} <reason>", id=assembly.id)
        )
    if not await cancel(ctx.session, draw, reason, ctx.now):
        raise ctx.refuse(
            ctx.t(
                "The draw for {title} can no longer be cancelled: its seed is due or being "
                "entered, and a cancel now could choose between panels.",
                title=assembly.title,
            )
        )
    audit(ctx, "assembly.cancelled", assembly=assembly.id, draw=draw.id)
    return Reply(
        ctx.t(
            "Cancelled the draw for {title}; the reason stays in its record. A new draw can "
            "be previewed.",
            title=assembly.title,
        )
    )


async def _record(ctx: Context, assembly: Assembly, _: str) -> Reply:
    """The organisers' full record (with the openings): `organiser sortition verify` checks it."""
    draw = await queries.latest_draw(ctx.session, assembly.id)
    if draw is None:
        raise ctx.refuse(ctx.t("{title} has no committed draw yet.", title=assembly.title))
    full = {**draw.record, **({"seed": draw.seed} if draw.seed else {})}
    said = ctx.t(
        "The full record of {title}'s draw (for organisers: it holds every pseudonym's "
        'answers). Check it offline with: organiser sortition verify <file> --seed "<seed>"',
        title=assembly.title,
    )
    return Reply(
        "\n".join([said, *_page_line(ctx, draw)]),
        file=Attachment(
            f"assembly-{assembly.id}-full-record.json",
            json.dumps(full, indent=1, ensure_ascii=False).encode(),
            "application/json",
        ),
    )


_ON_ONE = {
    "categories": _categories,
    "targets": _targets,
    "tolerance": _tolerance,
    "details": _details,
    "retention": _retention,
    "link": _link,
    "show": _show,
    "draw": _draw,
    "seed": _seed,
    "record": _record,
    "cancel": _cancel,
}
