"""The public pages as HTML, given a ``Translator``: every sentence from the
catalogue, every value escaped (``html.escape``), dates by ``format_local``.
The pages carry no inline script or style (the Content-Security-Policy
allows only ``/static/``); what a script needs it reads from ``data-``
attributes, and the sentences it shows are rendered here."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from html import escape
from string import Template
from typing import Any

from bot.assemblies.texts import dates_text
from bot.canvassing.texts import calendar_event as canvass_calendar_event
from bot.draws.texts import source_text
from bot.kernel.i18n import Translator, format_local
from bot.lib.ics import DOMAIN, Event
from bot.lib.sortition import seeds
from bot.meetings.texts import calendar_event as meeting_calendar_event
from bot.public.rules import ALARM_BEFORE, QuotaRow, Vacancy, weekly_series
from storage.models import Assembly, Branch, CanvassSession, Meeting

LANGUAGE_NAMES = {"en": "English", "cy": "Cymraeg", "es": "Español"}

PAGE = Template(
    """<!doctype html>
<html lang="$lang">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>$title</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/site.css">
$scripts</head>
<body>
<a class="skip" href="#main">$skip</a>
<header class="top">
<p class="party">$party</p>
<nav aria-label="$nav_label"><a href="/branches$query">$branches</a></nav>
</header>
<main id="main">
$main
</main>
<footer>
<nav aria-label="$languages_label"><ul class="languages">$languages</ul></nav>
<p>$promise</p>
</footer>
</body>
</html>
"""
)


def e(value: object) -> str:
    return escape(str(value), quote=True)


def page(
    t: Translator,
    *,
    party: str,
    title: str,
    main: str,
    shipped: Sequence[str],
    path: str,
    scripts: Iterable[str] = (),
) -> str:
    """A whole page around ``main``: the party's name, the pages' menu, the
    language switcher (links to this ``path`` in each shipped language)."""
    languages = "".join(
        f'<li><a href="{e(path)}?lang={e(lang)}" hreflang="{e(lang)}" lang="{e(lang)}"'
        + (' aria-current="true"' if lang == t.locale else "")
        + f">{e(LANGUAGE_NAMES.get(lang, lang))}</a></li>"
        for lang in shipped
    )
    return PAGE.substitute(
        lang=e(t.locale),
        title=e(title),
        scripts="".join(f'<script src="/static/{e(s)}" defer></script>\n' for s in scripts),
        skip=e(t("Skip to the content")),
        party=e(party),
        nav_label=e(t("Pages")),
        query=f"?lang={e(t.locale)}" if len(shipped) > 1 else "",
        branches=e(t("Branches")),
        main=main,
        languages_label=e(t("Language")),
        languages=languages,
        promise=e(
            t(
                "This page sets no cookie, loads nothing from anywhere else and needs no "
                "login; its own script runs in your browser."
            )
        ),
    )


def not_found(t: Translator) -> str:
    not_found = t("Not found")
    there_is_no_such = t("There is no such page here. Check the address you were given.")
    return f"<h1>{e(not_found)}</h1><p>{e(there_is_no_such)}</p>"


def unavailable(t: Translator) -> str:
    not_available_just_now = t("Not available just now")
    this_page_cannot_be = t("This page cannot be shown just now. Please try again in a minute.")
    return f"<h1>{e(not_available_just_now)}</h1><p>{e(this_page_cannot_be)}</p>"


# --- a draw's page ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DrawView:
    """What a draw's page shows: the draw, its body, the hash published at its
    commit, and the parts of its public record."""

    id: int
    title: str  # the page's heading: "Draw 3: the Frome council"
    about: tuple[tuple[str, str], ...]  # the rows before the commitment's (term, HTML)
    timezone: str
    file_name: str  # the record's, as downloaded
    status: str
    committed_at: dt.datetime
    published_hash: str | None
    record_hash: str
    record: dict[str, Any]
    seed: str | None
    seed_due_at: dt.datetime
    drawn_at: dt.datetime | None
    index: int | None
    panel: list[str]
    witnesses: list[str]  # the numbers each witness entered, in order (never who)
    proof: dict[str, Any] | None
    quotas: list[QuotaRow]
    vacancies: list[Vacancy]
    pool: int
    household_rule: str | None = None  # the rule an assembly's record must commit


CHECKS = (
    "published",
    "fields",
    "lists",
    "panels",
    "seed",
    "index",
    "quotas",
    "replacements",
)


def check_sentences(t: Translator, kind: str) -> dict[str, str]:
    """What each in-browser check checks, in the visitor's language."""
    seed = {
        seeds.BEACON: t(
            "The seed is the randomness of the beacon's round: the SHA-256 of its signature."
        ),
        seeds.LOTTERY: t("The seed is the result both witnesses entered, the same text."),
    }.get(kind, t("The seed was typed by an organiser: this is a trial, it proves nothing."))
    return {
        "published": t("The record's hash is the one published when the draw was committed."),
        "fields": t(
            "Every committed field hashes to its committed hash, and those hashes to the "
            "record's hash."
        ),
        "lists": t("The entrants, the panels and their compositions hash to what was committed."),
        "panels": t(
            "Every panel has the right number of different entrants, none of them excluded."
        ),
        "seed": seed,
        "index": t("SHA-256 of the seed and the record hash picks the panel shown on this page."),
        "quotas": t(
            "The drawn panel's composition, opened after the draw, is the committed one and "
            "meets every quota."
        ),
        "replacements": t(
            "Each replacement is the next reserve in the committed order, never invited before."
        ),
        "household": t(
            "The record commits the rule of one person a household, for the panels and "
            "every replacement."
        ),
    }


