"""A separate process that allocates status indices from a shared store (used by the tests).

Usage: python store_worker.py URL COUNT SIZE [--wait]
Prints ``ready`` once the store is open; with --wait it then waits for a line on stdin, so the
parent can start several workers at the same instant. Each allocation is printed as
``LIST_ID INDEX`` as soon as ``allocate_index`` returned, i.e. after it committed.
"""

from __future__ import annotations

import asyncio
import sys

from vc_issuer.store import open_store


async def main(url: str, count: int, size: int, wait: bool) -> None:
    async with open_store(url) as store:
        print("ready", flush=True)
        if wait:
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        for _ in range(count):
            list_id, index = await store.allocate_index("BitstringStatusList", "revocation", size)
            print(list_id, index, flush=True)
        print("done", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), "--wait" in sys.argv))
