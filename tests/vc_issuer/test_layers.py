"""The layering the package promises: the core and the issuing/verifying services load no
network stack and no store driver, and the public API stays what it says it is."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

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


# --- no import cycles ----------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


def _module_files() -> dict[str, Path]:
    files: dict[str, Path] = {}
    for package in ("vc_issuer", "did_methods"):
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            files[".".join(parts)] = path
    return files


def _is_type_checking(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(name: str, path: Path, files: dict[str, Path], *, nested: bool) -> set[str]:
    """Our modules that ``name`` imports: at module level (``if``/``try`` blocks included,
    ``if TYPE_CHECKING`` left out), and with ``nested`` also inside functions."""
    tree = ast.parse(path.read_text("utf-8"))
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    nodes: list[ast.AST] = []
    for stmt in tree.body:
        if _is_type_checking(stmt):
            continue
        if nested or isinstance(stmt, (ast.If, ast.Try)):
            nodes.extend(ast.walk(stmt))
        else:
            nodes.append(stmt)
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names if alias.name in files)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package[: len(package) - (node.level - 1)]
                base = ".".join([*parent, base] if base else parent)
            for alias in node.names:
                target = f"{base}.{alias.name}"
                if target in files:
                    out.add(target)
                elif base in files:
                    out.add(base)
    out.discard(name)
    return out


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, list[str]]] = [(start, sorted(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, todo = work[-1]
            if todo:
                nxt = todo.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(graph.get(nxt, ()))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert import_cycles(graph) == [["a", "b", "c"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("nested", [False, True], ids=["module-level", "with-function-level"])
def test_no_import_cycles(nested: bool) -> None:
    """Imports point one way. With ``nested`` the imports inside functions count too: a
    function-level import must not be a way to hide a cycle."""
    files = _module_files()
    graph = {name: _imports(name, path, files, nested=nested) for name, path in files.items()}
    assert graph.get("vc_issuer.http.app")
    assert import_cycles(graph) == []


def test_http_has_no_function_level_imports_of_our_modules() -> None:
    """The HTTP layer is wired at module level (create_app takes built services)."""
    files = _module_files()
    hidden = {
        name
        for name, path in files.items()
        if name.startswith("vc_issuer.http")
        and _imports(name, path, files, nested=True) != _imports(name, path, files, nested=False)
    }
    assert hidden == set()
