"""Records, the async ``Store`` interface, and the pure checks and allocation helpers.

What an allocation *chooses* is decided here, without I/O, so the choice can be tested on its own;
``sql.py`` owns transactions and locking.
"""

from __future__ import annotations

import abc
import asyncio
import enum
import hashlib
import random
import secrets
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Final, Literal, Required, Self, TypedDict, TypeVar, Unpack

from vc_issuer.core.credentials import utcnow as utcnow  # re-exported for sql.py
from vc_issuer.core.status import get_bit, set_bit
from vc_issuer.errors import (
    MalformedInputError,
    NotFoundError,
    UnsupportedImageError,
    VersionConflictError,
)

StatusListKind = Literal["BitstringStatusList", "StatusList2021"]
STATUS_LIST_KINDS: Final[frozenset[str]] = frozenset({"BitstringStatusList", "StatusList2021"})

# Below this share of free slots, rejection sampling gets slow: pick the k-th free slot instead.
_DENSE_FREE_FRACTION: Final[float] = 0.25
_MAX_REJECTIONS: Final[int] = 64
# Concurrent single allocations are served together, in transactions of at most this many.
MAX_COALESCED: Final[int] = 1000

_Rec = TypeVar("_Rec")


def new_page_id() -> str:
    """An unguessable id for the credential's public page (uuid4, 122 random bits)."""
    return str(uuid.uuid4())


def as_utc(value: datetime, what: str) -> datetime:
    """Refuse naive datetimes: a wall-clock time without a zone is a silent off-by-hours bug."""
    if not isinstance(value, datetime):
        raise MalformedInputError(f"{what} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise MalformedInputError(f"{what} must be timezone-aware (UTC), got a naive datetime")
    return value.astimezone(UTC)


def opt_utc(value: datetime | None, what: str) -> datetime | None:
    return None if value is None else as_utc(value, what)


# --- records --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CredentialRecord:
    """One issued credential exactly as it was returned to the caller."""

    id: str
    subject_id: str | None
    types: list[str]
    issued_at: datetime
    valid_from: datetime | None
    valid_until: datetime | None
    status_entries: list[dict[str, Any]]
    credential: dict[str, Any]
    idempotency_key: str | None = None
    page_id: str = field(default_factory=new_page_id)
    request_hash: str | None = None
    """A hash of the request that first used ``idempotency_key``: a retry must match it."""


@dataclass(frozen=True)
class StatusListRecord:
    """A status list; ``bits`` are the raw (uncompressed) bits, index 0 = MSB of byte 0."""

    id: str
    kind: str
    purpose: str
    size: int
    bits: bytes
    version: int
    updated_at: datetime
    created_at: datetime
    full: bool
    allocated: int
    credential: dict[str, Any] | None
    credential_version: int | None

    def bit(self, index: int) -> bool:
        return get_bit(self.bits, index)

    @property
    def set_count(self) -> int:
        """How many entries are set (revoked or suspended, per ``purpose``)."""
        return sum(b.bit_count() for b in self.bits)

    @property
    def credential_is_current(self) -> bool:
        """False when bits changed after the stored list credential was signed."""
        return self.credential is not None and self.credential_version == self.version


@dataclass(frozen=True)
class AuditEntry:
    """One status change: who, when, which entry, old -> new, why."""

    id: int
    at: datetime
    actor: str
    credential_id: str | None
    list_id: str
    index: int
    purpose: str
    old: bool
    new: bool
    reason: str | None


@dataclass(frozen=True)
class TokenRecord:
    """An API token; only its hash is stored (hashing is the caller's job)."""

    id: str
    token_hash: str
    name: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def is_active(self, now: datetime | None = None) -> bool:
        now = utcnow() if now is None else now
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or now < self.expires_at


@dataclass(frozen=True)
class AchievementRecord:
    """One version of a badge design; ``data`` is ``Achievement.to_record()`` JSON."""

    id: str
    version: int
    data: dict[str, Any]
    archived: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ImageRecord:
    """A stored badge image, addressed by the SHA-256 of its bytes (so its URL never changes)."""

    sha256: str
    media_type: str
    data: bytes
    created_at: datetime


@dataclass(frozen=True)
class CredentialRef:
    """The two ids of a stored credential: its own and its public page's."""

    id: str
    page_id: str


EXCHANGE_KINDS: Final[frozenset[str]] = frozenset({"vcapi", "oid4vci"})
EXCHANGE_STATES: Final[frozenset[str]] = frozenset(
    {"pending", "active", "complete", "expired", "failed"}
)
MAX_EXCHANGE_TTL_SECONDS: Final[int] = 30 * 24 * 3600


class Keep(enum.Enum):
    """Sentinel type: "leave this column as it is" (``None`` means set it to NULL)."""

    KEEP = "keep"


KEEP: Final = Keep.KEEP


def new_exchange_id() -> str:
    """An unguessable exchange id (256 random bits, URL-safe): the URL is the wallet's secret."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class ExchangeRecord:
    """One wallet exchange (VC API or OpenID4VCI) delivering one credential to one holder.

    ``credential_id`` names the stored award it delivers, ``template`` the unsigned credential to
    issue instead (at least one is set). ``data`` is the protocol's state (challenge, hashed codes,
    attempts ...), ``result`` what the exchange produced. ``lookup_hash`` is an optional unique
    secondary key (a hashed pre-authorized code or access token), never a raw secret. ``version``
    grows with every write, for compare-and-set updates of ``data``.
    """

    id: str
    kind: str
    state: str
    created_at: datetime
    expires_at: datetime
    credential_id: str | None = None
    template: dict[str, Any] | None = None
    data: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] | None = None
    lookup_hash: str | None = None
    updated_at: datetime | None = None
    version: int = 1
    attempts: int = 0
    """Attempts counted by ``Store.count_attempt`` (wrong ``tx_code`` guesses, say)."""

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at


@dataclass(frozen=True)
class ClaimRecord:
    """A learner's personal claim link for one award; only the token's SHA-256 is stored.

    Long-lived (days), unlike the single-use exchanges it opens on every visit. Revocable.
    """

    id: str
    token_hash: str
    credential_id: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at


MAIL_STATES: Final = ("queued", "sending", "sent", "failed", "cancelled")


@dataclass(frozen=True)
class OutboxRecord:
    """One email in the outbox. ``dedupe_key`` is unique: the same message is never queued twice.

    ``claim_link`` is the learner's personal claim link (a bearer secret): it is kept only until
    the message is sent or cancelled, then erased from the row.
    """

    id: str
    dedupe_key: str
    recipient: str
    next_attempt_at: datetime
    created_at: datetime
    credential_id: str | None = None
    template: str | None = None
    claim_link: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    status: str = "queued"
    attempts: int = 0
    last_error: str | None = None
    updated_at: datetime | None = None
    sent_at: datetime | None = None


@dataclass(frozen=True)
class Attached:
    """Rows written in the same transaction as one credential, and only if it is new there
    (a credential that lost to an earlier one with its idempotency key brings nothing along)."""

    claims: tuple[ClaimRecord, ...] = ()
    mail: tuple[OutboxRecord, ...] = ()


def check_mail(record: OutboxRecord) -> OutboxRecord:
    """Refuse outbox rows the schema could not round-trip; times become UTC."""
    for name in ("id", "dedupe_key", "recipient"):
        value = getattr(record, name)
        if not isinstance(value, str) or not 1 <= len(value) <= 1024:
            raise MalformedInputError(f"an outbox {name} must be a string of 1 to 1024 characters")
    if record.status not in MAIL_STATES:
        raise MalformedInputError(f"an outbox status is one of {', '.join(MAIL_STATES)}")
    if not isinstance(record.data, dict):
        raise MalformedInputError("an outbox row's data must be a JSON object")
    created = as_utc(record.created_at, "created_at")
    return replace(
        record,
        created_at=created,
        next_attempt_at=as_utc(record.next_attempt_at, "next_attempt_at"),
        updated_at=opt_utc(record.updated_at, "updated_at") or created,
        sent_at=opt_utc(record.sent_at, "sent_at"),
    )


def _check_lifetime(record: ClaimRecord | ExchangeRecord, what: str) -> tuple[datetime, datetime]:
    """A link's (created_at, expires_at) in UTC; one that expires as it is made is refused."""
    created = as_utc(record.created_at, "created_at")
    expires = as_utc(record.expires_at, "expires_at")
    if expires <= created:
        raise MalformedInputError(f"{what} must expire after it is created")
    return created, expires


