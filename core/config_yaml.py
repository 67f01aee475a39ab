"""Reads YAML settings files so that every mistake names its file, line and field.

The loader builds mappings and lists that remember the line of each key, value and item, and it
refuses duplicate keys, and documents that nest or expand their aliases past the bounds of
`core.yaml_limits` (an alias bomb is refused, not built). `YamlField` wraps a value with the file,
line and field path it came from, and its typed readers turn a wrong value into one ConfigError
that names all three.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from core.errors import ConfigError
from core.yaml_limits import MAX_NESTING, RefusedDocument, check_shape, may_have_aliases, too_deep

try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class YamlField:
    """A value read from a YAML file, with the file, line and field path it came from."""

    value: Any
    file: str
    line: int | None
    path: str

    @property
    def origin(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    def fail(self, message: str, line: int | None = None) -> ConfigError:
        return ConfigError(message, file=self.file, line=line or self.line, field=self.path)

    def mapping(self, allowed: Sequence[str] | None = None) -> YamlField:
        """This field, checked to be a mapping whose keys are all in `allowed` (any, when None)."""
        if not isinstance(self.value, dict):
            raise self.fail(f"expected a mapping, got {describe_value(self.value)}")
        if allowed is None:
            return self
        for key in self.value:
            if key not in allowed:
                message = f"unknown key {key!r}; allowed keys are {', '.join(allowed)}"
                close = difflib.get_close_matches(str(key), allowed, n=1)
                suggestion = f"; did you mean {close[0]!r}?" if close else ""
                raise self.fail(message + suggestion, line=_line_of(self.value, "key_lines", key))
        return self

    def optional(self, key: str) -> YamlField | None:
        """The field at `key` of this mapping; None when absent or null, as Kubernetes reads null."""
        if self.value.get(key) is None:
            return None
        return self.required(key)

    def required(self, key: str) -> YamlField:
        if key not in self.value:
            raise self.fail(f"missing required key {key!r}")
        line = _line_of(self.value, "value_lines", key) or self.line
        return YamlField(self.value[key], self.file, line, f"{self.path}.{key}" if self.path else key)

    def optional_string(self, key: str, *, allow_empty: bool = False) -> str | None:
        """The string at `key` of this mapping; None when absent or null."""
        value = self.optional(key)
        return value.string(allow_empty=allow_empty) if value else None

    def optional_boolean(self, key: str, *, default: bool) -> bool:
        """The boolean at `key` of this mapping; `default` when absent or null."""
        value = self.optional(key)
        return value.boolean() if value else default

    def entries(self) -> Iterator[tuple[str, YamlField]]:
        """The (name, field) pairs of a mapping whose keys are names the user chose."""
        for key in self.mapping().value:
            if not isinstance(key, str):
                raise self.fail(
                    f"expected names as keys, got {describe_value(key)}; put it in quotes",
                    line=_line_of(self.value, "key_lines", key),
                )
            yield key, self.required(key)

    def items(self) -> list[YamlField]:
        if not isinstance(self.value, list):
            raise self.fail(f"expected a list, got {describe_value(self.value)}")
        lines: list[int] = getattr(self.value, "item_lines", [])
        return [
            YamlField(item, self.file, lines[index] if lines else self.line, f"{self.path}[{index}]")
            for index, item in enumerate(self.value)
        ]

    def string(self, *, allow_empty: bool = False) -> str:
        if isinstance(self.value, str) and (self.value or allow_empty):
            return self.value
        hint = "; put the value in quotes" if isinstance(self.value, (bool, int, float, date)) else ""
        expected = "a string" if allow_empty else "a non-empty string"
        raise self.fail(f"expected {expected}, got {describe_value(self.value)}{hint}")

    def boolean(self) -> bool:
        if isinstance(self.value, bool):
            return self.value
        raise self.fail(f"expected a boolean, got {describe_value(self.value)}")


def describe_value(value: Any) -> str:
    """A value as a person would name it in an error message."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, date):
        return f"the date {value.isoformat()}"
    return repr(value)


def _line_of(container: Any, table: str, key: Any) -> int | None:
    lines: dict[Any, int] = getattr(container, table, {})
    return lines.get(key)


def display_path(path: Path) -> str:
    """`path` relative to the working folder when inside it, as the user would type it."""
    absolute = os.path.abspath(path)
    try:
        return str(Path(absolute).relative_to(os.path.abspath(os.getcwd())))
    except (ValueError, OSError):
        return str(path)


def load_yaml_file(path: Path, display: str, *, multi_document: bool) -> list[Any]:
    """The documents in `path`, whose mappings and lists remember their lines; `display` names it in errors.

    With `multi_document` false the file must hold one document, and the list holds just it.
    """
    return _parse(_read_text(path, display), display, path, multi_document=multi_document)


