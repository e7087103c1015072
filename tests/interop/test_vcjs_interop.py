"""Interop with Digital Bazaar's vc-js (issue 2, item 10), run with node as a subprocess.

Credentials we sign verify in vc-js, credentials vc-js signs verify in ours, and changing any
claim makes both reject. Ed25519 is deterministic, so both stacks must also produce the very
same proofValue for the same document, key and ``created``.

Needs ``npm ci --prefix tests/interop``; without it these tests fail (see ``_node.py``).
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from vc_issuer.core.keys import Ed25519Key, parse_key
from vc_issuer.core.proofs import sign
from vc_issuer.core.resolver import StaticResolver, default_resolver
from vc_issuer.services.verifier import verify_credential

from ._node import HERE, needs_node, run_node

VCJS_PKG = "@digitalbazaar/vc"
FIXTURES = HERE.parent / "fixtures" / "interop"
VCJS = HERE / "vcjs.mjs"
CREATED = "2024-05-01T00:00:00Z"
DI_V2 = "https://w3id.org/security/data-integrity/v2"
OB_CONTROLLER = "https://example.edu/issuers/565049"


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text("utf-8"))
    return data


_require_vcjs = needs_node("vc-js", VCJS_PKG)


def run_vcjs(command: str, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One node process answers a whole batch of sign or verify requests (exit 1: some did
    not verify)."""
    return run_node(VCJS, requests, command, timeout=300, exit_codes=(0, 1))


# --- the cases -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One credential shape signed with one suite by one key."""

    id: str
    fixture: str
    suite: str
    key_file: str = "issuer-key.json"
    add_context: str | None = None

    def unsigned(self) -> dict[str, Any]:
        doc = _load(self.fixture)
        if self.add_context is not None:
            doc["@context"] = [*doc["@context"], self.add_context]
        return doc

    def key_json(self) -> dict[str, Any]:
        raw = _load(self.key_file)
        if self.key_file == "key-pair.json":  # the 1EdTech vector: an https controller
            return {
                "id": raw["id"],
                "controller": raw["controller"],
                "publicKeyMultibase": raw["publicKeyMultibase"],
                "secretKeyMultibase": raw["secretKeyMultibase"],
            }
        return {k: raw[k] for k in ("publicKeyMultibase", "secretKeyMultibase")}

    def key(self) -> Ed25519Key:
        return parse_key(self.key_json())

    def controllers(self) -> dict[str, Any]:
        """Controller documents vc-js may load (the 1EdTech key is not a did:key)."""
        return _ob_controllers() if self.key_file == "key-pair.json" else {}


def _ob_controller_document() -> dict[str, Any]:
    kp = _load("key-pair.json")
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": kp["controller"],
        "verificationMethod": [
            {
                "id": kp["id"],
                "type": "Multikey",
                "controller": kp["controller"],
                "publicKeyMultibase": kp["publicKeyMultibase"],
            }
        ],
        "assertionMethod": [kp["id"]],
        "authentication": [kp["id"]],
    }


def _ob_controllers() -> dict[str, Any]:
    return {OB_CONTROLLER: _ob_controller_document()}


CASES = [
    Case("vc1.1-ed25519signature2020", "vc1-degree.unsigned.json", "Ed25519Signature2020"),
    # vc-js adds the data-integrity context to a VC 1.1 document; give it to both stacks
    Case("vc1.1-eddsa-rdfc-2022", "vc1-degree.unsigned.json", "eddsa-rdfc-2022", add_context=DI_V2),
    Case("vc2.0-eddsa-rdfc-2022", "vc2-alumni.unsigned.json", "eddsa-rdfc-2022"),
    Case("vc2.0-ed25519signature2020", "vc2-alumni.unsigned.json", "Ed25519Signature2020"),
    Case(
        "ob3.0.2-vc1.1-ed25519signature2020",
        "vc1-ob302-ed25519signature2020.unsigned.json",
        "Ed25519Signature2020",
    ),
    Case(
        "ob3.0.3-vc2.0-eddsa-rdfc-2022",
        "vc2-ob303-eddsa-rdfc-2022.unsigned.json",
        "eddsa-rdfc-2022",
    ),
    Case(
        "ob3.0.3-1edtech-eddsa-rdfc-2022",
        "unsigned.json",
        "eddsa-rdfc-2022",
        key_file="key-pair.json",
    ),
]
CASE_IDS = [c.id for c in CASES]


# --- our side --------------------------------------------------------------------------------


def our_resolver() -> StaticResolver:
    """did:key through the real resolver; the 1EdTech https controller from a fixture.

    The vector's key lives at an https URL (not a DID); serving its document from memory keeps
    the test offline while still exercising the controller / verification-method checks.
    """
    return StaticResolver(_ob_controllers(), fallback=default_resolver())


def ours_sign(case: Case) -> dict[str, Any]:
    return sign(case.unsigned(), case.key(), suite=case.suite, created=CREATED)


def ours_verify(credential: dict[str, Any]) -> Any:
    return asyncio.run(verify_credential(credential, resolver=our_resolver()))


# --- tampering -------------------------------------------------------------------------------

_DATE = re.compile(r"^(\d{4})(-\d\d-\d\dT.*)$")


