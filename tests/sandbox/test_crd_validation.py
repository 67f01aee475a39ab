"""Custom resources validated against their CRD schema, with the real server's 422 wording.

Each message below was checked against apiextensions-apiserver (kubeOpenAPIResultToFieldErrors, the
CEL validator, the list-type check) and kube-openapi's validator messages for Kubernetes 1.31.
"""

from __future__ import annotations

import json
import textwrap
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from sandbox.handle import SandboxThread

if TYPE_CHECKING:
    from conftest import Kubectl

NS = "default"
GROUP, VERSION, PLURAL = "example.com", "v1", "widgets"
RULES_SKIPPED = (
    '<nil>: Invalid value: "null": some validation rules were not checked because the object was invalid; '
    "correct the existing errors to complete validation"
)

SPEC_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["image"],
    "x-kubernetes-validations": [
        {"rule": "self.minReplicas <= self.replicas", "message": "replicas must be at least minReplicas"}
    ],
    "properties": {
        "image": {"type": "string", "minLength": 3, "maxLength": 20, "pattern": "^[a-z0-9:./-]+$"},
        "replicas": {"type": "integer", "minimum": 0, "maximum": 10, "default": 1},
        "minReplicas": {"type": "integer", "default": 0},
        "mode": {"type": "string", "enum": ["fast", "safe"]},
        "ratio": {"type": "number", "maximum": 1, "exclusiveMaximum": True},
        "tags": {
            "type": "array",
            "minItems": 1,
            "maxItems": 3,
            "items": {"type": "string"},
            "x-kubernetes-list-type": "set",
        },
        "ports": {
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
            },
        },
        "note": {"type": "string", "nullable": True},
        "color": {"type": "string"},
        "size": {
            "type": "string",
            "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "size is immutable"}],
        },
        "owner": {
            "type": "string",
            "x-kubernetes-validations": [
                {
                    "rule": "self.lowerAscii() == self",
                    "messageExpression": "'owner ' + self + ' must be lower case'",
                    "reason": "FieldValueForbidden",
                }
            ],
        },
        "limits": {"type": "object", "additionalProperties": {"type": "integer", "maximum": 100}},
    },
}


def widget_crd(spec_schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": PLURAL, "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": spec_schema or SPEC_SCHEMA,
                                "status": {
                                    "type": "object",
                                    "properties": {"ready": {"type": "boolean"}},
                                },
                            },
                        }
                    },
                }
            ],
        },
    }


def widget(name: str = "w", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": {"image": "nginx", **spec},
    }


@pytest.fixture
def widgets(api_client: client.ApiClient) -> Iterator[client.CustomObjectsApi]:
    client.ApiextensionsV1Api(api_client).create_custom_resource_definition(widget_crd())
    yield client.CustomObjectsApi(api_client)


def create(widgets: client.CustomObjectsApi, body: dict[str, Any]) -> dict[str, Any]:
    created: dict[str, Any] = widgets.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, body)
    return created


