"""CLI commands for baked badges: ``vc-issuer bake`` and ``vc-issuer unbake``.

Thin: read files, call vc_issuer.badges.baking, write files. Without ``--image``, ``bake`` looks the
credential's achievement image up in the issuer home's store (only the store is opened, never
the key), else uses the default badge image.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click

from vc_issuer.badges.baking import (
    bake,
    default_badge_png,
    default_badge_svg,
    detect_image_type,
    unbake,
)
from vc_issuer.cli.main import _emit, handle_errors, home_option_with, read_input, read_json_object
from vc_issuer.errors import ConfigError, OutputTypeMismatchError, VCIssuerError
from vc_issuer.services.home import ENV_HOME, load_home

F = TypeVar("F", bound=Callable[..., Any])

_EXTENSIONS = {"png": (".png",), "svg": (".svg",)}


def check_out_extension(out: str, kind: str) -> None:
    """Refuse ``--out x.gif`` for a PNG: a file named for another type is opened by the wrong
    program (or none). A name without an extension, and stdout (``-``), are fine."""
    suffix = Path(out).suffix.lower()
    if out == "-" or not suffix or suffix in _EXTENSIONS[kind]:
        return
    raise OutputTypeMismatchError(
        f"{out}: the baked image is {kind.upper()}, not {suffix[1:].upper()};"
        f" name it {Path(out).with_suffix(_EXTENSIONS[kind][0]).name}",
        field="out",
    )


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_output(out: str, data: bytes) -> None:
    """``-`` is stdout; a file is replaced atomically, so a failed bake never leaves half a PNG.

    The file gets the mode any new file gets (0644 under the usual umask): a badge image is
    public, unlike the temporary file's 0600. Errors name ``out``, never the temporary file.
    """
    if out == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    target = Path(out)
    directory = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=directory)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, out) from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror, out) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def out_option(metavar: str, help: str) -> Callable[[F], F]:
    """``--out`` (required; ``-`` for stdout): where a command's file goes, written by
    :func:`_write_output` (bake, certificate)."""
    return click.option("--out", required=True, metavar=metavar, help=help)


def _embedded_achievement(credential: Mapping[str, Any]) -> Mapping[str, Any]:
    subject = credential.get("credentialSubject")
    first = subject[0] if isinstance(subject, list) and subject else subject
    achievement = first.get("achievement") if isinstance(first, Mapping) else None
    return achievement if isinstance(achievement, Mapping) else {}


async def _stored_image(home: Path | None, achievement: Mapping[str, Any]) -> bytes | None:
    """The achievement's image from the home's store: the version embedded in the badge (the
    one that was signed), else the design's current image; None if it has none stored."""
    from vc_issuer.badges.achievements import AchievementService
    from vc_issuer.badges.openbadges import Achievement
    from vc_issuer.store import open_store

    cfg = load_home(home)
    async with open_store(cfg.database_url) as store:
        service = AchievementService(store, base_url=cfg.base_url)
        try:
            data = await service.image_bytes_for(Achievement.from_json(dict(achievement)))
        except VCIssuerError:
            data = None
        ref = achievement.get("id")
        if data is None and isinstance(ref, str) and ref.startswith(service.achievement_url("")):
            try:
                data = await service.image_bytes_for((await service.get(ref)).achievement)
            except VCIssuerError:
                data = None
        return data


def default_image(credential: Mapping[str, Any], home: Path | None, out: str) -> bytes:
    """``--image`` when omitted: the achievement's stored image, else the default badge (SVG
    when ``--out`` ends in .svg, PNG otherwise)."""
    achievement = _embedded_achievement(credential)
    try:
        data = asyncio.run(_stored_image(home, achievement))
    except ConfigError as exc:
        if home is not None or exc.code != "HOME_NOT_FOUND":
            raise
        data = None  # no home given and none at the default place: nothing to look up
    if data is not None:
        return data
    click.echo("note: no stored achievement image; using the default badge image", err=True)
    name = achievement.get("name")
    if out.lower().endswith(".svg"):
        return default_badge_svg(name if isinstance(name, str) and name else "Badge")
    return default_badge_png()


@click.command("bake")
@click.argument("credential", metavar="CREDENTIAL")
@click.option(
    "--image",
    "image_file",
    default=None,
    metavar="FILE",
    help="PNG or SVG badge image to bake into (- for stdin); default: the achievement's"
    " stored image, else the default badge.",
)
@out_option("FILE", "Baked image to write (- for stdout).")
@home_option_with(
    f"Issuer home folder (default ${ENV_HOME} or ./vc-issuer-data): without --image,"
    " the achievement's image comes from its store."
)
@handle_errors
def bake_cmd(credential: str, image_file: str | None, out: str, home: Path | None) -> None:
    """Bake the signed CREDENTIAL (a JSON file, or - for stdin) into a badge image.

    A credential already baked in the image is replaced, never duplicated.
    """
    if credential == "-" and image_file == "-":
        raise click.UsageError("CREDENTIAL and --image cannot both be stdin")
    doc = read_json_object(credential)
    image = read_input(image_file) if image_file is not None else default_image(doc, home, out)
    kind = detect_image_type(image)
    check_out_extension(out, kind)
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
