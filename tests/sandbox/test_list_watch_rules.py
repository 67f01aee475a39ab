"""The resourceVersion rules of list and watch, the create-time resourceVersion, field selector terms and
JSON framing, as the API server (its watch cache, etcd storage and ListOptions validation) applies them."""

from __future__ import annotations

import http.client
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from sandbox.handle import SandboxThread
from sandbox.server import ServerConfig

if TYPE_CHECKING:
    from conftest import Kubectl

NS = "default"
CONFIG_MAPS = f"/api/v1/namespaces/{NS}/configmaps"


def raw(
    sandbox: SandboxThread, method: str, path: str, body: Any = None
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and the exact bytes of one request."""
    request = urllib.request.Request(
        sandbox.url + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def status_of(error: ApiException) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(error.body)
    return parsed


def config_map(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def names(listed: Any) -> list[str]:
    return [item.metadata.name for item in listed.items]


def watch_lines(sandbox: SandboxThread, query: str, count: int) -> list[dict[str, Any]]:
    """The first `count` events of a raw watch (the stream is closed after them)."""
    connection = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=30)
    connection.request("GET", f"{CONFIG_MAPS}?watch=true&{query}", headers={"Accept": "application/json"})
    response = connection.getresponse()
    assert response.status == 200
    events = [json.loads(response.readline()) for _ in range(count)]
    connection.close()
    return events


@pytest.fixture
def quick_sandbox() -> Iterator[SandboxThread]:
    """A sandbox that waits only 0.2 s for a resourceVersion it has not reached (a real one: 3 s)."""
    with SandboxThread(config=ServerConfig(resource_version_wait=0.2), controllers=()) as running:
        yield running


@pytest.fixture
def quick_core(quick_sandbox: SandboxThread) -> Iterator[client.CoreV1Api]:
    configuration = client.Configuration(host=quick_sandbox.url)
    with client.ApiClient(configuration) as api:
        yield client.CoreV1Api(api)


@pytest.fixture
def patient_core() -> Iterator[client.CoreV1Api]:
    """A sandbox that waits up to a minute for a version, so a test's write always comes in time."""
    with (
        SandboxThread(config=ServerConfig(resource_version_wait=60), controllers=()) as running,
        client.ApiClient(client.Configuration(host=running.url)) as api,
    ):
        yield client.CoreV1Api(api)


# ---- resourceVersionMatch ----


def test_exact_lists_the_state_at_that_version(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(NS, config_map("kept", v="1"))
    core.create_namespaced_config_map(NS, config_map("deleted-later"))
    then = core.list_namespaced_config_map(NS).metadata.resource_version
    core.patch_namespaced_config_map("kept", NS, {"data": {"v": "2"}})
    core.delete_namespaced_config_map("deleted-later", NS)
    core.create_namespaced_config_map(NS, config_map("added-later"))

    exact = core.list_namespaced_config_map(NS, resource_version=then, resource_version_match="Exact")
    assert exact.metadata.resource_version == then
    assert names(exact) == ["deleted-later", "kept"]
    assert exact.items[1].data == {"v": "1"}

    newer = core.list_namespaced_config_map(NS, resource_version=then, resource_version_match="NotOlderThan")
    assert int(newer.metadata.resource_version) > int(then)
    assert names(newer) == ["added-later", "kept"] and newer.items[1].data == {"v": "2"}


def test_a_limit_with_a_version_is_the_legacy_exact_match_and_pages_stay_consistent(
    core: client.CoreV1Api,
) -> None:
    for name in ("a", "b", "c"):
        core.create_namespaced_config_map(NS, config_map(name))
    then = core.list_namespaced_config_map(NS).metadata.resource_version
    core.delete_namespaced_config_map("b", NS)

    first = core.list_namespaced_config_map(NS, limit=2, resource_version=then)
    assert names(first) == ["a", "b"] and first.metadata.resource_version == then
    core.create_namespaced_config_map(NS, config_map("bb"))
    # The next page still shows the list as it was at the first page's version.
    rest = core.list_namespaced_config_map(NS, limit=2, _continue=first.metadata._continue)
    assert names(rest) == ["c"] and rest.metadata.resource_version == then


def test_version_zero_is_served_whole_whatever_the_limit(core: client.CoreV1Api) -> None:
    for name in ("a", "b", "c"):
        core.create_namespaced_config_map(NS, config_map(name))
    listed = core.list_namespaced_config_map(NS, limit=1, resource_version="0")
    assert names(listed) == ["a", "b", "c"] and not listed.metadata._continue


def test_exact_at_a_compacted_version_is_410_expired(sandbox: SandboxThread, core: client.CoreV1Api) -> None:
    then = core.list_namespaced_config_map(NS).metadata.resource_version
    core.create_namespaced_config_map(NS, config_map("after"))
    sandbox.faults.compact()
    with pytest.raises(ApiException) as gone:
        core.list_namespaced_config_map(NS, resource_version=then, resource_version_match="Exact")
    assert gone.value.status == 410
    status = status_of(gone.value)
    assert status["reason"] == "Expired"
    assert status["message"] == "The resourceVersion for the provided list is too old."
    # The current version is still listable exactly.
    now = core.list_namespaced_config_map(NS).metadata.resource_version
    exact = core.list_namespaced_config_map(NS, resource_version=now, resource_version_match="Exact")
    assert names(exact) == ["after"]


# ---- a version the server has not reached ----


def test_a_future_version_waits_then_answers_504_too_large(quick_sandbox: SandboxThread) -> None:
    current = json.loads(raw(quick_sandbox, "GET", CONFIG_MAPS)[2])["metadata"]["resourceVersion"]
    ahead = int(current) + 50
    for query in (f"resourceVersion={ahead}", f"resourceVersion={ahead}&resourceVersionMatch=Exact"):
        code, headers, body = raw(quick_sandbox, "GET", f"{CONFIG_MAPS}?{query}")
        assert code == 504
        assert headers["Retry-After"] == "1"
        assert json.loads(body) == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": f"Timeout: Too large resource version: {ahead}, current: {current}",
            "reason": "Timeout",
            "details": {
                "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                "retryAfterSeconds": 1,
            },
            "code": 504,
        }


def test_the_official_client_sees_the_504(quick_core: client.CoreV1Api) -> None:
    current = int(quick_core.list_namespaced_config_map(NS).metadata.resource_version)
    with pytest.raises(ApiException) as too_large:
        quick_core.list_namespaced_config_map(NS, resource_version=str(current + 10))
    assert too_large.value.status == 504
    assert status_of(too_large.value)["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge"


def test_a_list_waiting_for_a_version_answers_once_a_write_reaches_it(patient_core: client.CoreV1Api) -> None:
    core = patient_core
    current = int(core.list_namespaced_config_map(NS).metadata.resource_version)
    answers: list[Any] = []
    waiting = threading.Thread(
        target=lambda: answers.append(core.list_namespaced_config_map(NS, resource_version=str(current + 1)))
    )
    waiting.start()
    core.create_namespaced_config_map(NS, config_map("arrives"))
    waiting.join(timeout=30)
    (listed,) = answers
    assert names(listed) == ["arrives"] and int(listed.metadata.resource_version) >= current + 1


def test_a_plain_watch_from_a_future_version_sends_only_later_events(sandbox: SandboxThread) -> None:
    current = int(json.loads(raw(sandbox, "GET", CONFIG_MAPS)[2])["metadata"]["resourceVersion"])
    result: list[list[dict[str, Any]]] = []
    reader = threading.Thread(
        target=lambda: result.append(
            watch_lines(sandbox, f"resourceVersion={current + 2}&timeoutSeconds=20", 1)
        )
    )
    reader.start()
    # The watch answers 200 at once; only events after its version reach it.
    for name in ("one", "two", "three"):
        raw(sandbox, "POST", CONFIG_MAPS, config_map(name))
    reader.join(timeout=30)
    ((event,),) = result
    assert event["type"] == "ADDED" and event["object"]["metadata"]["name"] == "three"


def test_a_watch_list_from_a_future_version_ends_with_a_504_error_event(quick_sandbox: SandboxThread) -> None:
    current = int(json.loads(raw(quick_sandbox, "GET", CONFIG_MAPS)[2])["metadata"]["resourceVersion"])
    query = (
        f"resourceVersion={current + 5}&sendInitialEvents=true&resourceVersionMatch=NotOlderThan"
        "&allowWatchBookmarks=true"
    )
    (event,) = watch_lines(quick_sandbox, query, 1)
    assert event["type"] == "ERROR"
    assert event["object"]["code"] == 504 and event["object"]["reason"] == "Timeout"
    assert (
        event["object"]["message"]
        == f"Timeout: Too large resource version: {current + 5}, current: {current}"
    )


# ---- invalid option combinations ----

MATCH_WITHOUT_VERSION = "resourceVersionMatch is forbidden unless resourceVersion is provided"


@pytest.mark.parametrize(
    ("query", "field", "body"),
    [
        ("resourceVersionMatch=NotOlderThan", "resourceVersionMatch", f"Forbidden: {MATCH_WITHOUT_VERSION}"),
        (
            "resourceVersion=0&resourceVersionMatch=Exact",
            "resourceVersionMatch",
            'Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"',
        ),
        (
            "resourceVersion=5&resourceVersionMatch=Newest",
            "resourceVersionMatch",
            'Unsupported value: "Newest": supported values: "Exact", "NotOlderThan", ""',
        ),
        ("sendInitialEvents=true", "sendInitialEvents", "Forbidden: sendInitialEvents is forbidden for list"),
        (
            "watch=true&resourceVersion=5&resourceVersionMatch=NotOlderThan",
            "resourceVersionMatch",
            "Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
        ),
        (
            "watch=true&sendInitialEvents=true",
            "resourceVersionMatch",
            "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
        ),
    ],
    ids=[
        "match-without-version",
        "exact-zero",
        "unknown-match",
        "list-initial-events",
        "watch-match",
        "watch-list",
    ],
)
def test_list_options_the_server_refuses_are_422(
    sandbox: SandboxThread, query: str, field: str, body: str
) -> None:
    code, _headers, raw_body = raw(sandbox, "GET", f"{CONFIG_MAPS}?{query}")
    status = json.loads(raw_body)
    assert code == 422 and status["reason"] == "Invalid"
    assert status["message"] == f'ListOptions.meta.k8s.io "" is invalid: {field}: {body}'
    assert status["details"]["group"] == "meta.k8s.io" and status["details"]["kind"] == "ListOptions"
    assert status["details"]["causes"][0]["field"] == field


def test_the_official_client_gets_the_422_for_a_match_without_a_version(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as refused:
        core.list_namespaced_config_map(NS, resource_version_match="Exact")
    assert refused.value.status == 422
    assert status_of(refused.value)["message"].endswith(
        f"resourceVersionMatch: Forbidden: {MATCH_WITHOUT_VERSION}"
    )


def test_malformed_versions_and_a_version_with_continue_are_400(
    sandbox: SandboxThread, core: client.CoreV1Api
) -> None:
    code, _headers, body = raw(sandbox, "GET", f"{CONFIG_MAPS}?resourceVersion=abc")
    assert code == 400
    assert json.loads(body)["message"] == (
        'invalid resource version: resourceVersion: Invalid value: "abc": '
        'strconv.ParseUint: parsing "abc": invalid syntax'
    )
    for name in ("a", "b"):
        core.create_namespaced_config_map(NS, config_map(name))
    first = core.list_namespaced_config_map(NS, limit=1)
    with pytest.raises(ApiException) as refused:
        core.list_namespaced_config_map(NS, limit=1, _continue=first.metadata._continue, resource_version="5")
    assert refused.value.status == 400
    assert (
        status_of(refused.value)["message"]
        == "specifying resource version is not allowed when using continue"
    )


# ---- create, selectors, framing ----


def test_a_create_ignores_a_resource_version_that_is_not_a_number(core: client.CoreV1Api) -> None:
    body = config_map("odd")
    body["metadata"]["resourceVersion"] = "not-a-number"
    created = core.create_namespaced_config_map(NS, body)
    assert created.metadata.resource_version.isdigit()
    zero = config_map("zero")
    zero["metadata"]["resourceVersion"] = "0"
    assert core.create_namespaced_config_map(NS, zero).metadata.resource_version.isdigit()


def test_a_create_with_a_numeric_resource_version_is_a_500_without_a_reason(core: client.CoreV1Api) -> None:
    body = config_map("numbered")
    body["metadata"]["resourceVersion"] = "12"
    # A dry run never reaches storage, which is what refuses it.
    assert core.create_namespaced_config_map(NS, body, dry_run="All").metadata.name == "numbered"
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_config_map(NS, body)
    assert refused.value.status == 500
    status = status_of(refused.value)
    assert status["message"] == "resourceVersion should not be set on objects to be created"
    assert "reason" not in status


def test_a_trailing_comma_in_a_field_selector_is_accepted(
    sandbox: SandboxThread, core: client.CoreV1Api
) -> None:
    core.create_namespaced_config_map(NS, config_map("x"))
    core.create_namespaced_config_map(NS, config_map("y"))
    assert names(core.list_namespaced_config_map(NS, field_selector="metadata.name=x,")) == ["x"]
    events = list(
        watch.Watch().stream(
            core.list_namespaced_config_map, NS, field_selector="metadata.name=y,", timeout_seconds=1
        )
    )
    assert [e["object"].metadata.name for e in events] == ["y"]


def test_every_json_answer_ends_with_a_newline(sandbox: SandboxThread) -> None:
    created = raw(sandbox, "POST", CONFIG_MAPS, config_map("framed"))
    got = raw(sandbox, "GET", f"{CONFIG_MAPS}/framed")
    listed = raw(sandbox, "GET", CONFIG_MAPS)
    missing = raw(sandbox, "GET", f"{CONFIG_MAPS}/nope")
    discovery = raw(sandbox, "GET", "/api/v1")
    for code, _headers, body in (created, got, listed, missing, discovery):
        assert body.endswith(b"}\n") and body.count(b"\n") == 1, (code, body[-40:])
    assert missing[0] == 404 and json.loads(missing[2])["reason"] == "NotFound"


def test_kubectl_lists_with_a_trailing_comma_selector(kubectl: Kubectl) -> None:
    kubectl.run("create", "configmap", "picked", "--from-literal=k=v")
    kubectl.run("create", "configmap", "other", "--from-literal=k=v")
    listed = kubectl.json("get", "configmaps", "--field-selector", "metadata.name=picked,")
    assert [item["metadata"]["name"] for item in listed["items"]] == ["picked"]
