"""The condition language of an InferenceGraph step's `condition`: a small, safe path language
over JSON, parsed once, never eval'd. The API refuses a condition that does not parse (the
operator's InvalidSpec, local mode's refusal); the router evaluates the parsed ones.

Grammar (whitespace between tokens is ignored)::

    condition  := or
    or         := and ( "||" and )*
    and        := not ( "&&" not )*
    not        := "!" not | "(" or ")" | test
    test       := path [ op literal ]
    path       := segment ( "." segment )*
    segment    := NAME | "*" | "@" NAME
    op         := "==" | "!=" | ">" | ">=" | "<" | "<="
    literal    := NUMBER | STRING | "true" | "false" | "null"

A NAME is a run of characters other than whitespace and ``. ( ) ! = < > & | * @ " '``; on a
list it must be an integer index (negative counts from the end), on an object it is a key.
``*`` fans out over every element of a list or value of an object, ``@name`` picks the list
elements whose ``"name"`` field equals ``name`` (V2 outputs by name). A test holds when ANY
value the path reaches satisfies it; a bare path tests existence.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import orjson

Op = Literal["==", "!=", ">", ">=", "<", "<="]
_OPS: frozenset[str] = frozenset({"==", "!=", ">", ">=", "<", "<="})

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<op>==|!=|>=|<=|>|<|&&|\|\||!|\(|\)|\.|\*|@)
    | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<word>[^\s.()!=<>&|*@"']+)
    )""",
    re.VERBOSE,
)
_NUMBER = re.compile(r"\s*(-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?![^\s()&|!=<>])")
_INT = re.compile(r"-?\d+\Z")
MAX_NESTING = 100  # '!' and '(' inside each other: deeper would exhaust Python's stack


class ConditionError(ValueError):
    """A condition that does not parse; the message names the position."""


@dataclass(frozen=True, slots=True)
class Key:
    """Object key or list index."""

    name: str


@dataclass(frozen=True, slots=True)
class Each:
    """Every element of a list or value of an object."""


@dataclass(frozen=True, slots=True)
class Named:
    """List elements whose "name" equals the given name."""

    name: str


Segment = Key | Each | Named


@dataclass(frozen=True, slots=True)
class Test:
    """path [op literal]."""

    path: tuple[Segment, ...]
    op: Op | None = None
    value: Any = None


@dataclass(frozen=True, slots=True)
class Not:
    """Negation."""

    operand: Expr


@dataclass(frozen=True, slots=True)
class All:
    """Conjunction."""

    operands: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Any_:
    """Disjunction."""

    operands: tuple[Expr, ...]


Expr = Test | Not | All | Any_


@dataclass(frozen=True, slots=True)
class Condition:
    """A parsed condition with its source text."""

    text: str
    expr: Expr

    def matches(self, document: Any) -> bool:
        """Whether the condition holds for a parsed JSON document."""
        return evaluate(self.expr, document)


