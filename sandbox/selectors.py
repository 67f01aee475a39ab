"""Label selectors (equality- and set-based) and field selectors, parsed as the API server parses them."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.errors import bad_request

_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def label_key_error(key: str) -> str | None:
    """Why `key` is not a valid label key (`[prefix/]name`), or None when it is."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return "prefix part must be a lowercase RFC 1123 subdomain"
    if not name or len(name) > 63 or not _LABEL_NAME.match(name):
        return (
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
            "end with an alphanumeric character"
        )
    return None


def label_value_error(value: str) -> str | None:
    """Why `value` is not a valid label value, or None when it is."""
    if len(value) > 63:
        return "must be no more than 63 characters"
    if not _LABEL_VALUE.match(value):
        return (
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
            "'.', and must start and end with an alphanumeric character"
        )
    return None


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # "=", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.operator in ("=", "in"):
            return present and value in self.values
        if self.operator in ("!=", "notin"):
            return not present or value not in self.values
        if self.operator == "exists":
            return present
        if self.operator == "!":
            return not present
        if not present:
            return False
        try:
            number = int(value or "")
        except ValueError:
            return False
        bound = int(self.values[0])
        return number > bound if self.operator == "gt" else number < bound


@dataclass(frozen=True)
class LabelSelector:
    """A parsed `labelSelector`: every requirement must hold."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside `( ... )`."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


_SET_REQUIREMENT = re.compile(r"^\s*(\S+?)\s+(in|notin)\s*\((.*)\)\s*$")
_COMPARISON = re.compile(r"^\s*([^=!<>\s]+)\s*(==|!=|=|>|<)\s*(\S*)\s*$")


def _parse_requirement(text: str, whole: str) -> Requirement:
    def fail(reason: str) -> Exception:
        return bad_request(f"unable to parse requirement: {reason}")

    set_match = _SET_REQUIREMENT.match(text)
    if set_match:
        key, operator, raw_values = set_match.groups()
        values = tuple(v.strip() for v in raw_values.split(",")) if raw_values.strip() else ("",)
        requirement = Requirement(key, operator, values)
    else:
        comparison = _COMPARISON.match(text)
        stripped = text.strip()
        if comparison:
            key, symbol, value = comparison.groups()
            operator = {"==": "=", "=": "=", "!=": "!=", ">": "gt", "<": "lt"}[symbol]
            if operator in ("gt", "lt") and not re.fullmatch(r"-?\d+", value):
                raise fail(f"for 'gt', 'lt' operators, the value must be an integer: {value!r}")
            requirement = Requirement(key, operator, (value,))
        elif stripped.startswith("!") and re.fullmatch(r"![^\s=!(),]+", stripped):
            requirement = Requirement(stripped[1:], "!")
        elif stripped and re.fullmatch(r"[^\s=!(),<>]+", stripped):
            requirement = Requirement(stripped, "exists")
        else:
            raise bad_request(
                f"unable to parse requirement: found '{stripped}', expected: identifier "
                f"(in selector {whole!r})"
            )
    key_problem = label_key_error(requirement.key)
    if key_problem:
        raise fail(f"key: Invalid value: {requirement.key!r}: {key_problem}")
    if requirement.operator not in ("gt", "lt"):
        for value in requirement.values:
            value_problem = label_value_error(value)
            if value_problem:
                raise fail(f"values[0][{requirement.key}]: Invalid value: {value!r}: {value_problem}")
    return requirement


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse a `labelSelector` query value; a malformed one is a 400 BadRequest."""
    if text is None or not text.strip():
        return LabelSelector()
    requirements = tuple(_parse_requirement(part, text) for part in _split_top_level(text))
    return LabelSelector(requirements)


def label_selector_from_object(selector: Mapping[str, Any] | None) -> LabelSelector:
    """A `metav1.LabelSelector` (`matchLabels` and `matchExpressions`) as a LabelSelector."""
    if not selector:
        return LabelSelector()
    requirements = [Requirement(k, "=", (str(v),)) for k, v in (selector.get("matchLabels") or {}).items()]
    operators = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expression in selector.get("matchExpressions") or []:
        operator = operators.get(str(expression.get("operator")), "in")
        requirements.append(
            Requirement(
                str(expression.get("key")), operator, tuple(str(v) for v in expression.get("values") or ())
            )
        )
    return LabelSelector(tuple(requirements))


