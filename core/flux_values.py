"""What Flux reads from ConfigMaps and Secrets: a Kustomization's post-build variables and a
HelmRelease's values.

Both are resolved once, when the apps are read, from the ConfigMaps and Secrets of the included files
or, for apps read from a cluster, from that cluster (`core.live_include`). Each reference names an
object in the Flux object's own namespace, as Flux allows no other.

`postBuild.substituteFrom` (fluxcd/pkg `kustomize` `SubstituteVariables`): each ConfigMap's `data` and
each Secret's decoded `data`, in the order listed, a later one replacing an earlier one's variable;
then `postBuild.substitute` over them all. Newlines are dropped from every value. A missing object
is skipped when its reference is `optional`, else it is the app's error, as it fails Flux's
reconciliation. Variable names must be Flux's (`^[_[:alpha:]][_[:alpha:][:digit:]]*$`).

`valuesFrom` (helm-controller `ChartValuesFromReferences`): each reference's `valuesKey`
(`values.yaml` by default) is read as a YAML map of values and merged into those before it (maps
key by key, anything else replacing), or, with `targetPath`, set at that path as Helm's `--set`
reads `targetPath=<value>` (`--set-string` when the value is quoted); then `values` is merged over
them all. A missing object or key is skipped when `optional`, else it is the app's error.

A Secret's values never reach a message: an error names the Secret, its key and the field, never
what it holds.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from core.config_yaml import YamlField
from core.flux_substitute import invalid_variable_names
from core.helm_chart import merge_values

VALUES_KEY = "values.yaml"
"""helm-controller's `valuesKey` when a reference gives none."""
REFERENCE_KINDS = ("ConfigMap", "Secret")
_YAML_LINE = re.compile(r"line (\d+)")


class Unresolved(Exception):
    """Why a Flux object cannot be rendered: one sentence naming its file (or cluster) and field."""


def unresolved(place: YamlField, message: str) -> Unresolved:
    """`message` about `place`, worded like a config error: `file:line: field: message`."""
    return Unresolved(str(place.fail(message)))


@dataclass(frozen=True, slots=True)
class ReferencedData:
    """A ConfigMap's or a Secret's data as Flux reads it: each key's text, a Secret's decoded."""

    data: Mapping[str, str]
    secret: bool


class ReferenceUnreadable(Exception):
    """Why a referenced ConfigMap or Secret cannot be read (forbidden, undecodable): a clause."""


@dataclass(frozen=True, slots=True)
class ReferenceLookup:
    """Where referenced ConfigMaps and Secrets are found: the included files, or a cluster."""

    find: Callable[[str, str, str], ReferencedData | None]
    """(kind, namespace, name) -> the object's data; None when there is no such object. May raise
    ReferenceUnreadable."""
    missing: str
    """What follows an absent object's name in its error: `is not in the included files; ...`."""


def data_of(document: Mapping[str, Any]) -> ReferencedData:
    """The data of a ConfigMap or Secret object (a manifest, or an object read from a cluster).

    A Secret's `stringData` is folded over its decoded `data`, as the API server does on write. Raises
    ReferenceUnreadable for what Flux could not read either: a SOPS-encrypted Secret, bad base64."""
    secret = document.get("kind") == "Secret"
    if secret and isinstance(document.get("sops"), dict):
        raise ReferenceUnreadable("it is encrypted with SOPS, which kubedrift cannot decrypt")
    data: dict[str, str] = {}
    raw = document.get("data")
    for key, value in raw.items() if isinstance(raw, dict) else ():
        if secret:
            try:
                data[str(key)] = base64.b64decode(str(value), validate=True).decode("utf-8", "replace")
            except (binascii.Error, ValueError):
                raise ReferenceUnreadable(f"its data.{key} is not base64") from None
        else:
            data[str(key)] = _text(value)
    string_data = document.get("stringData") if secret else None
    for key, value in string_data.items() if isinstance(string_data, dict) else ():
        data[str(key)] = _text(value)
    return ReferencedData(data, secret)


def post_build_variables(
    post_build: YamlField | None, namespace: str, lookup: ReferenceLookup
) -> tuple[tuple[str, str], ...]:
    """Flux's variables for a Kustomization's `postBuild`: substituteFrom's, then substitute's over them.

    Empty when there are none, which means no substitution at all, as in Flux. Raises Unresolved."""
    if post_build is None:
        return ()
    post_build.mapping()
    variables: dict[str, str] = {}
    origins: dict[str, YamlField] = {}
    references = post_build.optional("substituteFrom")
    for reference in references.items() if references is not None else ():
        found = _referenced(reference, namespace, lookup)
        for key, text in found.data.items() if found is not None else ():
            variables[key], origins[key] = text.replace("\n", ""), reference
    inline = post_build.optional("substitute")
    for key, written in inline.entries() if inline is not None else ():
        variables[key], origins[key] = _text(written.value).replace("\n", ""), written
    invalid = invalid_variable_names(variables)
    if invalid:
        raise unresolved(
            origins[invalid[0]],
            f"{invalid[0]!r} is no variable name Flux accepts (letters, digits and '_', not first a digit), "
            "and Flux fails the whole build on it; rename it",
        )
    return tuple(variables.items())


