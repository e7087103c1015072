"""Adapter between did_methods (which knows nothing of vc_issuer) and the verifier.

DID errors become the vc_issuer DID error classes (``errors.from_did_error``, the one mapping),
so callers see one hierarchy. ``StaticResolver`` serves known controller documents (an issuer's
https profile with its keys, a pinned did:web document) and falls back to a DID resolver.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any

from did_methods import errors as did_errors
from did_methods.document import find_verification_method
from did_methods.protocol import DIDResolver
from vc_issuer.errors import InvalidDIDDocumentError, from_did_error


async def _mapped(call: Awaitable[Any]) -> Any:
    """``call``'s result; a did_methods error becomes its VCIssuerError (the one mapping)."""
    try:
        return await call
    except did_errors.DIDError as exc:
        raise from_did_error(exc) from exc


async def resolve_did(resolver: DIDResolver, did: str) -> dict[str, Any]:
    doc = await _mapped(resolver.resolve(did))
    if not isinstance(doc, dict):
        raise InvalidDIDDocumentError(f"the document of {did} is not a JSON object")
    return doc


async def dereference(resolver: DIDResolver, url: str) -> dict[str, Any]:
    """The verification method ``url`` names; it must have a ``controller``."""
    vm = await _mapped(resolver.dereference(url))
    if not isinstance(vm, dict):
        raise InvalidDIDDocumentError(f"{url} does not name a verification method")
    if not isinstance(vm.get("controller"), str):
        raise InvalidDIDDocumentError(f"verification method {url} has no controller")
    return vm


class StaticResolver:
    """A DIDResolver over fixed controller documents, then ``fallback`` for anything else."""

    def __init__(
        self,
        documents: Mapping[str, Mapping[str, Any]] | None = None,
        fallback: DIDResolver | None = None,
    ) -> None:
        self._documents = {k: dict(v) for k, v in (documents or {}).items()}
        self._fallback = fallback

    def add(self, document: Mapping[str, Any]) -> None:
        doc_id = document.get("id")
        if not isinstance(doc_id, str):
            raise ValueError("a controller document needs an id")
        self._documents[doc_id] = dict(document)

    async def resolve(self, did: str) -> dict[str, Any]:
        if did in self._documents:
            return dict(self._documents[did])
        if self._fallback is not None:
            return await self._fallback.resolve(did)
        raise did_errors.NotFound(f"{did} is not a known controller")

    async def dereference(self, did_url: str) -> dict[str, Any]:
        base = did_url.split("#", 1)[0]
        if base in self._documents:
            vm = find_verification_method(self._documents[base], did_url)
            if vm is None:
                raise did_errors.NotFound(f"{did_url} is not in the document of {base}")
            vm.setdefault("controller", base)
            return vm
        if self._fallback is not None:
            return await self._fallback.dereference(did_url)
        raise did_errors.NotFound(f"{did_url} is not a known verification method")


def default_resolver(*, allow_private: bool = False) -> DIDResolver:
    """The resolver for every supported DID method (did:key, did:web)."""
    from did_methods.registry import Resolver

    return Resolver(allow_private=allow_private)
