"""OpenAPI v2 and v3 served from the official definitions of the sandbox's release and from CRD schemas,
read by hand and by real kubectl: 1.27 (which reads v2 only as protobuf) and 1.33."""

from __future__ import annotations

import copy
import http.client
import json
import os
import shutil
import subprocess
import textwrap
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.handle import SandboxThread
from sandbox.kinds import ResourceType
from sandbox.resources import ResourceAPI

KUBECTL_DIR = Path("/usr/lib/google-cloud-sdk/bin")
PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
DEPLOYMENT = "io.k8s.api.apps.v1.Deployment"

WIDGET_CRD = textwrap.dedent("""\
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      name: widgets.example.com
    spec:
      group: example.com
      scope: Namespaced
      names: {plural: widgets, singular: widget, kind: Widget}
      versions:
      - name: v1
        served: true
        storage: true
        subresources: {status: {}}
        schema:
          openAPIV3Schema:
            type: object
            description: A Widget is a thing that widgets.
            properties:
              spec:
                type: object
                description: The desired widget.
                required: [size]
                properties:
                  size: {type: string, description: How big the widget is., enum: [small, large]}
                  replicas: {type: integer, default: 1}
                  port: {x-kubernetes-int-or-string: true}
                  note: {type: string, nullable: true}
                  blob: {type: object, x-kubernetes-preserve-unknown-fields: true}
                  choice: {type: string, anyOf: [{pattern: "^a"}, {pattern: "^b"}]}
                  parts:
                    type: array
                    x-kubernetes-list-type: map
                    x-kubernetes-list-map-keys: [name]
                    items:
                      type: object
                      required: [name]
                      properties:
                        name: {type: string}
    """)


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def get(sandbox: SandboxThread, path: str, accept: str = "application/json", **headers: str) -> Reply:
    """One GET without following redirects (the v3 documents answer a stale hash with 301)."""
    address = urllib.parse.urlsplit(sandbox.url)
    connection = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=30)
    try:
        connection.request("GET", path, headers={"Accept": accept, **headers})
        response = connection.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        connection.close()


def _crds(api: ResourceAPI) -> ResourceType:
    return api.resource("apiextensions.k8s.io/v1", "CustomResourceDefinition")


def create_crd(sandbox: SandboxThread, manifest: str) -> None:
    body = yaml.safe_load(manifest)
    sandbox.run(lambda api: api.create(_crds(api), None, body, manager="test"))


def describe_widgets(sandbox: SandboxThread, description: str) -> None:
    def change(api: ResourceAPI) -> None:
        changed = copy.deepcopy(api.get(_crds(api), None, "widgets.example.com").obj)
        changed["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["description"] = description
        api.update(_crds(api), None, "widgets.example.com", changed, manager="test")

    sandbox.run(change)


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def walk(schema: Any) -> Iterator[dict[str, Any]]:
    """Every schema node under `schema` (not every dict: JSONSchemaProps has properties named
    `$ref` and `oneOf`)."""
    if not isinstance(schema, dict):
        return
    yield schema
    for sub in (schema.get("properties") or {}).values():
        yield from walk(sub)
    for key in ("items", "additionalProperties", "not"):
        yield from walk(schema.get(key))
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key) or []:
            yield from walk(sub)


# ---- OpenAPI v3 ----


def test_v3_index_lists_every_served_group_version(sandbox: SandboxThread) -> None:
    index = get(sandbox, "/openapi/v3").json()["paths"]
    served = {"api/v1"} | {
        f"apis/{version['groupVersion']}"
        for group in get(sandbox, "/apis").json()["groups"]
        for version in group["versions"]
    }
    assert set(index) == served
    for path, entry in index.items():
        assert entry["serverRelativeURL"].startswith(f"/openapi/v3/{path}?hash=")

    create_crd(sandbox, WIDGET_CRD)
    assert "apis/example.com/v1" in get(sandbox, "/openapi/v3").json()["paths"]


