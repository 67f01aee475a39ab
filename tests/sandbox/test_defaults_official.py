"""What a real API server adds to and drops from objects, seen through the official Python client:
type meta and null creationTimestamps of embedded objects, the default admission plugins (service
account token volume, default StorageClass and IngressClass, storage protection finalizers), Go's
omitempty, and base64 as Go decodes it. Checked against Kubernetes 1.31's sources."""

from __future__ import annotations

import base64
import copy
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient

from sandbox.controllers import ControllerSettings, controller_set
from sandbox.handle import SANDBOX_TOKEN, SandboxThread
from sandbox.server import ServerConfig

if TYPE_CHECKING:
    from conftest import Kubectl

NS = "default"
MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
DEFAULT_STORAGE_CLASS = "storageclass.kubernetes.io/is-default-class"
DEFAULT_INGRESS_CLASS = "ingressclass.kubernetes.io/is-default-class"
TOKEN_VOLUME = re.compile(r"^kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}$")
T = TypeVar("T")


def raw_json(response: Any) -> dict[str, Any]:
    """The object exactly as the server sent it (the typed models hide nulls and type meta)."""
    decoded: dict[str, Any] = json.loads(response.data)
    return decoded


def error_body(error: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(error.body)
    return body


def pod(name: str, *containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": list(containers) or [{"name": "main", "image": "nginx:1.25"}], **spec},
    }


def deployment(name: str, **pod_spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": "nginx:1.25"}], **pod_spec},
            },
        },
    }


def claim(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, **spec},
    }


# ---- embedded objects: type meta and creationTimestamp: null ----


def test_stateful_set_claim_templates_get_type_meta_and_a_null_creation_timestamp(
    apps: client.AppsV1Api,
) -> None:
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
                            "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql"}],
                        }
                    ]
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                }
            ],
        },
    }
    apps.create_namespaced_stateful_set(NS, body)
    stored = raw_json(apps.read_namespaced_stateful_set("db", NS, _preload_content=False))
    spec = stored["spec"]
    assert spec["template"]["metadata"] == {"creationTimestamp": None, "labels": {"app": "db"}}
    assert spec["volumeClaimTemplates"] == [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data", "creationTimestamp": None},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
                "volumeMode": "Filesystem",
            },
            "status": {"phase": "Pending"},
        }
    ]
    # A claim template is no claim: admission gives it neither a class nor a finalizer.
    assert "finalizers" not in spec["volumeClaimTemplates"][0]["metadata"]


def test_templates_without_metadata_get_one_with_a_null_creation_timestamp(
    api_client: client.ApiClient,
) -> None:
    batch = client.BatchV1Api(api_client)
    body = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "nightly"},
        "spec": {
            "schedule": "0 3 * * *",
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [{"name": "main", "image": "busybox:1.36"}],
                        }
                    }
                }
            },
        },
    }
    batch.create_namespaced_cron_job(NS, body)
    stored = raw_json(batch.read_namespaced_cron_job("nightly", NS, _preload_content=False))
    job_template = stored["spec"]["jobTemplate"]
    assert job_template["metadata"] == {"creationTimestamp": None}
    assert job_template["spec"]["template"]["metadata"] == {"creationTimestamp": None}
    # The object's own creationTimestamp is the server's, not null.
    assert stored["metadata"]["creationTimestamp"]


def test_a_deployment_template_keeps_its_null_creation_timestamp_across_updates(
    apps: client.AppsV1Api,
) -> None:
    created = raw_json(apps.create_namespaced_deployment(NS, deployment("web"), _preload_content=False))
    assert created["spec"]["template"]["metadata"] == {"creationTimestamp": None, "labels": {"app": "web"}}
    apps.patch_namespaced_deployment("web", NS, {"spec": {"replicas": 2}})
    stored = raw_json(apps.read_namespaced_deployment("web", NS, _preload_content=False))
    assert stored["spec"]["template"]["metadata"]["creationTimestamp"] is None
    assert "creationTimestamp" in stored["spec"]["template"]["metadata"]


# ---- ServiceAccount admission ----


