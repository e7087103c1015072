"""The ``eddsa-jcs-2022`` cryptosuite, as in vc-di-eddsa §3.3 (the JCS variant).

eddsa-rdfc-2022, but the transformation is RFC 8785 JCS of the JSON itself, so no JSON-LD
processing is needed. Create Proof copies the document's ``@context`` into the proof, and the
signed proof keeps it; Verify Proof requires the document's ``@context`` to start with the
proof's and canonicalizes under the proof's (the shared flow, ``proof_keeps_context``).
"""

from __future__ import annotations

from vc_issuer.core.suites import eddsa_rdfc_2022
from vc_issuer.core.suites.base import jcs_variant

CRYPTOSUITE = "eddsa-jcs-2022"

SUITE = jcs_variant(eddsa_rdfc_2022.SUITE, CRYPTOSUITE)