def test_v3_document_carries_the_official_definitions(sandbox: SandboxThread) -> None:
    url = get(sandbox, "/openapi/v3").json()["paths"]["apis/apps/v1"]["serverRelativeURL"]
    reply = get(sandbox, url)
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("application/json")
    assert reply.headers["Cache-Control"] == "public, immutable", "a hashed URL may be cached for good"
    document = reply.json()
    schemas = document["components"]["schemas"]

    deployment = schemas[DEPLOYMENT]
    assert deployment["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "kind": "Deployment", "version": "v1"}
    ]
    assert deployment["properties"]["kind"] == {
        "description": deployment["properties"]["kind"]["description"],
        "type": "string",
    }, "no enum, which only the JSON-schema conversion adds"
    assert deployment["properties"]["spec"]["allOf"] == [
        {"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"}
    ], "a $ref with a description is wrapped in allOf, as kube-openapi writes v3"
    env = schemas["io.k8s.api.core.v1.Container"]["properties"]["env"]
    assert env["x-kubernetes-list-type"] == "map" and env["x-kubernetes-list-map-keys"] == ["name"]
    assert env["x-kubernetes-patch-merge-key"] == "name"
    assert schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["x-kubernetes-int-or-string"] is True
    assert schemas["io.k8s.apimachinery.pkg.api.resource.Quantity"]["type"] == "string"
    assert "io.k8s.api.autoscaling.v1.Scale" in schemas, "the scale subresource answers with a Scale"
    assert "io.k8s.api.apps.v1.DeploymentList" in schemas

    patch = document["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "apps",
        "version": "v1",
        "kind": "Deployment",
    }
    assert "fieldValidation" in {p["name"] for p in patch["parameters"]}


def test_every_v3_document_is_self_contained_openapi_v3(sandbox: SandboxThread) -> None:
    create_crd(sandbox, WIDGET_CRD)
    for path, entry in get(sandbox, "/openapi/v3").json()["paths"].items():
        document = get(sandbox, entry["serverRelativeURL"]).json()
        schemas = document["components"]["schemas"]
        nodes = [node for schema in schemas.values() for node in walk(schema)]
        assert not [n for n in nodes if isinstance(n.get("type"), list)], f"{path}: no null types"
        assert not [n for n in nodes if "oneOf" in n], f"{path}: no JSON-schema oneOf left"
        assert all(set(n) == {"$ref"} for n in nodes if "$ref" in n), (
            f"{path}: v3 allows no siblings beside $ref"
        )
        for ref in [n["$ref"] for n in nodes if "$ref" in n] + list(refs(document["paths"])):
            assert ref.removeprefix("#/components/schemas/") in schemas, f"{path}: {ref} dangles"
        for item in document["paths"].values():
            for operation in (item.get(m) for m in ("get", "put", "post", "patch", "delete")):
                assert operation is None or "x-kubernetes-group-version-kind" in operation, path


