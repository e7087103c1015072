"""Services built on the core: issuing, verifying, status checking, the issuer's home."""
