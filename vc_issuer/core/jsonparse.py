"""The one strict JSON parser of every entry point (HTTP bodies, forms, JWT payloads, baked
images, CLI files and JSON Lines).

Python's ``json`` accepts what JSON does not (``NaN``, ``Infinity``, numbers that overflow to
infinity, lone surrogates) and what later layers cannot store or sign (NUL characters, integers
longer than ``int()`` will convert). Each of these used to surface later as a 500 or a signed
document that is not JSON; here it is a 400 with its own code, before any other work. Pure: no
I/O, and no recursion on caller input besides the C scanner itself (bounded by the size cap).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from vc_issuer.errors import (
    InputTooLargeError,
    JsonNumberInvalidError,
    JsonStringInvalidError,
    JsonTooDeepError,
    JsonTooLargeError,
    ParsingError,
)

MAX_DOCUMENT_BYTES = 1 << 20
MAX_DEPTH = 64
MAX_ITEMS = 1_000
MAX_VALUES = 20_000
MAX_NUMBER_CHARS = 64

_BAD_CHARS = re.compile("[\x00\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class DocumentLimits:
    """Caps on one JSON document: bytes, nesting, members per container, values in all, and the
    length of a number's text."""

    max_bytes: int = MAX_DOCUMENT_BYTES
    max_depth: int = MAX_DEPTH
    max_items: int = MAX_ITEMS
    max_values: int = MAX_VALUES
    max_number_chars: int = MAX_NUMBER_CHARS


DEFAULT_LIMITS = DocumentLimits()
FETCHED_LIMITS = DocumentLimits(max_bytes=8 << 20)
"""Documents fetched from other hosts (OB 2.0 assertions, issuer keys): the fetcher caps their
size; the other limits are those of a request body."""


def parse_json_text(
    text: str | bytes | bytearray, limits: DocumentLimits = DEFAULT_LIMITS, *, what: str = "input"
) -> Any:
    """Parse strict JSON within ``limits``; every refusal is a ``ParsingError`` subclass whose
    detail starts with ``what`` (``"the request body"``, a file name, ``"line 3"``)."""
    if len(text) > limits.max_bytes:
        raise InputTooLargeError(
            f"{what} is {len(text)} bytes; the limit is {limits.max_bytes}",
            limit=limits.max_bytes,
        )
    decoded = isinstance(text, (bytes, bytearray))
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParsingError(f"{what} is not UTF-8: {exc.reason} at byte {exc.start}") from None
    if text.startswith("\ufeff"):
        text = text[1:]

    def number(raw: str) -> str:
        if len(raw) > limits.max_number_chars:
            raise JsonNumberInvalidError(
                f"{what} holds a number of {len(raw)} characters; the limit is "
                f"{limits.max_number_chars}"
            )
        return raw

    def parse_int(raw: str) -> int:
        return int(number(raw))

    def parse_float(raw: str) -> float:
        value = float(number(raw))
        if not math.isfinite(value):
            raise JsonNumberInvalidError(f"{what} holds a number out of range: {raw}")
        return value

    def constant(raw: str) -> NoReturn:
        raise JsonNumberInvalidError(f"{what} holds {raw}, which is not a JSON number")

    try:
        value = json.loads(
            text, parse_int=parse_int, parse_float=parse_float, parse_constant=constant
        )
    except json.JSONDecodeError as exc:
        raise ParsingError(
            f"{what} is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise JsonTooDeepError(f"{what} nests deeper than {limits.max_depth} levels") from None
    # NUL and surrogates can only come from \\u escapes, a raw NUL, or a str that already held
    # them: strict UTF-8 decoding refuses encoded surrogates, and "in" is a memchr where the
    # character-class search cost ~100k instructions on a 5 kB body (callgrind)
    strings = (
        "\\u" in text or "\x00" in text or (not decoded and _BAD_CHARS.search(text) is not None)
    )
    check_json_value(value, limits, what=what, strings=strings)
    return value


def check_json_value(
    value: Any,
    limits: DocumentLimits = DEFAULT_LIMITS,
    *,
    what: str = "input",
    strings: bool = True,
) -> None:
    """Enforce the structural limits on an already parsed value: one pass, level by level (no
    recursion, no per-value allocation). ``strings=False`` skips the per-string check when the
    caller has already seen that the text cannot hold NUL or a surrogate."""
    level: list[Any] = [value]
    depth = 0
    total = 0
    while level:
        depth += 1
        total += len(level)
        below: list[Any] = []
        for item in level:
            kind = type(item)
            if kind is str:
                if strings:
                    _check_string(item, what)
            elif kind is dict or kind is list or isinstance(item, (Mapping, list, tuple)):
                if depth > limits.max_depth:
                    raise JsonTooDeepError(f"{what} nests deeper than {limits.max_depth} levels")
                if len(item) > limits.max_items:
                    _too_many_items(item, limits, what)
                if kind is dict or isinstance(item, Mapping):
                    if strings:
                        for key in item:
                            _check_string(str(key), what)
                    below.extend(item.values())
                else:
                    below.extend(item)
                if total + len(below) > limits.max_values:
                    raise JsonTooLargeError(
                        f"{what} holds more than {limits.max_values} values",
                        limit=limits.max_values,
                    )
            elif kind is float and not math.isfinite(item):
                raise JsonNumberInvalidError(f"{what} holds a number out of range: {item}")
        level = below


def _too_many_items(item: Any, limits: DocumentLimits, what: str) -> NoReturn:
    kind, noun = ("an object with", "members") if isinstance(item, Mapping) else (
        "an array with", "values")  # fmt: skip
    raise JsonTooLargeError(
        f"{what} holds {kind} {len(item)} {noun}; the limit is {limits.max_items}",
        limit=limits.max_items,
    )


def _check_string(text: str, what: str) -> None:
    m = _BAD_CHARS.search(text)
    if m is None:
        return
    if m.group(0) == "\x00":
        raise JsonStringInvalidError(f"{what} holds a NUL character (\\u0000)")
    raise JsonStringInvalidError(
        f"{what} holds a lone surrogate (\\u{ord(m.group(0)):04x}), which is not Unicode text"
    )


def bad_text(text: str) -> str | None:
    """Why ``text`` (a header, path or query value) cannot be accepted, or None."""
    m = _BAD_CHARS.search(text)
    if m is None:
        return None
    return "a NUL character" if m.group(0) == "\x00" else "a lone surrogate"


def parse_json_object(
    text: str | bytes | bytearray, limits: DocumentLimits = DEFAULT_LIMITS, *, what: str = "input"
) -> dict[str, Any]:
    """:func:`parse_json_text` for a document that must be an object."""
    from vc_issuer.errors import MalformedInputError

    value = parse_json_text(text, limits, what=what)
    if not isinstance(value, dict):
        got = f"got a JSON {json_type(value)}"
        if what == "input":  # the CLI's naming_source rewrites this to name the file
            raise MalformedInputError(f"expected a JSON object, {got}")
        raise MalformedInputError(f"{what} must be a JSON object, {got}")
    return value


def json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


__all__ = [
    "DEFAULT_LIMITS",
    "FETCHED_LIMITS",
    "DocumentLimits",
    "bad_text",
    "check_json_value",
    "json_type",
    "parse_json_object",
    "parse_json_text",
]
