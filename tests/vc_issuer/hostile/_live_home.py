"""One `vc-issuer serve` on a fresh home per test module, and /proc memory readings (the CPU and
memory hostile tests share them)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ._live_server import LiveServer, free_port


class Live:
    def __init__(self, server: LiveServer, url: str, token: str, did: str) -> None:
        self.server = server
        self.url = url
        self.auth = {"Authorization": f"Bearer {token}"}
        self.did = did


def serve(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Live]:
    """Body of a module-scoped fixture: the server, stopped when the module is done."""
    folder = tmp_path_factory.mktemp(name)
    server = LiveServer(
        ["--home", str(folder / "home"), "--port", str(free_port())], folder / "serve.log"
    )
    try:
        url = server.wait_ready()
        yield Live(server, url, server.value("admin token"), server.value("issuer DID:"))
    finally:
        server.stop()


def rss(pid: int) -> int:
    """Resident bytes of ``pid`` (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def descendants(pid: int) -> list[int]:
    """Every process under ``pid`` (its verification workers, their forkserver)."""
    out: list[int] = []
    todo = [pid]
    while todo:
        cur = todo.pop()
        try:
            tasks = list(Path(f"/proc/{cur}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                children = [int(x) for x in (task / "children").read_text().split()]
            except OSError:
                continue
            out.extend(children)
            todo.extend(children)
    return out
