"""The schema model and its three loaders: the official definitions (kubernetes-validate), a server's
OpenAPI v3 document, and a CRD's structural schema."""

from __future__ import annotations

from typing import Any

import pytest

from core.schema import (
    FieldType,
    ListType,
    MapType,
    OfficialSchemas,
    OpenAPIV3Schemas,
    ScalarKind,
    Shape,
    crd_schemas,
    custom_resource_schema,
)
from core.schema.convert import SchemaConverter
from core.schema.official import release_for, releases


@pytest.fixture(scope="module")
def official() -> OfficialSchemas:
    return OfficialSchemas.for_version(31)


def kind(official: OfficialSchemas, group: str, version: str, name: str) -> FieldType:
    found = official.kind(group, version, name)
    assert found is not None, f"{group}/{version} {name} is not in {official.release}"
    return found


def at(field_type: FieldType, *path: str) -> FieldType:
    """The node at a path; `[]` steps into a list's items."""
    for step in path:
        field_type = field_type.item() if step == "[]" else field_type.child(step)
    return field_type


def test_the_release_matching_the_sandbox_is_chosen_and_an_unshipped_one_falls_back() -> None:
    assert release_for(31) == "v1.31.0-local"
    assert release_for("31+") == "v1.31.0-local"
    newest = max(releases())
    assert release_for(newest + 5) == releases()[newest]
    assert release_for(1) == releases()[min(releases())]


def test_container_env_and_ports_are_list_maps_with_their_keys(official: OfficialSchemas) -> None:
    container = official.definition("io.k8s.api.core.v1.Container")
    env = container.child("env")
    assert (env.list_type, env.list_keys, env.patch_merge_key) == (ListType.MAP, ("name",), "name")
    ports = container.child("ports")
    assert ports.list_type is ListType.MAP
    assert ports.list_keys == ("containerPort", "protocol")
    # Apply keys a port written without a protocol by the protocol's default.
    assert dict(ports.key_defaults) == {"protocol": "TCP"}
    # Strategic merge patch merges ports by containerPort alone.
    assert ports.patch_merge_key == "containerPort" and ports.has_patch_strategy("merge")


def test_service_ports_are_keyed_by_port_and_protocol(official: OfficialSchemas) -> None:
    ports = at(kind(official, "", "v1", "Service"), "spec", "ports")
    assert ports.list_keys == ("port", "protocol")
    assert dict(ports.key_defaults) == {"protocol": "TCP"}
    assert ports.patch_merge_key == "port"


def test_tolerations_are_atomic(official: OfficialSchemas) -> None:
    tolerations = at(kind(official, "", "v1", "Pod"), "spec", "tolerations")
    assert tolerations.shape is Shape.LIST and tolerations.list_type is ListType.ATOMIC


def test_image_pull_secrets_are_atomic_on_a_service_account_but_a_map_on_a_pod(
    official: OfficialSchemas,
) -> None:
    account = at(kind(official, "", "v1", "ServiceAccount"), "imagePullSecrets")
    pod = at(kind(official, "", "v1", "Pod"), "spec", "imagePullSecrets")
    assert account.list_type is ListType.ATOMIC and account.list_keys == ()
    assert pod.list_type is ListType.MAP and pod.list_keys == ("name",)
    # Each element is a LocalObjectReference, an atomic struct.
    assert pod.item().atomic


def test_a_label_selector_is_an_atomic_struct_of_a_string_map(official: OfficialSchemas) -> None:
    selector = at(kind(official, "apps", "v1", "Deployment"), "spec", "selector")
    assert selector.shape is Shape.STRUCT and selector.map_type is MapType.ATOMIC
    labels = selector.child("matchLabels")
    assert labels.shape is Shape.MAP and labels.element is not None
    assert labels.element.scalar is ScalarKind.STRING
    template_labels = at(kind(official, "apps", "v1", "Deployment"), "spec", "template", "metadata", "labels")
    assert template_labels.shape is Shape.MAP and not template_labels.atomic


def test_quantities_and_int_or_strings_are_flagged(official: OfficialSchemas) -> None:
    limits = official.definition("io.k8s.api.core.v1.ResourceRequirements").child("limits")
    assert limits.shape is Shape.MAP and limits.element is not None and limits.element.quantity
    target = at(
        kind(official, "autoscaling", "v2", "HorizontalPodAutoscaler"),
        *("spec", "metrics", "[]", "resource", "target"),
    )
    assert target.child("averageValue").quantity and target.child("value").quantity
    assert not target.child("averageUtilization").quantity
    target_port = at(kind(official, "", "v1", "Service"), "spec", "ports", "[]", "targetPort")
    assert target_port.int_or_string and not target_port.quantity
    replicas = at(kind(official, "apps", "v1", "Deployment"), "spec", "replicas")
    assert (replicas.scalar, replicas.format) == (ScalarKind.INTEGER, "int32")


