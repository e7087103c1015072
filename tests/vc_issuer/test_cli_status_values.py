"""Multi-bit status from the CLI: a home with ``[status.message]``, ``set-status``, and VC 1.1
status only when asked (``issue --status``), as the config file says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vc_issuer.core.status import decode
from vc_issuer.errors import ConfigError
from vc_issuer.services.home import init_home, load_home

from ._helpers import ok, run

VC2 = "https://www.w3.org/ns/credentials/v2"
VC1 = "https://www.w3.org/2018/credentials/v1"
MESSAGE = """
[status.message]
size = 2
messages = ["pending_review", "accepted", "rejected", "undefined"]
reference = ["https://example.org/status-dictionary/", "https://example.org/more/"]
"""


def configure(home: Path, *, purposes: str, extra: str) -> None:
    config = home / "config.toml"
    text = config.read_text("utf-8")
    start = text.index("purposes = [")
    end = text.index("]", start) + 1
    config.write_text(text[:start] + f"purposes = {purposes}" + text[end:] + extra, "utf-8")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    cfg = init_home(tmp_path / "home", base_url="https://issuer.example")
    configure(cfg.home, purposes='["revocation", "message"]', extra=MESSAGE)
    return cfg.home


def write(tmp_path: Path, doc: dict[str, object]) -> str:
    path = tmp_path / "unsigned.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_config_reads_status_messages_and_vc11(home: Path) -> None:
    cfg = load_home(home)
    assert cfg.status_purposes == ["revocation", "message"]
    assert cfg.status_messages is not None and cfg.status_messages.size == 2
    assert cfg.status_messages.reference == (
        "https://example.org/status-dictionary/",
        "https://example.org/more/",
    )
    assert cfg.vc11_status is False
    (home / "config.toml").write_text(
        (home / "config.toml").read_text().replace("[status]\n", "[status]\nvc11 = true\n")
    )
    assert load_home(home).vc11_status is True
    (home / "config.toml").write_text(
        (home / "config.toml").read_text().replace("vc11 = true", 'vc11 = "yes"')
    )
    with pytest.raises(ConfigError, match=r"status\.vc11 must be true or false"):
        load_home(home)


@pytest.mark.parametrize(
    ("purposes", "extra", "why"),
    [
        ('["message"]', "", "message needs a \\[status.message\\] table"),
        ('["message"]', "[status.message]\nsize = 2\nmessages = [\"a\", \"b\"]\n", "needs 4"),
        ('["message"]', "[status.message]\nsize = 9\nmessages = []\n", "from 1 to 8"),
        ('["message"]', "[status.message]\nmessages = [\"a\", \"b\"]\n", "needs size = N"),
        ('["message"]', '[status.message]\nsize = 1\nmessages = ["a", "b"]\nreference = 3\n',
         "reference must be"),
        ('["message"]', '[status.message]\nsize = 1\nmessages = ["a", "b"]\nreference = "x"\n',
         "statusReference must be an absolute http"),
        ('["revocation"]', "[status.message]\nsize = 1\n", "needs size = N"),
    ],
)  # fmt: skip
def test_bad_status_config_is_a_config_error(
    tmp_path: Path, purposes: str, extra: str, why: str
) -> None:
    cfg = init_home(tmp_path / "h", base_url="https://issuer.example")
    configure(cfg.home, purposes=purposes, extra=extra)
    with pytest.raises(ConfigError, match=why):
        load_home(cfg.home)


def test_set_status_from_the_cli(home: Path, tmp_path: Path) -> None:
    unsigned = write(
        tmp_path,
        {"@context": [VC2], "type": ["VerifiableCredential"],
         "credentialSubject": {"id": "did:example:alice"}},
    )  # fmt: skip
    signed = ok("issue", "--home", str(home), unsigned)
    entry = signed["credentialStatus"][1]
    assert (entry["statusPurpose"], entry["statusSize"]) == ("message", 2)
    assert entry["statusReference"] == [
        "https://example.org/status-dictionary/",
        "https://example.org/more/",
    ]
    cid = signed["id"]
    change = ok("set-status", "--home", str(home), cid, "0x3", "--reason", "checked")
    assert (change["old"], change["new"], change["message"]) == ("0x0", "0x3", "undefined")
    assert ok("set-status", "--home", str(home), cid, "1")["new"] == "0x1"
    again = run("set-status", "--home", str(home), cid, "0x1")
    assert again.exit_code == 0 and "already 0x1" in again.stderr
    shown = ok("credentials", "show", "--home", str(home), cid)
    assert shown["status"] == {"revocation": False, "message": "0x1"}

    list_id = entry["statusListCredential"].rsplit("/", 1)[1]
    list_vc = ok("status-list", "credential", "--home", str(home), list_id)
    bits = decode(list_vc["credentialSubject"]["encodedList"])
    assert bits.get_status(int(entry["statusListIndex"]), 2) == 1
    assert ok("status-list", "show", "--home", str(home), list_id)["size"] == 131_072 * 2

    revoked = ok("set-status", "--home", str(home), cid, "true", "--purpose", "revocation")
    assert revoked["new"] is True
    for value, code in (("0x4", "MALFORMED_VALUE_ERROR"), ("many", "MALFORMED_VALUE_ERROR")):
        bad = run("set-status", "--home", str(home), cid, value)
        assert bad.exit_code == 2 and code in bad.stderr
    unknown = run("set-status", "--home", str(home), "urn:uuid:nobody", "0x1")
    assert unknown.exit_code == 2 and "NOT_FOUND" in unknown.stderr


def test_vc11_status_only_when_asked(home: Path, tmp_path: Path) -> None:
    unsigned = write(
        tmp_path,
        {"@context": [VC1], "type": ["VerifiableCredential"],
         "issuanceDate": "2024-01-01T00:00:00Z", "credentialSubject": {"id": "did:example:a"}},
    )  # fmt: skip
    assert "credentialStatus" not in ok("issue", "--home", str(home), unsigned)
    asked = ok("issue", "--home", str(home), "--status", unsigned)
    # revocation only: StatusList2021 has no multi-bit entries
    assert asked["credentialStatus"]["type"] == "StatusList2021Entry"
    assert asked["credentialStatus"]["statusPurpose"] == "revocation"
