"""`vc-issuer achievements ...` and `vc-issuer award` end to end: output, files, exit codes."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from vc_issuer.badges.baking import default_badge_png, default_badge_svg
from vc_issuer.badges.openbadges import validate_ob_credential
from vc_issuer.services.verifier import verify_credential

from ._helpers import ok, run

BASE = "https://badges.example.edu"
PNG = default_badge_png()


def issued(home: str) -> int:
    return int(ok("credentials", "list", "--home", home)["total"])


@pytest.fixture
def design_file(tmp_path: Path) -> Path:
    (tmp_path / "art").mkdir()
    (tmp_path / "art" / "badge.png").write_bytes(PNG)
    path = tmp_path / "achievement.json"
    path.write_text(
        json.dumps(
            {
                "type": ["Achievement"],
                "name": "Python 101",
                "description": "Writes and tests small Python programs.",
                "criteria": {"narrative": "Pass the final project."},
                "image": {"id": "art/badge.png", "type": "Image"},
                "achievementType": "Course",
                "alignment": [{"targetName": "Programming", "targetUrl": "https://esco.example/p"}],
                "validForMonths": 24,
            }
        )
    )
    return path


@pytest.fixture
def badge(home: str, design_file: Path) -> dict[str, Any]:
    out: dict[str, Any] = ok("achievements", "create", "--home", home, "--file", str(design_file))
    return out


def test_create_stores_the_image_relative_to_the_file(badge: dict[str, Any]) -> None:
    digest = hashlib.sha256(PNG).hexdigest()
    assert badge["achievement"]["image"]["id"] == f"{BASE}/images/{digest}.png"
    assert badge["id"] == f"{BASE}/achievements/{badge['key']}"
    assert badge["version"] == 1 and badge["validForMonths"] == 24 and not badge["archived"]


def test_create_from_flags(home: str, tmp_path: Path) -> None:
    svg = tmp_path / "b.svg"
    svg.write_bytes(default_badge_svg("Flags"))
    out = ok(
        "achievements", "create", "--home", home, "--name", "Flags", "--description", "D",
        "--criteria", "Do it", "--criteria-url", "https://example.edu/c", "--image", str(svg),
        "--type", "Badge", "--tag", "a", "--tag", "b", "--valid-for-months", "6",
    )  # fmt: skip
    ach = out["achievement"]
    assert ach["criteria"] == {"id": "https://example.edu/c", "narrative": "Do it"}
    assert ach["tag"] == ["a", "b"] and ach["achievementType"] == "Badge"
    assert ach["image"]["id"].endswith(".svg") and out["validForMonths"] == 6


def test_list_show_update_archive(home: str, badge: dict[str, Any]) -> None:
    key = badge["key"]
    listed = ok("achievements", "list", "--home", home)
    assert listed == [
        {"id": badge["id"], "key": key, "name": "Python 101", "version": 1, "archived": False}
    ]
    updated = ok("achievements", "update", "--home", home, key, "--name", "Python 101 (2025)")
    assert updated["version"] == 2 and updated["achievement"]["name"] == "Python 101 (2025)"
    assert updated["achievement"]["image"] == badge["achievement"]["image"]
    old = ok("achievements", "show", "--home", home, badge["id"], "--version", "1")
    assert old["achievement"]["name"] == "Python 101"
    assert ok("achievements", "show", "--home", home, key)["version"] == 2
    stale = run("achievements", "update", "--home", home, key, "--name", "X",
                "--expected-version", "1")  # fmt: skip
    assert stale.exit_code == 2 and "VERSION_CONFLICT" in stale.stderr
    archived = ok("achievements", "archive", "--home", home, key)
    assert archived["archived"]
    assert ok("achievements", "list", "--home", home) == []
    assert len(ok("achievements", "list", "--home", home, "--all")) == 1
    refused = run("award", "--home", home, key, "--recipient", "did:example:ada")
    assert refused.exit_code == 2 and "ACHIEVEMENT_ARCHIVED" in refused.stderr
    assert issued(home) == 0
    assert not ok("achievements", "archive", "--home", home, key, "--undo")["archived"]


@pytest.mark.parametrize(
    ("content", "code"),
    [(b"GIF89a\x01\x00", "UNSUPPORTED_IMAGE"), (PNG + bytes(1024 * 1024), "INPUT_TOO_LARGE")],
)
def test_bad_images(home: str, tmp_path: Path, content: bytes, code: str) -> None:
    image = tmp_path / "img"
    image.write_bytes(content)
    result = run("achievements", "create", "--home", home, "--name", "N", "--description", "D",
                 "--criteria", "C", "--image", str(image))  # fmt: skip
    assert result.exit_code == 2 and f"error: {code}:" in result.stderr
    assert ok("achievements", "list", "--home", home, "--all") == []


def test_missing_image_file_is_an_environment_error(home: str) -> None:
    result = run("achievements", "create", "--home", home, "--name", "N", "--description", "D",
                 "--criteria", "C", "--image", "/nonexistent/badge.png")  # fmt: skip
    assert result.exit_code == 3 and "FILE_NOT_FOUND" in result.stderr


def test_award_one_prints_a_schema_valid_signed_badge(home: str, badge: dict[str, Any]) -> None:
    result = run("award", "--home", home, badge["key"], "--email", "ada@example.edu",
                 "--name", "Ada", "--evidence-url", "https://example.edu/work/1")  # fmt: skip
    assert result.exit_code == 0, result.output
    cred = json.loads(result.stdout)
    assert "public page: " + BASE + "/c/" in result.stderr
    assert "claim link: " + BASE + "/claim/" in result.stderr  # personal, not the public page
    assert validate_ob_credential(cred) == []
    assert cred["credentialSubject"]["name"] == "Ada"
    assert cred["evidence"][0]["id"] == "https://example.edu/work/1"
    verdict = asyncio.run(verify_credential(cred, now=lambda: datetime.now(UTC)))
    assert verdict.verified, verdict
    again = run("award", "--home", home, badge["key"], "--email", "ada@example.edu")
    assert again.exit_code == 0 and "already awarded" in again.stderr
    assert json.loads(again.stdout)["id"] == cred["id"]


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        ((), 2, "MISSING_RECIPIENT"),
        (("--recipient", "ada"), 2, "INVALID_RECIPIENT"),
        (("--email", "nope"), 2, "INVALID_RECIPIENT"),
    ],
)
def test_award_one_bad_recipient(
    home: str, badge: dict[str, Any], args: tuple[str, ...], code: int, text: str
) -> None:
    result = run("award", "--home", home, badge["key"], *args)
    assert result.exit_code == code and text in result.stderr
    assert result.stdout == ""


def test_award_unknown_achievement(home: str) -> None:
    result = run("award", "--home", home, "0b6c0d4e-8a8b-4a57-9a52-2b1d5f6b1c11",
                 "--recipient", "did:example:ada")  # fmt: skip
    assert result.exit_code == 2 and "ACHIEVEMENT_NOT_FOUND" in result.stderr


def test_batch_csv_twice_issues_nothing_the_second_time(
    home: str, badge: dict[str, Any], tmp_path: Path
) -> None:
    rows = ["did,email,name,evidence_url"]
    rows += [f"did:example:l{i},,L{i}," for i in range(100)]
    rows += [f",l{i}@example.edu,L{i},https://example.edu/w/{i}" for i in range(100)]
    rows += [",,No recipient,"]
    source = tmp_path / "recipients.csv"
    source.write_text("\n".join(rows) + "\n")
    out = tmp_path / "results.csv"
    first = run("award", "--home", home, badge["key"], "--csv", str(source), "--out", str(out))
    assert first.exit_code == 2  # one row failed; the others were awarded
    summary = json.loads(first.stdout)
    assert summary == {"total": 201, "issued": 200, "skipped": 0, "errors": 1, "results": str(out)}
    results = list(csv.DictReader(out.open()))
    assert len(results) == 201
    # one name each: page_url is the public page, claim_link the personal claim link; notified
    # says whether the claim email was queued (no --notify here: empty)
    header = "row,status,recipient,credential_id,page_url,claim_link,error_code,error,notified"
    assert out.read_text().splitlines()[0] == header
    assert results[-1]["status"] == "error" and results[-1]["error_code"] == "MISSING_RECIPIENT"
    assert all(r["page_url"].startswith(f"{BASE}/c/") for r in results[:-1])
    links = [r["claim_link"] for r in results[:-1]]
    assert all(u.startswith(f"{BASE}/claim/") for u in links) and len(set(links)) == 200
    assert results[-1]["claim_link"] == ""
    assert "200 issued" not in first.stderr  # the summary is JSON on stdout
    assert issued(home) == 200

    second = run("award", "--home", home, badge["key"], "--csv", str(source), "--out", str(out))
    assert json.loads(second.stdout)["issued"] == 0
    assert json.loads(second.stdout)["skipped"] == 200
    again = list(csv.DictReader(out.open()))
    assert [r["credential_id"] for r in again] == [r["credential_id"] for r in results]
    assert all(r["claim_link"] == "" for r in again)  # a rerun mails out no second link
    assert issued(home) == 200


def test_batch_jsonl_default_results_path(home: str, badge: dict[str, Any], tmp_path: Path) -> None:
    source = tmp_path / "people.jsonl"
    source.write_text(
        json.dumps({"did": "did:example:j"}) + "\n" + json.dumps({"email": "j@example.org"}) + "\n"
    )
    result = run("award", "--home", home, badge["key"], "--jsonl", str(source), "--no-progress")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["issued"] == 2
    assert (tmp_path / "people.results.csv").is_file()


def test_batch_usage_errors(home: str, badge: dict[str, Any], tmp_path: Path) -> None:
    source = tmp_path / "r.csv"
    source.write_text("name\nAda\n")
    bad_header = run("award", "--home", home, badge["key"], "--csv", str(source))
    assert bad_header.exit_code == 2 and "MISSING_RECIPIENT" in bad_header.stderr
    both = run("award", "--home", home, badge["key"], "--csv", str(source), "--jsonl", "x")
    assert both.exit_code == 2
    mixed = run("award", "--home", home, badge["key"], "--csv", str(source), "--email", "a@b.c")
    assert mixed.exit_code == 2
    missing = run("award", "--home", home, badge["key"], "--csv", str(tmp_path / "none.csv"))
    assert missing.exit_code == 3 and "FILE_NOT_FOUND" in missing.stderr
    assert issued(home) == 0
