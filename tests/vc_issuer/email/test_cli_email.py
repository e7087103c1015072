"""`vc-issuer award --notify` and `vc-issuer email ...` end to end, against aiosmtpd."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from .._helpers import ok, run
from .conftest import SmtpServer, Start, free_port

BASE = "https://badges.example.edu"


def configure(home: str, port: int, **extra: str) -> None:
    lines = [
        "",
        "[email]",
        'host = "127.0.0.1"',
        f"port = {port}",
        'security = "none"',
        'sender = "Example U <badges@example.edu>"',
        'reply_to = "registrar@example.edu"',
        *(f'{k} = "{v}"' for k, v in extra.items()),
    ]
    cfg = Path(home) / "config.toml"
    cfg.write_text(cfg.read_text() + "\n".join(lines) + "\n")


@pytest.fixture
def badge(home: str) -> str:
    out: dict[str, Any] = ok(
        "achievements", "create", "--home", home, "--name", "Python 101",
        "--description", "Writes small programs.", "--criteria", "Pass.",
    )  # fmt: skip
    return str(out["key"])


@pytest.fixture
def server(smtp_server: Start) -> SmtpServer:
    return smtp_server()


def test_notify_needs_email_settings_and_an_address(home: str, badge: str) -> None:
    refused = run("award", "--home", home, badge, "--email", "ada@example.org", "--notify")
    assert refused.exit_code == 3 and "EMAIL_NOT_CONFIGURED" in refused.stderr
    configure(home, free_port())
    no_address = run("award", "--home", home, badge, "--recipient", "did:example:a", "--notify")
    assert no_address.exit_code == 2 and "NO_RECIPIENT_EMAIL" in no_address.stderr
    assert ok("credentials", "list", "--home", home)["total"] == 0


def test_batch_notify_csv_send_list_and_rerun(
    home: str, badge: str, server: SmtpServer, tmp_path: Path
) -> None:
    configure(home, server.port)
    src = tmp_path / "learners.csv"
    src.write_text(
        "email,name,did\nada@example.org,Ada,\nnobody@example.org,No One,\n,,did:example:bob\n"
    )
    out = tmp_path / "results.csv"
    args = ("award", "--home", home, badge, "--csv", str(src), "--out", str(out),
            "--notify", "--no-progress", "--workers", "1")  # fmt: skip
    assert ok(*args)["issued"] == 3
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["notified"] for r in rows] == ["queued", "queued", "no-email"]
    assert all(r["claim_link"].startswith(f"{BASE}/claim/") for r in rows)
    listed = ok("email", "list", "--home", home)
    assert sorted(m["to"] for m in listed) == ["ada@example.org", "nobody@example.org"]
    assert all("claim" not in json.dumps(m).lower() for m in listed)  # never the link
    sent = ok("email", "send", "--home", home)
    assert sent == {"sent": 1, "retrying": 0, "failed": 1, "cancelled": 0,
                    "interrupted": 0, "stillQueued": False}  # fmt: skip
    assert server.recorder.rcpts == ["ada@example.org"]
    body = server.recorder.messages[0].get_body(("plain",))
    assert body is not None and rows[0]["claim_link"] in body.get_content()
    (failed,) = ok("email", "list", "--home", home, "--failed")
    assert failed["to"] == "nobody@example.org" and failed["error"].startswith("550")
    # Re-running the batch awards and sends nothing new.
    assert ok(*args)["skipped"] == 3
    rerun = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["notified"] for r in rerun] == ["", "", ""]
    assert ok("email", "send", "--home", home)["sent"] == 0
    assert len(server.recorder.messages) == 1
    server.recorder.answers.pop("nobody")
    assert ok("email", "retry", "--home", home) == {"requeued": 1}
    assert ok("email", "send", "--home", home)["sent"] == 1
    assert server.recorder.rcpts == ["ada@example.org", "nobody@example.org"]


def test_single_award_notify(home: str, badge: str, server: SmtpServer) -> None:
    configure(home, server.port)
    result = run("award", "--home", home, badge, "--email", "ada@example.org", "--notify")
    assert result.exit_code == 0, result.output
    assert "claim email queued for ada@example.org" in result.stderr
    assert ok("email", "send", "--home", home)["sent"] == 1
    again = run("award", "--home", home, badge, "--email", "ada@example.org", "--notify")
    assert "no new claim email queued" in again.stderr
    assert ok("email", "send", "--home", home)["sent"] == 0


def test_email_test_and_preview(home: str, badge: str, server: SmtpServer) -> None:
    down = free_port()
    configure(home, down)
    failed = run("email", "test", "--home", home, "--to", "me@example.org")
    assert failed.exit_code == 3 and "SMTP_ERROR" in failed.stderr
    assert "connection refused" in failed.stderr
    cfg = Path(home) / "config.toml"
    cfg.write_text(cfg.read_text().replace(f"port = {down}", f"port = {server.port}"))
    assert ok("email", "test", "--home", home, "--to", "me@example.org")["sent"] is True
    assert server.recorder.messages[0]["Subject"] == "vc-issuer: test message"
    text = run("email", "preview", "--home", home, "--achievement", badge)
    assert text.exit_code == 0, text.output
    assert text.stdout.startswith('Subject: Example U awarded you "Python 101"')
    assert f"{BASE}/claim/EXAMPLE-TOKEN" in text.stdout and "registrar@example.edu" in text.stdout
    html = run("email", "preview", "--home", home, "--part", "html")
    assert "<a href=" in html.stdout and "Example Badge" in html.stdout
    eml = run("email", "preview", "--home", home, "--part", "eml")
    assert "Reply-To: registrar@example.edu" in eml.stdout


def test_bad_templates_and_settings_are_config_errors(home: str, badge: str) -> None:
    configure(home, 25)
    (Path(home) / "email-templates").mkdir()
    (Path(home) / "email-templates" / "claim.txt").write_text("{{ no_such_name }}\n")
    broken = run("email", "preview", "--home", home)
    assert broken.exit_code == 3 and "EMAIL_TEMPLATE_ERROR" in broken.stderr
    cfg = Path(home) / "config.toml"
    cfg.write_text(cfg.read_text() + 'password = "in-the-file"\n')
    refused = run("email", "test", "--home", home, "--to", "me@example.org")
    assert refused.exit_code == 3 and "EMAIL_CONFIG_ERROR" in refused.stderr
    assert "in-the-file" not in refused.stderr
