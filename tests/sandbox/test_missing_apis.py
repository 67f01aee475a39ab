"""The APIs a 1.30 cluster serves beyond the workload kinds, through the official client and real kubectl:
stored kinds (created, listed, watched, printed), the objects a fresh cluster has, reviews and tokens
(`kubectl auth can-i`, `auth whoami`, `create token`), eviction and `kubectl drain`, CSR approval, and
the container endpoints the sandbox does not serve.

One sandbox with fast controllers serves the module; each test works in its own namespace. Every wait
polls a condition with a deadline.
"""

from __future__ import annotations

import base64
import itertools
import json
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from sandbox.controllers import ControllerSet, ControllerSettings, controller_set
from sandbox.handle import SANDBOX_TOKEN, SandboxThread
from sandbox.procedures import CONTAINERS_NOT_SUPPORTED
from sandbox.server import ServerConfig

if TYPE_CHECKING:
    from conftest import Kubectl

T = TypeVar("T")
NODE = "sandbox-node"
_namespaces = itertools.count()


def wait_for(probe: Callable[[], T | None], what: str, timeout: float = 10.0) -> T:
    """Poll until `probe` returns something truthy; fail naming `what` after `timeout` seconds."""
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


@pytest.fixture(scope="module")
def controllers() -> ControllerSet:
    return controller_set(
        ControllerSettings(pod_start_delay=0.01, pod_run_duration=0.02, pod_stop_delay=0.02, job_backoff=0.0)
    )


@pytest.fixture(scope="module")
def sandbox(controllers: ControllerSet) -> Iterator[SandboxThread]:
    """Overrides conftest's controller-less sandbox, so its client and kubectl fixtures use this one."""
    with SandboxThread(config=ServerConfig(bookmark_interval=0.2), controllers=controllers.all()) as running:
        yield running


@pytest.fixture
def namespace(core: client.CoreV1Api) -> Iterator[str]:
    name = f"apis-{next(_namespaces)}"
    core.create_namespace({"metadata": {"name": name}})
    yield name
    core.delete_namespace(name)


def raw(
    api_client: client.ApiClient, method: str, path: str, body: Any = None, **headers: str
) -> tuple[int, Any]:
    """A request whose answer is read as JSON, not into a typed model."""
    try:
        response = api_client.call_api(
            *api_client.param_serialize(
                method=method,
                resource_path=path,
                body=body,
                header_params={"Content-Type": "application/json", "Accept": "application/json", **headers},
                auth_settings=["BearerToken"],
            )
        )
        response.read()
        return response.status, json.loads(response.data or b"null")
    except ApiException as error:
        return error.status, json.loads(error.body or "null")


def watched_names(list_call: Callable[..., Any], *args: Any) -> set[str]:
    """The names a watch from the start reports (every current object arrives as ADDED)."""
    return {
        event["object"].metadata.name
        for event in watch.Watch().stream(list_call, *args, timeout_seconds=1)
        if event["type"] == "ADDED"
    }


# ---- discovery ----