def test_v3_crd_document_follows_the_crd_and_its_changes(sandbox: SandboxThread) -> None:
    apps_url = get(sandbox, "/openapi/v3").json()["paths"]["apis/apps/v1"]["serverRelativeURL"]
    create_crd(sandbox, WIDGET_CRD)
    first_url = get(sandbox, "/openapi/v3").json()["paths"]["apis/example.com/v1"]["serverRelativeURL"]
    document = get(sandbox, first_url).json()
    schemas = document["components"]["schemas"]
    widget = schemas["com.example.v1.Widget"]
    assert widget["x-kubernetes-group-version-kind"] == [
        {"group": "example.com", "version": "v1", "kind": "Widget"}
    ]
    assert widget["properties"]["metadata"]["allOf"] == [
        {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
    ]
    assert widget["properties"]["apiVersion"]["type"] == "string"
    spec = widget["properties"]["spec"]
    assert spec["properties"]["size"]["enum"] == ["small", "large"]
    assert spec["properties"]["port"]["anyOf"] == [{"type": "integer"}, {"type": "string"}]
    assert spec["properties"]["replicas"]["default"] == 1, "v3 keeps a CRD's defaults"
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in schemas
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry" in schemas
    assert schemas["com.example.v1.WidgetList"]["properties"]["items"]["items"] == {
        "$ref": "#/components/schemas/com.example.v1.Widget"
    }
    patch = document["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]["patch"]
    assert "application/strategic-merge-patch+json" not in patch["requestBody"]["content"]
    assert "application/merge-patch+json" in patch["requestBody"]["content"]

    describe_widgets(sandbox, "Widgets, renamed.")
    index = get(sandbox, "/openapi/v3").json()["paths"]
    second_url = index["apis/example.com/v1"]["serverRelativeURL"]
    assert second_url != first_url, "the hash follows the CRD's schema"
    assert index["apis/apps/v1"]["serverRelativeURL"] == apps_url, "other documents keep theirs"
    renamed = get(sandbox, second_url).json()["components"]["schemas"]["com.example.v1.Widget"]
    assert renamed["description"] == "Widgets, renamed."
    stale = get(sandbox, first_url)
    assert stale.status == 301 and stale.headers["Location"].endswith(second_url)


# ---- OpenAPI v2 ----


def test_v2_json_has_official_and_crd_definitions(sandbox: SandboxThread) -> None:
    create_crd(sandbox, WIDGET_CRD)
    create_crd(
        sandbox,
        WIDGET_CRD.replace("widgets", "gadgets")
        .replace("widget", "gadget")
        .replace("Widget", "Gadget")
        # Not a structural schema: published as a bare object, as a real server does, so that
        # kubectl's v2 parser does not reject the whole document.
        .replace("port: {x-kubernetes-int-or-string: true}", "port: {$ref: '#/definitions/Elsewhere'}"),
    )
    reply = get(sandbox, "/openapi/v2")
    assert reply.status == 200 and reply.headers["Content-Type"] == "application/json"
    document = reply.json()
    assert document["swagger"] == "2.0"
    definitions = document["definitions"]
    for ref in refs(document):
        assert ref.startswith("#/definitions/") and ref.removeprefix("#/definitions/") in definitions, ref

    assert definitions[DEPLOYMENT]["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "kind": "Deployment", "version": "v1"}
    ]
    assert definitions[DEPLOYMENT]["properties"]["spec"] == {
        "$ref": "#/definitions/io.k8s.api.apps.v1.DeploymentSpec",
        "description": "Specification of the desired behavior of the Deployment.",
    }
    assert definitions["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"] == "int-or-string"

    spec = definitions["com.example.v1.Widget"]["properties"]["spec"]
    assert spec["required"] == ["size"]
    assert "default" not in spec["properties"]["replicas"], "v2 carries no defaults"
    assert spec["properties"]["note"] == {}, "a nullable field loses its type in v2"
    assert "type" not in spec["properties"]["blob"], "an object keeping unknown fields is untyped in v2"
    assert "anyOf" not in spec["properties"]["choice"], "v2 has no junctors"
    assert definitions["com.example.v1.Gadget"] == {
        "type": "object",
        "x-kubernetes-group-version-kind": [{"group": "example.com", "version": "v1", "kind": "Gadget"}],
    }

    patch = document["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "apps",
        "version": "v1",
        "kind": "Deployment",
    }
    validation = next(p for p in patch["parameters"] if p["name"] == "fieldValidation")
    assert validation["in"] == "query" and validation["type"] == "string", "inline, as kubectl 1.27 reads it"
    assert "application/strategic-merge-patch+json" in patch["consumes"]
    assert get(sandbox, "/openapi/v2", accept="text/html").status == 406
    # kubectl keeps the document on disk and asks again with its ETag.
    unchanged = get(sandbox, "/openapi/v2", **{"If-None-Match": reply.headers["ETag"]})
    assert unchanged.status == 304 and unchanged.body == b""


# A minimal protobuf reader: enough of the wire format to take gnostic's Document apart.


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, position


def fields(data: bytes) -> list[tuple[int, Any]]:
    found: list[tuple[int, Any]] = []
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = _varint(data, position)
        elif wire == 1:
            value, position = data[position : position + 8], position + 8
        elif wire == 2:
            length, position = _varint(data, position)
            value, position = data[position : position + length], position + length
        else:
            raise AssertionError(f"unexpected wire type {wire} for field {number}")
        found.append((number, value))
    assert position == len(data), "a field ran past the end of its message"
    return found


def named(data: bytes) -> tuple[str, bytes]:
    """gnostic's NamedX message: name (1) and value (2)."""
    parts = dict(fields(data))
    return parts[1].decode(), parts.get(2, b"")


def yaml_any(data: bytes) -> Any:
    """An `Any` holding YAML text (field 2); the sandbox writes JSON, which is YAML."""
    return json.loads(dict(fields(data))[2].decode())


def decode_schema(data: bytes) -> dict[str, Any]:
    """gnostic's Schema message back into its JSON form."""
    schema: dict[str, Any] = {}
    strings = {1: "$ref", 2: "format", 3: "title", 4: "description", 13: "pattern"}
    for number, value in fields(data):
        if number in strings:
            schema[strings[number]] = value.decode()
        elif number == 5:
            schema["default"] = yaml_any(value)
        elif number == 19:
            schema.setdefault("required", []).append(value.decode())
        elif number == 20:
            schema.setdefault("enum", []).append(yaml_any(value))
        elif number == 21:
            ((member, inner),) = fields(value)
            schema["additionalProperties"] = decode_schema(inner) if member == 1 else bool(inner)
        elif number == 22:
            kinds = [kind.decode() for _n, kind in fields(value)]
            schema["type"] = kinds[0] if len(kinds) == 1 else kinds
        elif number == 23:
            (item,) = [decode_schema(inner) for _n, inner in fields(value)]
            schema["items"] = item
        elif number == 24:
            schema.setdefault("allOf", []).append(decode_schema(value))
        elif number == 25:
            schema["properties"] = {
                name: decode_schema(inner) for name, inner in (named(entry) for _n, entry in fields(value))
            }
        elif number == 27:
            schema["readOnly"] = bool(value)
        elif number == 31:
            name, any_value = named(value)
            schema[name] = yaml_any(any_value)
        else:
            raise AssertionError(f"Schema field {number} is not expected in these documents")
    return schema


def test_v2_protobuf_decodes_to_the_json_document(sandbox: SandboxThread) -> None:
    create_crd(sandbox, WIDGET_CRD)
    reply = get(sandbox, "/openapi/v2", accept=PROTOBUF)
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    as_json = get(sandbox, "/openapi/v2").json()

    document: dict[int, list[Any]] = {}
    for number, value in fields(reply.body):
        document.setdefault(number, []).append(value)
    assert document[1] == [b"2.0"]
    info = dict(fields(document[2][0]))
    assert info[1] == b"Kubernetes" and info[2].decode() == as_json["info"]["version"]

    definitions = dict(named(entry) for _n, entry in fields(document[9][0]))
    assert set(definitions) == set(as_json["definitions"])
    for name, encoded in definitions.items():
        assert decode_schema(encoded) == as_json["definitions"][name], name

    paths = dict(named(entry) for _n, entry in fields(document[8][0]))
    assert set(paths) == set(as_json["paths"])
    item = dict(fields(paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]))
    patch = fields(item[8])  # PathItem.patch
    extensions = dict(named(value) for number, value in patch if number == 13)
    assert yaml_any(extensions["x-kubernetes-group-version-kind"]) == {
        "group": "apps",
        "version": "v1",
        "kind": "Deployment",
    }
    query_names = set()
    for number, value in patch:
        if number != 8:  # Operation.parameters
            continue
        ((_parameter, parameter),) = fields(value)  # ParametersItem.parameter
        ((member, inner),) = fields(parameter)  # Parameter: body (1) or non-body (2)
        if member == 2:
            ((location, sub_schema),) = fields(inner)
            if location == 3:  # QueryParameterSubSchema
                query_names.add(dict(fields(sub_schema))[4].decode())
    assert {"fieldValidation", "dryRun", "fieldManager", "force"} <= query_names


# ---- real kubectl, including 1.27 which reads v2 only as protobuf ----


@dataclass
class Kubectl:
    binary: str
    home: Path
    kubeconfig: Path

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "KUBECONFIG": str(self.kubeconfig),
        }
        return subprocess.run(
            [self.binary, *args], input=stdin, capture_output=True, text=True, env=environment, timeout=60
        )

    def ok(self, *args: str, stdin: str | None = None) -> str:
        completed = self.run(*args, stdin=stdin)
        assert completed.returncode == 0, f"kubectl {' '.join(args)}:\n{completed.stdout}\n{completed.stderr}"
        return completed.stdout


