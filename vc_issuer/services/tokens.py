"""Secrets handed out once (API tokens, claim links, OpenID4VCI codes): how the store keeps them
and how long they live.

The secrets are 256-bit random strings, so a plain SHA-256 (no salt, no slow hash) is enough: it
cannot be reversed, and a store leak gives no usable secret.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Final

_DURATION: Final = re.compile(r"([0-9]{1,6})([smhdw])")
_SECONDS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def hash_secret(secret: str) -> str:
    """What the store keeps of a secret: the hex SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def parse_duration(value: str) -> timedelta | None:
    """``90s``, ``15m``, ``12h``, ``30d``, ``2w`` (``0d`` is zero); None if not a duration.

    Callers raise their own error (they name their own option and bounds).
    """
    m = _DURATION.fullmatch(value.strip())
    if m is None:
        return None
    return timedelta(seconds=int(m.group(1)) * _SECONDS[m.group(2)])


__all__ = ["hash_secret", "parse_duration"]
