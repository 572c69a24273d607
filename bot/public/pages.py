"""A public page from the database: what the web adapter serves (``Site``).

Each page is read in one short transaction and rendered in the visitor's
language; a page that does not exist is a friendly 404 in that language, never
a stack. The draw's record is the public view (no openings, no salts of
anyone's answers): the same file the page's script checks.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any

from bot.draws.queries import draw_body, published_hash
from bot.draws.texts import describe
from bot.kernel.clock import Clock
from bot.kernel.config import Settings
from bot.kernel.i18n import DEFAULT_LOCALE, Translator, available_locales, translator
from bot.kernel.links import Links, branch_payload, qr_png
from bot.lib.ics import ICS_TYPE, calendar_file
from bot.lib.sortition.drawing import public_view
from bot.lib.sortition.encoding import HOUSEHOLD_RULE
from bot.public import queries, rules, texts
from bot.public.rules import ASSEMBLY_DRAWS
from storage.db import Database
from storage.models import AssemblyDraw, Branch, Draw

HTML = "text/html; charset=utf-8"
FRESH_FOR = 5.0  # seconds a public page or feed is served as made (a draw's page, a feed)
MAX_SHARED = 512  # public answers kept at once
MAX_QUERY = 100  # characters of a directory search
STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True, slots=True)
class Page:
    """An answer: its status, body and type, and any headers of its own."""

    status: int
    body: bytes
    content_type: str = HTML
    headers: Mapping[str, str] = field(default_factory=dict)


def shipped() -> list[str]:
    return [DEFAULT_LOCALE, *(lang for lang in available_locales() if lang != DEFAULT_LOCALE)]


def static_file(name: str) -> Page | None:
    """One of the pages' own files (``bot/public/static``), or None."""
    suffix = name[name.rfind(".") :] if "." in name else ""
    if "/" in name or "\\" in name or name.startswith(".") or suffix not in STATIC_TYPES:
        return None
    resource = resources.files("bot.public") / "static" / name
    if not resource.is_file():
        return None
    return Page(
        200,
        resource.read_bytes(),
        STATIC_TYPES[suffix],
        {"Cache-Control": "public, max-age=3600"},
    )


