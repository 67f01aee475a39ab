"""The real-world drift corpus in tests/fixtures/realworld, as typed records.

Each case pairs a Git manifest (the text a user wrote) with the live object as an API server stores
it, managedFields included, and the verdict `kubectl diff --server-side --field-manager=kubedrift`
gives: in sync, or the RFC 6901 pointers that a sync would change. README.md in that folder explains
the format and where every case comes from.

`load_cases()` is what a test over the drift engine needs:

    for case in load_cases():
        drift = diff(<desired read by the engine from case.desired_text>, case.live, ...)

The module also carries this corpus's own reading of the manifest text (`read_manifest`), the way
sigs.k8s.io/yaml reads YAML for kubectl: YAML 1.1 booleans (yes/no/on/off/y/n), octal `0644`, and
none of PyYAML's base-60 numbers, timestamps or `=` value tag. The corpus checks itself with it; the
engine's own reader is what the YAML cases judge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, ScalarNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

CORPUS = Path(__file__).resolve().parent / "fixtures" / "realworld"

# Namespaced manifests that name no namespace belong to the app's destination namespace.
DESTINATION_NAMESPACE = "default"
# kubedrift's field manager, and the app name in its tracking annotation on the live objects.
FIELD_MANAGER = "kubedrift"
APP_NAME = "realworld"

REQUIRED_KEYS = ("source", "summary", "kind_of_case", "desired", "live", "expected", "why")
OPTIONAL_KEYS = ("also_see", "needs_server", "notes")
_FILE_NAME = re.compile(r"^(?P<number>\d{3})-(?P<slug>[a-z0-9]+(?:-[a-z0-9]+)*)\.yaml$")


class CaseKind(StrEnum):
    """The class of behaviour a case exercises."""

    ATOMIC_LIST = "atomic-list"
    EMPTY_STRING = "empty-string"
    QUANTITY = "quantity"
    DUPLICATE_MERGE_KEY = "duplicate-merge-key"
    EXPLICIT_NULL = "explicit-null"
    KEYED_LIST_ORDER = "keyed-list-order"
    YAML_READING = "yaml-reading"
    ADOPTION = "adoption"
    SERVER_DEFAULT = "server-default"
    OTHER_MANAGER = "other-manager"
    MUTATING_WEBHOOK = "mutating-webhook"


class CorpusError(ValueError):
    """A case file that does not follow the corpus format; the message names the file."""


@dataclass(frozen=True)
class Expected:
    """The verdict of a server-side dry-run apply by kubedrift's field manager."""

    in_sync: bool
    changes: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class RealWorldCase:
    """One case file, read and checked for shape (not for truth)."""

    number: int
    slug: str
    path: Path
    source: str
    also_see: tuple[str, ...]
    summary: str
    kind: CaseKind
    desired_text: str
    live: dict[str, Any]
    expected: Expected
    why: str
    needs_server: bool
    notes: str

    @property
    def id(self) -> str:
        """`NNN-slug`, for test ids and messages."""
        return f"{self.number:03d}-{self.slug}"

    @property
    def desired(self) -> dict[str, Any]:
        """The manifest as this corpus reads it (Kubernetes' YAML rules); see `read_manifest`."""
        return read_manifest(self.desired_text)

    @property
    def managed_fields(self) -> list[dict[str, Any]]:
        """The live object's metadata.managedFields entries."""
        fields: list[dict[str, Any]] = self.live["metadata"]["managedFields"]
        return fields


def load_cases(folder: Path = CORPUS) -> list[RealWorldCase]:
    """Every case in the folder, in file-name order. A malformed file raises CorpusError."""
    return [load_case(path) for path in sorted(folder.glob("*.yaml"))]


