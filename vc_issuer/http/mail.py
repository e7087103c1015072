"""The server's email sender: one background task per server process that drains the outbox.

``build_services(..., mailer=...)`` puts the home's ``Mailer`` in the services (the award route
wakes it after queuing) and ``create_app`` runs ``Mailer.run`` from startup to cleanup. Without
``[email]`` settings there is no mailer, and ``"notify": true`` is refused with
``EMAIL_NOT_CONFIGURED``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from vc_issuer.email.outbox import Mailer


def mail_sender(
    mailer: Mailer, *, poll: float = 5.0
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context running ``mailer``'s sender while the app runs."""

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

    return sender


__all__ = ["mail_sender"]
