"""The issuer: turn an unsigned credential into a signed, stored credential with status entries.

All I/O goes through the injected ``Store``; the key, clock, random source and context loader are
injected too, so the pipeline is testable end to end with a real store and no network.

Choices worth knowing:

* The issuer of every credential is this issuer's DID. An ``issuer`` object keeps its other
  fields (an Open Badges ``Profile``); an ``issuer`` naming anybody else is refused
  (``FOREIGN_ISSUER``): we never sign in somebody else's name.
* A credential that brings its own ``credentialStatus`` keeps it and gets no status from us (the
  caller manages that status elsewhere). Any typed status object is kept; entries of the types
  we manage (Bitstring Status List, StatusList2021) are checked strictly, and one pointing at
  *our* status lists is refused: indices are only handed out by the store, never by a caller.
* Status by default: a VC 2.0 credential gets an entry per configured purpose. A VC 1.1
  credential gets StatusList2021 entries (and that context) only when asked for (``status=True``,
  explicit purposes, or ``vc11_status``): a default issue stays expandable with the contexts the
  caller sent.
* Multi-bit status (purpose ``message``): ``statusSize`` bits per entry, one ``statusMessage``
  per value, as configured in ``status_messages``; an entry is ``statusSize`` consecutive bits
  of a list ``statusSize`` times as long (the spec's minimum counts entries, not bits).
* Revocation is permanent; suspension can be lifted. Revoking twice, suspending twice and
  reinstating a credential that is not suspended are no-ops (no second audit row).
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal, TypedDict, Unpack

from vc_issuer.core import jose, work
from vc_issuer.core.credentials import (
    Version,
    check_context,
    check_links,
    format_datetime,
    parse_xml_datetime,
    utcnow,
    validate_credential,
    validity_period,
)
from vc_issuer.core.jsonld import ContextLoader
from vc_issuer.core.keyring import Keyring
from vc_issuer.core.keys import SigningKey
from vc_issuer.core.proofs import sign
from vc_issuer.core.related import ResourceBytes, check_related_digests, pinned_resources
from vc_issuer.core.status import (
    BSL_MIN_BITS,
    MESSAGE,
    SL2021_CONTEXT,
    Bitstring,
    StatusMessages,
    bsl_entry,
    bsl_list_credential,
    parse_credential_status,
    sl2021_entry,
    sl2021_list_credential,
    status_hex,
)
from vc_issuer.core.suites import (
    ECDSA_RDFC_2019,
    ED25519_SIGNATURE_2020,
    EDDSA_RDFC_2022,
    suite_by_name,
)
from vc_issuer.errors import (
    ConfigError,
    ConflictError,
    CredentialNotDeliverableError,
    ForeignIssuerError,
    IdempotencyKeyReusedError,
    InvalidKeyError,
    MalformedInputError,
    NoStatusEntryError,
    NotFoundError,
    UnknownSuiteError,
    VCIssuerError,
    WorkBudgetExceededError,
)
from vc_issuer.services.jsonview import camel_fields
from vc_issuer.store import Attached, CredentialRecord, StatusListRecord, Store

log = logging.getLogger(__name__)

REVOCATION: Final = "revocation"
SUSPENSION: Final = "suspension"
PURPOSES: Final[tuple[str, ...]] = (REVOCATION, SUSPENSION)
"""The one-bit purposes (revoke, suspend, reinstate)."""
ALL_PURPOSES: Final[tuple[str, ...]] = (*PURPOSES, MESSAGE)
BSL_KIND: Final = "BitstringStatusList"
SL2021_KIND: Final = "StatusList2021"
SUITE_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "both": (EDDSA_RDFC_2022.name, ED25519_SIGNATURE_2020.name),
}
LIST_PATH: Final = "/status-lists/"
LIST_ID_KEY: Final = "statusListId"
"""Key added to the stored status entries (not to the credential): the store's list id."""
DEFAULT_ACTOR: Final = "issuer"
DEFAULT_INDEX_RESERVE: Final = 32
"""Indices allocated ahead per list kind and purpose (at most this many unused after a crash)."""
STORE_CHUNK: Final = 50  # records per transaction in issue_many: commits overlap signing
SECURING: Final[tuple[str, ...]] = ("ldp", "jwt")
SecuredAs = Literal["ldp", "jwt"]
"""How a credential is secured: an embedded Data Integrity proof (``ldp``), or a JWS (``jwt``:
VC 2.0 as ``application/vc+jwt``, VC 1.1 as a VC-JWT with a ``vc`` claim), stored and returned
as an EnvelopedVerifiableCredential whose ``id`` is the ``data:`` URL of the token."""


@dataclass(frozen=True)
class Securing:
    """How what is issued is secured, for callers that issue on someone's behalf (awards):
    an embedded proof with ``suites`` (None: the default), or a JWS (``jwt``) with ``alg``;
    ``key`` names one of the issuer's keys. Checked against the issuer's keys at issue time."""

    secured_as: SecuredAs = "ldp"
    suites: tuple[str, ...] | None = None
    key: str | None = None
    alg: str | None = None

    def __post_init__(self) -> None:
        if self.secured_as not in SECURING:
            raise MalformedInputError(f"format must be one of {', '.join(SECURING)}")
        if self.secured_as == "jwt" and self.suites:
            raise MalformedInputError("a JWT is secured by its JWS: it takes no proof suite")
        if self.secured_as == "ldp" and self.alg is not None:
            raise MalformedInputError("alg applies to JWTs; a Data Integrity proof has a suite")

    def options(self) -> dict[str, Any]:
        """Keyword arguments of :meth:`Issuer.issue` / :meth:`Issuer.issue_many`."""
        return {
            "secured_as": self.secured_as,
            "suites": list(self.suites) if self.suites else None,
            "key": self.key,
            "alg": self.alg,
        }


