"""Reliability with real processes (issue 3, item 8): several OS processes issue through
``Issuer`` into one store (a SQLite file, or one PostgreSQL schema), one is SIGKILLed mid-batch,
status changes race issuing. Each worker is ``issuer_worker.py`` run by the venv's Python.

What a user relies on, and what each test proves:

* (a) no index is ever handed out twice across processes, and no issued record is lost;
* (b) every credential a caller got back survives a SIGKILL of the issuing process, and a restarted
  issuer never reuses an index, not even one the killed process had reserved and not used yet;
* (c) a status change racing an issue (same list rows) loses neither: every change is in the audit
  log, in the stored bits and in the published (signed) list credential.

PostgreSQL tests use a fresh schema (dropped afterwards); an unreachable server fails unless
``VC_ISSUER_SKIP_PG=1``.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest

from tests.vc_issuer._helpers import start_worker
from vc_issuer.core.keys import load_key_file
from vc_issuer.core.proofs import verify_proofs
from vc_issuer.core.resolver import default_resolver
from vc_issuer.core.status import decode
from vc_issuer.services.issuer import DEFAULT_INDEX_RESERVE, LIST_ID_KEY, Issuer
from vc_issuer.store import CredentialRecord, Store, open_store

HERE = Path(__file__).resolve().parent
WORKER = HERE / "issuer_worker.py"
KEY_FILE = HERE.parent / "fixtures" / "generated-interop" / "issuer-key.json"
BASE = "https://issuer.example/reliability"
PG_URL = os.environ.get("VC_ISSUER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
SKIP_PG = os.environ.get("VC_ISSUER_SKIP_PG") == "1"
TIMEOUT = 90.0

Pair = tuple[str, int]


# --- stores -----------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A migrated, empty store (as ``vc-issuer init`` leaves it) that every process shares."""
    if request.param == "sqlite":
        url = str(tmp_path / "store.sqlite3")
        async with open_store(url):
            pass
        yield url
        return
    if SKIP_PG:
        pytest.skip("VC_ISSUER_SKIP_PG=1")
    try:
        admin = await asyncpg.connect(PG_URL, timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL at {PG_URL} is unreachable ({exc!r})", pytrace=False)
    schema = "vcrel_" + secrets.token_hex(6)
    try:
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        url = f"{PG_URL}?search_path={schema}"
        async with open_store(url):
            pass
        yield url
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()


# --- worker processes -------------------------------------------------------------------------


@dataclass
class Output:
    """What one worker printed (everything it printed happened, see issuer_worker.py)."""

    issued: dict[str, list[Pair]] = field(default_factory=dict)
    allocated: list[Pair] = field(default_factory=list)
    changed: list[tuple[str, str, int, int]] = field(default_factory=list)
    done: bool = False

    def feed(self, raw: bytes) -> None:
        parts = raw.decode().split()
        if not parts:
            return
        if parts[0] == "issued":
            self.issued[parts[1]] = [_pair(p) for p in parts[2:]]
        elif parts[0] == "allocated":
            self.allocated += [_pair(p) for p in parts[1:]]
        elif parts[0] == "changed":
            self.changed.append((parts[1], parts[2], int(parts[3]), int(parts[4])))
        elif parts[0] == "done":
            self.done = True


def _pair(text: str) -> Pair:
    list_id, index = text.rsplit(":", 1)
    return list_id, int(index)


class Worker:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.out = Output()

    @classmethod
    async def start(cls, url: str, *args: str, wait: bool = False) -> Worker:
        argv = [url, str(KEY_FILE), BASE, *(["--wait"] if wait else []), *args]
        return cls(await start_worker(WORKER, *argv, timeout=TIMEOUT))

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"go\n")

    async def read_until(self, issued: int) -> None:
        """Consume output until the worker has printed ``issued`` credentials."""
        assert self.proc.stdout is not None
        while len(self.out.issued) < issued:
            line = await asyncio.wait_for(self.proc.stdout.readline(), TIMEOUT)
            if not line:
                raise AssertionError(f"worker ended early: {await self._stderr()}")
            self.out.feed(line)

    async def finish(self) -> Output:
        """Read the rest of stdout (even after a kill, the pipe still holds what was printed)."""
        assert self.proc.stdout is not None
        async for line in self.proc.stdout:
            self.out.feed(line)
        await asyncio.wait_for(self.proc.wait(), TIMEOUT)
        return self.out

    async def succeed(self) -> Output:
        out = await self.finish()
        assert self.proc.returncode == 0, await self._stderr()
        assert out.done
        return out

    async def _stderr(self) -> str:
        assert self.proc.stderr is not None
        return (await self.proc.stderr.read()).decode()[-3000:]


