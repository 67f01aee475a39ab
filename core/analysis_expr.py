"""Analysis conditions in Argo Rollouts' `expr` syntax: `result[0] >= 0.95`, `len(result) > 0 && ...`.

An AnalysisTemplate's `successCondition` and `failureCondition` are expressions of the expr language
(github.com/expr-lang/expr) over `result`: a number for a Prometheus scalar, a list of numbers for a
vector. kubedrift reads the part of that language such conditions use, with a small parser of its
own, and never hands a condition to Python's `eval`:
- numbers (`0.95`, `1e-3`), `true`, `false`, the variable `result`, and `#` inside a predicate;
- indexing `result[0]` (a negative index counts from the end, as in expr);
- `!`, `not` and unary `-`; `*`, `/`, `%`, `+`, `-`; `==`, `!=`, `<`, `<=`, `>`, `>=`;
  `&&` / `and`, `||` / `or`; parentheses;
- the functions `len`, `abs`, `isNaN`, `isInf`, `min`, `max`, and `all`, `any`, `none`, `one` with a
  predicate (`all(result, {# < 0.01})` or `all(result, # < 0.01)`).

Anything else is one CONDITION error, at parse time, naming what was not understood and where.
A condition that parses but cannot be evaluated on a given result (`result[0]` of an empty vector,
a list compared with a number) raises ExprEvalError: Argo Rollouts counts that measurement as an
Error, and so does kubedrift (core.analysis).
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, TypeAlias

Value: TypeAlias = "float | bool | tuple[float, ...]"
"""What an expression evaluates to: a number, a boolean, or a list of numbers."""

SYNTAX_HINT: Final = "conditions use Argo Rollouts' expr syntax, for example `result[0] >= 0.95`"
_TOKEN = re.compile(
    r"\s*(?:(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>&&|\|\||==|!=|<=|>=|[-+*/%<>!()\[\],{}#]))"
)
_WORD_OPERATORS: Final = {"and": "&&", "or": "||", "not": "!"}
_COMPARISONS: Final = ("==", "!=", "<", "<=", ">", ">=")
_PREDICATES: Final = ("all", "any", "none", "one")


class ExprSyntaxError(ValueError):
    """A condition kubedrift cannot read; the message says what and where, in one sentence."""


class ExprEvalError(ValueError):
    """A condition that cannot be evaluated on this result (an index out of range, a type mismatch)."""


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    """`number`, `name`, `op` or `end`."""
    text: str
    at: int


class _Node(ABC):
    """One node of a parsed condition; each kind of node says how it evaluates."""

    @abstractmethod
    def eval(self, result: Value, item: Value | None) -> Value:
        """Its value for this measurement's `result` (and `item`, inside `all`/`any` and the like)."""


@dataclass(frozen=True, slots=True)
class _Literal(_Node):
    value: Value

    def eval(self, result: Value, item: Value | None) -> Value:
        return self.value


@dataclass(frozen=True, slots=True)
class _Result(_Node):
    def eval(self, result: Value, item: Value | None) -> Value:
        return result


@dataclass(frozen=True, slots=True)
class _Item(_Node):
    """`#`: the element a predicate looks at."""

    def eval(self, result: Value, item: Value | None) -> Value:
        if item is None:
            raise ExprEvalError("`#` is only meaningful inside a predicate such as all(result, {# < 1})")
        return item


@dataclass(frozen=True, slots=True)
class _Index(_Node):
    target: _Node
    index: _Node

    def eval(self, result: Value, item: Value | None) -> Value:
        values = _as_list(self.target.eval(result, item), "indexing")
        position = _as_number(self.index.eval(result, item), "an index")
        if position != int(position):
            raise ExprEvalError(f"index {position:g} is not a whole number")
        at = int(position)
        if not -len(values) <= at < len(values):
            raise ExprEvalError(f"index {at} out of range: the result has {len(values)} values")
        return values[at]


@dataclass(frozen=True, slots=True)
class _Unary(_Node):
    op: str
    operand: _Node

    def eval(self, result: Value, item: Value | None) -> Value:
        value = self.operand.eval(result, item)
        if self.op == "!":
            return not _as_bool(value, "`!`")
        number = _as_number(value, f"unary `{self.op}`")
        return -number if self.op == "-" else number


@dataclass(frozen=True, slots=True)
class _Binary(_Node):
    op: str
    left: _Node
    right: _Node

    def eval(self, result: Value, item: Value | None) -> Value:
        if self.op in ("&&", "||"):
            first = _as_bool(self.left.eval(result, item), f"`{self.op}`")
            if first is (self.op == "||"):
                return first  # short-circuit, as expr does
            return _as_bool(self.right.eval(result, item), f"`{self.op}`")
        left, right = self.left.eval(result, item), self.right.eval(result, item)
        if self.op in ("==", "!="):
            if isinstance(left, bool) != isinstance(right, bool) or isinstance(left, tuple) != isinstance(
                right, tuple
            ):
                raise ExprEvalError(f"cannot compare {_kind(left)} with {_kind(right)} using `{self.op}`")
            return (left == right) is (self.op == "==")
        a, b = _as_number(left, f"`{self.op}`"), _as_number(right, f"`{self.op}`")
        return _arithmetic(self.op, a, b)


