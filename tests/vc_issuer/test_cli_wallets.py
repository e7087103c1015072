"""``vc-issuer exchanges create``: links on stdout, a QR code on stderr, the exchange stored."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from vc_issuer.services.issuer import Issuer
from vc_issuer.wallets.exchanges import qr_terminal

from ._helpers import in_home, run

BASE = "https://badges.example.edu"


def test_create_prints_links_and_a_terminal_qr(home: str, award_id: str) -> None:
    result = run("exchanges", "create", award_id, "--home", home)
    assert result.exit_code == 0, result.output
    lines = dict(line.split(":", 1) for line in result.stdout.splitlines())
    lines = {k.strip(): v.strip() for k, v in lines.items()}
    interaction = lines["interaction URL"]
    exchange_id = urlsplit(interaction).path.rsplit("/", 1)[1]
    assert interaction == f"{BASE}/interactions/{exchange_id}?iuv=1"
    assert lines["exchange URL"] == f"{BASE}/exchanges/{exchange_id}"
    assert lines["QR code (SVG)"] == f"{BASE}/exchanges/{exchange_id}/qr.svg"
    deep = urlsplit(lines["deep link"])
    assert f"{deep.scheme}://{deep.netloc}{deep.path}" == "https://lcw.app/request.html"
    params = parse_qs(deep.query)
    assert params["vc_request_url"] == [lines["exchange URL"]]
    assert params["auth_type"] == ["bearer"]
    # The QR code (stderr) encodes the interaction URL.
    assert qr_terminal(interaction) in result.stderr

    async def stored(issuer: Issuer) -> Any:
        return await issuer.store.get_exchange(exchange_id)

    record = in_home(home, stored)
    assert record is not None and record.state == "pending" and record.credential_id == award_id
    life = record.expires_at - record.created_at
    assert life.total_seconds() == 15 * 60
    assert params["challenge"] == [record.data["challenge"]]


def test_create_json_ttl_and_no_qr(home: str, award_id: str) -> None:
    result = run(
        "exchanges", "create", award_id, "--home", home, "--ttl", "2h", "--json", "--no-qr"
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["interactionUrl"].endswith("?iuv=1") and out["deepLink"].startswith("https://")
    assert result.stderr == ""

    async def stored(issuer: Issuer) -> Any:
        return await issuer.store.get_exchange(out["exchangeId"])

    record = in_home(home, stored)
    assert (record.expires_at - record.created_at).total_seconds() == 2 * 3600


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["urn:uuid:nowhere"], "NOT_FOUND"),
        (["{award}", "--ttl", "soon"], "INVALID_TTL"),
        (["{award}", "--ttl", "40d"], "INVALID_TTL"),
    ],
)
def test_create_errors(home: str, award_id: str, args: list[str], code: str) -> None:
    argv = [a.replace("{award}", award_id) for a in args]
    result = run("exchanges", "create", *argv, "--home", home)
    assert result.exit_code == 2, result.output
    assert code in result.stderr and result.stdout == ""
