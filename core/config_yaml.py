"""Reads YAML settings files so that every mistake names its file, line and field.

Values are read as Kubernetes reads them (`core.kube_yaml`), as Argo CD reads an Application: `12:30`
and `=` are strings, `yes` is true, and every key is a string. The loader builds mappings and lists
that remember the line of each key, value and item, and it refuses duplicate keys, and documents
that nest or expand their aliases past the bounds of `core.yaml_limits` (an alias bomb is refused,
not built). `YamlField` wraps a value with the file, line and field path it came from, and its
typed readers turn a wrong value into one ConfigError that names all three.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from core.errors import ConfigError
from core.kube_yaml import STR, KubeLoader, is_merge, key_text, merge_sources, scalar_value
from core.yaml_limits import MAX_NESTING, RefusedDocument, check_shape, may_have_aliases, too_deep


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
        """The (name, field) pairs of a mapping whose keys are names the user chose.

        Every key is a string, as in Kubernetes: `1:` is the name "1" and `on:` the name "true".
        """
        for key in self.mapping().value:
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
        hint = "; put the value in quotes" if isinstance(self.value, (bool, int, float)) else ""
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
    loader = KubeLoader(text)
    aliases_possible = may_have_aliases(text)
    try:
        if multi_document:
            documents = []
            while loader.check_node():
                document = loader.get_node()
                documents.append(None if document is None else _build(document, aliases_possible))
            return documents
        node = loader.get_single_node()
        return [None if node is None else _build(node, aliases_possible)]
    except RefusedDocument as refused:
        # Checked before the JSON fallback below, which would take a duplicate key silently.
        line = refused.problem_mark.line + 1 if refused.problem_mark is not None else None
        raise ConfigError(f"invalid YAML: {refused.problem}", file=display, line=line) from None
    except RecursionError:  # only PyYAML's pure-Python composer, which has no nesting bound
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


def _build(root: yaml.Node, aliases_possible: bool = True) -> Any:
    """The value of a composed document, with mappings and lists that remember their lines.

    Each mapping and list is built once, so anchors and aliases share one value; when the text may
    hold aliases, `check_shape` first refuses a document they would blow up (a value shared a
    billion times is still a billion values to whatever walks it). Without aliases, only the
    nesting needs bounding, which is counted here for free.
    """
    if aliases_possible:
        check_shape(root)
    built: dict[int, Any] = {}
    building: set[int] = set()

    def value_of(node: yaml.Node, depth: int) -> Any:
        """`depth` counts the collections around `node`."""
        if isinstance(node, yaml.ScalarNode):
            return node.value if node.tag == STR else scalar_value(node)
        if id(node) in built:
            return built[id(node)]
        if id(node) in building:
            raise yaml.constructor.ConstructorError(
                None, None, "found unconstructable recursive node", node.start_mark
            )
        if depth >= MAX_NESTING:
            raise too_deep(node.start_mark)
        building.add(id(node))
        value: _MarkedMap | _MarkedList
        if isinstance(node, yaml.MappingNode):
            value = _MarkedMap(node.start_mark.line + 1)
            _fill_mapping(node, value, value_of, depth)
        else:
            value = _MarkedList(node.start_mark.line + 1)
            for item_node in node.value:
                value.append(value_of(item_node, depth + 1))
                value.item_lines.append(item_node.start_mark.line + 1)
        building.discard(id(node))
        built[id(node)] = value
        return value

    return value_of(root, 0)


def _fill_mapping(
    node: yaml.MappingNode, marked: _MarkedMap, value_of: Callable[[yaml.Node, int], Any], depth: int
) -> None:
    """Sets the pairs of `node` in order, as go-yaml does: a `<<` merge overrides the keys before it
    and is overridden by those after; a key written twice is a mistake."""
    own_keys: set[str] = set()
    for key_node, value_node in node.value:
        if is_merge(key_node):
            for source in merge_sources(value_node):
                merged: _MarkedMap = value_of(source, depth)
                for key, value in merged.items():
                    marked[key] = value
                    marked.key_lines[key] = merged.key_lines[key]
                    marked.value_lines[key] = merged.value_lines[key]
            continue
        if not isinstance(key_node, yaml.ScalarNode):
            problem = "a mapping key must be a plain value, not a list or mapping"
            raise yaml.constructor.ConstructorError(None, None, problem, key_node.start_mark)
        key = key_text(key_node)
        if key in own_keys:
            problem = f"duplicate key {key!r}; a key may appear only once in a mapping"
            raise yaml.constructor.ConstructorError(None, None, problem, key_node.start_mark)
        own_keys.add(key)
        marked[key] = value_of(value_node, depth + 1)
        marked.key_lines[key] = key_node.start_mark.line + 1
        marked.value_lines[key] = value_node.start_mark.line + 1
