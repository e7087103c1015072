"""The server's email sender: one background task per server process that drains the outbox.

``attach_mailer`` puts the home's ``Mailer`` on the app (the award route wakes it after
queuing) and runs ``Mailer.run`` from startup to cleanup. Without ``[email]`` settings there is
no mailer, and ``"notify": true`` is refused with ``EMAIL_NOT_CONFIGURED``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from vc_issuer.email.outbox import Mailer

MAILER_KEY = web.AppKey("vc_issuer_mailer", Mailer)


def mailer_of(app: web.Application) -> Mailer | None:
    return app.get(MAILER_KEY)


def attach_mailer(app: web.Application, mailer: Mailer, *, poll: float = 5.0) -> None:
    """Serve ``mailer`` to the routes and run its sender while the app runs."""
    app[MAILER_KEY] = mailer

    async def sender(_app: web.Application) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(mailer.run(stop, poll=poll), name="email-sender")
        yield
        stop.set()
        try:
            await asyncio.wait_for(task, timeout=10)
        except TimeoutError:  # a slow SMTP server: its messages stay 'sending' -> recovered
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app.cleanup_ctx.append(sender)


__all__ = ["MAILER_KEY", "attach_mailer", "mailer_of"]
