"""/members: the people an organiser, a treasurer or an admin over them may see
(their branch, region or the party), searched by name, filtered, a page at a
time with Previous and Next; /members export sends the same as a CSV, audited
with the count (never the names)."""

from __future__ import annotations

import datetime as dt

from bot.kernel.actions import Action
from bot.kernel.context import Context, parse_id
from bot.kernel.effects import audit
from bot.kernel.i18n import N_
from bot.kernel.messages import Attachment, Reply
from bot.kernel.registry import Param, action, command
from bot.members import queries, texts
from bot.members.rules import (
    EXPORT,
    FILTERS,
    LIST,
    PAGE_SIZE,
    BadFilter,
    BadPage,
    Scope,
    page_in_range,
    pages,
    read_members,
    today_in,
    viewing_scope,
)
from storage.models import Prompt
from storage.vocabulary import ADMIN, ORGANISER, TREASURER

STAFF = (ORGANISER, TREASURER, ADMIN)
LIST_KIND = "members"
LIST_LIFETIME = dt.timedelta(hours=12)  # how long a list's page buttons work
CSV_TYPE = "text/csv"


async def _scope(ctx: Context) -> Scope:
    """The sender's scope, or a refusal (audited) if they may see no one."""
    ctx.require_person()
    scope = viewing_scope(await ctx.grants())
    if scope.empty:
        raise ctx.refuse(texts.not_allowed(ctx.t), audit="members")
    return scope


@command(
    "members",
    N_("list the people of your branch, region or the party: search, filter, export"),
    usage=N_("[export] [all|members|supporters|lapsing|lapsed|unreachable] [name] [page N]"),
    roles=STAFF,
    private=True,
    params=(
        Param.choice("show", N_("a list, or a spreadsheet to download"), (LIST, EXPORT)),
        Param.choice("filter", N_("which people"), FILTERS),
        Param.text("name", N_("part of a name to search for")),
    ),
)
async def members_command(ctx: Context) -> Reply:
    scope = await _scope(ctx)
    try:
        asked = read_members(ctx.request.args)
    except BadFilter as bad:
        raise ctx.refuse(texts.unknown_filter(ctx.t, bad.word)) from None
    except BadPage:
        raise ctx.refuse(texts.no_page(ctx.t)) from None
    today = today_in(ctx.now, ctx.settings.default_timezone)
    if asked.export:
        rows = await queries.listed(ctx.session, scope, asked.filter, asked.search, today)
        audit(ctx, "members.export", people=len(rows), filter=asked.filter)
        return Reply(
            texts.exported(ctx.t, len(rows), asked.filter),
            file=Attachment(
                f"members-{today.isoformat()}.csv", texts.export_csv(ctx.t, rows, today), CSV_TYPE
            ),
            private=True,
        )
    return await _page(ctx, scope, asked.filter, asked.search, asked.page, None, today)


@action(Action.MEMBERS_PAGE)
async def page_pressed(ctx: Context, target: str) -> Reply:
    scope = await _scope(ctx)  # asked again: the role may have ended since
    prompt_id, _, page_text = target.partition(".")
    row_id, page = parse_id(prompt_id), parse_id(page_text)
    saved = await queries.prompt(ctx.session, row_id) if row_id is not None else None
    if saved is None or saved.kind != LIST_KIND or page is None:
        raise ctx.stale()
    if saved.owner_key != ctx.request.sender.key:
        raise ctx.stale(audit="members")  # someone else's list: a forged press
    if saved.expires_at <= ctx.now:
        raise ctx.stale()
    today = today_in(ctx.now, ctx.settings.default_timezone)
    chosen, search = str(saved.payload["filter"]), str(saved.payload["search"])
    reply = await _page(ctx, scope, chosen, search, page, saved, today)
    return Reply(reply.text, buttons=reply.buttons, edit=True, private=True)


async def _page(
    ctx: Context,
    scope: Scope,
    chosen: str,
    search: str,
    page: int,
    saved: Prompt | None,
    today: dt.date,
) -> Reply:
    """A page of the list; the filter and search are kept for its buttons (in a
    prompt, made when there is more than one page)."""
    total = await queries.count_people(ctx.session, scope, chosen, search, today)
    if not page_in_range(page, total):
        raise ctx.refuse(texts.page_out_of_range(ctx.t, page, pages(total)))
    rows = await queries.listed(
        ctx.session, scope, chosen, search, today, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
    )
    if saved is None and pages(total) > 1:
        saved = await ctx.prompt(LIST_KIND, lifetime=LIST_LIFETIME, filter=chosen, search=search)
    text = texts.listing(
        ctx.t,
        rows,
        today,
        filter_=chosen,
        search=search,
        total=total,
        page=page,
        pages=pages(total),
        branches=scope.national or bool(scope.regions) or len(scope.branches) > 1,
    )
    return Reply(
        text,
        buttons=texts.page_buttons(ctx.t, saved.id, page, pages(total)) if saved else (),
        private=True,
    )
