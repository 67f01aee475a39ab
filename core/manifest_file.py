"""Parsing one manifest file into validated objects, with the line each one starts on.

YAML goes through libyaml's loader where PyYAML has it; JSON through `json.loads`. A file that fails
to parse is one error and yields no objects; a document that fails validation is one error and the
file's other documents still count.

Beyond what the parsers check, a document is refused, as kubectl or the API server would refuse it,
when it sets a key twice in one mapping, nests or expands past the bounds of `core.yaml_limits`
(alias bombs), or names its object in a way the server rejects (`core.object_names`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

from core.errors import RenderError
from core.kustomize import KUSTOMIZATION_FILES
from core.object_names import name_rule_broken, namespace_rule_broken
from core.unreadable_file import UnreadableFile
from core.yaml_limits import MAX_NESTING, RefusedDocument, check_shape, may_have_aliases, too_deep

if TYPE_CHECKING:
    from core.render import DesiredObject

try:
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
_CRD_GROUP_KIND = ("apiextensions.k8s.io", "CustomResourceDefinition")


class _ManifestLoader(_BaseLoader):
    """The safe loader, except that timestamps stay strings, as kubectl's YAML-to-JSON keeps them,
    and that a key written twice in a mapping is refused, as kubectl's strict YAML reader refuses it."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        _refuse_duplicate_keys(node)
        return super().construct_mapping(node, deep=deep)


def _timestamp_as_string(loader: _ManifestLoader, node: yaml.Node) -> str:
    return str(node.value)


_ManifestLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_string)

_STR, _INT, _BOOL, _NULL = (f"tag:yaml.org,2002:{name}" for name in ("str", "int", "bool", "null"))
_MAP, _SEQ = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"


def _plain_data(loader: _ManifestLoader, node: yaml.Node, depth: int) -> Any:
    """The node as Python data, as the loader would construct it, but faster.

    PyYAML's constructor costs more than libyaml's parsing; manifests are nearly all plain maps,
    lists, strings and small numbers, which are converted here directly. Anything else (merge keys,
    non-string keys, floats, timestamps) goes through the loader unchanged. An alias is copied
    rather than shared, which a read-only manifest cannot tell apart; `check_shape` has bounded
    the copies already when the file may hold aliases. `depth` counts the collections around `node`.
    """
    tag = node.tag
    if tag == _STR:
        return node.value
    if isinstance(node, yaml.MappingNode):
        if tag != _MAP or depth >= MAX_NESTING:
            return _constructed(loader, node, depth)
        depth += 1
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag != _STR:
                return _constructed(loader, node, depth - 1)
            mapping[key_node.value] = _plain_data(loader, value_node, depth)
        if len(mapping) != len(node.value):  # a key was written twice; costs nothing when none was
            _refuse_duplicate_keys(node)
        return mapping
    if isinstance(node, yaml.SequenceNode) and tag == _SEQ and depth < MAX_NESTING:
        depth += 1
        return [_plain_data(loader, item, depth) for item in node.value]
    if tag == _INT and node.value.isdigit() and (node.value[0] != "0" or node.value == "0"):
        return int(node.value)
    if tag == _NULL:
        return None
    if tag == _BOOL:
        return loader.bool_values[node.value.lower()]
    return _constructed(loader, node, depth)


def _constructed(loader: _ManifestLoader, node: yaml.Node, depth: int) -> Any:
    """A node the fast path leaves to PyYAML, whose recursive constructor gets no deeper than allowed."""
    if isinstance(node, yaml.CollectionNode):
        check_shape(node, depth)
    return loader.construct_object(node, deep=True)


