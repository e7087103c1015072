"""Keys per type in an issuer home: ``keys generate --type --home``, ``keys list``,
``init --key-type``; the issuer picks the key per suite and JWT alg, and says which command adds
a missing one. Real homes, real keys, the real CLI (in-process)."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from vc_issuer.core import jose
from vc_issuer.services.issuer import Issuer

from ._helpers import V2, in_home, ok, run

CRED = {
    "@context": [V2],
    "type": ["VerifiableCredential"],
    "credentialSubject": {"id": "did:example:ada", "name": "Ada"},
}


def _error(result: Any, code: str, exit_code: int = 2) -> str:
    assert result.exit_code == exit_code, result.output
    assert f"error: {code}: " in result.stderr, result.stderr
    return str(result.stderr)


@pytest.fixture
def web_home(tmp_path: Path) -> str:
    home = str(tmp_path / "web")
    ok("init", "--home", home, "--did-web", "badges.example.edu")
    return home


def _issue(home: str, *args: str) -> Any:
    result = run("issue", "--home", home, "-", "--no-status", *args, input=json.dumps(CRED))
    return result


def test_generate_adds_p256_and_p384_keys_to_a_did_web_home(web_home: str) -> None:
    did = "did:web:badges.example.edu"
    p256 = ok("keys", "generate", "--type", "p256", "--home", web_home)
    assert p256 == {"did": did, "verificationMethod": f"{did}#key-2", "keyType": "P-256"}
    p384 = ok("keys", "generate", "--type", "p384", "--home", web_home)
    assert p384["verificationMethod"] == f"{did}#key-3"
    for name in ("issuer-key-2.json", "issuer-key-3.json"):
        assert stat.S_IMODE((Path(web_home) / name).stat().st_mode) == 0o600
    document = json.loads((Path(web_home) / "did.json").read_text())
    methods = {vm["id"]: vm for vm in document["verificationMethod"]}
    assert [vm["type"] for vm in methods.values()] == ["Multikey"] * 3
    assert methods[f"{did}#key-2"]["publicKeyMultibase"].startswith("zDn")
    assert methods[f"{did}#key-3"]["publicKeyMultibase"].startswith("z82")
    assert document["assertionMethod"] == [f"{did}#key-1", f"{did}#key-2", f"{did}#key-3"]
    assert document["authentication"] == [f"{did}#key-1"]  # unchanged
    listed = ok("keys", "list", "--home", web_home)["keys"]
    assert [(k["type"], k["verificationMethod"], k["primary"]) for k in listed] == [
        ("ed25519", f"{did}#key-1", True),
        ("p256", f"{did}#key-2", False),
        ("p384", f"{did}#key-3", False),
    ]
    assert [k["publicKeyMultibase"] for k in listed] == [
        vm["publicKeyMultibase"] for vm in document["verificationMethod"]
    ]


def test_each_suite_and_alg_signs_with_its_key(web_home: str) -> None:
    ok("keys", "generate", "--type", "p256", "--home", web_home)
    ok("keys", "generate", "--type", "p384", "--home", web_home)
    did = "did:web:badges.example.edu"
    expected = {
        "eddsa-rdfc-2022": "key-1",
        "eddsa-jcs-2022": "key-1",
        "Ed25519Signature2020": "key-1",
        "ecdsa-rdfc-2019": "key-2",
        "ecdsa-jcs-2019": "key-2",
        "ecdsa-sd-2023": "key-2",
    }
    for suite, fragment in expected.items():
        result = _issue(web_home, "--suite", suite)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["proof"]["verificationMethod"] == f"{did}#{fragment}"
    chosen = json.loads(_issue(web_home, "--suite", "ecdsa-rdfc-2019", "--key", "p384").stdout)
    assert chosen["proof"]["verificationMethod"] == f"{did}#key-3"
    by_id = json.loads(_issue(web_home, "--suite", "ecdsa-jcs-2019", "--key", "key-3").stdout)
    assert by_id["proof"]["verificationMethod"] == f"{did}#key-3"
    for alg, fragment in (("", "key-1"), ("EdDSA", "key-1"), ("ES256", "key-2"),
                          ("ES384", "key-3")):  # fmt: skip
        result = _issue(web_home, "--format", "jwt", *(["--alg", alg] if alg else []))
        assert result.exit_code == 0, result.output
        header = jose.parse_jws(result.stdout.strip()).header
        assert header["alg"] == (alg or "EdDSA")
        assert header["kid"] == f"{did}#{fragment}"
    mismatch = _issue(web_home, "--suite", "eddsa-rdfc-2022", "--key", "p256")
    _error(mismatch, "SUITE_KEY_MISMATCH")


def test_a_suite_without_a_key_names_the_command_that_adds_one(web_home: str) -> None:
    stderr = _error(_issue(web_home, "--suite", "ecdsa-rdfc-2019"), "NO_KEY_FOR_SUITE")
    assert "vc-issuer keys generate --type p256" in stderr
    stderr = _error(_issue(web_home, "--format", "jwt", "--alg", "ES384"), "NO_KEY_FOR_SUITE")
    assert "vc-issuer keys generate --type p384" in stderr


def test_a_did_key_home_has_one_key(tmp_path: Path) -> None:
    home = str(tmp_path / "k")
    did = ok("init", "--home", home)["did"]
    stderr = _error(run("keys", "generate", "--type", "p256", "--home", home),
                    "DID_KEY_SINGLE_KEY")  # fmt: skip
    assert did in stderr and "vc-issuer init --did-web HOST --key-type p256" in stderr
    assert sorted(p.name for p in Path(home).iterdir()) == [
        "config.toml", "issuer-key.json", "store.sqlite3"
    ]  # fmt: skip
    stderr = _error(_issue(home, "--suite", "ecdsa-rdfc-2019"), "NO_KEY_FOR_SUITE")
    assert "did:web" in stderr


def test_one_key_per_type_and_known_types_only(web_home: str) -> None:
    ok("keys", "generate", "--type", "p256", "--home", web_home)
    stderr = _error(run("keys", "generate", "--type", "p256", "--home", web_home),
                    "KEY_TYPE_EXISTS")  # fmt: skip
    assert "#key-2" in stderr
    for bad in ("rsa", "secp256k1", "P-521"):
        result = run("keys", "generate", "--type", bad, "--home", web_home)
        assert "ed25519, p256, p384" in _error(result, "UNSUPPORTED_KEY_TYPE")
    assert _error(run("init", "--home", web_home + "2", "--key-type", "rsa"),
                  "UNSUPPORTED_KEY_TYPE")  # fmt: skip
    assert not Path(web_home + "2").exists()
    assert len(ok("keys", "list", "--home", web_home)["keys"]) == 2


@pytest.mark.parametrize(("key_type", "prefix"), [("p256", "zDn"), ("p384", "z82")])
def test_init_key_type_makes_an_ecdsa_issuer(tmp_path: Path, key_type: str, prefix: str) -> None:
    home = str(tmp_path / key_type)
    did = ok("init", "--home", home, "--key-type", key_type)["did"]
    assert did.startswith("did:key:" + prefix)
    signed = json.loads(_issue(home).stdout)
    assert signed["proof"]["cryptosuite"] == "ecdsa-rdfc-2019"
    assert signed["proof"]["verificationMethod"] == f"{did}#{did.removeprefix('did:key:')}"
    verified = run("verify", "-", input=json.dumps(signed))
    assert json.loads(verified.stdout)["verified"] is True
    token = _issue(home, "--format", "jwt").stdout.strip()  # no Ed25519 key: the primary's alg
    assert jose.parse_jws(token).alg == ("ES256" if key_type == "p256" else "ES384")
    assert json.loads(run("verify", "-", input=token).stdout)["verified"] is True

    async def status_list_signed(issuer: Issuer) -> dict[str, Any]:
        await issuer.issue(dict(CRED))  # with status: a list is made
        record = (await issuer.store.list_status_lists())[0]
        return issuer.build_list_credential(record)

    lst = in_home(home, status_list_signed)  # no Ed25519 key: lists are signed ecdsa-rdfc-2019
    assert lst["proof"]["cryptosuite"] == "ecdsa-rdfc-2019"


def test_an_encrypted_home_encrypts_added_keys(tmp_path: Path, monkeypatch: Any) -> None:
    home = str(tmp_path / "enc")
    monkeypatch.setenv("ISSUER_PASS", "correct horse")
    ok("init", "--home", home, "--did-web", "enc.example", "--passphrase-env", "ISSUER_PASS")
    ok("keys", "generate", "--type", "p256", "--home", home)
    added = json.loads((Path(home) / "issuer-key-2.json").read_text())
    assert "encryptedSecretKey" in added and "secretKeyMultibase" not in added
    result = _issue(home, "--suite", "ecdsa-rdfc-2019")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["proof"]["verificationMethod"] == "did:web:enc.example#key-2"
    monkeypatch.setenv("ISSUER_PASS", "wrong")
    _error(_issue(home, "--suite", "ecdsa-rdfc-2019"), "KEY_DECRYPTION_FAILED")


def test_a_home_from_before_keys_keeps_working(tmp_path: Path) -> None:
    """A config.toml without extra_key_files (every home made before): one key, as before."""
    home = tmp_path / "old"
    ok("init", "--home", str(home), "--did-web", "old.example")
    config = (home / "config.toml").read_text()
    assert "extra_key_files" not in config
    signed = json.loads(_issue(str(home)).stdout)
    assert signed["proof"]["verificationMethod"] == "did:web:old.example#key-1"
    assert [k["type"] for k in ok("keys", "list", "--home", str(home))["keys"]] == ["ed25519"]


def test_sign_takes_p256_and_p384_key_files(tmp_path: Path) -> None:
    for key_type, alg in (("p256", "ES256"), ("p384", "ES384")):
        key = tmp_path / f"{key_type}.json"
        did = ok("keys", "generate", "--type", key_type, "--out", str(key))["did"]
        signed = ok("sign", "--key", str(key), "-", input=json.dumps(CRED))
        assert signed["issuer"] == did and signed["proof"]["cryptosuite"] == "ecdsa-rdfc-2019"
        jcs = ok("sign", "--key", str(key), "--suite", "ecdsa-jcs-2019", "-",
                 input=json.dumps(CRED))  # fmt: skip
        assert jcs["proof"]["cryptosuite"] == "ecdsa-jcs-2019"
        token = run("sign", "--key", str(key), "--format", "jwt", "-", input=json.dumps(CRED))
        assert jose.parse_jws(token.stdout.strip()).alg == alg
        for doc in (json.dumps(signed), json.dumps(jcs), token.stdout):
            assert json.loads(run("verify", "-", input=doc).stdout)["verified"] is True
        bad = run("sign", "--key", str(key), "--suite", "eddsa-rdfc-2022", "-",
                  input=json.dumps(CRED))  # fmt: skip
        _error(bad, "SUITE_KEY_MISMATCH")


def test_award_format_jwt_single_and_batch(web_home: str, tmp_path: Path) -> None:
    ok("keys", "generate", "--type", "p256", "--home", web_home)
    achievement = ok("achievements", "create", "--home", web_home, "--name", "Rust",
                     "--description", "D", "--criteria", "Ship a crate")["key"]  # fmt: skip
    one = run("award", "--home", web_home, achievement, "--email", "ada@example.com",
              "--format", "jwt", "--alg", "ES256")  # fmt: skip
    assert one.exit_code == 0, one.output
    token = one.stdout.strip()
    parsed = jose.parse_jws(token)
    assert parsed.header["alg"] == "ES256"
    assert parsed.header["kid"] == "did:web:badges.example.edu#key-2"
    assert "OpenBadgeCredential" in parsed.payload["type"]
    rows = tmp_path / "rows.csv"
    rows.write_text("email,name\nb@example.com,B\nc@example.com,C\nd@example.com,D\n")
    batch = run("award", "--home", web_home, achievement, "--csv", str(rows), "--format", "jwt",
                "--workers", "2", "--no-progress")  # fmt: skip
    assert batch.exit_code == 0, batch.output
    assert json.loads(batch.stdout)["issued"] == 3
    ids = [line.split(",")[3] for line in (tmp_path / "rows.results.csv").read_text().split()[1:]]
    ldp = json.loads(run("award", "--home", web_home, achievement, "--email", "e@example.com",
                         "--suite", "ecdsa-rdfc-2019").stdout)  # fmt: skip
    assert ldp["proof"][0]["verificationMethod"] == "did:web:badges.example.edu#key-2"

    async def stored(issuer: Issuer) -> list[dict[str, Any]]:
        return [(await issuer.get_record(i)).credential for i in ids]

    for credential in in_home(web_home, stored):  # EdDSA by default, kept as the envelope
        assert credential["type"] == "EnvelopedVerifiableCredential"
        header = jose.parse_jws(jose.enveloped_token(credential)).header
        assert header["kid"] == "did:web:badges.example.edu#key-1"
    again = run("award", "--home", web_home, achievement, "--email", "ada@example.com",
                "--format", "jwt")  # fmt: skip
    assert again.stdout.strip() == token and "already awarded" in again.stderr
