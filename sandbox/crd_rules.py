"""`x-kubernetes-validations` CEL rules of a CRD schema, evaluated with cel-python (module `celpy`).

As the apiextensions-apiserver's CEL validator does: rules run at each schema node that has them, with
`self` bound to the value there and `oldSelf` to the stored value at the same place on an update (a
transition rule, one that uses `oldSelf`, runs only then). A failing rule is `<path>: Invalid value:
"<type>": <message>`, or the cause its `reason` names, at `fieldPath` when given; the message is
`message`, or `messageExpression` evaluated, or "failed rule: <rule>".

Values are typed by the schema, as the real CEL environment types them: `number` fields are doubles,
`integer` fields ints. Kubernetes' string extension functions that CRD rules commonly use (lowerAscii,
split, join, ...) are provided. Not supported: optional types (`?.`, `optionalOldSelf` without an old
value), the Kubernetes quantity/URL/IP libraries, cost budgets, and compile-time type checking (a
rule that does not compile fails when it is evaluated instead of when the CRD is written).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sandbox import crd_causes as causes
from sandbox.crd_causes import Cause

if TYPE_CHECKING:
    import celpy

_MISSING = object()
_environment: celpy.Environment | None = None
_programs: dict[str, Any] = {}
_MAX_PROGRAMS = 512


def rule_causes(obj: dict[str, Any], schema: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    """The causes of every failing rule in the object (none when the schema has no rules)."""
    if not has_rules(schema):
        return []
    return _walk(obj, schema, "", _MISSING if old is None else old)


def same_value(new: Any, old: Any) -> bool:
    """Equal as decoded JSON, where 1, 1.0 and true are three different values (reflect.DeepEqual)."""
    if type(new) is not type(old):
        return False
    if isinstance(new, dict):
        return new.keys() == old.keys() and all(same_value(v, old[k]) for k, v in new.items())
    if isinstance(new, list):
        return len(new) == len(old) and all(same_value(a, b) for a, b in zip(new, old, strict=True))
    return bool(new == old)


def has_rules(schema: Any) -> bool:
    """Whether any node of the schema has x-kubernetes-validations."""
    if not isinstance(schema, dict):
        return False
    if schema.get("x-kubernetes-validations"):
        return True
    children = list((schema.get("properties") or {}).values())
    children += [schema.get("items"), schema.get("additionalProperties")]
    return any(has_rules(child) for child in children)


def _walk(value: Any, schema: dict[str, Any], path: str, old: Any) -> list[Cause]:
    if value is None:
        return []
    if old is not _MISSING and same_value(value, old):
        # Ratcheting: a failing rule on an unchanged value is only a warning on a real server.
        return []
    found = _evaluate(value, schema, path, old)
    if isinstance(value, dict):
        old_map = old if isinstance(old, dict) else {}
        properties: dict[str, Any] = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for key, item in value.items():
            if key in properties and isinstance(properties[key], dict):
                child = f"{path}.{key}" if path else key
                found.extend(_walk(item, properties[key], child, old_map.get(key, _MISSING)))
            elif isinstance(additional, dict):
                found.extend(_walk(item, additional, f"{path}[{key}]", old_map.get(key, _MISSING)))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            found.extend(_walk(item, schema["items"], f"{path}[{index}]", _MISSING))
    return found


def _evaluate(value: Any, schema: dict[str, Any], path: str, old: Any) -> list[Cause]:
    found: list[Cause] = []
    rules = schema.get("x-kubernetes-validations") or []
    if not rules:
        return found
    type_name = str(schema.get("type") or "")
    field = path or "<nil>"
    activation: dict[str, Any] = {"self": to_cel(value, schema)}
    if old is not _MISSING:
        activation["oldSelf"] = to_cel(old, schema)
    for rule in rules:
        text = str(rule.get("rule") or "").strip()
        if not text:
            continue
        if _uses_old_self(text) and old is _MISSING:
            continue
        described = str(rule.get("message") or "").strip() or text
        program = _program(text)
        if isinstance(program, Exception):
            found.append(causes.invalid(field, type_name, f"rule compile error: {_error_text(program)}"))
            continue
        try:
            result = program.evaluate(activation)
        except Exception as error:
            found.append(causes.invalid(field, type_name, _evaluation_error(error, described)))
            continue
        if _is_true(result):
            continue
        if _is_error(result):
            found.append(causes.invalid(field, type_name, _evaluation_error(result, described)))
            continue
        target = _with_field_path(field, str(rule.get("fieldPath") or ""))
        message = _message(rule, activation) or (
            str(rule.get("message")).strip() if rule.get("message") else f"failed rule: {text}"
        )
        found.append(_cause_for_reason(target, type_name, message, rule.get("reason")))
    return found


def _uses_old_self(text: str) -> bool:
    return re.search(r"\boldSelf\b", text) is not None


def _with_field_path(field: str, field_path: str) -> str:
    """A rule's `fieldPath` (`.spec.x`, `.x['y']`) appended to where the rule sits."""
    relative = field_path.strip()
    if not relative:
        return field
    relative = re.sub(r"\['([^']*)'\]", r".\1", relative).lstrip(".")
    return f"{field}.{relative}" if field != "<nil>" else relative


def _cause_for_reason(field: str, type_name: str, message: str, reason: Any) -> Cause:
    if reason == "FieldValueForbidden":
        return causes.forbidden(field, message)
    if reason == "FieldValueRequired":
        return causes.required(field, message)
    if reason == "FieldValueDuplicate":
        return causes.duplicate(field, type_name)
    return causes.invalid(field, type_name, message)


