"""A compiled fast path for the most common verdict: "this live object is in sync".

`core.drift.comparator.diff` explains drift field by field; it walks both objects in Python and costs tens of
microseconds for a Deployment. Most live events and every re-diff at start-up concern objects
that are in sync, so each desired object is compiled once into a straight-line Python function
that checks exactly its own fields with dictionary look-ups and `==`.

The checker is conservative: it answers True only when every field desired sets is equal to the
live one at the same place (keyed lists in the same order), and kubedrift's managedFields entry
owns nothing that desired no longer sets. Anything else (a difference, an unusual spelling,
a Secret) answers False, and the caller runs the full comparator, which alone decides and explains
drift. So the fast path can make a verdict faster but never different; a property test holds
it to that.

The structure comes from the same schema as the comparator's (`DiffRules.schema`): list types and
keys, atomic maps, Quantity fields and struct zero values are decided once, when the shape is built,
so the generated code holds no schema look-ups. Objects of the same shape (same keys, list lengths
and schema decisions) share one compiled function; their leaf and key values are passed in as a
tuple of constants.

When the whole-object check says no, the drift usually sits in one top-level section (a label in
`metadata`, a value in `data`): each map section has its own compiled check too, and the full
comparator walks only the sections those could not vouch for (`CompiledCheck.drift`). A drifted
Deployment's label then costs a walk of its metadata, not of its whole pod template.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from core.drift.comparator import diff
from core.drift.keys import identity_trie_key, list_identity
from core.drift.last_applied import has_last_applied
from core.drift.managedfields import applied_fields
from core.drift.quantity import same_quantity
from core.drift.rules import IGNORE_ALL, DiffRules, IgnoreTrie, schema_for
from core.drift.secret_data import wanted_secret_data
from core.model import NO_DRIFT, Drift
from core.schema import FieldType, ListType, Shape

_MISSING: Final = object()
ValuesCheck = Callable[[Any, tuple[Any, ...]], bool]
"""Compiled: (live map, constants) -> True when every value desired sets is equal in live."""
OwnedCheck = Callable[[Any, tuple[Any, ...]], bool]
"""Compiled: (kubedrift's fieldsV1 node, constants) -> True when it owns nothing desired lacks."""


@dataclass(frozen=True, slots=True)
class _Ownership:
    """The ownership check of one shape, and the constants of one object it reads."""

    check: OwnedCheck
    reads: tuple[Any, ...]

    def passes(self, owned: Any, constants: tuple[Any, ...]) -> bool:
        """The check's verdict on trie `owned`, remembered for the trie object while it is cached.

        What kubedrift owns changes only when it applies, and the live cache shares one trie
        object among the objects and versions that own the same fields; so a check of a trie that
        passed before, by this object's checker or by an earlier one from another Git revision
        with the same keys, is a dictionary look-up.
        """
        key = (self, id(owned))
        if _OWNERSHIP_PASSED.get(key) is owned:
            return True
        if not self.check(owned, constants):
            return False
        if len(_OWNERSHIP_PASSED) >= OWNERSHIP_MEMO_LIMIT:
            _OWNERSHIP_PASSED.clear()
        _OWNERSHIP_PASSED[key] = owned  # held, so the id cannot be reused while remembered
        return True


OWNERSHIP_MEMO_LIMIT: Final = 1 << 17
_OWNERSHIP_PASSED: dict[tuple[_Ownership, int], Any] = {}


@dataclass(frozen=True, slots=True)
class _Section:
    name: str
    values: ValuesCheck
    owned: _Ownership


class CompiledCheck:
    """The compiled checks of one desired object: `check(live)` is True when it is certainly in sync.

    Values and ownership are checked by two generated functions; ownership verdicts are
    remembered per trie object (see `_Ownership.passes`), so most checks only compare values.
    """

    __slots__ = ("_constants", "_owned", "_sections", "_values", "desired", "rules")

    def __init__(
        self,
        desired: Mapping[str, Any],
        rules: DiffRules,
        root: tuple[ValuesCheck, _Ownership] | None = None,
        sections: tuple[_Section, ...] = (),
        constants: tuple[Any, ...] = (),
    ) -> None:
        self.desired = desired
        self.rules = rules
        self._values: ValuesCheck | None = root[0] if root is not None else None
        self._owned: _Ownership | None = root[1] if root is not None else None
        self._sections = sections
        self._constants = constants

    def __call__(self, live: Mapping[str, Any]) -> bool:
        if self._values is None or not self._values(live, self._constants):
            return False
        if has_last_applied(live):
            return False  # kubectl's client-side apply may own fields Git dropped: the comparator judges
        owned = applied_fields(live)
        return owned is None or (self._owned is not None and self._owned.passes(owned, self._constants))

    def sections_in_sync(self, live: Mapping[str, Any]) -> frozenset[str]:
        """The top-level fields (map sections) of desired that `live` certainly matches."""
        owned = applied_fields(live)
        if owned is not None and owned.__class__ is not dict:
            return frozenset()
        proven = []
        for section in self._sections:
            value = live.get(section.name)
            if value.__class__ is not dict or not section.values(value, self._constants):
                continue
            sub_owned = owned.get("f:" + section.name) if owned is not None else None
            if sub_owned is None and owned is not None:
                continue  # kubedrift owns nothing there: an atomic value in it may have been replaced
            if sub_owned is None or section.owned.passes(sub_owned, self._constants):
                proven.append(section.name)
        return frozenset(proven)

    def drift(self, live: Mapping[str, Any]) -> Drift:
        """What `core.drift.comparator.diff` says of `live`, the sections proven in sync left unwalked."""
        if self(live):
            return NO_DRIFT
        return diff(self.desired, live, self.rules, in_sync=self.sections_in_sync(live))


Checker = CompiledCheck


def compile_checker(desired: Mapping[str, Any], rules: DiffRules) -> CompiledCheck:
    """The compiled in-sync checks of `desired`; objects of one shape share the generated code."""
    builder = _ShapeBuilder()
    schema = schema_for(desired, rules)
    if rules.secret:
        shape = _secret_shape(builder, desired, rules, schema)
        if shape is None:
            return CompiledCheck(desired, rules)
        # No sections: a drifted Secret goes through the comparator's masking path whole.
        constants = tuple(builder.constants)
        return CompiledCheck(
            desired, rules, (_compile_values(shape), _ownership(shape, constants)), (), constants
        )
    shape = builder.map_shape(desired, rules.ignore, schema)
    if shape is None:
        return CompiledCheck(desired, rules)
    constants = tuple(builder.constants)
    sections = tuple(
        _Section(name, _compile_values(child), _ownership(child, constants))
        for name, child in shape[1]
        if child[0] == "map"
    )
    return CompiledCheck(
        desired, rules, (_compile_values(shape), _ownership(shape, constants)), sections, constants
    )


def _ownership(shape: tuple[Any, ...], constants: tuple[Any, ...]) -> _Ownership:
    check, reads = _compile_ownership(shape)
    return _Ownership(check, tuple(constants[index] for index in reads))


def _secret_shape(
    builder: _ShapeBuilder, desired: Mapping[str, Any], rules: DiffRules, schema: FieldType
) -> tuple[Any, ...] | None:
    """The shape of a Secret as the server keeps it: stringData folded into base64 `data`.

    None (the comparator judges) when the data is ignored in part.
    """
    if rules.ignore and ("data" in rules.ignore or "stringData" in rules.ignore):
        return None
    data = {name: encoded for name, (_, encoded) in wanted_secret_data(desired, rules.ignore).items()}
    stored = {name: value for name, value in desired.items() if name not in ("data", "stringData")}
    stored["data"] = data
    shape = builder.map_shape(stored, rules.ignore, schema)
    if shape is None or "stringData" not in desired:
        return shape
    # kubedrift's Apply entry lists the keys it sent as stringData under f:stringData.
    _, children, allowed = shape
    sent = frozenset({"."} | {"f:" + name for name in data})
    return ("map", (*children, ("stringData", ("ownedonly", sent))), allowed | {"f:stringData"})


# A shape is a hashable description of desired's structure, decided by the kind's schema. Nodes:
#   ("map", ((name, child), ...), allowed_owned_keys)
#   ("keyed", list_type, allowed_index, ((identity_index, trie_key_index, child_map), ...))
#   ("atomic", length, (child, ...))      an atomic list of objects, compared element by element
#   ("atomicmap", child_map)              an atomic map (label selector): desired's fields, in live
#   ("leaf", tag, const_index)            tag: "eq", "eq_or_absent", "quantity"
#   ("emptymap",)                         desired {}: live may be absent or any map
#   ("ownedonly", allowed)                a field desired lacks but the ignore rules touch
# An atomic value passes the ownership check only while kubedrift owns it: once another manager
# replaced it, its live-only fields are drift and the comparator judges.


class _ShapeBuilder:
    def __init__(self) -> None:
        self.constants: list[Any] = []

    def map_shape(
        self, desired: Mapping[str, Any], ignore: IgnoreTrie, ftype: FieldType
    ) -> tuple[Any, ...] | None:
        children: list[tuple[str, Any]] = []
        allowed = {"."}
        struct = ftype.shape is Shape.STRUCT
        for name, value in desired.items():
            sub_ignore = ignore.get(name) if ignore else None
            if sub_ignore is IGNORE_ALL:
                allowed.add("f:" + name)
                continue
            if value is None:
                continue  # an explicit null sets nothing, and owning it would be "removed in Git"
            allowed.add("f:" + name)
            struct_field = struct and name in ftype.fields
            if struct_field and value == "" and value.__class__ is str:
                continue  # left to the server (`clusterIP: ""`): nothing to check
            child = self.value_shape(value, sub_ignore or {}, ftype.child(name), struct_field)
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

    def value_shape(
        self, value: Any, ignore: IgnoreTrie, ftype: FieldType, struct_field: bool
    ) -> tuple[Any, ...] | None:
        ftype = ftype.resolved(value)
        if isinstance(value, dict):
            if not value:
                return ("emptymap",)
            if ftype.atomic:
                if ignore:
                    return None
                child = self.map_shape(value, {}, ftype)
                return None if child is None else ("atomicmap", child)
            return self.map_shape(value, ignore, ftype)
        if isinstance(value, list):
            if ftype.list_type is ListType.SET or ignore:
                return None
            all_maps = all(isinstance(v, dict) for v in value)
            if value and ftype.list_type is ListType.MAP and ftype.list_keys and all_maps:
                return self.keyed_shape(value, ftype)
            if value and all_maps:
                item = ftype.item()
                elements = [self.value_shape(v, {}, item, False) for v in value]
                if any(e is None or e[0] != "map" for e in elements):
                    return None
                return ("atomic", len(value), tuple(elements))
            if any(isinstance(v, dict | list) for v in value):
                return None
            return self.leaf("eq_or_absent" if not value else "eq", value)
        if ftype.quantity:
            return self.leaf("quantity", value)
        if struct_field and (value is False or (value.__class__ in (int, float) and value == 0)):
            return self.leaf("eq_or_absent", value)
        return self.leaf("eq", value)

    def keyed_shape(self, elements: list[Any], ftype: FieldType) -> tuple[Any, ...] | None:
        # Key values (container names...) are constants, not shape, so that every Deployment
        # with one container shares one compiled function whatever the container is called.
        items: list[tuple[int, int, Any]] = []
        trie_keys: set[str] = {"."}
        seen: set[Any] = set()
        item = ftype.item()
        for element in elements:
            identity = list_identity(element, ftype)
            if (
                identity is None
                or not all(isinstance(part, str | int) for part in identity)
                or identity in seen
            ):
                return None
            seen.add(identity)
            trie_key = identity_trie_key(ftype, identity)
            trie_keys.add(trie_key)
            identity_index = self.constant(identity)
            trie_key_index = self.constant(trie_key)
            child = self.map_shape(element, {}, item.resolved(element))
            if child is None:
                return None
            items.append((identity_index, trie_key_index, child))
        key_spec = tuple((key, ftype.key_defaults.get(key)) for key in ftype.list_keys)
        return ("keyed", key_spec, self.constant(frozenset(trie_keys)), tuple(items))

    def constant(self, value: Any) -> int:
        self.constants.append(value)
        return len(self.constants) - 1

    def leaf(self, tag: str, value: Any) -> tuple[Any, ...]:
        return ("leaf", tag, self.constant(value))


@lru_cache(maxsize=4096)
def _compile_values(shape: tuple[Any, ...]) -> ValuesCheck:
    """The values check of one shape (cached: objects share shapes)."""
    check, _ = _generate(shape, owned=False)
    return check


@lru_cache(maxsize=4096)
def _compile_ownership(shape: tuple[Any, ...]) -> tuple[OwnedCheck, tuple[int, ...]]:
    """The ownership check of one shape, and which of an object's constants it reads."""
    return _generate(shape, owned=True)


def _generate(shape: tuple[Any, ...], *, owned: bool) -> tuple[Callable[..., bool], tuple[int, ...]]:
    """Write and compile one check of a shape.

    The shape already holds what the ignore rules remove (skipped children, allowed owned keys),
    so equal shapes mean equal checks.
    """
    writer = _CodeWriter(owned=owned)
    writer.line("def check(owned, c):" if owned else "def check(live, c):")
    writer.indent += 1
    writer.map_node(shape, "live", "owned")
    writer.line("return True")
    namespace: dict[str, Any] = {"M": _MISSING, "same_quantity": same_quantity}
    namespace.update(writer.globals)
    exec(compile("\n".join(writer.lines), "<kubedrift compiled checker>", "exec"), namespace)
    check: Callable[..., bool] = namespace["check"]
    return check, tuple(writer.reads)


def _identity_expression(element: str, key_spec: tuple[tuple[str, Any], ...]) -> str:
    """Inline code computing `core.drift.keys.list_identity` of a live element.

    Equal to it wherever it matters: desired's identity is all scalars, so a live element whose
    identity differs, or is None, gives a different tuple here too."""
    parts = []
    for key, default in key_spec:
        if default is None:
            parts.append(f"{element}.get({key!r}), ")
        else:
            parts.append(f"({element}.get({key!r}) if {element}.get({key!r}) is not None else {default!r}), ")
    return "(" + "".join(parts) + ")"


class _CodeWriter:
    """Writes one of a shape's two checks: of the values (`owned=False`) or of the ownership trie."""

    def __init__(self, *, owned: bool) -> None:
        self.lines: list[str] = []
        self.indent = 0
        self.globals: dict[str, Any] = {}
        self.owned = owned
        self.reads: list[int] = []
        """Indices of the object's constants the code reads (`c[i]`)."""
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
        if self.owned:
            self.owned_keys_within(owned, self.constant(allowed))
        for name, child in children:
            key = repr(name)
            kind = child[0]
            if kind == "leaf":
                if not self.owned:
                    self.leaf(child, f"{live}.get({key}, M)")
                continue
            value = self.name("v")
            sub_owned = self.name("o")
            if self.owned:
                self.line(f"{sub_owned} = {owned}.get({'f:' + name!r}) if {owned} is not None else None")
            else:
                self.line(f"{value} = {live}.get({key}, M)")
            if kind == "ownedonly":
                if self.owned:
                    self.owned_keys_within(sub_owned, self.constant(child[1]))
                else:
                    # Not a map in live: if kubedrift owns it, the comparator judges it removed.
                    self.line(f"if {value} is not M and {value}.__class__ is not dict: return False")
            elif kind == "emptymap":
                if self.owned:
                    self.line(f"if {sub_owned}: return False")
                else:
                    self.line(f"if not ({value} is M or {value}.__class__ is dict): return False")
            elif kind == "map":
                if not self.owned:
                    self.line(f"if {value}.__class__ is not dict: return False")
                self.map_node(child, value, sub_owned)
            elif kind == "keyed":
                self.keyed(child, value, sub_owned)
            elif self.owned:
                # atomic values: kubedrift must still own them whole (see the shape notes)
                self.line(f"if {sub_owned} is None: return False")
            elif kind == "atomicmap":
                self.line(f"if {value}.__class__ is not dict: return False")
                self.map_node(child[1], value, "None")
            else:
                self.atomic(child, value)

    def owned_keys_within(self, owned: str, allowed: str) -> None:
        """kubedrift's Apply entry may own only what desired sets (rule 2); a malformed trie fails."""
        self.line(f"if {owned} is not None:")
        self.line(f"    if {owned}.__class__ is not dict or not {allowed}.issuperset({owned}): return False")

    def keyed(self, shape: tuple[Any, ...], live: str, owned: str) -> None:
        _, key_spec, allowed_index, items = shape
        if self.owned:
            self.reads.append(allowed_index)
            self.owned_keys_within(owned, f"c[{allowed_index}]")
        else:
            self.line(f"if {live}.__class__ is not list or len({live}) != {len(items)}: return False")
        for index, (identity_index, trie_key_index, child) in enumerate(items):
            element = self.name("e")
            sub_owned = self.name("o")
            if self.owned:
                self.reads.append(trie_key_index)
                self.line(f"{sub_owned} = {owned}.get(c[{trie_key_index}]) if {owned} is not None else None")
            else:
                self.line(f"{element} = {live}[{index}]")
                self.line(f"if {element}.__class__ is not dict: return False")
                self.line(
                    f"if {_identity_expression(element, key_spec)} != c[{identity_index}]: return False"
                )
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
