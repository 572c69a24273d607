"""/start, /help, consent, and /claim for people imported from a membership list."""

from __future__ import annotations

from bot.assemblies.registration_handlers import begin as register_resident
from bot.assemblies.rules import PAYLOAD_PREFIX as ASSEMBLY_PAYLOAD
from bot.branches.founding import is_admin_code, make_national_admin, take_admin_code
from bot.branches.rules import clean_place
from bot.kernel.actions import Action
from bot.kernel.context import Context, Listed, Refusal, parse_id
from bot.kernel.effects import audit
from bot.kernel.i18n import N_
from bot.kernel.links import BRANCH_ID_PREFIX, BRANCH_PREFIX, PARTY_PAYLOAD
from bot.kernel.messages import Reply
from bot.kernel.people import create_person
from bot.kernel.permissions import holds_anywhere
from bot.kernel.registry import GROUP, PRIVATE, Param, action, command
from bot.linking.queries import recent_failures
from bot.linking.rules import FAILURES_ALLOWED
from bot.membership.handlers import ask_where, join_flow
from bot.membership.queries import drop_person, hand_over, person_with_claim_code
from bot.privacy.consent import ask_consent
from storage.models import Branch, LinkFailure, Person
from storage.vocabulary import ADMIN, SCOPE_NATIONAL


@command("start", N_("welcome, privacy notice and consent"), params=())
async def start(ctx: Context) -> Reply:
    """``/start`` (a deep link's payload after it: ``join``, the party's sign-up
    link; ``join-<branch slug>`` or ``join_<branch id>``, one branch's;
    ``asm-<code>``, a citizens' assembly's registration)."""
    payload = ctx.request.args.strip()
    if payload.lower().startswith(ASSEMBLY_PAYLOAD):
        # A citizens' assembly's link: residents register without becoming members.
        return await register_resident(ctx, payload)
    whole_party = payload == PARTY_PAYLOAD
    place = await _linked_place(ctx, payload)  # a broken link is just a welcome
    if ctx.person is not None:
        if whole_party:
            return await ask_where(ctx)
        if place:
            return await join_flow(ctx, place)
        return Reply(
            ctx.t(
                "Welcome back, {name}! Send /help to see what you can do.",
                name=ctx.person.display_name,
            )
        )
    return await ask_consent(ctx, place, ask_where=whole_party)


async def _linked_place(ctx: Context, payload: str) -> str:
    """The place (a branch's name or slug) a one-branch deep link names, or ""."""
    if payload.startswith(BRANCH_ID_PREFIX):
        branch_id = parse_id(payload[len(BRANCH_ID_PREFIX) :])
        branch = await ctx.session.get(Branch, branch_id) if branch_id is not None else None
        return branch.name if branch is not None else ""
    link = payload[len(BRANCH_PREFIX) :] if payload.startswith(BRANCH_PREFIX) else ""
    return clean_place(link.replace("-", " ")) or ""


@action(Action.CONSENT)
async def consent(ctx: Context, target: str) -> list[Reply]:
    prompt = await ctx.take_prompt(target, "consent")
    if ctx.person is not None:
        return [Reply(ctx.t("You have already agreed; thank you."), edit=True)]
    ctx.person = await create_person(
        ctx.session,
        ctx.request,
        now=ctx.now,
        rng=ctx.rng,
        notice_version=ctx.settings.notice_version,
    )
    replies = [
        Reply(
            ctx.t(
                "Thank you, {name}: your agreement is recorded.",
                name=ctx.person.display_name,
            ),
            edit=True,
        )
    ]
    place = str(prompt.payload.get("join") or "")
    if prompt.payload.get("where"):
        replies.append(await ask_where(ctx))
    elif place:
        # The consent stands even if the place turns out to be no place.
        try:
            async with ctx.session.begin_nested():
                replies.append(await join_flow(ctx, place))
        except Refusal as refusal:
            replies.extend(refusal.replies)
    else:
        replies.append(
            Reply(ctx.t("Next, find your local branch: send /join and your town or postcode."))
        )
    return replies


HELP_ORDER = ("start", "help", "join", "me", "leave", "claim", "link", "unlink", "mydata", "forget")


def _help_position(spec: Listed) -> tuple[int, str]:
    order = HELP_ORDER.index(spec.name) if spec.name in HELP_ORDER else len(HELP_ORDER)
    return order, spec.name


