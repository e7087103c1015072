"""The W3C VC conformance suites against ``vc-issuer serve``: the kit, the server, one run.

The kit (``../shared/w3c-suites`` next to the repository, or ``$VC_W3C_SUITES_KIT``) holds five
upstream mocha suites that install from the npm registry. Its ``setup.sh`` copies it into a
writable folder and runs ``npm ci`` there (skipped when already installed from the same lock
files), ``run-suite.sh`` runs one suite against ``$BASE_URL`` and ``$ISSUER_DID`` and prints
mocha's spec output. What each suite tests and why a few of its tests fail here is in
docs/conformance.md.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from tests._certs import self_signed

ROOT = Path(__file__).resolve().parents[2]
ENV_KIT = "VC_W3C_SUITES_KIT"
ENV_DEST = "VC_W3C_SUITES_DIR"
SUITE_TIMEOUT = 300.0

# Multi-bit status on the server under test: the bitstring suite runs its statusSize,
# statusMessage and statusReference tests only against such an entry (the last one).
MESSAGE_STATUS = {
    "size": 2,
    "messages": ["pending_review", "accepted", "rejected", "undefined"],
    "reference": "https://example.org/status-dictionary/",
}


@dataclass(frozen=True)
class Suite:
    """One suite of the kit: the passing count to reach, and the failures we accept (test
    title -> why; each is explained in docs/conformance.md)."""

    name: str
    target: int
    allowed: Mapping[str, str] = field(default_factory=dict)


SUITES: tuple[Suite, ...] = (
    Suite("vc-di-eddsa-test-suite", 44),
    Suite(
        "vc-data-model-2.0-test-suite",
        58,
        {
            "The value of the relatedResource property MUST be one or more objects of the "
            "following form:": "its 'valid' digests of https://www.w3.org/ns/credentials/v2 are "
            "of an older file than the Recommendation's (sha256 59955ced...), which we pin and "
            "compare against",
        },
    ),
    Suite(
        "vc-bitstring-status-list-test-suite",
        24,
        {
            "The number of status messages MUST equal the number of possible values.": (
                "the suite expects statusMessage.length == statusSize; the spec says one "
                "message per value, 2**statusSize"
            ),
            "If present, the statusMessage property MUST be an array, the length of which MUST "
            "equal the number of possible status messages indicated by statusSize.": (
                "the same suite bug: 4 messages for 2 bits is what the spec requires"
            ),
        },
    ),
    Suite("vc-api-issuer-test-suite", 13),
    Suite("vc-api-verifier-test-suite", 18),
)


@dataclass
class SuiteRun:
    """What one run of a suite printed, read from mocha's spec reporter."""

    suite: str
    target: int
    passing: int
    pending: int
    failing: int
    failures: list[str]
    seconds: float
    output: str
    exit_code: int


RESULTS: list[SuiteRun] = []
"""Every run of this session, for the terminal summary (tests/w3c/conftest.py)."""


# --- the kit -------------------------------------------------------------------------------------


class KitMissing(Exception):
    """The kit, Node or npm is missing: the conformance tests cannot run (a failure)."""


def kit_path() -> Path:
    # The kit sits beside the repository (../shared); a clone made elsewhere on the same machine
    # still finds the workplace's copy at /work/shared.
    beside = ROOT.parent / "shared" / "w3c-suites"
    fallback = Path("/work/shared/w3c-suites")
    default = beside if beside.is_dir() or not fallback.is_dir() else fallback
    kit = Path(os.environ.get(ENV_KIT) or default)
    if not (kit / "setup.sh").is_file() or not (kit / "run-suite.sh").is_file():
        raise KitMissing(
            f"the W3C suites kit is not at {kit} (setup.sh, run-suite.sh); set ${ENV_KIT} to"
            " the folder holding it"
        )
    return kit


def require_node() -> None:
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise KitMissing(f"{tool} is not on PATH: the W3C suites need Node >= 18 and npm")


