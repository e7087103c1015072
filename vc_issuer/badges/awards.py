"""Awarding badges: one recipient, or a batch from CSV / JSONL rows.

Every award is an ``OpenBadgeCredential`` built by :func:`openbadges.build_award`, checked
against the OB 3.0 AchievementCredential JSON Schema *before* it is signed, then issued through
the ``Issuer`` with one revocation status entry (the OB schema allows a single
``credentialStatus`` object) and returned with ``proof`` as an array (what the schema wants; the
signature is unchanged).

Idempotency: an award's idempotency key is an HMAC, under a secret the store keeps (generated on
first use), of the achievement and the recipient (DID and/or normalized email), not of the
achievement version: nobody outside can compute it from public inputs. Awards made before the
secret existed were keyed with a plain hash; they are still found under that key. Running the
same file again, or resuming an interrupted batch, issues nothing twice: rows already awarded
come back as ``skipped`` with their credential id and claim link.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import hmac
import io
import multiprocessing
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import IO, Any, Final, Protocol

from vc_issuer.badges.achievements import AchievementService, StoredAchievement
from vc_issuer.badges.openbadges import (
    IssuerProfile,
    build_award,
    normalize_email,
    ob_schema_compatible,
)
from vc_issuer.core.credentials import is_url
from vc_issuer.core.csvsafe import SafeDictWriter
from vc_issuer.core.jose import credential_id
from vc_issuer.core.jsonparse import parse_json_text
from vc_issuer.errors import (
    DuplicateRecipientError,
    InputTooLargeError,
    InvalidRecipientError,
    InvalidRowError,
    MalformedInputError,
    MissingRecipientError,
    ParsingError,
    VCIssuerError,
)
from vc_issuer.services.issuer import REVOCATION, Issuer, Securing
from vc_issuer.store import Attached

PAGE_PATH: Final = "/c/"
DEFAULT_CHUNK: Final = 500
MAX_ROW_BYTES: Final = 64 * 1024
#: One status purpose: the OB schema allows a single credentialStatus object.
AWARD_STATUS_PURPOSES: Final = (REVOCATION,)
CSV_COLUMNS: Final = ("did", "email", "name", "evidence_url", "evidence_name", "evidence_narrative")
RESULT_COLUMNS: Final = (
    "row",
    "status",
    "recipient",
    "credential_id",
    "page_url",
    "claim_link",
    "error_code",
    "error",
    "notified",
)

ISSUED: Final = "issued"
SKIPPED: Final = "skipped"  # awarded before (an earlier run, or earlier in this file)
ERROR: Final = "error"


@dataclass(frozen=True)
class Recipient:
    """Who receives a badge: a DID, an email address (hashed in the badge), or both."""

    did: str | None = None
    email: str | None = None
    name: str | None = None
    evidence: tuple[dict[str, Any], ...] = ()

    def __post_init__(self) -> None:
        did = self.did.strip() if isinstance(self.did, str) and self.did.strip() else None
        email = self.email.strip() if isinstance(self.email, str) and self.email.strip() else None
        name = self.name.strip() if isinstance(self.name, str) and self.name.strip() else None
        object.__setattr__(self, "did", did)
        object.__setattr__(self, "email", email)
        object.__setattr__(self, "name", name)
        if did is None and email is None:
            raise MissingRecipientError(
                "the recipient needs a DID or an email address",
                field="recipient",
            )
        if did is not None and (not did.startswith("did:") or not is_url(did)):
            raise InvalidRecipientError(f"recipient DID {did!r} is not a DID", field="did")
        if email is not None:
            try:
                normalize_email(email)
            except MalformedInputError as exc:
                raise InvalidRecipientError(exc.detail, field="email") from None

    @property
    def label(self) -> str:
        """The DID or the email, for reports."""
        return self.did or self.email or ""

    def identity(self) -> str:
        """What identifies the person across runs (email normalized: one hash per person)."""
        parts = []
        if self.did is not None:
            parts.append("did:" + self.did)
        if self.email is not None:
            parts.append("email:" + normalize_email(self.email))
        return "\n".join(parts)


AWARD_SECRET_META: Final = "award_key_secret"


def award_key(achievement_key: str, recipient: Recipient, secret: bytes | None = None) -> str:
    """The idempotency key of awarding this achievement to this recipient: an HMAC under the
    store's ``secret``; without one, the plain hash awards made before the secret carry."""
    message = f"{achievement_key}\n{recipient.identity()}".encode()
    if secret is None:
        return "ob-award:" + hashlib.sha256(message).hexdigest()
    return "ob-award-hmac:" + hmac.new(secret, message, hashlib.sha256).hexdigest()