@command("help", N_("the commands you can use"), public=True, params=(), chats=(PRIVATE, GROUP))
async def help_(ctx: Context) -> Reply:
    # In a group the list is everyone's: a person's own list would tell the
    # group which roles they hold.
    in_group = ctx.request.chat.kind == "group"
    grants = [] if in_group else await ctx.grants()
    lines = [ctx.t("Here is what you can do:")]
    for spec in sorted(ctx.commands.values(), key=_help_position):
        if spec.roles and not any(holds_anywhere(grants, r) for r in spec.roles):
            continue
        # The hints are in the catalogue too (N_ where declared): "<town or postcode>"
        # reads in the person's language; the words to type stay as they are.
        usage = f" {ctx.t(spec.usage)}" if spec.usage else ""
        lines.append(f"/{spec.name}{usage} — {ctx.t(spec.summary)}")
        for extra, summary, roles in spec.staff:
            if any(holds_anywhere(grants, r) for r in roles):
                lines.append(f"/{spec.name} {ctx.t(extra)} — {ctx.t(summary)}")
    if in_group:
        lines.append(ctx.t("Organisers, treasurers and admins: send /help privately for yours."))
    return Reply("\n".join(lines))


@command(
    "claim",
    N_("claim the membership record your branch imported for you"),
    usage=N_("<code>"),
    params=(Param.text("code", N_("the code your organiser gave you"), required=True),),
)
async def claim(ctx: Context) -> Reply:
    person = ctx.require_person()
    code = ctx.request.args.strip().upper()
    if not code:
        raise ctx.refuse(ctx.t("Send /claim followed by the code your organiser gave you."))
    # Codes are guessed no faster than /link codes: a few wrong ones an hour.
    owner = f"claim:{ctx.request.sender.key}"
    if await recent_failures(ctx.session, owner, ctx.now) >= FAILURES_ALLOWED:
        raise ctx.refuse(
            ctx.t("Too many wrong codes from this account. Please wait an hour and try again."),
            audit="claim",
        )
    if is_admin_code(code):
        return await _claim_admin(ctx, person, code, owner)
    record = await person_with_claim_code(ctx.session, code)
    if record is None or record.id == person.id:
        return _wrong_code(ctx, owner)
    roles = await ctx.grants()
    if person.branch_id is not None or person.dues_paid_until is not None or roles:
        raise ctx.refuse(
            ctx.t(
                "You already have a membership record here, so I cannot attach another one. "
                "Please ask your organiser to merge them (/merge, with your short id from /me)."
            )
        )
    # Move this chat's identities and consent onto the imported record, then drop
    # the empty record created at consent.
    await hand_over(ctx.session, person, record)
    record.claim_code = None
    record.consented_at = person.consented_at
    record.locale = person.locale
    await drop_person(ctx.session, person)
    ctx.person = record
    audit(ctx, "person.claimed", subject=record)
    return Reply(
        ctx.t(
            "Welcome, {name}: this chat is now linked to your membership record. "
            "Send /me to see it.",
            name=record.display_name,
        )
    )


def _wrong_code(ctx: Context, owner: str) -> Reply:
    """Refuse a wrong code, keeping the failure (it limits guessing) and its audit."""
    ctx.session.add(LinkFailure(owner_key=owner, at=ctx.now))
    audit(ctx, "refused", what="claim")  # the shape the core gives any refusal
    return Reply(
        ctx.t("That code does not match any record. Check it with your organiser."), error=True
    )


async def _claim_admin(ctx: Context, person: Person, code: str, owner: str) -> Reply:
    if await take_admin_code(ctx.session, code, ctx.now) is None:
        return _wrong_code(ctx, owner)
    if not await make_national_admin(ctx.session, person, ctx.now):
        return Reply(ctx.t("You are already a national admin; the code is now spent."))
    ctx.forget_grants()
    audit(ctx, "role.granted", subject=person, role=ADMIN, scope=SCOPE_NATIONAL, by="admin code")
    return Reply(
        ctx.t(
            "You are now a national admin of {party}. Next: create the regions with "
            "/region add <name>, and say which places each covers with /region areas. "
            "Send /help to see everything you can do.",
            party=ctx.settings.party_name,
        )
    )
