"""Expected values the DID method tests share."""

from __future__ import annotations

from typing import Any


def one_multikey_document(did: str, multibase: str) -> dict[str, Any]:
    """The DID document of ``did`` with its one Multikey ``did#multibase`` in every relationship."""
    vm_id = f"{did}#{multibase}"
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": did,
        "verificationMethod": [
            {"id": vm_id, "type": "Multikey", "controller": did, "publicKeyMultibase": multibase}
        ],
        "authentication": [vm_id],
        "assertionMethod": [vm_id],
        "capabilityDelegation": [vm_id],
        "capabilityInvocation": [vm_id],
    }
