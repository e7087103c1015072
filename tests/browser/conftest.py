"""A real issuer (SQLite home, Ed25519 key) behind a real aiohttp server on 127.0.0.1, run on
its own event loop in a background thread so a real browser can load its pages."""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web

from tests.vc_issuer.hostile._live_server import free_port
from vc_issuer.badges.achievements import AchievementService, StoredAchievement
from vc_issuer.badges.awards import Awarder, Recipient
from vc_issuer.badges.baking import default_badge_png
from vc_issuer.badges.openbadges import (
    Achievement,
    Alignment,
    Criteria,
    IssuerProfile,
    build_award,
)
from vc_issuer.http import build_services, create_app
from vc_issuer.services.home import init_home, open_issuer
from vc_issuer.services.issuer import Issuer

T = TypeVar("T")
BADGE_PNG = default_badge_png(color="#0b6e4f", size=192)


@dataclass
class LiveServer:
    base_url: str
    issuer: Issuer
    loop: asyncio.AbstractEventLoop

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def award(
        self,
        *,
        name: str = "Ada Lovelace",
        awarded: datetime | None = None,
        months: int | None = None,
    ) -> dict[str, Any]:
        """Issue a signed OpenBadgeCredential (with status) for the test achievement."""
        achievement = Achievement(
            id=f"{self.base_url}/achievements/python-basics",
            name="Python Basics",
            description="Writes, tests and debugs small Python programs.",
            criteria=Criteria(narrative="Passed the proctored Python Basics exam (70% or more)."),
            achievement_type="Certificate",
            tags=("python", "programming"),
            alignments=(
                Alignment(
                    target_name="Programming",
                    target_url="https://esco.ec.europa.eu/en/classification/skill?uri=x",
                    target_framework="ESCO",
                    target_code="S1.2.3",
                ),
            ),
            valid_for_months=months,
        )
        profile = IssuerProfile(id=self.issuer.did, name="Example University")
        unsigned = build_award(
            achievement,
            profile,
            awarded=awarded or datetime.now(UTC).replace(microsecond=0),
            recipient_did="did:example:ada",
            name=name,
        )
        return self.run(self.issuer.issue(unsigned))

    def design(self, name: str, **fields: Any) -> StoredAchievement:
        """A stored achievement (with a stored PNG image): its id resolves on this server."""
        doc = {
            "name": name,
            "description": fields.pop("description", f"Shows skill in {name}."),
            "criteria": {"narrative": "Complete the course project and pass the final exam."},
            "achievementType": "Course",
            "image": {"id": "data:image/png;base64," + base64.b64encode(BADGE_PNG).decode()},
            "alignment": [
                {
                    "targetName": "Programming",
                    "targetUrl": "https://esco.ec.europa.eu/en/classification/skill?uri=x",
                    "targetFramework": "ESCO",
                    "targetCode": "S1.2.3",
                }
            ],
            **fields,
        }
        return self.run(self.achievements.create(doc))

    def award_design(self, stored: StoredAchievement, name: str) -> dict[str, Any]:
        """Award a stored design as the award API does (the issuer's current profile)."""
        recipient = Recipient(did=f"did:example:{name.split()[0].lower()}", name=name)
        award = self.run(Awarder(self.issuer, self.achievements).award(stored.key, recipient))
        return award.credential

    @property
    def achievements(self) -> AchievementService:
        return AchievementService(self.issuer.store, base_url=self.base_url)

    def page_id(self, credential: dict[str, Any]) -> str:
        return self.run(self.issuer.get_record(credential["id"])).page_id

    def page_url(self, credential: dict[str, Any]) -> str:
        return f"{self.base_url}/c/{self.page_id(credential)}"


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    home = tmp_path_factory.mktemp("issuer") / "home"
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> tuple[Issuer, web.AppRunner]:
        cfg = init_home(home, base_url=base_url, issuer_name="Example University")
        issuer = await open_issuer(cfg)
        service = AchievementService(issuer.store, base_url=base_url)
        logo = await service.store_image(default_badge_png(color="#0a3d7a", size=128))
        await service.set_profile(
            issuer.did,
            {
                "name": "Example University",
                "url": "https://www.example.edu",
                "email": "badges@example.edu",
                "description": "Short courses and microcredentials in computing since 1998.",
                "image": {"id": logo, "type": "Image"},
            },
        )
        app = create_app(build_services(issuer, allow_private=True, close_issuer=True))
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        return issuer, runner

    issuer, runner = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=60)
    server = LiveServer(base_url, issuer, loop)
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def past(days: int) -> datetime:
    return (datetime.now(UTC) - timedelta(days=days)).replace(microsecond=0)


__all__ = ["LiveServer", "Path", "free_port", "past"]
