"""``vc-issuer bake`` / ``unbake``: files in, files out, documented exit codes and error codes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

import vc_issuer.cli.main  # noqa: F401  (first: vc_issuer.cli.main imports and registers cli_badges)
from vc_issuer.badges.baking import (
    MAX_IMAGE_BYTES,
    bake,
    default_badge_png,
    default_badge_svg,
    unbake,
)
from vc_issuer.cli.badges import register
from vc_issuer.core.keys import Ed25519Key
from vc_issuer.services.verifier import verify_credential

from ._helpers import signed_award

KEY = Ed25519Key.from_seed(bytes(range(32)))


@click.group()
def cli() -> None:
    """Stand-in for the main CLI group, so these tests do not depend on its registration list."""


register(cli)


def run(args: list[str], stdin: bytes | str | None = None) -> Result:
    return CliRunner().invoke(cli, args, input=stdin, catch_exceptions=False)


def signed_credential() -> dict[str, Any]:
    design = ("https://badges.example.edu/a/cli", "CLI", "Uses the command line.", "Run a command.")
    return signed_award(
        KEY, design, created=datetime(2024, 5, 1, tzinfo=UTC), recipient_did="did:example:learner"
    )


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "cred": tmp_path / "cred.json",
        "png": tmp_path / "badge.png",
        "svg": tmp_path / "badge.svg",
        "out": tmp_path / "out" / "baked",
    }
    paths["cred"].write_text(json.dumps(signed_credential()), "utf-8")
    paths["png"].write_bytes(default_badge_png())
    paths["svg"].write_bytes(default_badge_svg("CLI"))
    paths["out"].parent.mkdir()
    return paths


@pytest.mark.parametrize("kind", ["png", "svg"])
async def test_bake_then_unbake(files: dict[str, Path], kind: str) -> None:
    out = files["out"].with_suffix("." + kind)
    result = run(["bake", str(files["cred"]), "--image", str(files[kind]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"wrote {out} ({kind}," in result.stderr
    assert result.stdout == ""
    credential = json.loads(files["cred"].read_text("utf-8"))
    assert unbake(out.read_bytes()) == credential

    printed = run(["unbake", str(out)])
    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.stdout) == credential
    verdict = await verify_credential(
        json.loads(printed.stdout), now=lambda: datetime(2024, 6, 1, tzinfo=UTC)
    )
    assert verdict.verified


def test_rebake_in_place_replaces(files: dict[str, Path]) -> None:
    png = files["png"]
    for _ in range(2):
        result = run(["bake", str(files["cred"]), "--image", str(png), "--out", str(png)])
        assert result.exit_code == 0, result.output
    assert png.read_bytes().count(b"openbadgecredential") == 1
    assert not list(png.parent.glob(".badge.png.*"))  # no temporary files left


def test_stdin_and_stdout(files: dict[str, Path]) -> None:
    cred = files["cred"].read_text("utf-8")
    result = run(["bake", "-", "--image", str(files["png"]), "--out", "-"], stdin=cred)
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes.startswith(b"\x89PNG")
    assert unbake(result.stdout_bytes) == json.loads(cred)
    printed = run(["unbake", "-"], stdin=result.stdout_bytes)
    assert printed.exit_code == 0 and json.loads(printed.stdout) == json.loads(cred)


def test_unsigned_credential_is_baked_with_a_warning(files: dict[str, Path]) -> None:
    files["cred"].write_text('{"id": "urn:uuid:1"}', "utf-8")
    out = files["out"]
    result = run(["bake", str(files["cred"]), "--image", str(files["png"]), "--out", str(out)])
    assert result.exit_code == 0
    assert "warning: the credential has no proof" in result.stderr


def error_code(result: Result) -> str:
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("error: "), result.stderr
    return line.removeprefix("error: ").split(":", 1)[0]


def test_image_that_is_not_png_or_svg(files: dict[str, Path], tmp_path: Path) -> None:
    gif = tmp_path / "badge.gif"
    gif.write_bytes(b"GIF89a\x01\x00\x01\x00")
    out = files["out"]
    result = run(["bake", str(files["cred"]), "--image", str(gif), "--out", str(out)])
    assert result.exit_code == 2 and error_code(result) == "UNSUPPORTED_IMAGE"
    assert not out.exists()
    result = run(["unbake", str(gif)])
    assert result.exit_code == 2 and error_code(result) == "UNSUPPORTED_IMAGE"


def test_unbake_errors(files: dict[str, Path], tmp_path: Path) -> None:
    result = run(["unbake", str(files["png"])])
    assert result.exit_code == 2 and error_code(result) == "NO_BAKED_CREDENTIAL"
    assert result.stdout == ""

    baked = bake(files["png"].read_bytes(), {"a": 1})
    iend = baked.rindex(b"IEND") - 4
    twice = tmp_path / "twice.png"
    chunk = baked[baked.index(b"iTXt") - 4 : iend]
    twice.write_bytes(baked[:iend] + chunk + baked[iend:])
    result = run(["unbake", str(twice)])
    assert result.exit_code == 2 and error_code(result) == "DUPLICATE_BAKED_CREDENTIAL"

    broken = tmp_path / "broken.png"
    broken.write_bytes(baked[:-3])
    result = run(["unbake", str(broken)])
    assert result.exit_code == 2 and error_code(result) == "INVALID_IMAGE"


def test_oversized_image(files: dict[str, Path], tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * MAX_IMAGE_BYTES)
    result = run(["unbake", str(big)])
    assert result.exit_code == 2 and error_code(result) == "INPUT_TOO_LARGE"
    result = run(["bake", str(files["cred"]), "--image", str(big), "--out", str(files["out"])])
    assert result.exit_code == 2 and error_code(result) == "INPUT_TOO_LARGE"


def test_bad_credential_file(files: dict[str, Path]) -> None:
    files["cred"].write_text("not json", "utf-8")
    args = ["bake", str(files["cred"]), "--image", str(files["png"]), "--out", str(files["out"])]
    result = run(args)
    assert result.exit_code == 2 and error_code(result) == "PARSING_ERROR"
    files["cred"].write_text("[1, 2]", "utf-8")
    result = run(args)
    assert result.exit_code == 2 and error_code(result) == "MALFORMED_VALUE_ERROR"


def test_environment_errors_exit_3(files: dict[str, Path], tmp_path: Path) -> None:
    result = run(["unbake", str(tmp_path / "missing.png")])
    assert result.exit_code == 3 and error_code(result) == "FILE_NOT_FOUND"
    nowhere = tmp_path / "no-such-dir" / "out.png"
    result = run(["bake", str(files["cred"]), "--image", str(files["png"]), "--out", str(nowhere)])
    assert result.exit_code == 3


def test_usage_errors_exit_2(files: dict[str, Path]) -> None:
    result = run(["bake", str(files["cred"]), "--image", str(files["png"])])
    assert result.exit_code == 2 and "--out" in result.output
    result = run(["bake", "-", "--image", "-", "--out", str(files["out"])], stdin=b"")
    assert result.exit_code == 2 and "cannot both be stdin" in result.output
