"""The verifier's status checker against real HTTP servers on 127.0.0.1, real proofs, real lists."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from vc_issuer.core import proofs
from vc_issuer.core.keys import Ed25519Key
from vc_issuer.core.resolver import default_resolver
from vc_issuer.core.status import (
    BSL_MIN_BITS,
    Bitstring,
    StatusMessages,
    bsl_entry,
    bsl_list_credential,
    sl2021_list_credential,
)
from vc_issuer.services.status_check import (
    SafeFetch,
    StatusListCache,
    StatusListChecker,
    credential_verifier,
    freshness_lifetime,
    proof_verifier,
)
from vc_issuer.services.verifier import Check

from ._helpers import FIX

FIXTURES = FIX / "status"
INTEROP_ISSUER = "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())  # type: ignore[no-any-return]


# --- a real HTTP server that counts what it serves ---------------------------------------------


@dataclass
class Doc:
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200


class ListServer:
    """Serves documents by path; honours If-None-Match; counts full and 304 answers."""

    def __init__(self) -> None:
        self.docs: dict[str, Doc] = {}
        self.full: Counter[str] = Counter()
        self.not_modified: Counter[str] = Counter()
        self.conditional: Counter[str] = Counter()
        self.server: TestServer | None = None

    def put(self, path: str, doc: Mapping[str, Any] | bytes, **headers: str) -> None:
        body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        self.docs[path] = Doc(body, {"Content-Type": "application/vc+ld+json", **headers})

    async def handle(self, request: web.Request) -> web.Response:
        doc = self.docs.get(request.path)
        if doc is None:
            return web.Response(status=404, text="no such list")
        etag = doc.headers.get("ETag")
        if "If-None-Match" in request.headers:
            self.conditional[request.path] += 1
            if etag is not None and request.headers["If-None-Match"] == etag:
                self.not_modified[request.path] += 1
                return web.Response(status=304, headers=doc.headers)
        self.full[request.path] += 1
        return web.Response(status=doc.status, body=doc.body, headers=doc.headers)

    def base(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.port}"


@pytest.fixture
async def server() -> Any:
    srv = ListServer()
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", srv.handle)
    srv.server = TestServer(app, host="127.0.0.1")
    await srv.server.start_server()
    yield srv
    await srv.server.close()


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


Fetch = Callable[[str, Mapping[str, str]], Awaitable[tuple[int, Mapping[str, str], bytes]]]


def mapped_fetch(srv: ListServer, real: SafeFetch) -> Fetch:
    """The real safe fetcher, with https://example.com/ mapped onto the local server."""

    async def fetch(url: str, headers: Mapping[str, str]) -> tuple[int, Mapping[str, str], bytes]:
        local = url.replace("https://example.com", srv.base(), 1)
        return await real(local, headers)

    return fetch


class CountingVerifier:
    """The real default list verifier (the full credential verifier), counting its calls."""

    def __init__(self, clock: Clock) -> None:
        self.calls = 0
        self._inner = credential_verifier(default_resolver(), now=clock)

    async def __call__(self, vc: dict[str, Any]) -> object:
        self.calls += 1
        return await self._inner(vc)


@pytest.fixture
async def safe_fetch() -> Any:
    fetch = SafeFetch(allow_private=True)
    yield fetch
    await fetch.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def verifier(clock: Clock) -> CountingVerifier:
    return CountingVerifier(clock)


@pytest.fixture
def checker(
    server: ListServer, safe_fetch: SafeFetch, clock: Clock, verifier: CountingVerifier
) -> StatusListChecker:
    return StatusListChecker(
        fetch=mapped_fetch(server, safe_fetch), verify_list=verifier, now=clock
    )


@pytest.fixture
def proof_only_checker(
    server: ListServer, safe_fetch: SafeFetch, clock: Clock
) -> StatusListChecker:
    """A checker whose list verifier checks the proof only (dates are left to the checker)."""
    return StatusListChecker(
        fetch=mapped_fetch(server, safe_fetch),
        verify_list=proof_verifier(default_resolver(), now=clock),
        now=clock,
    )


# --- our own signed lists ----------------------------------------------------------------------


ISSUER_KEY = Ed25519Key.from_seed(bytes(range(32)))
OTHER_KEY = Ed25519Key.from_seed(bytes(range(1, 33)))