class Site:
    """The public pages of one worker, over its database."""

    def __init__(
        self, db: Database, settings: Settings, clock: Clock, links: Links | None = None
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.links = links or Links()  # the Telegram bot's name, once its adapter learns it
        self._recent: dict[tuple[str, ...], tuple[float, asyncio.Task[Page | None]]] = {}

    async def _shared(
        self, key: tuple[str, ...], make: Callable[[], Awaitable[Page | None]]
    ) -> Page | None:
        """A public answer made at most once every ``FRESH_FOR`` seconds: the
        same for everyone (no person's own feed is ever kept here), and requests
        that arrive while it is being made wait for that one."""
        now = time.monotonic()
        recent = self._recent.get(key)
        if recent is not None and recent[0] > now:
            return await asyncio.shield(recent[1])
        if len(self._recent) >= MAX_SHARED:
            self._recent = {k: v for k, v in self._recent.items() if v[0] > now}
            if len(self._recent) >= MAX_SHARED:
                self._recent.clear()
        task = asyncio.ensure_future(make())
        self._recent[key] = (now + FRESH_FOR, task)
        try:
            return await asyncio.shield(task)
        except BaseException:
            self._recent.pop(key, None)
            raise

    def translator(self, chosen: str | None, accept_language: str | None) -> Translator:
        lang = rules.pick_language(chosen, accept_language, shipped(), self.settings.default_locale)
        return translator(lang)

    def _html(
        self,
        t: Translator,
        status: int,
        title: str,
        main: str,
        path: str,
        scripts: tuple[str, ...] = (),
    ) -> Page:
        body = texts.page(
            t,
            party=self.settings.party_name,
            title=title,
            main=main,
            shipped=shipped(),
            path=path,
            scripts=scripts,
        )
        return Page(status, body.encode("utf-8"), HTML, {"Content-Language": t.locale})

    def not_found(self, t: Translator, path: str) -> Page:
        return self._html(t, 404, t("Not found"), texts.not_found(t), path)

    def unavailable(self, t: Translator, path: str) -> Page:
        """What a visitor reads when a page cannot be made (the database is away)."""
        page = self._html(t, 503, t("Not available just now"), texts.unavailable(t), path)
        return replace(page, headers={**page.headers, "Retry-After": "60"})

    async def draw_page(self, ident: str, t: Translator) -> Page:
        page = await self._shared(("draw", ident, t.locale), lambda: self._draw_page(ident, t))
        assert page is not None
        return page

    async def _draw_page(self, ident: str, t: Translator) -> Page:
        path = f"/draws/{ident}"
        draw_id = _number(ident)
        async with self.db.transaction() as session:
            draw = await queries.public_draw(session, draw_id) if draw_id else None
            body = await draw_body(session, self.settings, draw) if draw else None
            published = await published_hash(session, draw) if draw else None
        if draw is None or body is None:
            return self.not_found(t, path)
        title = t("Draw {id}: {body}", id=draw.id, body=describe(t, body))
        view = _draw_view(
            draw,
            title=title,
            about=((t("For"), texts.e(describe(t, body))),),
            timezone=body.timezone,
            file_name=f"draw-{draw.id}-record.json",
            published=published,
        )
        main = texts.draw_main(t, view, f"/draws/{draw.id}/record.json")
        return self._html(t, 200, title, main, path, ("draw.js",))

    async def assembly_draw_page(self, ident: str, t: Translator) -> Page:
        """A citizens' assembly's draw (``/assemblies/draws/ID``: its ids are
        not a council draw's): the assembly, and the same checks in the browser,
        with the one-person-a-household rule its record must commit."""
        page = await self._shared(
            ("assembly", ident, t.locale), lambda: self._assembly_draw_page(ident, t)
        )
        assert page is not None
        return page

    async def _assembly_draw_page(self, ident: str, t: Translator) -> Page:
        path = f"{ASSEMBLY_DRAWS}/{ident}"
        draw_id = _number(ident)
        found = await self._assembly_draw(draw_id) if draw_id else None
        if found is None:
            return self.not_found(t, path)
        draw, assembly = found.draw, found.assembly
        title = t("Draw {id}: {body}", id=draw.id, body=assembly.title)
        view = _draw_view(
            draw,
            title=title,
            about=texts.assembly_rows(t, assembly),
            timezone=assembly.timezone,
            file_name=f"assembly-draw-{draw.id}-record.json",
            published=found.published,
            household_rule=HOUSEHOLD_RULE,
        )
        main = texts.draw_main(t, view, f"{ASSEMBLY_DRAWS}/{draw.id}/record.json")
        return self._html(t, 200, title, main, path, ("draw.js",))

    async def _assembly_draw(self, draw_id: int) -> queries.AssemblyDrawn | None:
        async with self.db.transaction() as session:
            return await queries.public_assembly_draw(session, draw_id)

    async def assembly_draw_record(self, ident: str) -> Page | None:
        """An assembly draw's public record (JSON), or None."""
        return await self._shared(
            ("assembly-record", ident), lambda: self._assembly_draw_record(ident)
        )

    async def _assembly_draw_record(self, ident: str) -> Page | None:
        draw_id = _number(ident)
        found = await self._assembly_draw(draw_id) if draw_id else None
        if found is None:
            return None
        return _record_file(found.draw.record, f"assembly-draw-{draw_id}-record.json")

    async def draw_record(self, ident: str) -> Page | None:
        """The draw's public record (JSON), or None."""
        return await self._shared(("record", ident), lambda: self._draw_record(ident))

    async def _draw_record(self, ident: str) -> Page | None:
        draw_id = _number(ident)
        async with self.db.transaction() as session:
            draw = await queries.public_draw(session, draw_id) if draw_id else None
        if draw is None:
            return None
        return _record_file(draw.record, f"draw-{draw.id}-record.json")

    def join_link(self, branch: Branch) -> str | None:
        """The link that joins ``branch``: its Telegram deep link where the bot's
        name is known, else the party's Discord invite, else None."""
        return (
            self.links.telegram(branch_payload(branch)) or self.settings.discord_invite_url or None
        )

    async def directory(self, t: Translator, query: str = "") -> Page:
        """``/branches``: every branch people can join, with its next people's
        assembly and its join links; those not matching ``query`` hidden."""
        query = query[:MAX_QUERY]
        async with self.db.transaction() as session:
            listed = await queries.directory(session, self.clock.now())
        views = []
        for item in listed:
            branch, meeting = item.branch, item.next_meeting
            places, postcodes = rules.search_terms(branch.name, branch.area, item.region)
            views.append(
                texts.BranchView(
                    name=branch.name,
                    slug=branch.slug,
                    status=branch.status,
                    region=item.region,
                    area=branch.area,
                    timezone=branch.timezone,
                    places="|".join(places),
                    postcodes=" ".join(postcodes),
                    meeting_title=meeting.title if meeting else None,
                    meeting_at=meeting.starts_at if meeting else None,
                    meeting_place=meeting.place if meeting else None,
                    telegram=self.links.telegram(branch_payload(branch)),
                    discord=self.settings.discord_invite_url or None,
                    qr=self.join_link(branch) is not None,
                    shown=rules.matches(query, places, postcodes),
                )
            )
        main = texts.directory_main(t, views, query)
        return self._html(t, 200, t("Find your branch"), main, "/branches", ("branches.js",))

    async def join_qr(self, slug: str) -> Page | None:
        """A QR code of the link that joins the branch ``slug``, for leaflets."""
        async with self.db.transaction() as session:
            branch = await queries.listed_branch(session, slug)
        link = self.join_link(branch) if branch is not None else None
        if link is None:
            return None
        return Page(200, qr_png(link), "image/png", {"Cache-Control": "public, max-age=3600"})

    async def person_feed(self, token: str) -> Page | None:
        """A person's private feed: the meetings and canvassing sessions they are
        going to, in their language; None for a token that is no feed's."""
        if not rules.FEED_TOKEN.fullmatch(token):
            return None
        now = self.clock.now()
        since = now - rules.FEED_SINCE
        async with self.db.transaction() as session:
            person = await queries.feed_owner(session, rules.token_hash(token))
            if person is None:
                return None
            meetings = await queries.meetings_going(session, person.id, since)
            sessions = await queries.sessions_going(session, person.id, since)
        party = self.settings.party_name
        t = translator(person.locale or self.settings.default_locale)
        events = [texts.meeting_event(m, b, party) for m, b in meetings]
        events += texts.canvass_events(t, sessions, party)
        name = texts.person_feed_name(t, party)
        return _feed(
            calendar_file(events, product="my calendar", stamp=now, name=name), private=True
        )

    async def branch_feed(self, slug: str) -> Page | None:
        """A branch's public feed: its people's assemblies."""
        return await self._shared(("feed", slug), lambda: self._branch_feed(slug))

    async def _branch_feed(self, slug: str) -> Page | None:
        now = self.clock.now()
        async with self.db.transaction() as session:
            branch = await queries.listed_branch(session, slug)
            if branch is None:
                return None
            meetings = await queries.public_meetings(session, branch.id, now - rules.FEED_SINCE)
        party = self.settings.party_name
        t = translator(self.settings.default_locale)
        events = [texts.meeting_event(m, branch, party) for m in meetings]
        name = texts.branch_feed_name(t, party, branch.name)
        return _feed(calendar_file(events, product="public meetings", stamp=now, name=name))


def _draw_view(
    draw: Draw | AssemblyDraw,
    *,
    title: str,
    about: tuple[tuple[str, str], ...],
    timezone: str,
    file_name: str,
    published: str | None,
    household_rule: str | None = None,
) -> texts.DrawView:
    """What a draw's page shows of a council's or an assembly's draw (the
    record's public view only)."""
    record = public_view(draw.record)
    proof = getattr(draw, "seed_proof", None)
    return texts.DrawView(
        id=draw.id,
        title=title,
        about=about,
        timezone=timezone,
        file_name=file_name,
        status=draw.status,
        committed_at=draw.created_at,
        published_hash=published,
        record_hash=draw.record_hash,
        record=record,
        seed=draw.seed,
        seed_due_at=draw.seed_due_at,
        drawn_at=draw.drawn_at,
        index=draw.chosen_index,
        panel=rules.drawn_panel(record, draw.chosen_index),
        witnesses=[str(w.get("seed", "")) for w in draw.witnesses or [] if isinstance(w, dict)],
        proof=proof if isinstance(proof, dict) else None,
        quotas=rules.quota_rows(record),
        vacancies=rules.vacancies(record),
        pool=rules.pool_size(record),
        household_rule=household_rule,
    )


def _record_file(record: Mapping[str, Any], name: str) -> Page:
    content = json.dumps(public_view(record), sort_keys=True, indent=1, ensure_ascii=False)
    return Page(
        200,
        content.encode("utf-8"),
        "application/json; charset=utf-8",
        {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-cache"},
    )


def _feed(content: bytes, *, private: bool = False) -> Page:
    return Page(
        200,
        content,
        f"{ICS_TYPE}; charset=utf-8",
        {"Cache-Control": "private, no-cache" if private else "public, max-age=300"},
    )


def _number(text: str) -> int | None:
    """A row id from a URL: ASCII digits that fit a row, else None."""
    if text.isascii() and text.isdigit() and len(text) < 10:
        value = int(text)
        return value if value > 0 else None
    return None
