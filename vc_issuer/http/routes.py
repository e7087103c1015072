"""Route declarations: the one table the app mounts and the OpenAPI document describes.

Each route module exposes ``routes(services) -> list[Route]``; ``create_app`` mounts them and
``openapi_document`` describes the same list, so a route cannot be served undocumented (or
documented and not served). Handlers reach their services through the request
(``state_of(request)``), never through import-time state.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_PATTERN: Final = re.compile(r"\{(\w+):[^}]+\}")


@dataclass(frozen=True)
class Route:
    """One method on one path. ``path`` is aiohttp's (it may constrain a variable, e.g.
    ``{id:.+}``); ``doc`` is the OpenAPI operation object (its ``security`` names the scope);
    ``head`` also answers HEAD (aiohttp's ``allow_head``)."""

    method: str
    path: str
    handler: Handler
    doc: Mapping[str, Any]
    head: bool = False

    @property
    def openapi_path(self) -> str:
        """The path as OpenAPI writes it: variables without their patterns."""
        return _PATTERN.sub(r"{\1}", self.path)

    @property
    def scope(self) -> str | None:
        """The token scope the handler requires (``@requires``), None for public routes."""
        scope = getattr(self.handler, "required_scope", None)
        return scope if isinstance(scope, str) else None


@dataclass(frozen=True)
class Routes:
    """An ordered, immutable route table."""

    items: tuple[Route, ...]

    @classmethod
    def of(cls, *groups: Iterable[Route]) -> Routes:
        return cls(tuple(route for group in groups for route in group))

    def __iter__(self) -> Iterator[Route]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def mount(self, router: web.UrlDispatcher) -> None:
        """Add every route to ``router`` (order is the table's; no route depends on another)."""
        for route in self.items:
            if route.method == "GET":
                router.add_get(route.path, route.handler, allow_head=route.head)
            else:
                router.add_route(route.method, route.path, route.handler)


ROUTES_KEY: Final = web.AppKey("vc_issuer_routes", Routes)

__all__ = ["ROUTES_KEY", "Handler", "Route", "Routes"]