def signed_bsl(
    url: str,
    indices: list[int] = (),  # type: ignore[assignment]
    *,
    purpose: str = "revocation",
    key: Ed25519Key = ISSUER_KEY,
    issuer: str | None = None,
    length: int = BSL_MIN_BITS,
    valid_until: datetime | None = None,
    ttl_ms: int | None = None,
    min_bits: int = BSL_MIN_BITS,
) -> dict[str, Any]:
    unsigned = bsl_list_credential(
        url,
        issuer or key.did,
        purpose,
        Bitstring.from_indices(indices, length),
        T0 - timedelta(days=1),
        valid_until,
        ttl_ms,
        min_bits=min_bits,
    )
    return proofs.sign(unsigned, key, created=T0 - timedelta(days=1))


def holder_credential(url: str, index: int, purpose: str = "revocation", **extra: Any) -> dict:  # type: ignore[type-arg]
    entry = bsl_entry(url, index, purpose)
    return {"issuer": extra.pop("issuer", ISSUER_KEY.did), "credentialStatus": entry, **extra}


# --- end to end with the digitalbazaar-generated vectors ---------------------------------------


@pytest.mark.parametrize(
    ("credential_file", "list_file", "path"),
    [
        (
            "vc2-ob303-eddsa-rdfc-2022.signed.json",
            "status-list.bsl-revocation.signed.json",
            "/status/bsl/1",
        ),
        (
            "vc1-ob302-ed25519signature2020.signed.json",
            "status-list.sl2021-revocation.signed.json",
            "/status/2021/1",
        ),
    ],
)
async def test_generated_interop_credential_is_revoked_end_to_end(
    server: ListServer,
    checker: StatusListChecker,
    verifier: CountingVerifier,
    credential_file: str,
    list_file: str,
    path: str,
) -> None:
    credential = load(credential_file)
    # 1. the credential itself verifies (real proof, did:key)
    checks = await proofs.verify_proofs(credential, resolver=default_resolver())
    assert [c.verified for c in checks] == [True]
    assert credential["credentialStatus"]["statusListCredential"] == "https://example.com" + path
    # 2. the list loads over real HTTP, 3. its proof verifies, 4. it decodes, 5. revoked
    server.put(path, load(list_file), ETag='"v1"')
    results = await checker.check_entries(credential)
    assert len(results) == 1
    result = results[0]
    assert (result.passed, result.code, result.value) == (False, "CREDENTIAL_REVOKED", 1)
    assert result.entry is not None and result.entry.index == 94567
    assert server.full[path] == 1 and verifier.calls == 1
    cached = checker.cache.get("https://example.com" + path)
    assert cached is not None and cached.bits.set_indices() == [94567]


async def test_tampered_generated_list_fails_its_proof(
    server: ListServer, checker: StatusListChecker
) -> None:
    tampered = load("status-list.bsl-revocation.signed.json")
    tampered["credentialSubject"]["encodedList"] = bsl_list_credential(
        "https://example.com/status/bsl/1", INTEROP_ISSUER, "revocation", Bitstring(), T0
    )["credentialSubject"]["encodedList"]  # "reinstated" without re-signing
    server.put("/status/bsl/1", tampered)
    assert "proof" in await _verification_error(
        checker, load("vc2-ob303-eddsa-rdfc-2022.signed.json")
    )
    assert checker.cache.get("https://example.com/status/bsl/1") is None


# --- statuses ------------------------------------------------------------------------------------


async def test_unrevoked_revoked_and_suspended_entries(
    server: ListServer, checker: StatusListChecker
) -> None:
    base = "https://example.com/sl"
    server.put("/sl/rev", signed_bsl(f"{base}/rev", [7]))
    server.put("/sl/sus", signed_bsl(f"{base}/sus", [9], purpose="suspension"))
    credential = {
        "issuer": {"id": ISSUER_KEY.did, "name": "Profile issuers work too"},
        "credentialStatus": [
            bsl_entry(f"{base}/rev", 8, "revocation"),
            bsl_entry(f"{base}/sus", 9, "suspension"),
        ],
    }
    results = await checker.check_entries(credential)
    assert [(r.name, r.passed, r.code) for r in results] == [
        ("status:revocation", True, None),
        ("status:suspension", False, "CREDENTIAL_SUSPENDED"),
    ]
    [ok] = await checker.check_entries(holder_credential(f"{base}/rev", 6))
    assert ok.passed and ok.value == 0
    [revoked] = await checker.check_entries(holder_credential(f"{base}/rev", 7))
    assert (revoked.passed, revoked.code) == (False, "CREDENTIAL_REVOKED")


