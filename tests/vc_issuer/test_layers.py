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
        f"import json, sys, {module}\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
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


# --- the public API -------------------------------------------------------------------------------

PUBLIC_API = {
    "__version__",
    # signing and verifying
    "sign",
    "verify_credential",
    "verify_presentation",
    "VerificationResult",
    "VerifyOptions",
    "Check",
    "ContextLoader",
    "StatusListChecker",
    # keys
    "Ed25519Key",
    "load_key_file",
    "save_key_file",
    # the issuer over a home
    "Issuer",
    "HomeConfig",
    "init_home",
    "load_home",
    "open_issuer",
    # errors
    "VCIssuerError",
    "MalformedInputError",
    "ParsingError",
    "JsonLdError",
    "InvalidKeyError",
    "DIDResolutionError",
    "ProofError",
    "StatusError",
    "NotFoundError",
    "ConflictError",
    "ConfigError",
    "StoreError",
}


def test_public_api_is_exactly_the_curated_list() -> None:
    """Adding or removing a public name is a decision: change this list with it."""
    import vc_issuer

    assert set(vc_issuer.__all__) == PUBLIC_API
    assert len(vc_issuer.__all__) == len(PUBLIC_API)


def test_every_public_name_resolves_to_its_definition() -> None:
    import vc_issuer
    from vc_issuer import errors
    from vc_issuer.core import keys, proofs
    from vc_issuer.services import home, issuer, verifier

    for name in vc_issuer.__all__:
        assert getattr(vc_issuer, name) is not None, name
    assert vc_issuer.sign is proofs.sign
    assert vc_issuer.verify_credential is verifier.verify_credential
    assert vc_issuer.Ed25519Key is keys.Ed25519Key
    assert vc_issuer.Issuer is issuer.Issuer
    assert vc_issuer.open_issuer is home.open_issuer
    assert vc_issuer.VCIssuerError is errors.VCIssuerError
    public_errors = [getattr(vc_issuer, n) for n in vc_issuer.__all__ if n.endswith("Error")]
    assert all(issubclass(e, errors.VCIssuerError) for e in public_errors)


def test_star_import_gives_the_public_api() -> None:
    namespace: dict[str, object] = {}
    exec("from vc_issuer import *", namespace)
    assert PUBLIC_API - {"__version__"} <= set(namespace)


def test_unknown_name_is_an_attribute_error() -> None:
    import vc_issuer

    with pytest.raises(AttributeError, match="no attribute 'internal_thing'"):
        _ = vc_issuer.internal_thing  # type: ignore[attr-defined]


def test_quickstart_python_example_runs_on_the_public_api() -> None:
    """The quickstart's Python block imports only from ``vc_issuer`` and verifies."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "quickstart.md").read_text("utf-8")
    block = text.split("```python\n", 1)[1].split("```", 1)[0]
    imports = [ln for ln in block.splitlines() if ln.startswith(("from ", "import "))]
    assert [ln for ln in imports if "vc_issuer" in ln] == [
        "from vc_issuer import Ed25519Key, sign, verify_credential"
    ]
    out = subprocess.run(
        [sys.executable, "-c", block], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.startswith("True ")
