"""Multi-bit status (Bitstring Status List ``statusPurpose: message``) end to end: issuing with
``statusSize``/``statusMessage``/``statusReference``, setting a value, the published list, and
the verifier's report, on both store backends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from vc_issuer.core.keys import Ed25519Key
from vc_issuer.core.status import BSL_MIN_BITS, StatusMessages, decode, parse_status_entry
from vc_issuer.errors import ConflictError, MalformedInputError
from vc_issuer.services.issuer import Issuer
from vc_issuer.store import Store, open_store

from .test_issuer import Env, _env, vc1, vc2

MESSAGES = StatusMessages(
    2,
    ("pending_review", "accepted", "rejected", "undefined"),
    ("https://example.org/status-dictionary/",),
)
PURPOSES = ("revocation", "suspension", "message")


@pytest.fixture
async def env(any_store: Store) -> AsyncIterator[Env]:
    async for e in _env(any_store, status_purposes=PURPOSES, status_messages=MESSAGES):
        yield e


def message_entry(credential: dict[str, Any]) -> dict[str, Any]:
    [entry] = [e for e in credential["credentialStatus"] if e["statusPurpose"] == "message"]
    return entry


async def test_issue_set_publish_verify(env: Env) -> None:
    issuer = env.issuer
    signed = await issuer.issue(vc2())
    assert [e["statusPurpose"] for e in signed["credentialStatus"]] == list(PURPOSES)
    entry = message_entry(signed)
    assert entry["statusSize"] == 2
    assert entry["statusMessage"] == [
        {"status": "0x0", "message": "pending_review"},
        {"status": "0x1", "message": "accepted"},
        {"status": "0x2", "message": "rejected"},
        {"status": "0x3", "message": "undefined"},
    ]
    assert entry["statusReference"] == "https://example.org/status-dictionary/"
    parsed = parse_status_entry(entry)
    list_id = entry["statusListCredential"].rsplit("/", 1)[1]

    # the list holds 131072 entries of 2 bits; the entry's two bits are allocated together
    info = await issuer.status_list_info(list_id)
    assert (info["purpose"], info["size"]) == ("message", BSL_MIN_BITS * 2)
    allocated = set(await issuer.store.allocated_indices(list_id))
    assert {parsed.bit_position, parsed.bit_position + 1} <= allocated
    assert all(i % 2 == 0 and i + 1 in allocated for i in allocated if i % 2 == 0)

    fresh = await env.verify(signed)
    assert fresh.verified, fresh.to_dict()
    check = next(c for c in fresh.checks if c.name == "status:message")
    assert check.data == {"status": {"value": "0x0", "size": 2, "message": "pending_review"}}
    assert await issuer.status_values(signed["id"]) == {
        "revocation": False,
        "suspension": False,
        "message": "0x0",
    }

    change = await issuer.set_status(signed["id"], "message", 2, actor="registrar", reason="r")
    assert change == {
        "credentialId": signed["id"],
        "purpose": "message",
        "old": "0x0",
        "new": "0x2",
        "changed": True,
        "statusListId": list_id,
        "statusListIndex": entry["statusListIndex"],
        "statusSize": 2,
        "message": "rejected",
    }
    published = await issuer.status_list_credential(list_id)
    assert published["credentialSubject"]["statusPurpose"] == "message"
    bits = decode(published["credentialSubject"]["encodedList"])
    assert len(bits) == BSL_MIN_BITS * 2
    assert (bits.get(parsed.bit_position), bits.get(parsed.bit_position + 1)) == (True, False)
    assert bits.get_status(parsed.index, 2) == 2 and bits.count() == 1

    result = await env.verify(signed)
    assert result.codes() == ["CREDENTIAL_STATUS_MESSAGE"]
    failed = next(c for c in result.checks if c.name == "status:message")
    assert failed.detail == "message status 0x2 (rejected)"
    assert failed.to_dict()["status"] == {"value": "0x2", "size": 2, "message": "rejected"}
    assert result.errors[0]["title"] == "Credential has a status message"

    # each bit is audited; a repeat changes nothing
    audit = [a for a in await issuer.store.audit_log(signed["id"]) if a.purpose == "message"]
    assert [(a.index - parsed.bit_position, a.old, a.new) for a in audit] == [(0, False, True)]
    again = await issuer.set_status(signed["id"], "message", 2, actor="registrar")
    assert again["changed"] is False
    back = await issuer.set_status(signed["id"], "message", 1, actor="registrar")
    assert (back["old"], back["new"], back["message"]) == ("0x2", "0x1", "accepted")
    await issuer.set_status(signed["id"], "message", 0, actor="registrar")
    assert (await env.verify(signed)).verified
    # the one-bit purposes are untouched and still work next to it
    await issuer.revoke(signed["id"], actor="t")
    assert (await env.verify(signed)).codes() == ["CREDENTIAL_REVOKED"]
    assert await issuer.credential_status(signed["id"]) == {
        "revocation": True,
        "suspension": False,
    }


async def test_status_values_are_checked(env: Env) -> None:
    signed = await env.issuer.issue(vc2())
    for purpose, value in (("message", 4), ("message", -1), ("message", True), ("revocation", 2)):
        with pytest.raises(MalformedInputError, match="this status value must be"):
            await env.issuer.set_status(signed["id"], purpose, value, actor="t")
    with pytest.raises(ConflictError) as err:
        await env.issuer.set_status((await env.issuer.issue(vc2(), status=False))["id"],
                                    "message", 1, actor="t")  # fmt: skip
    assert err.value.code == "NO_STATUS_ENTRY"


async def test_many_entries_never_share_a_bit(any_store: Store) -> None:
    key = Ed25519Key.generate()
    issuer = Issuer(
        key=key,
        did=key.did,
        store=any_store,
        base_url="https://i.example",
        status_purposes=["message"],
        status_messages=StatusMessages(3, tuple(f"m{i}" for i in range(8))),
        index_reserve=5,
    )
    out = await issuer.issue_many([vc2(f"did:example:{i}") for i in range(40)])
    entries = [parse_status_entry(c["credentialStatus"]) for c in out if isinstance(c, dict)]
    assert len(entries) == 40 and {e.status_size for e in entries} == {3}
    assert len({e.index for e in entries}) == 40
    list_id = entries[0].list_url.rsplit("/", 1)[1]
    allocated = await any_store.allocated_indices(list_id)
    assert len(allocated) == 3 * (40 + 5)  # the pool's reserve is whole blocks too
    assert all({3 * e.index, 3 * e.index + 1, 3 * e.index + 2} <= set(allocated) for e in entries)


async def test_vc11_has_no_message_status(env: Env) -> None:
    """StatusList2021 is one bit: VC 1.1 gets revocation and suspension only."""
    signed = await env.issuer.issue(vc1(), status=True)
    assert [e["statusPurpose"] for e in signed["credentialStatus"]] == list(PURPOSES[:2])
    with pytest.raises(MalformedInputError, match=r"issue as VC 2\.0"):
        await env.issuer.issue(vc1(), status_purposes=["message"])


async def test_message_purpose_needs_status_messages(tmp_path: Path) -> None:
    key = Ed25519Key.generate()
    async with open_store(tmp_path / "s.sqlite3") as store:
        with pytest.raises(MalformedInputError, match="message needs status_messages"):
            Issuer(key=key, did=key.did, store=store, base_url="https://i.example",
                   status_purposes=PURPOSES)  # fmt: skip
        plain = Issuer(key=key, did=key.did, store=store, base_url="https://i.example")
        with pytest.raises(MalformedInputError, match="unknown status purpose"):
            await plain.issue(vc2(), status_purposes=["message"])