async def test_no_status_means_no_checks(checker: StatusListChecker) -> None:
    assert await checker.check_entries({"issuer": ISSUER_KEY.did}) == []


async def test_two_entries_on_one_list_fetch_it_once(
    server: ListServer, checker: StatusListChecker, verifier: CountingVerifier
) -> None:
    url = "https://example.com/sl/shared"
    server.put("/sl/shared", signed_bsl(url, [1]))
    credential = {
        "issuer": ISSUER_KEY.did,
        "credentialStatus": [bsl_entry(url, 1, "revocation"), bsl_entry(url, 2, "revocation")],
    }
    results = await checker.check_entries(credential)
    assert [r.passed for r in results] == [False, True]
    assert server.full["/sl/shared"] == 1 and verifier.calls == 1


# --- caching -------------------------------------------------------------------------------------


async def test_max_age_then_etag_revalidation_with_304(
    server: ListServer, checker: StatusListChecker, clock: Clock, verifier: CountingVerifier
) -> None:
    url = "https://example.com/sl/etag"
    server.put("/sl/etag", signed_bsl(url, [3]), ETag='"abc"', **{"Cache-Control": "max-age=60"})
    credential = holder_credential(url, 3)
    for _ in range(5):
        [r] = await checker.check_entries(credential)
        assert r.code == "CREDENTIAL_REVOKED"
    assert server.full["/sl/etag"] == 1 and server.conditional["/sl/etag"] == 0
    clock.advance(61)
    [r] = await checker.check_entries(credential)
    assert r.code == "CREDENTIAL_REVOKED"
    assert server.full["/sl/etag"] == 1
    assert server.not_modified["/sl/etag"] == 1
    assert verifier.calls == 1  # a 304 never re-verifies
    # the 304 renewed freshness: within the next minute no request at all
    clock.advance(30)
    await checker.check_entries(credential)
    assert server.conditional["/sl/etag"] == 1 and server.full["/sl/etag"] == 1


async def test_changed_list_is_picked_up_after_expiry(
    server: ListServer, checker: StatusListChecker, clock: Clock, verifier: CountingVerifier
) -> None:
    url = "https://example.com/sl/change"
    server.put("/sl/change", signed_bsl(url, [], purpose="suspension"), ETag='"1"',
               **{"Cache-Control": "max-age=10"})  # fmt: skip
    credential = holder_credential(url, 42, "suspension")
    assert (await checker.check_entries(credential))[0].passed
    server.put("/sl/change", signed_bsl(url, [42], purpose="suspension"), ETag='"2"',
               **{"Cache-Control": "max-age=10"})  # fmt: skip
    assert (await checker.check_entries(credential))[0].passed  # still fresh: cached answer
    clock.advance(11)
    [r] = await checker.check_entries(credential)
    assert r.code == "CREDENTIAL_SUSPENDED"
    assert server.conditional["/sl/change"] == 1 and server.not_modified["/sl/change"] == 0
    assert server.full["/sl/change"] == 2 and verifier.calls == 2


async def test_list_ttl_bounds_a_longer_max_age(
    server: ListServer, checker: StatusListChecker, clock: Clock
) -> None:
    url = "https://example.com/sl/ttl"
    server.put("/sl/ttl", signed_bsl(url, [1], ttl_ms=5_000), **{"Cache-Control": "max-age=3600"})
    credential = holder_credential(url, 1)
    await checker.check_entries(credential)
    clock.advance(4)
    await checker.check_entries(credential)
    assert server.full["/sl/ttl"] == 1
    clock.advance(2)
    await checker.check_entries(credential)
    assert server.full["/sl/ttl"] == 2


async def test_ttl_alone_caches(
    server: ListServer, checker: StatusListChecker, clock: Clock
) -> None:
    url = "https://example.com/sl/ttl-only"
    server.put("/sl/ttl-only", signed_bsl(url, [1], ttl_ms=300_000))
    credential = holder_credential(url, 1)
    for _ in range(3):
        await checker.check_entries(credential)
        clock.advance(60)
    assert server.full["/sl/ttl-only"] == 1


