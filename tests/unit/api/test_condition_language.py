"""The condition language: what holds, what does not, and what is rejected."""

from __future__ import annotations

import pytest

from modelplane.api.condition_language import ConditionError, parse

V2 = {
    "model_name": "clf",
    "outputs": [
        {"name": "prob", "datatype": "FP32", "shape": [1, 2], "data": [0.7, 0.1]},
        {"name": "label", "datatype": "BYTES", "shape": [1], "data": ["cat"]},
    ],
    "parameters": {"flag": True, "count": 3, "nothing": None},
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("outputs.0.data.0 > 0.5", True),
        ("outputs.0.data.0 > 0.7", False),
        ("outputs.0.data.0 >= 0.7", True),
        ("outputs.0.data.1 < 0.5", True),
        ("outputs.0.data.1 <= 0.05", False),
        ("outputs.0.data.-1 == 0.1", True),
        ("outputs.@prob.data.* > 0.6", True),
        ("outputs.@prob.data.* > 0.9", False),
        ("outputs.@label.data.0 == 'cat'", True),
        ('outputs.@label.data.0 != "cat"', False),
        ("outputs.@missing", False),
        ('outputs.*.name == "label"', True),
        ("model_name", True),
        ("model_version", False),
        ("outputs.5", False),
        ("parameters.flag == true", True),
        ("parameters.flag == 1", False),
        ("parameters.count == 3.0", True),
        ("parameters.nothing == null", True),
        ("parameters.nothing", True),
        ("model_name > 1", False),
        ("model_name > 'a'", True),
        ("!model_version", True),
        ("model_name && !parameters.flag", False),
        ("model_version || parameters.count > 2", True),
        ("(model_version || model_name) && outputs.0.shape.1 == 2", True),
        ("parameters.count >= -1e3", True),
    ],
)
def test_condition_evaluates_over_json(text: str, expected: bool) -> None:
    assert parse(text).matches(V2) is expected


def test_condition_on_non_json_input_is_false() -> None:
    assert parse("a").matches(None) is False
    assert parse("a.0 > 1").matches([1, 2]) is False


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("", "empty"),
        ("a >", "end of condition at 3"),
        ("a == b", "at 5"),
        ("a.", "end of condition"),
        ("(a", r"expected '\)'"),
        ("a == 1 1", "unexpected '1' at 7"),
        ("a && || b", "at 5"),
        ("@", "end of condition"),
        ("a == 'x", "unexpected"),
    ],
)
def test_invalid_condition_is_rejected_with_position(text: str, where: str) -> None:
    with pytest.raises(ConditionError, match=where):
        parse(text)


def test_condition_has_no_code_execution() -> None:
    # Looks like Python; is only a path that does not exist.
    assert parse("__import__").matches({"x": 1}) is False
    with pytest.raises(ConditionError):
        parse("__import__('os').system('true')")


@pytest.mark.parametrize("opening", ["(", "!", "!("])
def test_nesting_is_bounded_by_a_condition_error_not_the_stack(opening: str) -> None:
    """A condition the API takes (up to 1024 characters) nested as deep as that allows was a
    RecursionError at the router's start (a crash loop); 100 levels parse and evaluate."""

    def nested(levels: int) -> str:  # `levels` '!' and '(' in all
        times = levels // len(opening)
        return opening * times + "a" + ")" * (times * opening.count("("))

    assert parse(nested(100)).matches({"a": 1})  # an even number of '!'
    for levels in (102, 1022):
        with pytest.raises(ConditionError, match=r"more than 100 nested '!' and '\(' at \d+"):
            parse(nested(levels)[:1024])