def _refuse_duplicate_keys(node: yaml.MappingNode) -> None:
    """Raises RefusedDocument at the second of two equal keys; keys brought in by a `<<` merge may
    be overridden, as YAML means them to be."""
    seen: dict[tuple[str, str], int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE:
            continue
        key, line = (key_node.tag, key_node.value), key_node.start_mark.line + 1
        first = seen.get(key)
        if first is None:
            seen[key] = line
        else:
            lines = f"both on line {line}" if first == line else f"on lines {first} and {line}"
            raise RefusedDocument(
                f"sets the key {key_node.value!r} twice in one mapping ({lines}); "
                "kubectl refuses duplicate keys, so keep one",
                key_node.start_mark,
            )


@dataclass(slots=True)
class Manifest:
    """One validated object of a file, before its namespace is settled by the renderer."""

    group: str
    kind: str
    version: str
    name: str
    namespace: str
    """As written; empty when the manifest sets none."""
    obj: dict[str, Any]
    """The parsed document, shared with every render of this file: never mutate it."""
    file: str
    line: int | None
    placed: DesiredObject | None = None
    """The renderer's namespaced copy, reused while the kind's scope stays the same."""
    placed_namespaced: bool = False


@dataclass(frozen=True, slots=True)
class ParsedFile:
    """What one file (or one kustomize build) yields; cached against its content."""

    content: bytes
    manifests: tuple[Manifest, ...] = ()
    errors: tuple[RenderError, ...] = ()
    crd_scopes: tuple[tuple[tuple[str, str], bool], ...] = ()
    """`(group, kind) -> namespaced` of the CustomResourceDefinitions the file declares."""


def is_manifest_path(path: str) -> bool:
    """Whether `path` (relative, "/"-separated) is rendered: YAML or JSON, with no hidden segment.

    A kustomization file below the root is kustomize's configuration, not an object, so it is
    skipped. Argo CD also honours `directory.include`/`exclude` globs and silently ignores YAML that
    does not look like a resource; kubedrift keeps it simple and reports such files instead.
    """
    return (
        path.endswith(MANIFEST_SUFFIXES)
        and not path.startswith(".")
        and "/." not in path
        and path.rpartition("/")[2] not in KUSTOMIZATION_FILES
    )


def parse_manifest_file(file: str, content: bytes, *, lines_known: bool = True) -> ParsedFile:
    """Parses one file: JSON by its `.json` suffix, multi-document YAML otherwise.

    `lines_known` is False for generated streams (a kustomize build), whose lines mean nothing to a user.
    """
    if isinstance(content, UnreadableFile):
        return ParsedFile(content, errors=(RenderError(content.problem, file=file),))
    reader = _FileReader(file, lines_known)
    if file.endswith(".json"):
        reader.read_json(content)
    else:
        reader.read_yaml(content)
    crd_scopes = tuple(scope for manifest in reader.manifests if (scope := _crd_scope(manifest)) is not None)
    return ParsedFile(content, tuple(reader.manifests), tuple(reader.errors), crd_scopes)


@dataclass(slots=True)
class _FileReader:
    """Collects the manifests and errors of one file, document by document."""

    file: str
    lines_known: bool
    manifests: list[Manifest] = field(default_factory=list)
    errors: list[RenderError] = field(default_factory=list)

    def read_yaml(self, content: bytes) -> None:
        loader = _ManifestLoader(content)
        aliases_possible = may_have_aliases(content)
        index = 0
        try:
            while loader.check_node():
                node = loader.get_node()
                if node is None:
                    break
                index += 1
                where = f"document {index}"
                try:
                    if aliases_possible:
                        check_shape(node)
                    document = _plain_data(loader, node, 0)
                except RefusedDocument as refused:
                    # The document parsed, so the file's other documents still count.
                    self.fail(f"{where} {refused.predicate}", self._line(refused.problem_mark))
                    continue
                self.add(document, where, node.start_mark.line + 1, node)
        except yaml.YAMLError as exc:
            # A file that breaks half-way is dropped whole: half a file is easy to mistake for all of it.
            self.manifests.clear()
            self.errors = [self._syntax_error(exc)]
        except RecursionError:  # only PyYAML's pure-Python composer, which has no nesting bound
            self.manifests.clear()
            self.errors = [RenderError(f"bad YAML: the file {too_deep(None).predicate}", file=self.file)]
        finally:
            loader.dispose()

    def read_json(self, content: bytes) -> None:
        try:
            document = json.loads(content, object_pairs_hook=_json_object)
        except json.JSONDecodeError as exc:
            self.fail(f"bad JSON: {exc.msg}; fix the syntax", exc.lineno)
            return
        except UnicodeDecodeError:
            self.fail("the file is not UTF-8 text; save it as UTF-8", None)
            return
        except RecursionError:
            self.fail(f"document 1 {too_deep(None).predicate}", None)
            return
        except _DuplicateJsonKey as duplicate:
            line = _duplicate_key_line(content) if self.lines_known else None
            self.fail(
                f"document 1 sets the key {duplicate.key!r} twice in one object; "
                "kubectl refuses duplicate keys, so keep one",
                line,
            )
            return
        if _nests_too_deep(document):
            self.fail(f"document 1 {too_deep(None).predicate}", None)
            return
        leading_blank = content[: len(content) - len(content.lstrip())]
        self.add(document, "document 1", leading_blank.count(b"\n") + 1, None)

    def _line(self, mark: yaml.Mark | None) -> int | None:
        return mark.line + 1 if mark is not None and self.lines_known else None

    def add(self, document: Any, where: str, line: int | None, node: yaml.Node | None) -> None:
        """Validates one document, expanding a `List` into its items as kubectl does."""
        if document is None:
            return
        line = line if self.lines_known else None
        if not isinstance(document, dict):
            what = type(document).__name__
            self.fail(f"{where} is a {what}, not an object; make it a mapping with apiVersion and kind", line)
            return
        api_version, kind = document.get("apiVersion"), document.get("kind")
        if not isinstance(api_version, str) or not api_version:
            self.fail(f"{where} has no apiVersion; add one, such as apiVersion: apps/v1", line)
            return
        if not isinstance(kind, str) or not kind:
            self.fail(f"{where} has no kind; add one, such as kind: Deployment", line)
            return
        if kind.endswith("List") and "items" in document:
            self._add_items(document["items"], where, line, node)
            return
        group, _, version = api_version.rpartition("/")
        shown = f"{where} ({group}/{kind})" if group else f"{where} ({kind})"
        metadata = document.get("metadata")
        if not isinstance(metadata, dict):
            self.fail(f"{shown} has no metadata mapping; add metadata with a name", line)
            return
        name, namespace = metadata.get("name"), metadata.get("namespace")
        if name is None or name == "":
            self.fail(f"{shown} has no metadata.name; give it a name", line)
        elif not isinstance(name, str):
            self.fail(f"{shown} has a metadata.name that is not a string; quote it", line)
        elif namespace is not None and not isinstance(namespace, str):
            self.fail(f"{shown} has a metadata.namespace that is not a string; quote it", line)
        elif rule := name_rule_broken(group, kind, name):
            refused = f"{shown} is named {name!r}, which the API server refuses: a {kind} name must be {rule}"
            self.fail(f"{refused}; rename it", line)
        elif namespace and (rule := namespace_rule_broken(group, kind, namespace)):
            refused = (
                f"{shown} has namespace {namespace!r}, which the API server refuses: a namespace must be"
            )
            self.fail(f"{refused} {rule}; fix the namespace", line)
        else:
            manifest = Manifest(group, kind, version, name, namespace or "", document, self.file, line)
            self.manifests.append(manifest)

    def fail(self, message: str, line: int | None) -> None:
        self.errors.append(RenderError(message, file=self.file, line=line))

    def _add_items(self, items: Any, where: str, line: int | None, node: yaml.Node | None) -> None:
        if items is None:
            return
        if not isinstance(items, list):
            self.fail(f"{where} is a List whose items is not a list; make items a list of objects", line)
            return
        item_nodes = _item_nodes(node)
        for position, item in enumerate(items):
            item_node = item_nodes[position] if position < len(item_nodes) else None
            item_line = item_node.start_mark.line + 1 if item_node is not None else line
            self.add(item, f"{where}, item {position + 1}", item_line, item_node)

    def _syntax_error(self, exc: yaml.YAMLError) -> RenderError:
        if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
            problem = ", ".join(part for part in (exc.context, exc.problem) if part)
            line = exc.problem_mark.line + 1 if self.lines_known else None
            return RenderError(f"bad YAML: {problem}; fix the syntax", file=self.file, line=line)
        if isinstance(exc, yaml.reader.ReaderError):
            return RenderError("the file is not UTF-8 text; save it as UTF-8", file=self.file)
        return RenderError(f"bad YAML: {exc}; fix the syntax", file=self.file)


class _DuplicateJsonKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object as `json.loads` builds it, refusing a key written twice as kubectl does."""
    mapping = dict(pairs)
    if len(mapping) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateJsonKey(key)
            seen.add(key)
    return mapping


def _duplicate_key_line(content: bytes) -> int | None:
    """The line of the first key written twice in a JSON file, found by reading it again as YAML
    (JSON is YAML, and libyaml keeps the lines json.loads does not report); None when it does not read."""
    loader = _ManifestLoader(content)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                check_shape(node)
                loader.construct_object(node, deep=True)
    except RefusedDocument as refused:
        return refused.problem_mark.line + 1 if refused.problem_mark is not None else None
    except (yaml.YAMLError, RecursionError):
        return None
    finally:
        loader.dispose()
    return None


def _nests_too_deep(document: Any) -> bool:
    """Whether a parsed JSON document nests collections more than `MAX_NESTING` levels deep."""
    pending: list[tuple[Any, int]] = [(document, 1)] if isinstance(document, (dict, list)) else []
    while pending:
        value, depth = pending.pop()
        if depth > MAX_NESTING:
            return True
        children = value.values() if isinstance(value, dict) else value
        pending.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _item_nodes(node: yaml.Node | None) -> list[yaml.Node]:
    """The nodes of a List's items, to give each item its own line."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.value == "items" and isinstance(value_node, yaml.SequenceNode):
                return list(value_node.value)
    return []


def _crd_scope(manifest: Manifest) -> tuple[tuple[str, str], bool] | None:
    """What a CustomResourceDefinition declares about its kind's scope, if it is well formed."""
    if (manifest.group, manifest.kind) != _CRD_GROUP_KIND:
        return None
    spec = manifest.obj.get("spec")
    if not isinstance(spec, dict):
        return None
    names, scope = spec.get("names"), spec.get("scope")
    group, kind = spec.get("group"), names.get("kind") if isinstance(names, dict) else None
    if not isinstance(group, str) or not isinstance(kind, str) or scope not in ("Cluster", "Namespaced"):
        return None
    return (group, kind), scope == "Namespaced"
