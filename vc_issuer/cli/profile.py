"""``vc-issuer profile show|set``: the issuer as badges and pages name it.

The profile (name, web site, logo, contact email, description) is the OB 3.0 ``Profile`` every
badge embeds as its ``issuer`` and the public pages show (``/issuer``, ``/``). It is kept in the
store, so a running server (every worker, on SQLite or PostgreSQL) shows a change at once; the
name is also written to config.toml, which plain credentials and wallet displays read. ``init``
and ``serve`` take the same flags, so a new home starts with a name instead of its DID.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import click

from vc_issuer.badges.achievements import AchievementService, check_image_bytes
from vc_issuer.badges.openbadges import IssuerProfile
from vc_issuer.cli.main import _emit, handle_errors, home_option, read_input
from vc_issuer.errors import MalformedInputError
from vc_issuer.services.home import HomeConfig, load_home, set_issuer_name
from vc_issuer.store import Store, open_store

#: CLI flag -> OB Profile property.
FLAGS: Final = {
    "name": "name",
    "website": "url",
    "email": "email",
    "logo": "image",
    "description": "description",
}
UNNAMED_HINT: Final = (
    "the issuer has no name yet, so badges and pages show its DID;"
    " set one with `vc-issuer profile set --name NAME`"
)


@dataclass(frozen=True)
class ProfileFields:
    """Profile flags as given (None: not given); ``clear`` names fields to remove."""

    name: str | None = None
    website: str | None = None
    email: str | None = None
    logo: str | None = None
    description: str | None = None
    clear: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.clear) or any(getattr(self, flag) is not None for flag in FLAGS)

    def changes(self) -> dict[str, Any]:
        """OB property -> new value, or None to remove it."""
        out: dict[str, Any] = {FLAGS[flag]: None for flag in self.clear}
        for flag, prop in FLAGS.items():
            value = getattr(self, flag)
            if value is None:
                continue
            if flag in self.clear:
                raise MalformedInputError(f"--{flag} and --clear {flag} exclude each other")
            if flag == "website" and not value.startswith(("https://", "http://")):
                raise MalformedInputError(f"--website must be an http(s) URL, got {value!r}")
            out[prop] = {"id": value, "type": "Image"} if flag == "logo" else value
        return out

    def check(self) -> None:
        """Refuse bad values before anything is written (``init`` creates nothing then)."""
        changes = self.changes()
        image = changes.pop("image", None)
        trial = {k: v for k, v in changes.items() if v is not None}
        IssuerProfile.from_json({"id": "did:example:check", "name": "check", **trial})
        ref = image["id"] if image else None
        if ref and not ref.startswith(("https://", "http://", "data:")):
            check_image_bytes(read_input(ref))


def profile_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add the profile flags; the command gets them as one ``profile: ProfileFields``."""

    @functools.wraps(fn)
    def collect(*args: Any, **kwargs: Any) -> Any:
        fields = ProfileFields(**{flag: kwargs.pop(f"profile_{flag}") for flag in FLAGS})
        return fn(*args, profile=fields, **kwargs)

    for option in reversed(
        [
            click.option("--name", "profile_name", help="Issuer name shown in badges and pages."),
            click.option("--website", "profile_website", metavar="URL", help="Issuer web site."),
            click.option("--email", "profile_email", metavar="ADDRESS", help="Contact email."),
            click.option(
                "--logo",
                "profile_logo",
                metavar="FILE|URL",
                help="Logo: a PNG or SVG file (stored and served) or an http(s) URL.",
            ),
            click.option("--description", "profile_description", help="One or two sentences."),
        ]
    ):
        collect = option(collect)
    return collect


async def current_profile(store: Store, cfg: HomeConfig) -> IssuerProfile:
    """The stored profile, else one named by config.toml (or by the DID when unnamed)."""
    return await AchievementService(store, base_url=cfg.base_url).profile(cfg.did, cfg.issuer_name)


async def update_profile(store: Store, cfg: HomeConfig, fields: ProfileFields) -> IssuerProfile:
    """Merge ``fields`` into the current profile, check and store it; a logo file is stored
    as an image and named by its URL. The name goes to config.toml too."""
    service = AchievementService(store, base_url=cfg.base_url)
    doc = (await service.profile(cfg.did, cfg.issuer_name)).to_json()
    for prop, value in fields.changes().items():
        if value is None:
            doc.pop(prop, None)
        else:
            doc[prop] = value
    profile = await service.set_profile(cfg.did, doc, read_file=read_input)
    if fields.name is not None:
        set_issuer_name(cfg.home, profile.name)
    return profile


def apply_profile(cfg: HomeConfig, fields: ProfileFields) -> IssuerProfile:
    """``update_profile`` on the home's store (only the store is opened, never the key)."""

    async def go() -> IssuerProfile:
        async with open_store(cfg.database_url) as store:
            return await update_profile(store, cfg, fields)

    return asyncio.run(go())


def is_unnamed(profile: IssuerProfile) -> bool:
    return profile.name == profile.id


@click.group("profile")
def profile_group() -> None:
    """The issuer profile: name, web site, logo, email, description."""


@profile_group.command("show")
@home_option
@handle_errors
def show_cmd(home: Path | None) -> None:
    """Print the issuer profile (the OB 3.0 Profile badges embed as their issuer)."""
    cfg = load_home(home)

    async def go() -> IssuerProfile:
        async with open_store(cfg.database_url) as store:
            return await current_profile(store, cfg)

    profile = asyncio.run(go())
    if is_unnamed(profile):
        click.echo(f"note: {UNNAMED_HINT}", err=True)
    _emit(profile.to_json())


@profile_group.command("set")
@home_option
@profile_options
@click.option(
    "--clear",
    "clear",
    multiple=True,
    type=click.Choice(["website", "email", "logo", "description"]),
    help="Remove this field (repeatable).",
)
@handle_errors
def set_cmd(home: Path | None, profile: ProfileFields, clear: tuple[str, ...]) -> None:
    """Change some fields of the issuer profile and print it.

    Badges issued from now on embed the new profile; the public pages show it at once. Badges
    already issued keep the profile they were signed with.
    """
    fields = ProfileFields(**{flag: getattr(profile, flag) for flag in FLAGS}, clear=clear)
    if not fields:
        raise click.UsageError("nothing to change: give --name, --website, --email, --logo,"
                               " --description or --clear")  # fmt: skip
    _emit(apply_profile(load_home(home), fields).to_json())


def register(main: click.Group) -> None:
    """Add ``profile`` to the main CLI group."""
    main.add_command(profile_group)


__all__ = [
    "ProfileFields",
    "apply_profile",
    "current_profile",
    "profile_options",
    "register",
    "update_profile",
]