@dataclass(frozen=True, slots=True)
class _Call(_Node):
    name: str
    args: tuple[_Node, ...]

    def eval(self, result: Value, item: Value | None) -> Value:
        if self.name in _PREDICATES:
            values = _as_list(self.args[0].eval(result, item), f"{self.name}()")
            where = f"{self.name}()'s predicate"
            hits = sum(1 for value in values if _as_bool(self.args[1].eval(result, value), where))
            return {
                "all": hits == len(values),
                "any": hits > 0,
                "none": hits == 0,
                "one": hits == 1,
            }[self.name]
        return _FUNCTIONS[self.name][1]([arg.eval(result, item) for arg in self.args])


def _len(values: Sequence[Value]) -> Value:
    return float(len(_as_list(values[0], "len()")))


def _abs(values: Sequence[Value]) -> Value:
    return abs(_as_number(values[0], "abs()"))


def _is_nan(values: Sequence[Value]) -> Value:
    return math.isnan(_as_number(values[0], "isNaN()"))


def _is_inf(values: Sequence[Value]) -> Value:
    return math.isinf(_as_number(values[0], "isInf()"))


def _extreme(pick: Callable[[Sequence[float]], float], name: str) -> Callable[[Sequence[Value]], Value]:
    def extreme(values: Sequence[Value]) -> Value:
        numbers: list[float] = []
        for value in values:
            numbers.extend(value if isinstance(value, tuple) else [_as_number(value, f"{name}()")])
        if not numbers:
            raise ExprEvalError(f"{name}() of an empty result")
        return pick(numbers)

    return extreme


_FUNCTIONS: Final[dict[str, tuple[tuple[int, int], Callable[[Sequence[Value]], Value]]]] = {
    "len": ((1, 1), _len),
    "abs": ((1, 1), _abs),
    "isNaN": ((1, 1), _is_nan),
    "isInf": ((1, 1), _is_inf),
    "min": ((1, 99), _extreme(min, "min")),
    "max": ((1, 99), _extreme(max, "max")),
}
_ARITIES: Final[dict[str, tuple[int, int]]] = {
    **{name: arity for name, (arity, _) in _FUNCTIONS.items()},
    **{name: (2, 2) for name in _PREDICATES},
}


def _arithmetic(op: str, a: float, b: float) -> Value:
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    if op == ">=":
        return a >= b
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        if b == 0:  # IEEE 754, as Go's float division gives
            return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a) * math.copysign(1, b)
        return a / b
    if b == 0:
        raise ExprEvalError("modulo by zero")
    return math.fmod(a, b)


def _kind(value: Value) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, tuple):
        return "a list"
    return "a number"


def _as_number(value: Value, where: str) -> float:
    if isinstance(value, bool | tuple):
        hint = " (use result[0] for the first value of a vector)" if isinstance(value, tuple) else ""
        raise ExprEvalError(f"{where} needs a number, got {_kind(value)}{hint}")
    return value


def _as_bool(value: Value, where: str) -> bool:
    if not isinstance(value, bool):
        raise ExprEvalError(f"{where} needs true or false, got {_kind(value)}")
    return value


def _as_list(value: Value, where: str) -> tuple[float, ...]:
    if not isinstance(value, tuple):
        raise ExprEvalError(f"{where} needs a list (a Prometheus vector), got {_kind(value)}")
    return value


