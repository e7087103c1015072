"""What every interop test shares: the other implementation runs in node, as a subprocess that
answers a batch of JSON requests on stdout. Without node or its npm packages (``npm ci --prefix
tests/interop``) the tests fail; ``VC_ISSUER_SKIP_INTEROP=1`` skips them on a machine without
Node."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent


def node_problem(*packages: str) -> str | None:
    """Why node cannot run these packages here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not on PATH (install Node >= 18)"
    for pkg in packages:
        if not (HERE / "node_modules" / pkg / "package.json").is_file():
            return f"{pkg} is missing: run `npm ci --prefix tests/interop`"
    return None


def require_node(what: str, *packages: str) -> None:
    """For a module's autouse fixture: fail (or, when asked, skip) without node."""
    problem = node_problem(*packages)
    if problem is None:
        return
    if os.environ.get("VC_ISSUER_SKIP_INTEROP") == "1":
        pytest.skip(f"{what} interop skipped (VC_ISSUER_SKIP_INTEROP=1): {problem}")
    pytest.fail(f"{what} interop cannot run: {problem} (or set VC_ISSUER_SKIP_INTEROP=1)")


def needs_node(what: str, *packages: str) -> Any:
    """A module-scoped autouse fixture for a test module: ``require_node(what, *packages)``."""

    @pytest.fixture(scope="module", autouse=True)
    def _require_node() -> None:
        require_node(what, *packages)

    return _require_node


def run_node(
    script: Path,
    requests: list[dict[str, Any]],
    *args: str,
    timeout: float = 120,
    exit_codes: tuple[int, ...] = (0,),
) -> list[dict[str, Any]]:
    """One node process answers a whole batch: one answer per request, in order."""
    proc = subprocess.run(
        ["node", str(script), *args],
        input=json.dumps(requests),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode in exit_codes, f"{script.name} {' '.join(args)} failed: {proc.stderr}"
    answers: list[dict[str, Any]] = json.loads(proc.stdout)
    assert len(answers) == len(requests)
    return answers
