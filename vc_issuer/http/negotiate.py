"""Content negotiation for the routes that answer people and programs at one URL.

An achievement id, the issuer profile and ``/`` are each one address: a browser gets a page, a
program gets JSON. The ``Accept`` header decides (RFC 9110 12.5.1, with quality values), parsed
by python-mimeparse rather than by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import mimeparse
from aiohttp import web

HTML: Final = "text/html"
JSON: Final = "application/json"
JSON_LD: Final = "application/ld+json"


def preferred(request: web.Request, offers: Sequence[str]) -> str:
    """The offer ``Accept`` ranks highest. Ties, a missing or unreadable header, and a header
    that accepts none of the offers all give the first offer: these routes never answer 406."""
    if not offers:
        raise ValueError("no media types offered")
    header = request.headers.get("Accept", "").strip()
    if not header:
        return offers[0]
    try:
        # mimeparse breaks ties in favour of the later offer; ours favour the earlier one.
        best = mimeparse.best_match(list(reversed(offers)), header)
    except (mimeparse.MimeTypeParseException, ValueError, IndexError):
        return offers[0]
    return best or offers[0]


def wants_html(request: web.Request) -> bool:
    """A browser: ``text/html`` ranked above JSON (browsers send it first, curl sends ``*/*``)."""
    return preferred(request, (JSON, JSON_LD, HTML)) == HTML


__all__ = ["HTML", "JSON", "JSON_LD", "preferred", "wants_html"]