def load_case(path: Path) -> RealWorldCase:
    """One case file as a record; checks the keys and their types, nothing deeper."""
    match = _FILE_NAME.match(path.name)
    if match is None:
        raise CorpusError(f"{path.name}: the file name is not NNN-short-slug.yaml")
    with path.open(encoding="utf-8") as file:
        data = yaml.safe_load(file)
    if not isinstance(data, dict):
        raise CorpusError(f"{path.name}: a case file holds one mapping")
    missing = [key for key in REQUIRED_KEYS if key not in data]
    unknown = sorted(set(data) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
    if missing or unknown:
        raise CorpusError(f"{path.name}: missing keys {missing}, unknown keys {unknown}")
    expected = data["expected"]
    if not isinstance(expected, dict) or set(expected) != {"in_sync", "changes"}:
        raise CorpusError(f"{path.name}: expected must be a mapping of in_sync and changes")
    if not isinstance(expected["in_sync"], bool) or not isinstance(expected["changes"], list):
        raise CorpusError(f"{path.name}: expected.in_sync is a bool and expected.changes a list")
    for key in ("source", "summary", "desired", "why"):
        if not isinstance(data[key], str) or not data[key].strip():
            raise CorpusError(f"{path.name}: {key} must be a non-empty string")
    if not isinstance(data["live"], dict):
        raise CorpusError(f"{path.name}: live must be a mapping")
    try:
        kind = CaseKind(data["kind_of_case"])
    except ValueError:
        raise CorpusError(f"{path.name}: unknown kind_of_case {data['kind_of_case']!r}") from None
    return RealWorldCase(
        number=int(match["number"]),
        slug=match["slug"],
        path=path,
        source=data["source"],
        also_see=tuple(data.get("also_see") or ()),
        summary=data["summary"],
        kind=kind,
        desired_text=data["desired"],
        live=data["live"],
        expected=Expected(in_sync=expected["in_sync"], changes=tuple(expected["changes"])),
        why=data["why"],
        needs_server=bool(data.get("needs_server", False)),
        notes=data.get("notes") or "",
    )


# --------------------------------------------------------------------------------------------------
# Reading YAML as kubectl does (sigs.k8s.io/yaml, which wraps go-yaml v2)


class _KubeResolver(BaseResolver):
    """go-yaml v2's implicit types: YAML 1.1 booleans, ints and floats without base 60, no
    timestamps (they stay strings when decoded into interface{}), no `=` value tag."""


_KubeResolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$"),
    list("yYnNtTfFoO"),
)
_KubeResolver.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
_KubeResolver.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^[-+]?(?:0b[01_]+|0o[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*)$"),
    list("-+0123456789"),
)
_KubeResolver.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9_]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
_KubeResolver.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^<<$"), ["<"])

_TRUE = ("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON")
_FALSE = ("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF")
_BOOLS = {**dict.fromkeys(_TRUE, True), **dict.fromkeys(_FALSE, False)}


def _go_int(text: str) -> int | float:
    """strconv.ParseInt(text, 0, 64) after go-yaml drops underscores; a bad octal falls to float."""
    plain = text.replace("_", "")
    sign = -1 if plain.startswith("-") else 1
    digits = plain.lstrip("+-")
    if digits[:2] in ("0b", "0o", "0x"):
        return sign * int(digits[2:], {"0b": 2, "0o": 8, "0x": 16}[digits[:2]])
    if len(digits) > 1 and digits.startswith("0"):
        if re.fullmatch(r"[0-7]+", digits):
            return sign * int(digits, 8)
        return float(plain)
    return sign * int(digits)


def _go_float(text: str) -> float:
    plain = text.replace("_", "")
    lowered = plain.lower()
    if lowered.endswith(".inf"):
        return float("-inf") if lowered.startswith("-") else float("inf")
    if lowered == ".nan":
        return float("nan")
    return float(plain)


def _key_string(key: Any) -> str:
    """sigs.k8s.io/yaml turns non-string map keys into their JSON text."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, float) and key.is_integer():
        return str(int(key))
    return str(key)


class _KubeConstructor(SafeConstructor):
    def construct_yaml_bool(self, node: ScalarNode) -> bool:
        return _BOOLS[str(self.construct_scalar(node))]

    def construct_yaml_int(self, node: ScalarNode) -> int | float:
        return _go_int(str(self.construct_scalar(node)))

    def construct_yaml_float(self, node: ScalarNode) -> float:
        return _go_float(str(self.construct_scalar(node)))

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                key = _key_string(self.construct_object(key_node, deep=True))
                if key in seen:
                    raise ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"found duplicate key {key!r}",
                        key_node.start_mark,
                    )
                seen.add(key)
        mapping = super().construct_mapping(node, deep=deep)
        return {_key_string(key): value for key, value in mapping.items()}


_KubeConstructor.add_constructor("tag:yaml.org,2002:bool", _KubeConstructor.construct_yaml_bool)
_KubeConstructor.add_constructor("tag:yaml.org,2002:int", _KubeConstructor.construct_yaml_int)
_KubeConstructor.add_constructor("tag:yaml.org,2002:float", _KubeConstructor.construct_yaml_float)


class KubeYamlLoader(Reader, Scanner, Parser, Composer, _KubeConstructor, _KubeResolver):
    """A PyYAML loader that resolves plain scalars as go-yaml v2 does for kubectl."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        _KubeConstructor.__init__(self)
        _KubeResolver.__init__(self)


def read_manifest(text: str) -> dict[str, Any]:
    """One manifest document, read as kubectl reads it."""
    loader = KubeYamlLoader(text)
    try:
        document = loader.get_single_data()
    finally:
        loader.dispose()
    if not isinstance(document, dict):
        raise CorpusError("a manifest must be a mapping")
    return document