async def test_no_cache_headers_refetch_but_same_bytes_are_not_reverified(
    server: ListServer, checker: StatusListChecker, verifier: CountingVerifier
) -> None:
    url = "https://example.com/sl/nocache"
    server.put("/sl/nocache", signed_bsl(url, [1]))
    credential = holder_credential(url, 1)
    for _ in range(3):
        assert (await checker.check_entries(credential))[0].code == "CREDENTIAL_REVOKED"
    assert server.full["/sl/nocache"] == 3
    assert verifier.calls == 1


async def test_no_store_is_never_cached(server: ListServer, checker: StatusListChecker) -> None:
    url = "https://example.com/sl/nostore"
    server.put("/sl/nostore", signed_bsl(url, [1], ttl_ms=60_000), ETag='"x"',
               **{"Cache-Control": "no-store"})  # fmt: skip
    credential = holder_credential(url, 1)
    await checker.check_entries(credential)
    await checker.check_entries(credential)
    assert server.full["/sl/nostore"] == 2 and server.conditional["/sl/nostore"] == 0
    assert checker.cache.get(url) is None


async def test_cache_is_shared_between_checkers(
    server: ListServer, safe_fetch: SafeFetch, clock: Clock, verifier: CountingVerifier
) -> None:
    url = "https://example.com/sl/shared-cache"
    server.put("/sl/shared-cache", signed_bsl(url, [1]), **{"Cache-Control": "max-age=300"})
    cache = StatusListCache(max_entries=4)
    for _ in range(3):
        checker = StatusListChecker(
            fetch=mapped_fetch(server, safe_fetch), verify_list=verifier, now=clock, cache=cache
        )
        await checker.check_entries(holder_credential(url, 1))
    assert server.full["/sl/shared-cache"] == 1 and len(cache) == 1


def test_freshness_rules() -> None:
    now = T0
    assert freshness_lifetime({}, None, now, 0.0) == 0.0
    assert freshness_lifetime({}, None, now, 42.0) == 42.0
    assert freshness_lifetime({"cache-control": "public, max-age=120"}, None, now, 0) == 120
    assert freshness_lifetime({"cache-control": "max-age=120", "age": "100"}, None, now, 0) == 20
    assert freshness_lifetime({"cache-control": "max-age=120"}, 30_000, now, 0) == 30
    assert freshness_lifetime({"cache-control": "max-age=10"}, 30_000, now, 0) == 10
    assert freshness_lifetime({"cache-control": "no-cache"}, 30_000, now, 0) == 0
    assert freshness_lifetime({"cache-control": "no-store"}, 30_000, now, 0) is None
    assert freshness_lifetime({"expires": "Sat, 01 Jun 2024 12:05:00 GMT"}, None, now, 0) == 300
    assert freshness_lifetime({"expires": "garbage"}, None, now, 0) == 0
    assert freshness_lifetime({"cache-control": "max-age=junk"}, None, now, 7) == 7
    assert freshness_lifetime({}, True, now, 7) == 7  # a boolean is not a ttl


# --- bad lists and bad entries: precise codes ----------------------------------------------------


async def _one(checker: StatusListChecker, credential: dict[str, Any]) -> tuple[bool, str | None]:
    [r] = await checker.check_entries(credential)
    return r.passed, r.code


async def _verification_error(checker: StatusListChecker, credential: dict[str, Any]) -> str:
    """The detail of the credential's one status entry, which must fail list verification."""
    [r] = await checker.check_entries(credential)
    assert (r.passed, r.code) == (False, "STATUS_VERIFICATION_ERROR")
    return r.detail or ""


async def test_unreachable_list(checker: StatusListChecker) -> None:
    # a port nobody listens on (the kernel hands us a free one, then we close it)
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    fetch = SafeFetch(allow_private=True)
    try:
        c = StatusListChecker(fetch=fetch, verify_list=checker.verify_list, now=checker.now)
        cred = holder_credential(f"http://127.0.0.1:{port}/sl/1", 1)
        assert await _one(c, cred) == (False, "STATUS_RETRIEVAL_ERROR")
    finally:
        await fetch.close()


async def test_missing_list_is_retrieval_error(checker: StatusListChecker) -> None:
    cred = holder_credential("https://example.com/sl/absent", 1)
    assert await _one(checker, cred) == (False, "STATUS_RETRIEVAL_ERROR")


async def test_too_large_list_is_retrieval_error(
    server: ListServer, checker: StatusListChecker
) -> None:
    server.put("/sl/huge", b"{" + b" " * (1 << 20) + b"}")
    cred = holder_credential("https://example.com/sl/huge", 1)
    assert await _one(checker, cred) == (False, "STATUS_RETRIEVAL_ERROR")


