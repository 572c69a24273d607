"""What the member list and the dues renewals say, given a Translator: the
list and its page buttons, the CSV, the refusals, the renewal reminder and the
treasurers' weekly list."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence

from bot.kernel.actions import Action
from bot.kernel.i18n import Translator, format_local
from bot.kernel.messages import Button
from bot.lib import spreadsheet
from bot.members.queries import Listed
from bot.members.rules import (
    FILTERS,
    LAPSED,
    LAPSED_STATUS,
    LAPSING,
    MEMBER,
    MEMBERS,
    SUPPORTERS,
    UNREACHABLE,
    dues_status,
)
from storage.models import Person


def usage(t: Translator) -> str:
    return t(
        "Usage: /members [filter] [name] [page N], or /members export [filter] [name]. "
        "Filters: {filters}. For example: /members lapsing, /members all Smith.",
        filters=", ".join(FILTERS),
    )


def unknown_filter(t: Translator, word: str) -> str:
    return t(
        "There is no filter called {word}. Filters: {filters}. "
        "To search by name, put a filter first: /members all {word}",
        word=word[:40],
        filters=", ".join(FILTERS),
    )


def no_page(t: Translator) -> str:
    return t("Give the page as a number, for example: /members lapsed page 2")


def page_out_of_range(t: Translator, page: int, pages: int) -> str:
    return t.plural(
        "There is no page {page}: the list has {n} page.",
        "There is no page {page}: the list has {n} pages.",
        pages,
        page=page,
    )


def not_allowed(t: Translator) -> str:
    return t(
        "Only organisers, treasurers and the admins over them can see member lists, "
        "each for their own branch, region or the party."
    )


def filter_label(t: Translator, filter_: str) -> str:
    return {
        MEMBERS: t("members"),
        SUPPORTERS: t("supporters"),
        LAPSING: t("dues ending within 30 days"),
        LAPSED: t("lapsed"),
        UNREACHABLE: t("not reachable"),
    }.get(filter_, t("everyone"))


def status_label(t: Translator, status: str) -> str:
    return {MEMBER: t("member"), LAPSED_STATUS: t("lapsed")}.get(status, t("supporter"))


def _line(t: Translator, row: Listed, today: dt.date, *, branches: bool) -> str:
    parts = [row.name, row.short_id]
    if branches:
        parts.append(row.branch or t("no branch"))
    parts.append(status_label(t, dues_status(row.paid_until, today)))
    if row.paid_until is not None:
        parts.append(
            t("dues until {date}", date=format_local(row.paid_until, "iso_date", t.locale))
        )
    if not row.reachable:
        parts.append(t("not reachable"))
    return " · ".join(parts)


def listing(
    t: Translator,
    rows: Sequence[Listed],
    today: dt.date,
    *,
    filter_: str,
    search: str,
    total: int,
    page: int,
    pages: int,
    branches: bool,
) -> str:
    """A page of the list: a heading (the filter, the search, how many, which
    page), then one line a person."""
    if search:
        head = t(
            "People ({filter}) whose name contains “{search}”: {n}.",
            filter=filter_label(t, filter_),
            search=search,
            n=total,
        )
    else:
        head = t("People ({filter}): {n}.", filter=filter_label(t, filter_), n=total)
    if not rows:
        return head + "\n" + t("No one matches.")
    lines = [head + " " + t("Page {page} of {pages}.", page=page, pages=pages)]
    lines.extend(_line(t, row, today, branches=branches) for row in rows)
    return "\n".join(lines)


def page_buttons(
    t: Translator, prompt_id: int, page: int, pages: int
) -> tuple[tuple[Button, ...], ...]:
    """Previous and Next, where there is such a page."""
    row = []
    if page > 1:
        row.append(Button(t("◀ Previous"), Action.MEMBERS_PAGE, f"{prompt_id}.{page - 1}"))
    if page < pages:
        row.append(Button(t("Next ▶"), Action.MEMBERS_PAGE, f"{prompt_id}.{page + 1}"))
    return (tuple(row),) if row else ()


def export_csv(t: Translator, rows: Sequence[Listed], today: dt.date) -> bytes:
    """The list as a spreadsheet opens it (no cell runs as a formula), its headings
    and words in the reader's language, its dates ISO 8601."""
    out = io.StringIO()
    writer = spreadsheet.writer(out)
    writer.writerow(
        [t("name"), t("ID"), t("branch"), t("status"), t("dues paid until"), t("reachable")]
    )
    for row in rows:
        writer.writerow(
            [
                row.name,
                row.short_id,
                row.branch or "",
                status_label(t, dues_status(row.paid_until, today)),
                row.paid_until.isoformat() if row.paid_until else "",
                t("yes") if row.reachable else t("no"),
            ]
        )
    return out.getvalue().encode("utf-8")


def exported(t: Translator, n: int, filter_: str) -> str:
    label = filter_label(t, filter_)  # outside the call, where the extractor reads it whole
    return t.plural(
        "The list ({filter}) of {n} person, as a spreadsheet. It holds personal data: "
        "keep it safe and delete it when done.",
        "The list ({filter}) of {n} people, as a spreadsheet. It holds personal data: "
        "keep it safe and delete it when done.",
        n,
        filter=label,
    )


def renewal_reminder(t: Translator, paid_until: dt.date, how: str) -> str:
    """The reminder a member gets once before their dues end; ``how``: the
    party's configured way to renew (a text or link), or empty."""
    text = t(
        "Your membership dues are paid until {date}. Please renew before then to keep "
        "your vote in the party.",
        date=format_local(paid_until, "iso_date", t.locale),
    )
    how = how.strip()
    return (
        text
        + "\n"
        + (
            t("To renew: {how}", how=how)
            if how
            else t("Your branch's treasurer can tell you how to renew.")
        )
    )


def _named(t: Translator, people: Sequence[Person]) -> list[str]:
    return [
        f"• {p.display_name} ({p.short_id}) · "
        + format_local(p.dues_paid_until, "iso_date", t.locale)
        for p in people
        if p.dues_paid_until is not None
    ]


def weekly_dues(
    t: Translator, branch: str, lapsed: Sequence[Person], lapsing: Sequence[Person]
) -> str:
    """The treasurers' weekly list for a branch."""
    lines = [t("Dues in the {branch} branch this week:", branch=branch)]
    lines.append(
        t.plural("Lapsed in the last week ({n}):", "Lapsed in the last week ({n}):", len(lapsed))
    )
    lines.extend(_named(t, lapsed) or [t("no one")])
    lines.append(
        t.plural("Renewing within 30 days ({n}):", "Renewing within 30 days ({n}):", len(lapsing))
    )
    lines.extend(_named(t, lapsing) or [t("no one")])
    lines.append(
        t("Record a payment with /dues <person> <YYYY-MM-DD>; see everyone with /members.")
    )
    return "\n".join(lines)
