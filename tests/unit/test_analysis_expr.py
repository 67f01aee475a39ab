"""Analysis conditions in Argo Rollouts' expr syntax: the subset read, and one clear error for the rest."""

from __future__ import annotations

import math

import pytest

from core.analysis_expr import Condition, ExprEvalError, ExprSyntaxError

NAN = math.nan
INF = math.inf


@pytest.mark.parametrize(
    ("condition", "result", "verdict"),
    [
        ("result[0] >= 0.95", [0.97], True),
        ("result[0] >= 0.95", [0.5], False),
        ("len(result) > 0 && result[0] < 0.01", [], False),
        ("len(result) == 0 || result[0] < 0.01", [], True),
        ("len(result) == 0 || result[0] < 0.01", [0.2], False),
        ("isNaN(result[0])", [NAN], True),
        ("isNaN(result[0]) || result[0] < 1", [0.5], True),
        ("isInf(result)", INF, True),
        ("result < 1", 0.5, True),  # a scalar is a number
        ("result == 2", 2, True),
        ("result[-1] == 3", [1, 2, 3], True),
        ("result[1] + result[0] * 2 == 5", [1, 3], True),
        ("-result[0] + 10 / 4 == 2", [0.5], True),
        ("result[0] % 3 == 1", [7], True),
        ("!(result[0] > 1)", [0.5], True),
        ("not (result[0] > 1) and true", [0.5], True),
        ("result[0] > 1 or false", [0.5], False),
        ("all(result, {# < 0.1})", [0.01, 0.05], True),
        ("all(result, # < 0.1)", [0.01, 0.5], False),
        ("any(result, {# > 0.1})", [0.01, 0.5], True),
        ("none(result, {# > 0.1})", [0.01], True),
        ("one(result, {# > 0.1})", [0.2, 0.5], False),
        ("all(result, {# < 1})", [], True),
        ("max(result) < 1 && min(result) >= 0", [0.2, 0.9], True),
        ("abs(result[0]) < 0.1", [-0.05], True),
        ("result[0] != result[0]", [NAN], True),  # NaN equals nothing, as in Go
        ("result[0] < 1", [NAN], False),
        ("1e-3 < result[0]", [0.01], True),
        (".5 == result", 0.5, True),
    ],
)
def test_conditions_evaluate_as_argo_rollouts_does(
    condition: str, result: float | list[float], verdict: bool
) -> None:
    assert Condition.parse(condition).evaluate(result) is verdict


def test_boolean_operators_short_circuit_like_expr() -> None:
    # The right side would fail on an empty vector: it is never evaluated.
    assert Condition.parse("len(result) == 0 || result[0] > 1").evaluate([]) is True
    assert Condition.parse("len(result) > 0 && result[0] > 1").evaluate([]) is False


@pytest.mark.parametrize(
    ("condition", "said"),
    [
        ("", "the condition is empty"),
        ("result[0] >= ", "expected a number, `result` or a function at the end (position 14)"),
        ("foo > 1", "unknown name `foo` at position 1"),
        ("import os", "unknown name `import`"),
        ('__import__("os")', "unexpected character '\"' at position 12"),
        ("result.__class__", "unexpected character '.' at position 7"),
        ("result[0] >= 0.9; 1", "unexpected character ';'"),
        ("eval(result)", "unknown function `eval`"),
        ("len()", "len() at position 1 in 'len()' takes 1 argument, got 0"),
        ("# > 1", "`#` at position 1"),
        ("(result[0] > 1", "expected `)` at the end"),
        ("result[0] > 1 )", "unexpected text at `)`"),
        ("result[0] <> 1", "at `>` (position 12)"),
    ],
)
def test_anything_else_is_one_syntax_error_naming_what_and_where(condition: str, said: str) -> None:
    with pytest.raises(ExprSyntaxError) as raised:
        Condition.parse(condition)
    message = str(raised.value)
    assert said in message
    assert "Argo Rollouts' expr syntax" in message and "\n" not in message


@pytest.mark.parametrize(
    ("condition", "result", "said"),
    [
        ("result[0] < 1", [], "index 0 out of range: the result has 0 values"),
        ("result < 1", [0.5], "needs a number, got a list (use result[0]"),
        ("result[0] + 1", [1], "gave a number, not true or false"),
        ("result[0.5] > 1", [1, 2], "index 0.5 is not a whole number"),
        ("result[0] && true", [1], "needs true or false, got a number"),
        ("len(result) > 0", 1.0, "len() needs a list"),
        ("result[0] % 0 == 1", [1], "modulo by zero"),
        ("result == true", 1.0, "cannot compare a number with a boolean"),
    ],
)
def test_a_condition_that_does_not_fit_the_result_is_an_evaluation_error(
    condition: str, result: float | list[float], said: str
) -> None:
    parsed = Condition.parse(condition)
    with pytest.raises(ExprEvalError) as raised:
        parsed.evaluate(result)
    assert said in str(raised.value)


def test_division_by_zero_follows_ieee_as_go_does() -> None:
    assert Condition.parse("isInf(result[0] / 0)").evaluate([1]) is True
    assert Condition.parse("isNaN(result[0] / 0)").evaluate([0]) is True
