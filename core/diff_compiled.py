"""A compiled fast path for the most common verdict: "this live object is in sync".

`core.diff.diff` explains drift field by field; it walks both objects in Python and costs tens of
microseconds for a Deployment. Most live events and every re-diff at start-up concern objects
that are in sync, so each desired object is compiled once into a straight-line Python function
that checks exactly its own fields with dictionary look-ups and `==`.

The checker is conservative: it answers True only when every field desired sets is equal to the
live one at the same place (keyed lists in the same order), and kubedrift's managedFields entry
owns nothing that desired no longer sets. Anything else (a difference, an unusual spelling,
a Secret) answers False, and the caller runs the full comparator, which alone decides and explains
drift. So the fast path can make a verdict faster but never different; a property test holds
it to that.

Objects of the same shape (same keys, list lengths and merge-key values) share one compiled
function; their leaf values are passed in as a tuple of constants.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, Final

from core.diff_rules import (
    IGNORE_ALL,
    MERGE_KEYS,
    OMITTED_WHEN_ZERO,
    QUANTITY_FIELDS,
    QUANTITY_MAPS,
    SET_LISTS,
    DiffRules,
    IgnoreTrie,
    element_identity,
    identity_fields,
    is_keyed_list,
)
from core.managedfields import applied_fields, element_trie_key
from core.quantity import same_quantity

Checker = Callable[[Mapping[str, Any]], bool]
_MISSING: Final = object()


def _never(live: Mapping[str, Any]) -> bool:
    return False


def compile_checker(desired: Mapping[str, Any], rules: DiffRules) -> Checker:
    """A function telling, cheaply, that `live` certainly matches `desired` (False: ask `diff`)."""
    if rules.secret:
        return _never  # Secrets compare through base64 and masking: always the full path
    builder = _ShapeBuilder()
    shape = builder.map_shape(desired, rules.ignore, "")
    if shape is None:
        return _never
    compiled = _compile(shape)
    constants = tuple(builder.constants)

    def check(live: Mapping[str, Any]) -> bool:
        return bool(compiled(live, applied_fields(live), constants))

    return check


# A shape is a hashable description of desired's structure. Nodes:
#   ("map", ((name, child), ...), allowed_owned_keys)
#   ("keyed", field, allowed_index, ((identity_index, trie_key_index, child_map), ...))
#   ("atomic", length, (child, ...))      a list compared element by element, no ownership inside
#   ("leaf", tag, const_index)            tag: "eq", "eq_or_absent", "quantity"
#   ("emptymap",)                         desired {}: live may be absent or any map
#   ("ownedonly", allowed)                a field desired lacks but the ignore rules touch


class _ShapeBuilder:
    def __init__(self) -> None:
        self.constants: list[Any] = []

    def map_shape(self, desired: Mapping[str, Any], ignore: IgnoreTrie, field: str) -> tuple[Any, ...] | None:
        children: list[tuple[str, Any]] = []
        allowed = {"."}
        for name, value in desired.items():
            sub_ignore = ignore.get(name) if ignore else None
            if sub_ignore is IGNORE_ALL:
                allowed.add("f:" + name)
                continue
            if value is None:
                continue  # an explicit null sets nothing, and owning it would be "removed in Git"
            allowed.add("f:" + name)
            child = self.value_shape(value, sub_ignore or {}, name, field)
            if child is None:
                return None
            children.append((name, child))
        for name, sub in (ignore or {}).items():
            if sub is IGNORE_ALL:
                allowed.add("f:" + name)
            elif desired.get(name) is None:
                # Desired lacks a field whose parts are ignored (kubedrift's own tracking annotation):
                # kubedrift may own the ignored parts of it and nothing else.
                allowed.add("f:" + name)
                ignored = frozenset({"."} | {"f:" + k for k, v in sub.items() if v is IGNORE_ALL})
                children.append((name, ("ownedonly", ignored)))
        return ("map", tuple(children), frozenset(allowed))

    def value_shape(self, value: Any, ignore: IgnoreTrie, field: str, owner: str) -> tuple[Any, ...] | None:
        if isinstance(value, dict):
            return ("emptymap",) if not value else self.map_shape(value, ignore, field)
        if isinstance(value, list):
            if field in SET_LISTS or ignore:
                return None
            if value and is_keyed_list(field, owner) and all(isinstance(v, dict) for v in value):
                return self.keyed_shape(value, field)
            if value and all(isinstance(v, dict) for v in value):
                elements = [self.value_shape(v, {}, field, owner) for v in value]
                if any(e is None for e in elements):
                    return None
                return ("atomic", len(value), tuple(elements))
            return self.leaf("eq_or_absent" if not value else "eq", value)
        if owner in QUANTITY_MAPS or field in QUANTITY_FIELDS:
            return self.leaf("quantity", value)
        if value == "" or (field in OMITTED_WHEN_ZERO and (value is False or value == 0)):
            return self.leaf("eq_or_absent", value)
        return self.leaf("eq", value)

    def keyed_shape(self, elements: list[Any], field: str) -> tuple[Any, ...] | None:
        # Merge-key values (container names...) are constants, not shape, so that every Deployment
        # with one container shares one compiled function whatever the container is called.
        items: list[tuple[int, int, Any]] = []
        trie_keys: set[str] = {"."}
        seen: set[Any] = set()
        for element in elements:
            identity = element_identity(element, field)
            if (
                identity is None
                or not all(isinstance(part, str | int) for part in identity)
                or identity in seen
            ):
                return None
            seen.add(identity)
            trie_key = element_trie_key(identity_fields(element, field))
            trie_keys.add(trie_key)
            identity_index = self.constant(identity)
            trie_key_index = self.constant(trie_key)
            child = self.map_shape(element, {}, field)
            if child is None:
                return None
            items.append((identity_index, trie_key_index, child))
        return ("keyed", field, self.constant(frozenset(trie_keys)), tuple(items))

    def constant(self, value: Any) -> int:
        self.constants.append(value)
        return len(self.constants) - 1

    def leaf(self, tag: str, value: Any) -> tuple[Any, ...]:
        return ("leaf", tag, self.constant(value))


@lru_cache(maxsize=2048)
def _compile(shape: tuple[Any, ...]) -> Callable[..., bool]:
    """Generate and compile the checker of one shape (cached: objects share shapes).

    The shape already holds what the ignore rules remove (skipped children, allowed owned keys),
    so equal shapes mean equal checks.
    """
    writer = _CodeWriter()
    writer.line("def check(live, owned, c):")
    writer.indent += 1
    writer.map_node(shape, "live", "owned")
    writer.line("return True")
    namespace: dict[str, Any] = {
        "M": _MISSING,
        "same_quantity": same_quantity,
        "element_identity": element_identity,
    }
    namespace.update(writer.globals)
    exec(compile("\n".join(writer.lines), "<kubedrift compiled checker>", "exec"), namespace)
    checker: Callable[..., bool] = namespace["check"]
    return checker


def _identity_expression(element: str, field: str) -> str:
    """Inline code computing `core.diff_rules.element_identity` of a live element (same result)."""
    if field == "ports":
        return f'({element}.get("containerPort", {element}.get("port")), {element}.get("protocol") or "TCP")'
    return "(" + "".join(f"{element}.get({key!r}), " for key in MERGE_KEYS[field]) + ")"


class _CodeWriter:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.indent = 0
        self.globals: dict[str, Any] = {}
        self._names = 0

    def line(self, text: str) -> None:
        self.lines.append("    " * self.indent + text)

    def name(self, prefix: str) -> str:
        self._names += 1
        return f"{prefix}{self._names}"

    def constant(self, value: Any) -> str:
        name = self.name("K")
        self.globals[name] = value
        return name

    def map_node(self, shape: tuple[Any, ...], live: str, owned: str) -> None:
        """Code for a desired map: `live` is known to be a dict, `owned` its trie node (or None)."""
        _, children, allowed = shape
        allowed_name = self.constant(allowed)
        self.owned_keys_within(owned, allowed_name)
        for name, child in children:
            key = repr(name)
            kind = child[0]
            if kind == "leaf":
                self.leaf(child, f"{live}.get({key}, M)")
                continue
            value = self.name("v")
            sub_owned = self.name("o")
            self.line(f"{sub_owned} = {owned}.get({'f:' + name!r}) if {owned} is not None else None")
            if kind == "ownedonly":
                self.owned_keys_within(sub_owned, self.constant(child[1]))
                continue
            self.line(f"{value} = {live}.get({key}, M)")
            if kind == "emptymap":
                self.line(f"if not ({value} is M or {value}.__class__ is dict): return False")
                self.line(f"if {sub_owned}: return False")
            elif kind == "map":
                self.line(f"if {value}.__class__ is not dict: return False")
                self.map_node(child, value, sub_owned)
            elif kind == "keyed":
                self.keyed(child, value, sub_owned)
            else:
                self.atomic(child, value)

    def owned_keys_within(self, owned: str, allowed: str) -> None:
        """kubedrift's Apply entry may own only what desired sets (rule 2); a malformed trie fails."""
        self.line(f"if {owned} is not None:")
        self.line(f"    if {owned}.__class__ is not dict or not {allowed}.issuperset({owned}): return False")

    def keyed(self, shape: tuple[Any, ...], live: str, owned: str) -> None:
        _, field, allowed_index, items = shape
        self.line(f"if {live}.__class__ is not list or len({live}) != {len(items)}: return False")
        self.owned_keys_within(owned, f"c[{allowed_index}]")
        for index, (identity_index, trie_key_index, child) in enumerate(items):
            element = self.name("e")
            sub_owned = self.name("o")
            self.line(f"{element} = {live}[{index}]")
            self.line(f"if {element}.__class__ is not dict: return False")
            self.line(f"if {_identity_expression(element, field)} != c[{identity_index}]: return False")
            self.line(f"{sub_owned} = {owned}.get(c[{trie_key_index}]) if {owned} is not None else None")
            self.map_node(child, element, sub_owned)

    def atomic(self, shape: tuple[Any, ...], live: str) -> None:
        _, length, elements = shape
        self.line(f"if {live}.__class__ is not list or len({live}) != {length}: return False")
        for index, child in enumerate(elements):
            element = self.name("e")
            self.line(f"{element} = {live}[{index}]")
            if child[0] == "leaf":
                self.leaf(child, element)
            elif child[0] == "emptymap":
                self.line(f"if {element}.__class__ is not dict: return False")
            else:
                self.line(f"if {element}.__class__ is not dict: return False")
                self.map_node(child, element, "None")

    def leaf(self, shape: tuple[Any, ...], expression: str) -> None:
        _, tag, index = shape
        value = self.name("x")
        self.line(f"{value} = {expression}")
        if tag == "eq":
            self.line(f"if {value} != c[{index}]: return False")
        elif tag == "eq_or_absent":
            self.line(f"if {value} is not M and {value} != c[{index}]: return False")
        else:  # quantity: the same amount may be spelled differently
            self.line(f"if {value} != c[{index}] and not same_quantity(c[{index}], {value}): return False")
