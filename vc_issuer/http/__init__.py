"""The HTTP service: W3C VC API, status-list and did:web hosting, auth, limits (aiohttp)."""

from vc_issuer.http.app import create_app
from vc_issuer.http.auth import SCOPES, create_token, hash_token
from vc_issuer.http.services import build_services

__all__ = ["SCOPES", "build_services", "create_app", "create_token", "hash_token"]