def release_values(spec: YamlField, namespace: str, lookup: ReferenceLookup) -> str:
    """A HelmRelease's values, valuesFrom's merged in order and `values` over them, as canonical JSON
    text (empty when there are none). Raises Unresolved."""
    merged: dict[str, Any] = {}
    references = spec.optional("valuesFrom")
    for reference in references.items() if references is not None else ():
        found = _referenced(reference, namespace, lookup)
        if found is None:
            continue
        key = reference.optional_string("valuesKey") or VALUES_KEY
        what = f"{reference.value['kind']} {namespace}/{reference.value['name']}"
        if key not in found.data:
            if reference.optional_boolean("optional", default=False):
                continue
            raise unresolved(reference, f"the {what} has no key {key!r}; add it, or set valuesKey")
        target_path = reference.optional_string("targetPath")
        text = found.data[key]
        if target_path:
            _set_at_path(merged, target_path, text, reference, secret=found.secret)
        elif text.strip():
            merged = merge_values(merged, _values_map(text, reference, f"key {key!r} of the {what}"))
    values = spec.optional("values")
    if values is not None:
        merged = merge_values(merged, values.mapping().value)
    return json.dumps(merged, sort_keys=True, separators=(",", ":")) if merged or values else ""


def _referenced(reference: YamlField, namespace: str, lookup: ReferenceLookup) -> ReferencedData | None:
    """The object a substituteFrom or valuesFrom entry names; None when it is absent and optional."""
    reference.mapping()
    kind_field = reference.required("kind")
    kind = kind_field.string()
    if kind not in REFERENCE_KINDS:
        raise unresolved(kind_field, f"expected ConfigMap or Secret, got {kind!r}")
    name = reference.required("name").string()
    try:
        found = lookup.find(kind, namespace, name)
    except ReferenceUnreadable as unreadable:
        raise unresolved(reference, f"the {kind} {namespace}/{name} cannot be read: {unreadable}") from None
    if found is None and not reference.optional_boolean("optional", default=False):
        raise unresolved(reference, f"the {kind} {namespace}/{name} {lookup.missing}")
    return found


def _helm(reference: YamlField) -> Any:
    """Helm's engine (helm-python-sdk), loaded only when valuesFrom needs it."""
    try:
        import helm_python
    except Exception as exc:  # ImportError, or HelmLibraryError when the bundled library cannot load
        raise unresolved(reference, f"Helm's engine cannot be loaded ({exc}); reinstall kubedrift") from None
    return helm_python


def _values_map(text: str, reference: YamlField, what: str) -> dict[str, Any]:
    """The text read as Helm reads a values file (sigs.k8s.io/yaml), by Helm's own engine."""
    helm = _helm(reference)
    try:
        values: dict[str, Any] = helm.values_from_yaml(text)
    except helm.HelmError as exc:
        # The parser's words may quote the text, which may be a Secret's: only its line is said.
        line = _YAML_LINE.search(exc.detail)
        where = f" (at its line {line[1]})" if line is not None else ""
        raise unresolved(reference, f"the {what} is not a YAML map of values{where}; fix it") from None
    return values


def _set_at_path(
    values: dict[str, Any], target_path: str, text: str, reference: YamlField, *, secret: bool
) -> None:
    """helm-controller's `ReplacePathValue`: `targetPath=<text>` as `--set` (quoted: `--set-string`)."""
    helm = _helm(reference)
    quoted = any(text.startswith(quote) and text.endswith(quote) for quote in ("'", '"'))
    value = text.strip("'\"") if quoted else text
    parse = helm.parse_set_string_values if quoted else helm.parse_set_string
    try:
        parsed: dict[str, Any] = parse(f"{target_path}={value}")
    except helm.HelmError as exc:
        detail = "" if secret else f" ({' '.join(str(exc.detail).split())})"
        raise unresolved(
            reference.required("targetPath"),
            f"the value cannot be set at {target_path!r} as Helm's --set reads it{detail}; fix "
            "targetPath, or the value (--set reads a comma in it as the start of another key)",
        ) from None
    _parse_into(values, parsed)


def _parse_into(target: Any, parsed: Any) -> Any:
    """Helm's strvals.ParseInto: the parsed `--set` written into existing values, keeping what is around
    it (a map's other keys, a list's other items; in `parsed`, a list's gap before the index is None).
    Returns the merged value."""
    if isinstance(target, dict) and isinstance(parsed, dict):
        for key, value in parsed.items():
            target[key] = _parse_into(target.get(key), value)
        return target
    if isinstance(target, list) and isinstance(parsed, list):
        target.extend([None] * (len(parsed) - len(target)))
        for index, value in enumerate(parsed):
            if value is not None:
                target[index] = _parse_into(target[index], value)
        return target
    return parsed


def _text(value: Any) -> str:
    """A value where Flux wants a string, as the API server would have refused or written it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)