def test_property_markers_refine_the_definition_they_refer_to(official: OfficialSchemas) -> None:
    deployment = kind(official, "apps", "v1", "Deployment")
    assert at(deployment, "spec", "strategy").patch_strategy == "retainKeys"
    assert official.definition("io.k8s.api.apps.v1.DeploymentStrategy").patch_strategy == ""
    volumes = at(deployment, "spec", "template", "spec", "volumes")
    assert volumes.has_patch_strategy("merge") and volumes.has_patch_strategy("retainKeys")
    budget_selector = at(kind(official, "policy", "v1", "PodDisruptionBudget"), "spec", "selector")
    assert budget_selector.has_patch_strategy("replace") and budget_selector.atomic


def test_the_official_schema_overrides_older_guesses(official: OfficialSchemas) -> None:
    # batch/v1 JobStatus.conditions is `+listType=atomic`, though strategic merge keys it by type.
    conditions = at(kind(official, "batch", "v1", "Job"), "status", "conditions")
    assert conditions.list_type is ListType.ATOMIC and conditions.patch_merge_key == "type"
    finalizers = at(kind(official, "", "v1", "ConfigMap"), "metadata", "finalizers")
    assert finalizers.list_type is ListType.SET


def test_struct_fields_are_named_and_map_keys_are_not(official: OfficialSchemas) -> None:
    metadata = at(kind(official, "", "v1", "ConfigMap"), "metadata")
    assert metadata.is_named_field("labels") and not metadata.is_named_field("nonsense")
    assert not metadata.child("labels").is_named_field("app")
    raw = at(kind(official, "apps", "v1", "ControllerRevision"), "data")
    assert raw.shape is Shape.ANY


def test_a_list_with_only_the_older_merge_markers_is_keyed_by_its_merge_key() -> None:
    converter = SchemaConverter({})
    keyed = converter.convert(
        {
            "type": "array",
            "items": {"type": "object", "properties": {"ip": {"type": "string"}}},
            "x-kubernetes-patch-strategy": "merge",
            "x-kubernetes-patch-merge-key": "ip",
        }
    )
    assert (keyed.list_type, keyed.list_keys) == (ListType.MAP, ("ip",))
    scalars = converter.convert(
        {"type": "array", "items": {"type": "string"}, "x-kubernetes-patch-strategy": "merge"}
    )
    assert scalars.list_type is ListType.SET
    plain = converter.convert({"type": "array", "items": {"type": "string"}})
    assert plain.list_type is ListType.ATOMIC


WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "names": {"kind": "Widget", "plural": "widgets"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "ports": {
                                        "type": "array",
                                        "x-kubernetes-list-type": "map",
                                        "x-kubernetes-list-map-keys": ["port", "protocol"],
                                        "items": {
                                            "type": "object",
                                            "properties": {
                                                "port": {"type": "integer"},
                                                "protocol": {"type": "string", "default": "TCP"},
                                                "target": {"x-kubernetes-int-or-string": True},
                                            },
                                        },
                                    },
                                    "tags": {
                                        "type": "array",
                                        "x-kubernetes-list-type": "set",
                                        "items": {"type": "string"},
                                    },
                                    "selector": {
                                        "type": "object",
                                        "x-kubernetes-map-type": "atomic",
                                        "additionalProperties": {"type": "string"},
                                    },
                                    "config": {
                                        "type": "object",
                                        "x-kubernetes-preserve-unknown-fields": True,
                                    },
                                    "template": {
                                        "type": "object",
                                        "x-kubernetes-embedded-resource": True,
                                        "x-kubernetes-preserve-unknown-fields": True,
                                    },
                                },
                            }
                        },
                    }
                },
            }
        ],
    },
}


def test_a_crd_schema_gives_list_maps_sets_atomic_maps_and_open_fields(official: OfficialSchemas) -> None:
    schemas = crd_schemas(WIDGET_CRD, object_meta=official.object_meta())
    widget = schemas[("example.com", "v1", "Widget")]
    # The root gains the standard metadata, as the apiextensions server adds it.
    assert widget.child("metadata").child("labels").shape is Shape.MAP
    assert widget.is_named_field("apiVersion") and widget.is_named_field("kind")
    ports = at(widget, "spec", "ports")
    assert (ports.list_type, ports.list_keys) == (ListType.MAP, ("port", "protocol"))
    assert dict(ports.key_defaults) == {"protocol": "TCP"}
    assert ports.item().child("target").int_or_string
    assert at(widget, "spec", "tags").list_type is ListType.SET
    selector = at(widget, "spec", "selector")
    assert selector.shape is Shape.MAP and selector.atomic
    config = at(widget, "spec", "config")
    assert config.preserve_unknown_fields and not config.is_named_field("anything")
    assert config.child("anything").shape is Shape.ANY
    template = at(widget, "spec", "template")
    assert template.embedded_resource and template.shape is Shape.STRUCT
    assert template.child("metadata").child("annotations").shape is Shape.MAP
    assert template.is_named_field("kind") and not template.is_named_field("spec")


