"""A real `vc-issuer serve` process, the one helper of every test that runs the server (hostile,
serve, first-hour and quickstart tests): started as a subprocess, its stdout read by a thread,
its stderr (the log) kept in a file and read back as JSON lines."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest

V2 = "https://www.w3.org/ns/credentials/v2"
OB = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
PG_URL = os.environ.get("VC_ISSUER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def cli(*args: str) -> list[str]:
    exe = Path(sys.executable).with_name("vc-issuer")
    if exe.exists():
        return [str(exe), *args]
    return [sys.executable, "-c", "from vc_issuer.cli.main import run; run()", *args]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """``vc-issuer serve ARGS`` (or the command ``argv``, as a document spells it, run in
    ``cwd`` with ``env``); ``stop()`` sends SIGTERM and waits."""

    def __init__(
        self,
        args: list[str],
        log: Path,
        *,
        umask: int = -1,
        argv: list[str] | None = None,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.log = log
        self._stderr = log.open("wb")
        self.proc = subprocess.Popen(
            argv or cli("serve", *args),
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            stdin=subprocess.DEVNULL,
            text=True,
            umask=umask,
        )
        self.lines: list[str] = []
        self._ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("listening on"):
                self._ready.set()
        self._ready.set()

    def wait_ready(self, timeout: float = 90) -> str:
        """The base URL, once the server (every worker) listens."""
        if not self._ready.wait(timeout) or self.proc.poll() is not None:
            self.stop()
            raise AssertionError(f"server did not start: {self.lines}\n{self.log_text()}")
        line = next(x for x in self.lines if x.startswith("listening on"))
        return line.split()[-1]

    def value(self, prefix: str) -> str:
        """The last word of the first line serve printed starting with ``prefix``."""
        found = [x for x in self.lines if x.startswith(prefix)]
        assert found, f"serve printed no line starting {prefix!r}: {self.lines}"
        return found[0].split()[-1]

    def stop(self, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._stderr.close()
        return code

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def log_records(self) -> list[dict[str, Any]]:
        """Every stderr line as JSON (a line that is not JSON fails the test)."""
        records = []
        for line in self.log_text().splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                raise AssertionError(f"a log line is not JSON: {line!r}") from None
        return records

    def access_log(self) -> list[dict[str, Any]]:
        """The ``http.request`` records (the other lines are not read)."""
        lines = self.log_text().splitlines()
        return [json.loads(x) for x in lines if x.startswith('{"event":"http.request"')]

    def events(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.log_records() if r.get("event") == name]

    def wait_event(self, name: str, timeout: float = 60, **match: Any) -> dict[str, Any]:
        """The first log record of event ``name`` whose fields include ``match``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for record in self.events(name):
                if all(record.get(k) == v for k, v in match.items()):
                    return record
            time.sleep(0.05)
        raise AssertionError(f"no {name} {match} in the log:\n{self.log_text()}")


class Live:
    """A running server with its admin token (as ``auth`` headers), DID and home folder."""

    def __init__(
        self, server: LiveServer, url: str, token: str, did: str, home: Path | None = None
    ) -> None:
        self.server = server
        self.url = url
        self.auth = {"Authorization": f"Bearer {token}"}
        self.did = did
        self.home = home

    def path(self, url: str) -> str:
        """``url`` (one of this server's) without the base URL."""
        assert url.startswith(self.url + "/"), url
        return url[len(self.url) :]

    def new_token(self, *scopes: str) -> dict[str, str]:
        """The Authorization header of a new token with ``scopes`` (`vc-issuer tokens create`)."""
        assert self.home is not None, "a Live made without its home"
        args = [a for s in scopes for a in ("--scope", s)]
        out = subprocess.run(
            cli("tokens", "create", "--home", str(self.home), *args),
            capture_output=True,
            text=True,
            check=True,
        )
        return {"Authorization": f"Bearer {json.loads(out.stdout)['token']}"}


@contextmanager
def live_home(folder: Path) -> Iterator[Live]:
    """`vc-issuer serve` on a new home in ``folder``, stopped afterwards."""
    home = folder / "home"
    server = LiveServer(["--home", str(home), "--port", str(free_port())], folder / "serve.log")
    try:
        url = server.wait_ready()
        yield Live(server, url, server.value("admin token"), server.value("issuer DID:"), home)
    finally:
        server.stop()


def serve_configured(
    folder: Path,
    config: str,
    *flags: str,
    database_url: str | None = None,
    port: int | None = None,
    log_name: str = "serve.log",
) -> LiveServer:
    """`vc-issuer serve` on the home ``folder/home`` (made by `vc-issuer init` unless it
    exists), with ``config`` appended to its config.toml first; started, not yet ready."""
    home = folder / "home"
    port = port or free_port()
    if not home.exists():
        args = ["init", "--home", str(home), "--base-url", f"http://127.0.0.1:{port}"]
        if database_url:
            args += ["--database-url", database_url]
        made = subprocess.run(cli(*args), capture_output=True, text=True, check=False)
        assert made.returncode == 0, made.stderr
    with (home / "config.toml").open("a") as f:
        f.write(config)
    return LiveServer(["--home", str(home), "--port", str(port), *flags], folder / log_name)


def workers(pid: int) -> set[int]:
    """The live worker processes of the server ``pid``: its spawned children, leaving out
    multiprocessing's resource tracker (Linux /proc)."""
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text()
        out.update(int(x) for x in text.split())
    return {c for c in out if _alive(c) and b"spawn_main" in _cmdline(c)}


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(check: Any, timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def open_badge(did: str, name: str = "Rust Foundations") -> dict[str, Any]:
    return {
        "@context": [V2, OB],
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": name,
        "issuer": {"id": did, "type": ["Profile"], "name": "Example Academy"},
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "name": "Ada",
            "achievement": {
                "id": "urn:uuid:6f1f52c2-1a55-4b51-9c7e-0e3b1ff2d5a1",
                "type": ["Achievement"],
                "name": name,
                "description": "Wrote and tested a small Rust crate.",
                "criteria": {"narrative": "Pass the final project."},
            },
        },
    }


def mode(path: Path) -> int:
    return os.stat(path).st_mode & 0o777


def inline_context_credential(signed: dict[str, Any], kib: int = 400) -> dict[str, Any]:
    """A signed credential given a fresh ~``kib`` KiB inline context (new term names every
    time): its proof check must process the context."""
    tag = secrets.token_hex(4)
    names = [f"t{i}x{tag}" for i in range(kib * 1024 // 50)]
    # in objects of at most 1,000 terms: a larger object is refused before any work
    # (JSON_TOO_LARGE, docs/limits.md), and this flood is about what gets processed
    contexts = [
        {name: f"https://example.org/{tag}/{name}" for name in names[i : i + 1000]}
        for i in range(0, len(names), 1000)
    ]
    cred = dict(signed)
    cred["@context"] = [*signed["@context"], *contexts]
    return cred


@asynccontextmanager
async def pg_schema(prefix: str) -> AsyncIterator[tuple[asyncpg.Connection, str]]:
    """A fresh PostgreSQL schema named `prefix` + random hex, and an admin connection to look
    into it; the schema is dropped afterwards. A missing server is a failure, not a skip."""
    schema = prefix + secrets.token_hex(6)
    try:
        admin = await asyncpg.connect(PG_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL at {PG_URL} is unreachable: {exc!r}")
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield admin, schema
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()