async def award_secret(store: Any) -> bytes:
    """The store's award-key secret, made on first use (one value for every process)."""
    value = await store.get_meta(AWARD_SECRET_META)
    if value is None:
        value = await store.setdefault_meta(AWARD_SECRET_META, secrets.token_hex(32))
    return bytes.fromhex(value)


@dataclass(frozen=True)
class Attachment:
    """What goes into the store with one new award (its claim link, its email) and what the
    results say about it."""

    rows: Attached
    claim_link: str = ""
    notified: str = ""


class AttachFn(Protocol):
    """Rows to store with a new credential (``badges.notify.ClaimNotice``); picklable."""

    def __call__(
        self, credential_id: str, recipient: Recipient, achievement_key: str, now: datetime
    ) -> Attachment: ...


@dataclass(frozen=True)
class Award:
    """A signed badge and its public page (``page_url``, safe to share); ``created`` is False
    for a repeat. The personal claim link is made separately (badges.claims)."""

    credential: dict[str, Any]
    credential_id: str
    page_id: str
    page_url: str
    created: bool
    claim_link: str = ""
    """The personal claim link stored with the award (with ``attach``), else empty."""
    notified: str = ""
    """``queued`` when its email is in the outbox, ``no-email``, or empty."""


@dataclass
class AwardResult:
    """The outcome of one batch row."""

    row: int
    status: str
    recipient: str = ""
    credential_id: str = ""
    page_url: str = ""
    """The badge's public page (``/c/{page_id}``), safe to share."""
    claim_link: str = ""
    """The learner's personal claim link (``/claim/{token}``): newly issued rows only."""
    error_code: str = ""
    error: str = ""
    notified: str = ""
    """``queued``: the claim email is in the outbox (``vc-issuer email list`` follows it)."""

    def to_row(self) -> dict[str, str]:
        return {
            "row": str(self.row),
            "status": self.status,
            "recipient": self.recipient,
            "credential_id": self.credential_id,
            "page_url": self.page_url,
            "claim_link": self.claim_link,
            "error_code": self.error_code,
            "error": self.error,
            "notified": self.notified,
        }


@dataclass
class BatchSummary:
    issued: int = 0
    skipped: int = 0
    errors: int = 0
    results: list[AwardResult] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.issued + self.skipped + self.errors

    def to_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in ("total", "issued", "skipped", "errors")}


# --- rows ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """A parsed input row: a recipient, or the error that row gave."""

    row: int
    recipient: Recipient | None = None
    error: VCIssuerError | None = None


def _evidence(url: Any, name: Any, narrative: Any, row: int) -> tuple[dict[str, Any], ...]:
    url = url.strip() if isinstance(url, str) else url
    if not url:
        if name or narrative:
            raise MalformedInputError(
                f"row {row}: evidence_name/evidence_narrative need an evidence_url",
                field="evidence_url",
            )
        return ()
    if not isinstance(url, str) or not url.startswith(("https://", "http://")) or not is_url(url):
        raise MalformedInputError(
            f"evidence_url {url!r} is not an http(s) URL", field="evidence_url"
        )
    item: dict[str, Any] = {"id": url, "type": ["Evidence"]}
    for key, value in (("name", name), ("narrative", narrative)):
        if isinstance(value, str) and value.strip():
            item[key] = value.strip()
        elif value not in (None, ""):
            raise MalformedInputError(f"evidence_{key} must be a string", field=f"evidence_{key}")
    return (item,)