# --- store views ------------------------------------------------------------------------------


def _held(record: CredentialRecord) -> list[Pair]:
    return [
        (str(e[LIST_ID_KEY]), int(e["statusListIndex"]))
        for e in record.status_entries
        if LIST_ID_KEY in e
    ]


async def _all_records(store: Store) -> list[CredentialRecord]:
    out: list[CredentialRecord] = []
    while batch := await store.list_credentials(limit=500, offset=len(out)):
        out += batch
    return out


async def _allocated(store: Store) -> set[Pair]:
    out: set[Pair] = set()
    for lst in await store.list_status_lists():
        out |= {(lst.id, i) for i in await store.allocated_indices(lst.id)}
    return out


async def _purposes(store: Store) -> dict[str, str]:
    return {lst.id: lst.purpose for lst in await store.list_status_lists()}


def _integrity_check(url: str) -> None:
    if "://" in url:
        return
    with sqlite3.connect(url) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


async def _issuer(store: Store) -> Issuer:
    key = load_key_file(KEY_FILE)
    return Issuer(key=key, did=key.did, store=store, base_url=BASE)


# --- (a) 1,000 issues from 4 processes --------------------------------------------------------


async def test_four_processes_issue_1000_distinct_indices(store_url: str) -> None:
    workers = [
        await Worker.start(store_url, "--in-flight", "4", "issue", "250", wait=True)
        for _ in range(4)
    ]
    for w in workers:  # all four start together: the allocations really race
        w.go()
    outs = await asyncio.gather(*(w.succeed() for w in workers))

    issued = {cid: pairs for out in outs for cid, pairs in out.issued.items()}
    assert len(issued) == 1000 and all(len(out.issued) == 250 for out in outs)
    used = [p for pairs in issued.values() for p in pairs]
    assert len(used) == 2000 and len(set(used)) == 2000  # one revocation + one suspension each
    # What each process got from the store (reserves included) is disjoint from the others'.
    per_process = [set(out.allocated) for out in outs]
    assert sum(map(len, per_process)) == len(set().union(*per_process))

    async with open_store(store_url) as store:
        assert await store.count_credentials() == 1000
        purposes = await _purposes(store)
        by_purpose = Counter(purposes[list_id] for list_id, _ in used)
        assert by_purpose == {"revocation": 1000, "suspension": 1000}
        records = {r.id: r for r in await _all_records(store)}
        assert set(records) == set(issued)
        for cid, pairs in issued.items():
            assert sorted(_held(records[cid])) == sorted(pairs)  # the record is what was returned
        allocated = await _allocated(store)
        assert set(used) <= allocated
        assert set().union(*per_process) == allocated
        # unused reserve: at most one reserve per process and purpose, lost at exit
        assert len(allocated) - len(used) <= 4 * 2 * DEFAULT_INDEX_RESERVE
        for lst in await store.list_status_lists():
            assert lst.set_count == 0 and await store.audit_log(list_id=lst.id) == []
        sample = records[next(iter(issued))].credential
        checks = await verify_proofs(sample, resolver=default_resolver())
        assert [c.verified for c in checks] == [True]
    _integrity_check(store_url)
    print(
        f"\n[reliability a] records 1000, distinct (list, index) pairs {len(set(used))},"
        f" allocated {len(allocated)} (unused reserve at exit {len(allocated) - len(used)})"
    )


# --- (b) SIGKILL mid-batch, then restart ------------------------------------------------------


@pytest.mark.parametrize(
    "mode",
    [["--in-flight", "8"], ["--batch", "25"]],
    ids=["concurrent-issue", "issue_many"],
)
async def test_sigkill_mid_batch_loses_nothing_returned_and_reuses_no_index(
    store_url: str, mode: list[str]
) -> None:
    victim = await Worker.start(store_url, *mode, "issue", "1000000")
    await victim.read_until(120)
    os.kill(victim.proc.pid, signal.SIGKILL)
    out = await victim.finish()
    assert victim.proc.returncode == -signal.SIGKILL
    assert not out.done and len(out.issued) >= 120
    _integrity_check(store_url)

    async with open_store(store_url) as store:
        records = {r.id: r for r in await _all_records(store)}
        # every credential returned to the caller is stored, exactly as returned
        missing = set(out.issued) - set(records)
        assert not missing, f"{len(missing)} returned credentials are not in the store"
        for cid, pairs in out.issued.items():
            assert sorted(_held(records[cid])) == sorted(pairs)
        held = {p for r in records.values() for p in _held(r)}
        allocated_before = await _allocated(store)
        # everything the store ever returned to the killed process is still marked allocated
        assert set(out.allocated) <= allocated_before
        assert held <= allocated_before
        reserve_left = allocated_before - held  # the killed process's reserve, now orphaned

    restarted = await Worker.start(store_url, "--batch", "100", "issue", "300")
    fresh = await restarted.succeed()
    new_pairs = [p for pairs in fresh.issued.values() for p in pairs]
    assert len(fresh.issued) == 300 and len(set(new_pairs)) == 600
    assert not set(new_pairs) & held, "an index held by a stored record was handed out again"
    assert not set(new_pairs) & reserve_left, "an index reserved by the killed process was reused"
    assert not set(fresh.allocated) & allocated_before

    async with open_store(store_url) as store:
        assert await store.count_credentials() == len(records) + 300
    print(
        f"\n[reliability b] {mode}: printed before kill {len(out.issued)}, records after kill"
        f" {len(records)}, orphaned reserve {len(reserve_left)}, new indices {len(new_pairs)}"
        " (none reused)"
    )