def test_a_custom_resource_without_a_schema_keeps_everything(official: OfficialSchemas) -> None:
    open_kind = custom_resource_schema(None, object_meta=official.object_meta())
    assert open_kind.is_named_field("metadata")
    assert not open_kind.is_named_field("spec") and open_kind.child("spec").shape is Shape.ANY


META = "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1."
OPENAPI_V3: dict[str, Any] = {
    "openapi": "3.0.0",
    "components": {
        "schemas": {
            "io.k8s.api.apps.v1.Deployment": {
                "type": "object",
                "properties": {
                    "apiVersion": {"type": "string"},
                    "kind": {"type": "string"},
                    "metadata": {
                        "default": {},
                        "allOf": [{"$ref": META + "ObjectMeta"}],
                    },
                    "spec": {
                        "default": {},
                        "allOf": [{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"}],
                    },
                },
                "x-kubernetes-group-version-kind": [{"group": "apps", "kind": "Deployment", "version": "v1"}],
            },
            "io.k8s.api.apps.v1.DeploymentSpec": {
                "type": "object",
                "properties": {
                    "replicas": {"type": "integer", "format": "int32"},
                    "selector": {"allOf": [{"$ref": META + "LabelSelector"}]},
                    "strategy": {
                        "default": {},
                        "allOf": [{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentStrategy"}],
                        "x-kubernetes-patch-strategy": "retainKeys",
                    },
                    "ports": {
                        "type": "array",
                        "items": {
                            "default": {},
                            "allOf": [{"$ref": "#/components/schemas/io.k8s.api.core.v1.ContainerPort"}],
                        },
                        "x-kubernetes-list-map-keys": ["containerPort", "protocol"],
                        "x-kubernetes-list-type": "map",
                    },
                    "limit": {
                        "allOf": [
                            {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.api.resource.Quantity"}
                        ]
                    },
                },
            },
            "io.k8s.api.apps.v1.DeploymentStrategy": {
                "type": "object",
                "properties": {"type": {"type": "string"}},
            },
            "io.k8s.api.core.v1.ContainerPort": {
                "type": "object",
                "properties": {
                    "containerPort": {"type": "integer", "format": "int32", "default": 0},
                    "protocol": {"type": "string", "default": "TCP"},
                },
            },
            "io.k8s.apimachinery.pkg.api.resource.Quantity": {"type": "string"},
            "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector": {
                "type": "object",
                "properties": {
                    "matchLabels": {
                        "type": "object",
                        "additionalProperties": {"type": "string", "default": ""},
                    }
                },
                "x-kubernetes-map-type": "atomic",
            },
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            },
        }
    },
}


def test_an_openapi_v3_document_with_allof_wrapped_references() -> None:
    document = OpenAPIV3Schemas(OPENAPI_V3)
    assert document.kinds() == {("apps", "v1", "Deployment")}
    deployment = document.kind("apps", "v1", "Deployment")
    assert deployment is not None and document.kind("apps", "v1", "StatefulSet") is None
    spec = deployment.child("spec")
    assert spec.shape is Shape.STRUCT and spec.child("replicas").scalar is ScalarKind.INTEGER
    assert spec.child("selector").atomic
    assert spec.child("strategy").patch_strategy == "retainKeys"
    ports = spec.child("ports")
    # The document's own defaults give the key defaults.
    assert ports.list_keys == ("containerPort", "protocol")
    assert dict(ports.key_defaults) == {"containerPort": 0, "protocol": "TCP"}
    assert spec.child("limit").quantity
    assert deployment.child("metadata").child("labels").shape is Shape.MAP


def test_built_in_groups_are_told_from_groups_crds_add() -> None:
    from core.schema.official import is_built_in_group

    assert is_built_in_group("") and is_built_in_group("apps") and is_built_in_group("extensions")
    assert is_built_in_group("policy")  # PodSecurityPolicy's group outlived it
    assert not is_built_in_group("gateway.networking.k8s.io")  # Gateway API comes as CRDs
    assert not is_built_in_group("example.com")
