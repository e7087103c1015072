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
    """The class list of vc_issuer.errors, one row per class (code, HTTP, exit, type URL)."""
    from did_methods import errors as did_errors
    from vc_issuer.errors import VCIssuerError, all_error_classes, did_error_class

    rows = [
        "| code | error class | parent | HTTP | exit | problem `type` | meaning |",
        "|---|---|---|---|---|---|---|",
    ]
    for cls in all_error_classes():
        parent = cls.__base__.__name__ if cls is not VCIssuerError else ""
        own_doc = cls.__dict__.get("__doc__")
        meaning = " ".join(inspect.cleandoc(own_doc).split()) if own_doc else cls.title
        code = f"`{cls.code}`"
        if cls.cli_code != cls.code:
            code += f" (CLI `{cls.cli_code}`)"
        rows.append(
            f"| {code} | `{cls.__name__}` | {parent and f'`{parent}`'} | {cls.http_status}"
            f" | {cls.exit_code} | <{cls.type_url}> | {meaning} |"
        )
    rows.append("")
    rows.append(
        "DID resolution errors (`did_methods.errors`, DID Resolution spec names) and the one"
    )
    rows.append("class each becomes (`vc_issuer.errors.from_did_error`, kept as `didError`):")
    rows.append("")
    rows.append("| didError | did_methods class | reported as | meaning |")
    rows.append("|---|---|---|---|")
    stack: list[type[did_errors.DIDError]] = [did_errors.DIDError]
    while stack:
        did_cls = stack.pop(0)
        stack.extend(did_cls.__subclasses__())
        doc = " ".join((did_cls.__dict__.get("__doc__") or "").split()) or did_cls.__name__
        target = did_error_class(did_cls)
        rows.append(
            f"| `{did_cls.code}` | `{did_cls.__name__}` | `{target.code}` (`{target.__name__}`)"
            f" | {doc} |"
        )
    return "\n".join(rows)


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
