"""Bitstring Status List (W3C REC) and StatusList2021: bits, encoding, entries, list VCs.

Pure: no I/O, no clock (dates are passed in). The encoder uses zlib level 6 with a gzip header of
mtime 0 so that our ``encodedList`` strings are byte-identical to the spec's and to the
digitalbazaar (pako) libraries' output, which makes interop diffs readable.
"""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from vc_issuer.core import work
from vc_issuer.core.credentials import format_datetime, is_url
from vc_issuer.errors import (
    MalformedInputError,
    StatusError,
    StatusListLengthError,
)

BSL_MIN_BITS = 131_072
"""The spec's minimum uncompressed size (16 KiB): smaller lists give too little herd privacy."""

MAX_BITS = 2**26
"""Largest list we decode (8 MiB uncompressed): refuses decompression bombs."""

MAX_STATUS_SIZE = 8
"""Largest ``statusSize`` we issue or read: 256 messages per entry are plenty."""

MESSAGE = "message"
"""The purpose whose entries carry ``statusSize`` bits and a ``statusMessage`` per value."""

VC1_CONTEXT = "https://www.w3.org/2018/credentials/v1"
VC2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
SL2021_CONTEXT = "https://w3id.org/vc/status-list/2021/v1"

BSL_ENTRY = "BitstringStatusListEntry"
SL2021_ENTRY = "StatusList2021Entry"
BSL_CREDENTIAL = "BitstringStatusListCredential"
SL2021_CREDENTIAL = "StatusList2021Credential"
BSL_LIST = "BitstringStatusList"
SL2021_LIST = "StatusList2021"

StatusFormat = Literal["bsl", "sl2021"]

_ENTRY_TYPES: dict[str, StatusFormat] = {BSL_ENTRY: "bsl", SL2021_ENTRY: "sl2021"}
LIST_TYPES: dict[StatusFormat, tuple[str, str]] = {
    "bsl": (BSL_CREDENTIAL, BSL_LIST),
    "sl2021": (SL2021_CREDENTIAL, SL2021_LIST),
}
_DECIMAL = re.compile(r"[0-9]{1,18}")
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


# --- the bitstring ---------------------------------------------------------------------------


def get_bit(buf: bytes | bytearray, index: int) -> bool:
    """Bit ``index`` of ``buf``: index 0 is the most significant bit of byte 0 (spec order)."""
    return bool(buf[index >> 3] & (0x80 >> (index & 7)))


def set_bit(buf: bytearray, index: int, value: bool) -> None:
    """Set bit ``index`` of ``buf`` in place (same order as ``get_bit``)."""
    mask = 0x80 >> (index & 7)
    if value:
        buf[index >> 3] |= mask
    else:
        buf[index >> 3] &= ~mask & 0xFF


class Bitstring:
    """A fixed-length bit array; index 0 is the most significant bit of byte 0 (spec order)."""

    __slots__ = ("_buf",)

    def __init__(self, length: int = BSL_MIN_BITS) -> None:
        if length <= 0 or length % 8:
            raise ValueError(f"bitstring length must be a positive multiple of 8, got {length}")
        self._buf = bytearray(length // 8)

    @classmethod
    def from_bytes(cls, data: bytes | bytearray) -> Bitstring:
        if not data:
            raise ValueError("bitstring cannot be empty")
        bits = cls(len(data) * 8)
        bits._buf[:] = data
        return bits

    @classmethod
    def from_indices(cls, indices: Collection[int], length: int = BSL_MIN_BITS) -> Bitstring:
        bits = cls(length)
        for i in indices:
            bits.set(i)
        return bits

    def __len__(self) -> int:
        return len(self._buf) * 8

    def _check(self, index: int) -> None:
        if not 0 <= index < len(self._buf) * 8:
            raise IndexError(f"bit {index} outside a list of {len(self)} bits")

    def get(self, index: int) -> bool:
        self._check(index)
        return get_bit(self._buf, index)

    def set(self, index: int, value: bool = True) -> None:
        self._check(index)
        set_bit(self._buf, index, value)

    def clear(self, index: int) -> None:
        self.set(index, False)

    def get_status(self, index: int, status_size: int = 1) -> int:
        """The ``status_size``-bit value of entry ``index`` (bits at index*size, MSB first)."""
        start = index * status_size
        self._check(start + status_size - 1)
        self._check(start)
        value = 0
        for pos in range(start, start + status_size):
            value = (value << 1) | self.get(pos)
        return value

    def set_status(self, index: int, value: int, status_size: int = 1) -> None:
        if not 0 <= value < (1 << status_size):
            raise ValueError(f"status value {value} does not fit in {status_size} bits")
        start = index * status_size
        self._check(start + status_size - 1)
        self._check(start)
        for k in range(status_size):
            self.set(start + k, bool((value >> (status_size - 1 - k)) & 1))

    def set_indices(self) -> list[int]:
        out: list[int] = []
        for byte_no, byte in enumerate(self._buf):
            if byte:
                base = byte_no * 8
                out.extend(base + k for k in range(8) if (byte >> (7 - k)) & 1)
        return out

    def count(self) -> int:
        return sum(b.bit_count() for b in self._buf)

    def to_bytes(self) -> bytes:
        return bytes(self._buf)

    def __contains__(self, index: object) -> bool:
        return isinstance(index, int) and 0 <= index < len(self) and self.get(index)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Bitstring) and self._buf == other._buf

    def __hash__(self) -> int:
        return hash(bytes(self._buf))

    def __repr__(self) -> str:
        return f"Bitstring(length={len(self)}, set={self.count()})"


