"""/signup: the sign-up link for the whole party or one branch, with a QR code of
it for leaflets and posters.

Who gets which: organisers and admins at national or region level get the
party's link (whoever follows it says where they live and lands in the branch
covering it, so it serves a region's leaflets too); a branch's organisers get
their branch's link; anyone may name a branch they organise or are admin over
(``/signup Frome``). Everyone else is refused.
"""

from __future__ import annotations

from bot.branches.queries import search
from bot.kernel.context import Context
from bot.kernel.i18n import N_
from bot.kernel.links import PARTY_PAYLOAD, branch_payload, qr_png
from bot.kernel.messages import Attachment, Reply
from bot.kernel.permissions import holds_at_branch
from bot.kernel.registry import Param, command
from storage.models import Branch, Region
from storage.vocabulary import ADMIN, ORGANISER, SCOPE_BRANCH, SCOPE_NATIONAL, SCOPE_REGION

LEADS = (ORGANISER, ADMIN)  # an admin has the organiser's powers


@command(
    "signup",
    N_("a sign-up link and QR code for leaflets"),
    usage=N_("[branch]"),
    roles=(ORGANISER,),
    private=True,
    params=(Param.branch(N_("which branch (default: the party's or yours)")),),
)
async def signup(ctx: Context) -> Reply:
    ctx.require_person()
    grants = [g for g in await ctx.grants() if g.role in LEADS]
    name = ctx.request.args.strip()
    if name:
        branch = await _named_branch(ctx, name)
        if not holds_at_branch(grants, ORGANISER, branch):
            raise ctx.refuse(
                ctx.t(
                    "Only the organisers of the {branch} branch (or admins above it) can do that.",
                    branch=branch.name,
                ),
                audit="signup",
            )
        return _branch_link(ctx, branch)
    if any(g.scope == SCOPE_NATIONAL for g in grants):
        return _party_link(ctx, None)
    regions = sorted(g.scope_id for g in grants if g.scope == SCOPE_REGION)
    if regions:
        return _party_link(ctx, await ctx.session.get(Region, regions[0]))
    branches = sorted({g.scope_id for g in grants if g.scope == SCOPE_BRANCH})
    if len(branches) > 1:
        raise ctx.refuse(
            ctx.t("You organise several branches: name one, for example /signup Frome.")
        )
    own = await ctx.session.get(Branch, branches[0]) if branches else None
    if own is None:
        raise ctx.refuse(
            ctx.t(
                "Only organisers and admins make sign-up links. To bring someone along, ask "
                "them to send /start to me."
            ),
            audit="signup",
        )
    return _branch_link(ctx, own)


async def _named_branch(ctx: Context, name: str) -> Branch:
    exact, found = await search(ctx, name)
    branch = exact or (found[0] if len(found) == 1 else None)
    if branch is None:
        raise ctx.refuse(ctx.t("There is no branch called {name}.", name=name[:40]))
    return branch


def _party_link(ctx: Context, region: Region | None) -> Reply:
    lines = [
        ctx.t(
            "The sign-up link for the whole of {party}: whoever follows it agrees to the "
            "privacy notice, says where they live and joins the branch that covers it, or "
            "may propose one where none does.",
            party=ctx.settings.party_name,
        )
    ]
    if region is not None:
        lines.append(
            ctx.t(
                "It serves the {region} region's leaflets too: people land in their own "
                "branch by where they live.",
                region=region.name,
            )
        )
    return _with_links(
        ctx,
        lines,
        PARTY_PAYLOAD,
        ctx.t("then they send /start, and /join with their town or postcode"),
        footer=ctx.t("One branch's own link: /signup <branch>."),
    )


def _branch_link(ctx: Context, branch: Branch) -> Reply:
    lines = [
        ctx.t(
            "The sign-up link for the {branch} branch: whoever follows it agrees to the "
            "privacy notice and joins {branch}.",
            branch=branch.name,
        )
    ]
    return _with_links(
        ctx,
        lines,
        branch_payload(branch),
        ctx.t("then they send /start, and /join {branch}", branch=branch.name),
    )


def _with_links(
    ctx: Context, lines: list[str], payload: str, on_discord: str, footer: str = ""
) -> Reply:
    """The links on each platform, and a QR code of the first for print."""
    telegram = ctx.links.telegram(payload)
    discord = ctx.settings.discord_invite_url
    if telegram is not None:
        lines.append(ctx.t("Telegram: {link}", link=telegram))
    else:
        lines.append(
            ctx.t(
                "There is no Telegram link yet: I learn my Telegram name when I run with a "
                "Telegram token (organiser run)."
            )
        )
    if discord:
        lines.append(ctx.t("Discord: {link} ({then})", link=discord, then=on_discord))
    file = None
    if telegram is not None:
        lines.append(
            ctx.t("The QR code opens the Telegram link: print it on leaflets and posters.")
        )
        file = Attachment(f"signup-{payload}.png", qr_png(telegram), "image/png")
    elif discord:
        lines.append(
            ctx.t("The QR code opens the Discord invite: print it on leaflets and posters.")
        )
        file = Attachment("signup-discord.png", qr_png(discord), "image/png")
    if footer:
        lines.append(footer)
    return Reply("\n\n".join(lines), file=file)