def row_from_mapping(values: Mapping[str, Any], row: int) -> Row:
    """A row from CSV columns or a JSONL object (``did``, ``email``, ``name``, ``evidence_url``,
    ``evidence_name``, ``evidence_narrative``; JSONL may give ``evidence`` as a list)."""
    try:
        for key in ("did", "email", "name"):
            if values.get(key) is not None and not isinstance(values.get(key), str):
                raise MalformedInputError(f"{key} must be a string", field=key)
        evidence = _evidence(
            values.get("evidence_url"),
            values.get("evidence_name"),
            values.get("evidence_narrative"),
            row,
        )
        extra = values.get("evidence")
        if extra is not None:
            if not isinstance(extra, list) or not all(isinstance(e, dict) for e in extra):
                raise MalformedInputError("evidence must be a list of objects", field="evidence")
            evidence = evidence + tuple(extra)
        recipient = Recipient(
            did=values.get("did"),
            email=values.get("email"),
            name=values.get("name"),
            evidence=evidence,
        )
    except MalformedInputError as exc:
        return Row(row, error=exc)
    return Row(row, recipient=recipient)


def read_csv_rows(text: IO[str]) -> Iterator[Row]:
    """Rows of a recipients CSV; ``row`` is the line number (the header is line 1)."""
    reader = csv.DictReader(text, strict=True)
    try:
        header = reader.fieldnames
    except csv.Error as exc:
        raise ParsingError(f"the CSV header cannot be read: {exc}") from None
    if not header:
        raise ParsingError("the CSV file is empty (a header row is needed)")
    columns = [h.strip().lower() if h else "" for h in header]
    if "did" not in columns and "email" not in columns:
        raise MissingRecipientError(
            f"the CSV header needs a 'did' or an 'email' column, got {header}",
        )
    reader.fieldnames = columns
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Row(reader.line_num, error=ParsingError(f"line {reader.line_num}: {exc}"))
            continue
        line = reader.line_num
        if None in values:  # more cells than header columns
            yield Row(
                line,
                error=InvalidRowError(f"line {line} has more cells than the header has columns"),
            )
            continue
        if not any((v or "").strip() for v in values.values()):
            continue  # a blank line is not a recipient
        yield row_from_mapping({k: v for k, v in values.items() if k}, line)


def read_jsonl_rows(text: IO[str]) -> Iterator[Row]:
    """Rows of a JSON Lines file (one object per line); ``row`` is the line number."""
    for number, line in enumerate(text, start=1):
        if not line.strip():
            continue
        if len(line) > MAX_ROW_BYTES:
            yield Row(number, error=MalformedInputError(f"line {number} is too long"))
            continue
        try:
            obj = parse_json_text(line, what=f"line {number}")
        except (ParsingError, InputTooLargeError) as exc:
            yield Row(number, error=exc)
            continue
        if not isinstance(obj, dict):
            yield Row(number, error=MalformedInputError(f"line {number} is not a JSON object"))
            continue
        yield row_from_mapping(obj, number)


def open_text(data: bytes) -> io.StringIO:
    """Decode an uploaded file (UTF-8, BOM allowed): a bad encoding fails the whole batch."""
    try:
        return io.StringIO(data.decode("utf-8-sig"), newline="")
    except UnicodeDecodeError as exc:
        raise ParsingError(f"the file is not UTF-8: {exc}") from None


# --- the service -----------------------------------------------------------------------------


ProgressFn = Callable[[int], None]


