"""Which key signed a JWT, and does it belong to the issuer the credential names?

A JWS names its key with ``kid`` (a DID URL, a URL, or a bare name) or carries it in ``jwk``.
Either way, a valid signature only proves "whoever holds this key signed"; the verifier must also
tie the key to the issuer. The ways we know, in order:

- ``kid`` is a DID URL: ``did:key`` is self-certifying; any other DID is resolved and the
  method must be listed under ``assertionMethod`` of its controller's document. The controller
  is the key's owner.
- the issuer is a DID: its document's ``assertionMethod`` keys belong to it.
- the issuer is an https URL: its controller document (``verificationMethod`` with
  ``publicKeyJwk`` or ``publicKeyMultibase``, VC-JOSE-COSE §4) and, failing that, the JWK Set at
  ``https://{authority}/.well-known/jwks.json`` (OB 3.0 implementation guide, "Key provenance").
- keys the caller trusts out of band (``trusted``: JWKs or verification methods).

A ``jwk`` in the header is only bound when one of those sources lists the same key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from joserfc.jwk import Key

from did_methods import errors as did_errors
from did_methods.document import find_verification_method, is_authorized, iter_verification_methods
from did_methods.protocol import DIDResolver
from vc_issuer.core import jose
from vc_issuer.core.jsonparse import FETCHED_LIMITS, parse_json_text
from vc_issuer.errors import (
    DIDResolutionError,
    InputTooLargeError,
    InvalidKeyError,
    IssuerKeysUnavailableError,
    JwtKeyNotFoundError,
    JwtKidMismatchError,
    ParsingError,
    ProofPurposeError,
    VCIssuerError,
    from_did_error,
)

JSON_ACCEPT = "application/did+json, application/ld+json, application/json;q=0.9"
JWKS_ACCEPT = "application/jwk-set+json, application/json;q=0.9"
ASSERTION = "assertionMethod"


class Fetched(Protocol):
    """What a fetch gives back (did_methods.fetch.FetchResult has these)."""

    @property
    def url(self) -> str: ...

    @property
    def body(self) -> bytes: ...

    @property
    def redirects(self) -> tuple[str, ...]: ...


class Fetcher(Protocol):
    """The HTTP client the edge injects (did_methods.fetch.SafeFetcher): https only, public
    addresses only unless allowed, capped. Raises did_methods errors (NotFound, Gone, ...)."""

    async def fetch(self, url: str, *, accept: str = ...) -> Fetched: ...


@dataclass(frozen=True)
class FoundKey:
    """A candidate key, where it came from, and whom it belongs to (None: nobody we know)."""

    key: Key
    source: str
    owner: str | None
    method: str | None = None
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class KeySearch:
    """Candidate keys, and why the issuer's own keys could not be consulted (if so)."""

    keys: list[FoundKey]
    unavailable: IssuerKeysUnavailableError | None = None


def _str_tuple(value: Any) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) and value else ()


def _is_did(value: str) -> bool:
    return value.startswith("did:")


