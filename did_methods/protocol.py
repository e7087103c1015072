"""What a verifier needs from DID resolution, without any network code.

The :class:`DIDResolver` protocol and the DID syntax helpers live here, apart from
:mod:`did_methods.registry` (the implementation, whose did:web resolver brings aiohttp), so that
pure code (proof verification, the verifier) can name the interface without loading an HTTP
stack. Implementations receive their HTTP client (:class:`did_methods.fetch.SafeFetcher`) by
injection.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from did_methods.errors import InvalidDID, InvalidDIDURL

# DID Core: did:<method-name>:<method-specific-id>, method-name = 1*(%x61-7A / DIGIT).
_DID_RE = re.compile(r"did:([a-z0-9]+):(.+)", re.DOTALL)


class DIDResolver(Protocol):
    async def resolve(self, did: str) -> dict[str, Any]:
        """Return the DID document (a JSON object) or raise a did_methods.errors.DIDError."""
        ...

    async def dereference(self, did_url: str) -> dict[str, Any]:
        """Return the verification method a DID URL names (with ``controller``)."""
        ...


def parse_did(did: str) -> tuple[str, str]:
    """(method, method-specific id) of a plain DID; DID URLs and non-DIDs raise InvalidDID."""
    if not isinstance(did, str):
        raise InvalidDID("a DID must be a string")
    match = _DID_RE.fullmatch(did)
    if match is None:
        raise InvalidDID(f"not a DID: {did[:120]!r}")
    if any(c in did for c in "#?/"):
        raise InvalidDID(f"a DID URL was given where a DID is expected: {did[:120]!r}")
    return match.group(1), match.group(2)


def split_did_url(did_url: str) -> tuple[str, str]:
    """(DID, fragment) of a DID URL naming a verification method; other forms raise."""
    if not isinstance(did_url, str):
        raise InvalidDIDURL("a DID URL must be a string")
    did, sep, fragment = did_url.partition("#")
    if not sep or not fragment:
        raise InvalidDIDURL(f"DID URL has no fragment naming a verification method: {did_url!r}")
    if "?" in did or "/" in did:
        raise InvalidDIDURL(f"DID URL paths and queries are not supported: {did_url[:120]!r}")
    parse_did(did)
    return did, fragment