def check_claim(record: ClaimRecord) -> ClaimRecord:
    """Refuse claims the schema could not round-trip; times become UTC."""
    if not isinstance(record.id, str) or not 8 <= len(record.id) <= 255:
        raise MalformedInputError("a claim id must be a string of 8 to 255 characters")
    if not isinstance(record.token_hash, str) or not 16 <= len(record.token_hash) <= 255:
        raise MalformedInputError("a claim token_hash must be a string of 16 to 255 characters")
    if not isinstance(record.credential_id, str) or not record.credential_id:
        raise MalformedInputError("a claim needs a non-empty credential_id")
    created, expires = _check_lifetime(record, "a claim")
    return replace(
        record,
        created_at=created,
        expires_at=expires,
        revoked_at=opt_utc(record.revoked_at, "revoked_at"),
        last_used_at=opt_utc(record.last_used_at, "last_used_at"),
    )


# --- allocation bitmaps (bits in spec order: core.status's get_bit / set_bit) -------------------


def bitmap_len(size: int) -> int:
    return (size + 7) // 8


def free_indices(alloc: bytes | bytearray, size: int) -> list[int]:
    """All unallocated indices, skipping full bytes quickly."""
    out: list[int] = []
    for byte_no, byte in enumerate(alloc):
        if byte == 0xFF:
            continue
        base = byte_no * 8
        for bit_no in range(8):
            i = base + bit_no
            if i >= size:
                break
            if not byte & (0x80 >> bit_no):
                out.append(i)
    return out


