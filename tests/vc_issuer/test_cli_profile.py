"""The issuer profile from the CLI (``init``, ``serve``, ``profile show|set``) and
``vc-issuer certificate``, end to end: output, the store, config.toml, badges, exit codes."""

from __future__ import annotations

import hashlib
import json
import tomllib
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from vc_issuer.badges.baking import default_badge_png, default_badge_svg

from ._helpers import in_home, ok, run
from ._pdf import pdf_info, pdf_qr_codes, pdf_text
from .hostile._live_server import LiveServer as Server
from .http.conftest import free_port

BASE = "https://badges.example.edu"
PNG = default_badge_png(color="#b3261e", size=64)


def config_name(home: str) -> Any:
    return tomllib.loads((Path(home) / "config.toml").read_text())["issuer"].get("name")


def test_init_takes_the_whole_profile(tmp_path: Path) -> None:
    logo = tmp_path / "logo.png"
    logo.write_bytes(PNG)
    home = str(tmp_path / "home")
    result = run(
        "init", "--home", home, "--base-url", BASE, "--name", "Example University",
        "--website", "https://example.edu", "--email", "badges@example.edu",
        "--logo", str(logo), "--description", "Teaching since 1850.",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "no name yet" not in result.stderr
    did = json.loads(result.stdout)["did"]
    digest = hashlib.sha256(PNG).hexdigest()
    assert ok("profile", "show", "--home", home) == {
        "id": did,
        "type": ["Profile"],
        "name": "Example University",
        "url": "https://example.edu",
        "email": "badges@example.edu",
        "image": {"id": f"{BASE}/images/{digest}.png", "type": "Image"},
        "description": "Teaching since 1850.",
    }
    assert config_name(home) == "Example University"


def test_init_without_a_name_says_how_to_set_one(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    result = run("init", "--home", home)
    assert result.exit_code == 0
    assert "vc-issuer profile set --name" in result.stderr
    shown = run("profile", "show", "--home", home)
    assert json.loads(shown.stdout)["name"] == json.loads(shown.stdout)["id"]
    assert "no name yet" in shown.stderr


@pytest.mark.parametrize(
    ("flags", "code", "message"),
    [
        (["--website", "example.edu"], "MALFORMED_VALUE_ERROR", "--website must be an http(s)"),
        (["--email", "nobody"], "MALFORMED_VALUE_ERROR", "issuer.email"),
        (["--logo", "missing.png"], "FILE_NOT_FOUND", "missing.png"),
        (["--name", " "], "MALFORMED_VALUE_ERROR", "issuer.name"),
    ],
)
def test_init_refuses_a_bad_profile_before_writing_anything(
    tmp_path: Path, flags: list[str], code: str, message: str
) -> None:
    home = tmp_path / "home"
    result = run("init", "--home", str(home), *flags)
    assert result.exit_code in (2, 3), result.output
    assert code in result.stderr and message in result.stderr
    assert not home.exists()


def test_init_refuses_a_logo_that_is_not_png_or_svg(tmp_path: Path) -> None:
    gif = tmp_path / "logo.gif"
    gif.write_bytes(b"GIF89a" + b"\0" * 20)
    result = run("init", "--home", str(tmp_path / "home"), "--logo", str(gif))
    assert result.exit_code == 2 and "UNSUPPORTED_IMAGE" in result.stderr
    assert not (tmp_path / "home").exists()


@pytest.fixture
def home(tmp_path: Path) -> str:
    h = str(tmp_path / "home")
    ok("init", "--home", h, "--base-url", BASE, "--name", "Old Name", "--email", "a@example.edu")
    return h


def test_profile_set_changes_some_fields_and_clears_others(home: str, tmp_path: Path) -> None:
    svg = tmp_path / "logo.svg"
    svg.write_bytes(default_badge_svg("Logo"))
    out = ok(
        "profile", "set", "--home", home, "--name", "New Name", "--logo", str(svg),
        "--clear", "email",
    )  # fmt: skip
    assert out["name"] == "New Name" and "email" not in out
    assert out["image"]["id"].endswith(".svg")
    assert ok("profile", "show", "--home", home) == out
    assert config_name(home) == "New Name"  # plain credentials and wallets use the same name
    ok("profile", "set", "--home", home, "--description", "D")
    assert config_name(home) == "New Name"


def test_profile_set_needs_something_to_change(home: str) -> None:
    result = run("profile", "set", "--home", home)
    assert result.exit_code == 2 and "nothing to change" in result.stderr
    both = run("profile", "set", "--home", home, "--email", "b@example.edu", "--clear", "email")
    assert both.exit_code == 2 and "exclude each other" in both.stderr


def test_badges_embed_the_profile_as_it_is_when_awarded(home: str) -> None:
    key = ok(
        "achievements", "create", "--home", home, "--name", "Rust", "--description", "D",
        "--criteria", "C",
    )["key"]  # fmt: skip
    first = ok("award", key, "--home", home, "--recipient", "did:example:a")
    ok("profile", "set", "--home", home, "--name", "New Name", "--website", "https://new.example")
    second = ok("award", key, "--home", home, "--recipient", "did:example:b")
    assert first["issuer"]["name"] == "Old Name"
    assert second["issuer"] == {
        "id": first["issuer"]["id"],
        "type": ["Profile"],
        "name": "New Name",
        "url": "https://new.example",
        "email": "a@example.edu",
    }


def test_serve_sets_the_profile_of_a_new_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    port = free_port()
    server = Server(
        ["--home", str(home), "--port", str(port), "--name", "Served University",
         "--website", "https://served.example"],
        tmp_path / "serve.log",
    )  # fmt: skip
    try:
        url = server.wait_ready()
        request = urllib.request.Request(url + "/issuer", headers={"Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as resp:
            profile = json.loads(resp.read())
        assert (profile["name"], profile["url"]) == ("Served University", "https://served.example")
        with urllib.request.urlopen(url + "/", timeout=30) as resp:
            assert json.loads(resp.read())["issuer"]["name"] == "Served University"
    finally:
        assert server.stop() == 0
    assert config_name(str(home)) == "Served University"


# --- certificate ----------------------------------------------------------------------------------


@pytest.fixture
def awarded(home: str, tmp_path: Path) -> dict[str, Any]:
    image = tmp_path / "badge.png"
    image.write_bytes(PNG)
    key = ok(
        "achievements", "create", "--home", home, "--name", "Python 101", "--description", "D",
        "--criteria", "C", "--image", str(image),
    )["key"]  # fmt: skip
    out: dict[str, Any] = ok("award", key, "--home", home, "--recipient", "did:example:ada",
                             "--name", "Ada Lovelace")  # fmt: skip
    return out


def test_certificate_command_writes_the_pdf(
    home: str, awarded: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "ada.pdf"
    summary = ok("certificate", awarded["id"], "--home", home, "--out", str(out))
    page_id = in_home(home, lambda issuer: issuer.get_record(awarded["id"])).page_id
    page_url = f"{BASE}/c/{page_id}"
    assert summary == {
        "credentialId": awarded["id"],
        "pageUrl": page_url,
        "standing": "Valid",
        "paper": "a4",
        "bytes": out.stat().st_size,
        "file": str(out),
    }
    pdf = out.read_bytes()
    text = pdf_text(pdf)
    for seen in ("Ada Lovelace", "Python 101", "Issued by Old Name", awarded["issuer"]["id"]):
        assert seen in text, seen
    assert pdf_qr_codes(pdf) == [page_url]
    assert b"/Subtype /Image" in pdf  # the stored badge image


def test_certificate_of_a_revoked_badge_on_letter(
    home: str, awarded: dict[str, Any], tmp_path: Path
) -> None:
    ok("revoke", awarded["id"], "--home", home)
    out = tmp_path / "r.pdf"
    summary = ok(
        "certificate", awarded["id"], "--home", home, "--out", str(out), "--paper", "letter"
    )
    assert summary["standing"] == "Revoked"
    pdf = out.read_bytes()
    assert "REVOKED: The issuer has revoked this credential." in pdf_text(pdf)
    assert pdf_info(pdf)["Page size"] == "792 x 612 pts (letter)"


def test_certificate_of_an_unknown_credential(home: str, tmp_path: Path) -> None:
    result = run("certificate", "urn:uuid:nope", "--home", home, "--out", str(tmp_path / "x.pdf"))
    assert result.exit_code == 2 and "NOT_FOUND" in result.stderr
    assert not (tmp_path / "x.pdf").exists()