def assembly_rows(t: Translator, assembly: Assembly) -> tuple[tuple[str, str], ...]:
    """What an assembly's draw page says of the assembly (term, HTML): nothing
    of any registrant."""
    return (
        (t("Citizens' assembly"), e(assembly.title)),
        (t("Area"), e(assembly.area)),
        (t("It sits"), e(dates_text(t, assembly))),
    )


FULL_CHECKS = ("same", "openings", "households", "replayed")


def full_record_checks(t: Translator) -> str:
    """An assembly's page: what the browser checks given the organisers' full
    record (read from a file in the browser, sent nowhere), the household rule
    as ``bot/lib/sortition`` checks it with the openings."""
    sentences = {
        "same": t("The full record is this draw's: its hash is the one published at commit."),
        "openings": t("Every entrant's commitment opens with their salt, answers and household."),
        "households": t(
            "Every panel of the lottery meets every quota and holds one person a household."
        ),
        "replayed": t(
            "Each replacement on this page is the one the committed rule gives, passing over "
            "anyone whose household already holds a place."
        ),
    }
    items = "".join(
        f'<li data-full="{name}" data-state="wait"><span class="verdict"></span> '
        f'<span class="what">{e(sentences[name])}</span><span class="detail"></span></li>'
        for name in FULL_CHECKS
    )
    label = t(
        "Hold the organisers' full record (from /assembly record)? Choose it here and your "
        "browser checks the household rule too; the file is read here and sent nowhere."
    )
    return (
        f'<label for="full-record">{e(label)}</label>'
        '<input type="file" id="full-record" accept="application/json,.json">'
        f'<ol class="checks">{items}</ol><p class="full-summary" role="status" aria-live="polite"></p>'
    )


def _row(term: str, value: str) -> str:
    return f"<dt>{e(term)}</dt><dd>{value}</dd>"


def _when(t: Translator, moment: dt.datetime | None, tz: str) -> str:
    if moment is None:
        return "?"
    text = format_local(moment, "datetime_zone", t, tz=tz)
    return f'<time datetime="{e(moment.astimezone(dt.UTC).isoformat())}">{e(text)}</time>'


