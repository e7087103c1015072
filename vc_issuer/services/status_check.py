"""The verifier's status checker: dereference, verify, cache and read status list credentials.

Network, proof verification, clock and cache are injected so the checking logic stays testable
and the verifier decides how lists are fetched (did:web address rules, timeouts, size caps).
A list is cached only after its proof verified and its bits decoded, so a cached check costs a
dictionary lookup; HTTP freshness follows Cache-Control/Expires and the list's ``ttl``, and stale
entries are revalidated with If-None-Match / If-Modified-Since.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from did_methods.errors import DIDError
from did_methods.protocol import DIDResolver
from vc_issuer.core.credentials import parse_xml_datetime, utcnow
from vc_issuer.core.jsonld import ContextLoader
from vc_issuer.core.proofs import verify_proofs
from vc_issuer.core.resolver import default_resolver
from vc_issuer.core.status import (
    BSL_MIN_BITS,
    LIST_TYPES,
    MAX_BITS,
    MESSAGE,
    Bitstring,
    StatusEntry,
    decode,
    edtech_list_url,
    edtech_revocation,
    is_edtech_revocation_entry,
    parse_credential_status,
    status_hex,
)
from vc_issuer.errors import (
    EXIT_ENVIRONMENT,
    CredentialRevokedError,
    CredentialStatusMessageError,
    CredentialSuspendedError,
    IssuerMismatchError,
    MalformedInputError,
    ProofError,
    StatusError,
    StatusLimitExceededError,
    StatusListLengthError,
    StatusRangeError,
    StatusRetrievalError,
    VCIssuerError,
)

if TYPE_CHECKING:
    from did_methods.fetch import SafeFetcher
    from vc_issuer.services.verifier import Check

FetchResult = tuple[int, Mapping[str, str], bytes]
Fetch = Callable[[str, Mapping[str, str]], Awaitable[FetchResult]]
"""``fetch(url, request_headers) -> (status, response_headers, body)``; raise on network errors."""
VerifyList = Callable[[dict[str, Any]], Awaitable[object]]
"""Verify a list credential's proof: raise a VCIssuerError, or return False / a result whose
``verified`` attribute is False, to reject it."""
Clock = Callable[[], datetime]

MAX_LIST_BYTES = 1 << 20
ACCEPT = "application/vc+ld+json, application/vc, application/ld+json;q=0.9, application/json;q=0.8"


# --- results -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusResult:
    """The outcome for one ``credentialStatus`` entry."""

    name: str
    passed: bool
    code: str | None = None
    detail: str | None = None
    entry: StatusEntry | None = None
    value: int | None = None

    @property
    def message(self) -> str | None:
        """The entry's ``statusMessage`` for the value read (multi-bit entries)."""
        if self.entry is None or self.value is None:
            return None
        return self.entry.message_for(self.value)

    def to_check(self) -> Check:
        from vc_issuer.services.verifier import Check

        # a list that could not be fetched is the environment's failure (exit code 3)
        exit_code = EXIT_ENVIRONMENT if self.code == StatusRetrievalError.code else None
        data: dict[str, Any] = {}
        if (
            self.entry is not None
            and self.value is not None
            and (self.entry.status_size > 1 or self.entry.messages)
        ):
            data["status"] = {"value": status_hex(self.value), "size": self.entry.status_size}
            if self.message is not None:
                data["status"]["message"] = self.message
        return Check(self.name, self.passed, self.code, self.detail, exit_code, data=data)


# --- HTTP ----------------------------------------------------------------------------------------


