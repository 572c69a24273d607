"""/link and /unlink: one person, one record, on every platform they use."""

from __future__ import annotations

import datetime as dt

from bot.kernel.actions import Action
from bot.kernel.context import Context
from bot.kernel.effects import audit
from bot.kernel.i18n import N_, format_local, translator
from bot.kernel.messages import Button, Reply
from bot.kernel.outbox import Recipient, enqueue
from bot.kernel.people import reader
from bot.kernel.registry import Param, action, command
from bot.linking.merging import merge_people
from bot.linking.queries import (
    account_on,
    codes_issued,
    drop_codes,
    identities_of,
    identity_of,
    issue_code,
    platforms_of,
    recent_failures,
    secret_votes_in_common,
    take_code,
    unlink_account,
)
from bot.linking.rules import (
    CODE_LIFETIME,
    CODES_ALLOWED,
    FAILURES_ALLOWED,
    UNLINK_WAIT,
    may_unlink,
    normalise_code,
    older_membership,
)
from bot.linking.texts import platform_name
from storage.models import Branch, Identity, LinkFailure, Person, Prompt

CONFIRM_LIFETIME = dt.timedelta(minutes=30)


@command(
    "link",
    N_("use your accounts on Telegram and Discord as one"),
    usage=N_("[code]"),
    private=True,
    params=(Param.text("code", N_("the code from your other account (empty: get a code)")),),
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
    """A code typed on the new account: checked here, then confirmed on the
    account that asked for it (``link_confirm``); nothing is linked before."""
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
    if row.platform == sender.platform:
        raise ctx.refuse(
            ctx.t(
                "Enter this code on your other platform, not on {platform}.",
                platform=platform_name(sender.platform),
            )
        )
    await _check_linkable(ctx, target, ctx.person, sender.platform)
    owner = await account_on(ctx.session, target.id, row.platform)
    if owner is None:  # the account that asked for the code was unlinked since
        raise ctx.stale()
    chat = ctx.request.chat
    prompt = Prompt(
        person_id=target.id,
        owner_key=f"{owner.platform}:{owner.user_id}",
        kind="link-confirm",
        payload={
            "platform": sender.platform,
            "user_id": sender.user_id,
            "chat_id": chat.chat_id if chat.kind == "private" else sender.user_id,
            "handle": sender.handle,
            "name": sender.display_name[:64],
        },
        created_at=ctx.now,
        expires_at=ctx.now + CONFIRM_LIFETIME,
    )
    ctx.session.add(prompt)
    await ctx.session.flush()
    t = await reader(ctx.session, target, ctx.settings.default_locale)
    await enqueue(
        ctx.session,
        key=f"link-confirm:{prompt.id}",
        text=t(
            "Someone entered your link code on {platform} (as {name}). If that was you, "
            "press Link it within {minutes} minutes, and that account becomes part of "
            "your record. If it was not you, press Not me: nothing is linked.",
            platform=platform_name(sender.platform),
            name=sender.display_name[:64],
            minutes=int(CONFIRM_LIFETIME.total_seconds() // 60),
        ),
        now=ctx.now,
        person_id=target.id,
        buttons=(
            (
                Button(t("Link it"), Action.LINK_CONFIRM, str(prompt.id)),
                Button(t("Not me"), Action.LINK_REFUSE, str(prompt.id)),
            ),
        ),
        to=_recipient(owner.platform, owner.user_id, owner.chat_id, target),
    )
    return Reply(
        ctx.t(
            "Almost done: to confirm, press Link it in the message I have sent to your "
            "{platform} account (the one that asked for the code), within {minutes} minutes.",
            platform=platform_name(owner.platform),
            minutes=int(CONFIRM_LIFETIME.total_seconds() // 60),
        )
    )


def _recipient(platform: str, user_id: str, chat_id: str, person: Person) -> Recipient:
    return Recipient(person.id, person.display_name, platform, user_id, chat_id)


async def _tell_other_accounts(
    ctx: Context, person: Person, accounts: list[Identity], key: str, text: str
) -> None:
    """Tell each of the record's ``accounts``, on its own platform, what was done;
    not the account that did it (it reads the reply)."""
    sender = ctx.request.sender
    for other in accounts:
        if (other.platform, other.user_id) == (sender.platform, sender.user_id):
            continue
        await enqueue(
            ctx.session,
            key=f"{key}:{other.id}",
            text=text,
            now=ctx.now,
            person_id=person.id,
            to=_recipient(other.platform, other.user_id, other.chat_id, person),
        )


async def _check_linkable(ctx: Context, target: Person, me: Person | None, platform: str) -> None:
    """Refuse a link that would give one record two accounts on one platform, or
    two secret ballots in one poll."""
    if me is not None and me.id == target.id:
        raise ctx.refuse(ctx.t("These accounts are already linked."))
    theirs = await platforms_of(ctx.session, target.id)
    mine = await platforms_of(ctx.session, me.id) if me is not None else {platform}
    clash = sorted(theirs & mine)
    if clash:
        raise ctx.refuse(
            ctx.t(
                "That record already has a {platform} account. Unlink it first with "
                "/unlink, then link this one.",
                platform=platform_name(clash[0]),
            )
        )
    if me is not None:
        both = await secret_votes_in_common(ctx.session, target, me)
        if both:
            raise ctx.refuse(
                ctx.t(
                    "Both accounts have voted in the secret ballot “{question}”. Secret "
                    "votes cannot be told apart, so link them after it closes.",
                    question=both[0][:80],
                )
            )


async def _pending_link(ctx: Context, target: str) -> tuple[Person, dict[str, object]]:
    """(the record, the new account) of a link waiting for this account's answer."""
    person = ctx.require_person()
    prompt = await ctx.take_prompt(target, "link-confirm", audit="link")
    if prompt.person_id != person.id:
        raise ctx.stale()
    return person, dict(prompt.payload)


@action(Action.LINK_CONFIRM)
async def link_confirmed(ctx: Context, target: str) -> Reply:
    """The account that asked for the code says yes: now the accounts are linked."""
    person, new = await _pending_link(ctx, target)
    platform, user_id = str(new["platform"]), str(new["user_id"])
    chat_id, handle = str(new["chat_id"]), new.get("handle")
    existing = await identity_of(ctx.session, platform, user_id)
    me = await ctx.session.get(Person, existing.person_id) if existing is not None else None
    await _check_linkable(ctx, person, me, platform)
    others = await identities_of(ctx.session, person.id)
    if me is None:
        ctx.session.add(
            Identity(
                person_id=person.id,
                platform=platform,
                user_id=user_id,
                chat_id=chat_id,
                handle=handle if isinstance(handle, str) else None,
                unreachable=False,
                last_seen_at=ctx.now,
                linked_at=ctx.now,
            )
        )
        keep, note = person, ""
    else:
        keep, drop = older_membership(person, me)
        note = await _membership_note(ctx, keep, drop)
        await merge_people(ctx.session, keep, drop)
        assert existing is not None
        existing.linked_at = ctx.now
    await ctx.session.flush()
    ctx.person = keep
    ctx.forget_grants()
    audit(ctx, "person.linked", subject=keep, platform=platform)
    there = platform_name(platform)
    t = await reader(ctx.session, keep, ctx.settings.default_locale)
    linked = t(
        "Linked: this {platform} account now belongs to your record ({name}, {short_id}). "
        "Your membership, votes and sign-ups count once, whichever account you use. "
        "/unlink undoes it.",
        platform=there,
        name=keep.display_name,
        short_id=keep.short_id,
    )
    await enqueue(
        ctx.session,
        key=f"linked:{target}:new",
        text=f"{linked}\n{note}" if note else linked,
        now=ctx.now,
        person_id=keep.id,
        to=_recipient(platform, user_id, chat_id, keep),
    )
    await _tell_other_accounts(
        ctx,
        keep,
        others,
        f"linked:{target}",
        t(
            "A {platform} account was linked to your record. If that was not you, "
            "send /unlink here and remove it.",
            platform=there,
        ),
    )
    text = ctx.t(
        "Linked: your {platform} account is now part of your record ({name}, {short_id}). "
        "/unlink undoes it.",
        platform=there,
        name=keep.display_name,
        short_id=keep.short_id,
    )
    return Reply(f"{text}\n{note}" if note else text, edit=True, private=True)


@action(Action.LINK_REFUSE)
async def link_refused(ctx: Context, target: str) -> Reply:
    """The account that asked for the code says no: nothing is linked, and the
    account that entered it is told so."""
    person, new = await _pending_link(ctx, target)
    platform = str(new["platform"])
    audit(ctx, "person.link_refused", subject=person, platform=platform)
    # The account that entered the code may have no record of its own: the
    # message hangs on this record, addressed to that account.
    t = translator(
        ctx.settings.default_locale
    )  # the account that entered the code: it has no language of its own here
    await enqueue(
        ctx.session,
        key=f"link-refused:{target}",
        text=t("The owner of that link code said it was not them: your account was not linked."),
        now=ctx.now,
        person_id=person.id,
        to=Recipient(
            person.id, str(new["name"]), platform, str(new["user_id"]), str(new["chat_id"])
        ),
    )
    return Reply(
        ctx.t(
            "Nothing was linked. Someone else has seen your code; it no longer works. "
            "Ask for a new one with /link when you want to link an account."
        ),
        edit=True,
        private=True,
    )


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


@command("unlink", N_("separate an account you linked with /link"), private=True, params=())
async def unlink(ctx: Context) -> Reply:
    person = ctx.require_person()
    sender = ctx.request.sender
    others = [
        i
        for i in await identities_of(ctx.session, person.id)
        if (i.platform, i.user_id) != (sender.platform, sender.user_id)
    ]
    if not others:
        return Reply(ctx.t("This account is not linked to any other."))
    mine = await identity_of(ctx.session, sender.platform, sender.user_id)
    since = mine.linked_at if mine is not None else None
    others = [i for i in others if may_unlink(i, since, ctx.now)]
    if since is not None and not others:
        branch = await ctx.session.get(Branch, person.branch_id) if person.branch_id else None
        tz = branch.timezone if branch else ctx.settings.default_timezone
        raise ctx.refuse(
            ctx.t(
                "This account was linked less than a week ago, so it cannot unlink "
                "your older accounts before {date}. They can unlink this one at any time.",
                date=format_local(since + UNLINK_WAIT, "datetime_zone", ctx.t, tz=tz),
            ),
            audit="unlink",
        )
    rows = []
    for identity in others:
        prompt = await ctx.prompt("unlink", identity=identity.id)
        rows.append(
            (
                Button(
                    ctx.t("Unlink {platform}", platform=platform_name(identity.platform)),
                    Action.UNLINK,
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


@action(Action.UNLINK)
async def unlink_one(ctx: Context, target: str) -> Reply:
    person = ctx.require_person()
    prompt = await ctx.take_prompt(target, "unlink", audit="unlink")
    identity_id = prompt.payload.get("identity")
    identity = (
        await ctx.session.get(Identity, identity_id) if isinstance(identity_id, int) else None
    )
    if identity is None or identity.person_id != person.id:
        raise ctx.stale()
    sender = ctx.request.sender
    mine = await identity_of(ctx.session, sender.platform, sender.user_id)
    since = mine.linked_at if mine is not None else None
    if not may_unlink(identity, since, ctx.now):
        raise ctx.stale()
    await unlink_account(ctx.session, identity)
    await drop_codes(ctx.session, person.id)
    audit(ctx, "person.unlinked", subject=person, platform=identity.platform)
    # Every account the record had is told, on its own platform (the one that
    # pressed reads the reply).
    t = await reader(ctx.session, person, ctx.settings.default_locale)
    gone = platform_name(identity.platform)
    await enqueue(
        ctx.session,
        key=f"unlinked:{target}:gone",
        text=t(
            "This {platform} account is no longer part of the record of {name}: it was "
            "unlinked from another of their accounts.",
            platform=gone,
            name=person.display_name,
        ),
        now=ctx.now,
        person_id=person.id,
        to=_recipient(identity.platform, identity.user_id, identity.chat_id, person),
    )
    await _tell_other_accounts(
        ctx,
        person,
        [o for o in await identities_of(ctx.session, person.id) if o.id != identity.id],
        f"unlinked:{target}",
        t(
            "Your {platform} account was unlinked from your record. If that was not "
            "you, tell your organiser.",
            platform=gone,
        ),
    )
    return Reply(
        ctx.t(
            "Done: your {platform} account is no longer part of your record. To link it "
            "again, send /link.",
            platform=platform_name(identity.platform),
        ),
        edit=True,
    )