def _message(rule: dict[str, Any], activation: dict[str, Any]) -> str | None:
    """The messageExpression's string, trimmed; None when absent or unusable (a real server then
    falls back to the static message)."""
    expression = str(rule.get("messageExpression") or "").strip()
    if not expression:
        return None
    program = _program(expression)
    if isinstance(program, Exception):
        return None
    try:
        result = program.evaluate(activation)
    except Exception:
        return None
    if not isinstance(result, str):
        return None
    message = result.strip()
    return message if message and "\n" not in message else None


def _is_true(result: Any) -> bool:
    import celpy.celtypes as celtypes

    return isinstance(result, celtypes.BoolType) and bool(result)


def _is_error(result: Any) -> bool:
    from celpy.evaluation import CELEvalError

    return isinstance(result, CELEvalError)


def _error_text(error: BaseException) -> str:
    return str(error.args[0]) if error.args else str(error)


def _evaluation_error(error: Any, described: str) -> str:
    """A runtime error as the validator reports it: `<error> evaluating rule: <rule>`, with cel-go's
    wording for the common ones."""
    text = _error_text(error) if isinstance(error, BaseException) else str(error)
    missing = re.match(r"no such member in mapping: '(.*)'", text)
    if missing:
        return f"no such key: {missing.group(1)} evaluating rule: {described}"
    if "no matching overload" in text or "no such overload" in text:
        return (
            "'no such overload': call arguments did not match a supported operator, function or macro "
            f"signature for rule: {described}"
        )
    if "divide by zero" in text:
        text = "division by zero"
    elif "index out of range" in text or "list index" in text:
        text = "index out of bounds"
    return f"{text} evaluating rule: {described}"


def _program(text: str) -> Any:
    """A compiled rule, cached by its text (the exception when it does not compile)."""
    global _environment
    cached = _programs.get(text)
    if cached is not None:
        return cached
    import celpy

    if _environment is None:
        _environment = celpy.Environment()
    program: Any
    try:
        program = _environment.program(_environment.compile(text), functions=_extension_functions())
    except Exception as error:
        program = error
    if len(_programs) >= _MAX_PROGRAMS:
        _programs.clear()
    _programs[text] = program
    return program


def to_cel(value: Any, schema: dict[str, Any] | None) -> Any:
    """A decoded JSON value as a CEL value, typed by its schema node."""
    import celpy.celtypes as celtypes

    schema = schema if isinstance(schema, dict) else {}
    declared = schema.get("type")
    if value is None:
        return None
    if isinstance(value, bool):
        return celtypes.BoolType(value)
    if isinstance(value, int):
        return celtypes.DoubleType(float(value)) if declared == "number" else celtypes.IntType(value)
    if isinstance(value, float):
        if declared == "integer" and value.is_integer():
            return celtypes.IntType(int(value))
        return celtypes.DoubleType(value)
    if isinstance(value, str):
        return celtypes.StringType(value)
    if isinstance(value, list):
        items = schema.get("items")
        return celtypes.ListType([to_cel(item, items) for item in value])
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        return celtypes.MapType(
            {
                celtypes.StringType(key): to_cel(
                    item, properties.get(key) or (additional if isinstance(additional, dict) else None)
                )
                for key, item in value.items()
            }
        )
    return value


def _extension_functions() -> dict[str, Callable[..., Any]]:
    """The parts of cel-go's strings extension (and Kubernetes' lists library) that CRD rules use."""
    import celpy.celtypes as celtypes

    def string(value: Any) -> Any:
        return celtypes.StringType(value)

    def split(text: Any, separator: Any, limit: Any = -1) -> Any:
        count = int(limit)
        if count == 0:
            return celtypes.ListType([])
        parts = str(text).split(str(separator), count - 1) if count > 0 else str(text).split(str(separator))
        return celtypes.ListType([string(p) for p in parts])

    def replace(text: Any, old: Any, new: Any, limit: Any = -1) -> Any:
        return string(str(text).replace(str(old), str(new), int(limit)))

    def index_of(target: Any, item: Any, start: Any = 0) -> Any:
        if isinstance(target, list):
            return celtypes.IntType(next((i for i, v in enumerate(target) if v == item), -1))
        return celtypes.IntType(str(target).find(str(item), int(start)))

    def last_index_of(target: Any, item: Any) -> Any:
        if isinstance(target, list):
            found = [i for i, v in enumerate(target) if v == item]
            return celtypes.IntType(found[-1] if found else -1)
        return celtypes.IntType(str(target).rfind(str(item)))

    def join(items: Any, separator: Any = "") -> Any:
        return string(str(separator).join(str(item) for item in items))

    def substring(text: Any, start: Any, end: Any = None) -> Any:
        value = str(text)
        return string(value[int(start) :] if end is None else value[int(start) : int(end)])

    def char_at(text: Any, index: Any) -> Any:
        value = str(text)
        return string(value[int(index)] if int(index) < len(value) else "")

    def is_sorted(items: Any) -> Any:
        return celtypes.BoolType(all(a <= b for a, b in zip(items, list(items)[1:], strict=False)))

    return {
        "lowerAscii": lambda text: string(str(text).lower()),
        "upperAscii": lambda text: string(str(text).upper()),
        "trim": lambda text: string(str(text).strip()),
        "split": split,
        "replace": replace,
        "indexOf": index_of,
        "lastIndexOf": last_index_of,
        "join": join,
        "substring": substring,
        "charAt": char_at,
        "isSorted": is_sorted,
        "sum": lambda items: sum(items[1:], items[0]) if items else celtypes.IntType(0),
        "min": lambda items: min(items),
        "max": lambda items: max(items),
    }
