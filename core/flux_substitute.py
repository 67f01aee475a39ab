"""Flux's post-build variable substitution (`postBuild.substitute`) on rendered manifests.

kustomize-controller builds the Kustomization, then runs its envsubst over each object's YAML text and
reads the result back (fluxcd/kustomize-controller `SubstituteVariables`; docs "Post build variable
substitution"). So it is done here on the text too, per YAML document, which keeps what Flux keeps:
`replicas: ${n}` becomes a number, `"${n}"` stays a string, as the quotes in the built text say.

What Flux does, and so what this does:
- `${var}` is replaced by the variable's value, and by "" when it is not set (strict mode is a
  controller feature gate, off by default);
- `${var:=default}` (also `:-`, `=` and `-`) gives `default` when the value is empty or unset;
- `$var` is left alone, and `$$` is one `$` (so `$${var}` keeps a literal `${var}`);
- an object labelled or annotated `kustomize.toolkit.fluxcd.io/substitute: disabled` is left as it is;
- a malformed `${...}` fails the render, as it fails Flux's reconciliation.

The other operators of Flux's envsubst (`${#var}`, `${var^^}`, `${var:1:2}`...) are refused with a
sentence rather than guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import yaml

from core.errors import RenderError

SUBSTITUTE_KEY = "kustomize.toolkit.fluxcd.io/substitute"
DISABLED = "disabled"

_EXPRESSION = re.compile(rb"\$\$|\$\{([^}]*)\}")
_SEPARATOR = re.compile(rb"^---[ \t]*(?:#.*)?$", re.MULTILINE)
_VARIABLE = re.compile(r"([_A-Za-z][_A-Za-z0-9]*)(?:(:=|:-|=|-)(.*))?", re.DOTALL)
_NAME = re.compile(r"[_A-Za-z][_A-Za-z0-9]*")


def invalid_variable_names(variables: Mapping[str, str]) -> list[str]:
    """Names Flux refuses as variables (it wants `^[_[:alpha:]][_[:alpha:][:digit:]]*$`)."""
    return [name for name in variables if not _NAME.fullmatch(name)]


def substitute_stream(content: bytes, variables: Mapping[str, str]) -> bytes:
    """`content` (one or more YAML documents, or JSON) with Flux's substitution applied per document.

    Documents without `${` or `$$` are returned as they are, without being parsed."""
    if b"$" not in content:
        return content
    starts = [0] + [match.start() for match in _SEPARATOR.finditer(content)]
    bounds = zip(starts, starts[1:] + [len(content)], strict=True)
    return b"".join(_substitute_document(content[start:end], variables) for start, end in bounds)


def _substitute_document(document: bytes, variables: Mapping[str, str]) -> bytes:
    if b"$$" not in document and b"${" not in document:
        return document
    if _opted_out(document):
        return document
    return _EXPRESSION.sub(lambda match: _replacement(match, variables), document)


def _replacement(match: re.Match[bytes], variables: Mapping[str, str]) -> bytes:
    if match.group(0) == b"$$":
        return b"$"
    expression = match.group(1).decode("utf-8", "replace")
    parsed = _VARIABLE.fullmatch(expression)
    if parsed is None:
        raise RenderError(
            f"post-build substitution cannot read ${{{expression}}}: Flux substitutes ${{var}} and "
            "${var:=default} only; write $${...} for a literal, or annotate the object "
            f"{SUBSTITUTE_KEY}: {DISABLED}"
        )
    name, operator, default = parsed.groups()
    value = variables.get(name, "")
    if operator is not None and not value:
        value = default
    return value.encode()


def _opted_out(document: bytes) -> bool:
    """Whether the document's object carries `kustomize.toolkit.fluxcd.io/substitute: disabled`."""
    if SUBSTITUTE_KEY.encode() not in document:
        return False
    try:
        obj = yaml.safe_load(document)  # only the label and annotation are read: their texts are strings
    except (yaml.YAMLError, ValueError):
        return False  # the parser after substitution names the error, with its line
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    return isinstance(metadata, dict) and any(
        isinstance(table, dict) and table.get(SUBSTITUTE_KEY) == DISABLED
        for table in (metadata.get("labels"), metadata.get("annotations"))
    )
