"""/calendar: a private calendar feed of the meetings and canvassing sessions a
person is going to, at an unguessable URL on the party's public pages.

/calendar         the link (made the first time; after that, how to get a new one)
/calendar new     a new link: the old one stops working
/calendar stop    no feed any more: the link stops working

Only the token's hash is kept, so the link cannot be shown again: a person who
lost it asks for a new one.
"""

from __future__ import annotations

import secrets

from bot.kernel.context import Context
from bot.kernel.i18n import N_, format_local
from bot.kernel.messages import Reply
from bot.kernel.registry import Param, command
from bot.public import queries
from bot.public.rules import token_hash


def feed_base(ctx: Context) -> str | None:
    """Where the public pages are reached, or None when they are not served."""
    settings = ctx.settings
    if settings.web_base_url:
        return settings.web_base_url
    if settings.web_port:
        return f"http://{settings.web_listen}:{settings.web_port}"
    return None


@command(
    "calendar",
    N_("a private calendar feed of the meetings and canvassing you go to"),
    usage=N_("[new|stop]"),
    private=True,
    params=(Param.choice("what", N_("new or stop"), ("new", "stop")),),
)
async def calendar(ctx: Context) -> Reply:
    person = ctx.require_person()
    what = ctx.request.args.strip().lower()
    if what == "stop":
        if await queries.drop_feed(ctx.session, person.id):
            return Reply(ctx.t("Your calendar feed is stopped: its link no longer works."))
        return Reply(ctx.t("You have no calendar feed. /calendar makes one."))
    if what not in ("", "new"):
        raise ctx.refuse(
            ctx.t("Send /calendar for your feed's link, /calendar new or /calendar stop.")
        )
    base = feed_base(ctx)
    if base is None:
        raise ctx.refuse(
            ctx.t(
                "There are no calendar feeds here: the party's web pages are not set up. "
                "An admin can set them up ([web] in the configuration)."
            )
        )
    existing = await queries.feed_of(ctx.session, person.id)
    if existing is not None and what != "new":
        return Reply(
            ctx.t(
                "You have had a calendar feed since {when}. Its link is not kept where it "
                "could be read again: send /calendar new for a new one (the old link stops "
                "working), or /calendar stop to end it.",
                when=format_local(
                    existing.created_at,
                    "date",
                    ctx.t,
                    tz=person.timezone or ctx.settings.default_timezone,
                ),
            )
        )
    token = secrets.token_urlsafe(24)
    await queries.set_feed(ctx.session, person.id, token_hash(token), ctx.now)
    return Reply(
        ctx.t(
            "Your calendar feed: {url}\nAdd it to your calendar app as a subscription (by "
            "URL): the meetings and canvassing sessions you are going to appear there and "
            "stay up to date. Anyone with this link sees them, so keep it to yourself; "
            "/calendar new replaces it and /calendar stop ends it.",
            url=f"{base}/calendar/{token}.ics",
        )
    )
