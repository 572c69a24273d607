"""/link and /unlink: one person, one record, on every platform they use."""

from __future__ import annotations

from sqlalchemy import delete, select

from bot.branches import audit
from bot.context import Context
from bot.i18n import N_
from bot.linking import (
    CODE_LIFETIME,
    CODES_ALLOWED,
    FAILURES_ALLOWED,
    codes_issued,
    issue_code,
    merge_people,
    normalise_code,
    older_membership,
    platforms_of,
    recent_failures,
    secret_votes_in_common,
    take_code,
)
from bot.messages import Button, Reply
from bot.registry import action, command
from storage.models import Branch, Identity, LinkCode, LinkFailure, Person

PLATFORM_NAMES = {"telegram": "Telegram", "discord": "Discord", "console": "console"}


def platform_name(platform: str) -> str:
    return PLATFORM_NAMES.get(platform, platform)


@command(
    "link",
    N_("use your accounts on Telegram and Discord as one"),
    usage="[code]",
    private=True,
)
async def link(ctx: Context) -> Reply:
    text = ctx.request.args.strip()
    if not text:
        return await _give_code(ctx)
    return await _enter_code(ctx, text)


async def _give_code(ctx: Context) -> Reply:
    person = ctx.require_person()
    if await codes_issued(ctx.session, person, ctx.now) >= CODES_ALLOWED:
        raise ctx.refuse(
            ctx.t(
                "You have asked for {n} link codes in the last hour, the most allowed. "
                "Please wait a while, then ask again.",
                n=CODES_ALLOWED,
            ),
            audit="link.issue",
        )
    code = await issue_code(ctx.session, person, ctx.request.sender.platform, ctx.now)
    return Reply(
        ctx.t(
            "Your link code is {code}. Within {minutes} minutes, send /link {code} from "
            "your account on the other platform, and both accounts will be one record.\n"
            "Keep it to yourself: whoever enters it gets your membership.",
            code=code,
            minutes=int(CODE_LIFETIME.total_seconds() // 60),
        )
    )


async def _enter_code(ctx: Context, text: str) -> Reply:
    sender = ctx.request.sender
    if await recent_failures(ctx.session, sender.key, ctx.now) >= FAILURES_ALLOWED:
        raise ctx.refuse(
            ctx.t(
                "Too many wrong codes from this account. Please wait an hour, then ask for "
                "a new code with /link on your other account."
            ),
            audit="link",
        )
    raw = normalise_code(text)
    row = None
    if raw is not None:
        row = await take_code(ctx.session, raw, ctx.now)
    if row is None:
        # Kept (not rolled back): this is what limits guessing.
        ctx.session.add(LinkFailure(owner_key=sender.key, at=ctx.now))
        return Reply(
            ctx.t(
                "That code is wrong, used or expired. Send /link on your other account "
                "for a new one."
            ),
            error=True,
        )
    target = await ctx.session.get(Person, row.person_id)
    if target is None:
        raise ctx.stale()
    here = platform_name(sender.platform)
    if row.platform == sender.platform:
        raise ctx.refuse(
            ctx.t("Enter this code on your other platform, not on {platform}.", platform=here)
        )
    me = ctx.person
    if me is not None and me.id == target.id:
        return Reply(ctx.t("These accounts are already linked."))
    theirs = await platforms_of(ctx.session, target.id)
    mine = await platforms_of(ctx.session, me.id) if me is not None else {sender.platform}
    clash = sorted(theirs & mine)
    if clash:
        raise ctx.refuse(
            ctx.t(
                "That record already has a {platform} account. Unlink it first with "
                "/unlink, then link this one.",
                platform=platform_name(clash[0]),
            )
        )
    if me is None:
        ctx.session.add(
            Identity(
                person_id=target.id,
                platform=sender.platform,
                user_id=sender.user_id,
                chat_id=(
                    ctx.request.chat.chat_id
                    if ctx.request.chat.kind == "private"
                    else sender.user_id
                ),
                handle=sender.handle,
                unreachable=False,
                last_seen_at=ctx.now,
            )
        )
        keep, note = target, ""
    else:
        both = await secret_votes_in_common(ctx.session, target, me)
        if both:
            raise ctx.refuse(
                ctx.t(
                    "Both accounts have voted in the secret ballot “{question}”. Secret "
                    "votes cannot be told apart, so link them after it closes.",
                    question=both[0][:80],
                )
            )
        keep, drop = older_membership(target, me)
        note = await _membership_note(ctx, keep, drop)
        await merge_people(ctx.session, keep, drop)
    ctx.person = keep
    ctx.forget_grants()
    audit(ctx, "person.linked", subject=keep, platform=sender.platform)
    text = ctx.t(
        "Linked: this {platform} account now belongs to your record ({name}, {short_id}). "
        "Your membership, votes and sign-ups count once, whichever account you use. "
        "/unlink undoes it.",
        platform=here,
        name=keep.display_name,
        short_id=keep.short_id,
    )
    return Reply(f"{text}\n{note}" if note else text)


async def _membership_note(ctx: Context, keep: Person, drop: Person) -> str:
    """What happens to a second branch membership (the older one is kept)."""
    if drop.branch_id is None or drop.branch_id == keep.branch_id:
        return ""
    kept = await ctx.session.get(Branch, keep.branch_id) if keep.branch_id else None
    lost = await ctx.session.get(Branch, drop.branch_id)
    if kept is None or lost is None:
        return ""
    return ctx.t(
        "You were in two branches; you stay in {kept}, your older membership. To move "
        "to {other}, send /join {other}.",
        kept=kept.name,
        other=lost.name,
    )


@command("unlink", N_("separate an account you linked with /link"), private=True)
async def unlink(ctx: Context) -> Reply:
    person = ctx.require_person()
    sender = ctx.request.sender
    others = [
        i
        for i in await ctx.session.scalars(
            select(Identity).where(Identity.person_id == person.id).order_by(Identity.id)
        )
        if (i.platform, i.user_id) != (sender.platform, sender.user_id)
    ]
    if not others:
        return Reply(ctx.t("This account is not linked to any other."))
    rows = []
    for identity in others:
        prompt = await ctx.prompt("unlink", identity=identity.id)
        rows.append(
            (
                Button(
                    ctx.t("Unlink {platform}", platform=platform_name(identity.platform)),
                    "unlink",
                    str(prompt.id),
                ),
            )
        )
    return Reply(
        ctx.t(
            "Which account should stop being part of your record? It will be treated as "
            "someone new if it writes to me again."
        ),
        buttons=tuple(rows),
    )


@action("unlink")
async def unlink_one(ctx: Context, target: str) -> Reply:
    person = ctx.require_person()
    prompt = await ctx.take_prompt(target, "unlink", audit="unlink")
    identity_id = prompt.payload.get("identity")
    identity = (
        await ctx.session.get(Identity, identity_id) if isinstance(identity_id, int) else None
    )
    if identity is None or identity.person_id != person.id:
        raise ctx.stale()
    await ctx.session.delete(identity)
    await ctx.session.execute(delete(LinkCode).where(LinkCode.person_id == person.id))
    audit(ctx, "person.unlinked", subject=person, platform=identity.platform)
    return Reply(
        ctx.t(
            "Done: your {platform} account is no longer part of your record. To link it "
            "again, send /link.",
            platform=platform_name(identity.platform),
        ),
        edit=True,
    )