async def test_not_json_is_retrieval_error(server: ListServer, checker: StatusListChecker) -> None:
    server.put("/sl/html", b"<html>hello</html>")
    cred = holder_credential("https://example.com/sl/html", 1)
    assert await _one(checker, cred) == (False, "STATUS_RETRIEVAL_ERROR")


async def test_not_a_credential_is_verification_error(
    server: ListServer, checker: StatusListChecker
) -> None:
    server.put("/sl/obj", {"hello": "world"})
    server.put("/sl/arr", b"[1, 2]")
    for path in ("/sl/obj", "/sl/arr"):
        cred = holder_credential("https://example.com" + path, 1)
        assert await _one(checker, cred) == (False, "STATUS_VERIFICATION_ERROR")


async def test_list_signed_by_someone_else(server: ListServer, checker: StatusListChecker) -> None:
    url = "https://example.com/sl/other"
    # a valid list of another issuer: issuer mismatch
    server.put("/sl/other", signed_bsl(url, [], key=OTHER_KEY))
    passed, code = await _one(checker, holder_credential(url, 1))
    assert (passed, code) == (False, "STATUS_VERIFICATION_ERROR")
    # claims our issuer but is signed with another key: the proof's controller is not the issuer
    server.put("/sl/forged", signed_bsl(url.replace("other", "forged"), [], key=OTHER_KEY,
                                        issuer=ISSUER_KEY.did))  # fmt: skip
    assert "ISSUER_MISMATCH" in await _verification_error(
        checker, holder_credential(url.replace("other", "forged"), 1)
    )


async def test_unsigned_list_is_refused(server: ListServer, checker: StatusListChecker) -> None:
    url = "https://example.com/sl/unsigned"
    signed = signed_bsl(url, [])
    del signed["proof"]
    server.put("/sl/unsigned", signed)
    assert await _one(checker, holder_credential(url, 1)) == (False, "STATUS_VERIFICATION_ERROR")


async def test_purpose_mismatch(server: ListServer, checker: StatusListChecker) -> None:
    url = "https://example.com/sl/rev-only"
    server.put("/sl/rev-only", signed_bsl(url, [1]))
    cred = holder_credential(url, 1, "suspension")
    assert "purpose" in await _verification_error(checker, cred)


async def test_expired_list(server: ListServer, checker: StatusListChecker, clock: Clock) -> None:
    url = "https://example.com/sl/expiring"
    server.put("/sl/expiring", signed_bsl(url, [], valid_until=T0 + timedelta(hours=1)))
    assert await _one(checker, holder_credential(url, 1)) == (True, None)
    clock.advance(3601)
    assert "validUntil" in await _verification_error(checker, holder_credential(url, 1))


async def test_index_out_of_range(server: ListServer, checker: StatusListChecker) -> None:
    url = "https://example.com/sl/range"
    server.put("/sl/range", signed_bsl(url, []))
    assert await _one(checker, holder_credential(url, BSL_MIN_BITS - 1)) == (True, None)
    assert await _one(checker, holder_credential(url, BSL_MIN_BITS)) == (False, "RANGE_ERROR")


async def test_short_bsl_list_is_a_length_error(
    server: ListServer, checker: StatusListChecker
) -> None:
    url = "https://example.com/sl/short"
    server.put("/sl/short", signed_bsl(url, [], length=1024, min_bits=0))
    assert await _one(checker, holder_credential(url, 1)) == (False, "STATUS_LIST_LENGTH_ERROR")


async def test_decompression_bomb_list_is_a_length_error(
    server: ListServer, checker: StatusListChecker
) -> None:
    url = "https://example.com/sl/bomb"
    bomb = signed_bsl(url, [], length=2**26 + 8)  # 8 MiB of zeros inflates past the 2^26 cap
    body = json.dumps(bomb).encode()
    assert len(body) < 20_000
    server.put("/sl/bomb", body)
    assert await _one(checker, holder_credential(url, 1)) == (False, "STATUS_LIST_LENGTH_ERROR")


async def test_list_whose_id_is_not_its_url(server: ListServer, checker: StatusListChecker) -> None:
    server.put("/sl/moved", signed_bsl("https://example.com/sl/elsewhere", [1]))
    cred = holder_credential("https://example.com/sl/moved", 2)
    assert await _one(checker, cred) == (False, "STATUS_VERIFICATION_ERROR")


