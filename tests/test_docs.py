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
    # a fresh image has empty package lists: install fails without an update first
    assert blocks[1].startswith("apt-get update -qq && apt-get install ")


def test_one_http_api_page() -> None:
    """docs/api.md and docs/http-api.md overlapped; http-api.md is the one page now."""
    assert not (ROOT / "docs" / "api.md").exists()
    for page in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        assert "](api.md)" not in page.read_text("utf-8"), page
        assert "](docs/api.md)" not in page.read_text("utf-8"), page


def test_files_the_docs_use_are_provided() -> None:
    """Every docs/examples/ file the docs name exists, and every example is used somewhere."""
    import re

    examples = ROOT / "docs" / "examples"
    named: set[str] = set()
    for page in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        named.update(re.findall(r"docs/examples/([\w.-]+)", page.read_text("utf-8")))
    assert named and all((examples / name).is_file() for name in named), named
    assert {p.name for p in examples.iterdir()} == named


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    assert "readme_test_command" in ci  # .ci/run extracts and runs the README's own line


def test_each_error_code_means_one_thing() -> None:
    """One class per code: the code names its class, HTTP status, exit code and type URL."""
    from vc_issuer.errors import all_error_classes

    codes = [c.code for c in all_error_classes()]
    assert len(codes) == len(set(codes)), sorted(c for c in codes if codes.count(c) > 1)


def _shell_blocks(text: str) -> list[str]:
    import re

    return re.findall(r"```(?:sh|bash|shell|console)\n(.*?)```", text, flags=re.S)


def test_every_file_a_docs_command_reads_exists() -> None:
    """A shell block may read a file (``@x.json``, ``$(cat x.json)``, ``--file x``) only when it
    is in docs/examples/ or an earlier command of the same page wrote it (``> x``, ``-o x``)."""
    import re

    reads = re.compile(r"(?:-d @|--data-binary @|\$\(cat |--file )([\w./-]+\.(?:json|jwt|csv))")
    writes = re.compile(r"(?:>|-o|--out)\s+([\w./-]+)")
    missing: list[str] = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        written: set[str] = set()
        for block in _shell_blocks(page.read_text("utf-8")):
            for line in block.splitlines():
                for name in reads.findall(line):
                    known = name in written or (ROOT / name).is_file()
                    if not known:
                        missing.append(f"{page.name}: {name}")
                written.update(writes.findall(line))
    assert not missing, missing
