"""Reading a source's rendering options (`directory`, `helm`, `kustomize`, `chart`) from YAML.

kubedrift.yaml is read strictly (an unknown key is a typo, and says so); an Argo CD Application
leniently (keys kubedrift does not act on are skipped), but every value read is type-checked, and
each mistake names its file, line and field (`core.config_yaml`).
"""

from __future__ import annotations

import json
from typing import Any

from core.config_yaml import YamlField, describe_value
from core.source_options import (
    DirectoryOptions,
    HelmFileParameter,
    HelmOptions,
    HelmParameter,
    JsonnetOptions,
    JsonnetVariable,
    KustomizeOptions,
    KustomizeReplica,
    SourceOptions,
)

SOURCE_OPTION_KEYS = ("directory", "helm", "kustomize", "chart")
_DIRECTORY_KEYS = ("recurse", "include", "exclude", "jsonnet")
_JSONNET_KEYS = ("extVars", "tlas", "libs")
_JSONNET_VARIABLE_KEYS = ("name", "value", "code")
_HELM_KEYS = (
    "releaseName",
    "valueFiles",
    "ignoreMissingValueFiles",
    "values",
    "valuesObject",
    "parameters",
    "fileParameters",
    "skipCrds",
    "namespace",
    "kubeVersion",
    "apiVersions",
)
_HELM_PARAMETER_KEYS = ("name", "value", "forceString")
_HELM_FILE_PARAMETER_KEYS = ("name", "path")
_KUSTOMIZE_KEYS = (
    "namePrefix",
    "nameSuffix",
    "images",
    "commonLabels",
    "commonAnnotations",
    "namespace",
    "replicas",
    "patches",
    "components",
)
_REPLICA_KEYS = ("name", "count")


def read_source_options(source: YamlField, *, strict: bool) -> SourceOptions:
    """The options of a `source` mapping (already checked to be one)."""
    directory = source.optional("directory")
    helm = source.optional("helm")
    kustomize = source.optional("kustomize")
    return SourceOptions(
        directory=_directory(directory, strict) if directory else DirectoryOptions(),
        helm=_helm(helm, strict) if helm else HelmOptions(),
        kustomize=_kustomize(kustomize, strict) if kustomize else KustomizeOptions(),
        chart=source.optional_string("chart") or "",
    )


def _keys(field: YamlField, allowed: tuple[str, ...], strict: bool) -> YamlField:
    return field.mapping(allowed if strict else None)


def _directory(field: YamlField, strict: bool) -> DirectoryOptions:
    _keys(field, _DIRECTORY_KEYS, strict)
    jsonnet = field.optional("jsonnet")
    return DirectoryOptions(
        recurse=field.optional_boolean("recurse", default=False),
        include=field.optional_string("include", allow_empty=True) or "",
        exclude=field.optional_string("exclude", allow_empty=True) or "",
        jsonnet=_jsonnet(jsonnet, strict) if jsonnet else JsonnetOptions(),
    )


def _jsonnet(field: YamlField, strict: bool) -> JsonnetOptions:
    _keys(field, _JSONNET_KEYS, strict)
    return JsonnetOptions(
        ext_vars=_jsonnet_variables(field.optional("extVars"), strict),
        tlas=_jsonnet_variables(field.optional("tlas"), strict),
        libs=_strings(field.optional("libs")),
    )


def _jsonnet_variables(field: YamlField | None, strict: bool) -> tuple[JsonnetVariable, ...]:
    if field is None:
        return ()
    found = []
    for item in field.items():
        _keys(item, _JSONNET_VARIABLE_KEYS, strict)
        found.append(
            JsonnetVariable(
                name=item.required("name").string(),
                value=_scalar_text(item.required("value")),
                code=item.optional_boolean("code", default=False),
            )
        )
    return tuple(found)


def _helm(field: YamlField, strict: bool) -> HelmOptions:
    _keys(field, _HELM_KEYS, strict)
    values_object = field.optional("valuesObject")
    if values_object is not None:
        values_object.mapping()
    return HelmOptions(
        release_name=field.optional_string("releaseName") or "",
        value_files=_strings(field.optional("valueFiles")),
        ignore_missing_value_files=field.optional_boolean("ignoreMissingValueFiles", default=False),
        values=_values_text(field.optional("values")),
        values_object=_canonical_json(values_object.value) if values_object else "",
        parameters=tuple(_helm_parameter(item, strict) for item in _items(field.optional("parameters"))),
        file_parameters=tuple(
            _helm_file_parameter(item, strict) for item in _items(field.optional("fileParameters"))
        ),
        skip_crds=field.optional_boolean("skipCrds", default=False),
        namespace=field.optional_string("namespace") or "",
        kube_version=field.optional_string("kubeVersion") or "",
        api_versions=_strings(field.optional("apiVersions")),
    )


def _helm_parameter(item: YamlField, strict: bool) -> HelmParameter:
    _keys(item, _HELM_PARAMETER_KEYS, strict)
    value = item.optional("value")
    return HelmParameter(
        name=item.required("name").string(),
        value=_scalar_text(value) if value else "",
        force_string=item.optional_boolean("forceString", default=False),
    )


def _helm_file_parameter(item: YamlField, strict: bool) -> HelmFileParameter:
    _keys(item, _HELM_FILE_PARAMETER_KEYS, strict)
    return HelmFileParameter(name=item.required("name").string(), path=item.required("path").string())


def _kustomize(field: YamlField, strict: bool) -> KustomizeOptions:
    _keys(field, _KUSTOMIZE_KEYS, strict)
    patches = field.optional("patches")
    if patches is not None:
        patches.items()
    return KustomizeOptions(
        name_prefix=field.optional_string("namePrefix") or "",
        name_suffix=field.optional_string("nameSuffix") or "",
        images=_strings(field.optional("images")),
        common_labels=_string_map(field.optional("commonLabels")),
        common_annotations=_string_map(field.optional("commonAnnotations")),
        namespace=field.optional_string("namespace") or "",
        replicas=tuple(_replica(item, strict) for item in _items(field.optional("replicas"))),
        patches=_canonical_json(patches.value) if patches else "",
        components=_strings(field.optional("components")),
    )


def _replica(item: YamlField, strict: bool) -> KustomizeReplica:
    _keys(item, _REPLICA_KEYS, strict)
    count = item.required("count")
    number = count.value
    if isinstance(number, str) and number.isdigit():
        number = int(number)  # Argo CD's type is an IntOrString
    if not isinstance(number, int) or isinstance(number, bool) or number < 0:
        raise count.fail(f"expected a replica count (0 or more), got {describe_value(count.value)}")
    return KustomizeReplica(name=item.required("name").string(), count=number)


def _items(field: YamlField | None) -> list[YamlField]:
    return field.items() if field is not None else []


def _strings(field: YamlField | None) -> tuple[str, ...]:
    return tuple(item.string() for item in _items(field))


def _string_map(field: YamlField | None) -> tuple[tuple[str, str], ...]:
    if field is None:
        return ()
    return tuple((name, value.string(allow_empty=True)) for name, value in field.entries())


def _scalar_text(field: YamlField) -> str:
    """A parameter's value as the text Helm or Jsonnet is given: numbers and booleans as YAML wrote them."""
    value = field.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise field.fail(f"expected a string, number or boolean, got {describe_value(value)}")


def _values_text(field: YamlField | None) -> str:
    """Argo CD's `values` is a YAML string; a mapping written in its place is taken as that YAML."""
    if field is None:
        return ""
    if isinstance(field.value, dict):
        return _canonical_json(field.value)
    return field.string(allow_empty=True)


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
