"""The validation a real API server does on built-in kinds, with its exact words, through the official
Python client and real kubectl: Recreate Deployments keeping a rollingUpdate, volume mounts naming no
volume, requests above limits, environment variable names (the strict rule of 1.31), decoding errors,
server-side apply conflicts and the 256 KiB limit on annotations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import DynamicApiError

if TYPE_CHECKING:
    from conftest import Kubectl

NS = "default"
ANNOTATION_LIMIT = 262144
TOO_LONG = "metadata.annotations: Too long: must have at most 262144 bytes"


def deployment(
    name: str = "web", *, strategy: dict[str, Any] | None = None, **container: Any
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": "main", "image": "nginx:1.25", **container}]},
        },
    }
    if strategy is not None:
        spec["strategy"] = strategy
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": spec}


def pod(name: str = "p", **container: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "main", "image": "nginx:1.25", **container}]},
    }


def rejected(call: Any, *args: Any) -> dict[str, Any]:
    """The Status of a failing call, by the typed client (ApiException) or the dynamic one."""
    with pytest.raises((ApiException, DynamicApiError)) as raised:
        call(*args)
    error = raised.value
    status: dict[str, Any] = json.loads(error.body)
    assert status["code"] == error.status
    return status


def only_cause(status: dict[str, Any]) -> dict[str, Any]:
    [cause] = status["details"]["causes"]
    cause_found: dict[str, Any] = cause
    return cause_found


# ---- Deployment strategy ----


def test_a_recreate_deployment_may_not_keep_a_rolling_update(apps: client.AppsV1Api) -> None:
    strategy = {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}
    status = rejected(apps.create_namespaced_deployment, NS, deployment(strategy=strategy))
    assert (status["code"], status["reason"]) == (422, "Invalid")
    assert status["message"] == (
        'Deployment.apps "web" is invalid: spec.strategy.rollingUpdate: Forbidden: '
        "may not be specified when strategy `type` is 'Recreate'"
    )
    assert only_cause(status) == {
        "reason": "FieldValueForbidden",
        "message": "Forbidden: may not be specified when strategy `type` is 'Recreate'",
        "field": "spec.strategy.rollingUpdate",
    }


def test_switching_to_recreate_with_a_merge_patch_trips_over_the_defaulted_rolling_update(
    apps: client.AppsV1Api,
) -> None:
    apps.create_namespaced_deployment(NS, deployment())
    status = rejected(
        apps.patch_namespaced_deployment, "web", NS, {"spec": {"strategy": {"type": "Recreate"}}}
    )
    assert only_cause(status)["field"] == "spec.strategy.rollingUpdate"
    # Clearing it in the same patch is what works on a real cluster.
    patched = apps.patch_namespaced_deployment(
        "web", NS, {"spec": {"strategy": {"type": "Recreate", "rollingUpdate": None}}}
    )
    assert patched.spec.strategy.type == "Recreate" and patched.spec.strategy.rolling_update is None


# ---- volume mounts ----


def test_a_volume_mount_must_name_a_volume_of_the_pod(apps: client.AppsV1Api) -> None:
    body = deployment(volumeMounts=[{"name": "x", "mountPath": "/x"}])
    status = rejected(apps.create_namespaced_deployment, NS, body)
    assert status["message"] == (
        'Deployment.apps "web" is invalid: '
        'spec.template.spec.containers[0].volumeMounts[0].name: Not found: "x"'
    )
    assert only_cause(status) == {
        "reason": "FieldValueNotFound",
        "message": 'Not found: "x"',
        "field": "spec.template.spec.containers[0].volumeMounts[0].name",
    }


def test_mount_paths_are_unique_and_required(core: client.CoreV1Api) -> None:
    body = pod(volumeMounts=[{"name": "v", "mountPath": "/data"}, {"name": "v", "mountPath": "/data"}])
    body["spec"]["volumes"] = [{"name": "v", "emptyDir": {}}]
    status = rejected(core.create_namespaced_pod, NS, body)
    assert only_cause(status)["field"] == "spec.containers[0].volumeMounts[1].mountPath"
    assert only_cause(status)["message"] == 'Invalid value: "/data": must be unique'


def test_a_stateful_set_may_mount_its_claim_templates(apps: client.AppsV1Api) -> None:
    """A StatefulSet's template is not validated as a pod spec: its mounts may name claim templates."""
    body = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {
                    "containers": [
                        {
                            "name": "db",
                            "image": "postgres:16",
                            "volumeMounts": [{"name": "data", "mountPath": "/d"}],
                        }
                    ]
                },
            },
            "volumeClaimTemplates": [
                {"metadata": {"name": "data"}, "spec": {"resources": {"requests": {"storage": "1Gi"}}}}
            ],
        },
    }
    created = apps.create_namespaced_stateful_set(NS, body)
    assert created.spec.template.spec.containers[0].volume_mounts[0].name == "data"
    never = json.loads(json.dumps(body))
    never["metadata"]["name"] = "never"
    never["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    status = rejected(apps.create_namespaced_stateful_set, NS, never)
    assert only_cause(status)["message"] == 'Unsupported value: "Never": supported values: "Always"'


# ---- resources ----


def test_a_request_may_not_exceed_its_limit(core: client.CoreV1Api) -> None:
    body = pod(resources={"requests": {"cpu": "2"}, "limits": {"cpu": "1"}})
    status = rejected(core.create_namespaced_pod, NS, body)
    assert status["message"] == (
        'Pod "p" is invalid: spec.containers[0].resources.requests: '
        'Invalid value: "2": must be less than or equal to cpu limit of 1'
    )
    assert only_cause(status)["reason"] == "FieldValueInvalid"


def test_quantities_compare_by_value_in_canonical_form(apps: client.AppsV1Api) -> None:
    body = deployment(resources={"requests": {"memory": "1.5Gi"}, "limits": {"memory": "1Gi"}})
    status = rejected(apps.create_namespaced_deployment, NS, body)
    assert only_cause(status) == {
        "reason": "FieldValueInvalid",
        "message": 'Invalid value: "1536Mi": must be less than or equal to memory limit of 1Gi',
        "field": "spec.template.spec.containers[0].resources.requests",
    }
    fits = deployment("fits", resources={"requests": {"cpu": "500m"}, "limits": {"cpu": "0.5"}})
    assert apps.create_namespaced_deployment(NS, fits).spec.template.spec.containers[0].resources


def test_an_extended_resource_request_must_equal_its_limit(core: client.CoreV1Api) -> None:
    body = pod(resources={"requests": {"example.com/gpu": "1"}, "limits": {"example.com/gpu": "2"}})
    status = rejected(core.create_namespaced_pod, NS, body)
    assert only_cause(status)["message"] == (
        'Invalid value: "1": must be equal to example.com/gpu limit of 2'
    )


# ---- environment variables ----


@pytest.mark.parametrize("name", ["MY_VAR", "my.var-name", "_private", "MyEnvName1", "-dash"])
def test_valid_environment_variable_names(core: client.CoreV1Api, name: str) -> None:
    created = core.create_namespaced_pod(NS, pod(env=[{"name": name, "value": "1"}]))
    assert created.spec.containers[0].env[0].name == name


@pytest.mark.parametrize("name", ["1BAD", "HAS SPACE", "a=b", "ÜBER"])
def test_environment_variable_names_follow_the_strict_rule_of_1_31(core: client.CoreV1Api, name: str) -> None:
    status = rejected(core.create_namespaced_pod, NS, pod(env=[{"name": name, "value": "1"}]))
    assert only_cause(status) == {
        "reason": "FieldValueInvalid",
        "message": (
            f"Invalid value: {json.dumps(name, ensure_ascii=False)}: a valid environment variable name must "
            "consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit "
            "(e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is "
            "'[-._a-zA-Z][-._a-zA-Z0-9]*')"
        ),
        "field": "spec.containers[0].env[0].name",
    }


def test_an_environment_variable_may_not_be_a_parent_directory(core: client.CoreV1Api) -> None:
    status = rejected(core.create_namespaced_pod, NS, pod(env=[{"name": "..cache", "value": "1"}]))
    assert only_cause(status)["message"] == "Invalid value: \"..cache\": must not start with '..'"


# ---- decoding ----


def test_a_non_string_config_map_value_is_a_decoding_error(dynamic: DynamicClient) -> None:
    config_maps = dynamic.resources.get(api_version="v1", kind="ConfigMap")
    body = {"metadata": {"name": "numbers"}, "data": {"port": "8080", "replicas": 3}}
    # The typed client refuses the number itself; the dynamic one sends it as given.
    status = rejected(lambda: config_maps.create(body=body, namespace=NS))
    assert (status["code"], status["reason"]) == (400, "BadRequest")
    assert status["message"] == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal number '
        "into Go struct field ConfigMap.data of type string"
    )


