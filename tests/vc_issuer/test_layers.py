"""The layering the package promises: the core and the issuing/verifying services load no
network stack and no store driver, and the public API stays what it says it is."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# The HTTP client/server stack and the store drivers: only the edges (http/, cli/, store/) load
# them, when they are used.
HEAVY = ("aiohttp", "yarl", "multidict", "asyncpg", "sqlite3", "_sqlite3")

PURE = [
    "vc_issuer.core.credentials",
    "vc_issuer.core.jsonld",
    "vc_issuer.core.keys",
    "vc_issuer.core.proofs",
    "vc_issuer.core.purposes",
    "vc_issuer.core.rdfc",
    "vc_issuer.core.resolver",
    "vc_issuer.core.status",
    "vc_issuer.core.suites",
    "vc_issuer.services.verifier",
    "vc_issuer.services.issuer",
    "vc_issuer.services.status_check",
    "did_methods.protocol",
    "vc_issuer",
]


def _loaded_after_import(module: str) -> list[str]:
    """Import ``module`` in a fresh interpreter and list which heavy modules it loaded."""
    code = (
        f"import json, sys, {module}\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded: list[str] = json.loads(out.stdout)
    return loaded


@pytest.mark.parametrize("module", PURE)
def test_importing_the_core_loads_no_network_stack_or_store_driver(module: str) -> None:
    assert _loaded_after_import(module) == []


def test_the_edges_do_load_it() -> None:
    """The check above can fail: the HTTP edge does load aiohttp."""
    assert "aiohttp" in _loaded_after_import("vc_issuer.http.app")