def test_a_pod_gets_the_service_account_token_volume_in_every_container(core: client.CoreV1Api) -> None:
    body = pod(
        "web",
        {"name": "main", "image": "nginx:1.25"},
        {"name": "sidecar", "image": "busybox:1.36", "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}]},
        initContainers=[{"name": "init", "image": "busybox:1.36"}],
        volumes=[{"name": "tmp", "emptyDir": {}}],
    )
    created = raw_json(core.create_namespaced_pod(NS, body, _preload_content=False))
    spec = created["spec"]
    token = spec["volumes"][-1]
    assert TOKEN_VOLUME.match(token["name"]), token["name"]
    assert token["projected"] == {
        "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {
                "downwardAPI": {
                    "items": [
                        {
                            "path": "namespace",
                            "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                        }
                    ]
                }
            },
        ],
        "defaultMode": 420,
    }
    mount = {"name": token["name"], "readOnly": True, "mountPath": MOUNT_PATH}
    assert spec["initContainers"][0]["volumeMounts"] == [mount]
    assert spec["containers"][0]["volumeMounts"] == [mount]
    assert spec["containers"][1]["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}, mount]
    assert spec["volumes"][0] == {"name": "tmp", "emptyDir": {}}
    # Admission runs after the field manager: nobody owns what it added.
    owned = json.dumps(created["metadata"]["managedFields"])
    assert "kube-api-access" not in owned and "serviceaccount" not in owned


@pytest.mark.parametrize(
    ("pod_setting", "account_setting", "mounted"),
    [
        (False, None, False),
        (None, False, False),
        (True, False, True),
        (None, True, True),
    ],
)
def test_the_token_is_mounted_as_the_pod_or_else_its_service_account_says(
    core: client.CoreV1Api, pod_setting: bool | None, account_setting: bool | None, mounted: bool
) -> None:
    account: dict[str, Any] = {"metadata": {"name": "robot"}}
    if account_setting is not None:
        account["automountServiceAccountToken"] = account_setting
    core.create_namespaced_service_account(NS, account)
    spec: dict[str, Any] = {"serviceAccountName": "robot"}
    if pod_setting is not None:
        spec["automountServiceAccountToken"] = pod_setting
    created = raw_json(core.create_namespaced_pod(NS, pod("p", **spec), _preload_content=False))
    volumes = [v["name"] for v in created["spec"].get("volumes", [])]
    assert any(TOKEN_VOLUME.match(name) for name in volumes) is mounted
    assert ("volumeMounts" in created["spec"]["containers"][0]) is mounted


def test_a_container_that_mounts_the_token_path_itself_keeps_its_own_mount(core: client.CoreV1Api) -> None:
    own = {"name": "token", "mountPath": MOUNT_PATH}
    body = pod(
        "p",
        {"name": "main", "image": "nginx:1.25", "volumeMounts": [own]},
        volumes=[{"name": "token", "secret": {"secretName": "t"}}],
    )
    created = raw_json(core.create_namespaced_pod(NS, body, _preload_content=False))
    assert created["spec"]["containers"][0]["volumeMounts"] == [own]
    assert [v["name"] for v in created["spec"]["volumes"]] == ["token"]


def test_a_pod_without_pull_secrets_gets_its_service_accounts(core: client.CoreV1Api) -> None:
    core.create_namespaced_service_account(
        NS, {"metadata": {"name": "puller"}, "imagePullSecrets": [{"name": "registry"}]}
    )
    created = core.create_namespaced_pod(NS, pod("p", serviceAccountName="puller"))
    assert [s.name for s in created.spec.image_pull_secrets] == ["registry"]
    own = core.create_namespaced_pod(
        NS, pod("q", serviceAccountName="puller", imagePullSecrets=[{"name": "mine"}])
    )
    assert [s.name for s in own.spec.image_pull_secrets] == ["mine"]


# ---- default classes and storage protection ----


def test_a_fresh_sandbox_has_the_default_storage_class_standard(api_client: client.ApiClient) -> None:
    storage = client.StorageV1Api(api_client)
    [standard] = storage.list_storage_class().items
    assert standard.metadata.name == "standard"
    assert standard.metadata.annotations == {"storageclass.kubernetes.io/is-default-class": "true"}
    assert (standard.reclaim_policy, standard.volume_binding_mode) == ("Delete", "Immediate")


def test_a_claim_without_a_class_gets_the_default_one_and_the_protection_finalizer(
    core: client.CoreV1Api,
) -> None:
    created = core.create_namespaced_persistent_volume_claim(NS, claim("data"))
    assert created.spec.storage_class_name == "standard"
    assert created.metadata.finalizers == ["kubernetes.io/pvc-protection"]
    assert created.status.phase == "Pending"
    # An empty class asks for none: it is kept as it is.
    empty = core.create_namespaced_persistent_volume_claim(NS, claim("static", storageClassName=""))
    assert empty.spec.storage_class_name == ""
    named = core.create_namespaced_persistent_volume_claim(NS, claim("fast", storageClassName="fast"))
    assert named.spec.storage_class_name == "fast"


def test_the_newest_default_storage_class_wins(api_client: client.ApiClient, core: client.CoreV1Api) -> None:
    storage = client.StorageV1Api(api_client)
    # Named to sort after `standard`, so only being newer makes it win; timestamps are in seconds.
    time.sleep(1.1)
    storage.create_storage_class(
        {
            "metadata": {"name": "zz-ssd", "annotations": {DEFAULT_STORAGE_CLASS: "true"}},
            "provisioner": "example.com/ssd",
        }
    )
    created = core.create_namespaced_persistent_volume_claim(NS, claim("data"))
    assert created.spec.storage_class_name == "zz-ssd"
    storage.delete_storage_class("zz-ssd", _preload_content=False)
    storage.delete_storage_class("standard", _preload_content=False)
    bare = core.create_namespaced_persistent_volume_claim(NS, claim("bare"))
    assert bare.spec.storage_class_name is None


def test_a_persistent_volume_gets_the_pv_protection_finalizer_and_defaults(core: client.CoreV1Api) -> None:
    body = {
        "metadata": {"name": "disk"},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "hostPath": {"path": "/data/disk"},
        },
    }
    created = core.create_persistent_volume(body)
    assert created.metadata.finalizers == ["kubernetes.io/pv-protection"]
    assert created.spec.persistent_volume_reclaim_policy == "Retain"
    assert created.spec.volume_mode == "Filesystem"
    assert created.spec.host_path.type == ""


