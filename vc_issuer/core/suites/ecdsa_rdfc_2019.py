"""The ``ecdsa-rdfc-2019`` cryptosuite, as in vc-di-ecdsa §3.2.

The steps of eddsa-rdfc-2022 with ECDSA keys, and the curve choosing the hash: transformation
(§3.2.3: RDFC-1.0, whose internal hash is SHA-384 for P-384 keys) -> proof configuration
(§3.2.5) -> hashing (§3.2.4: SHA-256 for P-256, SHA-384 for P-384) -> serialization (§3.2.6:
ECDSA, deterministic per RFC 6979, IEEE P1363 ``r || s``: 64 or 96 bytes, base58btc).
"""

from __future__ import annotations

from dataclasses import replace

from vc_issuer.core.suites import eddsa_rdfc_2022
from vc_issuer.core.suites.base import decode_ecdsa_signature

CRYPTOSUITE = "ecdsa-rdfc-2019"

SUITE = replace(
    eddsa_rdfc_2022.SUITE,
    name=CRYPTOSUITE,
    cryptosuite=CRYPTOSUITE,
    key_types=("P-256", "P-384"),
    hash_name=None,  # hash_for(the key's curve)
    decode_proof_value=decode_ecdsa_signature,
)