def format_label_selector(selector: Mapping[str, Any] | None) -> str:
    """The string form of a `metav1.LabelSelector`, as `Scale.status.selector` and `kubectl` print it."""
    if not selector:
        return ""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key"), expression.get("operator")
        values = ",".join(sorted(str(v) for v in expression.get("values") or ()))
        if operator == "In":
            parts.append(f"{key} in ({values})")
        elif operator == "NotIn":
            parts.append(f"{key} notin ({values})")
        elif operator == "Exists":
            parts.append(str(key))
        elif operator == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


FieldGetter = Callable[[Mapping[str, Any]], str]


def _path(*keys: str) -> FieldGetter:
    def get(obj: Mapping[str, Any]) -> str:
        current: Any = obj
        for key in keys:
            if not isinstance(current, Mapping):
                return ""
            current = current.get(key)
        if current is None:
            return ""
        if isinstance(current, bool):
            return "true" if current else "false"
        return str(current)

    return get


_COMMON_FIELDS: dict[str, FieldGetter] = {
    "metadata.name": _path("metadata", "name"),
    "metadata.namespace": _path("metadata", "namespace"),
}

# The extra field labels each kind's registry strategy registers (GetAttrs / field label conversion).
_KIND_FIELDS: dict[tuple[str, str], dict[str, FieldGetter]] = {
    ("", "Pod"): {
        "spec.nodeName": _path("spec", "nodeName"),
        "spec.restartPolicy": _path("spec", "restartPolicy"),
        "spec.schedulerName": _path("spec", "schedulerName"),
        "spec.serviceAccountName": _path("spec", "serviceAccountName"),
        "spec.hostNetwork": _path("spec", "hostNetwork"),
        "status.phase": _path("status", "phase"),
        "status.podIP": _path("status", "podIP"),
        "status.nominatedNodeName": _path("status", "nominatedNodeName"),
    },
    ("", "Event"): {
        **{
            f"involvedObject.{name}": _path("involvedObject", name)
            for name in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
        },
        "reason": _path("reason"),
        "reportingComponent": _path("reportingComponent"),
        "source": _path("source", "component"),
        "type": _path("type"),
    },
    ("", "Secret"): {"type": _path("type")},
    ("", "Namespace"): {"status.phase": _path("status", "phase")},
    ("", "Node"): {"spec.unschedulable": _path("spec", "unschedulable")},
    ("", "Service"): {"spec.clusterIP": _path("spec", "clusterIP"), "spec.type": _path("spec", "type")},
    ("apps", "ReplicaSet"): {"status.replicas": _path("status", "replicas")},
    ("batch", "Job"): {"status.successful": _path("status", "succeeded")},
}


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    getter: FieldGetter
    equal: bool
    value: str

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return (self.getter(obj) == self.value) == self.equal


@dataclass(frozen=True)
class FieldSelector:
    """A parsed `fieldSelector`: every requirement must hold."""

    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all(r.matches(obj) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements

    def exact(self, field: str) -> str | None:
        """The value an equality requirement pins `field` to, so a list can skip a scan."""
        for requirement in self.requirements:
            if requirement.field == field and requirement.equal:
                return requirement.value
        return None


def _split_unescaped(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def parse_field_selector(
    text: str | None, *, group: str, kind: str, extra_fields: tuple[str, ...] = ()
) -> FieldSelector:
    """Parse a `fieldSelector` for one kind; an unsupported field is a 400 BadRequest."""
    if text is None or not text.strip():
        return FieldSelector()
    known = dict(_COMMON_FIELDS)
    known.update(_KIND_FIELDS.get((group, kind), {}))
    for selectable in extra_fields:
        known[selectable] = _path(*selectable.lstrip(".").split("."))
    requirements: list[FieldRequirement] = []
    for part in _split_unescaped(text, ","):
        if not part:
            # fields.ParseSelector skips empty terms, so `metadata.name=x,` is accepted.
            continue
        match = re.match(r"^\s*([^=!\s]+)\s*(==|!=|=)(.*)$", part)
        if not match:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        name, operator, raw_value = match.groups()
        if name not in known:
            raise bad_request(f"field label not supported: {name}")
        requirements.append(
            FieldRequirement(name, known[name], operator != "!=", _unescape(raw_value.strip()))
        )
    return FieldSelector(tuple(requirements))
