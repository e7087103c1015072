"""docs/quickstart.md, run: every ``sh`` block, in order, in one temporary folder, so the
quickstart cannot rot.

The blocks run as a newcomer runs them, from a folder holding ``docs/examples/`` (a clone's
root), with ``$VC_ISSUER_HOME`` unset. Three liberties, all visible here:

* a ``vc-issuer serve`` line starts a real server in the background (on a free port instead of
  the documented one) and the next lines run once it listens;
* a line ``NAME=... # the <thing> serve printed`` gets the value that the last server really
  printed on the line starting with ``<thing>`` (so the test also checks that serve prints it);
* ``cert.pem`` / ``key.pem``, which the did:web section expects the reader to have, are a
  self-signed pair made here.

A block preceded by ``<!-- quickstart-test: skip (why) -->`` is not run (only the install block).
Variables persist from block to block, as in one terminal.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests._certs import self_signed
from tests.vc_issuer.hostile._live_server import LiveServer, free_port

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "docs" / "quickstart.md"

_BLOCK = re.compile(
    r"(?:<!-- quickstart-test: (?P<note>[^>]*?) -->\n)?```sh\n(?P<body>.*?)```", re.S
)
_PRINTED = re.compile(r"^(?P<name>[A-Z_]+)=\S+\s+# the (?P<what>.+?) serve printed$", re.M)
_SERVE = re.compile(r"^vc-issuer serve\b")


@dataclass(frozen=True)
class Block:
    line: int
    body: str
    skip: str | None


def quickstart_blocks() -> list[Block]:
    text = QUICKSTART.read_text("utf-8")
    return [
        Block(
            line=text.count("\n", 0, m.start("body")) + 1,
            body=m.group("body"),
            skip=m.group("note") if m.group("note") else None,
        )
        for m in _BLOCK.finditer(text)
    ]


def serve_line(command: str, cwd: Path, env: dict[str, str]) -> LiveServer:
    """One documented ``vc-issuer serve`` line, running on a free port."""
    port = str(free_port())
    args = shlex.split(command)
    if "--port" in args:
        args[args.index("--port") + 1] = port
    else:
        args += ["--port", port]
    return LiveServer([], cwd / f"serve-{port}.log", argv=args, cwd=cwd, env=env)


def _segments(body: str) -> Iterator[tuple[str, str]]:
    """("shell", text) runs and ("serve", line) lines of one block, in order."""
    shell: list[str] = []
    for line in body.splitlines():
        if _SERVE.match(line):
            if shell:
                yield "shell", "\n".join(shell)
                shell = []
            yield "serve", line
        else:
            shell.append(line)
    if any(line.strip() for line in shell):
        yield "shell", "\n".join(shell)


class Terminal:
    """A bash session kept across blocks: each run sources the variables the last one exported
    (``set -a`` exports every assignment), stops at the first failing command."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd = cwd
        self.env = env
        self.state = cwd / ".quickstart-env.sh"
        self.state.write_text("")

    def run(self, script: str, where: str) -> None:
        wrapped = (
            f"set -euo pipefail\nset -a\n. {shlex.quote(str(self.state))}\n{script}\n"
            f"export -p > {shlex.quote(str(self.state))}\n"
        )
        result = subprocess.run(
            ["bash", "-c", wrapped],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert result.returncode == 0, (
            f"{where} failed (exit {result.returncode}):\n{script}\n--- stdout\n{result.stdout}"
            f"\n--- stderr\n{result.stderr}"
        )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A clone's root as far as the quickstart can tell: docs/examples/, a TLS pair."""
    shutil.copytree(ROOT / "docs" / "examples", tmp_path / "docs" / "examples")
    self_signed(tmp_path)
    return tmp_path


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VC_ISSUER_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_the_quickstart_runs_start_to_finish(workdir: Path) -> None:
    blocks = quickstart_blocks()
    skipped = [b for b in blocks if b.skip]
    assert [b.body.split()[0] for b in skipped] == ["python3"], "only the install block is skipped"
    assert all(b.skip and b.skip.startswith("skip (") for b in skipped)

    env = _environment()
    terminal = Terminal(workdir, env)
    servers: list[LiveServer] = []
    filled: set[str] = set()
    try:
        for block in blocks:
            if block.skip:
                continue
            for kind, text in _segments(block.body):
                where = f"docs/quickstart.md block at line {block.line}"
                if kind == "serve":
                    server = serve_line(text, workdir, env)
                    servers.append(server)
                    server.wait_ready()
                    continue

                def fill(m: re.Match[str]) -> str:
                    filled.add(m.group("name"))
                    return f"{m.group('name')}={shlex.quote(servers[-1].value(m['what']))}"

                terminal.run(_PRINTED.sub(fill, text), where)

        assert filled == {"BASE", "TOKEN", "ISSUER"}
        first, did_web = servers
        assert first.value("admin token").startswith("vci_")
        # a home made by `init`: serve says how to get a token instead of printing one
        assert did_web.value("admin token: none yet") == "admin"
        hint = "create one with: vc-issuer tokens create --home did-web-home --scope admin"
        assert any(line.endswith(hint) for line in did_web.lines), did_web.lines

        # what the prose says about the results
        badge = subprocess.run(
            ["vc-issuer", "verify", "badge.png"], cwd=workdir, env=env, capture_output=True
        )
        assert badge.returncode == 0, badge.stdout + badge.stderr  # own server: no flag needed
        revoked = subprocess.run(
            ["vc-issuer", "verify", "one.json"], cwd=workdir, env=env, capture_output=True
        )
        assert revoked.returncode == 1 and b'"CREDENTIAL_REVOKED"' in revoked.stdout
        assert (workdir / "badge.png").stat().st_mode & 0o777 == 0o666 & ~_umask()  # not 0600
    finally:
        for server in servers:
            server.stop()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