def status_text(t: Translator, view: DrawView) -> str:
    if view.status == "cancelled":
        return t("This draw was cancelled before it was drawn.")
    if view.status == "trial":
        return t(
            "TRIAL: its seed was typed by an organiser, so it proves nothing and nobody "
            "was invited."
        )
    if view.seed is None:
        return t("Committed, waiting for its seed.")
    return t("Drawn.")


def draw_main(t: Translator, view: DrawView, record_url: str) -> str:
    tz = view.timezone
    source = view.record.get("seed_source") or {}
    kind = str(source.get("kind") or "")
    sentences = check_sentences(t, kind)
    names = CHECKS if view.household_rule is None else (*CHECKS, "household")
    checking = t("Checking…")
    checks = "".join(
        f'<li data-check="{name}" data-state="wait">'
        f'<span class="verdict">{e(checking)}</span> '
        f'<span class="what">{e(sentences[name])}</span>'
        f'<span class="detail"></span></li>'
        for name in names
    )
    data = {
        "record-url": record_url,
        "published": view.published_hash or "",
        "seed": view.seed if view.seed is not None else "",
        "seeded": "yes" if view.seed is not None else "",
        "kind": kind,
        "signature": (view.proof or {}).get("signature", ""),
        "witnesses": json.dumps(view.witnesses, ensure_ascii=False),
        "panel": json.dumps(view.panel, ensure_ascii=False),
        "pass": t("Passed"),
        "fail": t("Failed"),
        "waiting": t("Not yet: the seed is not known"),
        "none": t("Nothing to check"),
        "all-pass": t("Every check passed in your browser."),
        "some-fail": t(
            "A check failed: this record is not what was committed, or not drawn as it says."
        ),
        "trial": t(
            "TRIAL: its seed was typed by an organiser, so the draw proves nothing, whatever "
            "the other checks say."
        ),
        "unreadable": t("The record could not be downloaded or read."),
        "no-crypto": t("This browser cannot compute SHA-256 here (Web Crypto needs HTTPS)."),
        "computed-index": t("your browser picks panel {index}"),
        "computed-hash": t("your browser computes {hash}"),
        "reserve-at": t("{id} is reserve number {n}"),
        "household-rule": view.household_rule or "",
        "panel-at": t("panel {n}"),
        "rule-gives": t("vacancy {n}: the committed rule gives {due}, not {chosen}"),
    }
    attributes = " ".join(f'data-{k}="{e(v)}"' for k, v in data.items())
    none_was_published = t("none was published")
    facts = "".join(
        [
            *(_row(term, value) for term, value in view.about),
            _row(
                t("Committed"),
                _when(t, view.committed_at, tz) + " " + e(t("by an organiser of the body")),
            ),
            _row(
                t("Record hash published at commit"),
                f'<code class="hash">{e(view.published_hash or none_was_published)}</code>',
            ),
            _row(t("Entrants"), e(view.pool)),
            _row(t("Seats"), e(view.record.get("k", "?"))),
            _row(t("Panels in the lottery"), e(view.record.get("m", "?"))),
        ]
    )
    seed_rows = [
        _row(t("Seed source"), e(source_text(t, source, tz))),
        _row(t("The seed came to exist"), _when(t, view.seed_due_at, tz)),
        _row(
            t("Seed"),
            f"<code>{e(view.seed)}</code>" if view.seed is not None else e(t("not yet known")),
        ),
    ]
    if view.proof:
        seed_rows.append(
            _row(
                t("Proof: the beacon's signed round"),
                e(t("round {round}", round=view.proof.get("round")))
                + f' <code class="hash">{e(view.proof.get("signature", ""))}</code>',
            )
        )
    if view.witnesses:
        items = "".join(f"<li><code>{e(w)}</code></li>" for w in view.witnesses)
        seed_rows.append(_row(t("Proof: the numbers each witness entered"), f"<ol>{items}</ol>"))
    nobody_has_been_drawn = t("Nobody has been drawn yet.")
    panel = (
        '<ol class="panel">'
        + "".join(f"<li><code>{e(p)}</code></li>" for p in view.panel)
        + "</ol>"
        if view.panel
        else f"<p>{e(nobody_has_been_drawn)}</p>"
    )
    yes_word = t("yes")
    no_word = t("no")
    quota_rows = "".join(
        "<tr>"
        f"<td>{e(q.category)}</td><td>{e(q.value)}</td><td>{q.low}–{q.high}</td>"
        f"<td>{'–' if q.drawn is None else q.drawn}</td>"
        f"<td>{e('' if q.met is None else (yes_word if q.met else no_word))}</td>"
        "</tr>"
        for q in view.quotas
    )
    seats_each_value_must = t("Seats each value must have, and the drawn panel")
    category_word = t("Category")
    value_word = t("Value")
    seats_allowed = t("Seats allowed")
    drawn_panel = t("Drawn panel")
    within_word = t("Within")
    quotas = (
        f'<div class="scroll"><table><caption>{e(seats_each_value_must)}</caption>'
        f'<thead><tr><th scope="col">{e(category_word)}</th><th scope="col">{e(value_word)}</th>'
        f'<th scope="col">{e(seats_allowed)}</th><th scope="col">{e(drawn_panel)}</th>'
        f'<th scope="col">{e(within_word)}</th></tr></thead><tbody>{quota_rows}</tbody></table></div>'
    )
    events = {
        "declined": t("declined"),
        "expired": t("did not answer in time"),
        "vacated": t("gave up the place"),
    }
    none_so_far = t("None so far.")
    replacements = (
        "<ol>"
        + "".join(
            "<li>"
            + e(
                t(
                    "{gone} {what}; {replacement} was invited.",
                    gone=v.gone,
                    what=events.get(v.event, v.event),
                    replacement=v.replacement,
                )
                if v.replacement is not None
                else t(
                    "{gone} {what}; nobody was left to invite.",
                    gone=v.gone,
                    what=events.get(v.event, v.event),
                )
            )
            + "</li>"
            for v in view.vacancies
        )
        + "</ol>"
        if view.vacancies
        else f"<p>{e(none_so_far)}</p>"
    )
    command = (
        f'organiser sortition verify {view.file_name} --seed "{view.seed or "SEED"}" '
        f"--published-hash {view.published_hash or 'HASH'}"
    )
    check_it_in_your = t("Check it in your browser")
    your_browser_downloads_the = t(
        "Your browser downloads the record and recomputes it with its own SHA-256: you trust your browser, not this server. Nothing is sent back."
    )
    these_checks_need_javascript = t(
        "These checks need JavaScript. Without it, download the record and run the command below."
    )
    what_your_browser_cannot = t(
        "What your browser cannot check: the command below also checks that a lottery result is in the committed format, and a beacon's signature against the chain's public key (given the round, with --beacon-round). With the organisers' full record, --deep also solves the selection problem again (each person's chance of selection) and opens every entrant's commitment. Each entrant can check their own entry with the receipt the bot gave them."
    )
    the_commitment = t("The commitment")
    download_the_record_json = t("Download the record (JSON)")
    the_seed = t("The seed")
    the_panel_by_pseudonym = t("The panel, by pseudonym")
    entrants_appear_only_as = t(
        "Entrants appear only as pseudonyms; no name or declared feature is published."
    )
    the_quotas = t("The quotas")
    replacements_in_committed_order = t("Replacements, in committed order")
    return f"""<h1>{e(view.title)}</h1>
<p class="status">{e(status_text(t, view))}</p>
<section id="check" aria-labelledby="h-check" {attributes}>
<h2 id="h-check">{e(check_it_in_your)}</h2>
<p>{e(your_browser_downloads_the)}</p>
<ol class="checks">{checks}</ol>
<p class="summary" role="status" aria-live="polite"></p>
<noscript><p>{e(these_checks_need_javascript)}</p></noscript>
<p>{e(what_your_browser_cannot)}</p>
<pre><code>{e(command)}</code></pre>
{full_record_checks(t) if view.household_rule else ""}
</section>
<section aria-labelledby="h-commit">
<h2 id="h-commit">{e(the_commitment)}</h2>
<dl>{facts}</dl>
<p><a class="button" href="{e(record_url)}" download="{e(view.file_name)}">{e(download_the_record_json)}</a></p>
</section>
<section aria-labelledby="h-seed">
<h2 id="h-seed">{e(the_seed)}</h2>
<dl>{"".join(seed_rows)}</dl>
</section>
<section aria-labelledby="h-panel">
<h2 id="h-panel">{e(the_panel_by_pseudonym)}</h2>
<p>{e(entrants_appear_only_as)}</p>
{panel}
</section>
<section aria-labelledby="h-quotas">
<h2 id="h-quotas">{e(the_quotas)}</h2>
{quotas}
</section>
<section aria-labelledby="h-replacements">
<h2 id="h-replacements">{e(replacements_in_committed_order)}</h2>
{replacements}
</section>"""


