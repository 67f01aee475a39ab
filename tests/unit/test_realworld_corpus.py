"""The real-world drift corpus checks itself: shape, sources, manifests, managedFields and pointers.

It does not judge the drift engine; a later test runs `diff()` over `load_cases()`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any
from urllib.parse import urlparse

import kubernetes_validate
import pytest
import yaml

from tests.realworld import (
    APP_NAME,
    CORPUS,
    FIELD_MANAGER,
    CaseKind,
    RealWorldCase,
    load_cases,
    read_manifest,
)

CASES = load_cases()
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
TRACKING = "kubedrift.io/tracking-id"
ENTRY_KEYS = {"apiVersion", "fieldsType", "fieldsV1", "manager", "operation", "subresource", "time"}
CLUSTER_SCOPED = {"Namespace", "CustomResourceDefinition", "ClusterPolicy", "ClusterQueue"}


def by_case(test: Any) -> Any:
    return pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])(test)


def test_the_corpus_has_at_least_forty_cases() -> None:
    assert len(CASES) >= 40


def test_cases_are_numbered_once_each_with_distinct_slugs() -> None:
    numbers = [case.number for case in CASES]
    assert numbers == list(range(1, len(CASES) + 1)), "numbers run 001, 002, ... without gaps or repeats"
    slugs = Counter(case.slug for case in CASES)
    assert not [slug for slug, count in slugs.items() if count > 1]


def test_every_class_has_several_cases() -> None:
    counts = Counter(case.kind for case in CASES)
    thin = {kind.value: counts[kind] for kind in CaseKind if counts[kind] < 3}
    assert not thin, f"classes with fewer than three cases: {thin}"


def test_only_webhook_cases_need_the_server() -> None:
    for case in CASES:
        assert case.needs_server == (case.kind is CaseKind.MUTATING_WEBHOOK), case.id


@by_case
def test_sources_are_urls(case: RealWorldCase) -> None:
    for url in (case.source, *case.also_see):
        parsed = urlparse(url)
        assert parsed.scheme == "https" and parsed.netloc and parsed.path, f"{case.id}: not a URL: {url!r}"
        assert " " not in url


@by_case
def test_desired_is_a_manifest(case: RealWorldCase) -> None:
    desired = case.desired
    assert isinstance(desired.get("apiVersion"), str) and desired["apiVersion"]
    assert isinstance(desired.get("kind"), str) and desired["kind"]
    assert isinstance(desired.get("metadata"), dict)
    assert isinstance(desired["metadata"].get("name"), str) and desired["metadata"]["name"]
    assert case.desired_text.endswith("\n"), "desired keeps the file's exact text, final newline included"


@by_case
def test_live_is_the_stored_form_of_the_same_object(case: RealWorldCase) -> None:
    desired, live = case.desired, case.live
    assert live["apiVersion"] == desired["apiVersion"]
    assert live["kind"] == desired["kind"]
    meta = live["metadata"]
    assert meta["name"] == desired["metadata"]["name"]
    if live["kind"] in CLUSTER_SCOPED:
        assert "namespace" not in meta
    else:
        assert meta["namespace"] == desired["metadata"].get("namespace", "default")
    for server_field in ("uid", "resourceVersion", "creationTimestamp"):
        assert meta.get(server_field), f"{case.id}: a stored object has metadata.{server_field}"
    assert RFC3339.match(meta["creationTimestamp"])


@by_case
def test_builtin_objects_follow_the_official_schema(case: RealWorldCase) -> None:
    """Both sides of a builtin kind validate, strictly, against the 1.31 definitions; custom
    resources (no official schema) are skipped."""
    for side, obj in (("desired", case.desired), ("live", case.live)):
        try:
            kubernetes_validate.validate(obj, "1.31.0", strict=True)
        except kubernetes_validate.utils.SchemaNotFoundError:
            return
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{case.id}: {side} does not follow the schema: {error}")


@by_case
def test_managed_fields_are_well_formed(case: RealWorldCase) -> None:
    entries = case.managed_fields
    assert entries, "every stored object records who wrote it"
    for entry in entries:
        assert set(entry) <= ENTRY_KEYS
        assert isinstance(entry["manager"], str) and entry["manager"]
        assert entry["operation"] in ("Apply", "Update")
        assert entry["apiVersion"] == case.live["apiVersion"]
        assert entry["fieldsType"] == "FieldsV1"
        assert RFC3339.match(entry["time"])
        assert entry.get("subresource", "status") in ("status", "scale")
        fields = entry["fieldsV1"]
        assert fields and all(key.startswith("f:") for key in fields), "the trie's root holds fields only"
        _check_trie(fields, f"{case.id} {entry['manager']}")
    keys = Counter((entry["manager"], entry["operation"], entry.get("subresource", "")) for entry in entries)
    repeated = [key for key, count in keys.items() if count > 1]
    assert not repeated, "one entry per manager, operation and subresource"


def _check_trie(node: dict[str, Any], where: str) -> None:
    assert isinstance(node, dict), where
    for key, child in node.items():
        assert isinstance(child, dict), f"{where}: {key} is not a mapping"
        if key == ".":
            assert child == {}, f"{where}: '.' marks the node itself and has no children"
            assert len(node) > 1, f"{where}: '.' only appears beside children"
            continue
        prefix, _, rest = key.partition(":")
        assert rest, f"{where}: malformed path element {key!r}"
        if prefix == "f":
            pass
        elif prefix == "k":
            parsed = json.loads(rest)
            assert isinstance(parsed, dict) and parsed, f"{where}: {key}"
            compact = json.dumps(parsed, sort_keys=True, separators=(",", ":"))
            assert rest == compact, f"{where}: {key} is not compact JSON with sorted keys"
        elif prefix == "v":
            json.loads(rest)
        elif prefix == "i":
            assert rest.isdigit(), f"{where}: {key}"
        else:
            raise AssertionError(f"{where}: unknown path element {key!r}")
        _check_trie(child, f"{where} {key}")


@by_case
def test_kubedrift_applied_exactly_the_objects_it_tracks(case: RealWorldCase) -> None:
    meta = case.live["metadata"]
    ours = [entry for entry in case.managed_fields if entry["manager"] == FIELD_MANAGER]
    tracking = (meta.get("annotations") or {}).get(TRACKING)
    if tracking is None:
        assert not ours, "an object kubedrift applied carries its tracking annotation"
        assert case.kind in (CaseKind.ADOPTION, CaseKind.DUPLICATE_MERGE_KEY, CaseKind.KEYED_LIST_ORDER)
        return
    assert [entry["operation"] for entry in ours] == ["Apply"], "kubedrift writes by server-side apply only"
    group = case.live["apiVersion"].rpartition("/")[0]
    namespace = meta.get("namespace", "")
    assert tracking == f"{APP_NAME}:{group}/{case.live['kind']}:{namespace}/{meta['name']}"
    assert meta["labels"]["app.kubernetes.io/managed-by"] == FIELD_MANAGER
    tracked = ours[0]["fieldsV1"]["f:metadata"]
    assert f"f:{TRACKING}" in tracked["f:annotations"]


@by_case
def test_last_applied_configuration_matches_client_side_ownership(case: RealWorldCase) -> None:
    annotation = (case.live["metadata"].get("annotations") or {}).get(LAST_APPLIED)
    managers = {entry["manager"] for entry in case.managed_fields}
    assert (annotation is not None) == ("kubectl-client-side-apply" in managers)
    if annotation is not None:
        applied = json.loads(annotation)
        assert applied["kind"] == case.live["kind"]
        assert applied["metadata"]["name"] == case.live["metadata"]["name"]


POINTER = re.compile(r"^(/([^~/]|~[01])*)+$")


def _resolve(document: Any, pointer: str) -> bool:
    node = document
    for token in pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return False
    return True


@by_case
def test_expected_changes_are_rfc6901_pointers_into_desired_or_live(case: RealWorldCase) -> None:
    expected = case.expected
    assert expected.in_sync == (not expected.changes), "in sync exactly when there is no change"
    assert len(set(expected.changes)) == len(expected.changes)
    for pointer in expected.changes:
        assert POINTER.match(pointer), f"{case.id}: {pointer!r} is not an RFC 6901 pointer"
        assert _resolve(case.desired, pointer) or _resolve(case.live, pointer), (
            f"{case.id}: {pointer} names nothing in desired or live"
        )


@by_case
def test_explanations_are_present(case: RealWorldCase) -> None:
    assert len(case.summary) > 20 and len(case.why) > 40
    if case.needs_server:
        assert "dry" in case.why.lower(), "a server-only case says why only a dry run explains it"


def test_the_readme_lists_every_case_with_its_source() -> None:
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    for case in CASES:
        assert case.path.name in readme, f"README.md does not list {case.path.name}"
        assert case.source in readme, f"README.md does not give the source of {case.id}"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("v: 12:30", "12:30"),  # no base-60 numbers
        ("v: =", "="),  # no 'value' tag
        ("v: 2024-01-15", "2024-01-15"),  # timestamps stay strings
        ("v: 0644", 420),  # leading zero is octal
        ("v: no", False),
        ("v: off", False),
        ("v: y", True),
        ("v: '0644'", "0644"),
        ("v: 1.5k", "1.5k"),
        ("v: 0.5", 0.5),
        ("v:", None),
    ],
)
def test_the_reference_reading_follows_kubectl(text: str, value: Any) -> None:
    assert read_manifest(text) == {"v": value}


def test_the_reference_reading_refuses_duplicate_keys_and_stringifies_others() -> None:
    assert read_manifest("on: 1\n2: b\n") == {"true": 1, "2": "b"}
    with pytest.raises(yaml.constructor.ConstructorError, match="duplicate key"):
        read_manifest("a: 1\na: 2\n")
