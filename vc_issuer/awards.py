"""Awarding badges: one recipient, or a batch from CSV / JSONL rows.

Every award is an ``OpenBadgeCredential`` built by :func:`openbadges.build_award`, checked
against the OB 3.0 AchievementCredential JSON Schema *before* it is signed, then issued through
the ``Issuer`` with one revocation status entry (the OB schema allows a single
``credentialStatus`` object) and returned with ``proof`` as an array (what the schema wants; the
signature is unchanged).

Idempotency: an award's idempotency key is a hash of the achievement and the recipient (DID
and/or normalized email), not of the achievement version. Running the same file again, or
resuming an interrupted batch, issues nothing twice: rows already awarded come back as
``skipped`` with their credential id and claim link.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any, Final

from vc_issuer.achievements import AchievementService, StoredAchievement
from vc_issuer.credentials import is_url
from vc_issuer.errors import MalformedInputError, ParsingError, VCIssuerError
from vc_issuer.issuer import REVOCATION, Issuer
from vc_issuer.openbadges import IssuerProfile, build_award, normalize_email, ob_schema_compatible

CLAIM_PATH: Final = "/c/"
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
    "claim_url",
    "error_code",
    "error",
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
            raise MalformedInputError(
                "the recipient needs a DID or an email address",
                code="MISSING_RECIPIENT",
                field="recipient",
            )
        if did is not None and (not did.startswith("did:") or not is_url(did)):
            raise MalformedInputError(
                f"recipient DID {did!r} is not a DID", code="INVALID_RECIPIENT", field="did"
            )
        if email is not None:
            try:
                normalize_email(email)
            except MalformedInputError as exc:
                raise MalformedInputError(
                    exc.detail, code="INVALID_RECIPIENT", field="email"
                ) from None

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


def award_key(achievement_key: str, recipient: Recipient) -> str:
    """The idempotency key of awarding this achievement to this recipient."""
    digest = hashlib.sha256(f"{achievement_key}\n{recipient.identity()}".encode()).hexdigest()
    return "ob-award:" + digest


@dataclass(frozen=True)
class Award:
    """A signed badge and where its recipient claims it; ``created`` is False for a repeat."""

    credential: dict[str, Any]
    credential_id: str
    page_id: str
    claim_url: str
    created: bool


@dataclass
class AwardResult:
    """The outcome of one batch row."""

    row: int
    status: str
    recipient: str = ""
    credential_id: str = ""
    claim_url: str = ""
    error_code: str = ""
    error: str = ""

    def to_row(self) -> dict[str, str]:
        return {
            "row": str(self.row),
            "status": self.status,
            "recipient": self.recipient,
            "credential_id": self.credential_id,
            "claim_url": self.claim_url,
            "error_code": self.error_code,
            "error": self.error,
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
        return {
            "total": self.total,
            "issued": self.issued,
            "skipped": self.skipped,
            "errors": self.errors,
        }


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
        raise MalformedInputError(
            f"the CSV header needs a 'did' or an 'email' column, got {header}",
            code="MISSING_RECIPIENT",
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
                error=MalformedInputError(
                    f"line {line} has more cells than the header has columns", code="INVALID_ROW"
                ),
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
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Row(number, error=ParsingError(f"line {number} is not JSON: {exc.msg}"))
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
    ) -> None:
        if chunk_size < 1:
            raise MalformedInputError("chunk_size must be positive")
        self.issuer = issuer
        self.achievements = achievements or AchievementService(
            issuer.store, base_url=issuer.base_url
        )
        self._profile = profile
        self.chunk_size = chunk_size

    def claim_url(self, page_id: str) -> str:
        return f"{self.issuer.base_url}{CLAIM_PATH}{page_id}"

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
        key = None if repeat else award_key(stored.key, recipient)
        if key is not None:
            earlier = await self.issuer.store.get_by_idempotency_key(key)
            if earlier is not None:
                return Award(
                    ob_schema_compatible(earlier.credential),
                    earlier.id,
                    earlier.page_id,
                    self.claim_url(earlier.page_id),
                    created=False,
                )
        moment = awarded or self.issuer.now()
        credential = self._build(stored, await self.profile(), recipient, moment)
        signed = await self.issuer.issue(
            credential, status_purposes=AWARD_STATUS_PURPOSES, idempotency_key=key
        )
        record = await self.issuer.get_record(str(signed["id"]))
        return Award(
            ob_schema_compatible(signed),
            record.id,
            record.page_id,
            self.claim_url(record.page_id),
            created=signed["id"] == credential["id"],  # else another process awarded it first
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
    ) -> BatchSummary:
        """Award one achievement to every row; a bad row is reported and the batch goes on.

        Rows go in chunks: one idempotency lookup, one ``issue_many`` (one index allocation and
        one store transaction) and one page-id lookup per chunk. Every chunk is committed before
        the next starts, so an interrupted batch resumes where it stopped when run again.
        ``on_results`` receives each chunk's results in row order (e.g. to stream a CSV).
        """
        stored = await self.achievements.awardable(achievement)  # refuse before anything
        profile = await self.profile()
        summary = BatchSummary()
        seen: dict[str, AwardResult] = {}
        chunk: list[Row] = []

        async def flush() -> None:
            results = await self._chunk(stored, profile, chunk, awarded, seen)
            chunk.clear()
            for r in results:
                if r.status == ISSUED:
                    summary.issued += 1
                elif r.status == SKIPPED:
                    summary.skipped += 1
                else:
                    summary.errors += 1
            if keep_results:
                summary.results.extend(results)
            if on_results is not None:
                maybe = on_results(results)
                if maybe is not None:
                    await maybe
            if progress is not None:
                progress(len(results))

        for row in rows:
            chunk.append(row)
            if len(chunk) >= self.chunk_size:
                await flush()
        if chunk:
            await flush()
        return summary

    async def _chunk(
        self,
        stored: StoredAchievement,
        profile: IssuerProfile,
        rows: Sequence[Row],
        awarded: datetime | None,
        seen: dict[str, AwardResult],
    ) -> list[AwardResult]:
        results: list[AwardResult] = []
        repeats: list[tuple[AwardResult, AwardResult]] = []
        await self._issue_chunk(stored, profile, rows, awarded, seen, results, repeats)
        for repeat, first in repeats:  # the same person twice in this file: one award
            repeat.status = SKIPPED if first.status != ERROR else ERROR
            repeat.credential_id = first.credential_id
            repeat.claim_url = first.claim_url
            repeat.error_code = "DUPLICATE_RECIPIENT" if first.status == ERROR else ""
            repeat.error = f"same recipient as row {first.row}"
        return results

    async def _issue_chunk(
        self,
        stored: StoredAchievement,
        profile: IssuerProfile,
        rows: Sequence[Row],
        awarded: datetime | None,
        seen: dict[str, AwardResult],
        results: list[AwardResult],
        repeats: list[tuple[AwardResult, AwardResult]],
    ) -> None:
        todo: list[tuple[AwardResult, str, Recipient]] = []
        for row in rows:
            if row.recipient is None:
                assert row.error is not None
                results.append(_failed(row.row, "", row.error))
                continue
            result = AwardResult(row.row, ISSUED, recipient=row.recipient.label)
            results.append(result)
            key = award_key(stored.key, row.recipient)
            first = seen.get(key)
            if first is not None:
                repeats.append((result, first))
                continue
            seen[key] = result
            todo.append((result, key, row.recipient))
        if not todo:
            return
        known = await self.issuer.store.credential_refs([key for _, key, _ in todo])
        moment = awarded or self.issuer.now()
        creds: list[dict[str, Any]] = []
        keys: list[str] = []
        pending: list[AwardResult] = []
        for result, key, recipient in todo:
            ref = known.get(key)
            if ref is not None:
                result.status = SKIPPED
                result.credential_id = ref.id
                result.claim_url = self.claim_url(ref.page_id)
                continue
            try:
                creds.append(self._build(stored, profile, recipient, moment))
            except VCIssuerError as exc:
                _fail(result, exc)
                continue
            keys.append(key)
            pending.append(result)
        if not creds:
            return
        issued = await self.issuer.issue_many(
            creds, status_purposes=AWARD_STATUS_PURPOSES, idempotency_keys=keys
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
            result.claim_url = self.claim_url(ref.page_id)
            if ref.id != cred["id"]:  # another process awarded it meanwhile
                result.status = SKIPPED


def _failed(row: int, label: str, exc: VCIssuerError) -> AwardResult:
    result = AwardResult(row, ERROR, recipient=label)
    _fail(result, exc)
    return result


def _fail(result: AwardResult, exc: VCIssuerError) -> None:
    result.status = ERROR
    result.error_code = exc.code
    result.error = exc.detail
    result.credential_id = ""
    result.claim_url = ""


def write_results(out: IO[str], results: Iterable[AwardResult], *, header: bool = True) -> None:
    """Results as CSV: row, status, recipient, credential_id, claim_url, error_code, error."""
    writer = csv.DictWriter(out, fieldnames=RESULT_COLUMNS, lineterminator="\n")
    if header:
        writer.writeheader()
    for r in results:
        writer.writerow(r.to_row())


__all__ = [
    "AWARD_STATUS_PURPOSES",
    "ERROR",
    "ISSUED",
    "SKIPPED",
    "Award",
    "AwardResult",
    "Awarder",
    "BatchSummary",
    "Recipient",
    "Row",
    "award_key",
    "open_text",
    "read_csv_rows",
    "read_jsonl_rows",
    "row_from_mapping",
    "write_results",
]
