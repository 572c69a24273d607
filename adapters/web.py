"""Listening for HTTP: the Telegram webhook server, the health port and the
public pages share this.

No ``Server`` header (software versions help only an attacker), no access log
(a URL may hold a person's id, or a calendar feed's token), and a port that
cannot be had is said in one line (:class:`ListenError`), not a stack.

The public pages (:func:`pages_app`) are thin routes over ``bot.public.pages.Site``;
every answer carries a strict Content-Security-Policy (the pages' own script
and style only: nothing inline, nothing from elsewhere, no frames).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from bot.kernel.i18n import Translator
    from bot.public.pages import Page, Site

log = logging.getLogger(__name__)

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "interest-cohort=(), camera=(), microphone=(), geolocation=()",
}


class ListenError(Exception):
    """A port this worker was configured to listen on cannot be had; said in one line."""


async def _no_server_banner(request: web.Request, response: web.StreamResponse) -> None:
    """No ``Server: Python/3.x aiohttp/3.y`` header: versions help only an attacker."""
    response.headers.popall("Server", None)


async def start_site(
    app: web.Application, host: str, port: int, *, shutdown_timeout: float = 15.0
) -> web.AppRunner:
    """Serve ``app`` on host:port; returns the runner (``cleanup()`` stops it, letting
    requests in flight finish within ``shutdown_timeout`` seconds)."""
    app.on_response_prepare.append(_no_server_banner)
    runner = web.AppRunner(
        app, handle_signals=False, access_log=None, shutdown_timeout=shutdown_timeout
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return runner


def _answer(page: Page) -> web.Response:
    response = web.Response(status=page.status, body=page.body, headers=dict(page.headers))
    response.headers["Content-Type"] = page.content_type
    return response


@web.middleware
async def _secured(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    response = await handler(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def pages_app(site: Site) -> web.Application:
    """The public pages: ``/draws/ID`` and ``/assemblies/draws/ID`` (and their
    records), ``/branches``, the
    calendar feeds and ``/static/``; anything else is the site's 404 page."""
    from bot.public.pages import static_file

    def reader(request: web.Request) -> Translator:
        return site.translator(request.query.get("lang"), request.headers.get("Accept-Language"))

    @web.middleware
    async def unavailable(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except Exception as exc:  # the database is away, say: a page, never a stack
            # Not the path: a private feed's token is in it.
            log.warning("a public page could not be made: %s", type(exc).__name__)
            return _answer(site.unavailable(reader(request), request.path))

    async def missing(request: web.Request) -> web.Response:
        return _answer(site.not_found(reader(request), request.path))

    async def draw(request: web.Request) -> web.Response:
        return _answer(await site.draw_page(request.match_info["ident"], reader(request)))

    async def record(request: web.Request) -> web.Response:
        page = await site.draw_record(request.match_info["ident"])
        return _answer(page) if page is not None else await missing(request)

    async def assembly_draw(request: web.Request) -> web.Response:
        page = await site.assembly_draw_page(request.match_info["ident"], reader(request))
        return _answer(page)

    async def assembly_record(request: web.Request) -> web.Response:
        page = await site.assembly_draw_record(request.match_info["ident"])
        return _answer(page) if page is not None else await missing(request)

    async def static(request: web.Request) -> web.Response:
        page = static_file(request.match_info["name"])
        return _answer(page) if page is not None else await missing(request)

    async def branches(request: web.Request) -> web.Response:
        return _answer(await site.directory(reader(request), request.query.get("q", "")))

    async def qr(request: web.Request) -> web.Response:
        page = await site.join_qr(request.match_info["slug"])
        return _answer(page) if page is not None else await missing(request)

    async def person_feed(request: web.Request) -> web.Response:
        page = await site.person_feed(request.match_info["token"])
        return _answer(page) if page is not None else await missing(request)

    async def branch_feed(request: web.Request) -> web.Response:
        page = await site.branch_feed(request.match_info["slug"])
        return _answer(page) if page is not None else await missing(request)

    async def home(request: web.Request) -> web.Response:
        raise web.HTTPFound("/branches")

    app = web.Application(middlewares=[_secured, unavailable])
    app.router.add_get("/", home)
    app.router.add_get("/draws/{ident}", draw)
    app.router.add_get("/draws/{ident}/record.json", record)
    app.router.add_get("/assemblies/draws/{ident}", assembly_draw)
    app.router.add_get("/assemblies/draws/{ident}/record.json", assembly_record)
    app.router.add_get("/branches", branches)
    app.router.add_get("/branches/{slug}/qr.png", qr)
    app.router.add_get("/branches/{slug}.ics", branch_feed)
    app.router.add_get("/calendar/{token}.ics", person_feed)
    app.router.add_get("/static/{name}", static)
    app.router.add_get("/{tail:.*}", missing)
    return app


async def start_pages(site: Site, host: str, port: int) -> web.AppRunner:
    """The public pages on host:port (``[web]``)."""
    return await start_site(pages_app(site), host, port)
