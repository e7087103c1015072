"""Caps on status entries and lists per credential, and the byte-bounded list cache."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from vc_issuer.core.status import Bitstring, bsl_entry
from vc_issuer.services.status_check import (
    MAX_STATUS_ENTRIES,
    MAX_STATUS_LISTS,
    CachedList,
    StatusListCache,
    StatusListChecker,
    cached_size,
)


async def _never(url: str, headers: Any) -> Any:
    raise AssertionError(f"nothing may be fetched, yet {url} was")


async def test_too_many_entries_is_refused_before_any_fetch() -> None:
    checker = StatusListChecker(fetch=_never)
    cred = {"credentialStatus": [bsl_entry("https://ex.org/l", i, "revocation") for i in range(9)]}
    assert len(cred["credentialStatus"]) > MAX_STATUS_ENTRIES
    checks = await checker.check(cred)
    assert [(c.passed, c.code) for c in checks] == [(False, "STATUS_LIMIT_EXCEEDED")]


async def test_too_many_distinct_lists_is_refused_before_any_fetch() -> None:
    checker = StatusListChecker(fetch=_never)
    urls = [f"https://ex.org/l{i}" for i in range(MAX_STATUS_LISTS + 1)]
    checks = await checker.check(
        {"credentialStatus": [bsl_entry(u, 1, "revocation") for u in urls]}
    )
    assert [(c.passed, c.code) for c in checks] == [(False, "STATUS_LIMIT_EXCEEDED")]


def _item(url: str, kib: int) -> CachedList:
    return CachedList(
        url=url,
        credential={"encodedList": "x" * 10},
        bits=Bitstring(kib * 1024 * 8),
        digest="d",
        fresh_until=datetime.now(UTC),
    )


def test_cache_is_bounded_by_bytes_not_entries() -> None:
    cache = StatusListCache(max_bytes=100 * 1024)
    for i in range(10):
        cache.put(_item(f"u{i}", 30))
    assert cache.size_bytes <= 100 * 1024
    assert len(cache) == 3
    assert cache.get("u9") is not None and cache.get("u0") is None
    cache.put(_item("huge", 200))  # larger than the whole cache: not kept
    assert cache.get("huge") is None
    cache.discard("u9")
    assert cache.size_bytes == sum(cached_size(cache.get(u)) for u in ("u7", "u8"))  # type: ignore[arg-type]
