"""The ``ecdsa-jcs-2019`` cryptosuite, as in vc-di-ecdsa §3.3.

ecdsa-rdfc-2019 with RFC 8785 JCS as the transformation (§3.3.3). As in eddsa-jcs-2022, the
proof keeps a copy of the document's ``@context`` (§3.3.5), and verification requires the
document's ``@context`` to start with it.
"""

from __future__ import annotations

from vc_issuer.core.suites import ecdsa_rdfc_2019
from vc_issuer.core.suites.base import jcs_variant

CRYPTOSUITE = "ecdsa-jcs-2019"

SUITE = jcs_variant(ecdsa_rdfc_2019.SUITE, CRYPTOSUITE)