async def test_sl2021_entry_against_a_bsl_list(
    server: ListServer, checker: StatusListChecker
) -> None:
    url = "https://example.com/sl/typed"
    server.put("/sl/typed", signed_bsl(url, []))
    cred = {
        "issuer": ISSUER_KEY.did,
        "credentialStatus": {**bsl_entry(url, 1, "revocation"), "type": "StatusList2021Entry"},
    }
    assert await _one(checker, cred) == (False, "STATUS_VERIFICATION_ERROR")


async def test_our_sl2021_list_round_trip(server: ListServer, checker: StatusListChecker) -> None:
    url = "https://example.com/sl/2021"
    unsigned = sl2021_list_credential(
        url, ISSUER_KEY.did, "revocation", Bitstring.from_indices([11]), T0 - timedelta(days=1)
    )
    server.put("/sl/2021", proofs.sign(unsigned, ISSUER_KEY, suite="Ed25519Signature2020"))
    entry = {**bsl_entry(url, 11, "revocation"), "type": "StatusList2021Entry"}
    cred = {"issuer": ISSUER_KEY.did, "credentialStatus": entry}
    assert await _one(checker, cred) == (False, "CREDENTIAL_REVOKED")
    entry["statusListIndex"] = "12"
    assert await _one(checker, cred) == (True, None)


@pytest.mark.parametrize(
    "status",
    [
        {"type": "BitstringStatusListEntry", "statusPurpose": "revocation",
         "statusListIndex": 5, "statusListCredential": "https://example.com/sl/x"},
        [],
        "https://example.com/sl/x",
        {"type": "BitstringStatusListEntry", "statusPurpose": "message", "statusSize": 2,
         "statusListIndex": "5", "statusListCredential": "https://example.com/sl/x"},
    ],
)  # fmt: skip
async def test_malformed_entries(checker: StatusListChecker, status: Any) -> None:
    cred = {"issuer": ISSUER_KEY.did, "credentialStatus": status}
    assert await _one(checker, cred) == (False, "MALFORMED_VALUE_ERROR")


async def test_status_types_we_do_not_manage_are_left_alone(
    server: ListServer, checker: StatusListChecker
) -> None:
    """A caller's own status method is not ours to check: no result for it, ours still run."""
    url = "https://example.com/sl/mixed"
    server.put("/sl/mixed", signed_bsl(url, [3]))
    foreign = {"id": "https://example.org/status/1", "type": "CredentialStatusList2017"}
    only = {"issuer": ISSUER_KEY.did, "credentialStatus": foreign}
    assert await checker.check_entries(only) == []
    mixed = {
        "issuer": ISSUER_KEY.did,
        "credentialStatus": [foreign, bsl_entry(url, 3, "revocation")],
    }
    [r] = await checker.check_entries(mixed)
    assert (r.passed, r.code) == (False, "CREDENTIAL_REVOKED")


async def test_private_hosts_are_refused_by_default(server: ListServer) -> None:
    url = server.base() + "/sl/local"
    server.put("/sl/local", signed_bsl(url, [1]))
    async with StatusListChecker(now=Clock()) as strict:
        assert await _one(strict, holder_credential(url, 1)) == (False, "STATUS_RETRIEVAL_ERROR")
    assert server.full["/sl/local"] == 0
    # the library option (CLI --allow-private-hosts) admits loopback over plain http
    async with StatusListChecker(now=Clock(), allow_private=True) as lenient:
        assert await _one(lenient, holder_credential(url, 1)) == (False, "CREDENTIAL_REVOKED")


async def test_check_returns_verifier_checks(
    server: ListServer, checker: StatusListChecker
) -> None:
    url = "https://example.com/sl/checks"
    server.put("/sl/checks", signed_bsl(url, [1]))
    [check] = await checker.check(holder_credential(url, 1))
    assert isinstance(check, Check)
    assert (check.name, check.passed, check.code) == (
        "status:revocation",
        False,
        "CREDENTIAL_REVOKED",
    )