def pick_free(
    alloc: bytearray, size: int, allocated: int, count: int, rng: random.Random
) -> list[int]:
    """Draw ``count`` distinct indices uniformly among the free slots and mark them in ``alloc``.

    Sparse lists use rejection sampling (uniform, a few bit tests each); once fewer than a quarter
    of the slots are free, the free slots are enumerated and sampled without replacement.
    """
    free = size - allocated
    if count < 0 or count > free:
        raise ValueError(f"cannot draw {count} indices from {free} free slots")
    picked: list[int] = []
    while len(picked) < count:
        if (free - len(picked)) / size >= _DENSE_FREE_FRACTION:
            for _ in range(_MAX_REJECTIONS):
                i = rng.randrange(size)
                if not get_bit(alloc, i):
                    set_bit(alloc, i, True)
                    picked.append(i)
                    break
            continue
        rest = rng.sample(free_indices(alloc, size), count - len(picked))
        for i in rest:
            set_bit(alloc, i, True)
        picked.extend(rest)
    return picked


def _block_is_free(alloc: bytes | bytearray, start: int, block: int) -> bool:
    return not any(get_bit(alloc, start + k) for k in range(block))


def pick_free_blocks(
    alloc: bytearray, size: int, allocated: int, block: int, count: int, rng: random.Random
) -> list[int]:
    """Draw ``count`` distinct entries of ``block`` bits each (entry ``e`` covers bits
    ``e*block .. e*block+block-1``, all free), uniformly; mark every bit of them in ``alloc``.

    Multi-bit status (Bitstring Status List ``statusSize`` > 1) places an entry at
    ``statusListIndex * statusSize``: the whole block belongs to one credential.
    """
    if block == 1:
        return pick_free(alloc, size, allocated, count, rng)
    entries = size // block
    picked: list[int] = []

    def take(entry: int) -> None:
        for k in range(block):
            set_bit(alloc, entry * block + k, True)
        picked.append(entry)

    while len(picked) < count:
        if (size - allocated - len(picked) * block) / size >= _DENSE_FREE_FRACTION:
            for _ in range(_MAX_REJECTIONS):
                entry = rng.randrange(entries)
                if _block_is_free(alloc, entry * block, block):
                    take(entry)
                    break
            continue
        free = [e for e in range(entries) if _block_is_free(alloc, e * block, block)]
        if len(free) < count - len(picked):
            raise ValueError(f"cannot draw {count - len(picked)} blocks from {len(free)} free")
        for entry in rng.sample(free, count - len(picked)):
            take(entry)
    return picked


def check_block_request(size: int, block: int) -> None:
    if isinstance(block, bool) or not isinstance(block, int) or not 1 <= block <= size:
        raise MalformedInputError(f"block must be an integer from 1 to the list size: {block!r}")
    if size % block:
        raise MalformedInputError(f"list size {size} is not a multiple of the block {block}")


def default_rng() -> random.Random:
    return secrets.SystemRandom()


def check_list_request(kind: str, purpose: str, size: int, count: int = 1) -> None:
    if kind not in STATUS_LIST_KINDS:
        raise MalformedInputError(
            f"unknown status list kind {kind!r}; expected one of {sorted(STATUS_LIST_KINDS)}"
        )
    if not isinstance(purpose, str) or not purpose:
        raise MalformedInputError("status purpose must be a non-empty string")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise MalformedInputError(f"status list size must be a positive integer, got {size!r}")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise MalformedInputError(f"allocation count must be a non-negative integer: {count!r}")


def check_record(record: CredentialRecord) -> CredentialRecord:
    """Normalise times to UTC and refuse what the schema could not round-trip."""
    if not isinstance(record.id, str) or not record.id:
        raise MalformedInputError("credential record needs a non-empty string id")
    if record.idempotency_key is not None and (
        not isinstance(record.idempotency_key, str) or not record.idempotency_key
    ):
        raise MalformedInputError("idempotency_key must be a non-empty string or None")
    if not isinstance(record.types, list) or not all(isinstance(t, str) for t in record.types):
        raise MalformedInputError("types must be a list of strings")
    if not isinstance(record.status_entries, list):
        raise MalformedInputError("status_entries must be a list")
    if not isinstance(record.credential, dict):
        raise MalformedInputError("credential must be a JSON object")
    return replace(
        record,
        types=list(record.types),
        issued_at=as_utc(record.issued_at, "issued_at"),
        valid_from=opt_utc(record.valid_from, "valid_from"),
        valid_until=opt_utc(record.valid_until, "valid_until"),
    )


# --- checks every operation shares ------------------------------------------------------


def check_change(
    list_id: str,
    list_purpose: str,
    size: int,
    alloc: bytes,
    index: int,
    purpose: str | None,
) -> None:
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < size:
        raise MalformedInputError(f"index {index!r} is outside status list {list_id} (size {size})")
    if purpose is not None and purpose != list_purpose:
        raise MalformedInputError(
            f"status list {list_id} has purpose {list_purpose!r}, not {purpose!r}"
        )
    if not get_bit(alloc, index):
        raise NotFoundError(f"index {index} of status list {list_id} was never allocated")


