"""``vc-issuer bake CREDENTIAL --out FILE`` without ``--image``: the achievement's image from the
issuer home's store (a real home, SQLite store, real signed award), else the default badge."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

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


def test_bake_uses_the_stored_png(tmp_path: Path) -> None:
    home = tmp_path / "home"
    init_home(home, base_url=BASE)
    cred = awarded(home, PNG)
    (tmp_path / "cred.json").write_text(json.dumps(cred), "utf-8")
    out = tmp_path / "out.png"
    result = run(["bake", str(tmp_path / "cred.json"), "--out", str(out), "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == bake_png(PNG, cred)
    assert unbake(out.read_bytes()) == cred


def test_bake_uses_the_stored_svg_even_for_a_png_name(tmp_path: Path) -> None:
    home = tmp_path / "home"
    init_home(home, base_url=BASE)
    cred = awarded(home, SVG)
    (tmp_path / "cred.json").write_text(json.dumps(cred), "utf-8")
    out = tmp_path / "out.svg"
    result = run(["bake", str(tmp_path / "cred.json"), "--out", str(out), "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == bake_svg(SVG, cred)


def test_no_stored_image_falls_back_to_the_default_badge(tmp_path: Path) -> None:
    home = tmp_path / "home"
    init_home(home, base_url=BASE)
    cred = awarded(home, None)
    (tmp_path / "cred.json").write_text(json.dumps(cred), "utf-8")
    for name, expected in (
        ("out.png", bake_png(default_badge_png(), cred)),
        ("out.svg", bake_svg(default_badge_svg("Design"), cred)),
    ):
        out = tmp_path / name
        args = ["bake", str(tmp_path / "cred.json"), "--out", str(out), "--home", str(home)]
        result = run(args)
        assert result.exit_code == 0, result.output
        assert "default badge image" in result.output
        assert out.read_bytes() == expected


def test_missing_home_given_explicitly_is_an_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    init_home(home, base_url=BASE)
    cred = awarded(home, PNG)
    (tmp_path / "cred.json").write_text(json.dumps(cred), "utf-8")
    args = ["bake", str(tmp_path / "cred.json"), "--out", str(tmp_path / "o.png")]
    result = run([*args, "--home", str(tmp_path / "nowhere")])
    assert result.exit_code == 3 and "HOME_NOT_FOUND" in result.output
    assert not (tmp_path / "o.png").exists()
