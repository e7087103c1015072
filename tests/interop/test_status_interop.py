"""Our status lists in Digital Bazaar's checkers (issue 3, item 9), run with node as a subprocess.

Credentials issued by our ``Issuer`` (VC 2.0 with ``BitstringStatusListEntry``, VC 1.1 with
``StatusList2021Entry``) and the signed list credentials it publishes are checked by
``@digitalbazaar/vc-bitstring-status-list`` and ``@digitalbazaar/vc-status-list`` (``checkStatus``,
and ``vc.verifyCredential`` with that ``checkStatus``): nothing on the network, the node script's
document loader serves each list credential under its URL. The same list credentials, as the
same bytes, go through our ``StatusListChecker`` too, and both sides must agree.

The generated-interop lists (index 94567 revoked) are checked in our checker by
tests/vc_issuer/test_status_check.py::test_generated_interop_credential_is_revoked_end_to_end.

Needs ``npm ci --prefix tests/interop``; without it these tests fail (see ``_node.py``).
"""

from __future__ import annotations

import base64
import copy
import gzip
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from vc_issuer.core.keys import Ed25519Key
from vc_issuer.core.status import StatusMessages
from vc_issuer.services.issuer import Issuer
from vc_issuer.services.status_check import FetchResult, StatusListChecker
from vc_issuer.store import open_store

from ._node import HERE, needs_node, run_node

STATUS_JS = HERE / "status.mjs"
BASE = "https://issuer.example/tenant"
VC2 = "https://www.w3.org/ns/credentials/v2"
VC1 = "https://www.w3.org/2018/credentials/v1"
BSL_PKG = "@digitalbazaar/vc-bitstring-status-list"
SL2021_PKG = "@digitalbazaar/vc-status-list"


_require_node = needs_node("status", BSL_PKG, SL2021_PKG)