class _Parser:
    """Recursive descent, lowest precedence first: `||`, `&&`, comparison, `+ -`, `* / %`, unary."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.position = 0
        self.predicate_depth = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.position]

    def take(self) -> _Token:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def accept(self, op: str) -> bool:
        if self.current.kind == "op" and self.current.text == op:
            self.position += 1
            return True
        return False

    def expect(self, op: str) -> None:
        if not self.accept(op):
            raise self.error(f"expected `{op}`")

    def error(self, what: str) -> ExprSyntaxError:
        token = self.current
        seen = "the end" if token.kind == "end" else f"`{token.text}`"
        return ExprSyntaxError(f"{what} at {seen} (position {token.at + 1}) in {self.text!r}; {SYNTAX_HINT}")

    def parse(self) -> _Node:
        if self.current.kind == "end":
            raise ExprSyntaxError(f"the condition is empty; {SYNTAX_HINT}")
        node = self.either()
        if self.current.kind != "end":
            raise self.error("unexpected text")
        return node

    def either(self) -> _Node:
        node = self.both()
        while self.accept("||"):
            node = _Binary("||", node, self.both())
        return node

    def both(self) -> _Node:
        node = self.comparison()
        while self.accept("&&"):
            node = _Binary("&&", node, self.comparison())
        return node

    def comparison(self) -> _Node:
        node = self.sum()
        while self.current.kind == "op" and self.current.text in _COMPARISONS:
            node = _Binary(self.take().text, node, self.sum())
        return node

    def sum(self) -> _Node:
        node = self.product()
        while self.current.kind == "op" and self.current.text in ("+", "-"):
            node = _Binary(self.take().text, node, self.product())
        return node

    def product(self) -> _Node:
        node = self.unary()
        while self.current.kind == "op" and self.current.text in ("*", "/", "%"):
            node = _Binary(self.take().text, node, self.unary())
        return node

    def unary(self) -> _Node:
        if self.current.kind == "op" and self.current.text in ("!", "-", "+"):
            return _Unary(self.take().text, self.unary())
        node = self.primary()
        while self.accept("["):
            node = _Index(node, self.either())
            self.expect("]")
        return node

    def primary(self) -> _Node:
        token = self.current
        if token.kind == "number":
            self.take()
            return _Literal(float(token.text))
        if self.accept("("):
            node = self.either()
            self.expect(")")
            return node
        if self.accept("#"):
            if not self.predicate_depth:
                raise ExprSyntaxError(
                    f"`#` at position {token.at + 1} in {self.text!r} stands for an element only inside "
                    f"all(), any(), none() or one(); {SYNTAX_HINT}"
                )
            return _Item()
        if token.kind != "name":
            raise self.error("expected a number, `result` or a function")
        self.take()
        if token.text in ("true", "false"):
            return _Literal(token.text == "true")
        if token.text == "result":
            return _Result()
        if self.current.kind == "op" and self.current.text == "(":
            return self.call(token)
        raise ExprSyntaxError(
            f"unknown name `{token.text}` at position {token.at + 1} in {self.text!r}: the only variable "
            f"is `result`; {SYNTAX_HINT}"
        )

    def call(self, name: _Token) -> _Node:
        arity = _ARITIES.get(name.text)
        if arity is None:
            known = ", ".join(sorted(_ARITIES))
            raise ExprSyntaxError(
                f"unknown function `{name.text}` at position {name.at + 1} in {self.text!r} "
                f"(kubedrift reads {known}); {SYNTAX_HINT}"
            )
        self.expect("(")
        args: list[_Node] = []
        if not self.accept(")"):
            args.append(self.either())
            while self.accept(","):
                args.append(self.predicate() if name.text in _PREDICATES else self.either())
            self.expect(")")
        low, high = arity
        if not low <= len(args) <= high:
            wanted = str(low) if low == high else f"{low} or more"
            raise ExprSyntaxError(
                f"{name.text}() at position {name.at + 1} in {self.text!r} takes {wanted} "
                f"argument{'s' if high > 1 else ''}, got {len(args)}; {SYNTAX_HINT}"
            )
        return _Call(name.text, tuple(args))

    def predicate(self) -> _Node:
        """A predicate's body: `{# < 1}` as in expr's closures, or the bare `# < 1` newer expr allows."""
        self.predicate_depth += 1
        try:
            if self.accept("{"):
                node = self.either()
                self.expect("}")
                return node
            return self.either()
        finally:
            self.predicate_depth -= 1


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None:
            at = len(text) - len(text[position:].lstrip())
            raise ExprSyntaxError(
                f"unexpected character {text[at]!r} at position {at + 1} in {text!r}; {SYNTAX_HINT}"
            )
        kind = match.lastgroup or "op"
        value = match.group(kind)
        start = match.start(kind)
        if kind == "name" and value in _WORD_OPERATORS:
            kind, value = "op", _WORD_OPERATORS[value]
        tokens.append(_Token(kind, value, start))
        position = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


@dataclass(frozen=True, slots=True)
class Condition:
    """A parsed `successCondition` or `failureCondition`; `evaluate` gives its verdict on a result."""

    text: str
    _root: _Node

    @classmethod
    def parse(cls, text: str) -> Condition:
        """Raises ExprSyntaxError, whose message names what was not understood and where."""
        return cls(text, _Parser(text).parse())

    def evaluate(self, result: float | Sequence[float]) -> bool:
        """The condition on a Prometheus result: a scalar as a number, a vector as a list of numbers.

        Raises ExprEvalError when it cannot be evaluated on this result, or does not give a boolean."""
        value: Value = float(result) if isinstance(result, int | float) else tuple(float(v) for v in result)
        verdict = self._root.eval(value, None)
        if not isinstance(verdict, bool):
            raise ExprEvalError(f"the condition {self.text!r} gave {_kind(verdict)}, not true or false")
        return verdict