@dataclass(frozen=True)
class StatusChange:
    """The outcome of a status change; ``changed`` is False for an idempotent repeat.

    One-bit purposes report ``old``/``new`` as booleans; a multi-bit entry (``message``) as
    ``0x`` strings, with the entry's message for the new value.
    """

    credential_id: str
    purpose: str
    old: bool | int
    new: bool | int
    list_id: str
    index: int
    status_size: int = 1
    message: str | None = None

    @property
    def changed(self) -> bool:
        return self.old != self.new

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            **camel_fields(self, "credential_id", "purpose", "old", "new", "changed"),
            "statusListId": self.list_id,
            "statusListIndex": str(self.index),
        }
        if self.status_size > 1:
            out["old"], out["new"] = status_hex(int(self.old)), status_hex(int(self.new))
            out["statusSize"] = self.status_size
            if self.message is not None:
                out["message"] = self.message
        return out


@dataclass
class _Prepared:
    """A credential ready for status entries and signing."""

    credential: dict[str, Any]
    version: Version
    purposes: tuple[str, ...]
    suites: tuple[str, ...]
    idempotency_key: str | None
    issued_at: datetime
    secured_as: SecuredAs = "ldp"
    signers: tuple[SigningKey, ...] = ()
    """The key of each suite (``ldp``), or the one JWS key (``jwt``)."""


def resolve_suites(suites: Sequence[str] | str | None, default: str) -> tuple[str, ...]:
    """Suite names (``both`` expands to eddsa-rdfc-2022 + Ed25519Signature2020), validated."""
    if suites is None:
        names: list[str] = [default]
    elif isinstance(suites, str):
        names = [suites]
    else:
        names = list(suites)
    out: list[str] = []
    for name in names:
        for real in SUITE_ALIASES.get(name, (name,)):
            try:
                suite_by_name(real)
            except VCIssuerError:
                raise UnknownSuiteError(
                    f"unknown suite {real!r}; use eddsa-rdfc-2022, eddsa-jcs-2022,"
                    " ecdsa-rdfc-2019, ecdsa-jcs-2019, ecdsa-sd-2023, Ed25519Signature2020"
                    " or both",
                ) from None
            if real not in out:
                out.append(real)
    if not out:
        raise MalformedInputError("at least one proof suite is needed")
    return tuple(out)


def _check_purposes(purposes: Sequence[str], *, message: bool = False) -> tuple[str, ...]:
    """Known purposes, once each; ``message`` only when the issuer has status messages."""
    if isinstance(purposes, str):
        purposes = [purposes]
    out = tuple(dict.fromkeys(purposes))
    known = ALL_PURPOSES if message else PURPOSES
    bad = [p for p in out if p not in known]
    if bad:
        hint = "" if message or MESSAGE not in bad else " (message needs status_messages)"
        raise MalformedInputError(
            f"unknown status purpose(s) {bad}; expected {list(known)}{hint}",
            field="statusPurpose",
        )
    return out


def _subject_id(credential: Mapping[str, Any]) -> str | None:
    subject = credential.get("credentialSubject")
    first = subject[0] if isinstance(subject, list) and subject else subject
    if isinstance(first, Mapping) and isinstance(first.get("id"), str):
        return str(first["id"])
    return None


def _types(credential: Mapping[str, Any]) -> list[str]:
    t = credential.get("type")
    return [t] if isinstance(t, str) else [x for x in (t or []) if isinstance(x, str)]


def _record(
    p: _Prepared,
    credential: dict[str, Any],
    entries: list[dict[str, Any]],
    *,
    stored: dict[str, Any],
) -> CredentialRecord:
    """The record of a secured ``credential``; ``stored`` is what the caller gets back (the
    signed document, or a JWS's envelope). Without allocated ``entries``, the credential's own
    credentialStatus is kept, so it can still be looked up."""
    start, end = validity_period(credential, p.version)
    if not entries and "credentialStatus" in credential:
        raw = credential["credentialStatus"]
        entries = copy.deepcopy(raw if isinstance(raw, list) else [raw])
    return CredentialRecord(
        id=str(credential["id"]),
        subject_id=_subject_id(credential),
        types=_types(credential),
        issued_at=p.issued_at,
        valid_from=start,
        valid_until=end,
        status_entries=entries,
        credential=stored,
        idempotency_key=p.idempotency_key,
    )


class _IndexPool:
    """Indices reserved ahead for one (kind, purpose): one allocation transaction serves many
    issues. Reserved indices are marked allocated in the store, so a crash only leaves them
    unused, never handed out twice; the draw is random, so the order handed out is too."""

    def __init__(
        self,
        store: Store,
        kind: str,
        purpose: str,
        size: int,
        reserve: int,
        rng: Any,
        block: int = 1,
    ) -> None:
        self._args = (store, kind, purpose, size, reserve, rng, block)
        self._free: list[tuple[str, int]] = []
        self._lock = asyncio.Lock()

    async def take(self, count: int) -> list[tuple[str, int]]:
        store, kind, purpose, size, reserve, rng, block = self._args
        async with self._lock:
            if len(self._free) < count:
                need = count - len(self._free) + reserve
                if block == 1:
                    got = await store.allocate_indices(kind, purpose, size, need, rng)
                else:
                    got = await store.allocate_blocks(kind, purpose, size, block, need, rng)
                self._free.extend(got)
            out = self._free[:count]
            del self._free[:count]
            return out