NEW_RESOURCES = [
    ("", "v1", "replicationcontrollers", "ReplicationController", True),
    ("", "v1", "limitranges", "LimitRange", True),
    ("", "v1", "resourcequotas", "ResourceQuota", True),
    ("storage.k8s.io", "v1", "storageclasses", "StorageClass", False),
    ("apiregistration.k8s.io", "v1", "apiservices", "APIService", False),
    ("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False),
    ("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True),
    ("coordination.k8s.io", "v1", "leases", "Lease", True),
    ("certificates.k8s.io", "v1", "certificatesigningrequests", "CertificateSigningRequest", False),
    (
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        False,
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        False,
    ),
]
REVIEWS = [
    ("authorization.k8s.io", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False),
    ("authorization.k8s.io", "selfsubjectrulesreviews", "SelfSubjectRulesReview", False),
    ("authorization.k8s.io", "subjectaccessreviews", "SubjectAccessReview", False),
    ("authorization.k8s.io", "localsubjectaccessreviews", "LocalSubjectAccessReview", True),
    ("authentication.k8s.io", "tokenreviews", "TokenReview", False),
    ("authentication.k8s.io", "selfsubjectreviews", "SelfSubjectReview", False),
]


def _resources(api_client: client.ApiClient, group: str, version: str) -> dict[str, Any]:
    path = f"/apis/{group}/{version}" if group else f"/api/{version}"
    status, document = raw(api_client, "GET", path)
    assert status == 200, document
    return {r["name"]: r for r in document["resources"]}


def test_discovery_lists_the_new_kinds_and_subresources(api_client: client.ApiClient) -> None:
    for group, version, plural, kind, namespaced in NEW_RESOURCES:
        entry = _resources(api_client, group, version)[plural]
        assert (entry["kind"], entry["namespaced"]) == (kind, namespaced)
        assert "watch" in entry["verbs"] and "list" in entry["verbs"]
    for group, plural, kind, namespaced in REVIEWS:
        entry = _resources(api_client, group, "v1")[plural]
        assert (entry["kind"], entry["namespaced"], entry["verbs"]) == (kind, namespaced, ["create"])
    core = _resources(api_client, "", "v1")
    eviction = core["pods/eviction"]
    assert (eviction["group"], eviction["version"], eviction["kind"], eviction["verbs"]) == (
        "policy",
        "v1",
        "Eviction",
        ["create"],
    )
    token = core["serviceaccounts/token"]
    assert (token["group"], token["kind"], token["verbs"]) == (
        "authentication.k8s.io",
        "TokenRequest",
        ["create"],
    )
    assert core["pods/log"]["verbs"] == ["get"]
    assert core["pods/exec"]["kind"] == "PodExecOptions"
    approval = _resources(api_client, "certificates.k8s.io", "v1")["certificatesigningrequests/approval"]
    assert approval["verbs"] == ["get", "patch", "update"]
    # A review can only be created: nothing is stored to list.
    code, status = raw(api_client, "GET", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
    assert (code, status["reason"]) == (405, "MethodNotAllowed")


# ---- stored kinds through the official client ----

CSR_REQUEST = base64.b64encode(
    b"-----BEGIN CERTIFICATE REQUEST-----\nMIIBsandbox\n-----END CERTIFICATE REQUEST-----\n"
)


def _webhook(name: str) -> dict[str, Any]:
    return {
        "name": f"{name}.example.com",
        "clientConfig": {"service": {"namespace": "default", "name": "nowhere", "path": "/hook"}},
        "rules": [
            {"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"]}
        ],
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        "failurePolicy": "Fail",
    }


def test_each_new_kind_is_created_listed_and_watched(api_client: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api_client)
    cases: list[tuple[str, Callable[..., Any], Callable[..., Any], tuple[str, ...], dict[str, Any]]] = [
        (
            "ReplicationController",
            core.create_namespaced_replication_controller,
            core.list_namespaced_replication_controller,
            (namespace,),
            {
                "metadata": {"name": "rc"},
                "spec": {
                    "replicas": 1,
                    "selector": {"app": "rc"},
                    "template": {
                        "metadata": {"labels": {"app": "rc"}},
                        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                    },
                },
            },
        ),
        (
            "LimitRange",
            core.create_namespaced_limit_range,
            core.list_namespaced_limit_range,
            (namespace,),
            {
                "metadata": {"name": "limits"},
                "spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}}]},
            },
        ),
        (
            "ResourceQuota",
            core.create_namespaced_resource_quota,
            core.list_namespaced_resource_quota,
            (namespace,),
            {"metadata": {"name": "quota"}, "spec": {"hard": {"pods": "10"}}},
        ),
        (
            "StorageClass",
            client.StorageV1Api(api_client).create_storage_class,
            client.StorageV1Api(api_client).list_storage_class,
            (),
            {"metadata": {"name": f"fast-{namespace}"}, "provisioner": "example.com/fast"},
        ),
        (
            "APIService",
            client.ApiregistrationV1Api(api_client).create_api_service,
            client.ApiregistrationV1Api(api_client).list_api_service,
            (),
            {
                "metadata": {"name": f"v1beta1.{namespace}.example.com"},
                "spec": {
                    "group": f"{namespace}.example.com",
                    "version": "v1beta1",
                    "service": {"namespace": "default", "name": "metrics"},
                    "groupPriorityMinimum": 100,
                    "versionPriority": 100,
                },
            },
        ),
        (
            "PriorityClass",
            client.SchedulingV1Api(api_client).create_priority_class,
            client.SchedulingV1Api(api_client).list_priority_class,
            (),
            {"metadata": {"name": f"high-{namespace}"}, "value": 1000, "description": "important"},
        ),
        (
            "EndpointSlice",
            client.DiscoveryV1Api(api_client).create_namespaced_endpoint_slice,
            client.DiscoveryV1Api(api_client).list_namespaced_endpoint_slice,
            (namespace,),
            {
                "metadata": {"name": "manual", "labels": {"kubernetes.io/service-name": "external"}},
                "addressType": "IPv4",
                "endpoints": [{"addresses": ["192.0.2.10"]}],
                "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
            },
        ),
        (
            "Lease",
            client.CoordinationV1Api(api_client).create_namespaced_lease,
            client.CoordinationV1Api(api_client).list_namespaced_lease,
            (namespace,),
            {"metadata": {"name": "leader"}, "spec": {"holderIdentity": "me", "leaseDurationSeconds": 15}},
        ),
        (
            "CertificateSigningRequest",
            client.CertificatesV1Api(api_client).create_certificate_signing_request,
            client.CertificatesV1Api(api_client).list_certificate_signing_request,
            (),
            {
                "metadata": {"name": f"csr-{namespace}"},
                "spec": {
                    "request": CSR_REQUEST.decode(),
                    "signerName": "kubernetes.io/kube-apiserver-client",
                    "usages": ["client auth"],
                },
            },
        ),
        (
            "MutatingWebhookConfiguration",
            client.AdmissionregistrationV1Api(api_client).create_mutating_webhook_configuration,
            client.AdmissionregistrationV1Api(api_client).list_mutating_webhook_configuration,
            (),
            {"metadata": {"name": f"mutate-{namespace}"}, "webhooks": [_webhook("mutate")]},
        ),
        (
            "ValidatingWebhookConfiguration",
            client.AdmissionregistrationV1Api(api_client).create_validating_webhook_configuration,
            client.AdmissionregistrationV1Api(api_client).list_validating_webhook_configuration,
            (),
            {"metadata": {"name": f"validate-{namespace}"}, "webhooks": [_webhook("validate")]},
        ),
    ]
    for kind, create, list_call, scope, body in cases:
        created = create(*scope, body)
        name = created.metadata.name
        assert created.kind == kind and created.metadata.uid, kind
        assert name in {item.metadata.name for item in list_call(*scope).items}, kind
        assert name in watched_names(list_call, *scope), kind
    # The CSR records who asked; webhook configurations are stored but never called.
    csr = client.CertificatesV1Api(api_client).read_certificate_signing_request(f"csr-{namespace}")
    assert csr.spec.username == "sandbox" and "system:authenticated" in csr.spec.groups
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "not-reviewed"}})