# ---- server-side apply conflicts ----


def test_an_apply_conflict_names_each_field_as_a_field_manager_conflict(
    apps: client.AppsV1Api, dynamic: DynamicClient
) -> None:
    deployments = dynamic.resources.get(api_version="apps/v1", kind="Deployment")

    def apply(manager: str, replicas: int) -> Any:
        config = deployment()
        config["spec"]["replicas"] = replicas
        return deployments.server_side_apply(body=config, namespace=NS, field_manager=manager)

    apply("kubedrift", 2)
    status = rejected(apply, "helm", 3)
    assert (status["code"], status["reason"]) == (409, "Conflict")
    assert status["message"] == 'Apply failed with 1 conflict: conflict with "kubedrift": .spec.replicas'
    assert status["details"] == {
        "causes": [
            {
                "reason": "FieldManagerConflict",
                "message": 'conflict with "kubedrift"',
                "field": ".spec.replicas",
            }
        ]
    }
    assert apps.read_namespaced_deployment("web", NS).spec.replicas == 2


# ---- the 256 KiB limit on annotations ----


def test_annotations_may_total_256_kib_and_no_more(core: client.CoreV1Api) -> None:
    key = "example.com/blob"
    fits = {"metadata": {"name": "fits", "annotations": {key: "x" * (ANNOTATION_LIMIT - len(key))}}}
    assert core.create_namespaced_config_map(NS, fits).metadata.name == "fits"
    over = {"metadata": {"name": "over", "annotations": {key: "x" * (ANNOTATION_LIMIT - len(key) + 1)}}}
    status = rejected(core.create_namespaced_config_map, NS, over)
    assert status["message"] == f'ConfigMap "over" is invalid: {TOO_LONG}'
    assert only_cause(status) == {
        "reason": "FieldValueTooLong",
        "message": "Too long: must have at most 262144 bytes",
        "field": "metadata.annotations",
    }
    # Bytes, not characters: two-byte characters count twice.
    wide = {"metadata": {"name": "wide", "annotations": {key: "é" * (ANNOTATION_LIMIT // 2)}}}
    status = rejected(core.create_namespaced_config_map, NS, wide)
    assert only_cause(status)["field"] == "metadata.annotations"


def test_annotation_keys_are_checked_case_insensitively(core: client.CoreV1Api) -> None:
    created = core.create_namespaced_config_map(
        NS, {"metadata": {"name": "upper", "annotations": {"Example.COM/Key": "v"}}}
    )
    assert created.metadata.annotations == {"Example.COM/Key": "v"}


def _big_config_map(tmp_path: Path) -> str:
    path = tmp_path / "big.yaml"
    path.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\n  namespace: default\n"
        f"data:\n  blob: {'x' * 300_000}\n"
    )
    return str(path)


def _big_crd(tmp_path: Path) -> str:
    description = "d" * 300_000
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "monsters.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"plural": "monsters", "singular": "monster", "kind": "Monster"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": description,
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }
    path = tmp_path / "crd.json"
    path.write_text(json.dumps(crd))
    return str(path)


def test_kubectl_client_side_apply_of_a_large_config_map_fails_as_on_a_cluster(
    kubectl: Kubectl, tmp_path: Path
) -> None:
    manifest = _big_config_map(tmp_path)
    failed = kubectl.run("apply", "-f", manifest, check=False)
    assert failed.returncode != 0
    assert f'The ConfigMap "big" is invalid: {TOO_LONG}' in failed.stderr
    applied = kubectl.run("apply", "--server-side", "-f", manifest)
    assert "configmap/big serverside-applied" in applied.stdout


def test_kubectl_client_side_apply_of_a_large_crd_fails_as_on_a_cluster(
    kubectl: Kubectl, tmp_path: Path
) -> None:
    manifest = _big_crd(tmp_path)
    failed = kubectl.run("apply", "-f", manifest, check=False)
    assert failed.returncode != 0
    assert f'The CustomResourceDefinition "monsters.example.com" is invalid: {TOO_LONG}' in failed.stderr
    created = kubectl.run("create", "-f", manifest)
    assert "customresourcedefinition.apiextensions.k8s.io/monsters.example.com created" in created.stdout