def test_an_ingress_without_a_class_gets_the_default_ingress_class(api_client: client.ApiClient) -> None:
    networking = client.NetworkingV1Api(api_client)
    backend = {"service": {"name": "web", "port": {"number": 80}}}
    rule = {"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}}
    before = {"metadata": {"name": "before"}, "spec": {"rules": [rule]}}
    plain = networking.create_namespaced_ingress(NS, before)
    assert plain.spec.ingress_class_name is None
    networking.create_ingress_class(
        {
            "metadata": {"name": "nginx", "annotations": {DEFAULT_INGRESS_CLASS: "true"}},
            "spec": {"controller": "k8s.io/ingress-nginx"},
        }
    )
    defaulted = networking.create_namespaced_ingress(
        NS, {"metadata": {"name": "web"}, "spec": {"rules": [rule]}}
    )
    assert defaulted.spec.ingress_class_name == "nginx"
    annotated = networking.create_namespaced_ingress(
        NS,
        {
            "metadata": {"name": "legacy", "annotations": {"kubernetes.io/ingress.class": "traefik"}},
            "spec": {"rules": [rule]},
        },
    )
    assert annotated.spec.ingress_class_name is None


# ---- omitempty ----


def test_empty_maps_and_lists_are_dropped_and_empty_structs_kept(core: client.CoreV1Api) -> None:
    body = pod(
        "p",
        {
            "name": "main",
            "image": "nginx:1.25",
            "args": [],
            "env": [],
            "resources": {"requests": {}, "limits": {}},
            "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}],
        },
        nodeSelector={},
        tolerations=[],
        imagePullSecrets=[],
        securityContext={},
        volumes=[{"name": "scratch", "emptyDir": {}}],
        automountServiceAccountToken=False,
    )
    body["metadata"].update({"annotations": {}, "labels": {}, "finalizers": []})
    created = raw_json(core.create_namespaced_pod(NS, body, _preload_content=False))
    container = created["spec"]["containers"][0]
    assert "args" not in container and "env" not in container
    assert container["resources"] == {}
    assert "nodeSelector" not in created["spec"]
    assert "imagePullSecrets" not in created["spec"]
    assert created["spec"]["securityContext"] == {}
    assert created["spec"]["volumes"] == [{"name": "scratch", "emptyDir": {}}]
    assert not {"annotations", "labels", "finalizers"} & set(created["metadata"])
    # The default tolerations admission adds still come: the empty list itself was dropped, not kept.
    assert [t["key"] for t in created["spec"]["tolerations"]] == [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ]


def test_omitempty_is_per_field_not_per_value(api_client: client.ApiClient, core: client.CoreV1Api) -> None:
    networking = client.NetworkingV1Api(api_client)
    policy = networking.create_namespaced_network_policy(
        NS,
        {"metadata": {"name": "deny"}, "spec": {"podSelector": {"matchLabels": {}}, "ingress": []}},
        _preload_content=False,
    )
    spec = raw_json(policy)["spec"]
    assert spec["podSelector"] == {}, "a LabelSelector is a struct: kept, but its empty map goes"
    assert "ingress" not in spec
    rbac = client.RbacAuthorizationV1Api(api_client)
    role = raw_json(
        rbac.create_namespaced_role(NS, {"metadata": {"name": "none"}, "rules": []}, _preload_content=False)
    )
    assert role["rules"] == [], "Role.rules has no omitempty"
    headless = {"metadata": {"name": "headless"}, "spec": {"clusterIP": "None", "selector": {}}}
    service = core.create_namespaced_service(NS, headless, _preload_content=False)
    assert "selector" not in raw_json(service)["spec"], "a Service selector is a map"


def test_a_crd_does_not_store_preserve_unknown_fields_false(api_client: client.ApiClient) -> None:
    extensions = client.ApiextensionsV1Api(api_client)
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "scope": "Namespaced",
            "preserveUnknownFields": False,
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {}, "required": []}},
                }
            ],
        },
    }
    created = raw_json(extensions.create_custom_resource_definition(crd, _preload_content=False))
    assert "preserveUnknownFields" not in created["spec"]
    assert created["spec"]["versions"][0]["schema"] == {"openAPIV3Schema": {"type": "object"}}


