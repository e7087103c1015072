"""Schemathesis fuzzes every operation of the served /openapi.json against a real
`vc-issuer serve` process, with an admin token so protected routes run too: no 5xx, and every
response is documented (status code, content type, headers, body schema). Examples are bounded
and derandomized so the run is reproducible and short (well under a minute)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.vc_issuer.hostile._live_server import LiveServer as Server

from .conftest import V2, free_port

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
MAX_EXAMPLES = 25
#: routes the issue requires; the served document may describe more, all of which are fuzzed
REQUIRED = {
    ("POST", "/credentials/issue"),
    ("POST", "/credentials/verify"),
    ("POST", "/presentations/verify"),
    ("POST", "/credentials/status"),
    ("GET", "/credentials/{id}"),
    ("GET", "/status-lists/{id}"),
    ("GET", "/.well-known/did.json"),
    ("GET", "/1.0/identifiers/{did}"),
    ("GET", "/openapi.json"),
    ("GET", "/healthz"),
}


def _post(url: str, body: dict[str, Any], token: str) -> Any:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A fresh home served on loopback, with one issued credential; (base URL, admin token)."""
    tmp = tmp_path_factory.mktemp("schemathesis")
    port = free_port()
    server = Server(
        ["--home", str(tmp / "home"), "--host", "127.0.0.1", "--port", str(port)],
        tmp / "serve.log",
    )
    try:
        base = server.wait_ready()
        token = server.value("admin token")
        did = server.value("issuer DID")
        credential = {
            "@context": [V2],
            "type": ["VerifiableCredential"],
            "issuer": did,
            "credentialSubject": {"id": "did:example:alice", "name": "Alice"},
        }
        _post(base + "/credentials/issue", {"credential": credential}, token)
        yield base, token
    finally:
        server.stop()


@pytest.fixture(scope="module")
def api_schema(served: tuple[str, str]) -> Any:
    base, _ = served
    return schemathesis.openapi.from_url(base + "/openapi.json")


def _operations(api_schema: Any) -> list[tuple[str, str]]:
    paths = api_schema.raw_schema["paths"]
    return sorted((m.upper(), p) for p, item in paths.items() for m in item)


def _fuzz(operation: Any, mode: GenerationMode, base: str, token: str) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        case.call_and_validate(
            base_url=base,
            headers={"Authorization": f"Bearer {token}"},
            checks=CHECKS,
            timeout=30,
        )

    run()


def test_served_document_describes_every_required_route(api_schema: Any) -> None:
    assert set(_operations(api_schema)) >= REQUIRED


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_fuzzed(
    mode: GenerationMode, api_schema: Any, served: tuple[str, str]
) -> None:
    """Positive cases follow the schemas; negative ones break them where there is a request
    body or parameter to break. Each operation is fuzzed; all failures are reported together."""
    base, token = served
    failures: list[str] = []
    ran = 0
    for method, path in _operations(api_schema):
        operation = api_schema[path][method]
        try:
            _fuzz(operation, mode, base, token)
            ran += 1
        except BaseException as exc:  # collect, so one run shows every broken operation
            if type(exc).__name__ == "Unsatisfiable":
                continue  # nothing to break (no body or parameters) in negative mode
            if isinstance(exc, KeyboardInterrupt):
                raise
            failures.append(f"{method} {path}: {exc}")
    assert not failures, "\n\n".join(failures)
    assert ran >= (len(REQUIRED) if mode == GenerationMode.POSITIVE else 4)
