"""One resolver interface over every DID method (PROVISIONAL stub: the did_methods owner
fills it in, keeping these names)."""

from __future__ import annotations

from typing import Any, Protocol


class DIDResolver(Protocol):
    async def resolve(self, did: str) -> dict[str, Any]:
        """Return the DID document (a JSON object) or raise a did_methods.errors.DIDError."""
        ...

    async def dereference(self, did_url: str) -> dict[str, Any]:
        """Return the verification method a DID URL names (with ``controller``)."""
        ...
