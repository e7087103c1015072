from datetime import UTC, datetime, timedelta

import pytest

from vc_issuer.badges.claims import parse_claim_ttl
from vc_issuer.errors import MalformedInputError
from vc_issuer.http.auth import parse_expiry
from vc_issuer.services.tokens import parse_duration
from vc_issuer.wallets.exchanges import parse_ttl


def test_one_duration_grammar() -> None:
    assert parse_duration(" 90s ") == timedelta(seconds=90)
    assert parse_duration("2w") == timedelta(weeks=2)
    assert parse_duration("0d") == timedelta(0)
    for bad in ("", "d", "15", "1.5h", "-1d", "1y", "²m", "1234567d"):
        assert parse_duration(bad) is None, bad


@pytest.mark.parametrize("bad", ["²m", "٣d", "99999999999999w", "0m"])
def test_odd_digits_are_a_clear_error_everywhere(bad: str) -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    for parse in (parse_ttl, parse_claim_ttl, lambda v: parse_expiry(v, now)):
        with pytest.raises(MalformedInputError):
            parse(bad)