def _read_text(path: Path, display: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError("the file does not exist; check the path", file=display) from None
    except UnicodeDecodeError:
        raise ConfigError("the file is not UTF-8 text; save it as UTF-8", file=display) from None
    except OSError as error:
        raise ConfigError(
            f"cannot read the file ({error.strerror}); check its permissions", file=display
        ) from None


def _parse(text: str, display: str, path: Path, *, multi_document: bool) -> list[Any]:
    loader = _MarkedLoader(text)
    aliases_possible = may_have_aliases(text)
    try:
        if multi_document:
            documents = []
            while loader.check_node():
                document = loader.get_node()
                documents.append(None if document is None else _build(loader, document, aliases_possible))
            return documents
        node = loader.get_single_node()
        return [None if node is None else _build(loader, node, aliases_possible)]
    except RefusedDocument as refused:
        # Checked before the JSON fallback below, which would take a duplicate key silently.
        line = refused.problem_mark.line + 1 if refused.problem_mark is not None else None
        raise ConfigError(f"invalid YAML: {refused.problem}", file=display, line=line) from None
    except RecursionError:  # a tagged node PyYAML builds itself, or its pure-Python composer
        raise ConfigError(f"invalid YAML: the file {too_deep(None).predicate}", file=display) from None
    except yaml.YAMLError as error:
        if path.suffix == ".json":
            # Tab-indented JSON is valid JSON but not valid YAML for the pure-Python parser.
            return _parse_json(text, display)
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        problem = getattr(error, "problem", None) or getattr(error, "context", None) or str(error)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(f"invalid YAML: {problem}", file=display, line=line) from None
    finally:
        loader.dispose()


def _parse_json(text: str, display: str) -> list[Any]:
    try:
        return [json.loads(text)]
    except json.JSONDecodeError as error:
        raise ConfigError(f"invalid JSON: {error.msg}", file=display, line=error.lineno) from None


class _MarkedMap(dict[Any, Any]):
    """A YAML mapping that remembers its own line and the line of each key and value."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[Any, int] = {}
        self.value_lines: dict[Any, int] = {}


class _MarkedList(list[Any]):
    """A YAML list that remembers its own line and the line of each item."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.item_lines: list[int] = []


class _MarkedLoader(_SafeLoader):
    """A safe loader whose mappings and lists remember their lines, and that refuses duplicate keys."""


_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"


def _build(loader: _MarkedLoader, root: yaml.Node, aliases_possible: bool = True) -> Any:
    """The value of a composed document: what `loader.construct_document` returns, built directly.

    PyYAML's constructor goes through generators and bookkeeping for every node, which for a
    kubedrift.yaml of a thousand apps costs more than parsing it. Plain mappings, lists and strings
    are built here; any other node (numbers, booleans, dates, explicit tags) goes to the loader.
    Each node is built once, so anchors and aliases share one value, as PyYAML shares them; when
    the text may hold aliases, `check_shape` first refuses a document they would blow up (a value
    shared a billion times is still a billion values to whatever walks it). Without aliases, only
    the nesting needs bounding, which is counted here for free.
    """
    if aliases_possible:
        check_shape(root)
    built: dict[int, Any] = {}
    building: set[int] = set()

    def value_of(node: yaml.Node, depth: int) -> Any:
        """`depth` counts the collections around `node`."""
        if id(node) in built:
            return built[id(node)]
        tag = node.tag
        if tag == _STR_TAG and isinstance(node, yaml.ScalarNode):
            return node.value
        if id(node) in building:
            raise yaml.constructor.ConstructorError(
                None, None, "found unconstructable recursive node", node.start_mark
            )
        if depth >= MAX_NESTING and isinstance(node, yaml.CollectionNode):
            raise too_deep(node.start_mark)
        building.add(id(node))
        value: Any
        if tag == _MAP_TAG and isinstance(node, yaml.MappingNode):
            value = _MarkedMap(node.start_mark.line + 1)
            _fill_mapping(loader, node, value, lambda child: value_of(child, depth + 1))
        elif tag == _SEQ_TAG and isinstance(node, yaml.SequenceNode):
            value = _MarkedList(node.start_mark.line + 1)
            for item_node in node.value:
                value.append(value_of(item_node, depth + 1))
                value.item_lines.append(item_node.start_mark.line + 1)
        else:
            if isinstance(node, yaml.CollectionNode):
                check_shape(node, depth)  # PyYAML's recursive constructor builds this one
            value = loader.construct_object(node, deep=True)
        building.discard(id(node))
        built[id(node)] = value
        return value

    return value_of(root, 0)


def _fill_mapping(
    loader: _MarkedLoader, node: yaml.MappingNode, marked: _MarkedMap, value_of: Callable[[yaml.Node], Any]
) -> None:
    own_pairs = sum(1 for key_node, _ in node.value if key_node.tag != _MERGE_TAG)
    loader.flatten_mapping(node)
    merged_pairs = len(node.value) - own_pairs
    own_keys: set[Any] = set()
    for index, (key_node, value_node) in enumerate(node.value):
        key = value_of(key_node)
        if not isinstance(key, Hashable):
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value, not a list or mapping", key_node.start_mark
            )
        # Keys brought in by a `<<` merge may be overridden; a key written twice is a mistake.
        if index >= merged_pairs:
            if key in own_keys:
                problem = f"duplicate key {key!r}; a key may appear only once in a mapping"
                raise yaml.constructor.ConstructorError(None, None, problem, key_node.start_mark)
            own_keys.add(key)
        marked[key] = value_of(value_node)
        marked.key_lines[key] = key_node.start_mark.line + 1
        marked.value_lines[key] = value_node.start_mark.line + 1


def _construct_mapping(loader: _MarkedLoader, node: yaml.MappingNode) -> Iterator[_MarkedMap]:
    # For maps met by PyYAML's own constructor (inside an explicitly tagged node); see `_build`.
    marked = _MarkedMap(node.start_mark.line + 1)
    yield marked
    _fill_mapping(loader, node, marked, lambda child: loader.construct_object(child, deep=True))


def _construct_list(loader: _MarkedLoader, node: yaml.SequenceNode) -> Iterator[_MarkedList]:
    marked = _MarkedList(node.start_mark.line + 1)
    yield marked
    for item_node in node.value:
        marked.append(loader.construct_object(item_node, deep=True))
        marked.item_lines.append(item_node.start_mark.line + 1)


_MarkedLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_MarkedLoader.add_constructor("tag:yaml.org,2002:seq", _construct_list)
