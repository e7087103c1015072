"""CLI commands for baked badges: ``vc-issuer bake`` and ``vc-issuer unbake``.

Thin: read files, call vc_issuer.baking, write files. The achievement's own image as the default
``--image`` is wired by the issuer commands, which know the store.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import click

from vc_issuer.baking import bake, detect_image_type, unbake
from vc_issuer.cli import _emit, handle_errors, read_input, read_json_object


def _write_output(out: str, data: bytes) -> None:
    """``-`` is stdout; a file is replaced atomically, so a failed bake never leaves half a PNG."""
    if out == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    target = Path(out)
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@click.command("bake")
@click.argument("credential", metavar="CREDENTIAL")
@click.option(
    "--image",
    "image_file",
    required=True,
    metavar="FILE",
    help="PNG or SVG badge image to bake into (- for stdin).",
)
@click.option("--out", required=True, metavar="FILE", help="Baked image to write (- for stdout).")
@handle_errors
def bake_cmd(credential: str, image_file: str, out: str) -> None:
    """Bake the signed CREDENTIAL (a JSON file, or - for stdin) into a badge image.

    A credential already baked in the image is replaced, never duplicated.
    """
    if credential == "-" and image_file == "-":
        raise click.UsageError("CREDENTIAL and --image cannot both be stdin")
    doc = read_json_object(credential)
    image = read_input(image_file)
    kind = detect_image_type(image)
    if "proof" not in doc:
        click.echo("warning: the credential has no proof; verifiers will reject it", err=True)
    baked = bake(image, doc)
    _write_output(out, baked)
    if out != "-":
        click.echo(f"wrote {out} ({kind}, {len(baked)} bytes)", err=True)


@click.command("unbake")
@click.argument("file", metavar="FILE")
@handle_errors
def unbake_cmd(file: str) -> None:
    """Print the credential baked into the PNG or SVG in FILE (or - for stdin)."""
    _emit(unbake(read_input(file)))


def register(main: click.Group) -> None:
    """Add ``bake`` and ``unbake`` to the main CLI group."""
    main.add_command(bake_cmd)
    main.add_command(unbake_cmd)
