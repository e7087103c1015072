"""The reference docs are generated from the code; they must not drift from it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_cli_and_error_reference_are_current() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "gen_reference.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_error_code_is_documented() -> None:
    from vc_issuer.errors import all_error_classes

    text = (ROOT / "docs" / "errors.md").read_text("utf-8")
    missing = [c.code for c in all_error_classes() if f"`{c.code}`" not in text]
    assert not missing


def test_readme_opens_with_the_two_commands() -> None:
    lines = (ROOT / "README.md").read_text("utf-8").splitlines()
    blocks = [line for line in lines[:15] if "python3 -m venv" in line]
    assert len(blocks) == 2
    assert blocks[0].endswith("vc-issuer serve")
    assert blocks[1].endswith("python -m pytest")


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    assert "readme_test_command" in ci  # .ci/run extracts and runs the README's own line


def test_each_error_code_means_one_thing() -> None:
    """One class per code: the code names its class, HTTP status, exit code and type URL."""
    from vc_issuer.errors import all_error_classes

    codes = [c.code for c in all_error_classes()]
    assert len(codes) == len(set(codes)), sorted(c for c in codes if codes.count(c) > 1)