def _find_kubectl(version: str) -> str | None:
    candidate = KUBECTL_DIR / f"kubectl.{version}"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return shutil.which(f"kubectl.{version}")


@pytest.fixture(params=["1.27", "1.33"], ids=lambda v: f"kubectl-{v}")
def kubectl(request: pytest.FixtureRequest, sandbox: SandboxThread, tmp_path: Path) -> Kubectl:
    binary = _find_kubectl(request.param)
    if binary is None:
        pytest.skip(f"kubectl.{request.param} not found in {KUBECTL_DIR} or on PATH")
    home = tmp_path / "home"
    home.mkdir()
    return Kubectl(binary, home, sandbox.kubeconfig(tmp_path / "kubeconfig"))


def test_kubectl_explains_built_in_kinds_and_custom_resources(
    kubectl: Kubectl, sandbox: SandboxThread
) -> None:
    kubectl.ok("apply", "-f", "-", stdin=WIDGET_CRD)

    containers = kubectl.ok("explain", "deployment.spec.template.spec.containers")
    assert "FIELD: containers <[]Container>" in containers
    assert "env\t<[]EnvVar>" in containers and "List of environment variables" in containers
    widget = kubectl.ok("explain", "widget.spec")
    assert "The desired widget." in widget and "size\t<string> -required-" in widget
    assert "How big the widget is." in widget

    # The same through OpenAPI v2, which kubectl 1.27 and 1.28 fetch as protobuf only.
    containers_v2 = kubectl.ok(
        "explain", "deployment.spec.template.spec.containers", "--output=plaintext-openapiv2"
    )
    assert "RESOURCE: containers <[]Object>" in containers_v2 and "imagePullPolicy" in containers_v2
    widget_v2 = kubectl.ok("explain", "widget.spec", "--output=plaintext-openapiv2")
    assert "The desired widget." in widget_v2 and "size\t<string> -required-" in widget_v2
    assert any(r.path == "/openapi/v2" and r.status == 200 for r in sandbox.request_log)


