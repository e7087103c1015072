"""The ``vc-issuer`` command line: a thin edge over the library."""

from vc_issuer.cli.main import main

__all__ = ["main"]