async def test_proof_only_verifier_rejects_a_forged_list(
    server: ListServer, proof_only_checker: StatusListChecker
) -> None:
    url = "https://example.com/sl/forged2"
    server.put("/sl/forged2", signed_bsl(url, [], key=OTHER_KEY, issuer=ISSUER_KEY.did))
    assert "ISSUER_MISMATCH" in await _verification_error(
        proof_only_checker, holder_credential(url, 1)
    )
    server.put("/sl/good", signed_bsl("https://example.com/sl/good", [1]))
    assert await _one(proof_only_checker, holder_credential("https://example.com/sl/good", 1)) == (
        False,
        "CREDENTIAL_REVOKED",
    )


async def test_list_with_a_malformed_date_is_a_verification_error(
    server: ListServer, proof_only_checker: StatusListChecker
) -> None:
    # the proof-only verifier leaves dates to the checker: an XSD dateTime needs a time
    url = "https://example.com/sl/bad-date"
    unsigned = bsl_list_credential(url, ISSUER_KEY.did, "revocation", Bitstring(), "2024-05-01")
    server.put("/sl/bad-date", proofs.sign(unsigned, ISSUER_KEY, created=T0 - timedelta(days=1)))
    assert "validFrom is not an XML Schema dateTime" in await _verification_error(
        proof_only_checker, holder_credential(url, 1)
    )


async def test_verifier_integration_revoked_credential_fails(
    server: ListServer, checker: StatusListChecker
) -> None:
    """verify_credential with our checker: proof passes, status fails -> not verified."""
    from vc_issuer.services.verifier import verify_credential

    server.put("/status/bsl/1", load("status-list.bsl-revocation.signed.json"))
    result = await verify_credential(
        load("vc2-ob303-eddsa-rdfc-2022.signed.json"),
        resolver=default_resolver(),
        now=checker.now,
        status_checker=checker,
    )
    assert not result.verified
    assert result.codes() == ["CREDENTIAL_REVOKED"]


async def test_concurrent_checks_share_one_load(
    server: ListServer, checker: StatusListChecker, verifier: CountingVerifier
) -> None:
    import asyncio

    url = "https://example.com/sl/herd"
    server.put("/sl/herd", signed_bsl(url, [4]))
    results = await asyncio.gather(
        *(checker.check_entries(holder_credential(url, i)) for i in range(3, 13))
    )
    assert [r[0].passed for r in results] == [i != 4 for i in range(3, 13)]
    assert server.full["/sl/herd"] == 1 and verifier.calls == 1


MESSAGES = StatusMessages(2, ("pending_review", "accepted", "rejected", "undefined"))


async def test_multi_bit_message_status(server: ListServer, checker: StatusListChecker) -> None:
    """statusSize 2: entry 3 is bits 6-7 (MSB first); 0 is valid, anything else is reported
    with its message and fails, as the Validate Algorithm's ``valid`` says."""
    url = "https://example.com/sl/msg"
    length = BSL_MIN_BITS * 2  # the minimum counts entries: 131072 entries of 2 bits
    entry = bsl_entry(url, 3, "message", messages=MESSAGES)
    cred = {"issuer": ISSUER_KEY.did, "credentialStatus": entry}
    for bits, value, message in (([], 0, "pending_review"), ([7], 1, "accepted"),
                                 ([6], 2, "rejected"), ([6, 7], 3, "undefined")):  # fmt: skip
        server.put("/sl/msg", signed_bsl(url, [*bits, 5], purpose="message", length=length))
        checker.cache.clear()
        [r] = await checker.check_entries(cred)
        assert (r.value, r.message) == (value, message)
        assert (r.passed, r.code) == (
            (True, None) if value == 0 else (False, "CREDENTIAL_STATUS_MESSAGE")
        )
        assert r.detail == (
            f"message status 0x{value:x} ({message})"
            if value
            else f"message status 0x0 ({message})"
        )
        assert r.to_check().to_dict()["status"] == {
            "value": f"0x{value:x}",
            "size": 2,
            "message": message,
        }


async def test_multi_bit_list_needs_the_minimum_number_of_entries(
    server: ListServer, checker: StatusListChecker
) -> None:
    """131072 bits hold only 65536 entries of 2 bits: STATUS_LIST_LENGTH_ERROR."""
    url = "https://example.com/sl/short"
    server.put("/sl/short", signed_bsl(url, [], purpose="message"))
    entry = bsl_entry(url, 3, "message", messages=MESSAGES)
    cred = {"issuer": ISSUER_KEY.did, "credentialStatus": entry}
    assert await _one(checker, cred) == (False, "STATUS_LIST_LENGTH_ERROR")
