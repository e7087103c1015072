"""One resolver interface over every DID method this package supports (did:key, did:jwk,
did:web)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from did_methods.document import find_verification_method, is_authorized
from did_methods.errors import (
    DIDError,
    InvalidDocument,
    MethodNotSupported,
    NotFound,
    VerificationMethodNotAuthorized,
)
from did_methods.jwk import resolve_did_jwk
from did_methods.key import KEY_FORMATS, KeyFormat, resolve_did_key
from did_methods.protocol import DIDResolver, parse_did, split_did_url
from did_methods.web import WebResolver

if TYPE_CHECKING:
    from did_methods.fetch import SafeFetcher

DID_RESOLUTION_CONTEXT = "https://w3id.org/did-resolution/v1"
SUPPORTED_METHODS: tuple[str, ...] = ("key", "jwk", "web")

__all__ = [
    "DID_RESOLUTION_CONTEXT",
    "SUPPORTED_METHODS",
    "DIDResolver",
    "Resolver",
    "parse_did",
    "split_did_url",
]


class Resolver:
    """did:key and did:jwk (pure) and did:web (network, via WebResolver) behind
    :class:`DIDResolver`."""

    def __init__(
        self,
        *,
        web: WebResolver | None = None,
        fetcher: SafeFetcher | None = None,
        allow_private: bool = False,
        key_format: KeyFormat = "multikey",
        key_agreement: bool = True,
    ) -> None:
        if key_format not in KEY_FORMATS:
            raise ValueError(f"unknown did:key document format {key_format!r}")
        self.key_format: KeyFormat = key_format
        self.key_agreement = key_agreement
        if web is not None:
            self.allow_private = web.allow_private
        elif fetcher is not None:
            self.allow_private = fetcher.allow_private
        else:
            self.allow_private = allow_private
        self._fetcher = fetcher
        self._web = web
        self._own_web = web is None

    @property
    def web(self) -> WebResolver:
        """did:web's resolver, over the injected fetcher (its owner closes it) or its own."""
        if self._web is None:
            self._web = WebResolver(allow_private=self.allow_private, fetcher=self._fetcher)
        return self._web

    async def resolve(self, did: str) -> dict[str, Any]:
        method, _msid = parse_did(did)
        if method == "key":
            return resolve_did_key(did, format=self.key_format, key_agreement=self.key_agreement)
        if method == "jwk":
            return resolve_did_jwk(did)
        if method == "web":
            return await self.web.resolve(did)
        raise MethodNotSupported(
            f"DID method {method!r} is not supported (supported: did:key, did:jwk, did:web)"
        )

    async def dereference(self, did_url: str) -> dict[str, Any]:
        """The verification method ``did_url`` names; its controller must be that DID.

        Requiring controller == DID refuses a document that lists a key "controlled" by
        another DID, which a verifier comparing issuer and controller would otherwise trust.
        """
        did, _fragment = split_did_url(did_url)
        doc = await self.resolve(did)
        vm = find_verification_method(doc, did_url)
        if vm is None:
            raise NotFound(f"no verification method {did_url!r} in the DID document of {did}")
        controller = vm.get("controller")
        if not isinstance(controller, str):
            raise InvalidDocument(f"verification method {did_url!r} has no controller")
        if controller != did:
            raise InvalidDocument(
                f"verification method {did_url!r} is controlled by {controller[:120]!r}, "
                f"not by {did}"
            )
        return vm

    async def dereference_authorized(self, did_url: str, relationship: str) -> dict[str, Any]:
        """Like :meth:`dereference`, and the method must be listed under ``relationship``."""
        vm = await self.dereference(did_url)
        doc = await self.resolve(split_did_url(did_url)[0])
        if not is_authorized(doc, did_url, relationship):
            raise VerificationMethodNotAuthorized(
                f"{did_url!r} is not listed under {relationship!r} in its DID document"
            )
        return vm

    async def resolve_with_metadata(self, did: str) -> dict[str, Any]:
        """A DID Resolution result; errors become ``didResolutionMetadata.error``."""
        try:
            doc = await self.resolve(did)
        except DIDError as exc:
            return {
                "@context": DID_RESOLUTION_CONTEXT,
                "didDocument": None,
                "didResolutionMetadata": {"error": exc.code, "errorMessage": exc.message},
                "didDocumentMetadata": {},
            }
        content_type = "application/did+ld+json" if "@context" in doc else "application/did+json"
        return {
            "@context": DID_RESOLUTION_CONTEXT,
            "didDocument": doc,
            "didResolutionMetadata": {"contentType": content_type},
            "didDocumentMetadata": {},
        }

    async def close(self) -> None:
        if self._own_web and self._web is not None:
            await self._web.close()
            self._web = None

    async def __aenter__(self) -> Resolver:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