def test_a_fresh_cluster_has_its_system_objects(api_client: client.ApiClient) -> None:
    classes = {c.metadata.name: c for c in client.SchedulingV1Api(api_client).list_priority_class().items}
    assert classes["system-node-critical"].value == 2000001000
    assert classes["system-cluster-critical"].value == 2000000000
    assert classes["system-cluster-critical"].preemption_policy == "PreemptLowerPriority"

    standard = client.StorageV1Api(api_client).read_storage_class("standard")
    assert standard.metadata.annotations["storageclass.kubernetes.io/is-default-class"] == "true"

    services = {s.metadata.name: s for s in client.ApiregistrationV1Api(api_client).list_api_service().items}
    for name in ("v1.", "v1.apps", "v2.autoscaling", "v1.discovery.k8s.io", "v1.apiregistration.k8s.io"):
        service = services[name]
        assert service.spec.service is None, name
        assert service.metadata.labels["kube-aggregator.kubernetes.io/automanaged"] == "onstart"
        available = next(c for c in service.status.conditions if c.type == "Available")
        assert (available.status, available.reason) == ("True", "Local")
    assert services["v1."].spec.group_priority_minimum == 18000

    lease = wait_for(
        lambda: client.CoordinationV1Api(api_client).read_namespaced_lease(NODE, "kube-node-lease"),
        "the node lease",
    )
    assert lease.spec.holder_identity == NODE and lease.spec.lease_duration_seconds == 40
    assert [(o.kind, o.name) for o in lease.metadata.owner_references] == [("Node", NODE)]


