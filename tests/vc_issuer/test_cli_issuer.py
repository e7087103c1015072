"""The issuer-home CLI end to end through click's runner: output, files and exit codes."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from vc_issuer.core.keys import Ed25519Key
from vc_issuer.core.status import decode

from ._helpers import ok, run

VC2 = "https://www.w3.org/ns/credentials/v2"


@pytest.fixture
def home(tmp_path: Path) -> str:
    h = str(tmp_path / "home")
    out = ok("init", "--home", h, "--base-url", "https://issuer.example/", "--name", "Test U")
    assert out["did"].startswith("did:key:")
    assert out["home"] == str(Path(h).resolve())
    assert out["baseUrl"] == "https://issuer.example"
    return h


@pytest.fixture
def unsigned(tmp_path: Path) -> str:
    path = tmp_path / "unsigned.json"
    path.write_text(
        json.dumps(
            {
                "@context": [VC2],
                "type": ["VerifiableCredential"],
                "credentialSubject": {"id": "did:example:alice"},
            }
        )
    )
    return str(path)


def test_init_writes_key_0600_and_refuses_again(home: str) -> None:
    key = Path(home) / "issuer-key.json"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert (Path(home) / "config.toml").is_file()
    assert (Path(home) / "store.sqlite3").is_file()
    again = run("init", "--home", home)
    assert again.exit_code == 3
    assert "HOME_EXISTS" in again.stderr


def test_init_refuses_bad_input_before_writing_anything(tmp_path: Path) -> None:
    h = tmp_path / "h"
    bad_url = run("init", "--home", str(h), "--base-url", "ftp://issuer.example")
    assert bad_url.exit_code == 2 and "MALFORMED_VALUE_ERROR" in bad_url.stderr
    unset = run("init", "--home", str(h), "--passphrase-env", "VC_TEST_UNSET_PASSPHRASE")
    assert unset.exit_code == 2 and "VC_TEST_UNSET_PASSPHRASE is not set" in unset.stderr
    assert not h.exists()


def test_init_encrypted_key_needs_its_passphrase_to_issue(tmp_path: Path, unsigned: str) -> None:
    h = str(tmp_path / "enc")
    env = {"VC_TEST_PASSPHRASE": "correct horse"}
    init = run("init", "--home", h, "--passphrase-env", "VC_TEST_PASSPHRASE", env=env)
    assert init.exit_code == 0, init.output
    assert "correct horse" not in (Path(h) / "issuer-key.json").read_text()
    assert run("issue", "--home", h, unsigned, env={"VC_TEST_PASSPHRASE": ""}).exit_code != 0
    issued = run("issue", "--home", h, unsigned, env=env)
    assert issued.exit_code == 0, issued.output
    assert json.loads(issued.stdout)["proof"]["type"] == "DataIntegrityProof"


def test_init_did_web(tmp_path: Path) -> None:
    out = ok("init", "--home", str(tmp_path / "w"), "--did-web", "issuer.example%3A8443:u")
    assert out["did"] == "did:web:issuer.example%3A8443:u"
    assert out["baseUrl"] == "https://issuer.example:8443/u"
    assert json.loads(Path(out["didDocument"]).read_text())["id"] == out["did"]
    bad = run("init", "--home", str(tmp_path / "x"), "--did-web", "issuer.example:8443")
    assert bad.exit_code == 2
    assert "INVALID_DID_WEB" in bad.stderr and "%3A" in bad.stderr


def test_issue_revoke_suspend_reinstate_audit(home: str, unsigned: str) -> None:
    signed = ok("issue", "--home", home, unsigned)
    cid = signed["id"]
    assert signed["proof"]["cryptosuite"] == "eddsa-rdfc-2022"
    assert [e["statusPurpose"] for e in signed["credentialStatus"]] == ["revocation", "suspension"]
    rev_url = signed["credentialStatus"][0]["statusListCredential"]
    assert rev_url.startswith("https://issuer.example/status-lists/")
    list_id = rev_url.rsplit("/", 1)[1]
    index = int(signed["credentialStatus"][0]["statusListIndex"])

    change = ok("revoke", "--home", home, cid, "--reason", "fraud", "--actor", "registrar")
    assert change["changed"] is True and change["purpose"] == "revocation"
    again = run("revoke", "--home", home, cid)
    assert again.exit_code == 0 and json.loads(again.stdout)["changed"] is False
    assert "already revoked" in again.stderr

    refused = run("reinstate", "--home", home, cid)
    assert refused.exit_code == 2 and "CONFLICT" in refused.stderr

    audit = ok("audit", "--home", home, cid)
    assert [(a["actor"], a["reason"], a["old"], a["new"]) for a in audit] == [
        ("registrar", "fraud", False, True)
    ]

    list_vc = ok("status-list", "credential", "--home", home, list_id)
    assert list_vc["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert decode(list_vc["credentialSubject"]["encodedList"]).set_indices() == [index]

    info = ok("status-list", "show", "--home", home, list_id)
    assert (info["purpose"], info["size"], info["allocated"], info["set"]) == (
        "revocation",
        131_072,
        1,
        1,
    )
    assert len(ok("status-list", "list", "--home", home)) == 2

    other = ok("issue", "--home", home, unsigned)
    ok("suspend", "--home", home, other["id"])
    shown = ok("credentials", "show", "--home", home, other["id"])
    assert shown["status"] == {"revocation": False, "suspension": True}
    assert shown["credential"] == other
    ok("reinstate", "--home", home, other["id"], "--reason", "cleared")
    shown = ok("credentials", "show", "--home", home, other["id"])
    assert shown["status"] == {"revocation": False, "suspension": False}
    listed = ok("credentials", "list", "--home", home)
    assert listed["total"] == 2 and {c["id"] for c in listed["credentials"]} == {cid, other["id"]}
    assert len(ok("audit", "--home", home)) == 3


def test_issue_from_stdin_with_options(home: str, unsigned: str) -> None:
    text = Path(unsigned).read_text()
    first = ok(
        "issue", "--home", home, "--suite", "both", "--status-purpose", "revocation",
        "--idempotency-key", "k1", "-", input=text,
    )  # fmt: skip
    assert [p["type"] for p in first["proof"]] == ["DataIntegrityProof", "Ed25519Signature2020"]
    assert isinstance(first["credentialStatus"], dict)
    assert ok("issue", "--home", home, "--idempotency-key", "k1", unsigned) == first
    plain = ok("issue", "--home", home, "--no-status", "--suite", "Ed25519Signature2020", unsigned)
    assert "credentialStatus" not in plain
    assert plain["proof"]["type"] == "Ed25519Signature2020"


def test_home_from_environment(home: str, unsigned: str) -> None:
    result = run("issue", unsigned, env={"VC_ISSUER_HOME": home})
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("args", "code", "error"),
    [
        (["revoke", "urn:uuid:unknown"], 2, "NOT_FOUND"),
        (["suspend", "urn:uuid:unknown"], 2, "NOT_FOUND"),
        (["credentials", "show", "urn:uuid:unknown"], 2, "NOT_FOUND"),
        (["audit", "urn:uuid:unknown"], 2, "NOT_FOUND"),
        (["status-list", "show", "nope"], 2, "NOT_FOUND"),
        (["status-list", "credential", "nope"], 2, "NOT_FOUND"),
        (["issue", "/no/such/file.json"], 3, "FILE_NOT_FOUND"),
    ],
)
def test_errors_and_exit_codes(home: str, args: list[str], code: int, error: str) -> None:
    result = run(*args[:-1], "--home", home, args[-1])
    assert result.exit_code == code, result.output
    assert error in result.stderr


@pytest.mark.parametrize(
    ("doc", "error"),
    [
        ("not json", "PARSING_ERROR"),
        ("[1]", "MALFORMED_VALUE_ERROR"),
        (
            json.dumps({"@context": [VC2], "type": ["VerifiableCredential"]}),
            "MALFORMED_VALUE_ERROR",
        ),
        (
            json.dumps(
                {
                    "@context": [VC2],
                    "type": ["VerifiableCredential"],
                    "credentialSubject": {"id": "did:example:a"},
                    "credentialStatus": {"type": "BitstringStatusListEntry"},
                }
            ),
            "MALFORMED_VALUE_ERROR",
        ),
        (
            json.dumps(
                {
                    "@context": [VC2],
                    "type": ["VerifiableCredential"],
                    "issuer": Ed25519Key.generate().did,
                    "credentialSubject": {"id": "did:example:a"},
                }
            ),
            "FOREIGN_ISSUER",
        ),
    ],
)
def test_bad_credentials_exit_2(home: str, doc: str, error: str) -> None:
    result = run("issue", "--home", home, "-", input=doc)
    assert result.exit_code == 2, result.output
    assert error in result.stderr
    assert result.stdout == ""


def test_missing_home_is_an_environment_error(tmp_path: Path, unsigned: str) -> None:
    result = run("issue", "--home", str(tmp_path / "none"), unsigned)
    assert result.exit_code == 3
    assert "HOME_NOT_FOUND" in result.stderr
    assert "vc-issuer init" in result.stderr


def test_usage_errors_exit_2(home: str, unsigned: str) -> None:
    assert run("issue", "--home", home, "--suite", "rsa", unsigned).exit_code == 2
    both = run("issue", "--home", home, "--no-status", "--status-purpose", "revocation", unsigned)
    assert both.exit_code == 2