class Awarder:
    """Awards stored achievements through an ``Issuer``."""

    def __init__(
        self,
        issuer: Issuer,
        achievements: AchievementService | None = None,
        *,
        profile: IssuerProfile | None = None,
        chunk_size: int = DEFAULT_CHUNK,
        workers: int = 1,
        spec: WorkerSpec | None = None,
        attach: AttachFn | None = None,
        securing: Securing | None = None,
    ) -> None:
        if chunk_size < 1:
            raise MalformedInputError("chunk_size must be positive")
        if workers < 1:
            raise MalformedInputError("workers must be positive")
        self.workers = workers
        self.spec = spec
        self.issuer = issuer
        self.achievements = achievements or AchievementService(
            issuer.store, base_url=issuer.base_url
        )
        self._profile = profile
        self.chunk_size = chunk_size
        self.attach = attach
        self.securing = securing or Securing()
        """Suites or JWT, and key: a JWT award is stored as its EnvelopedVerifiableCredential."""

    def page_url(self, page_id: str) -> str:
        """The badge's public page (``/c/{page_id}``): safe to share."""
        return f"{self.issuer.base_url}{PAGE_PATH}{page_id}"

    async def profile(self) -> IssuerProfile:
        if self._profile is None:
            self._profile = await self.achievements.profile(
                self.issuer.did, self.issuer.issuer_name
            )
        return self._profile

    def _build(
        self,
        stored: StoredAchievement,
        profile: IssuerProfile,
        recipient: Recipient,
        awarded: datetime,
    ) -> dict[str, Any]:
        return build_award(
            stored.achievement,
            profile,
            awarded=awarded,
            recipient_did=recipient.did,
            email=recipient.email,
            name=recipient.name,
            evidence=[dict(e) for e in recipient.evidence] or None,
            validate=True,  # the OB schema runs before anything is signed
        )

    async def award(
        self,
        achievement: str,
        recipient: Recipient,
        *,
        awarded: datetime | None = None,
        repeat: bool = False,
    ) -> Award:
        """Award one badge. Without ``repeat``, awarding the same badge to the same person again
        returns the first award (``created=False``); ``repeat=True`` issues a new one."""
        stored = await self.achievements.awardable(achievement)
        secret = await award_secret(self.issuer.store)
        key = None if repeat else award_key(stored.key, recipient, secret)
        if key is not None:
            earlier = await self.issuer.store.get_by_idempotency_key(
                key
            ) or await self.issuer.store.get_by_idempotency_key(award_key(stored.key, recipient))
            if earlier is not None:
                return Award(
                    ob_schema_compatible(earlier.credential),
                    earlier.id,
                    earlier.page_id,
                    self.page_url(earlier.page_id),
                    created=False,
                )
        moment = awarded or self.issuer.now()
        credential = self._build(stored, await self.profile(), recipient, moment)
        extra: Attachment | None = None
        if self.attach is None:
            signed = await self.issuer.issue(
                credential,
                status_purposes=AWARD_STATUS_PURPOSES,
                idempotency_key=key,
                **self.securing.options(),
            )
        else:  # the claim link and its email go into the award's own transaction
            extra = self.attach(str(credential["id"]), recipient, stored.key, self.issuer.now())
            (outcome,) = await self.issuer.issue_many(
                [credential],
                status_purposes=AWARD_STATUS_PURPOSES,
                idempotency_keys=[key],
                attached={str(credential["id"]): extra.rows},
                **self.securing.options(),
            )
            if isinstance(outcome, VCIssuerError):
                raise outcome
            signed = outcome
        record = await self.issuer.get_record(credential_id(signed))
        created = record.id == credential["id"]  # else another process awarded it first
        return Award(
            ob_schema_compatible(signed),
            record.id,
            record.page_id,
            self.page_url(record.page_id),
            created=created,
            claim_link=extra.claim_link if extra is not None and created else "",
            notified=extra.notified if extra is not None and created else "",
        )

    async def award_many(
        self,
        achievement: str,
        rows: Iterable[Row],
        *,
        awarded: datetime | None = None,
        progress: ProgressFn | None = None,
        on_results: Callable[[list[AwardResult]], Awaitable[None] | None] | None = None,
        keep_results: bool = True,
        workers: int | None = None,
    ) -> BatchSummary:
        """Award one achievement to every row; a bad row is reported and the batch goes on.

        Rows go in chunks: one idempotency lookup, one ``issue_many`` (one index allocation and
        one store transaction) and one page-id lookup per chunk. Every chunk is committed on its
        own, so an interrupted batch resumes where it stopped when run again. ``workers`` > 1
        signs chunks in that many processes, each with its own issuer on the same store (needs
        a SQLite file or PostgreSQL, and a ``spec``). ``on_results`` gets each chunk's results,
        chunks in row order (e.g. to stream a CSV).
        """
        stored = await self.achievements.awardable(achievement)  # refuse before anything
        secret = await award_secret(self.issuer.store)
        profile = await self.profile()
        moment = awarded or self.issuer.now()
        summary = BatchSummary()
        seen: dict[str, tuple[_Chunk, int]] = {}  # recipient key -> where it was first met
        count = self.workers if workers is None else workers
        pool: _WorkerPool | None = None
        inflight: deque[tuple[_Chunk, asyncio.Future[list[AwardResult]]]] = deque()

        async def emit(chunk: _Chunk, future: asyncio.Future[list[AwardResult]]) -> None:
            for slot, result in zip(chunk.slots, await future, strict=True):
                chunk.results[slot] = result
            for slot, first_slot, first_chunk in chunk.repeats:
                _repeat(chunk.results[slot], first_chunk.results[first_slot])
            for r in chunk.results:
                if r.status == ISSUED:
                    summary.issued += 1
                elif r.status == SKIPPED:
                    summary.skipped += 1
                else:
                    summary.errors += 1
            if keep_results:
                summary.results.extend(chunk.results)
            if on_results is not None:
                maybe = on_results(chunk.results)
                if maybe is not None:
                    await maybe
            if progress is not None:
                progress(len(chunk.results))

        async def submit(batch: list[Row]) -> None:
            nonlocal pool
            chunk = _split(stored, batch, seen, secret)
            await self._skip_known(chunk)  # a rerun starts no process and signs nothing
            if pool is None and count > 1 and chunk.todo:
                pool = _WorkerPool(self, stored, profile, count)
            if pool is None:
                future: asyncio.Future[list[AwardResult]] = asyncio.ensure_future(
                    self._issue_unique(stored, profile, chunk.todo, moment)
                )
            else:
                future = pool.submit(chunk.todo, moment)
            inflight.append((chunk, future))
            limit = 0 if pool is None else 2 * count
            while len(inflight) > limit:
                await emit(*inflight.popleft())

        try:
            batch: list[Row] = []
            for row in rows:
                batch.append(row)
                if len(batch) >= self.chunk_size:
                    await submit(batch)
                    batch = []
            if batch:
                await submit(batch)
            while inflight:
                await emit(*inflight.popleft())
        finally:
            for _, future in inflight:
                future.cancel()
            if pool is not None:
                pool.close()
        return summary

    async def _skip_known(self, chunk: _Chunk) -> None:
        """Rows awarded before (an earlier or interrupted run) are reported, not issued."""
        if not chunk.todo:
            return
        legacy = {award_key(chunk.stored_key, rec): key for _, key, rec in chunk.todo}
        found = await self.issuer.store.credential_refs(
            [key for _, key, _ in chunk.todo] + list(legacy)
        )
        known = {legacy.get(k, k): ref for k, ref in found.items()}
        if not known:
            return
        todo: list[tuple[int, str, Recipient]] = []
        slots: list[int] = []
        for item, slot in zip(chunk.todo, chunk.slots, strict=True):
            ref = known.get(item[1])
            if ref is None:
                todo.append(item)
                slots.append(slot)
                continue
            result = chunk.results[slot]
            result.status = SKIPPED
            result.credential_id = ref.id
            result.page_url = self.page_url(ref.page_id)
        chunk.todo, chunk.slots = todo, slots

    async def _issue_unique(
        self,
        stored: StoredAchievement,
        profile: IssuerProfile,
        todo: Sequence[tuple[int, str, Recipient]],
        moment: datetime,
    ) -> list[AwardResult]:
        """Award distinct recipients (row, key, recipient); results in the same order."""
        results = [AwardResult(row, ISSUED, recipient=rec.label) for row, _, rec in todo]
        if not todo:
            return results
        known = await self.issuer.store.credential_refs([key for _, key, _ in todo])
        creds: list[dict[str, Any]] = []
        keys: list[str] = []
        pending: list[AwardResult] = []
        extras: dict[str, Attachment] = {}
        now = self.issuer.now()
        for result, (_, key, recipient) in zip(results, todo, strict=True):
            ref = known.get(key)
            if ref is not None:
                result.status = SKIPPED
                result.credential_id = ref.id
                result.page_url = self.page_url(ref.page_id)
                continue
            try:
                cred = self._build(stored, profile, recipient, moment)
            except VCIssuerError as exc:
                _fail(result, exc)
                continue
            creds.append(cred)
            if self.attach is not None:
                extras[str(cred["id"])] = self.attach(str(cred["id"]), recipient, stored.key, now)
            keys.append(key)
            pending.append(result)
        if not creds:
            return results
        issued = await self.issuer.issue_many(
            creds,
            status_purposes=AWARD_STATUS_PURPOSES,
            idempotency_keys=keys,
            attached={k: v.rows for k, v in extras.items()} or None,
            **self.securing.options(),
        )
        refs = await self.issuer.store.credential_refs(keys)
        for result, key, cred, outcome in zip(pending, keys, creds, issued, strict=True):
            if isinstance(outcome, VCIssuerError):
                _fail(result, outcome)
                continue
            ref = refs.get(key)
            if ref is None:  # pragma: no cover - issue_many stored it or reported an error
                _fail(result, MalformedInputError("the award was not stored"))
                continue
            result.credential_id = ref.id
            result.page_url = self.page_url(ref.page_id)
            if ref.id != cred["id"]:  # another process awarded it meanwhile
                result.status = SKIPPED
            elif (extra := extras.get(ref.id)) is not None:
                result.claim_link, result.notified = extra.claim_link, extra.notified
        return results