def test_a_crd_group_gets_an_api_service(api_client: client.ApiClient) -> None:
    extensions = client.ApiextensionsV1Api(api_client)
    registration = client.ApiregistrationV1Api(api_client)
    extensions.create_custom_resource_definition(
        {
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            }
                        },
                    }
                ],
            },
        }
    )
    service = wait_for(lambda: registration.read_api_service("v1.example.com"), "the CRD's APIService")
    assert service.metadata.labels["kube-aggregator.kubernetes.io/automanaged"] == "true"
    assert (service.spec.group_priority_minimum, service.spec.version_priority) == (1000, 100)
    extensions.delete_custom_resource_definition("widgets.example.com")

    def removed() -> bool:
        try:
            registration.read_api_service("v1.example.com")
        except ApiException as error:
            return error.status == 404
        return False

    wait_for(removed, "the APIService to go with its CRD")


# ---- controllers of the new kinds ----


def test_a_replication_controller_keeps_its_pods(api_client: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api_client)
    core.create_namespaced_replication_controller(
        namespace,
        {
            "metadata": {"name": "legacy"},
            "spec": {
                "replicas": 2,
                "selector": {"app": "legacy"},
                "template": {
                    "metadata": {"labels": {"app": "legacy"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                },
            },
        },
    )
    found = wait_for(
        lambda: (
            (rc := core.read_namespaced_replication_controller("legacy", namespace)).status.ready_replicas
            == 2
            and rc
        ),
        "two ready replicas",
    )
    assert found.status.replicas == 2 and found.status.observed_generation == 1
    pods = core.list_namespaced_pod(namespace, label_selector="app=legacy").items
    assert {p.metadata.owner_references[0].kind for p in pods} == {"ReplicationController"}
    core.patch_namespaced_replication_controller_scale("legacy", namespace, {"spec": {"replicas": 1}})
    wait_for(
        lambda: core.read_namespaced_replication_controller("legacy", namespace).status.replicas == 1,
        "the scale-down",
    )


def test_a_resource_quota_reports_what_is_used(api_client: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api_client)
    core.create_namespaced_resource_quota(
        namespace,
        {"metadata": {"name": "q"}, "spec": {"hard": {"pods": "5", "configmaps": "10", "requests.cpu": "2"}}},
    )
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "one"}})
    core.create_namespaced_pod(
        namespace,
        {
            "metadata": {"name": "p"},
            "spec": {
                "containers": [{"name": "c", "image": "nginx", "resources": {"requests": {"cpu": "250m"}}}]
            },
        },
    )

    def counted() -> Any:
        status = core.read_namespaced_resource_quota("q", namespace).status
        return status if status.used and status.used.get("pods") == "1" else None

    status = wait_for(counted, "the quota's usage")
    assert status.hard == {"pods": "5", "configmaps": "10", "requests.cpu": "2"}
    # kube-root-ca.crt is a ConfigMap of every namespace too.
    assert status.used == {"pods": "1", "configmaps": "2", "requests.cpu": "250m"}


