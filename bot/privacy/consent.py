"""Asking for consent: the welcome and the privacy notice with an "I agree"
button, before anything is stored about a person."""

from __future__ import annotations

import datetime as dt

from bot.kernel.actions import Action
from bot.kernel.context import Context
from bot.kernel.messages import Button, Reply
from bot.privacy.texts import privacy_notice


async def ask_consent(ctx: Context, join: str = "", *, ask_where: bool = False) -> Reply:
    """The welcome and privacy notice with an "I agree" button; nothing is stored
    about the person until they press it. ``join``: a place to join afterwards;
    ``ask_where``: ask afterwards where they live (the party's sign-up link)."""
    # Short-lived: the place typed before consent must not outlive the question,
    # and each new question sweeps out the expired ones.
    await ctx.sweep_prompts()
    extra = {"where": True} if ask_where else {}
    prompt = await ctx.prompt("consent", lifetime=dt.timedelta(hours=1), join=join, **extra)
    return Reply(
        ctx.t(
            "Welcome to {party}! I help members and supporters join their local branch, "
            "canvass, meet and decide together.",
            party=ctx.settings.party_name,
        )
        + "\n\n"
        + privacy_notice(ctx.t, ctx.settings.party_name),
        buttons=((Button(ctx.t("I agree"), Action.CONSENT, str(prompt.id)),),),
    )
