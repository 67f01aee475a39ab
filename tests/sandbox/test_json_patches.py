"""JSON merge patch (RFC 7386) and JSON patch (RFC 6902) with the API server's answers."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sandbox.errors import StatusError
from sandbox.patching import apply_json_patch, json_merge_patch

# RFC 7386, appendix A, for every case whose target and result are objects.
RFC_7386_EXAMPLES = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "expected"), RFC_7386_EXAMPLES)
def test_json_merge_patch_follows_rfc_7386(
    target: dict[str, Any], patch: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert json_merge_patch(target, patch) == expected


def test_json_merge_patch_replaces_lists_and_leaves_its_inputs_alone() -> None:
    target = {"spec": {"containers": [{"name": "a"}, {"name": "b"}], "replicas": 1}}
    patch = {"spec": {"containers": [{"name": "c", "image": None}]}}
    before = (copy.deepcopy(target), copy.deepcopy(patch))
    assert json_merge_patch(target, patch) == {"spec": {"containers": [{"name": "c"}], "replicas": 1}}
    assert (target, patch) == before


def test_json_merge_patch_of_null_is_400() -> None:
    with pytest.raises(StatusError) as raised:
        json_merge_patch({"a": 1}, None)  # type: ignore[arg-type]
    assert (raised.value.code, raised.value.reason, raised.value.message) == (
        400,
        "BadRequest",
        "Invalid JSON Patch",
    )


def test_json_merge_patch_that_is_a_list_cannot_become_an_object() -> None:
    with pytest.raises(StatusError) as raised:
        json_merge_patch({"a": 1}, ["c"])  # type: ignore[arg-type]
    assert (raised.value.code, raised.value.reason) == (422, "Invalid")


DOCUMENT = {
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {"replicas": 1, "args": ["a", "b"]},
}


def patched(*operations: dict[str, Any]) -> dict[str, Any]:
    return apply_json_patch(DOCUMENT, list(operations))


def test_add_sets_a_member_and_inserts_into_a_list() -> None:
    result = patched(
        {"op": "add", "path": "/metadata/labels/tier", "value": "front"},
        {"op": "add", "path": "/spec/args/1", "value": "x"},
        {"op": "add", "path": "/spec/args/-", "value": "z"},
    )
    assert result["metadata"]["labels"] == {"app": "web", "tier": "front"}
    assert result["spec"]["args"] == ["a", "x", "b", "z"]


def test_remove_replace_move_copy_and_test() -> None:
    result = patched(
        {"op": "test", "path": "/spec/replicas", "value": 1},
        {"op": "replace", "path": "/spec/replicas", "value": 3},
        {"op": "copy", "from": "/metadata/labels/app", "path": "/metadata/labels/copied"},
        {"op": "move", "from": "/spec/args", "path": "/spec/command"},
        {"op": "remove", "path": "/metadata/labels/app"},
    )
    assert result == {
        "metadata": {"name": "web", "labels": {"copied": "web"}},
        "spec": {"replicas": 3, "command": ["a", "b"]},
    }


def test_escaped_pointer_tokens_address_keys_with_slashes() -> None:
    result = patched({"op": "add", "path": "/metadata/labels/example.com~1team", "value": "a"})
    assert result["metadata"]["labels"]["example.com/team"] == "a"


def test_a_negative_index_counts_from_the_end_as_the_server_allows() -> None:
    assert patched({"op": "remove", "path": "/spec/args/-1"})["spec"]["args"] == ["a"]


def test_replace_of_a_missing_member_adds_it_as_the_server_does() -> None:
    assert patched({"op": "replace", "path": "/spec/paused", "value": True})["spec"]["paused"] is True


def test_the_document_is_not_changed_when_a_later_operation_fails() -> None:
    before = copy.deepcopy(DOCUMENT)
    with pytest.raises(StatusError):
        patched(
            {"op": "replace", "path": "/spec/replicas", "value": 9},
            {"op": "test", "path": "/spec/replicas", "value": 1},
        )
    assert before == DOCUMENT


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "test", "path": "/spec/replicas", "value": 2},
        {"op": "test", "path": "/spec/replicas", "value": "1"},
        {"op": "test", "path": "/spec/missing", "value": 1},
        {"op": "remove", "path": "/spec/missing"},
        {"op": "add", "path": "/no/such/parent", "value": 1},
        {"op": "add", "path": "/spec/args/5", "value": "x"},
        {"op": "replace", "path": "/spec/args/9", "value": "x"},
        {"op": "move", "from": "/spec/missing", "path": "/spec/other"},
        {"op": "copy", "from": "/no/such", "path": "/spec/other"},
        {"op": "frobnicate", "path": "/spec"},
        {"op": "add", "value": 1},
    ],
)
def test_a_failing_operation_is_422_with_the_generic_message(operation: dict[str, Any]) -> None:
    with pytest.raises(StatusError) as raised:
        patched(operation)
    assert (raised.value.code, raised.value.reason) == (422, "Invalid")
    assert raised.value.message == "the server rejected our request due to an error in our request"


def test_test_of_a_missing_member_against_null_passes() -> None:
    assert patched({"op": "test", "path": "/spec/missing", "value": None}) == DOCUMENT


def test_test_of_a_missing_member_without_a_value_is_a_500_as_the_go_library_crashes() -> None:
    with pytest.raises(StatusError) as raised:
        patched({"op": "test", "path": "/spec/missing"})
    assert (raised.value.code, raised.value.reason) == (500, "")


def test_test_compares_numbers_by_value_and_objects_deeply() -> None:
    assert (
        patched(
            {"op": "test", "path": "/spec/replicas", "value": 1.0},
            {"op": "test", "path": "/metadata", "value": {"labels": {"app": "web"}, "name": "web"}},
        )
        == DOCUMENT
    )


@pytest.mark.parametrize("body", [{"op": "add"}, "add", [1]])
def test_a_body_that_is_not_a_list_of_operations_is_400(body: Any) -> None:
    with pytest.raises(StatusError) as raised:
        apply_json_patch(DOCUMENT, body)
    assert (raised.value.code, raised.value.reason) == (400, "BadRequest")
    assert raised.value.message.startswith("json: cannot unmarshal")