# --- (c) status changes racing issuing ------------------------------------------------------


async def test_status_changes_concurrent_with_issuing_lose_nothing(
    store_url: str, tmp_path: Path
) -> None:
    async with open_store(store_url) as store:
        issuer = await _issuer(store)
        results = await issuer.issue_many(
            [
                {
                    "@context": ["https://www.w3.org/ns/credentials/v2"],
                    "type": ["VerifiableCredential"],
                    "credentialSubject": {"id": f"did:example:pre{i}"},
                }
                for i in range(160)
            ]
        )
        pre = [r["id"] for r in results if isinstance(r, dict)]
        assert len(pre) == 160

    # per worker: 40 credentials: revoke 20; suspend 20 and reinstate 10 of them
    plans: list[list[tuple[str, str]]] = []
    for half in (pre[:80], pre[80:]):
        plan = [("revoke", c) for c in half[:40:2]] + [("suspend", c) for c in half[1:40:2]]
        plan += [("reinstate", c) for c in half[1:20:2]]
        plans.append(plan)
    files = []
    for n, plan in enumerate(plans):
        path = tmp_path / f"changes{n}.json"
        path.write_text(json.dumps(plan), "utf-8")
        files.append(str(path))
    workers = [
        await Worker.start(store_url, "--in-flight", "4", "mixed", "150", f, wait=True)
        for f in files
    ]
    for w in workers:
        w.go()
    outs = await asyncio.gather(*(w.succeed() for w in workers))

    planned = [c for plan in plans for c in plan]
    done = [(op, cid) for out in outs for op, cid, _, _ in out.changed]
    assert sorted(done) == sorted(planned)
    for out in outs:  # each change really changed something: none was applied twice
        for op, _, old, new in out.changed:
            assert (old, new) == ((1, 0) if op == "reinstate" else (0, 1))
    revoked = {c for op, c in planned if op == "revoke"}
    suspended = {c for op, c in planned if op == "suspend"} - {
        c for op, c in planned if op == "reinstate"
    }

    async with open_store(store_url) as store:
        issuer = await _issuer(store)
        new_ids = {cid for out in outs for cid in out.issued}
        assert len(new_ids) == 300
        records = {r.id: r for r in await _all_records(store)}
        assert set(records) == set(pre) | new_ids  # no issued record lost
        used = [p for r in records.values() for p in _held(r)]
        assert len(used) == len(set(used)) == 2 * 460

        # the audit log has every change, once, with old -> new
        audit = []
        for lst in await store.list_status_lists():
            audit += await store.audit_log(list_id=lst.id)
        expected = Counter(
            (cid, "revocation" if op == "revoke" else "suspension", op != "reinstate")
            for op, cid in planned
        )
        assert Counter((a.credential_id, a.purpose, a.new) for a in audit) == expected
        assert all(a.old != a.new for a in audit)

        # the stored bits and the published, signed list credentials say the same
        want: dict[str, set[int]] = {}
        for cid, record in records.items():
            status = await issuer.credential_status(cid)
            assert status == {
                "revocation": cid in revoked,
                "suspension": cid in suspended,
            }, cid
            for e in record.status_entries:
                on = cid in (revoked if e["statusPurpose"] == "revocation" else suspended)
                bucket = want.setdefault(str(e[LIST_ID_KEY]), set())
                if on:
                    bucket.add(int(e["statusListIndex"]))
        for lst in await store.list_status_lists():
            assert lst.credential_is_current, f"list {lst.id} was not republished after a change"
            assert lst.credential is not None
            published = decode(lst.credential["credentialSubject"]["encodedList"])
            assert set(published.set_indices()) == want.get(lst.id, set())
    _integrity_check(store_url)
    print(
        f"\n[reliability c] changes {len(planned)} (audit rows {len(audit)}), issued during the"
        f" changes {len(new_ids)}, records {len(records)}"
    )