@dataclass
class _Chunk:
    """One chunk's results in row order; ``slots`` are filled by the issuing step."""

    results: list[AwardResult]
    todo: list[tuple[int, str, Recipient]]
    slots: list[int]
    repeats: list[tuple[int, int, _Chunk]]
    stored_key: str = ""


def _split(
    stored: StoredAchievement,
    rows: Sequence[Row],
    seen: dict[str, tuple[_Chunk, int]],
    secret: bytes,
) -> _Chunk:
    """Parse errors, first occurrences (to issue) and repeats of a recipient (not issued)."""
    chunk = _Chunk([], [], [], [], stored.key)
    for row in rows:
        slot = len(chunk.results)
        if row.recipient is None:
            assert row.error is not None
            chunk.results.append(_failed(row.row, "", row.error))
            continue
        chunk.results.append(AwardResult(row.row, ISSUED, recipient=row.recipient.label))
        key = award_key(stored.key, row.recipient, secret)
        first = seen.get(key)
        if first is not None:
            owner, first_slot = first
            chunk.repeats.append((slot, first_slot, owner))
            continue
        seen[key] = (chunk, slot)
        chunk.todo.append((row.row, key, row.recipient))
        chunk.slots.append(slot)
    return chunk


def _repeat(result: AwardResult, first: AwardResult) -> None:
    """The same person twice in one file: one award, the repeat points at it."""
    result.status = ERROR if first.status == ERROR else SKIPPED
    result.credential_id = first.credential_id
    result.page_url = first.page_url
    result.error_code = DuplicateRecipientError.code if first.status == ERROR else ""
    result.error = f"same recipient as row {first.row}"


