"""Serving a fake platform's aiohttp app on 127.0.0.1, on a port of its own."""

from __future__ import annotations

import socket

from aiohttp import web


async def serve_locally(app: web.Application, shutdown_timeout: float) -> tuple[web.AppRunner, int]:
    """Start ``app`` on a free port of 127.0.0.1: (its runner, to clean up; the port).

    handler_cancellation: a request whose client went away (a long poll PTB
    cancels on stop, a gateway socket) ends with it instead of lingering."""
    runner = web.AppRunner(
        app, handle_signals=False, handler_cancellation=True, shutdown_timeout=shutdown_timeout
    )
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    return runner, int(sock.getsockname()[1])
