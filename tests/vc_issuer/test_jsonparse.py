"""The strict JSON parser: each refusal has its own code, and what it accepts is JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vc_issuer.core.jsonparse import DocumentLimits, parse_json_object, parse_json_text
from vc_issuer.errors import (
    InputTooLargeError,
    JsonNumberInvalidError,
    JsonStringInvalidError,
    JsonTooDeepError,
    JsonTooLargeError,
    MalformedInputError,
    ParsingError,
)


@pytest.mark.parametrize(
    ("text", "error", "code"),
    [
        ("NaN", JsonNumberInvalidError, "JSON_NUMBER_INVALID"),
        ('{"a": Infinity}', JsonNumberInvalidError, "JSON_NUMBER_INVALID"),
        ("[-Infinity]", JsonNumberInvalidError, "JSON_NUMBER_INVALID"),
        ("1e400", JsonNumberInvalidError, "JSON_NUMBER_INVALID"),
        ("-1E+999", JsonNumberInvalidError, "JSON_NUMBER_INVALID"),
        ("1" * 4301, JsonNumberInvalidError, "JSON_NUMBER_INVALID"),
        ("1" * 65, JsonNumberInvalidError, "JSON_NUMBER_INVALID"),
        ('"\\ud800"', JsonStringInvalidError, "JSON_STRING_INVALID"),
        ('["\ud800"]', JsonStringInvalidError, "JSON_STRING_INVALID"),  # a raw one, in a str
        ('{"\\udfff": 1}', JsonStringInvalidError, "JSON_STRING_INVALID"),
        ('{"a": ["x\\u0000y"]}', JsonStringInvalidError, "JSON_STRING_INVALID"),
        ('{"\\u0000": 1}', JsonStringInvalidError, "JSON_STRING_INVALID"),
        ("[" * 65 + "]" * 65, JsonTooDeepError, "JSON_TOO_DEEP"),
        ("[" * 100_000 + "]" * 100_000, JsonTooDeepError, "JSON_TOO_DEEP"),
        ("[" + ",".join(["0"] * 1001) + "]", JsonTooLargeError, "JSON_TOO_LARGE"),
        (json.dumps({f"k{i}": 0 for i in range(1001)}), JsonTooLargeError, "JSON_TOO_LARGE"),
        (json.dumps([[0] * 1000] * 21), JsonTooLargeError, "JSON_TOO_LARGE"),
        ("nope", ParsingError, "PARSING_ERROR"),
        (b"\xff{}", ParsingError, "PARSING_ERROR"),
    ],
)  # fmt: skip
def test_each_refusal_has_its_code(text: str | bytes, error: type[Exception], code: str) -> None:
    with pytest.raises(error) as info:
        parse_json_text(text)
    assert info.value.code == code  # type: ignore[attr-defined]
    assert info.value.to_problem()["status"] == 400  # type: ignore[attr-defined]


def test_size_is_checked_before_parsing() -> None:
    with pytest.raises(InputTooLargeError) as info:
        parse_json_text("[" + " " * 2048 + "]", DocumentLimits(max_bytes=1024))
    assert info.value.code == "INPUT_TOO_LARGE"


def test_at_the_limits_is_accepted() -> None:
    assert parse_json_text("[" * 64 + "]" * 64) is not None
    assert len(parse_json_text(json.dumps([0] * 1000))) == 1000
    assert parse_json_text("9" * 64) == int("9" * 64)
    assert parse_json_text('"\\ud83d\\ude00"') == "\U0001f600"  # a pair is one code point
    assert parse_json_text("1e-400") == 0.0


def test_the_detail_names_the_input() -> None:
    with pytest.raises(JsonNumberInvalidError, match=r"^the request body holds NaN"):
        parse_json_text("[NaN]", what="the request body")
    with pytest.raises(MalformedInputError, match=r"^expected a JSON object, got a JSON array"):
        parse_json_object("[]")


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(alphabet=st.characters(codec=None)),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.text(alphabet=st.characters()), children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(_json)
def test_what_it_accepts_round_trips_as_strict_json(value: Any) -> None:
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False)):
        _round_trips(text)


def _round_trips(text: str) -> None:
    """NaN, surrogates and NUL are written the permissive way, escaped or raw."""
    try:
        parsed = parse_json_text(text)
    except ParsingError as exc:
        assert exc.code != "PARSING_ERROR", exc  # json.dumps output is refused precisely
        return
    again = json.dumps(parsed, allow_nan=False)
    again.encode("utf-8")  # no lone surrogate
    assert "\\u0000" not in again
    assert parse_json_text(again) == parsed


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_text_is_json_or_a_parsing_error(text: str) -> None:
    try:
        parsed = parse_json_text(text)
    except (ParsingError, InputTooLargeError):
        return
    json.dumps(parsed, allow_nan=False).encode("utf-8")