# --- the branch directory --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BranchView:
    """A branch as the directory shows it."""

    name: str
    slug: str
    status: str
    region: str | None
    area: str
    timezone: str
    places: str  # what the search matches: names, casefolded, separated by "|"
    postcodes: str  # postcode prefixes, upper-cased, separated by " "
    meeting_title: str | None
    meeting_at: dt.datetime | None
    meeting_place: str | None
    telegram: str | None  # the deep link that joins the branch
    discord: str | None  # the party's Discord invite
    qr: bool  # a QR code of the first link is served
    shown: bool = True  # matches the search the page was asked with


def directory_main(t: Translator, branches: Sequence[BranchView], query: str) -> str:
    """The directory: every branch (those not matching ``query`` hidden) and the
    search box that filters them in the page."""
    items = []
    for b in branches:
        if b.meeting_at is not None:
            next_people_s_assembly = t("Next people’s assembly:")
            meeting = (
                f"<p><strong>{e(next_people_s_assembly)}</strong> "
                f"{e(b.meeting_title or '')}, {_when(t, b.meeting_at, b.timezone)}"
                + (f", {e(b.meeting_place)}" if b.meeting_place else "")
                + "</p>"
            )
        else:
            no_public_meeting_is = t("No public meeting is planned yet.")
            meeting = f'<p class="meta">{e(no_public_meeting_is)}</p>'
        joins = []
        if b.telegram:
            join_on_telegram = t("Join on Telegram")
            joins.append(f'<a class="button" href="{e(b.telegram)}">{e(join_on_telegram)}</a>')
        if b.discord:
            join_on_discord = t("Join on Discord")
            joins.append(f'<a class="button" href="{e(b.discord)}">{e(join_on_discord)}</a>')
        qr_code_of_the = t("QR code of the link to join {branch}", branch=b.name)
        for_leaflets = t("For leaflets")
        qr = (
            f'<figure><img src="/branches/{e(b.slug)}/qr.png" width="132" height="132" '
            f'alt="{e(qr_code_of_the)}">'
            f"<figcaption>{e(for_leaflets)}</figcaption></figure>"
            if b.qr
            else ""
        )
        where = status_label_public(t, b.status) + (f" · {b.region}" if b.region else "")
        calendar_of_its_public = t("Calendar of its public meetings")
        covers_area = t("Covers: {area}", area=b.area or b.name)
        items.append(
            f'<li data-places="{e(b.places)}" data-postcodes="{e(b.postcodes)}"'
            + ("" if b.shown else " hidden")
            + ">"
            f'<div><h2 id="b-{e(b.slug)}">{e(b.name)}</h2>'
            f'<p class="meta">{e(where)}</p>'
            f"<p>{e(covers_area)}</p>"
            f"{meeting}"
            + (f'<p class="joins">{" ".join(joins)}</p>' if joins else "")
            + f'<p><a href="/branches/{e(b.slug)}.ics">{e(calendar_of_its_public)}</a></p>'
            + f"</div>{qr}</li>"
        )
    no_branch_has_started = t("No branch has started yet.")
    listing = (
        f'<ul class="branches">{"".join(items)}</ul>'
        if branches
        else f"<p>{e(no_branch_has_started)}</p>"
    )
    counts = {
        str(n): t.plural("{n} branch matches.", "{n} branches match.", n)
        for n in range(1, len(branches) + 1)
    }
    none = t("No branch covers that yet: join the party and propose one.")
    shown = sum(1 for b in branches if b.shown)
    found = counts.get(str(shown), none) if query.strip() else ""
    find_your_branch = t("Find your branch")
    each_branch_meets_in = t(
        "Each branch meets in its area. Join one from your phone, or come to its next people's assembly: everyone living there is welcome."
    )
    your_town_village_or = t("Your town, village or postcode")
    search_word = t("Search")
    return f"""<h1>{e(find_your_branch)}</h1>
<p>{e(each_branch_meets_in)}</p>
<form class="search" role="search" action="/branches" method="get" data-counts="{e(json.dumps(counts, ensure_ascii=False))}" data-none="{e(none)}">
<label for="q">{e(your_town_village_or)}</label>
<input type="search" id="q" name="q" value="{e(query)}" autocomplete="postal-code" enterkeyhint="search">
<input type="hidden" name="lang" value="{e(t.locale)}">
<button type="submit">{e(search_word)}</button>
</form>
<p class="found" role="status" aria-live="polite">{e(found)}</p>
{listing}"""