class IssuerKeys:
    """Finds candidate keys for one token; fetched documents are kept for the object's life."""

    def __init__(
        self,
        resolver: DIDResolver,
        fetcher: Fetcher | None,
        *,
        trusted: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        self.resolver = resolver
        self.fetcher = fetcher
        self.trusted = list(trusted)
        self._published: dict[str, list[FoundKey]] = {}

    # --- the issuer's own keys ---------------------------------------------------------------

    async def published(self, issuer: str, relationship: str = ASSERTION) -> list[FoundKey]:
        """Keys ``issuer`` publishes for ``relationship`` (assertionMethod for credentials,
        authentication for presentations): DID document, https profile, JWKS."""
        cache_key = f"{relationship} {issuer}"
        if cache_key not in self._published:
            if issuer.startswith("did:key:"):  # self-certifying: no resolution needed
                key = jose.import_multikey(issuer.removeprefix("did:key:"))
                found = [FoundKey(key, f"did:key {issuer}", issuer)]
            elif _is_did(issuer):
                found = await self._did_keys(issuer, relationship)
            elif issuer.startswith("https://"):
                found = await self._https_keys(issuer, relationship)
            else:
                found = []
            self._published[cache_key] = found
        return self._published[cache_key]

    async def _did_keys(self, did: str, relationship: str) -> list[FoundKey]:
        try:
            doc = await self.resolver.resolve(did)
        except did_errors.DIDError as exc:
            raise from_did_error(exc) from exc
        return _keys_of_document(doc, did, f"DID document of {did}", relationship)

    async def _fetch_json(self, url: str, accept: str) -> Any:
        """The JSON at ``url``; None when the server says there is nothing (404, 410)."""
        if self.fetcher is None:
            raise IssuerKeysUnavailableError(f"fetching {url} is not allowed here")
        try:
            result = await self.fetcher.fetch(url, accept=accept)
        except did_errors.NotFound:
            return None
        except did_errors.DIDError as exc:
            raise IssuerKeysUnavailableError(f"could not fetch {url}: {exc.message}") from None
        try:
            return parse_json_text(result.body, FETCHED_LIMITS, what=url)
        except (ParsingError, InputTooLargeError) as exc:
            raise IssuerKeysUnavailableError(
                f"{url} did not answer usable JSON: {exc.detail}"
            ) from None

    async def _https_keys(self, issuer: str, relationship: str) -> list[FoundKey]:
        found: list[FoundKey] = []
        problems: list[str] = []
        try:
            doc = await self._fetch_json(issuer, JSON_ACCEPT)
            if isinstance(doc, Mapping) and doc.get("id") == issuer:
                found = _keys_of_document(doc, issuer, f"issuer profile {issuer}", relationship)
        except IssuerKeysUnavailableError as exc:
            problems.append(exc.detail)
        if found:
            return found
        parts = urlsplit(issuer)
        jwks_url = f"https://{parts.netloc}/.well-known/jwks.json"
        if relationship != ASSERTION:
            if problems:
                raise IssuerKeysUnavailableError(f"the keys of {issuer}: {problems[0]}")
            return found  # a JWK Set says nothing about authentication
        try:
            jwks = await self._fetch_json(jwks_url, JWKS_ACCEPT)
        except IssuerKeysUnavailableError as exc:
            problems.append(exc.detail)
            raise IssuerKeysUnavailableError(
                f"the keys of {issuer} could not be fetched: {'; '.join(problems)}"
            ) from None
        entries = jwks.get("keys") if isinstance(jwks, Mapping) else None
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, Mapping) or entry.get("iss", issuer) != issuer:
                continue  # OB 3.0 impl. guide: an entry with iss names its issuer
            try:
                key = jose.import_public_jwk(entry)
            except VCIssuerError:
                continue
            kid = entry.get("kid")
            found.append(FoundKey(key, f"JWK Set {jwks_url}", issuer, None, _str_tuple(kid)))
        return found

    # --- one token ---------------------------------------------------------------------------

    def _trusted(self) -> list[FoundKey]:
        out: list[FoundKey] = []
        for item in self.trusted:
            try:
                if "publicKeyJwk" in item or "publicKeyMultibase" in item:
                    key = jose.key_of_verification_method(item)
                    owner = item.get("controller")
                    method = item.get("id")
                    aliases = _str_tuple((item.get("publicKeyJwk") or {}).get("kid"))
                else:
                    key = jose.import_public_jwk(item)
                    owner, method, aliases = item.get("iss"), None, _str_tuple(item.get("kid"))
            except VCIssuerError:
                continue
            out.append(
                FoundKey(
                    key,
                    "trusted key set",
                    owner if isinstance(owner, str) else None,
                    method if isinstance(method, str) else None,
                    aliases,
                )
            )
        return out

    async def candidates(
        self, token: jose.Jws, issuer: str | None, relationship: str = ASSERTION
    ) -> KeySearch:
        """Keys that may have signed ``token``, best first; raises when there is none.

        Keys the caller trusts are tried before the issuer's published ones. A header ``jwk``
        that a source confirms takes that source's owner; an unconfirmed one comes back with
        owner None, so the signature can still be checked and the report says it is unbound.
        """
        header_key = jose.header_key(token)
        kid = token.kid
        if kid is not None and _is_did(kid):
            found = await self._by_did_url(kid, relationship)
            if header_key is not None and not jose.same_key(header_key, found.key):
                raise JwtKidMismatchError(
                    f"kid {kid} resolves to another key than the jwk in the header"
                )
            return KeySearch([found])
        selected = _select(self._trusted(), kid, header_key, issuer)
        if selected:
            return KeySearch(selected)
        unavailable: IssuerKeysUnavailableError | None = None
        if issuer is not None:
            try:
                published = await self.published(issuer, relationship)
                selected = _select(published, kid, header_key, issuer)
            except IssuerKeysUnavailableError as exc:
                unavailable = exc
            except DIDResolutionError as exc:
                unavailable = IssuerKeysUnavailableError(
                    f"the DID document of {issuer} could not be resolved: {exc.detail}"
                )
        if selected:
            return KeySearch(selected)
        if header_key is not None:
            return KeySearch([FoundKey(header_key, "jwk header", None)], unavailable)
        if unavailable is not None:
            raise unavailable
        if kid is not None:
            raise JwtKeyNotFoundError(f"kid {kid!r} names no key of the issuer {issuer}")
        raise JwtKeyNotFoundError("the token has no kid or jwk and its issuer publishes no key")

    async def _by_did_url(self, kid: str, relationship: str) -> FoundKey:
        did_key = jose.did_key_from_kid(kid)
        if did_key is not None:
            did, key = did_key
            return FoundKey(key, f"did:key {did}", did, f"{did}#{did.removeprefix('did:key:')}")
        did, _sep, fragment = kid.partition("#")
        try:
            doc = await self.resolver.resolve(did)
        except did_errors.DIDError as exc:
            raise from_did_error(exc) from exc
        if fragment:
            vm = find_verification_method(doc, kid)
        else:  # a bare DID (walt.id): its first assertion method
            vms = iter_verification_methods(doc)
            vm = next((v for v in vms if is_authorized(doc, v["id"], relationship)), None)
        if vm is None:
            raise JwtKeyNotFoundError(f"no verification method {kid} in the document of {did}")
        if not is_authorized(doc, vm["id"], relationship):
            raise ProofPurposeError(f"{vm['id']} is not listed under {relationship} of {did}")
        controller = vm.get("controller", did)
        if controller != did:
            raise JwtKidMismatchError(f"{vm['id']} is controlled by {controller}, not {did}")
        return FoundKey(
            jose.key_of_verification_method(vm), f"DID document of {did}", did, vm["id"]
        )


