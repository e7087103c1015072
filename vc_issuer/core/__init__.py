"""The pure core: JSON-LD, RDFC-1.0, proof suites, status bitstrings, credentials, keys.

Nothing here does I/O or imports a network stack; each spec algorithm lives in one module.
"""