def apply_bit(bits: bytes, index: int, value: bool) -> tuple[bool, bytes | None]:
    """The bit's old value and the new bitstring; None when it already is ``value`` (no write)."""
    out = bytearray(bits)
    old = get_bit(out, index)
    if old == value:
        return old, None
    set_bit(out, index, value)
    return old, bytes(out)


@dataclass(frozen=True)
class BitChange:
    """A status write that ``Store.set_status_bit``/``set_status_bits`` checked, for the backend
    to apply in ONE transaction: ``values`` are consecutive bits from ``index`` (one bit for
    revocation/suspension, ``statusSize`` bits for a multi-bit message status), so no reader or
    other process ever sees half of a multi-bit value written."""

    list_id: str
    index: int
    values: tuple[bool, ...]
    actor: str
    reason: str | None
    credential_id: str | None
    purpose: str | None


class StatusAudit(TypedDict, total=False):
    """Who changes a status bit and why: the audit keywords of ``set_status_bits``, which
    ``set_status_bit`` passes on as they are."""

    actor: Required[str]
    reason: str | None
    credential_id: str | None
    purpose: str | None


def check_version(list_id: str, version: int, current: int) -> None:
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= current:
        raise MalformedInputError(
            f"status list {list_id} is at version {current}; cannot keep a credential for"
            f" version {version!r}"
        )