def status_label_public(t: Translator, status: str) -> str:
    return {
        "forming": t("Forming branch"),
        "active": t("Active branch"),
        "affiliated": t("Affiliated branch"),
    }.get(status, status)


# --- calendar feeds ------------------------------------------------------------------


def meeting_event(meeting: Meeting, branch: Branch, party: str) -> Event:
    """A meeting in a feed: in its branch's zone, with a reminder."""
    return replace(
        meeting_calendar_event(meeting, branch, party),
        zone=branch.timezone,
        alarm_before=ALARM_BEFORE,
    )


def canvass_events(
    t: Translator, sessions: Sequence[tuple[CanvassSession, Branch]], party: str
) -> list[Event]:
    """The canvassing sessions a person goes to: a weekly slot's as one weekly
    event (RRULE, the weeks they skip as EXDATE, its UID the slot's), a
    campaign's day as an event of its own; in the branch's zone, with a reminder."""
    events = []
    by_slot: dict[tuple[int, int], list[tuple[int, int, dt.datetime]]] = {}
    first: dict[int, tuple[CanvassSession, Branch]] = {}
    for session, branch in sessions:
        first[session.id] = (session, branch)
        if session.slot_id is None:
            events.append(
                replace(
                    canvass_calendar_event(t, session, branch, party),
                    zone=branch.timezone,
                    alarm_before=ALARM_BEFORE,
                )
            )
        else:
            by_slot.setdefault((branch.id, session.slot_id), []).append(
                (session.slot_id, session.id, session.starts_at)
            )
    for found in by_slot.values():
        branch = first[found[0][1]][1]
        for series in weekly_series(found, branch.timezone):
            session, _ = first[series.first_id]
            local = series.first
            event = canvass_calendar_event(t, session, branch, party)
            events.append(
                replace(
                    event,
                    uid=f"canvass-slot-{series.slot_id}-{local.weekday()}-"
                    f"{local.hour:02d}{local.minute:02d}@{DOMAIN}",
                    starts=series.first,
                    ends=series.first + (event.ends - event.starts),
                    zone=branch.timezone,
                    weekly_until=series.last,
                    skipped=series.skipped,
                    alarm_before=ALARM_BEFORE,
                )
            )
    return sorted(events, key=lambda e: (e.starts, e.uid))


def person_feed_name(t: Translator, party: str) -> str:
    return t("{party}: my meetings and canvassing", party=party)


def branch_feed_name(t: Translator, party: str, branch: str) -> str:
    return t("{party}: {branch}'s public meetings", party=party, branch=branch)
