"""The aiohttp application, assembled from services passed in.

``create_app(services)`` only assembles: the route table (``route_table``), the middleware list
(``default_middlewares``) and the startup/cleanup hooks. Services are built beforehand by
``build_services`` (vc_issuer.http.services); nothing here depends on import or mount order.
To add a middleware, add it to ``default_middlewares`` (or pass ``middlewares=``); to run
something with the app (a worker pool, a background task), pass ``on_startup``/``on_cleanup``.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from aiohttp.typedefs import Middleware

from vc_issuer.http import (
    achievements,
    claims,
    display,
    exchanges,
    oid4vci,
    pages,
    public,
    vcapi,
)
from vc_issuer.http.auth import AUTH_KEY
from vc_issuer.http.mail import mail_sender
from vc_issuer.http.middlewares import (
    DEFAULT_MAX_BODY,
    DEFAULT_MAX_DEPTH,
    MAX_BODY_KEY,
    MAX_DEPTH_KEY,
    body_cap_middleware,
    cors_middleware,
    error_middleware,
    request_id_middleware,
)
from vc_issuer.http.offload import Offload
from vc_issuer.http.ratelimit import hygiene_middleware
from vc_issuer.http.routes import ROUTES_KEY, Routes
from vc_issuer.http.state import STATE_KEY, ServiceState

log = logging.getLogger("vc_issuer.http")

Hook = Callable[[web.Application], Awaitable[None]]


def route_table(services: ServiceState) -> Routes:
    """Every route the app serves (and the OpenAPI document describes)."""
    return Routes.of(
        vcapi.routes(services),
        public.routes(services),
        exchanges.routes(services),
        oid4vci.routes(services),
        claims.routes(services),
        achievements.routes(services),
        pages.routes(services),
        display.routes(services),
    )


def default_middlewares() -> list[Middleware]:
    """Outermost first. The HTML page errors sit just outside ``error_middleware``: they
    rewrite its problem responses on page paths, and the outer ones still stamp the page."""
    return [
        cors_middleware,
        request_id_middleware,
        pages.html_errors_middleware,
        error_middleware,
        body_cap_middleware,
        hygiene_middleware,
    ]


async def _close_owned(app: web.Application) -> None:
    for item in reversed(app[STATE_KEY].owned):
        try:
            out = item.close()
            if inspect.isawaitable(out):
                await out
        except Exception:  # cleanup must go on
            log.exception("closing %r failed", item)


def create_app(
    services: ServiceState,
    *,
    max_body: int = DEFAULT_MAX_BODY,
    max_depth: int = DEFAULT_MAX_DEPTH,
    middlewares: Sequence[Middleware] | None = None,
    on_startup: Sequence[Hook] = (),
    on_cleanup: Sequence[Hook] = (),
) -> web.Application:
    """The VC API application over ``services``.

    ``on_startup`` hooks run in order before the first request; ``on_cleanup`` hooks run in
    order at shutdown, before the services' own objects (``services.owned``) are closed.
    """
    if max_body < 1024:
        raise ValueError("max_body must be at least 1024 bytes")
    if max_depth < 8:
        raise ValueError("max_depth must be at least 8")
    chosen = default_middlewares() if middlewares is None else list(middlewares)
    app = web.Application(client_max_size=max_body, middlewares=chosen)
    app[MAX_BODY_KEY] = max_body
    app[MAX_DEPTH_KEY] = max_depth
    app[AUTH_KEY] = services.authenticator
    app[STATE_KEY] = services
    routes = route_table(services)
    app[ROUTES_KEY] = routes
    routes.mount(app.router)

    if isinstance(services.work, Offload):  # the worker pool starts and stops with the app
        app.on_startup.append(services.work.start)
        app.on_cleanup.append(services.work.close)
    app.on_startup.extend(on_startup)
    if services.mailer is not None:  # [email] configured: send the outbox in the background
        app.cleanup_ctx.append(mail_sender(services.mailer, poll=services.mail_poll))
    app.on_cleanup.extend(on_cleanup)
    app.on_cleanup.append(_close_owned)
    if not services.authenticator.enabled:
        log.warning("authentication is DISABLED: every caller may issue and change status")
    return app


__all__ = ["Hook", "create_app", "default_middlewares", "route_table"]
