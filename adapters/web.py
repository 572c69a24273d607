"""Listening for HTTP: the Telegram webhook server and the health port share this.

No ``Server`` header (software versions help only an attacker), no access log
(a URL may hold a person's id), and a port that cannot be had is said in one
line (:class:`ListenError`), not a stack.
"""

from __future__ import annotations

from aiohttp import web


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
