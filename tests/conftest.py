"""Loaded before every other conftest: the shared helper modules that assert get pytest's full
assertion messages, as the test modules themselves do (registered before anything imports them)."""

import pytest

pytest.register_assert_rewrite(
    "tests.vc_issuer._helpers",
    "tests.vc_issuer._pdf",
    "tests.vc_issuer._web",
    "tests.vc_issuer.hostile._live_server",
    "tests.interop._node",
)