def refused(call: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """The Status of a call that must fail with 422 Invalid."""
    with pytest.raises(ApiException) as failure:
        call(*args, **kwargs)
    assert failure.value.status == 422, failure.value.body
    status: dict[str, Any] = json.loads(failure.value.body)
    assert status["reason"] == "Invalid" and status["details"]["kind"] == "Widget"
    assert status["details"]["group"] == GROUP
    return status


def invalid_create(widgets: client.CustomObjectsApi, body: dict[str, Any]) -> dict[str, Any]:
    return refused(widgets.create_namespaced_custom_object, GROUP, VERSION, NS, PLURAL, body)


def causes(status: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(c["field"], c["reason"], c["message"]) for c in status["details"]["causes"]]


# ---- OpenAPI value validation ----


def test_a_wrong_type_is_a_type_invalid_cause_and_skips_the_rules(widgets: client.CustomObjectsApi) -> None:
    status = invalid_create(widgets, widget(replicas="three"))
    type_error = (
        'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"'
    )
    assert status["message"] == f'Widget.example.com "w" is invalid: [{type_error}, {RULES_SKIPPED}]'
    assert causes(status)[0] == (
        "spec.replicas",
        "FieldValueTypeInvalid",
        'Invalid value: "string": spec.replicas in body must be of type integer: "string"',
    )
    assert causes(status)[1][:2] == ("<nil>", "FieldValueInvalid")


def test_an_integral_number_passes_as_an_integer_and_an_integer_as_a_number(
    widgets: client.CustomObjectsApi,
) -> None:
    created = create(widgets, widget(replicas=2.0, ratio=0))
    assert created["spec"]["replicas"] == 2 and created["spec"]["ratio"] == 0


CONSTRAINTS: dict[str, tuple[dict[str, Any], tuple[str, str, str]]] = {
    "enum": (
        {"mode": "slow"},
        ("spec.mode", "FieldValueNotSupported", 'Unsupported value: "slow": supported values: '
         '"fast", "safe"'),
    ),
    "maximum": (
        {"replicas": 11},
        ("spec.replicas", "FieldValueInvalid", "Invalid value: 11: spec.replicas in body should be less "
         "than or equal to 10"),
    ),
    "minimum": (
        {"replicas": -1},
        ("spec.replicas", "FieldValueInvalid", "Invalid value: -1: spec.replicas in body should be greater "
         "than or equal to 0"),
    ),
    "exclusive-maximum": (
        {"ratio": 1},
        ("spec.ratio", "FieldValueInvalid", "Invalid value: 1: spec.ratio in body should be less than 1"),
    ),
    "min-length": (
        {"image": "ng"},
        ("spec.image", "FieldValueInvalid", 'Invalid value: "ng": spec.image in body should be at least 3 '
         "chars long"),
    ),
    "max-length": (
        {"image": "x" * 21},
        ("spec.image", "FieldValueTooLong", "Too long: may not be longer than 20"),
    ),
    "pattern": (
        {"image": "NGINX"},
        ("spec.image", "FieldValueInvalid", "Invalid value: \"NGINX\": spec.image in body should match "
         "'^[a-z0-9:./-]+$'"),
    ),
    "min-items": (
        {"tags": []},
        ("spec.tags", "FieldValueInvalid", "Invalid value: 0: spec.tags in body should have at least "
         "1 items"),
    ),
    "max-items": (
        {"tags": list("abcd")},
        ("spec.tags", "FieldValueTooMany", "Too many: 4: must have at most 3 items"),
    ),
    "additional-properties": (
        {"limits": {"cpu": 101}},
        ("spec.limits.cpu", "FieldValueInvalid", "Invalid value: 101: spec.limits.cpu in body should be less "
         "than or equal to 100"),
    ),
}  # fmt: skip


@pytest.mark.parametrize(("spec", "expected"), list(CONSTRAINTS.values()), ids=list(CONSTRAINTS))
def test_value_constraints_answer_in_the_real_wording(
    widgets: client.CustomObjectsApi, spec: dict[str, Any], expected: tuple[str, str, str]
) -> None:
    status = invalid_create(widgets, widget(**spec))
    assert causes(status)[0] == expected
    assert status["message"].startswith('Widget.example.com "w" is invalid: ')
    assert f"{expected[0]}: {expected[2]}" in status["message"]


def test_a_missing_required_field_is_required_value(widgets: client.CustomObjectsApi) -> None:
    body = widget()
    del body["spec"]["image"]
    status = invalid_create(widgets, body)
    assert causes(status)[0] == ("spec.image", "FieldValueRequired", "Required value")
    assert (
        status["message"]
        == f'Widget.example.com "w" is invalid: [spec.image: Required value, {RULES_SKIPPED}]'
    )


def test_list_type_set_and_map_refuse_duplicates(widgets: client.CustomObjectsApi) -> None:
    status = invalid_create(widgets, widget(tags=["a", "b", "a"]))
    assert causes(status) == [("spec.tags[2]", "FieldValueDuplicate", 'Duplicate value: "a"')]
    status = invalid_create(
        widgets, widget(ports=[{"name": "http", "port": 80}, {"name": "http", "port": 81}])
    )
    assert causes(status) == [
        ("spec.ports[1]", "FieldValueDuplicate", 'Duplicate value: map[string]interface {}{"name":"http"}')
    ]


def test_nulls_are_kept_where_nullable_defaulted_or_dropped_elsewhere(
    widgets: client.CustomObjectsApi,
) -> None:
    created = create(widgets, widget(note=None, replicas=None, color=None))
    assert created["spec"] == {"image": "nginx", "note": None, "replicas": 1, "minReplicas": 0}


# ---- x-kubernetes-validations (CEL) ----


def test_a_failing_rule_names_the_node_and_its_type(widgets: client.CustomObjectsApi) -> None:
    status = invalid_create(widgets, widget(minReplicas=3, replicas=2))
    assert status["message"] == (
        'Widget.example.com "w" is invalid: spec: Invalid value: "object": '
        "replicas must be at least minReplicas"
    )
    assert causes(status) == [
        ("spec", "FieldValueInvalid", 'Invalid value: "object": replicas must be at least minReplicas')
    ]
    assert create(widgets, widget(minReplicas=2, replicas=2))["spec"]["replicas"] == 2


def test_message_expression_and_reason_shape_the_cause(widgets: client.CustomObjectsApi) -> None:
    status = invalid_create(widgets, widget(owner="Alice"))
    assert causes(status) == [
        ("spec.owner", "FieldValueForbidden", "Forbidden: owner Alice must be lower case")
    ]


def test_a_transition_rule_runs_on_update_only(widgets: client.CustomObjectsApi) -> None:
    create(widgets, widget(size="big"))
    status = refused(
        widgets.patch_namespaced_custom_object, GROUP, VERSION, NS, PLURAL, "w", {"spec": {"size": "small"}}
    )
    assert causes(status) == [
        ("spec.size", "FieldValueInvalid", 'Invalid value: "string": size is immutable')
    ]
    patched = widgets.patch_namespaced_custom_object(
        GROUP, VERSION, NS, PLURAL, "w", {"spec": {"replicas": 3}}
    )
    assert patched["spec"]["replicas"] == 3 and patched["spec"]["size"] == "big"


def test_replace_and_server_side_apply_are_validated_too(
    widgets: client.CustomObjectsApi, sandbox: SandboxThread
) -> None:
    current = create(widgets, widget())
    current["spec"]["mode"] = "slow"
    status = refused(widgets.replace_namespaced_custom_object, GROUP, VERSION, NS, PLURAL, "w", current)
    assert causes(status)[0][0] == "spec.mode"
    request = urllib.request.Request(
        f"{sandbox.url}/apis/{GROUP}/{VERSION}/namespaces/{NS}/{PLURAL}/w?fieldManager=tester&force=true",
        data=json.dumps(widget(replicas=50)).encode(),
        method="PATCH",
        headers={"Content-Type": "application/apply-patch+yaml"},
    )
    with pytest.raises(urllib.error.HTTPError) as failure:
        urllib.request.urlopen(request, timeout=10)
    assert failure.value.code == 422
    applied = json.loads(failure.value.read())
    assert applied["details"]["causes"][0]["field"] == "spec.replicas"


def test_an_unchanged_invalid_value_ratchets_after_the_schema_gets_stricter(
    widgets: client.CustomObjectsApi, api_client: client.ApiClient
) -> None:
    create(widgets, widget(image="nginx:1.25.3-alpine"))
    extensions = client.ApiextensionsV1Api(api_client)
    stricter = json.loads(json.dumps(SPEC_SCHEMA))
    stricter["properties"]["image"]["maxLength"] = 10
    crd = extensions.read_custom_resource_definition(f"{PLURAL}.{GROUP}").to_dict()
    body = widget_crd(stricter)
    body["metadata"]["resourceVersion"] = crd["metadata"]["resource_version"]
    extensions.replace_custom_resource_definition(f"{PLURAL}.{GROUP}", body)

    # Another field changes: the stored image is not checked again (CRDValidationRatcheting).
    patched = widgets.patch_namespaced_custom_object(
        GROUP, VERSION, NS, PLURAL, "w", {"spec": {"replicas": 2}}
    )
    assert patched["spec"]["replicas"] == 2
    # A changed image must meet the new limit.
    status = refused(
        widgets.patch_namespaced_custom_object,
        GROUP,
        VERSION,
        NS,
        PLURAL,
        "w",
        {"spec": {"image": "nginx:1.27.0-alpine"}},
    )
    assert causes(status)[0] == ("spec.image", "FieldValueTooLong", "Too long: may not be longer than 10")
    # A new object gets the new limit in full.
    assert invalid_create(widgets, widget("w2", image="nginx:1.25.3-alpine"))["details"]["name"] == "w2"


def test_metadata_errors_and_schema_errors_come_in_one_answer(widgets: client.CustomObjectsApi) -> None:
    status = invalid_create(widgets, widget("Bad_Name", mode="slow"))
    fields = [field for field, _reason, _message in causes(status)]
    assert fields[:2] == ["metadata.name", "spec.mode"]


# ---- through kubectl ----

BAD_WIDGET = textwrap.dedent("""\
    apiVersion: example.com/v1
    kind: Widget
    metadata:
      name: bad
      namespace: default
    spec:
      image: nginx
      replicas: "three"
    """)

RULE_WIDGET = textwrap.dedent("""\
    apiVersion: example.com/v1
    kind: Widget
    metadata:
      name: ruled
      namespace: default
    spec:
      image: nginx
      replicas: 1
      minReplicas: 4
    """)


def test_kubectl_shows_the_schema_and_rule_errors(kubectl: Kubectl, sandbox: SandboxThread) -> None:
    sandbox.run(
        lambda api: api.create(
            api.resource("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
            None,
            widget_crd(),
            manager="t",
        )
    )
    typed = kubectl.run("apply", "-f", "-", input=BAD_WIDGET, check=False)
    assert typed.returncode != 0
    assert 'The Widget "bad" is invalid' in typed.stderr
    assert (
        'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"'
        in (typed.stderr)
    )
    ruled = kubectl.run("create", "-f", "-", input=RULE_WIDGET, check=False)
    assert ruled.returncode != 0
    assert 'spec: Invalid value: "object": replicas must be at least minReplicas' in ruled.stderr
    fixed = kubectl.run(
        "apply", "--server-side", "-f", "-", input=RULE_WIDGET.replace("minReplicas: 4", "minReplicas: 1")
    )
    assert "serverside-applied" in fixed.stdout