def test_endpoint_slices_follow_the_service_pods(
    api_client: client.ApiClient, apps: client.AppsV1Api, namespace: str
) -> None:
    core = client.CoreV1Api(api_client)
    apps.create_namespaced_deployment(
        namespace,
        {
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "c",
                                "image": "nginx",
                                "ports": [{"name": "http", "containerPort": 8080}],
                            }
                        ]
                    },
                },
            },
        },
    )
    service = core.create_namespaced_service(
        namespace,
        {
            "metadata": {"name": "web", "labels": {"tier": "front"}},
            "spec": {
                "selector": {"app": "web"},
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
            },
        },
    )
    discovery = client.DiscoveryV1Api(api_client)

    def two_ready() -> Any:
        slices = discovery.list_namespaced_endpoint_slice(
            namespace, label_selector="kubernetes.io/service-name=web"
        )
        ready = [e for s in slices.items for e in s.endpoints or [] if e.conditions.ready]
        return slices.items if len(ready) == 2 else None

    (endpoint_slice,) = wait_for(two_ready, "two ready endpoints")
    assert endpoint_slice.metadata.name.startswith("web-")
    assert endpoint_slice.metadata.labels == {
        "tier": "front",
        "kubernetes.io/service-name": "web",
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
    }
    owner = endpoint_slice.metadata.owner_references[0]
    assert (owner.kind, owner.name, owner.uid, owner.controller) == (
        "Service",
        "web",
        service.metadata.uid,
        True,
    )
    assert endpoint_slice.address_type == "IPv4"
    assert [(p.name, p.port, p.protocol) for p in endpoint_slice.ports] == [("http", 8080, "TCP")]
    endpoints = core.read_namespaced_endpoints("web", namespace)
    assert sorted(a.ip for s in endpoints.subsets for a in s.addresses) == sorted(
        e.addresses[0] for e in endpoint_slice.endpoints
    )
    assert {e.node_name for e in endpoint_slice.endpoints} == {NODE}

    # With no pods, one placeholder slice stays, its endpoints and ports null (read it as JSON: the
    # typed model of the official client refuses a null `endpoints`, as it does against a real cluster).
    apps.patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": 0}})

    def placeholder() -> Any:
        status, found = raw(
            api_client,
            "GET",
            f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices?labelSelector=kubernetes.io/service-name%3Dweb",
        )
        items = found["items"]
        return items if status == 200 and len(items) == 1 and items[0].get("endpoints") is None else None

    (empty,) = wait_for(placeholder, "the placeholder slice")
    assert empty.get("ports") is None