def run_status_js(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One node process checks a whole batch."""
    answers = run_node(STATUS_JS, requests, timeout=300)
    for a in answers:
        assert "error" not in a, a
    return answers


def _entries(credential: Mapping[str, Any]) -> list[dict[str, Any]]:
    status = credential["credentialStatus"]
    return list(status) if isinstance(status, list) else [status]


@dataclass
class Snapshot:
    """A credential and the list credentials as published at one moment."""

    label: str
    credential: dict[str, Any]
    lists: dict[str, dict[str, Any]]
    ours: list[tuple[str, bool, str | None]] = field(default_factory=list)

    def request(self) -> dict[str, Any]:
        return {"credential": self.credential, "lists": self.lists}


@pytest.fixture
async def issuer(tmp_path: Path) -> AsyncIterator[Issuer]:
    async with open_store(tmp_path / "store.sqlite3") as store:
        key = Ed25519Key.generate()
        # vc11_status: VC 1.1 credentials get StatusList2021 entries without asking each time
        yield Issuer(key=key, did=key.did, store=store, base_url=BASE, vc11_status=True)


async def snapshot(issuer: Issuer, label: str, credential: dict[str, Any]) -> Snapshot:
    lists = {}
    for entry in _entries(credential):
        url = entry["statusListCredential"]
        lists[url] = await issuer.status_list_credential(url.rsplit("/", 1)[1])
    snap = Snapshot(label, copy.deepcopy(credential), copy.deepcopy(lists))
    snap.ours = await our_check(snap)
    return snap


async def our_check(snap: Snapshot) -> list[tuple[str, bool, str | None]]:
    """Our checker on the very bytes node gets: (purpose, passed, code) per entry."""

    async def fetch(url: str, headers: Mapping[str, str]) -> FetchResult:
        body = json.dumps(snap.lists[url]).encode()
        return 200, {"Content-Type": "application/vc+ld+json"}, body

    async with StatusListChecker(fetch=fetch) as checker:
        results = await checker.check_entries(snap.credential)
    return sorted((r.entry.purpose if r.entry else "?", r.passed, r.code) for r in results)


def _expect(
    answer: dict[str, Any], snap: Snapshot, pkg: str, *, revoked: bool, suspended: bool
) -> None:
    where = f"{snap.label}: {answer}"
    assert answer["checker"] == pkg, where
    # the package's own checkStatus: the list credential verified, the bits read
    assert (answer["revoked"], answer["suspended"]) == (revoked, suspended), where
    assert answer["checkStatus"]["error"] is None, where
    indices = sorted(e["statusListIndex"] for e in _entries(snap.credential))
    assert sorted(r["statusListIndex"] for r in answer["checkStatus"]["results"]) == indices
    # the whole credential in vc.verifyCredential: the proofs always verify, status decides
    whole = answer["verifyCredential"]
    assert whole["proofsVerified"] is True, where
    assert whole["verified"] is (not revoked and not suspended), where
    assert whole["statusVerified"] is (not revoked and not suspended), where
    # and our checker, on the same list credentials, says the same
    assert snap.ours == sorted(
        [
            ("revocation", not revoked, "CREDENTIAL_REVOKED" if revoked else None),
            ("suspension", not suspended, "CREDENTIAL_SUSPENDED" if suspended else None),
        ]
    ), where


@pytest.mark.parametrize(
    ("context", "entry_type", "pkg"),
    [
        (VC2, "BitstringStatusListEntry", BSL_PKG),
        (VC1, "StatusList2021Entry", SL2021_PKG),
    ],
    ids=["vc2-bitstring-status-list", "vc1-status-list-2021"],
)
async def test_revoke_suspend_reinstate_in_digital_bazaar_checkers(
    issuer: Issuer, context: str, entry_type: str, pkg: str
) -> None:
    def unsigned(n: int) -> dict[str, Any]:
        return {
            "@context": [context],
            "type": ["VerifiableCredential"],
            "credentialSubject": {"id": f"did:example:holder{n}"},
        }

    a = await issuer.issue(unsigned(1))
    b = await issuer.issue(unsigned(2))
    assert {e["type"] for e in _entries(a)} == {entry_type}
    snaps = [await snapshot(issuer, "fresh", a)]
    await issuer.revoke(a["id"], reason="interop")
    snaps.append(await snapshot(issuer, "revoked", a))
    snaps.append(await snapshot(issuer, "other credential on the same lists", b))
    await issuer.suspend(b["id"])
    snaps.append(await snapshot(issuer, "suspended", b))
    await issuer.reinstate(b["id"])
    snaps.append(await snapshot(issuer, "reinstated", b))
    snaps.append(await snapshot(issuer, "still revoked", a))

    answers = run_status_js([s.request() for s in snaps])
    expected = [(False, False), (True, False), (False, False), (False, True), (False, False)]
    expected.append((True, False))
    for answer, snap, (revoked, suspended) in zip(answers, snaps, expected, strict=True):
        _expect(answer, snap, pkg, revoked=revoked, suspended=suspended)


def _flip(encoded: str, index: int) -> str:
    """Set bit ``index`` of an encodedList (any multibase-u / base64url form) without re-signing."""
    body = encoded[1:] if encoded.startswith("u") else encoded
    raw = bytearray(gzip.decompress(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))
    raw[index // 8] |= 0x80 >> (index % 8)
    out = base64.urlsafe_b64encode(gzip.compress(bytes(raw))).decode().rstrip("=")
    return ("u" + out) if encoded.startswith("u") else out


@pytest.mark.parametrize("context", [VC2, VC1], ids=["bsl", "sl2021"])
async def test_tampered_or_foreign_list_is_refused_by_digital_bazaar(
    issuer: Issuer, context: str
) -> None:
    """A bit flipped after signing breaks our proof in their checker; so does another issuer."""
    cred = await issuer.issue(
        {
            "@context": [context],
            "type": ["VerifiableCredential"],
            "credentialSubject": {"id": "did:example:holder"},
        }
    )
    good = await snapshot(issuer, "good", cred)
    entry = next(e for e in _entries(cred) if e["statusPurpose"] == "revocation")
    url = entry["statusListCredential"]

    tampered = copy.deepcopy(good.lists)
    subject = tampered[url]["credentialSubject"]
    subject["encodedList"] = _flip(subject["encodedList"], int(entry["statusListIndex"]))

    other_key = Ed25519Key.generate()
    async with open_store(":memory:") as store:
        other = Issuer(key=other_key, did=other_key.did, store=store, base_url=BASE)
        record = await issuer.store.get_status_list(url.rsplit("/", 1)[1])
        assert record is not None
        foreign = copy.deepcopy(good.lists)
        foreign[url] = other.build_list_credential(record)  # same bits and URL, signed by another

    base = good.request()
    answers = run_status_js([base, {**base, "lists": tampered}, {**base, "lists": foreign}])
    assert answers[0]["verifyCredential"]["verified"] is True
    for answer, why in ((answers[1], "not verified"), (answers[2], "do not match")):
        assert answer["checkStatus"]["verified"] is False, answer
        assert why in answer["checkStatus"]["error"], answer
        assert answer["verifyCredential"]["verified"] is False
        assert answer["verifyCredential"]["proofsVerified"] is True


async def test_multi_bit_message_status_in_digital_bazaar_decoder(tmp_path: Path) -> None:
    """A 2-bit ``message`` entry set to each value in turn: Digital Bazaar's package verifies
    our signed list (proof, issuer, purpose) and its decoder reads the same value, at bits
    statusListIndex * 2 and + 1, as our checker, which also names the message."""
    messages = StatusMessages(
        2, ("pending_review", "accepted", "rejected", "undefined"), ("https://ex.org/dict",)
    )
    async with open_store(tmp_path / "store.sqlite3") as store:
        key = Ed25519Key.generate()
        issuer = Issuer(
            key=key,
            did=key.did,
            store=store,
            base_url=BASE,
            status_purposes=["message"],
            status_messages=messages,
        )
        cred = await issuer.issue(
            {
                "@context": [VC2],
                "type": ["VerifiableCredential"],
                "credentialSubject": {"id": "did:example:holder"},
            }
        )
        other = await issuer.issue(
            {
                "@context": [VC2],
                "type": ["VerifiableCredential"],
                "credentialSubject": {"id": "did:example:neighbour"},
            }
        )
        await issuer.set_status(other["id"], "message", 3, actor="t")  # a neighbour's bits
        snaps = []
        for value in (0, 1, 2, 3, 0):
            await issuer.set_status(cred["id"], "message", value, actor="t")
            snaps.append(await snapshot_any(issuer, f"value {value}", cred))
    answers = run_status_js([s.request() for s in snaps])
    for answer, snap, value in zip(answers, snaps, (0, 1, 2, 3, 0), strict=True):
        where = f"{snap.label}: {answer}"
        assert answer["checker"] == BSL_PKG, where
        assert answer["checkStatus"]["verified"] is True, where  # their list verification
        assert answer["checkStatus"]["error"] is None, where
        [read] = answer["multiBit"]
        assert read["value"] == value and read["statusSize"] == 2, where
        assert read["message"] == messages.messages[value], where
        assert read["listLength"] == 131_072 * 2, where
        assert snap.ours == [("message", value == 0, None if value == 0 else
                              "CREDENTIAL_STATUS_MESSAGE")], where  # fmt: skip


async def snapshot_any(issuer: Issuer, label: str, credential: dict[str, Any]) -> Snapshot:
    """Like ``snapshot``, for a credential whose single status entry is an object."""
    status = credential["credentialStatus"]
    lists = {}
    for entry in status if isinstance(status, list) else [status]:
        url = entry["statusListCredential"]
        lists[url] = await issuer.status_list_credential(url.rsplit("/", 1)[1])
    snap = Snapshot(label, copy.deepcopy(credential), copy.deepcopy(lists))
    snap.ours = await our_check(snap)
    return snap