def _select(
    pool: list[FoundKey], kid: str | None, header_key: Key | None, issuer: str | None
) -> list[FoundKey]:
    """The keys of ``pool`` the token points at (by kid, by its jwk), or all when it names none."""
    if kid is not None:
        named = [k for k in pool if _names(k, kid, issuer)]
        if header_key is not None and named:
            same = [k for k in named if jose.same_key(header_key, k.key)]
            if not same:
                raise JwtKidMismatchError(f"kid {kid} names another key than the header jwk")
            return same
        if named or header_key is None:
            return named
    if header_key is not None:
        return [k for k in pool if jose.same_key(header_key, k.key)]
    return pool


def _names(found: FoundKey, kid: str, issuer: str | None) -> bool:
    """Does ``kid`` name this key: its method id (absolute, or a fragment of the issuer's
    document), its JWK ``kid``, or its RFC 7638 thumbprint (the VC-JOSE-COSE suite's kids)."""
    names = {n for n in (found.method, *found.aliases) if n}
    if kid in names or (issuer is not None and f"{issuer}#{kid.lstrip('#')}" in names):
        return True
    return kid == jose.thumbprint(found.key)


def _keys_of_document(
    doc: Mapping[str, Any], owner: str, source: str, relationship: str
) -> list[FoundKey]:
    """Keys of a DID or controller document authorized for ``relationship``."""
    out: list[FoundKey] = []
    try:
        methods = list(iter_verification_methods(doc))
    except did_errors.DIDError:
        return out
    for vm in methods:
        try:
            if not is_authorized(doc, vm["id"], relationship):
                continue
        except did_errors.DIDError:
            continue
        if vm.get("controller", owner) != owner:
            continue
        try:
            key = jose.key_of_verification_method(vm)
        except InvalidKeyError:
            continue
        jwk = vm.get("publicKeyJwk")
        alias = jwk.get("kid") if isinstance(jwk, Mapping) else None
        aliases = (alias,) if isinstance(alias, str) else ()
        out.append(FoundKey(key, source, owner, vm["id"], aliases))
    return out


__all__ = ["Fetched", "Fetcher", "FoundKey", "IssuerKeys", "KeySearch"]