def test_endpoint_slices_mirror_the_endpoints_of_a_selectorless_service(
    api_client: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(api_client)
    core.create_namespaced_service(
        namespace, {"metadata": {"name": "db"}, "spec": {"ports": [{"port": 5432}]}}
    )
    core.create_namespaced_endpoints(
        namespace,
        {
            "metadata": {"name": "db"},
            "subsets": [{"addresses": [{"ip": "192.0.2.7"}], "ports": [{"port": 5432, "protocol": "TCP"}]}],
        },
    )
    discovery = client.DiscoveryV1Api(api_client)
    (mirror,) = wait_for(
        lambda: (
            discovery.list_namespaced_endpoint_slice(
                namespace, label_selector="kubernetes.io/service-name=db"
            ).items
        ),
        "the mirrored slice",
    )
    assert (
        mirror.metadata.labels["endpointslice.kubernetes.io/managed-by"]
        == "endpointslicemirroring-controller.k8s.io"
    )
    assert mirror.metadata.owner_references[0].kind == "Endpoints"
    assert [e.addresses for e in mirror.endpoints] == [["192.0.2.7"]]


# ---- reviews and tokens ----


def test_kubectl_auth_can_i_answers_from_rbac(kubectl: Kubectl, namespace: str) -> None:
    assert kubectl.run("auth", "can-i", "create", "deployments").stdout.strip() == "yes"
    account = f"system:serviceaccount:{namespace}:reader"
    denied = kubectl.run("auth", "can-i", "list", "pods", "-n", namespace, f"--as={account}", check=False)
    assert (denied.returncode, denied.stdout.strip()) == (1, "no")
    kubectl.run("create", "role", "pod-reader", "-n", namespace, "--verb=get,list", "--resource=pods")
    kubectl.run(
        "create",
        "rolebinding",
        "read-pods",
        "-n",
        namespace,
        "--role=pod-reader",
        f"--serviceaccount={namespace}:reader",
    )
    assert (
        kubectl.run("auth", "can-i", "list", "pods", "-n", namespace, f"--as={account}").stdout.strip()
        == "yes"
    )
    listed = kubectl.run("auth", "can-i", "--list", "-n", namespace, f"--as={account}").stdout
    assert any(line.split()[0] == "pods" and "[get list]" in line for line in listed.splitlines())


def test_kubectl_auth_whoami_names_the_sandbox_user(kubectl: Kubectl) -> None:
    shown = kubectl.run("auth", "whoami", "-o", "json").stdout
    user = json.loads(shown)["status"]["userInfo"]
    assert user == {"username": "sandbox", "groups": ["system:masters", "system:authenticated"]}


def test_access_reviews_through_the_official_client(api_client: client.ApiClient, namespace: str) -> None:
    authorization = client.AuthorizationV1Api(api_client)
    rbac = client.RbacAuthorizationV1Api(api_client)
    rbac.create_cluster_role(
        {
            "metadata": {"name": f"{namespace}-viewer"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
        }
    )
    rbac.create_cluster_role_binding(
        {
            "metadata": {"name": f"{namespace}-viewers"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": f"{namespace}-viewer",
            },
            "subjects": [
                {"kind": "Group", "name": f"{namespace}-team", "apiGroup": "rbac.authorization.k8s.io"}
            ],
        }
    )
    allowed = authorization.create_subject_access_review(
        {
            "spec": {
                "user": "ann",
                "groups": [f"{namespace}-team"],
                "resourceAttributes": {"namespace": namespace, "verb": "get", "resource": "configmaps"},
            }
        }
    )
    assert allowed.status.allowed is True
    assert allowed.status.reason == (
        f'RBAC: allowed by ClusterRoleBinding "{namespace}-viewers" of ClusterRole "{namespace}-viewer" '
        f'to Group "{namespace}-team"'
    )
    refused = authorization.create_namespaced_local_subject_access_review(
        namespace,
        {
            "spec": {
                "user": "ann",
                "groups": [f"{namespace}-team"],
                "resourceAttributes": {"namespace": namespace, "verb": "delete", "resource": "configmaps"},
            }
        },
    )
    assert refused.status.allowed is False
    own = authorization.create_self_subject_access_review(
        {"spec": {"nonResourceAttributes": {"path": "/healthz", "verb": "get"}}}
    )
    assert own.status.allowed is True
    rules = authorization.create_self_subject_rules_review({"spec": {"namespace": namespace}})
    assert rules.status.incomplete is False
    assert any(r.verbs == ["*"] and r.resources == ["*"] for r in rules.status.resource_rules)
    with pytest.raises(ApiException) as empty:
        authorization.create_subject_access_review({"spec": {"user": "ann"}})
    assert empty.value.status == 422


def test_a_service_account_token_is_issued_and_reviewed(
    kubectl: Kubectl, api_client: client.ApiClient, sandbox: SandboxThread, namespace: str
) -> None:
    token = kubectl.run("create", "token", "default", "-n", namespace, "--duration=1h").stdout.strip()
    assert token.count(".") == 2
    review = client.AuthenticationV1Api(api_client).create_token_review({"spec": {"token": token}})
    assert review.status.authenticated is True
    assert review.status.user.username == f"system:serviceaccount:{namespace}:default"
    assert f"system:serviceaccounts:{namespace}" in review.status.user.groups
    assert review.status.audiences == ["https://kubernetes.default.svc.cluster.local"]
    wrong = client.AuthenticationV1Api(api_client).create_token_review(
        {"spec": {"token": token, "audiences": ["vault"]}}
    )
    assert wrong.status.authenticated is False and "invalid bearer token" in wrong.status.error

    # The official client sends the token as its bearer token (kubectl sends none over plain http).
    configuration = client.Configuration(host=sandbox.url)
    configuration.api_key = {"authorization": token}
    configuration.api_key_prefix = {"authorization": "Bearer"}
    with client.ApiClient(configuration) as as_account:
        who = client.AuthenticationV1Api(as_account).create_self_subject_review({})
    assert who.status.user_info.username == f"system:serviceaccount:{namespace}:default"

    issued = client.CoreV1Api(api_client).create_namespaced_service_account_token(
        "default", namespace, {"spec": {"expirationSeconds": 600}}
    )
    assert issued.spec.expiration_seconds == 600 and issued.status.expiration_timestamp is not None
    with pytest.raises(ApiException) as missing:
        client.CoreV1Api(api_client).create_namespaced_service_account_token(
            "nobody", namespace, {"spec": {}}
        )
    assert missing.value.status == 404


# ---- eviction and drain ----


def _deployment(apps: client.AppsV1Api, namespace: str, name: str, replicas: int) -> None:
    apps.create_namespaced_deployment(
        namespace,
        {
            "metadata": {"name": name},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                },
            },
        },
    )
    wait_for(
        lambda: apps.read_namespaced_deployment(name, namespace).status.available_replicas == replicas,
        f"{replicas} available replicas",
    )