def _tamper_value(value: Any) -> Any:
    """A different value of the same JSON type, still well formed where that is easy."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    m = _DATE.match(value)
    if m:  # one year earlier: still a valid date, still within the validity checks
        return f"{int(m.group(1)) - 1}{m.group(2)}"
    return value + "x"


def tampered_variants(credential: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every claim changed in turn: each scalar outside ``@context`` and ``proof``."""

    def walk(node: Any, path: tuple[str | int, ...]) -> Iterator[tuple[str | int, ...]]:
        if isinstance(node, dict):
            for k, v in node.items():
                if not path and k in ("@context", "proof"):
                    continue
                yield from walk(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                yield from walk(v, (*path, i))
        else:
            yield path

    for path in walk(credential, ()):
        changed = copy.deepcopy(credential)
        parent: Any = changed
        for step in path[:-1]:
            parent = parent[step]
        parent[path[-1]] = _tamper_value(parent[path[-1]])
        yield "/".join(str(p) for p in path), changed


# --- shared results (one node process per batch) ------------------------------------------


@pytest.fixture(scope="module")
def ours_signed() -> dict[str, dict[str, Any]]:
    return {c.id: ours_sign(c) for c in CASES}


@pytest.fixture(scope="module")
def vcjs_signed() -> dict[str, dict[str, Any]]:
    answers = run_vcjs(
        "sign",
        [
            {
                "credential": c.unsigned(),
                "key": c.key_json(),
                "suite": c.suite,
                "created": CREATED,
                "controllers": c.controllers(),
            }
            for c in CASES
        ],
    )
    for case, answer in zip(CASES, answers, strict=True):
        assert "error" not in answer, f"vc-js could not sign {case.id}: {answer['error']}"
    return {c.id: a for c, a in zip(CASES, answers, strict=True)}


@pytest.fixture(scope="module")
def vcjs_on_ours(ours_signed: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    answers = run_vcjs(
        "verify",
        [{"credential": ours_signed[c.id], "controllers": c.controllers()} for c in CASES],
    )
    return {c.id: a for c, a in zip(CASES, answers, strict=True)}


# --- tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_vcjs_verifies_what_we_sign(case: Case, vcjs_on_ours: dict[str, dict[str, Any]]) -> None:
    answer = vcjs_on_ours[case.id]
    assert answer["verified"] is True, f"vc-js rejected our {case.id}: {answer['error']}"


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_we_verify_what_vcjs_signs(case: Case, vcjs_signed: dict[str, dict[str, Any]]) -> None:
    result = ours_verify(vcjs_signed[case.id])
    assert result.verified is True, f"we rejected vc-js's {case.id}: {result.errors}"


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_same_signed_credential_as_vcjs(
    case: Case,
    ours_signed: dict[str, dict[str, Any]],
    vcjs_signed: dict[str, dict[str, Any]],
) -> None:
    """Deterministic Ed25519: same document, key and created -> the very same proof."""
    assert ours_signed[case.id] == vcjs_signed[case.id]


def test_1edtech_vector_reproduced_by_both() -> None:
    """The harness itself is sound: vc-js and we both rebuild the 1EdTech proofValue."""
    expected = _load("signed.json")
    created = expected["proof"]["created"]
    key = parse_key(CASES[-1].key_json())
    ours = sign(_load("unsigned.json"), key, suite="eddsa-rdfc-2022", created=created)
    [theirs] = run_vcjs(
        "sign",
        [
            {
                "credential": _load("unsigned.json"),
                "key": CASES[-1].key_json(),
                "suite": "eddsa-rdfc-2022",
                "created": created,
                "controllers": _ob_controllers(),
            }
        ],
    )
    assert ours["proof"]["proofValue"] == expected["proof"]["proofValue"]
    assert theirs["proof"] == expected["proof"]
    [verdict] = run_vcjs("verify", [{"credential": expected, "controllers": _ob_controllers()}])
    assert verdict["verified"] is True, verdict["error"]
    assert ours_verify(expected).verified is True


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_any_changed_claim_is_rejected_by_both(
    case: Case, ours_signed: dict[str, dict[str, Any]]
) -> None:
    variants = list(tampered_variants(ours_signed[case.id]))
    assert len(variants) >= 5
    answers = run_vcjs(
        "verify", [{"credential": v, "controllers": case.controllers()} for _, v in variants]
    )
    accepted_by_vcjs = [p for (p, _), a in zip(variants, answers, strict=True) if a["verified"]]
    accepted_by_ours = [p for p, v in variants if ours_verify(v).verified]
    assert accepted_by_vcjs == [], f"vc-js accepted changed claims: {accepted_by_vcjs}"
    assert accepted_by_ours == [], f"we accepted changed claims: {accepted_by_ours}"


def test_changed_proof_options_are_rejected_by_both(ours_signed: dict[str, dict[str, Any]]) -> None:
    """The proof options are signed too (proof hash first): changing ``created`` breaks it."""
    cred = copy.deepcopy(ours_signed["vc2.0-eddsa-rdfc-2022"])
    cred["proof"]["created"] = "2024-05-01T00:00:01Z"
    [answer] = run_vcjs("verify", [{"credential": cred}])
    assert answer["verified"] is False
    assert ours_verify(cred).verified is False


def test_harness_is_offline() -> None:
    """vc-js here never fetches: an unpinned context fails, naming the URL."""
    doc = _load("vc2-alumni.unsigned.json")
    doc["@context"] = [*doc["@context"], "https://example.org/not-pinned/v1"]
    [answer] = run_vcjs(
        "sign",
        [{"credential": doc, "key": CASES[0].key_json(), "suite": "eddsa-rdfc-2022"}],
    )
    assert "UNKNOWN_CONTEXT" in answer["error"]
    assert "https://example.org/not-pinned/v1" in answer["error"]
