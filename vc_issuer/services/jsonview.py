"""JSON views of dataclasses: the API and the CLI's ``--json`` spell keys in camelCase.

The dataclasses keep Python's snake_case fields; :func:`camel_fields` turns the ones that appear
in the JSON under their own name into camelCase keys, so a ``to_dict`` spells out only the keys
that are renamed or computed, and the spelling rule lives in one place.
"""

from __future__ import annotations

from typing import Any


def camel_case(name: str) -> str:
    """``credential_id`` -> ``credentialId``; a name without underscores stays as it is."""
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def camel_fields(
    obj: object, *names: str, prefix: str = "", drop_none: bool = False
) -> dict[str, Any]:
    """``{"fieldName": obj.field_name, ...}`` in the order given (attributes and properties
    alike). ``prefix`` qualifies each key (``offer_uri`` with ``credential``:
    ``credentialOfferUri``); with ``drop_none``, a name whose value is None is left out."""
    out: dict[str, Any] = {}
    for name in names:
        value = getattr(obj, name)
        if value is not None or not drop_none:
            out[camel_case(f"{prefix}_{name}" if prefix else name)] = value
    return out


__all__ = ["camel_case", "camel_fields"]