def check_list_credential(credential: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(credential, dict):
        raise MalformedInputError("the status list credential must be a JSON object")
    return credential


def new_token(
    token_hash: str, name: str, scopes: Sequence[str], expires_at: datetime | None
) -> TokenRecord:
    if not isinstance(token_hash, str) or not token_hash:
        raise MalformedInputError("token_hash must be a non-empty string")
    if isinstance(scopes, str) or not all(isinstance(s, str) and s for s in scopes):
        raise MalformedInputError("scopes must be a list of non-empty strings")
    return TokenRecord(
        id=uuid.uuid4().hex[:16],
        token_hash=token_hash,
        name=name,
        scopes=list(scopes),
        created_at=utcnow(),
        expires_at=opt_utc(expires_at, "expires_at"),
        revoked_at=None,
    )


def check_meta(key: str, value: str) -> None:
    if not isinstance(key, str) or not key:
        raise MalformedInputError("meta key must be a non-empty string")
    if not isinstance(value, str):
        raise MalformedInputError("meta value must be a string")


IMAGE_MEDIA_TYPES: Final[frozenset[str]] = frozenset({"image/png", "image/svg+xml"})
MAX_KEYS_PER_LOOKUP: Final[int] = 10_000


def check_achievement_data(achievement_id: str, data: dict[str, Any]) -> None:
    if not isinstance(achievement_id, str) or not achievement_id or len(achievement_id) > 255:
        raise MalformedInputError("an achievement id must be a string of 1 to 255 characters")
    if not isinstance(data, dict):
        raise MalformedInputError("achievement data must be a JSON object")


def check_expected_version(achievement_id: str, expected: int | None, current: int) -> None:
    """The lost-update guard of ``update_achievement``."""
    if expected is not None and expected != current:
        raise VersionConflictError(
            f"achievement {achievement_id} is at version {current},"
            f" not {expected}: it was changed meanwhile",
        )


def check_image(sha256: str, media_type: str, data: bytes) -> None:
    if not isinstance(data, (bytes, bytearray)):
        raise MalformedInputError("image data must be bytes")
    if media_type not in IMAGE_MEDIA_TYPES:
        raise UnsupportedImageError(
            f"image media type must be one of {sorted(IMAGE_MEDIA_TYPES)}, got {media_type!r}",
        )
    if hashlib.sha256(data).hexdigest() != sha256:
        raise MalformedInputError("image sha256 does not match its bytes")


def check_keys(keys: Sequence[str]) -> list[str]:
    out = list(dict.fromkeys(keys))
    if len(out) > MAX_KEYS_PER_LOOKUP:
        raise MalformedInputError(f"at most {MAX_KEYS_PER_LOOKUP} keys per lookup")
    if not all(isinstance(k, str) and k for k in out):
        raise MalformedInputError("idempotency keys must be non-empty strings")
    return out


def check_exchange(record: ExchangeRecord) -> ExchangeRecord:
    """Refuse records the schema could not round-trip; times become UTC."""
    if not isinstance(record.id, str) or not 16 <= len(record.id) <= 255:
        raise MalformedInputError("an exchange id must be a string of 16 to 255 characters")
    if record.kind not in EXCHANGE_KINDS:
        raise MalformedInputError(
            f"unknown exchange kind {record.kind!r}; expected one of {sorted(EXCHANGE_KINDS)}"
        )
    check_exchange_state(record.state)
    if record.credential_id is None and record.template is None:
        raise MalformedInputError("an exchange needs a credential_id or a credential template")
    if record.credential_id is not None and (
        not isinstance(record.credential_id, str) or not record.credential_id
    ):
        raise MalformedInputError("credential_id must be a non-empty string or None")
    if record.template is not None and not isinstance(record.template, dict):
        raise MalformedInputError("an exchange template must be a JSON object")
    check_exchange_json(record.data, "data")
    if record.result is not None:
        check_exchange_json(record.result, "result")
    check_lookup_hash(record.lookup_hash)
    created, expires = _check_lifetime(record, "an exchange")
    # A new exchange: version 1, updated when created, no attempts counted.
    return replace(
        record, created_at=created, expires_at=expires, updated_at=created, version=1, attempts=0
    )


def check_exchange_state(state: str) -> None:
    if state not in EXCHANGE_STATES:
        raise MalformedInputError(
            f"unknown exchange state {state!r}; expected one of {sorted(EXCHANGE_STATES)}"
        )


def check_exchange_json(value: Any, what: str) -> None:
    if not isinstance(value, dict):
        raise MalformedInputError(f"exchange {what} must be a JSON object")


def check_lookup_hash(value: str | Keep | None) -> None:
    if value is KEEP or value is None:
        return
    if not isinstance(value, str) or not value or len(value) > 255:
        raise MalformedInputError("lookup_hash must be a string of 1 to 255 characters or None")


def check_transition(
    from_states: Sequence[str],
    to_state: str,
    *,
    data: dict[str, Any] | None = None,
    result: dict[str, Any] | None = None,
    lookup_hash: str | Keep | None = KEEP,
) -> list[str]:
    """Validate a ``transition_exchange`` call; the states to move from, as a list."""
    states = [from_states] if isinstance(from_states, str) else list(from_states)
    if not states:
        raise MalformedInputError("a transition needs at least one state to move from")
    for state in [*states, to_state]:
        check_exchange_state(state)
    if data is not None:
        check_exchange_json(data, "data")
    if result is not None:
        check_exchange_json(result, "result")
    check_lookup_hash(lookup_hash)
    return states


# --- the interface -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExchangeUpdate:
    """A checked compare-and-set write of one exchange, for the backend's one UPDATE: ``values``
    (fields to replace) are written only while its state is one of ``states`` and, when given,
    it has not expired at ``now`` and is still at ``version``. ``version`` then grows by one."""

    exchange_id: str
    states: tuple[str, ...]
    values: dict[str, Any]
    now: datetime | None = None
    version: int | None = None


@dataclass(frozen=True)
class StoreLocation:
    """Where a store lives, for another process to open it: ``open_store(url, **options)``."""

    url: str
    options: tuple[tuple[str, Any], ...] = ()


class Store(abc.ABC):
    """Everything the issuer persists. Every write commits before the call returns.

    Where a call has many arguments to check or default, its public method is written here once
    (checks, defaults, which fields change) and a backend implements only the ``_`` hook it
    ends in (``_allocate``, ``_update_exchange``, ``_newest`` ...), with the checked values.
    """

    backend: str

    def location(self) -> StoreLocation | None:
        """How another process reaches this store; None when it cannot (an in-memory SQLite)."""
        return None

    @abc.abstractmethod
    async def migrate(self) -> int:
        """Apply pending schema migrations (idempotent, safe to run concurrently); new version."""

    @abc.abstractmethod
    async def schema_version(self) -> int: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # credentials
    @abc.abstractmethod
    async def put_credential(self, record: CredentialRecord) -> CredentialRecord:
        """Store a record; with an idempotency key already stored, return that record instead.

        Raises ``ConflictError`` when the credential id is taken by a record with another key.
        """

    @abc.abstractmethod
    async def put_credentials(
        self,
        records: Sequence[CredentialRecord],
        *,
        attached: Mapping[str, Attached] | None = None,
    ) -> list[CredentialRecord]:
        """``put_credential`` for many records in one transaction (same semantics, same order).

        ``attached`` (by credential id): claim links and outbox rows written in the same
        transaction, each only with a credential newly stored by this call.
        """

    @abc.abstractmethod
    async def get_credential(self, credential_id: str) -> CredentialRecord | None: ...

    @abc.abstractmethod
    async def get_credential_by_page_id(self, page_id: str) -> CredentialRecord | None: ...

    @abc.abstractmethod
    async def get_by_idempotency_key(self, key: str) -> CredentialRecord | None: ...

    @abc.abstractmethod
    async def list_credentials(
        self, limit: int = 100, offset: int = 0, *, subject_id: str | None = None
    ) -> list[CredentialRecord]:
        """Newest first."""

    @abc.abstractmethod
    async def count_credentials(self) -> int: ...

    # status lists
    async def allocate_index(
        self, kind: str, purpose: str, size: int, rng: random.Random | None = None
    ) -> tuple[str, int]:
        """A fresh (list_id, index), drawn uniformly among the free slots; committed on return.

        Calls that overlap in time (many requests issuing at once) share one transaction: each
        caller still gets its own index only after that transaction committed. An explicit
        ``rng`` gets a transaction of its own, so seeded draws stay reproducible.
        """
        if rng is not None:
            return (await self.allocate_indices(kind, purpose, size, 1, rng))[0]
        check_list_request(kind, purpose, size)
        batchers: dict[tuple[str, str, int], _Coalescer] = self.__dict__.setdefault(
            "_coalescers", {}
        )
        key = (kind, purpose, size)
        if key not in batchers:
            batchers[key] = _Coalescer(lambda n: self.allocate_indices(kind, purpose, size, n))
        return await batchers[key].submit()

    async def allocate_indices(
        self, kind: str, purpose: str, size: int, count: int, rng: random.Random | None = None
    ) -> list[tuple[str, int]]:
        """``count`` fresh (list_id, index) pairs in one transaction (may span a new list)."""
        return await self.allocate_blocks(kind, purpose, size, 1, count, rng)

    async def allocate_blocks(
        self,
        kind: str,
        purpose: str,
        size: int,
        block: int,
        count: int,
        rng: random.Random | None = None,
    ) -> list[tuple[str, int]]:
        """``count`` fresh (list_id, entry) pairs in one transaction, each entry ``block``
        consecutive bits (all marked allocated) starting at bit ``entry * block``.

        For multi-bit status (``statusSize`` = ``block``). A list is meant for one block size:
        the caller keeps block sizes apart (a list's ``size`` is entries times ``block``).
        """
        check_list_request(kind, purpose, size, count)
        check_block_request(size, block)
        if count == 0:
            return []
        return await self._allocate(
            kind, purpose, size, block, count, rng if rng is not None else default_rng()
        )

    @abc.abstractmethod
    async def _allocate(
        self, kind: str, purpose: str, size: int, block: int, count: int, rng: random.Random
    ) -> list[tuple[str, int]]:
        """``allocate_blocks`` after its checks (``count`` >= 1): the backend's transaction."""

    @abc.abstractmethod
    async def allocated_indices(self, list_id: str) -> list[int]:
        """Every index ever handed out from the list, ascending."""

    async def set_status_bit(
        self, list_id: str, index: int, value: bool, **audit: Unpack[StatusAudit]
    ) -> tuple[bool, bool]:
        """Set one bit and audit it in the same transaction; returns (old, new).

        When the bit already has ``value`` nothing is written (no version bump, no audit row).
        """
        (old,) = await self.set_status_bits(list_id, index, (bool(value),), **audit)
        return old, bool(value)

    async def set_status_bits(
        self,
        list_id: str,
        start: int,
        values: Sequence[bool],
        *,
        actor: str,
        reason: str | None = None,
        credential_id: str | None = None,
        purpose: str | None = None,
    ) -> tuple[bool, ...]:
        """Set consecutive bits from ``start`` in one transaction, each changed bit audited;
        returns the old bits. A multi-bit status value is written whole or not at all."""
        if not actor:
            raise MalformedInputError("a status change needs an actor for the audit log")
        if not values:
            raise MalformedInputError("a status change needs at least one bit")
        bits = tuple(bool(v) for v in values)
        change = BitChange(list_id, start, bits, actor, reason, credential_id, purpose)
        return await self._apply_bit_change(change)

    @abc.abstractmethod
    async def _apply_bit_change(self, change: BitChange) -> tuple[bool, ...]:
        """``set_status_bits`` after its checks: the backend's transaction; the old bits."""

    @abc.abstractmethod
    async def get_status_list(self, list_id: str) -> StatusListRecord | None: ...

    @abc.abstractmethod
    async def list_status_lists(self) -> list[StatusListRecord]:
        """Oldest first."""

    @abc.abstractmethod
    async def save_list_credential(
        self, list_id: str, version: int, credential: dict[str, Any]
    ) -> bool:
        """Keep the signed list credential built from bits ``version``; False if a newer is kept."""

    @abc.abstractmethod
    async def audit_log(
        self, credential_id: str | None = None, *, list_id: str | None = None
    ) -> list[AuditEntry]:
        """Oldest first."""

    # tokens
    async def create_token(
        self,
        token_hash: str,
        name: str,
        scopes: Sequence[str],
        expires_at: datetime | None = None,
    ) -> TokenRecord:
        """Store a new token; ``ConflictError`` when one with this hash exists."""
        return await self._insert_token(new_token(token_hash, name, scopes, expires_at))

    @abc.abstractmethod
    async def _insert_token(self, token: TokenRecord) -> TokenRecord:
        """``create_token`` after its checks: the backend's insert."""

    @abc.abstractmethod
    async def get_token_by_hash(self, token_hash: str) -> TokenRecord | None:
        """Also returns revoked and expired tokens: check ``is_active()``."""

    @abc.abstractmethod
    async def list_tokens(self) -> list[TokenRecord]: ...

    @abc.abstractmethod
    async def revoke_token(self, token_id: str) -> bool:
        """True if this call revoked it, False if already revoked; NotFoundError if unknown."""

    # achievements (badge designs) and their images
    @abc.abstractmethod
    async def create_achievement(
        self, achievement_id: str, data: dict[str, Any]
    ) -> AchievementRecord:
        """Store version 1; ``ConflictError`` when the id is taken."""

    @abc.abstractmethod
    async def update_achievement(
        self, achievement_id: str, data: dict[str, Any], *, expected_version: int | None = None
    ) -> AchievementRecord:
        """Store the next version (earlier ones are kept); ``NotFoundError`` for an unknown id,
        ``ConflictError`` when ``expected_version`` is not the current one (lost update)."""

    @abc.abstractmethod
    async def get_achievement(
        self, achievement_id: str, version: int | None = None
    ) -> AchievementRecord | None:
        """The current version, or an earlier one (``archived`` is always the current flag)."""

    @abc.abstractmethod
    async def list_achievements(self, *, include_archived: bool = False) -> list[AchievementRecord]:
        """Oldest first."""

    @abc.abstractmethod
    async def set_achievement_archived(
        self, achievement_id: str, archived: bool
    ) -> AchievementRecord:
        """Archive or unarchive (no new version); ``NotFoundError`` for an unknown id."""

    @abc.abstractmethod
    async def put_image(self, sha256: str, media_type: str, data: bytes) -> bool:
        """Keep an image under its hash; True if new, False if already stored (idempotent)."""

    @abc.abstractmethod
    async def get_image(self, sha256: str) -> ImageRecord | None: ...

    @abc.abstractmethod
    async def credential_refs(self, idempotency_keys: Sequence[str]) -> dict[str, CredentialRef]:
        """Stored credentials by idempotency key (missing keys are absent): one query per batch."""

    # wallet exchanges (VC API and OpenID4VCI)
    @abc.abstractmethod
    async def create_exchange(self, record: ExchangeRecord) -> ExchangeRecord:
        """Store a new exchange (version 1); ``ConflictError`` if its id or lookup_hash is taken."""

    @abc.abstractmethod
    async def get_exchange(self, exchange_id: str) -> ExchangeRecord | None:
        """Whatever its state; expiry is the caller's call (``is_expired(now)``)."""

    @abc.abstractmethod
    async def find_exchange(self, kind: str, lookup_hash: str) -> ExchangeRecord | None:
        """The exchange of ``kind`` whose unique ``lookup_hash`` matches (e.g. a hashed code)."""

    async def transition_exchange(
        self,
        exchange_id: str,
        from_states: Sequence[str],
        to_state: str,
        *,
        data: dict[str, Any] | None = None,
        result: dict[str, Any] | None = None,
        lookup_hash: str | Keep | None = KEEP,
        now: datetime | None = None,
    ) -> bool:
        """Atomic compare-and-set: move to ``to_state`` only if the state is in ``from_states``.

        True for exactly one of any number of concurrent callers. With ``now``, an exchange whose
        ``expires_at`` is not after ``now`` does not move either. ``data`` / ``result`` replace the
        stored objects when given; ``lookup_hash`` replaces the key (``None`` clears it).
        ``ConflictError`` if the new lookup_hash belongs to another exchange.
        """
        states = check_transition(
            from_states, to_state, data=data, result=result, lookup_hash=lookup_hash
        )
        values: dict[str, Any] = {"state": to_state}
        if data is not None:
            values["data"] = data
        if result is not None:
            values["result"] = result
        if not isinstance(lookup_hash, Keep):
            values["lookup_hash"] = lookup_hash
        at = opt_utc(now, "now")
        return await self._update_exchange(
            ExchangeUpdate(exchange_id, tuple(states), values, now=at)
        )

    async def update_exchange_data(
        self,
        exchange_id: str,
        data: dict[str, Any],
        expected_state: str,
        *,
        expected_version: int | None = None,
    ) -> bool:
        """Replace ``data`` if the state is still ``expected_state`` (and, when given, the record
        is still at ``expected_version``: a lost-update guard for counters such as attempts)."""
        check_exchange_json(data, "data")
        check_exchange_state(expected_state)
        return await self._update_exchange(
            ExchangeUpdate(exchange_id, (expected_state,), {"data": data}, version=expected_version)
        )

    @abc.abstractmethod
    async def _update_exchange(self, update: ExchangeUpdate) -> bool:
        """The one compare-and-set UPDATE behind ``transition_exchange`` and
        ``update_exchange_data``; ``ConflictError`` if a new lookup_hash is taken."""

    @abc.abstractmethod
    async def count_attempt(self, exchange_id: str, limit: int, *, state: str = "pending") -> int:
        """Check and count one attempt in one statement: the new count when fewer than ``limit``
        were counted and the exchange is in ``state``, else 0 (nothing counted, do not evaluate
        the attempt). Of N concurrent callers at most ``limit`` ever get a non-zero answer."""

    @abc.abstractmethod
    async def purge_expired(self, now: datetime, *, grace: timedelta = timedelta(0)) -> int:
        """Delete exchanges (wallet flows, offers, nonces) that expired before ``now - grace``
        and delivered nothing (no ``result``); the number of rows deleted."""

    @abc.abstractmethod
    async def count_exchanges(self) -> int: ...

    async def list_exchanges(
        self,
        *,
        credential_id: str | None = None,
        kind: str | None = None,
        limit: int = 100,
    ) -> list[ExchangeRecord]:
        """Newest first."""
        return await self._newest(ExchangeRecord, limit, credential_id=credential_id, kind=kind)

    @abc.abstractmethod
    async def _newest(self, record: type[_Rec], limit: int, **equal: str | None) -> list[_Rec]:
        """Stored ``record``s whose fields equal ``equal`` (None: any value), newest first, at
        most ``limit``: the listings of exchanges, claim links and mail."""

    # claim links
    @abc.abstractmethod
    async def create_claims(self, records: Sequence[ClaimRecord]) -> list[ClaimRecord]:
        """Store new claims in one transaction; ``ConflictError`` (nothing stored) if an id or a
        token_hash is taken."""

    async def create_claim(self, record: ClaimRecord) -> ClaimRecord:
        return (await self.create_claims([record]))[0]

    @abc.abstractmethod
    async def get_claim(self, claim_id: str) -> ClaimRecord | None: ...

    @abc.abstractmethod
    async def find_claim(self, token_hash: str) -> ClaimRecord | None:
        """The claim whose token hashes to ``token_hash``, whatever its state."""

    async def list_claims(
        self, *, credential_id: str | None = None, limit: int = 100
    ) -> list[ClaimRecord]:
        """Newest first."""
        return await self._newest(ClaimRecord, limit, credential_id=credential_id)

    @abc.abstractmethod
    async def revoke_claim(self, claim_id: str, now: datetime) -> ClaimRecord:
        """Mark revoked (the first revocation time is kept); ``NotFoundError`` if unknown."""

    @abc.abstractmethod
    async def touch_claim(self, claim_id: str, now: datetime) -> bool:
        """Record a use (``last_used_at``); False if there is no such claim."""

    # meta
    # outbox (email)
    @abc.abstractmethod
    async def enqueue_mail(self, records: Sequence[OutboxRecord]) -> int:
        """Queue messages in one transaction; one whose ``dedupe_key`` is queued already is
        left out. Returns how many were queued."""

    @abc.abstractmethod
    async def take_mail(self, now: datetime, limit: int) -> list[OutboxRecord]:
        """Mark up to ``limit`` due messages (queued, ``next_attempt_at <= now``) as
        ``sending`` (attempts + 1) and return them; concurrent senders never take the same."""

    async def finish_mail(
        self,
        mail_id: str,
        status: str,
        now: datetime,
        *,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> bool:
        """Settle a message being sent: ``sent`` / ``cancelled`` (the claim link is erased),
        ``failed``, or ``queued`` again at ``next_attempt_at``. False if it was not sending."""
        at = as_utc(now, "now")
        values: dict[str, Any] = {"status": status, "updated_at": at, "last_error": error}
        if status == "sent":
            values.update(sent_at=at, claim_link=None)
        elif status == "cancelled":
            values["claim_link"] = None
        elif status == "queued":
            if next_attempt_at is None:
                raise MalformedInputError("a message queued again needs next_attempt_at")
            values["next_attempt_at"] = as_utc(next_attempt_at, "next_attempt_at")
        elif status != "failed":
            raise MalformedInputError("a message finishes as sent, cancelled, failed or queued")
        return await self._finish_mail(mail_id, values)

    @abc.abstractmethod
    async def _finish_mail(self, mail_id: str, values: dict[str, Any]) -> bool:
        """Write ``finish_mail``'s checked ``values`` if the message is still ``sending``."""

    async def list_mail(
        self,
        *,
        status: str | None = None,
        credential_id: str | None = None,
        limit: int = 100,
    ) -> list[OutboxRecord]:
        """Messages, newest first."""
        return await self._newest(OutboxRecord, limit, status=status, credential_id=credential_id)

    @abc.abstractmethod
    async def retry_mail(self, now: datetime, mail_ids: Sequence[str] | None = None) -> int:
        """Queue failed messages again (all, or those named) with fresh attempts."""

    @abc.abstractmethod
    async def recover_mail(self, stuck_before: datetime, now: datetime) -> int:
        """Messages left ``sending`` since before ``stuck_before`` (a sender died mid-send)
        become ``failed``: they may have gone out, so only ``retry_mail`` sends them again."""

    @abc.abstractmethod
    async def get_meta(self, key: str) -> str | None: ...

    @abc.abstractmethod
    async def set_meta(self, key: str, value: str) -> None: ...

    @abc.abstractmethod
    async def setdefault_meta(self, key: str, value: str) -> str:
        """Store ``value`` unless the key has one; the stored value (first writer wins)."""


class _Coalescer:
    """Group concurrent single allocations into batch transactions (one commit, one fsync)."""

    def __init__(self, run: Callable[[int], Awaitable[list[tuple[str, int]]]]) -> None:
        self._run = run
        self._pending: list[asyncio.Future[tuple[str, int]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self) -> tuple[str, int]:
        future: asyncio.Future[tuple[str, int]] = asyncio.get_running_loop().create_future()
        self._pending.append(future)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._pending:
            batch = self._pending[:MAX_COALESCED]
            del self._pending[:MAX_COALESCED]
            live = [f for f in batch if not f.done()]  # cancelled callers need no index
            if not live:
                continue
            try:
                results = await self._run(len(live))
            except Exception as exc:
                for f in live:
                    if not f.done():
                        f.set_exception(exc)
                continue
            except BaseException:  # cancelled (loop shutting down): so are the callers
                for f in self._pending + live:
                    f.cancel()
                self._pending.clear()
                raise
            for f, result in zip(live, results, strict=True):
                if not f.done():  # cancelled meanwhile: the index stays allocated, unused
                    f.set_result(result)