# --- parsing -------------------------------------------------------------------------------


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        if tokens and tokens[-1][0] == "op" and tokens[-1][1] in _OPS:
            num = _NUMBER.match(text, pos)
            if num is not None:
                tokens.append(("num", num.group(1), num.start(1)))
                pos = num.end()
                continue
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ConditionError(f"unexpected character {text[pos]!r} at {pos}")
        kind = m.lastgroup or ""
        start = m.start(kind)
        tokens.append((kind, m.group(kind), start))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0
        self.depth = 0  # '!' and '(' open around the token being read

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str, int]:
        tok = self.peek()
        if tok is None:
            raise ConditionError(f"unexpected end of condition at {len(self.text)}")
        self.i += 1
        return tok

    def at(self, value: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[0] == "op" and tok[1] == value

    def parse(self) -> Expr:
        if not self.tokens:
            raise ConditionError("empty condition")
        expr = self.or_()
        tok = self.peek()
        if tok is not None:
            raise ConditionError(f"unexpected {tok[1]!r} at {tok[2]}")
        return expr

    def or_(self) -> Expr:
        parts = [self.and_()]
        while self.at("||"):
            self.take()
            parts.append(self.and_())
        return parts[0] if len(parts) == 1 else Any_(tuple(parts))

    def and_(self) -> Expr:
        parts = [self.not_()]
        while self.at("&&"):
            self.take()
            parts.append(self.not_())
        return parts[0] if len(parts) == 1 else All(tuple(parts))

    def not_(self) -> Expr:
        if not (self.at("!") or self.at("(")):
            return self.test()
        _, opened, pos = self.take()
        self.depth += 1  # each level is a few frames here and one when evaluated
        if self.depth > MAX_NESTING:
            raise ConditionError(f"more than {MAX_NESTING} nested '!' and '(' at {pos}")
        if opened == "!":
            expr: Expr = Not(self.not_())
        else:
            expr = self.or_()
            if not self.at(")"):
                tok = self.peek()
                where = tok[2] if tok else len(self.text)
                raise ConditionError(f"expected ')' at {where}")
            self.take()
        self.depth -= 1
        return expr

    def test(self) -> Test:
        path = self.path()
        tok = self.peek()
        if tok is None or tok[0] != "op" or tok[1] not in _OPS:
            return Test(path)
        self.take()
        op: Op = tok[1]  # type: ignore[assignment]
        return Test(path, op, self.literal())

    def path(self) -> tuple[Segment, ...]:
        segments = [self.segment()]
        while self.at("."):
            self.take()
            segments.append(self.segment())
        return tuple(segments)

    def segment(self) -> Segment:
        kind, value, pos = self.take()
        if kind == "op" and value == "*":
            return Each()
        if kind == "op" and value == "@":
            name_kind, name, _ = self.take()
            if name_kind == "word":
                return Named(name)
            if name_kind == "str":
                return Named(_unquote(name))
            raise ConditionError(f"expected a name after '@' at {pos}")
        if kind == "word":
            return Key(value)
        if kind == "str":
            return Key(_unquote(value))
        raise ConditionError(f"expected a path at {pos}, found {value!r}")

    def literal(self) -> Any:
        kind, value, pos = self.take()
        if kind == "str":
            return _unquote(value)
        if kind == "num":
            return int(value) if _INT.match(value) else float(value)
        if kind == "word" and value in ("true", "false", "null"):
            return None if value == "null" else value == "true"
        raise ConditionError(f"expected a number, string, true, false or null at {pos}")


def _unquote(token: str) -> str:
    body = token[1:-1]
    if token[0] == "'":
        body = body.replace("\\'", "'").replace('"', '\\"')
    try:
        text: str = orjson.loads(f'"{body}"')
    except orjson.JSONDecodeError as exc:
        raise ConditionError(f"bad string literal {token}") from exc
    return text


def parse(text: str) -> Condition:
    """Parse a condition; raises ConditionError naming the position of the problem."""
    return Condition(text, _Parser(text).parse())


# --- evaluation ----------------------------------------------------------------------------


def resolve(document: Any, path: tuple[Segment, ...]) -> Iterator[Any]:
    """Every value the path reaches in the document (none when it reaches nothing)."""
    if not path:
        yield document
        return
    head, rest = path[0], path[1:]
    if isinstance(head, Key):
        if isinstance(document, dict):
            if head.name in document:
                yield from resolve(document[head.name], rest)
        elif isinstance(document, list) and _INT.match(head.name):
            index = int(head.name)
            if -len(document) <= index < len(document):
                yield from resolve(document[index], rest)
    elif isinstance(head, Each):
        items = document.values() if isinstance(document, dict) else document
        if isinstance(document, dict | list):
            for item in items:
                yield from resolve(item, rest)
    elif isinstance(document, list):
        for item in document:
            if isinstance(item, dict) and item.get("name") == head.name:
                yield from resolve(item, rest)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def compare(left: Any, op: Op, right: Any) -> bool:
    """JSON comparison: numbers numerically, strings lexically, mixed types only (in)equal."""
    if op == "==":
        return _equal(left, right)
    if op == "!=":
        return not _equal(left, right)
    if _is_number(left) and _is_number(right):
        if isinstance(left, float) and math.isnan(left):
            return False
    elif not (isinstance(left, str) and isinstance(right, str)):
        return False
    if op == ">":
        return bool(left > right)
    if op == ">=":
        return bool(left >= right)
    if op == "<":
        return bool(left < right)
    return bool(left <= right)


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    return bool(left == right)


def evaluate(expr: Expr, document: Any) -> bool:
    """Evaluate a parsed expression against a parsed JSON document."""
    if isinstance(expr, Test):
        values = resolve(document, expr.path)
        if expr.op is None:
            return next(values, _MISSING) is not _MISSING
        return any(compare(v, expr.op, expr.value) for v in values)
    if isinstance(expr, Not):
        return not evaluate(expr.operand, document)
    if isinstance(expr, All):
        return all(evaluate(e, document) for e in expr.operands)
    return any(evaluate(e, document) for e in expr.operands)


_MISSING = object()
