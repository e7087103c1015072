"""Records the store contract tests build: a pending exchange and a bare credential."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from vc_issuer.store import CredentialRecord, ExchangeRecord, new_exchange_id

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def exchange(**changes: object) -> ExchangeRecord:
    """A pending vcapi exchange for urn:uuid:award-1, created at T0, expiring 15 minutes later."""
    base = ExchangeRecord(
        id=new_exchange_id(),
        kind="vcapi",
        state="pending",
        created_at=T0,
        expires_at=T0 + timedelta(minutes=15),
        credential_id="urn:uuid:award-1",
        data={"challenge": "c-1", "attempts": 0, "nested": {"ü": [1, 2.5, None]}},
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def bare_credential(cred_id: str, **changes: object) -> CredentialRecord:
    """A credential record {"id": cred_id} issued at T0: no subject, status entries or validity."""
    base = CredentialRecord(
        id=cred_id,
        subject_id=None,
        types=["VerifiableCredential"],
        issued_at=T0,
        valid_from=None,
        valid_until=None,
        status_entries=[],
        credential={"id": cred_id},
        idempotency_key=None,
    )
    return replace(base, **changes)  # type: ignore[arg-type]
