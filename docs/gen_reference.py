"""Regenerate docs/cli.md's command reference and docs/errors.md's table from the code.

Run: python docs/gen_reference.py   (tests/test_docs.py checks the output is current)
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import click

DOCS = Path(__file__).resolve().parent


def cli_reference() -> str:
    from vc_issuer.cli.main import main

    lines: list[str] = []

    def walk(cmd: click.Command, path: list[str]) -> None:
        ctx = click.Context(cmd, info_name=" ".join(path))
        if isinstance(cmd, click.Group):
            for name in sorted(cmd.list_commands(ctx)):
                sub = cmd.get_command(ctx, name)
                if sub is not None and not sub.hidden:
                    walk(sub, [*path, name])
            return
        lines.append(f"### `{' '.join(path)}`\n")
        lines.append("```text")
        lines.append(cmd.get_help(ctx).rstrip())
        lines.append("```\n")

    walk(main, ["vc-issuer"])
    return "\n".join(lines)


def error_table() -> str:
    from did_methods import errors as did_errors
    from vc_issuer.errors import all_error_classes

    rows = ["| code | error class | HTTP | exit | meaning |", "|---|---|---|---|---|"]
    seen: set[str] = set()
    for cls in all_error_classes():
        if cls.code in seen:
            continue
        seen.add(cls.code)
        doc = " ".join((inspect.getdoc(cls) or cls.title).split())
        if cls.__doc__ is None or cls.__doc__ == cls.__base__.__doc__:
            doc = cls.title
        rows.append(
            f"| `{cls.code}` | `{cls.__name__}` | {cls.http_status} | {cls.exit_code} | {doc} |"
        )
    rows.append("")
    rows.append(
        "More specific codes, raised through one of the classes above (same HTTP status and"
    )
    rows.append("exit code as that class):")
    rows.append("")
    rows.append("| code | raised as | where |")
    rows.append("|---|---|---|")
    for code, cls_name, where in specific_codes():
        if code not in seen:
            seen.add(code)
            rows.append(f"| `{code}` | `{cls_name}` | `{where}` |")
    rows.append("")
    rows.append(
        "DID resolution errors (`did_methods.errors`, DID Resolution spec names). The CLI and"
    )
    rows.append(
        "API report them through the `DIDResolutionError` family above, with `didError` set:"
    )
    rows.append("")
    rows.append("| didError | class | meaning |")
    rows.append("|---|---|---|")
    stack: list[type[did_errors.DIDError]] = [did_errors.DIDError]
    while stack:
        cls2 = stack.pop(0)
        stack.extend(cls2.__subclasses__())
        doc = " ".join((cls2.__doc__ or "").split()) or cls2.__name__
        rows.append(f"| `{cls2.code}` | `{cls2.__name__}` | {doc} |")
    return "\n".join(rows)


def specific_codes() -> list[tuple[str, str, str]]:
    """``SomeError(..., code="X")`` call sites in the package."""
    import re

    root = DOCS.parent / "vc_issuer"
    pattern = re.compile(r"(\w+Error)\((?:[^()]|\([^()]*\))*?code=\"([A-Za-z_]+)\"", re.S)
    found: dict[str, tuple[str, str, str]] = {}
    for path in sorted(root.rglob("*.py")):
        for match in pattern.finditer(path.read_text("utf-8")):
            rel = str(path.relative_to(DOCS.parent))
            found.setdefault(match.group(2), (match.group(2), match.group(1), rel))
    return sorted(found.values())


def render(template: Path, marker: str, body: str) -> str:
    text = template.read_text("utf-8")
    start, end = f"<!-- BEGIN {marker} -->", f"<!-- END {marker} -->"
    head, _, rest = text.partition(start)
    _, _, tail = rest.partition(end)
    return f"{head}{start}\n{body}\n{end}{tail}"


def main() -> int:
    check = "--check" in sys.argv
    stale = []
    for name, marker, body in (
        ("cli.md", "CLI REFERENCE", cli_reference()),
        ("errors.md", "ERROR TABLE", error_table()),
    ):
        path = DOCS / name
        new = render(path, marker, body)
        if new != path.read_text("utf-8"):
            stale.append(name)
            if not check:
                path.write_text(new, "utf-8")
    if check and stale:
        print("stale: " + ", ".join(stale) + " (run python docs/gen_reference.py)")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
