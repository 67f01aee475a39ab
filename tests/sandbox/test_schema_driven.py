"""The sandbox driven by the official schema: server-side apply typing from the definitions, type
errors worded as the decoder words them, and Quantity fields canonical wherever the schema has one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import DynamicApiError

if TYPE_CHECKING:
    from conftest import Kubectl

NS = "default"


def apply(
    dynamic: DynamicClient, body: dict[str, Any], manager: str, *, force: bool = False
) -> dict[str, Any]:
    resource = dynamic.resources.get(api_version=body["apiVersion"], kind=body["kind"])
    applied = resource.server_side_apply(
        body=body, name=body["metadata"]["name"], namespace=NS, field_manager=manager, force_conflicts=force
    )
    result: dict[str, Any] = applied.to_dict()
    return result


def owned_by(obj: dict[str, Any], manager: str) -> dict[str, Any]:
    [entry] = [e for e in obj["metadata"]["managedFields"] if e["manager"] == manager]
    fields: dict[str, Any] = entry["fieldsV1"]
    return fields


def status_of(raised: pytest.ExceptionInfo[ApiException]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(raised.value.body)
    return body


def web_deployment(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]},
            },
            **spec,
        },
    }


# ---- server-side apply typing ----


REQUIRED_AFFINITY = {
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]
        }
    }
}


def test_a_node_selector_is_owned_whole_as_the_official_schema_marks_it_atomic(
    dynamic: DynamicClient,
) -> None:
    # The old hand-written tables had no entry for NodeSelector and treated it as a granular struct;
    # the definitions mark it `x-kubernetes-map-type: atomic`, so apply owns it as one field.
    body = web_deployment()
    body["spec"]["template"]["spec"]["affinity"] = REQUIRED_AFFINITY
    created = apply(dynamic, body, "kubedrift")
    affinity = owned_by(created, "kubedrift")["f:spec"]["f:template"]["f:spec"]["f:affinity"]
    assert affinity == {"f:nodeAffinity": {"f:requiredDuringSchedulingIgnoredDuringExecution": {}}}


def test_an_autoscaling_v1_scale_target_conflicts_as_one_field(dynamic: DynamicClient) -> None:
    hpa = {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "maxReplicas": 3,
        },
    }
    created = apply(dynamic, hpa, "kubedrift")
    assert owned_by(created, "kubedrift")["f:spec"]["f:scaleTargetRef"] == {}
    retarget = json.loads(json.dumps(hpa))
    retarget["spec"]["scaleTargetRef"]["name"] = "api"
    with pytest.raises(ApiException) as raised:
        apply(dynamic, retarget, "helm")
    assert raised.value.status == 409
    # CrossVersionObjectReference is atomic in autoscaling/v1: the conflict names the whole struct.
    assert [cause["field"] for cause in status_of(raised)["details"]["causes"]] == [".spec.scaleTargetRef"]


def test_container_ports_without_a_protocol_are_keyed_by_its_default(dynamic: DynamicClient) -> None:
    body = web_deployment()
    body["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 8080}]
    created = apply(dynamic, body, "kubedrift")
    container = owned_by(created, "kubedrift")["f:spec"]["f:template"]["f:spec"]["f:containers"][
        'k:{"name":"web"}'
    ]
    assert list(container["f:ports"]) == ['k:{"containerPort":8080,"protocol":"TCP"}']


GADGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "gadgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
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
                                    "parts": {
                                        "type": "array",
                                        "x-kubernetes-list-type": "map",
                                        "x-kubernetes-list-map-keys": ["name"],
                                        "items": {
                                            "type": "object",
                                            "properties": {
                                                "name": {"type": "string"},
                                                "count": {"type": "integer"},
                                            },
                                        },
                                    },
                                    "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                                },
                            }
                        },
                    }
                },
            }
        ],
    },
}


def test_a_custom_resource_is_applied_with_its_crd_schema(dynamic: DynamicClient, tmp_path: Path) -> None:
    definitions = dynamic.resources.get(
        api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition"
    )
    definitions.create(body=GADGET_CRD)
    fresh = DynamicClient(dynamic.client, cache_file=str(tmp_path / "after-crd.json"))

    def gadget(manager: str, *parts: str) -> dict[str, Any]:
        body = {
            "apiVersion": "example.com/v1",
            "kind": "Gadget",
            "metadata": {"name": "g", "namespace": NS},
            "spec": {"parts": [{"name": part, "count": 1} for part in parts]},
        }
        if manager == "kubedrift":
            body["spec"]["extra"] = {"colour": {"name": "red"}}
        return apply(fresh, body, manager)

    gadget("kubedrift", "wheel")
    merged = gadget("helm", "bell")
    # A list-map: each manager owns its own element, and the applies merge instead of replacing.
    assert [part["name"] for part in merged["spec"]["parts"]] == ["wheel", "bell"]
    spec = owned_by(merged, "kubedrift")["f:spec"]
    assert spec["f:parts"] == {'k:{"name":"wheel"}': {".": {}, "f:count": {}, "f:name": {}}}
    # Under preserve-unknown-fields every key is data, owned as an item.
    assert spec["f:extra"] == {"f:colour": {".": {}, "f:name": {}}}


# ---- type errors ----


def refused(dynamic: DynamicClient, body: dict[str, Any]) -> dict[str, Any]:
    """The Status of a create the server refuses (the dynamic client sends the body as it is; the
    typed client would refuse a wrong type before sending it)."""
    resource = dynamic.resources.get(api_version=body["apiVersion"], kind=body["kind"])
    with pytest.raises(DynamicApiError) as raised:
        resource.create(body=body, namespace=NS)
    status: dict[str, Any] = json.loads(raised.value.body)
    assert status["code"] == raised.value.status
    return status


def created(dynamic: DynamicClient, body: dict[str, Any]) -> dict[str, Any]:
    resource = dynamic.resources.get(api_version=body["apiVersion"], kind=body["kind"])
    result: dict[str, Any] = resource.create(body=body, namespace=NS).to_dict()
    return result


def test_a_wrong_type_is_refused_with_the_decoders_message(dynamic: DynamicClient) -> None:
    status = refused(dynamic, web_deployment(replicas="3"))
    assert (status["code"], status["reason"]) == (400, "BadRequest")
    assert status["message"] == (
        'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string '
        "into Go struct field DeploymentSpec.spec.replicas of type int32"
    )
    labelled = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": []}}
    assert refused(dynamic, labelled)["message"] == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal array '
        "into Go struct field ObjectMeta.metadata.labels of type map[string]string"
    )
    flat = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": "ClusterIP"}
    assert refused(dynamic, flat)["message"].endswith(
        "json: cannot unmarshal string into Go struct field Service.spec of type v1.ServiceSpec"
    )
    fractional = web_deployment()
    fractional["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 80.5}]
    assert refused(dynamic, fractional)["message"].endswith(
        "json: cannot unmarshal number 80.5 into Go struct field "
        "ContainerPort.spec.template.spec.containers.ports.containerPort of type int32"
    )
    deployments = dynamic.resources.get(api_version="apps/v1", kind="Deployment")
    assert deployments.get(namespace=NS).items == []


def test_quantities_and_int_or_strings_accept_both_forms(dynamic: DynamicClient) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.25", "resources": {"limits": {"cpu": 0.5}}}]},
    }
    assert created(dynamic, pod)["spec"]["containers"][0]["resources"]["limits"] == {"cpu": "500m"}
    for name, target in (("by-number", 8080), ("by-name", "http")):
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name},
            "spec": {"ports": [{"port": 80, "targetPort": target}]},
        }
        assert created(dynamic, service)["spec"]["ports"][0]["targetPort"] == target
    wrong = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "wrong"},
        "spec": {"ports": [{"port": 80, "targetPort": True}]},
    }
    assert refused(dynamic, wrong)["message"].endswith(
        "json: cannot unmarshal bool into Go struct field ServicePort.spec.ports.targetPort of type int32"
    )


def test_a_patch_that_leaves_a_wrong_type_is_invalid(api_client: client.ApiClient) -> None:
    apps = client.AppsV1Api(api_client)
    apps.create_namespaced_deployment(NS, web_deployment())
    with pytest.raises(ApiException) as raised:
        apps.patch_namespaced_deployment(
            "web", NS, {"spec": {"replicas": "3"}}, _content_type="application/merge-patch+json"
        )
    assert raised.value.status == 422
    message = status_of(raised)["message"]
    assert message.startswith(' "" is invalid: patch: Invalid value: "{')
    assert message.endswith(
        "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"
    )
    assert apps.read_namespaced_deployment("web", NS).spec.replicas == 1


def test_an_apply_with_a_wrong_type_is_refused(dynamic: DynamicClient) -> None:
    with pytest.raises(ApiException) as raised:
        apply(dynamic, web_deployment(replicas="3"), "kubedrift")
    assert raised.value.status == 500
    assert status_of(raised)["message"] == (
        "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): "
        ".spec.replicas: expected numeric (int or float), got string"
    )


def test_kubectl_reports_the_decoders_message(kubectl: Kubectl, tmp_path: Path) -> None:
    path = tmp_path / "web.json"
    path.write_text(json.dumps(web_deployment(replicas="3")))
    done = kubectl.run("create", "-f", str(path), check=False)
    assert done.returncode != 0
    assert (
        'Error from server (BadRequest): error when creating "' + str(path) + '": Deployment in version "v1" '
        "cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field "
        "DeploymentSpec.spec.replicas of type int32"
    ) in done.stderr


# ---- quantities ----


def test_autoscaler_metric_targets_are_stored_canonical(dynamic: DynamicClient) -> None:
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "maxReplicas": 5,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "memory",
                        "target": {"type": "AverageValue", "averageValue": "1.5Gi"},
                    },
                },
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": "queue"},
                        "target": {"type": "AverageValue", "averageValue": 0.5},
                    },
                },
                {
                    "type": "External",
                    "external": {"metric": {"name": "lag"}, "target": {"type": "Value", "value": "1000m"}},
                },
            ],
        },
    }
    resource = dynamic.resources.get(api_version="autoscaling/v2", kind="HorizontalPodAutoscaler")
    created = resource.create(body=hpa, namespace=NS).to_dict()
    targets = [metric[metric["type"].lower()]["target"] for metric in created["spec"]["metrics"]]
    assert [target.get("averageValue") or target.get("value") for target in targets] == [
        "1536Mi",
        "500m",
        "1",
    ]


def test_limit_range_and_quota_quantities_are_canonical(dynamic: DynamicClient) -> None:
    limits = {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": "limits"},
        "spec": {"limits": [{"type": "Pod", "max": {"memory": "2048Mi", "cpu": 1.5}}]},
    }
    assert created(dynamic, limits)["spec"]["limits"][0]["max"] == {"memory": "2Gi", "cpu": "1500m"}
    bad = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "q"},
        "spec": {"hard": {"cpu": "lots"}},
    }
    status = refused(dynamic, bad)
    assert status["code"] == 400
    assert status["message"].startswith(
        'ResourceQuota in version "v1" cannot be handled as a ResourceQuota: quantities must match'
    )
