"""The CLI as a newcomer meets it in the first hour: one's own badges verify, refusals say what
allows them, help reads as plain text, errors name the user's files, outputs are usable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import pytest

from vc_issuer.cli.main import main
from vc_issuer.cli.serve import follow_port
from vc_issuer.errors import all_error_classes, from_did_error

from ._helpers import ok, run
from .hostile._live_server import LiveServer, free_port

HOME_HELP = "Issuer home folder (default $VC_ISSUER_HOME or ./vc-issuer-data"


def _commands() -> Iterator[tuple[str, click.Command]]:
    def walk(cmd: click.Command, path: str) -> Iterator[tuple[str, click.Command]]:
        yield path, cmd
        if isinstance(cmd, click.Group):
            ctx = click.Context(cmd)
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                assert sub is not None
                yield from walk(sub, f"{path} {name}")

    return walk(main, "vc-issuer")


# --- help ----------------------------------------------------------------------------------------


def test_help_is_plain_text_and_every_option_says_what_it_does() -> None:
    rst, silent, homes = [], [], []
    for path, cmd in _commands():
        if "``" in (cmd.help or ""):
            rst.append(path)
        for param in cmd.params:
            if not isinstance(param, click.Option) or param.hidden:
                continue
            if not param.help:
                silent.append(f"{path} {param.opts[-1]}")
            elif "``" in param.help:
                rst.append(f"{path} {param.opts[-1]}")
            # keys generate's --home has no default: without it the key goes to --out or stdout
            defaulted = path != "vc-issuer keys generate"
            if "--home" in param.opts and defaulted and not param.help.startswith(HOME_HELP):
                homes.append(f"{path}: {param.help}")
    assert rst == [], "RST double backticks show literally in --help"
    assert silent == [], "options without help text"
    assert homes == [], "--home's default worded another way"


def test_help_of_award_reads_as_plain_text() -> None:
    out = run("award", "--help").stdout
    assert "/claim/..." in out and "``" not in out
    assert "page_url" in out  # the public page's column, named as in the results CSV


# --- errors --------------------------------------------------------------------------------------


def test_the_cli_writes_every_code_in_upper_snake() -> None:
    for cls in all_error_classes():
        assert cls.cli_code.isupper() and " " not in cls.cli_code, cls
    codes = [cls.cli_code for cls in all_error_classes()]
    assert len(codes) == len(set(codes))


@pytest.mark.parametrize(
    ("did", "line", "exit_code"),
    [
        ("did:foo:bar", "error: METHOD_NOT_SUPPORTED: DID method 'foo' is not supported", 2),
        ("did:key:zzz", "error: INVALID_DID: ", 2),
        ("did:web:127.0.0.1", "error: FORBIDDEN_ADDRESS: refusing to connect to loopback", 3),
    ],
)
def test_did_errors_on_the_cli_are_upper_snake(did: str, line: str, exit_code: int) -> None:
    result = run("did", "resolve", did)
    assert result.exit_code == exit_code and result.stderr.startswith(line), result.stderr
    if did.startswith("did:web"):  # and a refusal names the flag that allows it
        assert result.stderr.rstrip().endswith(
            "(vc-issuer did resolve --allow-private-hosts allows it)"
        )


def test_problem_details_keep_the_did_resolution_spec_codes() -> None:
    from did_methods.errors import InvalidDID, NotFound

    assert from_did_error(InvalidDID("x")).to_problem()["code"] == "invalidDid"
    assert from_did_error(NotFound("x")).to_problem()["code"] == "notFound"
    assert from_did_error(NotFound("x")).cli_code == "DID_NOT_FOUND"


def test_not_json_is_worded_one_way_and_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("nope")
    key = tmp_path / "key.json"
    ok("keys", "generate", "--out", str(key))
    expected = f"error: PARSING_ERROR: {bad} is not JSON: Expecting value (line 1, column 1)\n"
    for args in (
        ["verify", str(bad)],
        ["sign", "--key", str(key), str(bad)],
        ["bake", str(bad), "--out", str(tmp_path / "b.png")],
        ["issue", "--home", str(tmp_path / "nowhere"), str(bad)],
    ):
        result = run(*args)
        assert (result.exit_code, result.stderr) == (2, expected), args
    result = run("verify", "-", input="[1]")
    assert (
        result.stderr
        == "error: MALFORMED_VALUE_ERROR: stdin: expected a JSON object, got a JSON array\n"
    )


def test_required_achievement_fields_are_reported_at_once(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    ok("init", "--home", home)
    result = run("achievements", "create", "--home", home, "--tag", "x")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: MALFORMED_VALUE_ERROR: achievement.name, achievement.description,"
        " achievement.criteria: are required\n"
    )


def test_init_over_an_existing_home_says_how_to_make_another(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    ok("init", "--home", home)
    result = run("init", "--home", home, "--did-web", "badges.example.edu")
    assert result.exit_code == 3
    assert result.stderr.startswith("error: HOME_EXISTS: ")
    assert result.stderr.rstrip().endswith("name a new folder with --home DIR")


# --- sign, bake ----------------------------------------------------------------------------------

UNSIGNED = {  # names no issuer: signing fills it in
    "@context": ["https://www.w3.org/ns/credentials/v2"],
    "type": ["VerifiableCredential"],
    "credentialSubject": {"id": "did:example:learner", "name": "Ada"},
}


def test_sign_uses_the_key_as_issuer_when_the_credential_names_none(tmp_path: Path) -> None:
    key = tmp_path / "key.json"
    did = ok("keys", "generate", "--out", str(key))["did"]
    doc = dict(UNSIGNED)
    result = run("sign", "--key", str(key), "-", input=json.dumps(doc))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["issuer"] == did
    assert f"signing as issuer {did}" in result.stderr
    verified = run("verify", "-", input=result.stdout)
    assert verified.exit_code == 0 and json.loads(verified.stdout)["verified"] is True
    doc["issuer"] = "did:example:other"  # named: kept as it is (and verification will say so)
    result = run("sign", "--key", str(key), "-", input=json.dumps(doc))
    assert json.loads(result.stdout)["issuer"] == "did:example:other"


@pytest.fixture
def credential_file(tmp_path: Path) -> Path:
    key = tmp_path / "key.json"
    ok("keys", "generate", "--out", str(key))
    source = tmp_path / "unsigned.json"
    source.write_text(json.dumps(UNSIGNED))
    signed = tmp_path / "signed.json"
    signed.write_text(run("sign", "--key", str(key), str(source)).stdout)
    return signed


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_bake_writes_a_public_file_of_the_right_type(tmp_path: Path, credential_file: Path) -> None:
    out = tmp_path / "badge.png"
    result = run("bake", str(credential_file), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.stat().st_mode & 0o777 == 0o666 & ~_umask()  # 0644 under umask 022, not 0600
    assert out.read_bytes().startswith(b"\x89PNG")

    gif = tmp_path / "x.gif"
    result = run("bake", str(credential_file), "--out", str(gif))
    assert result.exit_code == 2 and not gif.exists()
    assert result.stderr.endswith(
        f"error: OUTPUT_TYPE_MISMATCH: {gif}: the baked image is PNG, not GIF; name it x.png\n"
    )
    svg = tmp_path / "x.svg"
    result = run("bake", str(credential_file), "--image", str(out), "--out", str(svg))
    assert result.exit_code == 2 and "OUTPUT_TYPE_MISMATCH" in result.stderr
    assert not svg.exists()
    upper = tmp_path / "X.SVG"  # the default image follows --out; case does not matter
    assert run("bake", str(credential_file), "--out", str(upper)).exit_code == 0
    assert b"<svg" in upper.read_bytes()[:200]


def test_bake_errors_name_the_output_never_a_temporary_file(
    tmp_path: Path, credential_file: Path
) -> None:
    nowhere = tmp_path / "no-such-dir" / "badge.png"
    result = run("bake", str(credential_file), "--out", str(nowhere))
    assert result.exit_code == 3
    assert result.stderr.endswith(f"error: {nowhere}: No such file or directory\n")
    assert list(tmp_path.glob("**/.badge.png.*")) == []


# --- verifying one's own badges ------------------------------------------------------------------


@contextmanager
def _serving(home: str, port: int) -> Iterator[list[str]]:
    """A real `vc-issuer serve --home HOME --port PORT`; what it printed up to "listening on"."""
    server = LiveServer(["--home", home, "--port", str(port)], Path(home).with_suffix(".log"))
    try:
        server.wait_ready()
        yield server.lines
    finally:
        server.stop()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """A home made by `init` for a local base URL, served by a real `vc-issuer serve`."""
    port = free_port()
    home = str(tmp_path / "home")
    ok("init", "--home", home, "--base-url", f"http://127.0.0.1:{port}")
    with _serving(home, port) as lines:
        yield home, lines


def test_serve_on_another_port_serves_the_local_base_url_on_that_port(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    ok("init", "--home", home)  # the default base URL, http://127.0.0.1:8080
    port = free_port()
    with _serving(home, port) as printed:
        base = f"http://127.0.0.1:{port}"
        assert f"base URL: {base}" in printed
        with urllib.request.urlopen(f"{base}/", timeout=10) as page:
            assert page.status == 200
            assert f"{base}/verify" in page.read().decode("utf-8")  # links use the new port


def test_only_a_local_base_url_follows_the_port() -> None:
    assert follow_port("http://127.0.0.1:8080", "http", 9000) == "http://127.0.0.1:9000"
    assert follow_port("http://localhost:8080", "https", 9000) == "https://localhost:9000"
    assert follow_port("http://[::1]:8080", "http", 9000) == "http://[::1]:9000"
    assert follow_port("http://127.0.0.1:8080", "http", 8080) is None  # nothing to change
    assert follow_port("http://127.0.0.1:8080", "http", 0) is None  # not known before binding
    assert follow_port("https://badges.example.org", "http", 9000) is None  # public: kept
    assert follow_port("http://127.0.0.1:8080/issuer", "http", 9000) is None  # a path: kept


def test_own_badges_verify_without_a_flag(
    own_server: tuple[str, list[str]], tmp_path: Path
) -> None:
    home, printed = own_server
    # serve over a home made by `init` prints no token, but says how to make one
    hint = f"admin token: none yet; create one with: vc-issuer tokens create --home {home}"
    assert f"{hint} --scope admin" in printed

    unsigned = tmp_path / "c.json"
    unsigned.write_text(json.dumps(UNSIGNED))
    badge = tmp_path / "badge.png"
    signed = tmp_path / "signed.json"
    signed.write_text(run("issue", "--home", home, str(unsigned)).stdout)
    assert run("bake", str(signed), "--home", home, "--out", str(badge)).exit_code == 0

    for args, env in [
        (["verify", "--home", home, str(badge)], {}),
        (["verify", str(badge)], {"VC_ISSUER_HOME": home}),  # the default home
    ]:
        result = run(*args, env=env)
        assert result.exit_code == 0, result.output
        checks = {c["name"]: c["passed"] for c in json.loads(result.stdout)["checks"]}
        assert checks["status:revocation"] and checks["status:suspension"]

    # Without the home, the same loopback address is refused, and the refusal names the flag.
    result = run("verify", str(badge), env={"VC_ISSUER_HOME": str(tmp_path / "no-home")})
    assert result.exit_code == 3  # only the environment failed: the status lists were refused
    report = json.loads(result.stdout)
    assert {e["code"] for e in report["errors"]} == {"STATUS_RETRIEVAL_ERROR"}
    assert all(
        e["detail"].endswith(
            "refusing to connect to loopback address 127.0.0.1"
            " (vc-issuer verify --allow-private-hosts allows it)"
        )
        for e in report["errors"]
    )
    flag = run(
        "verify", "--allow-private-hosts", str(badge), env={"VC_ISSUER_HOME": "/nonexistent"}
    )
    assert flag.exit_code == 0, flag.output

    missing = run("verify", "--home", str(tmp_path / "no-home"), str(badge))
    assert missing.exit_code == 3 and missing.stderr.startswith("error: HOME_NOT_FOUND: ")


def test_a_port_in_use_says_which_option_picks_another(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        home = str(tmp_path / "home")
        ok("init", "--home", home, "--base-url", f"http://127.0.0.1:{port}")
        exe = [sys.executable, "-c", "from vc_issuer.cli.main import run; run()"]
        result = subprocess.run(
            [*exe, "serve", "--home", home, "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 3, result.stderr
    assert result.stderr.endswith(
        f"error: BIND_ERROR: cannot bind 127.0.0.1:{port}: address already in use"
        " (another server on this port? choose another with --port)\n"
    ), result.stderr