# --- worker processes ------------------------------------------------------------------------


_COPIED_SETTINGS: Final = (
    "did",
    "base_url",
    "issuer_name",
    "list_size",
    "list_ttl_ms",
    "default_suite",
)
"""The issuer settings a worker takes over unchanged: ``WorkerSpec.from_issuer`` reads them off
the parent's issuer and ``_worker_start`` gives them to the worker's, so the two lists cannot
drift apart."""


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker process needs to run its own issuer on the same store (picklable)."""

    keys: tuple[dict[str, Any], ...]
    """The issuer's keys as Multikey JSON with their secrets, primary first."""
    did: str
    database_url: str
    store_options: tuple[tuple[str, Any], ...]
    base_url: str
    issuer_name: str | None
    list_size: int
    list_ttl_ms: int | None
    list_validity_s: float
    default_suite: str
    context_dirs: tuple[str, ...] = ()
    attach: AttachFn | None = None
    securing: Securing = field(default_factory=Securing)

    @classmethod
    def from_issuer(cls, issuer: Issuer, context_dirs: Sequence[str] = ()) -> WorkerSpec | None:
        """None when the store cannot be shared between processes (an in-memory SQLite)."""
        location = issuer.store.location()
        if location is None:
            return None
        return cls(
            keys=tuple(k.to_multikey_json() for k in issuer.keyring.keys),
            database_url=location.url,
            store_options=location.options,
            list_validity_s=issuer.list_validity.total_seconds(),
            context_dirs=tuple(str(d) for d in context_dirs),
            **{name: getattr(issuer, name) for name in _COPIED_SETTINGS},
        )


_WORKER: dict[str, Any] = {}