# ---- base64 of []byte fields ----


def test_line_wrapped_base64_is_accepted_and_stored_on_one_line(core: client.CoreV1Api) -> None:
    value = base64_of(b"x" * 100)
    wrapped = "\n".join(value[i : i + 76] for i in range(0, len(value), 76)) + "\n"
    assert "\n" in wrapped.strip()
    created = core.create_namespaced_secret(
        NS, {"metadata": {"name": "wrapped"}, "data": {"blob": wrapped}}, _preload_content=False
    )
    assert raw_json(created)["data"] == {"blob": value}
    config_map = core.create_namespaced_config_map(
        NS, {"metadata": {"name": "wrapped"}, "binaryData": {"blob": wrapped.replace("\n", "\r\n")}}
    )
    assert config_map.binary_data == {"blob": value}


@pytest.mark.parametrize(
    ("value", "offset"),
    [("aGVsbG8*", 7), ("aGVsbG8", 4), ("aGVs bG8=", 4), ("aGVsbG8=x", 8), ("aA=", 3), ("=", 0)],
)
def test_invalid_base64_is_a_400_naming_the_byte_as_go_does(
    core: client.CoreV1Api, value: str, offset: int
) -> None:
    with pytest.raises(ApiException) as raised:
        core.create_namespaced_secret(NS, {"metadata": {"name": "bad"}, "data": {"k": value}})
    assert raised.value.status == 400
    assert error_body(raised.value)["message"] == (
        f'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte {offset}'
    )


def base64_of(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_a_namespace_gets_the_kubernetes_finalizer_on_create(core: client.CoreV1Api) -> None:
    created = core.create_namespace({"metadata": {"name": "shop"}})
    assert created.spec.finalizers == ["kubernetes"]
    assert created.status.phase == "Active"


# ---- the volume controllers: classes, static binding and protection ----


def wait_for(probe: Callable[[], T | None], what: str, timeout: float = 10.0) -> T:
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except ApiException as error:
            if error.status != 404:
                raise
            last = None
        if last:
            return last
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}")


def bound_claim(core: client.CoreV1Api, name: str) -> client.V1PersistentVolumeClaim | None:
    found = core.read_namespaced_persistent_volume_claim(name, NS)
    return found if found.status.phase == "Bound" else None


@pytest.fixture(scope="module")
def cluster() -> Iterator[client.CoreV1Api]:
    """A sandbox with its controllers, shared by the storage tests below (each uses its own names)."""
    controllers = controller_set(ControllerSettings(pod_start_delay=0.01))
    with SandboxThread(config=ServerConfig(bookmark_interval=0.2), controllers=controllers.all()) as running:
        configuration = client.Configuration(host=running.url)
        configuration.api_key = {"authorization": SANDBOX_TOKEN}
        configuration.api_key_prefix = {"authorization": "Bearer"}
        with client.ApiClient(configuration) as api:
            yield client.CoreV1Api(api)


def test_a_claim_with_an_empty_class_is_never_provisioned(cluster: client.CoreV1Api) -> None:
    cluster.create_namespaced_persistent_volume_claim(NS, claim("classless", storageClassName=""))
    provisioned = cluster.create_namespaced_persistent_volume_claim(NS, claim("classed"))
    wait_for(
        lambda: cluster.read_namespaced_persistent_volume_claim("classed", NS).status.phase == "Bound",
        "the defaulted claim to be provisioned",
    )
    assert provisioned.spec.storage_class_name == "standard"
    assert cluster.read_namespaced_persistent_volume_claim("classless", NS).status.phase == "Pending"
    cluster.create_persistent_volume(
        {
            "metadata": {"name": "manual"},
            "spec": {
                "capacity": {"storage": "2Gi"},
                "accessModes": ["ReadWriteOnce"],
                "hostPath": {"path": "/m"},
            },
        }
    )
    bound = wait_for(lambda: bound_claim(cluster, "classless"), "the classless claim to bind the volume")
    assert bound.spec.volume_name == "manual"
    assert bound.status.capacity == {"storage": "2Gi"}


