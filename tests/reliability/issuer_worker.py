"""One issuing process against a shared store (driven by tests/reliability/test_processes.py).

    python issuer_worker.py STORE KEYFILE BASE_URL [--wait] issue COUNT [--in-flight K | --batch B]
    python issuer_worker.py STORE KEYFILE BASE_URL [--wait] mixed COUNT CHANGES_JSON

Protocol (stdout, one line each, flushed at once so a SIGKILL loses nothing that was printed):

* ``ready``: the store is open (and migrated); with ``--wait`` the worker then waits for one line
  on stdin, so the parent can start every worker at the same instant.
* ``allocated LIST:INDEX ...``: indices the store returned from ``allocate_indices``, i.e. after
  they were committed (this includes the issuer's reserve, allocated ahead).
* ``issued ID LIST:INDEX ...``: a credential ``issue``/``issue_many`` returned to us, with the
  (list, index) of each of its status entries.
* ``changed OP ID OLD NEW``: a status change (``revoke`` / ``suspend`` / ``reinstate``) returned.
* ``done``: every requested operation finished.

``mixed`` issues COUNT credentials while, concurrently, applying the ``[op, credential_id]``
pairs of CHANGES_JSON in order.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from vc_issuer.core.keys import load_key_file
from vc_issuer.services.issuer import LIST_ID_KEY, Issuer
from vc_issuer.store import Store, open_store


def say(*parts: object) -> None:
    sys.stdout.write(" ".join(str(p) for p in parts) + "\n")
    sys.stdout.flush()


def credential(n: int) -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "name": f"Reliability credential {n}",
        "credentialSubject": {"id": f"did:example:{uuid.uuid4().hex}"},
    }


def pairs_of(signed: dict[str, Any]) -> list[str]:
    status = signed.get("credentialStatus", [])
    entries = status if isinstance(status, list) else [status]
    return [
        f"{e['statusListCredential'].rsplit('/', 1)[1]}:{e['statusListIndex']}" for e in entries
    ]


def announce_allocations(store: Store) -> None:
    """Report every committed allocation (the reserve included) before the issuer uses it."""
    inner: Callable[..., Awaitable[list[tuple[str, int]]]] = store.allocate_indices

    async def allocate_indices(*args: Any, **kwargs: Any) -> list[tuple[str, int]]:
        out = await inner(*args, **kwargs)
        say("allocated", *(f"{lst}:{i}" for lst, i in out))
        return out

    store.allocate_indices = allocate_indices  # type: ignore[method-assign]


async def issue_one_at_a_time(issuer: Issuer, count: int, in_flight: int) -> None:
    """``in_flight`` concurrent callers, each issuing one credential at a time."""
    numbers = iter(range(count))

    async def caller() -> None:
        for n in numbers:
            signed = await issuer.issue(credential(n))
            say("issued", signed["id"], *pairs_of(signed))

    await asyncio.gather(*(caller() for _ in range(in_flight)))


async def issue_batches(issuer: Issuer, count: int, batch: int) -> None:
    done = 0
    while done < count:
        n = min(batch, count - done)
        for out in await issuer.issue_many([credential(done + i) for i in range(n)]):
            if not isinstance(out, dict):
                raise SystemExit(f"issue_many failed: {out!r}")
            say("issued", out["id"], *pairs_of(out))
        done += n


async def apply_changes(issuer: Issuer, changes: list[tuple[str, str]]) -> None:
    for op, credential_id in changes:
        action = {"revoke": issuer.revoke, "suspend": issuer.suspend, "reinstate": issuer.reinstate}
        change = await action[op](credential_id, actor=f"worker-{op}", reason="reliability test")
        say("changed", op, credential_id, int(change["old"]), int(change["new"]))
        await asyncio.sleep(random.uniform(0, 0.002))  # let issuing interleave


async def main(args: argparse.Namespace) -> None:
    key = load_key_file(args.key)
    async with open_store(args.store) as store:
        announce_allocations(store)
        issuer = Issuer(key=key, did=key.did, store=store, base_url=args.base_url)
        say("ready")
        if args.wait:
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        if args.command == "issue":
            if args.batch:
                await issue_batches(issuer, args.count, args.batch)
            else:
                await issue_one_at_a_time(issuer, args.count, args.in_flight)
        else:
            with open(args.changes, encoding="utf-8") as fh:
                changes = [(str(op), str(cid)) for op, cid in json.load(fh)]
            await asyncio.gather(
                issue_one_at_a_time(issuer, args.count, args.in_flight),
                apply_changes(issuer, changes),
            )
        say("done")
    assert LIST_ID_KEY  # the stored entries carry the list id the printed pairs use


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("store")
    p.add_argument("key")
    p.add_argument("base_url")
    p.add_argument("--wait", action="store_true")
    p.add_argument("--in-flight", type=int, default=4)
    p.add_argument("--batch", type=int, default=0)
    p.add_argument("command", choices=["issue", "mixed"])
    p.add_argument("count", type=int)
    p.add_argument("changes", nargs="?")
    return p.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse(sys.argv[1:])))
