"""Parsing one manifest file into validated objects, with the line each one starts on.

YAML is read as Kubernetes reads it (`core.kube_yaml`): libyaml parses, and each value is what kubectl
would send as JSON, so `12:30` and `=` are strings, `yes` is true and `1.0` is 1. JSON goes through
`json.loads`, its numbers made what kubectl sends too (`1.0` is 1; past int64, a float64). A file
that fails to parse is one error and yields no objects; a document that fails validation, or that
kubectl would refuse to turn into JSON, is one error and the file's other documents still count.

Beyond what the parsers check, a document is refused, as kubectl or the API server would refuse it,
when it sets a key twice in one mapping, nests or expands past the bounds of `core.yaml_limits`
(alias bombs), or names its object in a way the server rejects (`core.object_names`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import yaml

from core.errors import RenderError
from core.kube_yaml import (
    PLAIN,
    STR,
    KubeLoader,
    is_merge,
    json_number,
    key_text,
    merge_sources,
    scalar_value,
)
from core.kustomize import KUSTOMIZATION_FILES
from core.object_names import name_rule_broken, namespace_rule_broken
from core.sync_hooks import is_hook
from core.unreadable_file import UnreadableFile
from core.yaml_limits import MAX_NESTING, RefusedDocument, check_shape, may_have_aliases, too_deep

if TYPE_CHECKING:
    from core.render import DesiredObject

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
_CRD_GROUP_KIND = ("apiextensions.k8s.io", "CustomResourceDefinition")
_PLAIN_VALUES: dict[str, Any] = {}
"""Untagged plain scalars already resolved (`3`, `true`, `8080`): manifests repeat few of them."""
_PLAIN_VALUES_KEPT = 4096
_UNKNOWN = object()


def _plain_data(node: yaml.Node, depth: int) -> Any:
    """The document at `node` as the JSON value kubectl would send, built directly from the nodes.

    An alias is copied rather than shared, which a read-only manifest cannot tell apart; `check_shape`
    has bounded the copies already when the file may hold aliases. `depth` counts the collections
    around `node`. Raises RefusedDocument for what kubectl would refuse, and for keys written twice.
    """
    if isinstance(node, yaml.ScalarNode):
        tag = node.tag
        if tag == STR:
            return node.value
        if tag == PLAIN:
            value = _PLAIN_VALUES.get(node.value, _UNKNOWN)
            if value is _UNKNOWN:
                value = scalar_value(node)
                if len(_PLAIN_VALUES) < _PLAIN_VALUES_KEPT:
                    _PLAIN_VALUES[node.value] = value
            return value
        return scalar_value(node)
    if depth >= MAX_NESTING:
        raise too_deep(node.start_mark)
    depth += 1
    if isinstance(node, yaml.SequenceNode):
        return [_plain_data(item, depth) for item in node.value]
    return _mapping_data(cast(yaml.MappingNode, node), depth)  # the only other kind of node


def _mapping_data(node: yaml.MappingNode, depth: int) -> dict[str, Any]:
    """`_plain_data` of a mapping, inside `depth` collections counting itself."""
    mapping: dict[str, Any] = {}
    merged = False
    for key_node, value_node in node.value:
        if key_node.tag == STR and isinstance(key_node, yaml.ScalarNode):
            key = key_node.value
        elif is_merge(key_node):
            # go-yaml merges in written order: a `<<` overrides the keys before it, not those after.
            merged = True
            for source in merge_sources(value_node):
                mapping.update(_plain_data(source, depth - 1))
            continue
        else:
            key = key_text(key_node)
        mapping[key] = _plain_data(value_node, depth)
    if merged or len(mapping) != len(node.value):  # costs nothing when no key was written twice
        _refuse_duplicate_keys(node)
    return mapping


def _refuse_duplicate_keys(node: yaml.MappingNode) -> None:
    """Raises RefusedDocument at the second of two keys that are equal in JSON (`1` and `'1'` are);
    keys brought in by a `<<` merge may be overridden, as YAML means them to be."""
    seen: dict[str, int] = {}
    for key_node, _ in node.value:
        if is_merge(key_node):
            continue
        key, line = key_text(key_node), key_node.start_mark.line + 1
        first = seen.get(key)
        if first is None:
            seen[key] = line
        else:
            lines = f"both on line {line}" if first == line else f"on lines {first} and {line}"
            raise RefusedDocument(
                f"sets the key {key!r} twice in one mapping ({lines}); "
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
        loader = KubeLoader(content)
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
                    document = _plain_data(node, 0)
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
            document = json.loads(
                content,
                object_pairs_hook=_json_object,
                parse_int=_json_int,
                parse_float=_json_float,
                parse_constant=_json_constant,
            )
        except _UnreadableJsonNumber as number:
            self.fail(
                f"document 1 has the number {number.text}, which kubectl cannot read "
                "(JSON has no infinities or NaN, and a float64 ends near 1.8e308); fix the value",
                None,
            )
            return
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
            # A hook is created fresh at each sync, so `generateName` may name it: the server picks.
            name = "" if _generated_hook(document, metadata) else None
        if name is None:
            hint = " (generateName is only for hooks, which are created fresh at each sync)"
            hint = hint if metadata.get("generateName") else ""
            self.fail(f"{shown} has no metadata.name; give it a name{hint}", line)
        elif not isinstance(name, str):
            self.fail(f"{shown} has a metadata.name that is not a string; quote it", line)
        elif namespace is not None and not isinstance(namespace, str):
            self.fail(f"{shown} has a metadata.namespace that is not a string; quote it", line)
        elif name and (rule := name_rule_broken(group, kind, name)):
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


class _UnreadableJsonNumber(ValueError):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def _json_int(text: str) -> int | float:
    """A JSON integer as kubectl sends it: past int64 it becomes a float64 (`core.kube_yaml.json_number`)."""
    return json_number(int(text))


def _json_float(text: str) -> int | float:
    """A JSON number with a fraction or exponent as kubectl sends it: `1.0` and `1e3` are 1 and 1000."""
    try:
        return json_number(float(text))
    except ValueError:  # 1e400: Go's json refuses a number past float64
        raise _UnreadableJsonNumber(text) from None


def _json_constant(text: str) -> float:
    """`NaN` and `Infinity`, which Python's json reads but JSON (and Go) does not."""
    raise _UnreadableJsonNumber(text)


def _duplicate_key_line(content: bytes) -> int | None:
    """The line of the first key written twice in a JSON file, found by reading it again as YAML
    (JSON is YAML, and libyaml keeps the lines json.loads does not report); None when it does not read."""
    loader = KubeLoader(content)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                check_shape(node)
                _plain_data(node, 0)
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


def _generated_hook(document: Mapping[str, Any], metadata: Mapping[str, Any]) -> bool:
    """A hook named by `generateName` (as in Argo CD's sync-waves example): valid without a name."""
    generate_name = metadata.get("generateName")
    return isinstance(generate_name, str) and bool(generate_name) and is_hook(document)


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
