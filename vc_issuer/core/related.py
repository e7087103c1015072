"""Integrity of related resources (VCDM 2.0 §5.3): ``digestSRI`` and ``digestMultibase``.

Parsing is pure. Comparing needs the resource's bytes: we never fetch at run time, so only the
resources we hold (the pinned contexts, plus a home's extra context folders) are compared; the
others are reported as not checked.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import base58

from vc_issuer.errors import ConfigError, MalformedInputError, RelatedResourceDigestError

HASHES: dict[str, Callable[[bytes], Any]] = {
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}
_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64}
# multihash codes (multiformats table): sha2-256, sha2-384, sha2-512
_MULTIHASH = {0x12: "sha256", 0x20: "sha384", 0x13: "sha512"}
_BARE = {size: name for name, size in _SIZES.items()}
# SRI §3.5: hash-algo "-" base64-value *( "?" option-expression ), separated by whitespace
_SRI = re.compile(r"(?P<alg>[A-Za-z0-9]+)-(?P<b64>[A-Za-z0-9+/]+={0,2})(?:\?[\x21-\x7e]*)?")

ResourceBytes = Callable[[str], bytes | None]
"""The bytes of the resource at a URL when we hold it, else None."""


@dataclass(frozen=True, slots=True)
class Digest:
    algorithm: str
    value: bytes

    def matches(self, data: bytes) -> bool:
        return bool(HASHES[self.algorithm](data).digest() == self.value)


def _strings(value: Any, where: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(v, str) and v for v in items):
        raise MalformedInputError(f"{where} must be a non-empty string or array of strings")
    return items


def parse_digest_sri(value: Any, where: str = "digestSRI") -> list[Digest]:
    """Every hash expression of SRI integrity metadata (``sha384-<base64>``, space separated)."""
    out: list[Digest] = []
    for text in _strings(value, where):
        for token in text.split():
            m = _SRI.fullmatch(token)
            if m is None:
                raise MalformedInputError(f"{where}: {token!r} is not an SRI hash expression")
            alg = m["alg"].lower()
            if alg not in HASHES:
                raise MalformedInputError(f"{where}: unsupported hash algorithm {m['alg']!r}")
            try:
                raw = base64.b64decode(m["b64"], validate=True)
            except (binascii.Error, ValueError):
                raise MalformedInputError(f"{where}: {token!r} is not valid base64") from None
            if len(raw) != _SIZES[alg]:
                raise MalformedInputError(f"{where}: a {alg} digest has {_SIZES[alg]} bytes")
            out.append(Digest(alg, raw))
    if not out:
        raise MalformedInputError(f"{where} holds no hash expression")
    return out


def _multibase_bytes(text: str, where: str) -> bytes:
    try:
        if text[0] == "u":
            body = text[1:]
            if not re.fullmatch(r"[A-Za-z0-9_-]+", body):
                raise ValueError("not base64url")
            return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        if text[0] == "z":
            return bytes(base58.b58decode(text[1:]))
    except ValueError:
        raise MalformedInputError(f"{where}: {text!r} is not valid multibase") from None
    raise MalformedInputError(f"{where}: use multibase base64url ('u') or base58btc ('z')")


def parse_digest_multibase(value: Any, where: str = "digestMultibase") -> list[Digest]:
    """Multibase-encoded multihashes (sha2-256/384/512). A bare SHA-2 digest of 32, 48 or 64
    bytes, as the W3C VC 2.0 test suite writes them, is read as such (no length is shared)."""
    out: list[Digest] = []
    for text in _strings(value, where):
        raw = _multibase_bytes(text, where)
        if len(raw) in _BARE:
            out.append(Digest(_BARE[len(raw)], raw))
            continue
        alg = _MULTIHASH.get(raw[0]) if len(raw) > 2 else None
        if alg is None or raw[1] != _SIZES[alg] or len(raw) != 2 + _SIZES[alg]:
            raise MalformedInputError(
                f"{where}: {text!r} is not a sha2-256, sha2-384 or sha2-512 multihash"
            )
        out.append(Digest(alg, raw[2:]))
    return out


def check_related_digests(credential: Mapping[str, Any], resource: ResourceBytes) -> list[str]:
    """Compare every digest of every ``relatedResource`` we hold with its bytes.

    Returns the ids we do not hold (not checked); raises RelatedResourceDigestError on the
    first mismatch. Every digest given must match: each one is a claim by the issuer.
    """
    value = credential.get("relatedResource")
    if value is None:
        return []
    unchecked: list[str] = []
    for item in value if isinstance(value, list) else [value]:
        if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
            raise MalformedInputError("relatedResource entries must be objects with an id")
        url = item["id"]
        data = resource(url)
        if data is None:
            unchecked.append(url)
            continue
        digests: list[Digest] = []
        if "digestSRI" in item:
            digests += parse_digest_sri(item["digestSRI"])
        if "digestMultibase" in item:
            digests += parse_digest_multibase(item["digestMultibase"])
        for digest in digests:
            if not digest.matches(data):
                raise RelatedResourceDigestError(
                    f"relatedResource {url}: the {digest.algorithm} digest does not match"
                    " the resource",
                    id=url,
                )
    return unchecked


class PinnedResources:
    """The bytes of the pinned contexts (and of extra context folders laid out the same way):
    the related resources we can check without fetching anything."""

    def __init__(self, extra_dirs: Iterable[Path | str] = ()) -> None:
        from vc_issuer.core.jsonld import contexts_dir

        self._files: dict[str, tuple[Path, str | None]] = {}
        self._cache: dict[str, bytes] = {}
        for folder in (contexts_dir(), *map(Path, extra_dirs)):
            index_file = folder / "index.json"
            try:
                entries = json.loads(index_file.read_text("utf-8"))["contexts"].items()
            except (OSError, ValueError, KeyError, AttributeError) as exc:
                raise ConfigError(f"cannot read context index {index_file}: {exc}") from exc
            for url, entry in entries:
                self._files[url] = (folder / entry["file"], entry.get("sha256"))

    def __call__(self, url: str) -> bytes | None:
        if url in self._cache:
            return self._cache[url]
        found = self._files.get(url)
        if found is None:
            return None
        path, sha256 = found
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"pinned resource {url}: cannot read {path}: {exc}") from exc
        if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
            raise ConfigError(f"pinned resource {url}: {path.name} does not match its index")
        self._cache[url] = data
        return data


@functools.cache
def pinned_resources() -> PinnedResources:
    """The process-wide set of pinned resources (the packaged contexts only)."""
    return PinnedResources()


__all__ = [
    "Digest",
    "PinnedResources",
    "ResourceBytes",
    "check_related_digests",
    "parse_digest_multibase",
    "parse_digest_sri",
    "pinned_resources",
]