def test_an_eviction_honours_the_disruption_budget(
    api_client: client.ApiClient, apps: client.AppsV1Api, namespace: str
) -> None:
    core = client.CoreV1Api(api_client)
    policy = client.PolicyV1Api(api_client)
    _deployment(apps, namespace, "guarded", 2)
    policy.create_namespaced_pod_disruption_budget(
        namespace,
        {
            "metadata": {"name": "guard"},
            "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "guarded"}}},
        },
    )
    budget = wait_for(
        lambda: (
            (b := policy.read_namespaced_pod_disruption_budget("guard", namespace)).status.current_healthy
            == 2
            and b
        ),
        "the budget's status",
    )
    assert (
        budget.status.desired_healthy,
        budget.status.expected_pods,
        budget.status.disruptions_allowed,
    ) == (2, 2, 0)
    allowed = next(c for c in budget.status.conditions if c.type == "DisruptionAllowed")
    assert (allowed.status, allowed.reason) == ("False", "InsufficientPods")
    victim = core.list_namespaced_pod(namespace, label_selector="app=guarded").items[0].metadata.name
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod_eviction(
            victim, namespace, {"metadata": {"name": victim, "namespace": namespace}}
        )
    assert refused.value.status == 429
    status = json.loads(refused.value.body)
    assert status["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    assert status["details"]["causes"] == [
        {
            "reason": "DisruptionBudget",
            "message": "The disruption budget guard needs 2 healthy pods and has 2 currently",
        }
    ]

    policy.patch_namespaced_pod_disruption_budget("guard", namespace, {"spec": {"minAvailable": 1}})
    wait_for(
        lambda: (
            policy.read_namespaced_pod_disruption_budget("guard", namespace).status.disruptions_allowed == 1
        ),
        "one allowed disruption",
    )
    code, answer = raw(
        api_client,
        "POST",
        f"/api/v1/namespaces/{namespace}/pods/{victim}/eviction",
        {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": victim, "namespace": namespace}},
    )
    assert (code, answer["status"], answer["code"]) == (201, "Success", 201)
    # The eviction spent the budget's one disruption and deleted the pod gracefully.
    assert policy.read_namespaced_pod_disruption_budget("guard", namespace).status.disruptions_allowed == 0
    leaving = [p for p in core.list_namespaced_pod(namespace).items if p.metadata.name == victim]
    assert not leaving or leaving[0].metadata.deletion_timestamp is not None


def test_kubectl_drain_evicts_the_pods_and_cordons_the_node(
    kubectl: Kubectl, api_client: client.ApiClient, apps: client.AppsV1Api, namespace: str
) -> None:
    core = client.CoreV1Api(api_client)
    _deployment(apps, namespace, "drained", 2)
    before = {p.metadata.name for p in core.list_namespaced_pod(namespace).items}
    try:
        drained = kubectl.run("drain", NODE, "--ignore-daemonsets", "--timeout=60s", timeout=90)
        assert f"node/{NODE} cordoned" in drained.stdout
        for name in before:
            assert f"pod/{name} evicted" in drained.stdout
        assert f"node/{NODE} drained" in drained.stdout
        node = core.read_node(NODE)
        assert node.spec.unschedulable is True
        assert any(
            t.key == "node.kubernetes.io/unschedulable" and t.effect == "NoSchedule" for t in node.spec.taints
        )
        remaining = core.list_namespaced_pod(namespace).items
        assert not before & {p.metadata.name for p in remaining}
        # Their replacements wait: the node takes no new pods.
        replacements = wait_for(
            lambda: len(r := core.list_namespaced_pod(namespace).items) == 2 and r, "the replacement pods"
        )
        assert {p.status.phase for p in replacements} == {"Pending"}
    finally:
        kubectl.run("uncordon", NODE)


def test_kubectl_certificate_approve_sets_the_approved_condition(
    kubectl: Kubectl, api_client: client.ApiClient
) -> None:
    name = f"approve-{kubectl.version[1]}"
    certificates = client.CertificatesV1Api(api_client)
    certificates.create_certificate_signing_request(
        {
            "metadata": {"name": name},
            "spec": {
                "request": CSR_REQUEST.decode(),
                "signerName": "kubernetes.io/kube-apiserver-client",
                "usages": ["client auth"],
                "expirationSeconds": 86400,
            },
        }
    )
    listed = kubectl.run("get", "csr", name, "--no-headers").stdout.split()
    assert listed[2:] == ["kubernetes.io/kube-apiserver-client", "sandbox", "24h", "Pending"]
    kubectl.run("certificate", "approve", name)
    approved = certificates.read_certificate_signing_request(name).status.conditions
    assert [(c.type, c.status, c.reason) for c in approved] == [("Approved", "True", "KubectlApprove")]
    assert kubectl.run("get", "csr", name, "--no-headers").stdout.split()[-1] == "Approved"


# ---- kubectl's view ----


def test_kubectl_prints_the_columns_of_the_new_kinds(kubectl: Kubectl) -> None:
    classes = kubectl.run("get", "storageclass", "--no-headers").stdout
    assert any(
        line.split()[:3] == ["standard", "(default)", "sandbox.kubedrift.io/hostpath"]
        for line in classes.splitlines()
    )
    priority = kubectl.run("get", "priorityclass", "system-node-critical").stdout.splitlines()
    assert priority[0].split() == ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]
    assert priority[1].split()[:3] == ["system-node-critical", "2000001000", "false"]
    services = kubectl.run("get", "apiservice", "v1.apps", "--no-headers").stdout.split()
    assert services[:3] == ["v1.apps", "Local", "True"]
    leases = kubectl.run("get", "lease", NODE, "-n", "kube-node-lease", "--no-headers").stdout.split()
    assert leases[:2] == [NODE, NODE]


