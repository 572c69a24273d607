"""What announcements say: the heading every copy carries, the preview, the
answers to Send and Cancel, the refusals, and the lines /delivery shows."""

from __future__ import annotations

from collections.abc import Callable

from bot.announcements.rules import CANVASSERS, MAX_TEXT, MEMBERS, SUPPORTERS
from bot.kernel.actions import Action
from bot.kernel.i18n import Translator, format_local
from bot.kernel.messages import Button
from storage.models import Announcement
from storage.vocabulary import SCOPE_BRANCH, SCOPE_REGION

PREVIEW_CUT = 60  # characters of an announcement /delivery shows


def where(t: Translator, scope: str, name: str) -> str:
    if scope == SCOPE_BRANCH:
        return t("the {branch} branch", branch=name)
    if scope == SCOPE_REGION:
        return t("the {region} region", region=name)
    return name  # the party's name


def audience_label(t: Translator, audience: str) -> str:
    if audience == MEMBERS:
        return t("members (dues paid)")
    if audience == SUPPORTERS:
        return t("supporters")
    if audience == CANVASSERS:
        return t("those signed up to canvass this month")
    return t("everyone")


def copy(scope: str, name: str, text: str) -> Callable[[Translator], str]:
    """The announcement as its readers get it, in their language."""

    def render(t: Translator) -> str:
        return t("📣 From {where}:", where=where(t, scope, name)) + "\n\n" + text

    return render


def usage(t: Translator) -> str:
    return t(
        "Write the announcement after the command: /announce <text>. To choose who gets "
        "it, put before a colon the level (branch <name>, region, national) and the "
        "audience (everyone, members, supporters, canvassers): /announce members: <text>, "
        "/announce region supporters: <text>, /announce national: <text>."
    )


def too_long(t: Translator, length: int) -> str:
    return t(
        "That is {length} characters; an announcement holds at most {limit}. Shorten it, or "
        "send it in two announcements.",
        length=length,
        limit=MAX_TEXT,
    )


def nobody(t: Translator, scope: str, name: str, audience: str) -> str:
    return t(
        "Nobody in {where} is among {audience} (or all of them turned announcements off), "
        "so there is nobody to send it to.",
        where=where(t, scope, name),
        audience=audience_label(t, audience),
    )


def preview(
    t: Translator,
    draft: Announcement,
    name: str,
    *,
    people: int,
    chats: int,
    kept_from_chats: bool,
) -> str:
    lines = [
        t(
            "Preview of your announcement to {audience} in {where}:",
            audience=audience_label(t, draft.audience),
            where=where(t, draft.scope, name),
        ),
        "",
        copy(draft.scope, name, draft.text)(t),
        "",
        t.plural(
            "It reaches {n} person privately",
            "It reaches {n} people privately",
            people,
        )
        + " · "
        + t.plural("{n} group chat", "{n} group chats", chats)
        + ".",
    ]
    if kept_from_chats:
        lines.append(
            t(
                "A group chat holds members and supporters alike, so an announcement for "
                "only some of them goes to each privately."
            )
        )
    lines.append(t("People who turned these announcements off are not counted."))
    return "\n".join(lines)


def preview_buttons(t: Translator, draft: Announcement) -> tuple[tuple[Button, ...], ...]:
    return (
        (
            Button(t("Send"), Action.ANNOUNCE_SEND, str(draft.id)),
            Button(t("Cancel"), Action.ANNOUNCE_CANCEL, str(draft.id)),
        ),
    )


def sent(t: Translator, people: int, chats: int) -> str:
    return (
        t.plural(
            "Sent: queued for {n} person privately",
            "Sent: queued for {n} people privately",
            people,
        )
        + " · "
        + t.plural("{n} group chat", "{n} group chats", chats)
        + ". "
        + t("/delivery shows how many got it and who could not be reached.")
    )


def already_sent(t: Translator) -> str:
    return t("This announcement was already sent; it goes out once.")


def dropped(t: Translator) -> str:
    return t("Announcement dropped; nothing was sent.")


def delivery_line(
    t: Translator,
    announcement: Announcement,
    counts: dict[str, int],
    *,
    timezone: str,
    sent_status: str,
    undeliverable_status: str,
) -> str:
    text = " ".join(announcement.text.split())
    if len(text) > PREVIEW_CUT:
        text = text[: PREVIEW_CUT - 1] + "…"
    when = format_local(announcement.sent_at or announcement.created_at, "day_time", t, tz=timezone)
    waiting = sum(
        n for status, n in counts.items() if status not in (sent_status, undeliverable_status)
    )
    return t(
        "• {when} “{text}”: {sent} delivered, {failed} could not be reached, {waiting} "
        "still waiting",
        when=when,
        text=text,
        sent=counts.get(sent_status, 0),
        failed=counts.get(undeliverable_status, 0),
        waiting=waiting,
    )


def delivery_heading(t: Translator) -> str:
    return t("Announcements (last 30 days):")