def test_a_claim_of_a_missing_class_stays_pending(cluster: client.CoreV1Api) -> None:
    cluster.create_namespaced_persistent_volume_claim(NS, claim("orphan", storageClassName="gold"))
    time.sleep(0.3)
    assert cluster.read_namespaced_persistent_volume_claim("orphan", NS).status.phase == "Pending"
    reasons = wait_for(
        lambda: [
            e.message
            for e in cluster.list_namespaced_event(NS).items
            if e.involved_object.name == "orphan" and e.reason == "ProvisioningFailed"
        ],
        "the ProvisioningFailed event",
    )
    assert reasons == ['storageclass.storage.k8s.io "gold" not found']


def test_a_claim_in_use_is_deleted_only_once_its_pod_is_gone(cluster: client.CoreV1Api) -> None:
    cluster.create_namespaced_persistent_volume_claim(NS, claim("held"))
    bound = wait_for(lambda: bound_claim(cluster, "held"), "the claim to bind")
    user = pod(
        "user",
        {"name": "main", "image": "nginx:1.25", "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
        volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "held"}}],
    )
    cluster.create_namespaced_pod(NS, user)
    wait_for(lambda: cluster.read_namespaced_pod("user", NS).spec.node_name, "the pod to be scheduled")
    cluster.delete_namespaced_persistent_volume_claim("held", NS)
    time.sleep(0.3)
    pending = cluster.read_namespaced_persistent_volume_claim("held", NS)
    assert pending.metadata.deletion_timestamp is not None
    assert pending.metadata.finalizers == ["kubernetes.io/pvc-protection"]
    cluster.delete_namespaced_pod("user", NS, grace_period_seconds=0)

    def claim_gone() -> bool:
        try:
            cluster.read_namespaced_persistent_volume_claim("held", NS)
        except ApiException as error:
            return error.status == 404
        return False

    wait_for(claim_gone, "the claim to go once its pod is gone")

    def volume_gone() -> bool:
        try:
            cluster.read_persistent_volume(bound.spec.volume_name)
        except ApiException as error:
            return error.status == 404
        return False

    wait_for(volume_gone, "the released volume (reclaim policy Delete) to go past pv-protection")


def test_defaults_are_idempotent_through_a_get_and_put(core: client.CoreV1Api) -> None:
    created = raw_json(core.create_namespaced_pod(NS, pod("p"), _preload_content=False))
    again = copy.deepcopy(created)
    replaced = raw_json(core.replace_namespaced_pod("p", NS, again, _preload_content=False))
    assert replaced["spec"] == created["spec"]
    assert replaced["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_server_side_apply_stores_base64_on_one_line_too(dynamic: DynamicClient) -> None:
    secrets = dynamic.resources.get(api_version="v1", kind="Secret")
    value = base64_of(b"y" * 80)
    wrapped = value[:40] + "\n" + value[40:] + "\n"
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "applied"}, "data": {"k": wrapped}}
    applied = secrets.server_side_apply(body=body, namespace=NS, field_manager="kubedrift")
    assert applied.data["k"] == value
    again = secrets.server_side_apply(body=body, namespace=NS, field_manager="kubedrift")
    assert again.metadata.resourceVersion == applied.metadata.resourceVersion, "re-applying changes nothing"


def test_kubectl_shows_the_null_creation_timestamp_and_diffs_clean(kubectl: Kubectl, tmp_path: Path) -> None:
    manifest = tmp_path / "web.yaml"
    manifest.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: default\n"
        "  annotations: {}\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n"
        "    metadata:\n      labels: {app: web}\n    spec:\n      nodeSelector: {}\n"
        "      containers:\n      - name: web\n        image: nginx:1.25\n        resources: {requests: {}}\n"
    )
    kubectl.run("apply", "-f", str(manifest))
    live = kubectl.json("get", "deployment", "web")
    assert live["spec"]["template"]["metadata"] == {"creationTimestamp": None, "labels": {"app": "web"}}
    assert "nodeSelector" not in live["spec"]["template"]["spec"]
    diffed = kubectl.run("diff", "-f", str(manifest), check=False)
    assert (diffed.returncode, diffed.stdout) == (0, ""), diffed.stderr