def _worker_start(
    spec: WorkerSpec, key: str, version: int, record: dict[str, Any], profile: dict[str, Any]
) -> None:
    """Runs once in each worker process: its own event loop, store and issuer."""
    from multiprocessing.util import Finalize

    from vc_issuer.badges.openbadges import Achievement
    from vc_issuer.core.jsonld import ContextLoader
    from vc_issuer.core.keys import parse_signing_key
    from vc_issuer.store import open_store

    keys = [parse_signing_key(k) for k in spec.keys]
    loop = asyncio.new_event_loop()
    store = loop.run_until_complete(
        open_store(spec.database_url, migrate=False, **dict(spec.store_options))
    )
    issuer = Issuer(
        key=keys[0],
        extra_keys=keys[1:],
        store=store,
        list_validity=timedelta(seconds=spec.list_validity_s),
        loader=ContextLoader(spec.context_dirs) if spec.context_dirs else None,
        **{name: getattr(spec, name) for name in _COPIED_SETTINGS},
    )
    awarder = Awarder(
        issuer,
        profile=IssuerProfile.from_json(profile),
        attach=spec.attach,
        securing=spec.securing,
    )
    now = datetime.now(UTC)
    stored = StoredAchievement(key, version, Achievement.from_record(record), False, now, now)
    _WORKER.update(loop=loop, awarder=awarder, stored=stored, profile=awarder._profile)

    def close() -> None:
        loop.run_until_complete(store.close())
        loop.close()

    Finalize(None, close, exitpriority=10)


def _worker_issue(todo: list[tuple[int, str, Recipient]], moment: datetime) -> list[AwardResult]:
    awarder: Awarder = _WORKER["awarder"]
    result: list[AwardResult] = _WORKER["loop"].run_until_complete(
        awarder._issue_unique(_WORKER["stored"], _WORKER["profile"], todo, moment)
    )
    return result


class _WorkerPool:
    """Processes that build, check, sign and store chunks; the parent only reads and reports."""

    def __init__(
        self,
        awarder: Awarder,
        stored: StoredAchievement,
        profile: IssuerProfile,
        count: int,
    ) -> None:
        spec = awarder.spec or WorkerSpec.from_issuer(awarder.issuer)
        if spec is not None and spec.attach is not awarder.attach:
            spec = replace(spec, attach=awarder.attach)
        if spec is not None and spec.securing != awarder.securing:
            spec = replace(spec, securing=awarder.securing)
        if spec is None:
            raise MalformedInputError(
                "worker processes need a store they can share (a SQLite file or PostgreSQL)"
            )
        record = stored.achievement.to_record()
        self._executor = ProcessPoolExecutor(
            max_workers=count,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_start,
            initargs=(spec, stored.key, stored.version, record, profile.to_json()),
        )

    def submit(
        self, todo: list[tuple[int, str, Recipient]], moment: datetime
    ) -> asyncio.Future[list[AwardResult]]:
        return asyncio.wrap_future(self._executor.submit(_worker_issue, todo, moment))

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


def _failed(row: int, label: str, exc: VCIssuerError) -> AwardResult:
    result = AwardResult(row, ERROR, recipient=label)
    _fail(result, exc)
    return result


def _fail(result: AwardResult, exc: VCIssuerError) -> None:
    result.status = ERROR
    result.error_code = exc.code
    result.error = exc.detail
    result.credential_id = ""
    result.page_url = ""
    result.claim_link = ""
    result.notified = ""


def write_results(out: IO[str], results: Iterable[AwardResult], *, header: bool = True) -> None:
    """Results as CSV: row, status, recipient, credential_id, page_url (the public page, safe
    to share), claim_link (the learner's personal claim link), error_code, error, notified
    (``queued``: its claim email is in the outbox; ``no-email``: the row has no address).

    ``page_url`` was formerly named ``claim_url`` (it never was a claim link)."""
    writer = SafeDictWriter(out, RESULT_COLUMNS, lineterminator="\n")  # no formula cells
    if header:
        writer.writeheader()
    for r in results:
        writer.writerow(r.to_row())


__all__ = [
    "AWARD_STATUS_PURPOSES",
    "ERROR",
    "ISSUED",
    "SKIPPED",
    "AttachFn",
    "Attachment",
    "Award",
    "AwardResult",
    "Awarder",
    "BatchSummary",
    "Recipient",
    "Row",
    "WorkerSpec",
    "award_key",
    "open_text",
    "read_csv_rows",
    "read_jsonl_rows",
    "row_from_mapping",
    "write_results",
]