def test_kubectl_applies_and_diffs_a_deployment_and_a_config_map(
    kubectl: Kubectl, sandbox: SandboxThread, tmp_path: Path
) -> None:
    deployment = textwrap.dedent("""\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: default}
        spec:
          replicas: 2
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers:
              - {name: web, image: "nginx:1.25"}
        """)
    with_sidecar = deployment + '      - {name: sidecar, image: "busybox:1.36"}\n'
    plain, sidecar = tmp_path / "web.yaml", tmp_path / "sidecar.yaml"
    plain.write_text(deployment)
    sidecar.write_text(with_sidecar)

    assert kubectl.ok("apply", "-f", str(plain)).strip() == "deployment.apps/web created"
    assert kubectl.ok("apply", "-f", str(plain)).strip() == "deployment.apps/web unchanged"
    assert kubectl.run("diff", "-f", str(plain)).returncode == 0
    changed = kubectl.run("diff", "-f", str(sidecar))
    assert changed.returncode == 1, changed.stderr
    assert "busybox:1.36" in changed.stdout
    kubectl.ok("apply", "-f", str(sidecar))
    names = kubectl.ok("get", "deployment", "web", "-o", "jsonpath={.spec.template.spec.containers[*].name}")
    assert names.split() == ["web", "sidecar"]
    # Removing the sidecar needs the strategic merge patch's merge key for containers.
    kubectl.ok("apply", "-f", str(plain))
    names = kubectl.ok("get", "deployment", "web", "-o", "jsonpath={.spec.template.spec.containers[*].name}")
    assert names.split() == ["web"]

    settings = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: default}\ndata: {mode: dev}\n"
    )
    assert "serverside-applied" in kubectl.ok("apply", "--server-side", "-f", "-", stdin=settings)
    assert kubectl.run("diff", "--server-side", "-f", "-", stdin=settings).returncode == 0
    prod = settings.replace("dev", "prod")
    changed = kubectl.run("diff", "--server-side", "-f", "-", stdin=prod)
    assert changed.returncode == 1, changed.stderr
    assert "+  mode: prod" in changed.stdout
    kubectl.ok("apply", "--server-side", "-f", "-", stdin=prod)
    assert kubectl.ok("get", "configmap", "settings", "-o", "jsonpath={.data.mode}") == "prod"

    writes = [r for r in sandbox.request_log if r.method in ("POST", "PATCH") and "dryRun" not in r.query]
    assert writes and all(r.query.get("fieldValidation") == "Strict" for r in writes), (
        "kubectl validates on the server once the OpenAPI shows PATCH takes fieldValidation"
    )


def test_list_map_key_defaults_are_published_as_a_real_server_publishes_them(sandbox: SandboxThread) -> None:
    # kube-openapi publishes the Go types' `+default="TCP"` on port protocols, in v3 and v2; clients
    # key a port written without a protocol by it (server-side apply, kubedrift's comparator).
    index = get(sandbox, "/openapi/v3").json()["paths"]
    v3 = get(sandbox, index["api/v1"]["serverRelativeURL"]).json()["components"]["schemas"]
    v2 = get(sandbox, "/openapi/v2").json()["definitions"]
    for definitions in (v3, v2):
        for name in ("io.k8s.api.core.v1.ContainerPort", "io.k8s.api.core.v1.ServicePort"):
            assert definitions[name]["properties"]["protocol"]["default"] == "TCP"
        assert "default" not in definitions["io.k8s.api.core.v1.ContainerPort"]["properties"]["name"]