def test_kubectl_logs_and_exec_say_the_sandbox_runs_no_containers(
    kubectl: Kubectl, api_client: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(api_client)
    core.create_namespaced_pod(
        namespace, {"metadata": {"name": "quiet"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    )
    wait_for(lambda: core.read_namespaced_pod("quiet", namespace).status.phase == "Running", "the pod to run")
    for command in (["logs", "quiet"], ["exec", "quiet", "--", "ls"]):
        shown = kubectl.run("-n", namespace, *command, check=False)
        assert shown.returncode == 1
        assert shown.stderr.strip() == f"Error from server (BadRequest): {CONTAINERS_NOT_SUPPORTED}"
    code, status = raw(api_client, "GET", f"/api/v1/namespaces/{namespace}/pods/quiet/log")
    assert (code, status["reason"], status["message"]) == (400, "BadRequest", CONTAINERS_NOT_SUPPORTED)
    code, status = raw(api_client, "GET", f"/api/v1/namespaces/{namespace}/pods/missing/log")
    assert code == 404


def test_an_unknown_kind_keeps_kubectls_own_error(kubectl: Kubectl, api_client: client.ApiClient) -> None:
    missing = kubectl.run("get", "widgets", check=False)
    assert missing.returncode == 1
    assert missing.stderr.strip() == 'error: the server doesn\'t have a resource type "widgets"'
    # A built-in group the sandbox does not serve answers the server's plain 404, with no CRD hint.
    code, status = raw(api_client, "GET", "/apis/node.k8s.io/v1/runtimeclasses")
    assert (code, status["message"]) == (404, "the server could not find the requested resource")
    assert "CRD" not in json.dumps(status)
    assert SANDBOX_TOKEN  # the client above authenticated with the sandbox's token