def install(kit: Path) -> Path:
    """The kit installed (``setup.sh``, idempotent) into a folder of the system's temp dir that
    later runs reuse (``$VC_W3C_SUITES_DIR`` to choose another); returns that folder."""
    dest = Path(os.environ.get(ENV_DEST) or Path(tempfile.gettempdir()) / "vc-issuer-w3c-suites")
    proc = subprocess.run(
        ["bash", str(kit / "setup.sh"), str(dest)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"setup.sh failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return dest


# --- mocha's spec output -------------------------------------------------------------------------

_COUNT = re.compile(r"^\s+(\d+) (passing|pending|failing)\b", re.M)
_FAILURE = re.compile(r"^\s{2}(\d+)\) ", re.M)


def parse(output: str) -> tuple[dict[str, int], list[str]]:
    """Counts ({passing, pending, failing}) and the failing tests' titles, from the list mocha
    prints after "N failing": each entry is ``N) suite`` then indented parents and the test's
    title ending in ``:``, then the error."""
    counts = {"passing": 0, "pending": 0, "failing": 0}
    for number, word in _COUNT.findall(output):
        counts[word] = int(number)
    titles: list[str] = []
    tail = output[output.rfind(f"{counts['failing']} failing") :] if counts["failing"] else ""
    starts = [m.start() for m in _FAILURE.finditer(tail)]
    for start, end in zip(starts, [*starts[1:], len(tail)][: len(starts)], strict=True):
        lines = tail[start:end].splitlines()
        title = next((line.strip() for line in lines[1:] if line.rstrip().endswith(":")), None)
        if title is None and lines and lines[0].rstrip().endswith(":"):
            title = _FAILURE.sub("", lines[0]).strip()
        titles.append(title[:-1] if title else lines[0].strip())
    return counts, titles


# --- the server under test -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def vc_issuer_command() -> list[str]:
    """The ``vc-issuer`` of the environment running the tests (the code under test)."""
    script = Path(sys.executable).with_name("vc-issuer")
    if script.is_file():
        return [str(script)]
    found = shutil.which("vc-issuer")
    if found is None:
        raise KitMissing("the vc-issuer command is not installed (pip install -e .)")
    return [found]


@dataclass
class Server:
    base_url: str
    did: str
    log: Path


@contextmanager
def serve(folder: Path) -> Iterator[Server]:
    """``vc-issuer serve`` over TLS on a free loopback port, ``--no-auth``, with a fresh home
    whose status includes a 2-bit ``message`` entry; stopped with SIGTERM afterwards."""
    port = free_port()
    base_url = f"https://127.0.0.1:{port}"
    home = folder / "home"
    cli = vc_issuer_command()
    subprocess.run(
        [*cli, "init", "--home", str(home), "--base-url", base_url],
        check=True,
        capture_output=True,
        timeout=120,
    )
    config = home / "config.toml"
    settings = tomllib.loads(config.read_text("utf-8"))
    settings["status"]["purposes"] = ["revocation", "suspension", "message"]
    settings["status"]["message"] = MESSAGE_STATUS
    config.write_text(tomli_w.dumps(settings), "utf-8")
    cert, key = self_signed(folder)
    out, err = folder / "serve.out", folder / "serve.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            [*cli, "serve", "--home", str(home), "--host", "127.0.0.1", "--port", str(port),
             "--tls-cert", str(cert), "--tls-key", str(key), "--no-auth"],
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        text = ""
        while "listening on" not in text:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"vc-issuer serve did not start:\n{out.read_text()}\n{err.read_text()}"
                )
            time.sleep(0.2)
            text = out.read_text("utf-8", "replace")
        did = re.search(r"^issuer DID: (\S+)", text, re.M)
        assert did is not None, text
        yield Server(base_url, did[1], err)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run_suite(dest: Path, suite: Suite, server: Server) -> SuiteRun:
    env = {
        **os.environ,
        "BASE_URL": server.base_url,
        "ISSUER_DID": server.did,
        "NODE_TLS_REJECT_UNAUTHORIZED": "0",
    }
    started = time.monotonic()
    proc = subprocess.run(
        ["bash", str(dest / "run-suite.sh"), suite.name],
        env=env,
        capture_output=True,
        text=True,
        timeout=SUITE_TIMEOUT,
        check=False,
    )
    output = proc.stdout + proc.stderr
    counts, failures = parse(output)
    return SuiteRun(
        suite=suite.name,
        target=suite.target,
        passing=counts["passing"],
        pending=counts["pending"],
        failing=counts["failing"],
        failures=failures,
        seconds=time.monotonic() - started,
        output=output,
        exit_code=proc.returncode,
    )
