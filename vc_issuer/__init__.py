"""Decentralized verifiable-credentials issuer and verifier."""

__version__ = "0.1.0"
