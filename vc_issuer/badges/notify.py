"""``--notify`` / ``"notify": true``: a claim link and its email, stored with the award.

``ClaimNotice`` is what the awarder calls for each new credential before storing it: it makes
the learner's claim link and, when the recipient has an email address, the outbox row that
mails that link to that address (and to no other: the address is the one the badge is awarded
to, and the sender checks it against the badge's hashed identifier again before sending). The
store writes both in the credential's own transaction, and only if the credential is new.

Picklable (a frozen dataclass of plain values), so batch worker processes build the same rows.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from vc_issuer.badges.awards import Attachment, Recipient
from vc_issuer.services.tokens import hash_secret
from vc_issuer.store import Attached, ClaimRecord

QUEUED: Final = "queued"
NO_EMAIL: Final = "no-email"


@dataclass(frozen=True)
class ClaimNotice:
    """Claim links (and, with ``notify``, their emails) for newly awarded credentials."""

    base_url: str
    ttl_seconds: float
    notify: bool = True

    def __call__(
        self, credential_id: str, recipient: Recipient, achievement_key: str, now: datetime
    ) -> Attachment:
        from vc_issuer.badges.claims import CLAIM_PATH, new_claim_token
        from vc_issuer.email.outbox import claim_mail

        token = new_claim_token()
        expires = now + timedelta(seconds=self.ttl_seconds)
        url = f"{self.base_url.rstrip('/')}{CLAIM_PATH}{token}"
        claim = ClaimRecord(
            id=secrets.token_hex(8),
            token_hash=hash_secret(token),
            credential_id=credential_id,
            created_at=now,
            expires_at=expires,
        )
        if not self.notify or recipient.email is None:
            return Attachment(Attached(claims=(claim,)), url, NO_EMAIL if self.notify else "")
        mail = claim_mail(
            credential_id=credential_id,
            email=recipient.email,
            claim_link=url,
            claim_expires=expires,
            achievement_key=achievement_key,
            name=recipient.name,
            now=now,
        )
        return Attachment(Attached(claims=(claim,), mail=(mail,)), url, QUEUED)


__all__ = ["NO_EMAIL", "QUEUED", "ClaimNotice"]
