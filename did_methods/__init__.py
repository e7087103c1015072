"""DID methods: did:key (Ed25519) and did:web, behind one resolver interface.

This package never imports ``vc_issuer``; it can be used on its own.
"""