class _RecordWriter:
    """Concurrent ``issue`` calls share one store transaction (one commit, one fsync).

    A batch that fails on one record (an id already taken) is retried record by record, so
    only that caller sees the error. Callers get their record only after it was committed.
    """

    MAX_BATCH: Final = 500

    def __init__(self, store: Store) -> None:
        self._store = store
        self._pending: list[tuple[CredentialRecord, asyncio.Future[CredentialRecord]]] = []
        self._task: asyncio.Task[None] | None = None

    async def put(self, record: CredentialRecord) -> CredentialRecord:
        future: asyncio.Future[CredentialRecord] = asyncio.get_running_loop().create_future()
        self._pending.append((record, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._pending:
            batch = self._pending[: self.MAX_BATCH]
            del self._pending[: self.MAX_BATCH]
            try:
                if len(batch) == 1:
                    stored = [await self._store.put_credential(batch[0][0])]
                else:
                    stored = await self._store.put_credentials([r for r, _ in batch])
            except VCIssuerError as exc:
                if len(batch) == 1:
                    _settle(batch[0][1], exc)
                    continue
                for record, future in batch:
                    try:
                        _settle(future, await self._store.put_credential(record))
                    except VCIssuerError as one:
                        _settle(future, one)
                continue
            except Exception as exc:
                for _, future in batch:
                    _settle(future, exc)
                continue
            except BaseException:
                for _, future in batch + self._pending:
                    future.cancel()
                self._pending.clear()
                raise
            for (_, future), rec in zip(batch, stored, strict=True):
                _settle(future, rec)


def _settle(
    future: asyncio.Future[CredentialRecord], outcome: CredentialRecord | Exception
) -> None:
    if future.done():
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


class Issuer:
    """Issues credentials with status, changes status, publishes the signed status lists."""

    def __init__(
        self,
        *,
        key: SigningKey,
        did: str,
        store: Store,
        base_url: str,
        status_purposes: Sequence[str] = PURPOSES,
        list_size: int = BSL_MIN_BITS,
        list_ttl_ms: int | None = 300_000,
        list_validity: timedelta = timedelta(days=30),
        default_suite: str = EDDSA_RDFC_2022.name,
        loader: ContextLoader | None = None,
        now: Callable[[], datetime] | None = None,
        rng: random.Random | None = None,
        did_document: Mapping[str, Any] | None = None,
        issuer_name: str | None = None,
        index_reserve: int = DEFAULT_INDEX_RESERVE,
        owns_store: bool = False,
        vc11_status: bool = False,
        status_messages: StatusMessages | None = None,
        resources: ResourceBytes | None = None,
        extra_keys: Sequence[SigningKey] = (),
    ) -> None:
        if not isinstance(did, str) or not did.startswith("did:"):
            raise ConfigError(f"issuer DID must be a DID, got {did!r}")
        if did.startswith("did:key:") and key.did != did:
            raise InvalidKeyError(f"the issuer key is not the key of {did}")
        for each in (key, *extra_keys):
            if not each.verification_method.startswith(did + "#"):
                raise InvalidKeyError(
                    f"the key's verification method {each.verification_method} is not under {did}"
                )
        if isinstance(list_size, bool) or not isinstance(list_size, int):
            raise ConfigError("list_size must be an integer")
        if list_size < BSL_MIN_BITS or list_size % 8:
            raise ConfigError(
                f"status lists need at least {BSL_MIN_BITS} entries and a multiple of 8"
                f" (herd privacy), got {list_size}"
            )
        if (
            isinstance(index_reserve, bool)
            or not isinstance(index_reserve, int)
            or index_reserve < 0
        ):
            raise ConfigError("index_reserve must be a non-negative integer")
        if list_validity <= timedelta(0):
            raise ConfigError("list_validity must be positive")
        base = base_url.rstrip("/")
        if not base.startswith(("https://", "http://")):
            raise ConfigError(f"base_url must be an http(s) URL, got {base_url!r}")
        self.key = key
        """The primary key (the home's first): status lists, and the default suite."""
        self.keyring = Keyring.of([key, *extra_keys], did)
        self.did = did
        self.store = store
        self.base_url = base
        self.status_messages = status_messages
        self.status_purposes = _check_purposes(status_purposes, message=status_messages is not None)
        self.vc11_status = bool(vc11_status)
        self.resources: ResourceBytes = resources if resources is not None else pinned_resources()
        self.list_size = list_size
        self.list_ttl_ms = list_ttl_ms
        self.list_validity = list_validity
        self.default_suite = resolve_suites(default_suite, EDDSA_RDFC_2022.name)[0]
        self.loader = loader
        self.offload: Callable[..., Awaitable[Any]] | None = None
        """Runs ``fn(*args)`` elsewhere (the HTTP app's worker pool); None: in-process."""
        self.now: Callable[[], datetime] = now or utcnow
        self.rng = rng
        self.issuer_name = issuer_name
        self._did_document = dict(did_document) if did_document is not None else None
        self._owns_store = owns_store
        self.index_reserve = index_reserve
        self._list_locks: dict[str, asyncio.Lock] = {}
        self._pools: dict[tuple[str, str, int], _IndexPool] = {}
        self._writer = _RecordWriter(store)

    async def close(self) -> None:
        if self._owns_store:
            await self.store.close()

    async def __aenter__(self) -> Issuer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- URLs ------------------------------------------------------------------------------------

    def list_url(self, list_id: str) -> str:
        return f"{self.base_url}{LIST_PATH}{list_id}"

    def did_document(self) -> dict[str, Any] | None:
        """The DID document to host at did:web's address (None for did:key: nothing to host)."""
        return copy.deepcopy(self._did_document) if self._did_document is not None else None

    # --- issuing

    async def issue(
        self,
        credential: Mapping[str, Any],
        *,
        suites: Sequence[str] | str | None = None,
        status: bool | None = None,
        status_purposes: Sequence[str] | None = None,
        idempotency_key: str | None = None,
        credential_id: str | None = None,
        shared_status: Sequence[Mapping[str, Any]] | None = None,
        request_hash: str | None = None,
        secured_as: SecuredAs = "ldp",
        key: str | None = None,
        alg: str | None = None,
    ) -> dict[str, Any]:
        """Sign, store and return ``credential`` (a retried idempotency key returns the first).

        Each suite signs with the issuer's key of a type it takes, a JWT with the key ``alg``
        names (EdDSA, ES256, ES384; default the Ed25519 key); ``key`` names one instead (a
        verification method, its fragment or a key type). See :class:`Keyring`.

        ``shared_status`` (stored entries of another credential, such as the award a wallet copy
        is made from) gives the new credential those same entries instead of fresh ones, so one
        bit change revokes or suspends both: a copy can never outlive its award's status.

        ``request_hash`` binds the key to the request it was first used with: the same key with
        another request is ``IdempotencyKeyReusedError`` (409), never the first one's credential.

        ``secured_as="jwt"`` secures it as a JWS instead of a Data Integrity proof, and
        returns the EnvelopedVerifiableCredential (see SecuredAs).

        ``status``: True attaches entries, False none; None (the default) attaches them to a
        VC 2.0 credential, and to a VC 1.1 one only when ``status_purposes`` are given or the
        issuer has ``vc11_status``.
        """
        if idempotency_key is not None:
            _check_key(idempotency_key)
            earlier = await self.store.get_by_idempotency_key(idempotency_key)
            if earlier is not None:
                return _same_request(earlier, request_hash).credential
        shared = [dict(e) for e in shared_status] if shared_status else None
        prepared = self._prepare(
            credential,
            suites,
            False if shared is not None else status,  # shared entries: none of its own
            status_purposes,
            idempotency_key,
            credential_id,
            secured_as,
            key,
            alg,
        )
        entries: list[dict[str, Any]] = shared if shared is not None else []
        kind = BSL_KIND if prepared.version == "2.0" else SL2021_KIND
        for purpose in prepared.purposes:
            list_id, index = (await self._allocate(kind, purpose, 1))[0]
            entries.append(self._entry(kind, list_id, index, purpose))
        record = dataclasses.replace(
            await self._finish_offloaded(prepared, entries), request_hash=request_hash
        )
        stored = await self._writer.put(record)
        return _same_request(stored, request_hash).credential

    def _status_size(self, purpose: str) -> int:
        if purpose == MESSAGE and self.status_messages is not None:
            return self.status_messages.size
        return 1

    async def _allocate(self, kind: str, purpose: str, count: int) -> list[tuple[str, int]]:
        # A multi-bit list holds list_size entries of statusSize bits (the spec's minimum is a
        # number of entries): the store hands out whole blocks, entry e at bit e * statusSize.
        block = self._status_size(purpose)
        size = self.list_size * block
        if self.index_reserve == 0:
            if block > 1:
                return await self.store.allocate_blocks(
                    kind, purpose, size, block, count, rng=self.rng
                )
            if count == 1 and self.rng is None:  # the store coalesces concurrent callers
                return [await self.store.allocate_index(kind, purpose, size)]
            return await self.store.allocate_indices(kind, purpose, size, count, rng=self.rng)
        pool = self._pools.get((kind, purpose, block))
        if pool is None:
            pool = self._pools[(kind, purpose, block)] = _IndexPool(
                self.store, kind, purpose, size, self.index_reserve, self.rng, block
            )
        return await pool.take(count)

    async def issue_many(
        self,
        credentials: Sequence[Mapping[str, Any]],
        *,
        suites: Sequence[str] | str | None = None,
        status: bool | None = None,
        status_purposes: Sequence[str] | None = None,
        idempotency_keys: Sequence[str | None] | None = None,
        attached: Mapping[str, Attached] | None = None,
        secured_as: SecuredAs = "ldp",
        key: str | None = None,
        alg: str | None = None,
    ) -> list[dict[str, Any] | VCIssuerError]:
        """Issue a batch: indices in one transaction per list kind and purpose, records in one.

        Each item succeeds or fails on its own: a bad credential yields its error in its slot.
        ``attached`` (by credential id: claim links, outbox email) is stored in the same
        transaction as its credential, and only if that credential is new.
        """
        if idempotency_keys is not None and len(idempotency_keys) != len(credentials):
            raise MalformedInputError("idempotency_keys must have one entry per credential")
        keys: list[str | None] = (
            list(idempotency_keys) if idempotency_keys is not None else [None] * len(credentials)
        )
        results: list[dict[str, Any] | VCIssuerError | None] = [None] * len(credentials)
        prepared: dict[int, _Prepared] = {}
        for i, (cred, idem) in enumerate(zip(credentials, keys, strict=True)):
            try:
                if idem is not None:
                    _check_key(idem)
                    earlier = await self.store.get_by_idempotency_key(idem)
                    if earlier is not None:
                        results[i] = earlier.credential
                        continue
                prepared[i] = self._prepare(
                    cred, suites, status, status_purposes, idem, None, secured_as, key, alg
                )
            except VCIssuerError as exc:
                results[i] = exc
        # one allocation per (kind, purpose) for the whole batch
        wanted: dict[tuple[str, str], list[int]] = {}
        for i, p in prepared.items():
            kind = BSL_KIND if p.version == "2.0" else SL2021_KIND
            for purpose in p.purposes:
                wanted.setdefault((kind, purpose), []).append(i)
        entries: dict[int, list[dict[str, Any]]] = {i: [] for i in prepared}
        for (kind, purpose), items in wanted.items():
            pairs = await self._allocate(kind, purpose, len(items))
            for i, (list_id, index) in zip(items, pairs, strict=True):
                entries[i].append(self._entry(kind, list_id, index, purpose))
        # Sign in chunks and store each chunk while the next one is signed: the durable commit
        # (fsync, in the store's own thread or connection) overlaps with CPU-bound signing.
        commits: list[asyncio.Task[None]] = []
        chunk: dict[int, CredentialRecord] = {}
        for i, p in prepared.items():
            try:
                chunk[i] = self._finish(p, entries[i])
            except VCIssuerError as exc:
                results[i] = exc
            if len(chunk) >= STORE_CHUNK:
                commits.append(asyncio.create_task(self._store_chunk(chunk, results, attached)))
                chunk = {}
                await asyncio.sleep(0)  # let the commit start and other requests run
        if chunk:
            commits.append(asyncio.create_task(self._store_chunk(chunk, results, attached)))
        if commits:
            await asyncio.gather(*commits)
        out: list[dict[str, Any] | VCIssuerError] = []
        for r in results:
            assert r is not None
            out.append(r)
        return out

    async def _store_chunk(
        self,
        records: dict[int, CredentialRecord],
        results: list[dict[str, Any] | VCIssuerError | None],
        attached: Mapping[str, Attached] | None = None,
    ) -> None:
        """Store signed records in one transaction; on a conflict, one by one."""
        order = list(records)
        try:
            stored = await self.store.put_credentials(
                [records[i] for i in order], attached=attached
            )
            for i, rec in zip(order, stored, strict=True):
                results[i] = rec.credential
        except ConflictError:
            for i in order:  # find which ones conflict; the others still go in
                try:
                    one = await self.store.put_credentials([records[i]], attached=attached)
                    results[i] = one[0].credential
                except VCIssuerError as exc:
                    results[i] = exc

    def _prepare(
        self,
        credential: Mapping[str, Any],
        suites: Sequence[str] | str | None,
        status: bool | None,
        status_purposes: Sequence[str] | None,
        idempotency_key: str | None,
        credential_id: str | None,
        secured_as: SecuredAs = "ldp",
        key: str | None = None,
        alg: str | None = None,
    ) -> _Prepared:
        if not isinstance(credential, Mapping):
            raise MalformedInputError("the credential must be a JSON object")
        if secured_as not in SECURING:
            raise MalformedInputError(f"format must be one of {', '.join(SECURING)}")
        if secured_as == "jwt" and suites is not None:
            raise MalformedInputError("a JWT is secured by its JWS: it takes no proof suite")
        if secured_as == "ldp" and alg is not None:
            raise MalformedInputError("alg applies to JWTs; a Data Integrity proof has a suite")
        chosen = resolve_suites(suites, self.default_suite)
        signers: tuple[SigningKey, ...]
        if secured_as == "jwt":
            signers = (self.keyring.for_jwt(alg, key),)
        else:
            signers = tuple(self.keyring.for_suite(name, key) for name in chosen)
        cred: dict[str, Any] = copy.deepcopy(dict(credential))
        if "proof" in cred:
            raise MalformedInputError(
                "the credential already has a proof; issue an unsigned credential", field="proof"
            )
        version = check_context(cred)
        check_links(cred)  # UNSAFE_URL: only http(s) links are stored and shown
        moment = self.now()
        if moment.tzinfo is None:
            raise ConfigError("the issuer clock must return timezone-aware datetimes")
        self._set_issuer(cred, version)
        if credential_id is not None:
            if "id" in cred and cred["id"] != credential_id:
                raise MalformedInputError(
                    f"credential id {cred['id']!r} differs from the requested id {credential_id!r}",
                    field="id",
                )
            cred["id"] = credential_id
        elif "id" not in cred:
            cred["id"] = f"urn:uuid:{uuid.uuid4()}"
        date_field = "validFrom" if version == "2.0" else "issuanceDate"
        if date_field not in cred:
            cred[date_field] = format_datetime(moment)
        purposes: tuple[str, ...] = ()
        if "credentialStatus" in cred:
            self._check_own_status(cred["credentialStatus"])
        elif self._wants_status(status, status_purposes, version):
            purposes = self._purposes_for(status_purposes, version)
            if version == "1.1" and purposes:
                ctx = cred["@context"]
                if SL2021_CONTEXT not in ctx:
                    cred["@context"] = [*ctx, SL2021_CONTEXT]
        validate_credential(cred)
        # VCDM 2.0 §5.3: a digest we can check (a pinned resource) must match
        check_related_digests(cred, self.resources)
        return _Prepared(
            cred, version, purposes, chosen, idempotency_key, moment, secured_as, signers
        )

    def _wants_status(
        self, status: bool | None, purposes: Sequence[str] | None, version: Version
    ) -> bool:
        if status is not None:
            return status
        return version == "2.0" or purposes is not None or self.vc11_status

    def _purposes_for(self, asked: Sequence[str] | None, version: Version) -> tuple[str, ...]:
        message = self.status_messages is not None
        if asked is None:
            purposes = self.status_purposes
        else:
            purposes = _check_purposes(asked, message=message)
        if version == "1.1" and MESSAGE in purposes:
            if asked is not None:
                raise MalformedInputError(
                    "message status needs a Bitstring Status List entry: issue as VC 2.0",
                    field="statusPurpose",
                )
            purposes = tuple(p for p in purposes if p != MESSAGE)  # StatusList2021: one bit
        return purposes

    def _set_issuer(self, cred: dict[str, Any], version: str) -> None:
        given = cred.get("issuer")
        if given is None:
            if self.issuer_name and version == "2.0":
                cred["issuer"] = {"id": self.did, "name": self.issuer_name}
            else:
                cred["issuer"] = self.did
            return
        if isinstance(given, str):
            if given != self.did:
                raise _mismatch(given, self.did)
            return
        if isinstance(given, Mapping):
            other = given.get("id")
            if other is not None and other != self.did:
                raise _mismatch(other, self.did)
            cred["issuer"] = {"id": self.did, **{k: v for k, v in given.items() if k != "id"}}
            return
        raise MalformedInputError("issuer must be a URL or an object", field="issuer")

    def _check_own_status(self, value: object) -> None:
        """Keep a caller's status; our own entry types must be well formed and must not point
        at our lists (other typed objects get the data model's generic checks)."""
        try:
            entries = parse_credential_status(value)
        except MalformedInputError as exc:
            raise MalformedInputError(
                f"credentialStatus is malformed: {exc.detail}", **exc.extra
            ) from None
        for entry in entries:
            if entry.list_url.startswith(self.base_url + LIST_PATH):
                raise MalformedInputError(
                    "credentialStatus points at this issuer's own status lists; leave it out"
                    " and the issuer allocates an index",
                    field="credentialStatus",
                )

    def _entry(self, kind: str, list_id: str, index: int, purpose: str) -> dict[str, Any]:
        """A status entry as stored: the public entry plus the store's list id."""
        url = self.list_url(list_id)
        if kind != BSL_KIND:
            return {**sl2021_entry(url, index, purpose), LIST_ID_KEY: list_id}
        messages = self.status_messages if purpose == MESSAGE else None
        return {**bsl_entry(url, index, purpose, messages=messages), LIST_ID_KEY: list_id}

    async def _finish_offloaded(
        self, p: _Prepared, entries: list[dict[str, Any]]
    ) -> CredentialRecord:
        """``_finish`` for a caller's credential when the app has a worker pool (``offload``,
        set by the HTTP app): on the event loop while it stays within ``work.INLINE_STEPS``
        (an honest credential, ~0.5 ms), else in the pool under the full work budget. Moving
        every signing to the pool cost honest throughput (docs/limits.md); this way the loop
        never runs more than ~5 ms of a caller's work."""
        if self.offload is None:
            return self._finish(p, entries)
        # An attempt that runs out leaves ``p`` as the pool needs it: _finish only sets
        # credentialStatus (the same again there) and signs copies.
        budget = work.WorkBudget(max_steps=work.INLINE_STEPS)
        try:
            with work.budget(budget):
                return self._finish(p, entries)
        except WorkBudgetExceededError:
            if not budget.spent:  # the nesting limit: the pool would say the same
                raise
        record: CredentialRecord = await self.offload(_finish_record, self.loader, p, entries)
        return record

    def _finish(self, p: _Prepared, entries: list[dict[str, Any]]) -> CredentialRecord:
        """Attach status, sign, and build the record (pure apart from the clock)."""
        return _finish_record(self.loader, p, entries)

    # --- reading

    async def get_credential(self, credential_id: str) -> dict[str, Any] | None:
        record = await self.store.get_credential(credential_id)
        return None if record is None else record.credential

    async def get_record(self, credential_id: str) -> CredentialRecord:
        record = await self.store.get_credential(credential_id)
        if record is None:
            raise NotFoundError(f"no credential {credential_id!r} was issued here")
        return record

    async def credential_status(self, credential_id: str) -> dict[str, bool]:
        """Current value of each managed one-bit status purpose (revocation, suspension)."""
        return {
            purpose: bool(value)
            for purpose, (value, size) in (await self._values(credential_id)).items()
            if size == 1
        }

    async def status_values(self, credential_id: str) -> dict[str, bool | str]:
        """Every managed status of a credential: one-bit purposes as booleans, multi-bit ones
        (``message``) as the ``0x`` value ``statusMessage`` names."""
        return {
            purpose: bool(value) if size == 1 else status_hex(value)
            for purpose, (value, size) in (await self._values(credential_id)).items()
        }

    async def _values(self, credential_id: str) -> dict[str, tuple[int, int]]:
        record = await self.get_record(credential_id)
        out: dict[str, tuple[int, int]] = {}
        for entry in _managed(record):
            lst = await self.store.get_status_list(entry[LIST_ID_KEY])
            if lst is not None:
                size = _entry_size(entry)
                bits = Bitstring.from_bytes(lst.bits)
                out[entry["statusPurpose"]] = (
                    bits.get_status(int(entry["statusListIndex"]), size),
                    size,
                )
        return out

    # --- status changes

    async def set_status(
        self,
        credential_id: str,
        purpose: str,
        value: bool | int,
        *,
        actor: str = DEFAULT_ACTOR,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """Set a status (audited, list credential refreshed); returns the change.

        ``value`` is a boolean for one-bit purposes and an integer from 0 to 2**statusSize - 1
        for a multi-bit entry (``message``).
        """
        change = await self._set(credential_id, purpose, value, actor=actor, reason=reason)
        return change.to_dict()

    async def revoke(
        self, credential_id: str, *, actor: str = DEFAULT_ACTOR, reason: str | None = None
    ) -> dict[str, Any]:
        """Revoke for good (a second revoke is a no-op)."""
        return await self.set_status(credential_id, REVOCATION, True, actor=actor, reason=reason)

    async def suspend(
        self, credential_id: str, *, actor: str = DEFAULT_ACTOR, reason: str | None = None
    ) -> dict[str, Any]:
        return await self.set_status(credential_id, SUSPENSION, True, actor=actor, reason=reason)

    async def reinstate(
        self, credential_id: str, *, actor: str = DEFAULT_ACTOR, reason: str | None = None
    ) -> dict[str, Any]:
        """Lift a suspension; a revoked credential cannot be reinstated (ConflictError)."""
        return await self.set_status(credential_id, SUSPENSION, False, actor=actor, reason=reason)

    async def _set(
        self,
        credential_id: str,
        purpose: str,
        value: bool | int,
        *,
        actor: str,
        reason: str | None,
    ) -> StatusChange:
        if purpose not in ALL_PURPOSES:
            raise MalformedInputError(f"unknown status purpose {purpose!r}")
        if not isinstance(actor, str) or not actor:
            raise MalformedInputError("a status change needs an actor")
        record = await self.get_record(credential_id)
        managed = {e["statusPurpose"]: e for e in _managed(record)}
        entry = managed.get(purpose)
        if entry is None:
            raise NoStatusEntryError(
                f"credential {credential_id} has no {purpose} status entry from this issuer",
            )
        size = _entry_size(entry)
        number = _status_number(value, size)
        if purpose == REVOCATION and not number:
            raise ConflictError("revocation is permanent: a revoked credential stays revoked")
        if purpose == SUSPENSION and REVOCATION in managed:
            rev = managed[REVOCATION]
            lst = await self.store.get_status_list(rev[LIST_ID_KEY])
            if lst is not None and lst.bit(int(rev["statusListIndex"])):
                verb = "suspended" if number else "reinstated"
                raise ConflictError(f"credential {credential_id} is revoked; it cannot be {verb}")
        list_id = str(entry[LIST_ID_KEY])
        index = int(entry["statusListIndex"])
        if size == 1:
            old_bit, new_bit = await self.store.set_status_bit(
                list_id,
                index,
                bool(number),
                actor=actor,
                reason=reason,
                credential_id=credential_id,
                purpose=purpose,
            )
            change = StatusChange(credential_id, purpose, old_bit, new_bit, list_id, index)
        else:
            old = await self._set_bits(list_id, index, size, number, actor, reason, credential_id)
            message = dict(_entry_messages(entry)).get(number)
            change = StatusChange(
                credential_id, purpose, old, number, list_id, index, size, message
            )
        touched = {list_id} if change.changed else set()
        touched |= await self._set_copies(
            credential_id, purpose, number, (list_id, index), actor=actor, reason=reason
        )
        for changed_list in sorted(touched):
            try:  # publish now; a failure here is retried when the list is next served
                await self.status_list_credential(changed_list)
            except VCIssuerError as exc:
                log.warning("status list %s not republished: %s", changed_list, exc)
        return change

    async def _set_copies(
        self,
        credential_id: str,
        purpose: str,
        value: int,
        award_entry: tuple[str, int],
        *,
        actor: str,
        reason: str | None,
    ) -> set[str]:
        """Give every wallet copy delivered from this credential that has entries of its own
        (copies made before they shared the award's entries) the same value; returns the lists
        changed. Copies sharing the award's entry changed with it already."""
        touched: set[str] = set()
        for exchange in await self.store.list_exchanges(credential_id=credential_id, limit=10_000):
            copy_id = (exchange.result or {}).get("credentialId")
            if not isinstance(copy_id, str) or copy_id == credential_id:
                continue
            copy_record = await self.store.get_credential(copy_id)
            if copy_record is None:
                continue
            for entry in _managed(copy_record):
                if entry.get("statusPurpose") != purpose:
                    continue
                where = (str(entry[LIST_ID_KEY]), int(entry["statusListIndex"]))
                if where == award_entry:
                    continue
                size = _entry_size(entry)
                if size == 1:
                    was, _ = await self.store.set_status_bit(
                        where[0],
                        where[1],
                        bool(value),
                        actor=actor,
                        reason=reason,
                        credential_id=copy_id,
                        purpose=purpose,
                    )
                    old = int(was)
                else:
                    old = await self._set_bits(
                        where[0], where[1], size, value, actor, reason, copy_id
                    )
                if old != value:
                    touched.add(where[0])
        return touched

    async def _set_bits(
        self,
        list_id: str,
        index: int,
        size: int,
        value: int,
        actor: str,
        reason: str | None,
        credential_id: str,
    ) -> int:
        """Write a multi-bit value as its ``size`` bits (most significant first) in one store
        transaction, each changed bit audited; returns the old value. Whole or not at all, in
        every process: no list is ever published with half of a value written."""
        bits = tuple(bool((value >> (size - 1 - k)) & 1) for k in range(size))
        olds = await self.store.set_status_bits(
            list_id,
            index * size,
            bits,
            actor=actor,
            reason=reason,
            credential_id=credential_id,
            purpose=MESSAGE,
        )
        old = 0
        for was in olds:
            old = (old << 1) | was
        return old

    # --- status list credentials

    async def status_list_credential(self, list_id: str) -> dict[str, Any]:
        """The signed list credential, re-signed when bits changed or half its validity is gone."""
        record = await self.store.get_status_list(list_id)
        if record is None:
            raise NotFoundError(f"no status list {list_id!r}")
        if self._is_fresh(record):
            assert record.credential is not None
            return record.credential
        lock = self._list_locks.setdefault(list_id, asyncio.Lock())
        async with lock:
            record = await self.store.get_status_list(list_id)
            assert record is not None
            if self._is_fresh(record):
                assert record.credential is not None
                return record.credential
            credential = self.build_list_credential(record)
            if not await self.store.save_list_credential(list_id, record.version, credential):
                newer = await self.store.get_status_list(list_id)
                if newer is not None and newer.credential is not None:
                    return newer.credential
            return credential

    def _is_fresh(self, record: StatusListRecord) -> bool:
        if not record.credential_is_current or record.credential is None:
            return False
        cred = record.credential
        if cred.get("id") != self.list_url(record.id) or cred.get("issuer") != self.did:
            return False  # base URL or DID changed in the config since it was signed
        until_raw = cred.get("validUntil", cred.get("expirationDate"))
        if until_raw is None:
            return True
        try:
            until = parse_xml_datetime(until_raw, "validUntil")
        except MalformedInputError:
            return False
        return until - self.now() > self.list_validity / 2

    def build_list_credential(self, record: StatusListRecord) -> dict[str, Any]:
        """Sign the list's current bits: BSL as VC 2.0 (eddsa-rdfc-2022), SL2021 as VC 1.1
        (Ed25519Signature2020), with the Ed25519 key; an issuer without one signs both with
        ecdsa-rdfc-2019 and its primary key."""
        url = self.list_url(record.id)
        bits = Bitstring.from_bytes(record.bits)
        moment = self.now()
        until = moment + self.list_validity
        if record.kind == BSL_KIND:
            unsigned = bsl_list_credential(
                url, self.did, record.purpose, bits, moment, until, self.list_ttl_ms
            )
            suite = EDDSA_RDFC_2022.name
        elif record.kind == SL2021_KIND:
            unsigned = sl2021_list_credential(url, self.did, record.purpose, bits, moment, until)
            suite = ED25519_SIGNATURE_2020.name
        else:
            raise ConfigError(f"status list {record.id} has an unknown kind {record.kind!r}")
        signer: SigningKey | None = self.keyring.by_type("Ed25519")
        if signer is None:
            signer, suite = self.key, ECDSA_RDFC_2019.name
        return sign(unsigned, signer, suite=suite, loader=self.loader, created=moment)

    async def status_lists(self) -> list[dict[str, Any]]:
        """A summary of every list: id, URL, kind, purpose, size, allocated, set, version."""
        return [self.list_summary(r) for r in await self.store.list_status_lists()]

    async def status_list_info(self, list_id: str) -> dict[str, Any]:
        record = await self.store.get_status_list(list_id)
        if record is None:
            raise NotFoundError(f"no status list {list_id!r}")
        return self.list_summary(record)

    def list_summary(self, record: StatusListRecord) -> dict[str, Any]:
        return {
            "id": record.id,
            "url": self.list_url(record.id),
            "kind": record.kind,
            "purpose": record.purpose,
            "size": record.size,
            "allocated": record.allocated,
            "set": record.set_count,
            "full": record.full,
            "version": record.version,
            "credentialVersion": record.credential_version,
            "updated": format_datetime(record.updated_at),
            "created": format_datetime(record.created_at),
        }


def _finish_record(
    loader: ContextLoader | None, p: _Prepared, entries: list[dict[str, Any]]
) -> CredentialRecord:
    """Attach status, sign, and build the record (pure apart from the clock; picklable, so
    worker processes run it)."""
    cred = p.credential
    if entries:
        public = [{k: v for k, v in e.items() if k != LIST_ID_KEY} for e in entries]
        cred["credentialStatus"] = public[0] if len(public) == 1 else public
    if p.secured_as == "jwt":
        return _finish_jwt(p, cred, entries)
    # Every suite's context goes in before the first proof: a later context would change
    # the document under the earlier proofs (prepare_document adds data-integrity/v2 to a
    # VC 1.1 document for eddsa-rdfc-2022, and the suite context for Ed25519Signature2020).
    for name in p.suites:
        cred = suite_by_name(name).prepare_document(cred)
    signed: dict[str, Any] = cred
    for name, signer in zip(p.suites, p.signers, strict=True):
        signed = sign(signed, signer, suite=name, loader=loader, created=p.issued_at)
    return _record(p, signed, entries, stored=signed)


def _finish_jwt(
    p: _Prepared, cred: dict[str, Any], entries: list[dict[str, Any]]
) -> CredentialRecord:
    """Secure as a JWS; the record keeps the envelope (what the caller gets back)."""
    token = jose.sign_credential_jwt(cred, p.signers[0], issued_at=p.issued_at)
    media = jose.MEDIA_VC_JWT if p.version == "2.0" else jose.MEDIA_JWT
    return _record(p, cred, entries, stored=jose.envelope(token, media))


def _entry_size(entry: Mapping[str, Any]) -> int:
    size = entry.get("statusSize", 1)
    return size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else 1


def _entry_messages(entry: Mapping[str, Any]) -> list[tuple[int, str]]:
    items = entry.get("statusMessage")
    if not isinstance(items, list):
        return []
    return [
        (int(m["status"], 16), str(m["message"]))
        for m in items
        if isinstance(m, Mapping) and isinstance(m.get("status"), str)
    ]


def _status_number(value: object, size: int) -> int:
    """A status value for an entry of ``size`` bits: a boolean for one bit, else an integer."""
    if size == 1 and isinstance(value, bool):
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << size:
        what = "true or false" if size == 1 else f"an integer from 0 to {(1 << size) - 1}"
        raise MalformedInputError(f"this status value must be {what}, got {value!r}")
    return value


def _managed(record: CredentialRecord) -> list[dict[str, Any]]:
    """The status entries this issuer allocated (caller-supplied entries are not ours)."""
    return [
        e
        for e in record.status_entries
        if isinstance(e, dict) and isinstance(e.get(LIST_ID_KEY), str)
    ]


def _mismatch(given: object, ours: str) -> MalformedInputError:
    return ForeignIssuerError(
        f"issuer {given!r} is not this issuer ({ours}); credentials are only issued in our name",
        field="issuer",
    )


def _same_request(stored: CredentialRecord, request_hash: str | None) -> CredentialRecord:
    """The stored record of an idempotency key, if it was made by the same request."""
    if stored.request_hash != request_hash:
        raise IdempotencyKeyReusedError(
            "this idempotency key was already used with another request; use a new key"
        )
    return stored


def _check_key(key: object) -> None:
    if not isinstance(key, str) or not key or len(key) > 255:
        raise MalformedInputError("an idempotency key must be a string of 1 to 255 characters")


class ServiceOptions(TypedDict, total=False):
    """What every :class:`IssuerService` takes besides its issuer, each the issuer's own when
    left out or None. Declared once: a feature's constructor passes them on as ``**options``."""

    base_url: str | None
    """The public base URL its links start with."""
    now: Callable[[], datetime] | None
    store: Store | None


class IssuerService:
    """A feature built over one issuer (claim links, wallet exchanges, OpenID4VCI offers): its
    store, the public base URL its links start with, and its clock (see ``ServiceOptions``)."""

    def __init__(self, issuer: Issuer, **options: Unpack[ServiceOptions]) -> None:
        store = options.get("store")
        self.issuer = issuer
        self.store: Store = store if store is not None else issuer.store
        self.base_url = (options.get("base_url") or issuer.base_url).rstrip("/")
        self.now: Callable[[], datetime] = options.get("now") or issuer.now

    async def stored_award(self, credential_id: object) -> CredentialRecord:
        """The award ``credential_id`` names: ``MalformedInputError`` unless it is a non-empty
        string, ``NotFoundError`` unless it was issued here."""
        if not isinstance(credential_id, str) or not credential_id:
            raise MalformedInputError(
                "credentialId must be a non-empty string", field="credentialId"
            )
        award = await self.store.get_credential(credential_id)
        if award is None:
            raise NotFoundError(f"no credential {credential_id!r} was issued here")
        return award

    async def withdrawn(self, credential_id: str) -> list[str]:
        """What the issuer did to an award that stops its delivery to wallets ("revoked",
        "suspended"; empty: deliverable). Fails closed: a status that cannot be read (store
        down, award gone: ``NotFoundError``) raises, never reads as "nothing"."""
        status = await self.issuer.credential_status(credential_id)
        words = {"revocation": "revoked", "suspension": "suspended"}
        return sorted(words.get(p, p) for p, value in status.items() if value)

    async def check_deliverable(self, credential_id: str) -> None:
        """Refuse a revoked or suspended award (410 ``CREDENTIAL_NOT_DELIVERABLE``)."""
        withdrawn = await self.withdrawn(credential_id)
        if withdrawn:
            raise CredentialNotDeliverableError(
                f"the issuer {' and '.join(withdrawn)} this credential; it cannot be added to a"
                " wallet"
            )


__all__ = [
    "ALL_PURPOSES",
    "BSL_KIND",
    "DEFAULT_INDEX_RESERVE",
    "LIST_ID_KEY",
    "PURPOSES",
    "REVOCATION",
    "SL2021_KIND",
    "SUSPENSION",
    "Issuer",
    "IssuerService",
    "ServiceOptions",
    "StatusChange",
    "resolve_suites",
]
