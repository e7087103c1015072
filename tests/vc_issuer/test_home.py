"""The issuer home: what init writes, what load reads back, and what both refuse."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from vc_issuer.core.keys import load_key_file
from vc_issuer.errors import ConfigError, MalformedInputError, VCIssuerError
from vc_issuer.services.home import (
    ENV_DATABASE_URL,
    ENV_HOME,
    default_home,
    did_web_from_arg,
    init_home,
    load_home,
    open_issuer,
)


def test_init_did_key(tmp_path: Path) -> None:
    cfg = init_home(tmp_path / "h", base_url="https://issuer.example/", issuer_name="U")
    assert cfg.did.startswith("did:key:z6Mk")
    assert cfg.base_url == "https://issuer.example"
    assert cfg.issuer_name == "U"
    assert cfg.database_url == str(tmp_path / "h" / "store.sqlite3")
    assert stat.S_IMODE(cfg.key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "h").stat().st_mode) == 0o700
    assert load_key_file(cfg.key_file).did == cfg.did
    assert not cfg.did_document_file.exists()
    assert load_home(tmp_path / "h") == cfg


def test_init_did_web_writes_the_document_to_host(tmp_path: Path) -> None:
    cfg = init_home(tmp_path / "h", did_web="example.com%3A8443:issuers:u1")
    assert cfg.did == "did:web:example.com%3A8443:issuers:u1"
    assert cfg.base_url == "https://example.com:8443/issuers/u1"
    doc = json.loads(cfg.did_document_file.read_text())
    assert doc["id"] == cfg.did
    key = load_key_file(cfg.key_file)
    assert key.verification_method == cfg.did + "#key-1"
    assert doc["assertionMethod"] == [cfg.did + "#key-1"]
    assert doc["verificationMethod"][0]["publicKeyMultibase"] == key.public_key_multibase


async def test_issuer_from_home_did_web(tmp_path: Path) -> None:
    cfg = init_home(tmp_path / "h", did_web="issuer.example")
    issuer = await open_issuer(cfg)
    try:
        assert issuer.did == "did:web:issuer.example"
        document = issuer.did_document()
        assert document is not None and document["id"] == issuer.did
        signed = await issuer.issue(
            {
                "@context": ["https://www.w3.org/ns/credentials/v2"],
                "type": ["VerifiableCredential"],
                "credentialSubject": {"id": "did:example:a"},
            }
        )
        assert signed["proof"]["verificationMethod"] == "did:web:issuer.example#key-1"
        assert signed["credentialStatus"][0]["statusListCredential"].startswith(
            "https://issuer.example/status-lists/"
        )
    finally:
        await issuer.close()


async def test_encrypted_key_needs_its_passphrase(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = init_home(tmp_path / "h", passphrase=b"s3cret", passphrase_env="VCI_TEST_PASS")
    assert "secretKeyMultibase" not in json.loads(cfg.key_file.read_text())
    monkeypatch.delenv("VCI_TEST_PASS", raising=False)
    with pytest.raises(ConfigError):
        await open_issuer(cfg)
    monkeypatch.setenv("VCI_TEST_PASS", "wrong")
    with pytest.raises(VCIssuerError) as err:
        await open_issuer(cfg)
    assert err.value.code == "KEY_DECRYPTION_FAILED"
    monkeypatch.setenv("VCI_TEST_PASS", "s3cret")
    issuer = await open_issuer(load_home(cfg.home))
    assert issuer.did == cfg.did
    await issuer.close()


def test_init_refuses_an_existing_home(tmp_path: Path) -> None:
    init_home(tmp_path / "h")
    with pytest.raises(ConfigError) as err:
        init_home(tmp_path / "h")
    assert err.value.code == "HOME_EXISTS"


def test_load_missing_or_broken_home(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_home(tmp_path / "nothing")
    assert err.value.code == "HOME_NOT_FOUND"
    cfg = init_home(tmp_path / "h")
    config = cfg.home / "config.toml"
    text = config.read_text()
    config.write_text("[issuer\n")
    with pytest.raises(ConfigError):
        load_home(cfg.home)
    config.write_text(text.replace("list_size = 131072", "list_size = 1024"))
    with pytest.raises(ConfigError, match="131072"):
        load_home(cfg.home)
    config.write_text(text.replace('"suspension"', '"refresh"'))
    with pytest.raises(ConfigError, match="refresh"):
        load_home(cfg.home)
    config.write_text("[store]\n")
    with pytest.raises(ConfigError):
        load_home(cfg.home)


def test_environment_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_HOME, str(tmp_path / "envhome"))
    assert default_home() == tmp_path / "envhome"
    cfg = init_home()
    assert cfg.home == (tmp_path / "envhome").resolve()
    monkeypatch.setenv(ENV_DATABASE_URL, "postgresql://postgres@127.0.0.1:5432/test")
    assert load_home().database_url == "postgresql://postgres@127.0.0.1:5432/test"
    monkeypatch.delenv(ENV_HOME)
    assert default_home() == Path("vc-issuer-data")


@pytest.mark.parametrize(
    ("arg", "did"),
    [
        ("example.com", "did:web:example.com"),
        ("did:web:example.com", "did:web:example.com"),
        ("example.com%3A8443", "did:web:example.com%3A8443"),
        ("example.com:issuers:u1", "did:web:example.com:issuers:u1"),
        ("127.0.0.1%3A8080:x", "did:web:127.0.0.1%3A8080:x"),
    ],
)
def test_did_web_arg(arg: str, did: str) -> None:
    assert did_web_from_arg(arg) == did


@pytest.mark.parametrize(
    "arg",
    ["", "example.com:8443", "exa mple.com", "example.com/path", "example.com%3A99999", "-x.com"],
)
def test_did_web_arg_refused(arg: str) -> None:
    with pytest.raises(MalformedInputError) as err:
        did_web_from_arg(arg)
    assert err.value.code == "INVALID_DID_WEB"


def test_bad_base_url_refused(tmp_path: Path) -> None:
    with pytest.raises(MalformedInputError):
        init_home(tmp_path / "h", base_url="ftp://example.com")
    assert not (tmp_path / "h").exists()
