"""Drift attribution (issue 15 item 5): who owns each drifted field now, by managedFields.

The live objects in tests/fixtures/attribution were recorded from the sandbox after real kubectl
commands (scale, set image, patches with --field-manager=kubectl-edit, a server-side apply by
another manager, replace), so the managedFields shapes are the server's, not hand-written.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.drift.attribution import (
    Unattributed,
    attributed,
    attribution_of,
    attribution_text,
    field_steps,
    time_ago,
)
from core.drift.comparator import diff
from core.drift.rules import DEFAULT_RULES, schema_for, schema_of
from core.model import App, Attribution, Change, ResourceKey, Source, SyncStatus
from core.reconcile import reconcile

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "attribution" / "web-kubectl.yaml"
RECORDED: dict[str, Any] = yaml.safe_load(FIXTURE.read_text())
DESIRED: dict[str, Any] = RECORDED["desired"]
SCHEMA = schema_for(DESIRED, DEFAULT_RULES)
IMAGE = "/spec/template/spec/containers/0/image"
LOG_LEVEL = "/spec/template/spec/containers/0/env/0/value"
MEMORY = "/spec/template/spec/containers/0/resources/limits/memory"


def live(step: str) -> dict[str, Any]:
    return copy.deepcopy(RECORDED["live"][step])


def by_path(obj: dict[str, Any], desired: dict[str, Any] = DESIRED) -> dict[str, Change]:
    changes = attributed(diff(desired, obj).changes, desired, obj, schema_for(desired, DEFAULT_RULES))
    return {change.path: change for change in changes}


def entry(manager: str, operation: str, time: str, fields: dict[str, Any], **extra: str) -> dict[str, Any]:
    return {"manager": manager, "operation": operation, "time": time, "fieldsV1": fields, **extra}


REPLICAS = {"f:spec": {"f:replicas": {}}}


def deployment(replicas: int, managers: list[dict[str, Any]] | None) -> dict[str, Any]:
    obj = copy.deepcopy(DESIRED)
    obj["spec"]["replicas"] = replicas
    if managers is None:
        obj["metadata"].pop("managedFields", None)
    else:
        obj["metadata"]["managedFields"] = managers
    return obj


# Real kubectl writes, as the sandbox recorded them.


def test_kubectl_scale_names_kubectl_through_the_scale_subresource() -> None:
    change = by_path(live("edited"))["/spec/replicas"]
    assert (change.desired, change.live) == (2, 5)
    assert change.by is not None
    # The manager comes from kubectl's User-Agent: the binary's own name (`kubectl`, or
    # `kubectl.1.33` for the versioned binaries the fixture was recorded with).
    assert change.by.manager.split(".")[0] == "kubectl"
    assert change.by.operation == "Update"
    assert change.by.time and not change.by.parent


def test_kubectl_set_image_names_kubectl_set() -> None:
    change = by_path(live("edited"))[IMAGE]
    assert change.live == "ghcr.io/acme/web:9.9"
    assert change.by is not None and (change.by.manager, change.by.operation) == ("kubectl-set", "Update")


def test_a_patch_inside_a_keyed_list_in_a_keyed_list_names_its_field_manager() -> None:
    change = by_path(live("edited"))[LOG_LEVEL]
    assert (change.desired, change.live) == ("info", "debug")
    assert change.by is not None and change.by.manager == "kubectl-edit"


def test_a_field_gone_from_live_names_who_last_wrote_beside_it() -> None:
    change = by_path(live("edited"))["/metadata/labels/tier"]
    assert change.live is None
    assert change.by is not None and change.by.parent
    assert change.by.manager == "kubectl-edit"  # it removed `tier` and added `owner` in one patch
    assert change.to_json()["by"] == {
        "manager": "kubectl-edit",
        "operation": "Update",
        "time": change.by.time,
    }


def test_a_forced_server_side_apply_by_another_manager_takes_the_field() -> None:
    change = by_path(live("server_side_applied"))["/spec/replicas"]
    assert change.live == 8
    assert change.by is not None and (change.by.manager, change.by.operation) == ("autoscaler", "Apply")


def test_a_replace_owns_only_what_it_changed() -> None:
    changes = by_path(live("replaced"))
    memory = changes[MEMORY]
    assert memory.by is not None and memory.by.manager == "kubectl-replace"
    # The PUT carried the other drifted values unchanged: their owners stay who they were.
    assert changes[IMAGE].by is not None and changes[IMAGE].by.manager == "kubectl-set"
    assert changes["/spec/replicas"].by is not None and changes["/spec/replicas"].by.manager == "autoscaler"


def test_a_field_only_kubedrift_owns_was_changed_in_git_not_by_anyone() -> None:
    desired = copy.deepcopy(DESIRED)
    desired["spec"]["template"]["spec"]["containers"][0]["ports"][0]["name"] = "web"
    obj = live("edited")
    changes = by_path(obj, desired)
    port = changes["/spec/template/spec/containers/0/ports/0/name"]
    assert port.by is None
    assert "by" not in port.to_json()
    assert attribution_of(port, desired, obj, SCHEMA) is Unattributed.KUBEDRIFT


# Rules over hand-made managedFields: each shape the server can write.


def test_co_owners_prefer_the_newest_update_that_is_not_kubedrift() -> None:
    managers = [
        entry("kubedrift", "Apply", "2026-01-01T00:09:00Z", REPLICAS),
        entry("helm", "Apply", "2026-01-01T00:08:00Z", REPLICAS),
        entry("kubectl-patch", "Update", "2026-01-01T00:02:00Z", REPLICAS),
        entry("kubectl-edit", "Update", "2026-01-01T00:05:00Z", REPLICAS),
    ]
    change = by_path(deployment(5, managers))["/spec/replicas"]
    assert change.by == Attribution("kubectl-edit", "Update", "2026-01-01T00:05:00Z")


def test_an_apply_by_another_manager_counts_when_no_update_owns_the_field() -> None:
    managers = [
        entry("kubedrift", "Apply", "2026-01-01T00:09:00Z", REPLICAS),
        entry("helm", "Apply", "2026-01-01T00:01:00Z", REPLICAS),
        entry("flux", "Apply", "2026-01-01T00:04:00Z", REPLICAS),
    ]
    change = by_path(deployment(5, managers))["/spec/replicas"]
    assert change.by == Attribution("flux", "Apply", "2026-01-01T00:04:00Z")


def test_no_managed_fields_is_unknown_never_a_guess() -> None:
    obj = deployment(5, None)
    change = by_path(obj)["/spec/replicas"]
    assert change.by is None and "by" not in change.to_json()
    assert attribution_of(change, DESIRED, obj, SCHEMA) is Unattributed.NO_MANAGED_FIELDS


def test_a_field_no_entry_owns_is_unknown() -> None:
    obj = deployment(5, [entry("kubectl-edit", "Update", "2026-01-01T00:05:00Z", {"f:metadata": {}})])
    change = by_path(obj)["/spec/replicas"]
    assert change.by is None
    assert attribution_of(change, DESIRED, obj, SCHEMA) is Unattributed.NOT_OWNED


def test_a_removed_field_whose_parent_only_kubedrift_wrote_is_unknown() -> None:
    obj = live("edited")
    obj["metadata"]["managedFields"] = [
        e for e in obj["metadata"]["managedFields"] if e["manager"] in ("kubedrift", "kubectl-set")
    ]
    change = by_path(obj)["/metadata/labels/tier"]
    assert change.by is None
    assert attribution_of(change, DESIRED, obj, SCHEMA) is Unattributed.NOT_OWNED


def test_malformed_entries_are_skipped() -> None:
    managers: list[Any] = [
        "junk",
        {"manager": "x", "operation": "Update", "fieldsV1": "not a trie"},
        entry("", "Update", "2026-01-01T00:05:00Z", REPLICAS),
        entry("kubectl", "Update", "2026-01-01T00:05:00Z", {"f:spec": {"f:replicas": "odd"}}),
    ]
    change = by_path(deployment(5, managers))["/spec/replicas"]
    assert change.by == Attribution("kubectl", "Update", "2026-01-01T00:05:00Z")


# How a pointer becomes trie steps.


def pod(spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", **metadata}, "spec": spec}


POD_SCHEMA = schema_of("v1", "Pod")


def test_keyed_list_elements_are_named_by_their_schema_keys_with_defaults() -> None:
    desired = pod({"containers": [{"name": "a"}, {"name": "web", "ports": [{"containerPort": 80}]}]})
    change = Change("/spec/containers/1/ports/0/containerPort", 80, None)
    assert field_steps(change, desired, desired, POD_SCHEMA) == (
        "f:spec",
        "f:containers",
        'k:{"name":"web"}',
        "f:ports",
        'k:{"containerPort":80,"protocol":"TCP"}',
        "f:containerPort",
    )


def test_a_live_only_element_is_named_from_the_live_list() -> None:
    desired = pod({"containers": [{"name": "web"}]})
    obj = pod({"containers": [{"name": "sidecar"}, {"name": "web"}]})
    change = Change("/spec/containers/0", None, {"name": "sidecar"})
    steps = field_steps(change, desired, obj, POD_SCHEMA)
    assert steps == ("f:spec", "f:containers", 'k:{"name":"sidecar"}')


def test_set_elements_are_named_by_value_and_atomic_lists_whole() -> None:
    desired = pod({"containers": [{"name": "web", "args": ["a", "b"]}]}, finalizers=["example.com/x"])
    finalizer = Change("/metadata/finalizers/0", "example.com/x", None)
    assert field_steps(finalizer, desired, None, POD_SCHEMA) == (
        "f:metadata",
        "f:finalizers",
        'v:"example.com/x"',
    )
    args = Change("/spec/containers/0/args", ["a", "b"], ["a"])
    assert field_steps(args, desired, desired, POD_SCHEMA) == (
        "f:spec",
        "f:containers",
        'k:{"name":"web"}',
        "f:args",
    )


def test_an_element_of_an_atomic_list_is_owned_by_whoever_owns_the_list() -> None:
    desired = pod({"tolerations": [{"key": "a", "operator": "Exists"}]})
    obj = pod({"tolerations": [{"key": "a", "operator": "Exists", "tolerationSeconds": 5}]})
    obj["metadata"]["managedFields"] = [
        entry("kubedrift", "Apply", "2026-01-01T00:01:00Z", {"f:spec": {}}),
        entry("kubectl-edit", "Update", "2026-01-01T00:03:00Z", {"f:spec": {"f:tolerations": {}}}),
    ]
    change = Change("/spec/tolerations/0/tolerationSeconds", None, 5)
    assert field_steps(change, desired, obj, POD_SCHEMA) == ("f:spec", "f:tolerations")
    assert attribution_of(change, desired, obj, POD_SCHEMA) == Attribution(
        "kubectl-edit", "Update", "2026-01-01T00:03:00Z"
    )


def test_escaped_pointer_segments_name_the_real_field() -> None:
    desired = pod({}, annotations={"example.com/owner": "a"})
    change = Change("/metadata/annotations/example.com~1owner", "a", "b")
    assert field_steps(change, desired, desired, POD_SCHEMA) == (
        "f:metadata",
        "f:annotations",
        "f:example.com/owner",
    )


def test_secret_string_data_is_owned_under_data() -> None:
    desired = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"token": "x"}}
    change = Change("/stringData/token", "***", "***", True)
    steps = field_steps(change, desired, None, schema_of("v1", "Secret"))
    assert steps == ("f:data", "f:token")


# What a person reads.

NOW = datetime(2026, 1, 1, 0, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("time", "expected"),
    [
        ("2026-01-01T00:09:30Z", "just now"),
        ("2026-01-01T00:06:00Z", "4 min ago"),
        ("2025-12-31T21:10:00Z", "3 h ago"),
        ("2025-12-29T00:10:00Z", "3 d ago"),
        ("2026-01-01T00:20:00Z", "just now"),
        ("", "at an unrecorded time"),
        ("yesterday", "at an unrecorded time"),
    ],
)
def test_time_ago(time: str, expected: str) -> None:
    assert time_ago(time, NOW) == expected


def test_attribution_text() -> None:
    found = Attribution("kubectl-edit", "Update", "2026-01-01T00:06:00Z")
    assert attribution_text(found, NOW) == "changed by kubectl-edit (Update) 4 min ago"
    gone = Attribution("kubectl-edit", "Update", "2026-01-01T00:06:00Z", parent=True)
    assert attribution_text(gone, NOW) == "removed; kubectl-edit (Update) last wrote beside it 4 min ago"
    assert attribution_text(Unattributed.NOT_OWNED, NOW) == "who changed it: unknown (not in managedFields)"


# Where it is computed, and where it shows.


def test_reconcile_attributes_out_of_sync_changes_only() -> None:
    key = ResourceKey.of(DESIRED)
    other = copy.deepcopy(DESIRED)
    other["metadata"]["name"] = "api"
    other_key = ResourceKey.of(other)
    synced_live = copy.deepcopy(other)
    synced_live["metadata"]["managedFields"] = [
        entry("kubectl-edit", "Update", "2026-01-01T00:05:00Z", REPLICAS)
    ]
    app = App("shop", Source("./gitops"))
    result = reconcile(app, {key: DESIRED, other_key: other}, {key: live("edited"), other_key: synced_live})
    drifted = result.resources[key]
    assert drifted.status is SyncStatus.OUT_OF_SYNC
    document = drifted.to_json()
    replicas = next(change for change in document["changes"] if change["path"] == "/spec/replicas")
    assert replicas["by"]["operation"] == "Update" and replicas["by"]["manager"].startswith("kubectl")
    assert set(replicas) == {"path", "desired", "live", "by"}
    assert json.loads(json.dumps(document)) == document
    assert result.resources[other_key].status is SyncStatus.SYNCED
    assert result.resources[other_key].changes == ()


def test_the_tui_lines_name_each_path() -> None:
    from tui.resource_diff import changed_by_lines

    obj = live("edited")
    changes = diff(DESIRED, obj).changes  # without `by`: the pane works it out itself
    lines = changed_by_lines(changes, DESIRED, obj, SCHEMA, NOW)
    assert len(lines) == len(changes)
    shown = dict(line.split(": ", 1) for line in lines)
    assert shown[IMAGE].startswith("changed by kubectl-set (Update) ")
    assert shown["/metadata/labels/tier"].startswith("removed; kubectl-edit (Update) last wrote beside it")
    bare = deployment(5, None)
    (line,) = changed_by_lines(diff(DESIRED, bare).changes, DESIRED, bare, SCHEMA, NOW)
    assert line == "/spec/replicas: who changed it: unknown (the live object has no managedFields)"


def test_a_top_level_field_gone_from_live_names_nobody() -> None:
    desired = pod({"containers": [{"name": "web"}]})
    obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}
    obj["metadata"]["managedFields"] = [
        entry(
            "kube-controller-manager",
            "Update",
            "2026-01-01T00:09:00Z",
            {"f:status": {}},
            subresource="status",
        )
    ]
    change = Change("/spec", desired["spec"], None)
    assert attribution_of(change, desired, obj, POD_SCHEMA) is Unattributed.NOT_OWNED