# --- encoding --------------------------------------------------------------------------------


def _gzip(data: bytes) -> bytes:
    comp = zlib.compressobj(6, zlib.DEFLATED, 31)
    return comp.compress(data) + comp.flush()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def encode_sl2021(bits: Bitstring) -> str:
    """StatusList2021 ``encodedList``: base64url-no-pad(gzip(bits)), no multibase prefix."""
    return _b64url(_gzip(bits.to_bytes()))


def encode_bsl(bits: Bitstring) -> str:
    """Bitstring Status List ``encodedList``: multibase ``u`` + base64url-no-pad(gzip(bits))."""
    return "u" + encode_sl2021(bits)


def decode(encoded: str, *, max_bits: int = MAX_BITS, min_bits: int = 0) -> Bitstring:
    """Decode either form (``u…`` BSL or bare SL2021) with a hard cap on the inflated size.

    Standard-alphabet base64 and padding are tolerated (the SL2021 text only says "base-64");
    anything else, a broken gzip stream or trailing bytes is a STATUS_VERIFICATION_ERROR.
    """
    if not isinstance(encoded, str) or not encoded:
        raise StatusError("encodedList must be a non-empty string")
    text = encoded[1:] if encoded.startswith("u") else encoded
    text = text.rstrip("=").replace("+", "-").replace("/", "_")
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise StatusError("encodedList is not base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise StatusError(f"encodedList is not base64url: {exc}") from None
    max_bytes = max_bits // 8
    inflater = zlib.decompressobj(31)
    try:
        data = inflater.decompress(raw, max_bytes + 1)
    except zlib.error as exc:
        raise StatusError(f"encodedList is not valid GZIP: {exc}") from None
    work.charge(1 + len(raw) // 1024 + len(data) // 1024)  # inflating costs ~1 step per KiB
    if len(data) > max_bytes or (inflater.unconsumed_tail and not inflater.eof):
        raise StatusListLengthError(f"status list inflates to more than {max_bits} bits")
    if not inflater.eof:
        raise StatusError("encodedList GZIP stream is truncated")
    if inflater.unused_data:
        raise StatusError("encodedList has data after the GZIP stream")
    if not data:
        raise StatusListLengthError("status list is empty")
    if len(data) * 8 < min_bits:
        raise StatusListLengthError(
            f"status list has {len(data) * 8} bits, fewer than the minimum {min_bits}"
        )
    return Bitstring.from_bytes(data)


# --- entries ---------------------------------------------------------------------------------


def _check_purpose(purpose: str) -> None:
    if not isinstance(purpose, str) or not purpose:
        raise MalformedInputError("statusPurpose must be a non-empty string")


def status_hex(value: int) -> str:
    """A status value as ``statusMessage`` writes it: hexadecimal prefixed with ``0x``."""
    return f"0x{value:x}"


@dataclass(frozen=True, slots=True)
class StatusMessages:
    """What an issuer commits to for multi-bit entries: ``statusSize`` bits, one message per
    possible value (``messages[v]`` for value ``v``), and optional ``statusReference`` URLs."""

    size: int
    messages: tuple[str, ...]
    reference: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        size = self.size
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_STATUS_SIZE:
            raise MalformedInputError(
                f"statusSize must be an integer from 1 to {MAX_STATUS_SIZE}", field="statusSize"
            )
        if len(self.messages) != 1 << size or not all(
            isinstance(m, str) and m for m in self.messages
        ):
            raise MalformedInputError(
                f"statusSize {size} needs {1 << size} non-empty status messages (one per"
                f" value), got {len(self.messages)}",
                field="statusMessage",
            )
        for url in self.reference:
            _check_url(url, "statusReference")

    def status_message(self) -> list[dict[str, str]]:
        return [{"status": status_hex(v), "message": m} for v, m in enumerate(self.messages)]

    def entry_fields(self) -> dict[str, Any]:
        """``statusSize``, ``statusMessage`` and ``statusReference`` for an entry."""
        out: dict[str, Any] = {"statusSize": self.size, "statusMessage": self.status_message()}
        if self.reference:
            out["statusReference"] = (
                self.reference[0] if len(self.reference) == 1 else list(self.reference)
            )
        return out


def _entry(kind: str, list_url: str, index: int, purpose: str) -> dict[str, Any]:
    _check_purpose(purpose)
    _check_url(list_url, "statusListCredential")
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise MalformedInputError(f"statusListIndex must be a non-negative integer, got {index!r}")
    return {
        "id": f"{list_url}#{index}",
        "type": kind,
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": list_url,
    }


def bsl_entry(
    list_url: str,
    index: int,
    purpose: str,
    *,
    status_size: int = 1,
    messages: StatusMessages | None = None,
) -> dict[str, Any]:
    """A ``BitstringStatusListEntry`` (index as a string, as the spec requires); multi-bit
    entries carry ``statusSize``, ``statusMessage`` and ``statusReference`` from ``messages``."""
    entry = _entry(BSL_ENTRY, list_url, index, purpose)
    if messages is not None:
        entry.update(messages.entry_fields())
    elif status_size > 1:
        raise MalformedInputError(
            "an entry with statusSize > 1 needs its statusMessage", field="statusMessage"
        )
    elif status_size != 1:
        entry["statusSize"] = status_size
    return entry


def sl2021_entry(list_url: str, index: int, purpose: str) -> dict[str, Any]:
    """A ``StatusList2021Entry`` for VC 1.1 credentials (older wallets)."""
    return _entry(SL2021_ENTRY, list_url, index, purpose)


@dataclass(frozen=True, slots=True)
class StatusEntry:
    """A validated ``credentialStatus`` entry of a status-list type."""

    format: StatusFormat
    type: str
    purpose: str
    index: int
    list_url: str
    status_size: int = 1
    id: str | None = None
    messages: tuple[tuple[int, str], ...] = ()
    """``statusMessage`` as (value, message) pairs; empty when the entry has none."""
    reference: tuple[str, ...] = ()

    @property
    def bit_position(self) -> int:
        return self.index * self.status_size

    def message_for(self, value: int) -> str | None:
        """The entry's message for a status value (None without ``statusMessage``)."""
        return next((m for v, m in self.messages if v == value), None)


def _check_url(value: object, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise MalformedInputError(f"{name} must be a URL string", field=name)
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc or any(c.isspace() for c in value):
        raise MalformedInputError(f"{name} must be an absolute http(s) URL: {value!r}", field=name)
    return value


def parse_status_entry(entry: object) -> StatusEntry:
    """Validate one entry strictly; every defect is a MALFORMED_VALUE_ERROR naming the field."""
    if not isinstance(entry, Mapping):
        raise MalformedInputError("credentialStatus entry must be an object")
    raw_type = entry.get("type")
    types = [raw_type] if isinstance(raw_type, str) else raw_type
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise MalformedInputError("credentialStatus.type must be a string", field="type")
    known = [t for t in types if t in _ENTRY_TYPES]
    if len(known) != 1:
        raise MalformedInputError(
            f"credentialStatus.type {raw_type!r} is not a supported status list entry type",
            field="type",
        )
    kind = known[0]
    fmt = _ENTRY_TYPES[kind]
    purpose = entry.get("statusPurpose")
    if not isinstance(purpose, str) or not purpose:
        raise MalformedInputError("statusPurpose must be a non-empty string", field="statusPurpose")
    raw_index = entry.get("statusListIndex")
    if fmt == "sl2021" and isinstance(raw_index, int) and not isinstance(raw_index, bool):
        raw_index = str(raw_index)  # SL2021 leniency: some old issuers wrote a number
    if not isinstance(raw_index, str) or not _DECIMAL.fullmatch(raw_index):
        raise MalformedInputError(
            f"statusListIndex must be a string holding a decimal integer, got {raw_index!r}",
            field="statusListIndex",
        )
    list_url = _check_url(entry.get("statusListCredential"), "statusListCredential")
    status_size: object = entry.get("statusSize", 1)
    if (
        isinstance(status_size, bool)
        or not isinstance(status_size, int)
        or not 1 <= status_size <= MAX_STATUS_SIZE
        or (fmt == "sl2021" and status_size != 1)
    ):
        raise MalformedInputError(
            f"statusSize must be an integer from 1 to {MAX_STATUS_SIZE}", field="statusSize"
        )
    entry_id = entry.get("id")
    if entry_id is not None and (not isinstance(entry_id, str) or not entry_id):
        raise MalformedInputError("credentialStatus.id must be a string", field="id")
    if entry_id is not None and entry_id == list_url:
        raise MalformedInputError(
            "credentialStatus.id must not be the status list's URL", field="id"
        )
    messages = _parse_status_message(entry.get("statusMessage"), status_size)
    if status_size > 1 and not messages:
        raise MalformedInputError(
            "statusMessage must be present when statusSize is greater than 1",
            field="statusMessage",
        )
    return StatusEntry(
        format=fmt,
        type=kind,
        purpose=purpose,
        index=int(raw_index),
        list_url=list_url,
        status_size=status_size,
        id=entry_id,
        messages=messages,
        reference=_parse_status_reference(entry.get("statusReference")),
    )


_STATUS_HEX = re.compile(r"0x[0-9A-Fa-f]{1,2}")


def _parse_status_message(value: object, status_size: int) -> tuple[tuple[int, str], ...]:
    """``statusMessage``: an array with one {status, message} object per possible value."""
    if value is None:
        return ()
    count = 1 << status_size
    if not isinstance(value, list) or len(value) != count:
        raise MalformedInputError(
            f"statusMessage must be an array of {count} objects (one per value of"
            f" {status_size} bit{'s' if status_size > 1 else ''})",
            field="statusMessage",
        )
    out: dict[int, str] = {}
    for i, item in enumerate(value):
        status = item.get("status") if isinstance(item, Mapping) else None
        message = item.get("message") if isinstance(item, Mapping) else None
        if not isinstance(status, str) or not _STATUS_HEX.fullmatch(status):
            raise MalformedInputError(
                f"statusMessage[{i}].status must be a hexadecimal string like 0x1",
                field="statusMessage",
            )
        if not isinstance(message, str):
            raise MalformedInputError(
                f"statusMessage[{i}].message must be a string", field="statusMessage"
            )
        number = int(status, 16)
        if number >= count or number in out:
            raise MalformedInputError(
                f"statusMessage[{i}].status {status} is repeated or out of range",
                field="statusMessage",
            )
        out[number] = message
    return tuple(sorted(out.items()))


def _parse_status_reference(value: object) -> tuple[str, ...]:
    """``statusReference``: a URL or an array of URLs."""
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    urls = tuple(v for v in items if isinstance(v, str) and is_url(v))
    if not items or len(urls) != len(items):
        raise MalformedInputError(
            "statusReference must be a URL or an array of URLs", field="statusReference"
        )
    return urls


def is_status_list_entry(entry: object) -> bool:
    """True for an entry of a type we manage (Bitstring Status List, StatusList2021)."""
    if not isinstance(entry, Mapping):
        return False
    raw = entry.get("type")
    types = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
    return any(isinstance(t, str) and t in _ENTRY_TYPES for t in types)


def parse_credential_status(value: object) -> list[StatusEntry]:
    """The status-list entries of a ``credentialStatus`` value (object or array), strictly.

    Entries of other types (a caller's own status method) are not ours to check: they are
    skipped here and left to the data model's generic rules (an object with a ``type``).
    """
    items = value if isinstance(value, list) else [value]
    if not items:
        raise MalformedInputError("credentialStatus must not be an empty array")
    return [
        parse_status_entry(item)
        for item in items
        if is_status_list_entry(item) or not isinstance(item, Mapping)
    ]


# --- 1EdTech Revocation List (VCRL 1.0, OB 3.0 §9.1 step 4) ---------------------------------------

EDTECH_REVOCATION_LIST = "1EdTechRevocationList"
#: The member holding the entries: the 1EdTech validator reads ``revokedCredential``; SURF's
#: published design (and the validator's own comment) say ``revokedCredentials``. Both are read.
EDTECH_LIST_MEMBERS = ("revokedCredentials", "revokedCredential")


def is_edtech_revocation_entry(entry: object) -> bool:
    if not isinstance(entry, Mapping):
        return False
    t = entry.get("type")
    return t == EDTECH_REVOCATION_LIST or (isinstance(t, list) and EDTECH_REVOCATION_LIST in t)


def edtech_list_url(entry: Mapping[str, Any]) -> str:
    """The list's URL: the entry's ``id``."""
    return _check_url(entry.get("id"), "credentialStatus.id")


def edtech_revocation(list_document: object, credential_id: str) -> dict[str, Any] | None:
    """The list entry revoking ``credential_id``, or None.

    An entry revokes when its ``id`` is the credential id and ``revoked`` is true or absent
    (``"true"`` as a string too, as SURF edubadges writes it).
    """
    if not isinstance(list_document, Mapping):
        raise MalformedInputError("a 1EdTech revocation list must be a JSON object")
    for member in EDTECH_LIST_MEMBERS:
        entries = list_document.get(member)
        if not isinstance(entries, list):
            continue
        for entry in entries:
            if not isinstance(entry, Mapping) or entry.get("id") != credential_id:
                continue
            revoked = entry.get("revoked", True)
            if revoked is True or (isinstance(revoked, str) and revoked.lower() == "true"):
                return dict(entry)
    return None


# --- list credentials (unsigned) -------------------------------------------------------------


def _date(value: datetime | str) -> str:
    """A caller's dateTime string as given; a datetime as the spec examples write it."""
    return value if isinstance(value, str) else format_datetime(value)


def _subject(
    fmt: StatusFormat, list_url: str, purpose: str, bits: Bitstring, min_bits: int
) -> dict[str, Any]:
    _check_url(list_url, "statusListCredential")
    _check_purpose(purpose)
    if len(bits) < min_bits:
        raise StatusListLengthError(
            f"a published status list needs at least {min_bits} bits, got {len(bits)}"
        )
    return {
        "id": f"{list_url}#list",
        "type": LIST_TYPES[fmt][1],
        "statusPurpose": purpose,
        "encodedList": encode_bsl(bits) if fmt == "bsl" else encode_sl2021(bits),
    }


def bsl_list_credential(
    list_url: str,
    issuer: str | Mapping[str, Any],
    purpose: str,
    bits: Bitstring,
    valid_from: datetime | str,
    valid_until: datetime | str | None = None,
    ttl_ms: int | None = None,
    *,
    min_bits: int = BSL_MIN_BITS,
) -> dict[str, Any]:
    """An unsigned ``BitstringStatusListCredential`` (VC 2.0 context only; BSL terms are in it)."""
    subject = _subject("bsl", list_url, purpose, bits, min_bits)
    if ttl_ms is not None:
        if isinstance(ttl_ms, bool) or not isinstance(ttl_ms, int) or ttl_ms < 0:
            raise MalformedInputError("ttl must be a non-negative number of milliseconds")
        subject["ttl"] = ttl_ms
    return _list_credential(
        [VC2_CONTEXT], BSL_CREDENTIAL, list_url, issuer, subject,
        ("validFrom", valid_from), ("validUntil", valid_until),
    )  # fmt: skip


def sl2021_list_credential(
    list_url: str,
    issuer: str | Mapping[str, Any],
    purpose: str,
    bits: Bitstring,
    issuance_date: datetime | str,
    expiration_date: datetime | str | None = None,
    *,
    min_bits: int = BSL_MIN_BITS,
) -> dict[str, Any]:
    """An unsigned ``StatusList2021Credential``: VC 1.1 only (its context breaks under VC 2.0)."""
    subject = _subject("sl2021", list_url, purpose, bits, min_bits)
    return _list_credential(
        [VC1_CONTEXT, SL2021_CONTEXT], SL2021_CREDENTIAL, list_url, issuer, subject,
        ("issuanceDate", issuance_date), ("expirationDate", expiration_date),
    )  # fmt: skip


def _list_credential(
    context: list[str],
    credential_type: str,
    list_url: str,
    issuer: str | Mapping[str, Any],
    subject: dict[str, Any],
    start: tuple[str, datetime | str],
    end: tuple[str, datetime | str | None],
) -> dict[str, Any]:
    """The credential around a status list; the two formats differ in their context, type and
    the names of the validity dates (VC 2.0 ``validFrom``, VC 1.1 ``issuanceDate``)."""
    vc: dict[str, Any] = {
        "@context": context,
        "id": list_url,
        "type": ["VerifiableCredential", credential_type],
        "issuer": issuer if isinstance(issuer, str) else dict(issuer),
        start[0]: _date(start[1]),
    }
    if end[1] is not None:
        vc[end[0]] = _date(end[1])
    vc["credentialSubject"] = subject
    return vc