class SafeFetch:
    """``fetch`` over the safe HTTP fetcher (https only, public addresses unless
    ``allow_private``, plain http only to loopback, timeouts, a streamed size cap).

    The fetcher is injected (one per process, shared with DID resolution; its owner closes it)
    or, when none is given, made here on first use and closed by :meth:`close`: importing this
    module loads no HTTP stack.
    """

    def __init__(
        self,
        fetcher: SafeFetcher | None = None,
        *,
        allow_private: bool = False,
        max_bytes: int = MAX_LIST_BYTES,
    ) -> None:
        self._fetcher = fetcher
        self._owned: SafeFetcher | None = None
        self._allow_private = allow_private
        self._max_bytes = max_bytes

    def _get(self) -> SafeFetcher:
        if self._fetcher is None:
            from did_methods.fetch import SafeFetcher

            self._fetcher = self._owned = SafeFetcher(
                allow_private=self._allow_private, max_bytes=self._max_bytes
            )
        return self._fetcher

    async def __call__(self, url: str, headers: Mapping[str, str]) -> FetchResult:
        result = await self._get().fetch(url, headers=headers, accept=ACCEPT)
        return result.status, result.headers, result.body

    async def close(self) -> None:
        if self._owned is not None:
            await self._owned.close()


# --- cache ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class CachedList:
    """A status list credential whose proof verified and whose bits decoded."""

    url: str
    credential: dict[str, Any]
    bits: Bitstring
    digest: str
    fresh_until: datetime
    etag: str | None = None
    last_modified: str | None = None


MAX_CACHE_BYTES = 64 * 1024 * 1024
"""Status lists kept per checker (decoded bits + the list credential's JSON)."""
MAX_STATUS_ENTRIES = 8
"""Status entries one credential may carry (each is checked)."""
MAX_STATUS_LISTS = 4
"""Distinct status lists one credential may reference (each is fetched, verified, kept)."""


def cached_size(item: CachedList) -> int:
    """Bytes a cached list holds: its bits, and its credential (the encoded list dominates)."""
    return len(item.bits) // 8 + len(json.dumps(item.credential, separators=(",", ":")))


@dataclass
class StatusListCache:
    """In-memory LRU of verified status lists, shared across checks (and checkers)."""

    max_entries: int = 256
    max_bytes: int = MAX_CACHE_BYTES
    """Bytes of decoded bits plus list credentials kept (caller input picks the lists)."""
    _items: OrderedDict[str, CachedList] = field(default_factory=OrderedDict)
    _sizes: dict[str, int] = field(default_factory=dict)
    size_bytes: int = 0

    def get(self, url: str) -> CachedList | None:
        item = self._items.get(url)
        if item is not None:
            self._items.move_to_end(url)
        return item

    def put(self, item: CachedList) -> None:
        size = cached_size(item)
        if size > self.max_bytes:
            return  # larger than the whole cache: checked, not kept
        self.discard(item.url)
        self._items[item.url] = item
        self._sizes[item.url] = size
        self.size_bytes += size
        while len(self._items) > self.max_entries or self.size_bytes > self.max_bytes:
            url, _ = self._items.popitem(last=False)
            self.size_bytes -= self._sizes.pop(url, 0)

    def discard(self, url: str) -> None:
        if self._items.pop(url, None) is not None:
            self.size_bytes -= self._sizes.pop(url, 0)

    def clear(self) -> None:
        self._items.clear()
        self._sizes.clear()
        self.size_bytes = 0

    def __len__(self) -> int:
        return len(self._items)


