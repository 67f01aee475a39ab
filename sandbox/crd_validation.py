"""Custom resources validated against their CRD's structural schema, as the apiextensions-apiserver does.

The order and wording follow the real path (customResourceStrategy.Validate and ValidateUpdate):
1. the OpenAPI value checks of kube-openapi's validator (type, enum, bounds, lengths, pattern, items,
   properties, required), turned into field errors as kubeOpenAPIResultToFieldErrors words them;
2. the scale subresource's replica paths;
3. `x-kubernetes-list-type` set and map uniqueness;
4. `x-kubernetes-validations` rules (sandbox.crd_rules), only when nothing above is a blocking error.
An update ratchets (CRDValidationRatcheting, on since 1.30): a value equal to the stored one is not
checked again, so an object stored before a schema got stricter can still be edited elsewhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Protocol

from sandbox import crd_causes as causes
from sandbox.crd_causes import BLOCKING, Cause, go_float, go_quote
from sandbox.crd_rules import has_rules, rule_causes, same_value
from sandbox.errors import StatusError, invalid
from sandbox.kinds import ResourceType

_MISSING = object()
_IN = "body"
_RULES_SKIPPED = (
    "some validation rules were not checked because the object was invalid; "
    "correct the existing errors to complete validation"
)


class PriorError(Protocol):
    """A field error found before the schema checks (metadata, immutable fields): path and body."""

    @property
    def field(self) -> str: ...

    @property
    def detail(self) -> str: ...


def validate_custom_resource(
    obj: dict[str, Any],
    resource_type: ResourceType,
    old: dict[str, Any] | None,
    prior: Sequence[PriorError] = (),
) -> None:
    """Raise one 422 Invalid with the causes of `prior` and of the schema, or return when valid."""
    schema = resource_type.schema
    found: list[Cause] = [Cause(e.field, causes.reason_of(e.detail), e.detail) for e in prior]
    if schema:
        old_root: Any = _MISSING if old is None else old
        found.extend(_schema_causes(obj, schema, "", old_root))
        found.extend(_scale_causes(obj, resource_type))
        if old is None or not _list_type_causes(old, schema, ""):
            found.extend(_list_type_causes(obj, schema, ""))
        # Only a schema with rules has a CEL validator, which a blocking error skips with a cause
        # of its own (customResourceStrategy.Validate).
        if has_rules(schema) and any(c.reason in BLOCKING for c in found):
            found.append(causes.invalid("<nil>", None, _RULES_SKIPPED))
        elif has_rules(schema):
            found.extend(rule_causes(obj, schema, old))
    if found:
        raise invalid_custom_resource(resource_type, str(obj["metadata"].get("name") or ""), found)


def invalid_custom_resource(resource_type: ResourceType, name: str, found: list[Cause]) -> StatusError:
    """The 422 for these causes, each with its own reason (a type error is FieldValueTypeInvalid,
    which its body's prefix alone would not tell)."""
    error = invalid(resource_type.kind, name, [(c.field, c.body) for c in found], group=resource_type.group)
    assert error.details is not None
    for cause, status_cause in zip(found, error.details["causes"], strict=True):
        status_cause["reason"] = cause.reason
    return error


# ---- OpenAPI value validation (kube-openapi's SchemaValidator) ----


def json_type(value: Any) -> str:
    """The JSON schema type of a decoded value (what kube-openapi's schemaInfoForType infers)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _types(schema: dict[str, Any]) -> list[str]:
    if schema.get("x-kubernetes-int-or-string"):
        return ["integer", "string"]
    declared = schema.get("type")
    return [str(declared)] if declared else []


def _name(path: str, key: str) -> str:
    """A property's name in kube-openapi messages: dotted, without a leading dot at the root."""
    return f"{path}.{key}" if path else key


def _field(name: str) -> str:
    return name[1:] if name.startswith(".") else name


def _schema_causes(value: Any, schema: dict[str, Any], path: str, old: Any) -> list[Cause]:
    """The value checks of one schema node and everything under it; `old` is the stored value at the
    same place (or _MISSING), and a value equal to it is not checked again (ratcheting)."""
    if old is not _MISSING and same_value(value, old):
        return []
    found: list[Cause] = []
    field = _field(path)
    types = _types(schema)
    if value is None:
        if types and not schema.get("nullable"):
            found.append(_type_cause(field, path, types, "null"))
        found.extend(_enum_causes(value, schema, field, path))
        return found
    kind = json_type(value)
    if types and not _type_matches(kind, value, types):
        found.append(_type_cause(field, path, types, kind))
    found.extend(_composition_causes(value, schema, path, field))
    if kind == "string":
        found.extend(_string_causes(value, schema, field, path))
    elif kind in ("integer", "number"):
        found.extend(_number_causes(value, schema, field, path))
    elif kind == "array":
        found.extend(_array_causes(value, schema, field, path, old))
    found.extend(_enum_causes(value, schema, field, path))
    if kind == "object":
        found.extend(_object_causes(value, schema, field, path, old))
    return found


def _type_matches(kind: str, value: Any, types: list[str]) -> bool:
    if kind in types:
        return True
    if kind == "number" and "integer" in types:
        return float(value).is_integer()
    return kind == "integer" and "number" in types


def _type_cause(field: str, path: str, types: list[str], kind: str) -> Cause:
    detail = f"{path} in {_IN} must be of type {','.join(types)}: {go_quote(kind)}"
    return causes.type_invalid(field, kind, detail)


def _composition_causes(value: Any, schema: dict[str, Any], path: str, field: str) -> list[Cause]:
    """allOf, anyOf, oneOf and not (schemaPropsValidator). Their own errors are composite errors,
    which become causes on no field ("<nil>") with an empty value."""
    found: list[Cause] = []

    def composite(message: str) -> Cause:
        return causes.invalid("<nil>", "", message)

    any_of = [_schema_causes(value, sub, path, _MISSING) for sub in schema.get("anyOf") or []]
    if any_of and all(any_of):
        found.append(composite(f"{go_quote(path)} must validate at least one schema (anyOf)"))
        found.extend(_fewest(any_of))
    one_of = [_schema_causes(value, sub, path, _MISSING) for sub in schema.get("oneOf") or []]
    valid = sum(not result for result in one_of)
    if one_of and valid != 1:
        found_text = "Found none valid" if not valid else f"Found {valid} valid alternatives"
        message = f"{go_quote(path)} must validate one and only one schema (oneOf). {found_text}"
        found.append(composite(message))
        if not valid:
            found.extend(_fewest(one_of))
    all_of = [_schema_causes(value, sub, path, _MISSING) for sub in schema.get("allOf") or []]
    for result in all_of:
        found.extend(result)
    failed = sum(bool(result) for result in all_of)
    if failed:
        none = ". None validated" if failed == len(all_of) else ""
        found.append(composite(f"{go_quote(path)} must validate all the schemas (allOf){none}"))
    negated = schema.get("not")
    if isinstance(negated, dict) and not _schema_causes(value, negated, path, _MISSING):
        found.append(composite(f"{go_quote(path)} must not validate the schema (not)"))
    return found


def _fewest(results: list[list[Cause]]) -> list[Cause]:
    """The errors of the alternative that came closest (kube-openapi keeps the best failure)."""
    return sorted(results, key=len)[0]


def _string_causes(value: str, schema: dict[str, Any], field: str, path: str) -> list[Cause]:
    """maxLength, minLength and pattern; only the first that fails is reported (stringValidator)."""
    length = len(value)
    max_length = schema.get("maxLength")
    if isinstance(max_length, int) and length > max_length:
        return [causes.too_long(field, max_length)]
    min_length = schema.get("minLength")
    if isinstance(min_length, int) and length < min_length:
        return [causes.invalid(field, value, f"{path} in {_IN} should be at least {min_length} chars long")]
    pattern = schema.get("pattern")
    if isinstance(pattern, str) and not _pattern_matches(pattern, value):
        return [causes.invalid(field, value, f"{path} in {_IN} should match '{pattern}'")]
    return []


_PATTERNS: dict[str, re.Pattern[str] | None] = {}


def _pattern_matches(pattern: str, value: str) -> bool:
    """A pattern searched anywhere in the value, as Go's regexp.MatchString does (one Python's re
    cannot compile is not enforced)."""
    if pattern not in _PATTERNS:
        if len(_PATTERNS) > 1024:
            _PATTERNS.clear()
        try:
            _PATTERNS[pattern] = re.compile(pattern)
        except re.error:
            _PATTERNS[pattern] = None
    compiled = _PATTERNS[pattern]
    return compiled is None or compiled.search(value) is not None


def _number_causes(value: float, schema: dict[str, Any], field: str, path: str) -> list[Cause]:
    """multipleOf, minimum and maximum, in the order numberValidator merges them."""
    found: list[Cause] = []
    multiple = schema.get("multipleOf")
    if isinstance(multiple, int | float) and multiple and not _is_multiple(value, multiple):
        detail = f"{path} in {_IN} should be a multiple of {go_float(float(multiple))}"
        found.append(causes.invalid(field, value, detail))
    minimum = schema.get("minimum")
    if isinstance(minimum, int | float) and not isinstance(minimum, bool):
        exclusive = bool(schema.get("exclusiveMinimum"))
        if value < minimum or (exclusive and value == minimum):
            words = "greater than" if exclusive else "greater than or equal to"
            detail = f"{path} in {_IN} should be {words} {go_float(minimum)}"
            found.append(causes.invalid(field, value, detail))
    maximum = schema.get("maximum")
    if isinstance(maximum, int | float) and not isinstance(maximum, bool):
        exclusive = bool(schema.get("exclusiveMaximum"))
        if value > maximum or (exclusive and value == maximum):
            words = "less than" if exclusive else "less than or equal to"
            detail = f"{path} in {_IN} should be {words} {go_float(maximum)}"
            found.append(causes.invalid(field, value, detail))
    return found


def _is_multiple(value: float, factor: float) -> bool:
    if isinstance(value, int) and isinstance(factor, int):
        return value % factor == 0
    quotient = value / factor
    return abs(quotient - round(quotient)) < 1e-9


def _array_causes(value: list[Any], schema: dict[str, Any], field: str, path: str, old: Any) -> list[Cause]:
    """Items first, then minItems, maxItems and uniqueItems (schemaSliceValidator)."""
    found: list[Cause] = []
    items = schema.get("items")
    if isinstance(items, dict):
        correlated = _correlate_items(value, old, schema)
        for index, item in enumerate(value):
            found.extend(_schema_causes(item, items, f"{path}[{index}]", correlated[index]))
    size = len(value)
    min_items = schema.get("minItems")
    if isinstance(min_items, int) and size < min_items:
        found.append(causes.invalid(field, size, f"{path} in {_IN} should have at least {min_items} items"))
    max_items = schema.get("maxItems")
    if isinstance(max_items, int) and size > max_items:
        found.append(causes.too_many(field, size, max_items))
    if schema.get("uniqueItems") and _has_duplicates(value):
        found.append(causes.invalid(field, "", f"{path} in {_IN} shouldn't contain duplicates"))
    return found


def _correlate_items(value: list[Any], old: Any, schema: dict[str, Any]) -> list[Any]:
    """The stored item each new item ratchets against: only a list-type map's items correlate, by
    their keys; other lists are compared whole (done by the caller)."""
    keys = schema.get("x-kubernetes-list-map-keys") or []
    if schema.get("x-kubernetes-list-type") != "map" or not keys or not isinstance(old, list):
        return [_MISSING] * len(value)
    by_key = {_map_key(item, keys): item for item in old if isinstance(item, dict)}
    return [by_key.get(_map_key(i, keys), _MISSING) if isinstance(i, dict) else _MISSING for i in value]


def _map_key(item: dict[str, Any], keys: list[str]) -> str:
    return json.dumps([item.get(k) for k in keys], sort_keys=True)


def _has_duplicates(value: list[Any]) -> bool:
    seen = [json.dumps(v, sort_keys=True) for v in value]
    return len(set(seen)) != len(seen)


def _enum_causes(value: Any, schema: dict[str, Any], field: str, path: str) -> list[Cause]:
    enum = schema.get("enum")
    if not enum or any(_enum_equal(value, allowed) for allowed in enum):
        return []
    allowed = [a if isinstance(a, str) else json.dumps(a, separators=(",", ":")) for a in enum]
    return [causes.not_supported(field, value, allowed)]


def _enum_equal(value: Any, allowed: Any) -> bool:
    if isinstance(value, bool) or isinstance(allowed, bool):
        return value is allowed
    if isinstance(value, int | float) and isinstance(allowed, int | float):
        return bool(value == allowed)
    return same_value(value, allowed)


def _object_causes(
    value: dict[str, Any], schema: dict[str, Any], field: str, path: str, old: Any
) -> list[Cause]:
    """Property counts, additional and declared properties, then required (objectValidator)."""
    found: list[Cause] = []
    old_map = old if isinstance(old, dict) else {}
    size = len(value)
    min_properties = schema.get("minProperties")
    if isinstance(min_properties, int) and size < min_properties:
        detail = f"{path} in {_IN} should have at least {min_properties} properties"
        found.append(causes.invalid(field, size, detail))
    max_properties = schema.get("maxProperties")
    if isinstance(max_properties, int) and size > max_properties:
        found.append(causes.too_many(field, size, max_properties))
    properties: dict[str, Any] = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        for key, item in value.items():
            if key not in properties:
                found.extend(_schema_causes(item, additional, f"{path}.{key}", old_map.get(key, _MISSING)))
    for key, sub_schema in properties.items():
        if key in value and isinstance(sub_schema, dict):
            found.extend(_schema_causes(value[key], sub_schema, _name(path, key), old_map.get(key, _MISSING)))
    for key in schema.get("required") or []:
        if key not in value:
            found.append(causes.required(_field(f"{path}.{key}")))
    return found


# ---- scale subresource and list types ----


def _scale_causes(obj: dict[str, Any], resource_type: ResourceType) -> list[Cause]:
    """The replica paths of the scale subresource must hold non-negative int32s (ValidateScaleSpec
    and ValidateScaleStatus); the field is the JSON path as the CRD writes it."""
    paths = resource_type.scale_paths
    if paths is None:
        return []
    found: list[Cause] = []
    for json_path in (paths.spec_replicas, paths.status_replicas):
        current: Any = obj
        for part in json_path.lstrip(".").split("."):
            current = current.get(part) if isinstance(current, dict) else None
        if current is None:
            continue
        if isinstance(current, bool) or not isinstance(current, int):
            go_type = {"string": "string", "number": "float64", "boolean": "bool"}.get(
                json_type(current), "map[string]interface {}"
            )
            shown = go_float(current) if isinstance(current, float) else current
            detail = f"{json_path} accessor error: {shown} is of the type {go_type}, expected int64"
            found.append(causes.invalid(json_path, 0, detail))
        elif current < 0:
            found.append(causes.invalid(json_path, current, "should be a non-negative integer"))
        elif current > 2**31 - 1:
            found.append(causes.invalid(json_path, current, f"should be less than or equal to {2**31 - 1}"))
    return found


def _list_type_causes(value: Any, schema: dict[str, Any], path: str) -> list[Cause]:
    """Duplicates in `x-kubernetes-list-type: set` and `map` lists (ValidateListSetsAndMaps), with
    field paths as field.Path prints them (`spec.tags[1]`, a map entry as `[key]`)."""
    found: list[Cause] = []
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for key, item in value.items():
            if key in properties:
                found.extend(_list_type_causes(item, properties[key], _name(path, key)))
            elif isinstance(additional, dict):
                found.extend(_list_type_causes(item, additional, f"{path}[{key}]"))
    elif isinstance(value, list):
        list_type = schema.get("x-kubernetes-list-type")
        if list_type == "set":
            for index in _repeated([json.dumps(v, sort_keys=True) for v in value]):
                found.append(causes.duplicate(f"{path}[{index}]", value[index]))
        elif list_type == "map":
            keys = list(schema.get("x-kubernetes-list-map-keys") or [])
            entries = [
                {k: item[k] for k in keys if k in item} if isinstance(item, dict) else {} for item in value
            ]
            for index in _repeated([json.dumps(e, sort_keys=True) for e in entries]):
                found.append(causes.duplicate(f"{path}[{index}]", entries[index]))
        items = schema.get("items")
        if isinstance(items, dict):
            for index, item in enumerate(value):
                found.extend(_list_type_causes(item, items, f"{path}[{index}]"))
    return found


def _repeated(encoded: list[str]) -> list[int]:
    """The index of each value's second occurrence (the real check reports each repeat once)."""
    seen: dict[str, int] = {}
    repeats: list[int] = []
    for index, text in enumerate(encoded):
        seen[text] = seen.get(text, 0) + 1
        if seen[text] == 2:
            repeats.append(index)
    return repeats
