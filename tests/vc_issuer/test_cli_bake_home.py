"""``vc-issuer bake CREDENTIAL --out FILE`` without ``--image``: the achievement's image from the
issuer home's store (a real home, SQLite store, real signed award), else the default badge."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from vc_issuer.badges.achievements import AchievementService
from vc_issuer.badges.awards import Awarder, Recipient
from vc_issuer.badges.baking import bake_png, bake_svg, default_badge_png, default_badge_svg, unbake
from vc_issuer.cli.main import main
from vc_issuer.services.home import init_home, load_home, open_issuer

PNG = default_badge_png(color="#6a1b9a", size=48)
SVG = default_badge_svg("Design", color="#00695c")
BASE = "https://badges.example.edu"


def run(args: list[str]) -> Result:
    return CliRunner().invoke(main, args, catch_exceptions=False)


def awarded(home: Path, image: bytes | None) -> dict[str, Any]:
    """A real award of a design (with ``image`` stored, or none) from the home's issuer."""

    async def go() -> dict[str, Any]:
        issuer = await open_issuer(load_home(home))
        try:
            service = AchievementService(issuer.store, base_url=issuer.base_url)
            design: dict[str, Any] = {
                "name": "Design",
                "description": "Designs things.",
                "criteria": {"narrative": "Design a thing."},
            }
            if image is not None:
                design["image"] = {"id": await service.store_image(image), "type": "Image"}
            stored = await service.create(design)
            award = await Awarder(issuer, service).award(stored.key, Recipient(did="did:example:a"))
            return award.credential
        finally:
            await issuer.close()

    return asyncio.run(go())


def home_with_award(tmp_path: Path, image: bytes | None) -> tuple[Path, dict[str, Any]]:
    """A new home in tmp_path and its award (see ``awarded``), written to tmp_path/cred.json."""
    home = tmp_path / "home"
    init_home(home, base_url=BASE)
    cred = awarded(home, image)
    (tmp_path / "cred.json").write_text(json.dumps(cred), "utf-8")
    return home, cred


def bake(tmp_path: Path, out: Path, *options: str) -> Result:
    """``vc-issuer bake tmp_path/cred.json --out OUT *options``."""
    return run(["bake", str(tmp_path / "cred.json"), "--out", str(out), *options])


@pytest.mark.parametrize(
    ("image", "name", "baked"),
    [
        pytest.param(PNG, "out.png", bake_png, id="png"),
        pytest.param(SVG, "out.svg", bake_svg, id="svg"),
    ],
)
def test_bake_uses_the_stored_image(
    tmp_path: Path, image: bytes, name: str, baked: Callable[[bytes, dict[str, Any]], bytes]
) -> None:
    home, cred = home_with_award(tmp_path, image)
    out = tmp_path / name
    result = bake(tmp_path, out, "--home", str(home))
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == baked(image, cred)
    assert unbake(out.read_bytes()) == cred


def test_no_stored_image_falls_back_to_the_default_badge(tmp_path: Path) -> None:
    home, cred = home_with_award(tmp_path, None)
    for name, expected in (
        ("out.png", bake_png(default_badge_png(), cred)),
        ("out.svg", bake_svg(default_badge_svg("Design"), cred)),
    ):
        out = tmp_path / name
        result = bake(tmp_path, out, "--home", str(home))
        assert result.exit_code == 0, result.output
        assert "default badge image" in result.output
        assert out.read_bytes() == expected


def test_missing_home_given_explicitly_is_an_error(tmp_path: Path) -> None:
    home_with_award(tmp_path, PNG)
    result = bake(tmp_path, tmp_path / "o.png", "--home", str(tmp_path / "nowhere"))
    assert result.exit_code == 3 and "HOME_NOT_FOUND" in result.output
    assert not (tmp_path / "o.png").exists()