def _cache_control(headers: Mapping[str, str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for part in headers.get("cache-control", "").split(","):
        name, _, value = part.strip().partition("=")
        if name:
            out[name.lower()] = value.strip().strip('"') or None
    return out


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(int(value or "")))
    except ValueError:
        return None


def freshness_lifetime(
    headers: Mapping[str, str], ttl_ms: object, now: datetime, default: float
) -> float | None:
    """Seconds a response may be reused without revalidation; None when it must not be stored.

    The stricter of HTTP's lifetime (Cache-Control max-age, else Expires) and the list's ``ttl``.
    """
    cc = _cache_control(headers)
    if "no-store" in cc:
        return None
    lifetimes: list[float] = []
    if "no-cache" in cc:
        lifetimes.append(0.0)
    elif (max_age := _seconds(cc.get("max-age"))) is not None:
        age = _seconds(headers.get("age")) or 0.0
        lifetimes.append(max(0.0, max_age - age))
    elif "expires" in headers:
        try:
            expires = parsedate_to_datetime(headers["expires"])
            lifetimes.append(max(0.0, (expires - now).total_seconds()))
        except (TypeError, ValueError):
            lifetimes.append(0.0)  # an invalid Expires means "already expired" (RFC 9111)
    if isinstance(ttl_ms, int | float) and not isinstance(ttl_ms, bool) and ttl_ms >= 0:
        lifetimes.append(ttl_ms / 1000.0)
    return min(lifetimes) if lifetimes else default


# --- the checker ---------------------------------------------------------------------------------


def _issuer_id(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _types(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [t for t in value if isinstance(t, str)]
    return []


def _parse_time(value: object, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_xml_datetime(value, name, require_timezone=False)
    except MalformedInputError as exc:
        raise StatusError(f"status list {exc.detail}") from None


def proof_verifier(
    resolver: DIDResolver | None = None,
    *,
    loader: ContextLoader | None = None,
    allow_private: bool = False,
    now: Clock | None = None,
) -> VerifyList:
    """The default ``verify_list``: every proof verifies and its key belongs to the list's issuer.

    Proof-only on purpose: the checker itself validates the list's shape, dates and purpose.
    """

    async def verify(vc: dict[str, Any]) -> bool:
        res = resolver if resolver is not None else default_resolver(allow_private=allow_private)
        try:
            checks = await verify_proofs(vc, resolver=res, loader=loader, now=now)
        finally:
            if resolver is None:
                await _close_resolver(res)
        issuer = _issuer_id(vc.get("issuer"))
        for check in checks:
            if check.error is not None:
                raise check.error
            if not check.verified:
                raise ProofError("a status list proof does not verify")
            if check.controller != issuer:
                raise IssuerMismatchError(
                    f"status list signed by {check.controller}, not by its issuer {issuer}"
                )
        return bool(checks)

    return verify


def credential_verifier(
    resolver: DIDResolver | None = None,
    *,
    loader: ContextLoader | None = None,
    allow_private: bool = False,
    now: Clock | None = None,
) -> VerifyList:
    """The default ``verify_list``: the full credential verifier (structure, proofs, issuer =
    key controller, validity), without status (a list has none, and this must not recurse)."""

    async def verify(vc: dict[str, Any]) -> object:
        from vc_issuer.services.verifier import verify_credential

        return await verify_credential(
            vc, resolver=resolver, loader=loader, now=now, allow_private_hosts=allow_private
        )

    return verify


async def _close_resolver(resolver: object) -> None:
    close = getattr(resolver, "close", None)
    if close is not None:
        outcome = close()
        if asyncio.iscoroutine(outcome):
            await outcome


def _too_many(items: list[Any]) -> StatusLimitExceededError | None:
    """The entry and distinct-list caps, checked before anything is fetched."""
    if len(items) > MAX_STATUS_ENTRIES:
        return StatusLimitExceededError(
            f"the credential has {len(items)} status entries; at most {MAX_STATUS_ENTRIES} "
            "are checked",
            limit=MAX_STATUS_ENTRIES,
        )
    urls = {
        str(e.get("statusListCredential") or e.get("id")) for e in items if isinstance(e, Mapping)
    }
    if len(urls) > MAX_STATUS_LISTS:
        return StatusLimitExceededError(
            f"the credential references {len(urls)} status lists; at most {MAX_STATUS_LISTS}",
            limit=MAX_STATUS_LISTS,
        )
    return None


class StatusListChecker:
    """Checks every status-list entry of a credential (the verifier's status seam)."""

    def __init__(
        self,
        *,
        fetch: Fetch | None = None,
        fetcher: SafeFetcher | None = None,
        verify_list: VerifyList | None = None,
        now: Clock | None = None,
        cache: StatusListCache | None = None,
        allow_private: bool = False,
        max_bits: int = MAX_BITS,
        bsl_min_bits: int = BSL_MIN_BITS,
        default_max_age: float = 0.0,
        max_freshness: float = 86_400.0,
    ) -> None:
        self._owned_fetch: SafeFetch | None = None
        if fetch is None:
            fetch = self._owned_fetch = SafeFetch(fetcher, allow_private=allow_private)
        self.fetch: Fetch = fetch
        self.verify_list: VerifyList = verify_list or credential_verifier(
            allow_private=allow_private, now=now
        )
        self.now: Clock = now or utcnow
        self.cache = cache if cache is not None else StatusListCache()
        self.max_bits = max_bits
        self.bsl_min_bits = bsl_min_bits
        self.default_max_age = default_max_age
        self.max_freshness = max_freshness
        self._inflight: dict[str, asyncio.Future[CachedList]] = {}

    async def close(self) -> None:
        """Close the default fetcher's HTTP session (an injected fetch is the caller's)."""
        if self._owned_fetch is not None:
            await self._owned_fetch.close()

    async def __aenter__(self) -> StatusListChecker:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def check(self, credential: Mapping[str, Any]) -> list[Check]:
        """Verifier seam: one Check per entry (none when the credential has no status)."""
        return [r.to_check() for r in await self.check_entries(credential)]

    async def check_entries(self, credential: Mapping[str, Any]) -> list[StatusResult]:
        if "credentialStatus" not in credential:
            return []
        raw = credential["credentialStatus"]
        items = raw if isinstance(raw, list) else [raw]
        too_many = _too_many(items)
        if too_many is not None:
            return [StatusResult("status", False, too_many.code, too_many.detail)]
        edtech = [e for e in items if is_edtech_revocation_entry(e)]
        others = [e for e in items if not is_edtech_revocation_entry(e)]
        results = [await self._check_edtech(e, credential) for e in edtech]
        if edtech and not others:
            return results
        try:
            entries = parse_credential_status(others if isinstance(raw, list) else others[0])
        except MalformedInputError as exc:
            return [*results, StatusResult("status", False, exc.code, exc.detail)]
        issuer = _issuer_id(credential.get("issuer"))
        # one load per list URL, even when several entries point at it
        loads = {
            url: asyncio.ensure_future(self.load_list(url)) for url in {e.list_url for e in entries}
        }
        return results + list(
            await asyncio.gather(*(self._check_one(e, issuer, loads[e.list_url]) for e in entries))
        )

    async def _check_edtech(
        self, entry: Mapping[str, Any], credential: Mapping[str, Any]
    ) -> StatusResult:
        """A ``1EdTechRevocationList`` entry: GET the list (plain JSON, unsigned, as the 1EdTech
        validator reads it) and look for the credential's id. A list that cannot be fetched is
        a failed check (STATUS_RETRIEVAL_ERROR), as for the other status types, where the
        1EdTech validator only warns: a verifier must not call a badge valid unchecked."""
        name = "status:revocation"
        credential_id = credential.get("id")
        try:
            url = edtech_list_url(entry)
            if not isinstance(credential_id, str):
                raise StatusError("a credential without an id cannot be found in a revocation list")
            status, _headers, body = await self._fetch(url, {"Accept": "application/json"})
            if status != 200:
                raise StatusRetrievalError(f"revocation list {url} answered HTTP {status}", url=url)
            try:
                document = json.loads(body)
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise StatusRetrievalError(f"revocation list {url} is not JSON", url=url) from None
            revoked = edtech_revocation(document, credential_id)
        except VCIssuerError as exc:
            return StatusResult(name, False, exc.code, exc.detail)
        if revoked is not None:
            reason = revoked.get("revocationReason")
            why = f": {reason}" if isinstance(reason, str) else ""
            detail = "the credential is revoked" + why
            return StatusResult(name, False, "CREDENTIAL_REVOKED", detail)
        return StatusResult(name, True, None, f"not revoked (1EdTech revocation list {url})")

    async def _check_one(
        self, entry: StatusEntry, issuer: str | None, load: Awaitable[CachedList]
    ) -> StatusResult:
        name = f"status:{entry.purpose}"
        try:
            value = self.read_status(await load, entry, issuer)
        except VCIssuerError as exc:
            return StatusResult(name, False, exc.code, exc.detail, entry)
        said = entry.message_for(value)
        shown = status_hex(value) + (f" ({said})" if said is not None else "")
        if value and entry.purpose == "revocation":
            return StatusResult(
                name, False, CredentialRevokedError.code, "the credential is revoked", entry, value
            )
        if value and entry.purpose == "suspension":
            return StatusResult(
                name,
                False,
                CredentialSuspendedError.code,
                "the credential is suspended",
                entry,
                value,
            )
        if value and entry.purpose == MESSAGE:
            # Validate Algorithm: "If status is 0, set valid to true; otherwise ... false"
            return StatusResult(
                name,
                False,
                CredentialStatusMessageError.code,
                f"message status {shown}",
                entry,
                value,
            )
        labels = {"revocation": "not revoked", "suspension": "not suspended"}
        detail = labels.get(entry.purpose, f"{entry.purpose} status {shown}")
        return StatusResult(name, True, None, detail, entry, value)

    async def status_value(self, entry: StatusEntry, issuer: str | None) -> int:
        """The entry's status value; raises a StatusError subclass with the spec's code."""
        return self.read_status(await self.load_list(entry.list_url), entry, issuer)

    def read_status(self, cached: CachedList, entry: StatusEntry, issuer: str | None) -> int:
        """Check a loaded list against the entry and the credential's issuer; read the value."""
        vc = cached.credential
        cred_type, list_type = LIST_TYPES[entry.format]
        if cred_type not in _types(vc.get("type")):
            raise StatusError(f"status list is not a {cred_type}", url=entry.list_url)
        subject = vc.get("credentialSubject")
        if not isinstance(subject, Mapping) or list_type not in _types(subject.get("type")):
            raise StatusError(f"status list subject is not a {list_type}", url=entry.list_url)
        list_issuer = _issuer_id(vc.get("issuer"))
        if issuer is None or list_issuer != issuer:
            raise StatusError(
                f"status list issuer {list_issuer!r} is not the credential issuer {issuer!r}",
                url=entry.list_url,
            )
        purposes = _types(subject.get("statusPurpose"))
        if entry.purpose not in purposes:
            raise StatusError(
                f"status list purpose {purposes} does not match the entry's {entry.purpose!r}",
                url=entry.list_url,
            )
        self._check_validity(vc)
        # Validate Algorithm: the bitstring's length divided by statusSize is the number of
        # entries, and that must reach the minimum (131,072 entries)
        entries = len(cached.bits) // entry.status_size
        if entry.format == "bsl" and entries < self.bsl_min_bits:
            raise StatusListLengthError(
                f"status list has {entries} entries of {entry.status_size} bit(s), fewer than"
                f" {self.bsl_min_bits}",
                url=entry.list_url,
            )
        if entry.bit_position + entry.status_size > len(cached.bits):
            raise StatusRangeError(
                f"status index {entry.index} is outside a list of "
                f"{len(cached.bits) // entry.status_size} entries",
                url=entry.list_url,
            )
        return cached.bits.get_status(entry.index, entry.status_size)

    def _check_validity(self, vc: Mapping[str, Any]) -> None:
        now = self.now()
        start = _parse_time(vc.get("validFrom", vc.get("issuanceDate")), "validFrom")
        end = _parse_time(vc.get("validUntil", vc.get("expirationDate")), "validUntil")
        if start is not None and now < start:
            raise StatusError("status list credential is not valid yet")
        if end is not None and now >= end:
            raise StatusError("status list credential has expired (validUntil passed)")

    async def load_list(self, url: str) -> CachedList:
        """The verified, decoded list at ``url``: from cache when fresh, else (re)fetched.

        Concurrent callers share one in-flight load per URL (no thundering herd on expiry).
        """
        cached = self.cache.get(url)
        if cached is not None and self.now() < cached.fresh_until:
            return cached
        flight = self._inflight.get(url)
        if flight is None:
            flight = asyncio.ensure_future(self._load(url, cached))
            self._inflight[url] = flight
            flight.add_done_callback(lambda _f: self._inflight.pop(url, None))
        return await asyncio.shield(flight)

    async def _load(self, url: str, cached: CachedList | None) -> CachedList:
        now = self.now()
        headers = {"Accept": ACCEPT}
        if cached is not None and cached.etag:
            headers["If-None-Match"] = cached.etag
        if cached is not None and cached.last_modified:
            headers["If-Modified-Since"] = cached.last_modified
        status, resp_headers, body = await self._fetch(url, headers)
        resp_headers = {k.lower(): v for k, v in resp_headers.items()}
        if status == 304 and cached is not None:
            self._refresh(cached, resp_headers, now)
            return cached
        if status != 200:
            raise StatusRetrievalError(f"status list {url} answered HTTP {status}", url=url)
        return await self._admit(url, body, resp_headers, cached, now)

    async def _fetch(self, url: str, headers: Mapping[str, str]) -> FetchResult:
        try:
            return await self.fetch(url, headers)
        except StatusRetrievalError:
            raise
        except VCIssuerError as exc:
            raise StatusRetrievalError(f"could not fetch {url}: {exc.detail}", url=url) from None
        except (OSError, TimeoutError, ValueError) as exc:
            raise StatusRetrievalError(f"could not fetch {url}: {exc}", url=url) from None
        except DIDError as exc:
            raise StatusRetrievalError(
                f"could not fetch {url}: {exc.message}", url=url, cause=exc.code
            ) from None

    def _refresh(self, item: CachedList, headers: Mapping[str, str], now: datetime) -> None:
        """Freshness and validators from a response; cached only when the response is storable."""
        ttl = item.credential["credentialSubject"].get("ttl")
        lifetime = freshness_lifetime(headers, ttl, now, self.default_max_age)
        item.fresh_until = now + timedelta(seconds=min(lifetime or 0.0, self.max_freshness))
        item.etag = headers.get("etag", item.etag)
        item.last_modified = headers.get("last-modified", item.last_modified)
        if lifetime is None:
            self.cache.discard(item.url)
        else:
            self.cache.put(item)

    async def _admit(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        previous: CachedList | None,
        now: datetime,
    ) -> CachedList:
        if len(body) > MAX_LIST_BYTES:
            raise StatusRetrievalError(
                f"status list is larger than {MAX_LIST_BYTES} bytes", url=url
            )
        try:
            vc = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StatusRetrievalError(
                f"status list at {url} is not JSON: {exc}", url=url
            ) from None
        if not isinstance(vc, dict) or "VerifiableCredential" not in _types(vc.get("type")):
            raise StatusError(f"the document at {url} is not a verifiable credential", url=url)
        subject = vc.get("credentialSubject")
        if not isinstance(subject, dict) or not isinstance(subject.get("encodedList"), str):
            raise StatusError(f"the credential at {url} is not a status list", url=url)
        if isinstance(vc.get("id"), str) and vc["id"] != url.split("#", 1)[0]:
            raise StatusError(f"status list id {vc['id']!r} is not its URL {url!r}", url=url)
        digest = hashlib.sha256(body).hexdigest()
        if previous is not None and previous.digest == digest:
            item = previous  # same bytes: already verified and decoded
            item.etag = item.last_modified = None  # only this response's validators count
        else:
            await self._verify(vc, url)
            try:
                bits = decode(subject["encodedList"], max_bits=self.max_bits)
            except StatusError as exc:
                raise type(exc)(exc.detail, url=url) from None
            item = CachedList(url, vc, bits, digest, now)
        self._refresh(item, headers, now)
        return item

    async def _verify(self, vc: dict[str, Any], url: str) -> None:
        try:
            result = await self.verify_list(vc)
        except VCIssuerError as exc:
            raise StatusError(
                f"status list credential does not verify: {exc.code}: {exc.detail}", url=url
            ) from None
        verified = getattr(result, "verified", result)
        if verified is False:
            failed = [
                f"{c.code}: {c.detail}"
                for c in getattr(result, "checks", [])
                if not getattr(c, "passed", True)
            ]
            reason = "; ".join(failed) or "rejected"
            raise StatusError(f"status list credential does not verify: {reason}", url=url)
