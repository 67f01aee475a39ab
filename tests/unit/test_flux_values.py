"""What Flux reads from ConfigMaps and Secrets: post-build variables and a HelmRelease's values."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from core.config_yaml import YamlField
from core.flux_values import (
    ReferencedData,
    ReferenceLookup,
    ReferenceUnreadable,
    Unresolved,
    data_of,
    merge_values,
    post_build_variables,
    release_values,
)

SECRET_TEXT = "hunter2-do-not-show"


def field(value: Any, path: str = "spec") -> YamlField:
    return YamlField(value, "clusters/apps.yaml", 7, path)


def lookup(objects: dict[tuple[str, str], dict[str, Any]]) -> ReferenceLookup:
    """ConfigMaps and Secrets by (kind, name), all in the namespace `apps`."""

    def find(kind: str, namespace: str, name: str) -> ReferencedData | None:
        assert namespace == "apps", "a reference names an object in the Flux object's own namespace"
        found = objects.get((kind, name))
        return data_of({"kind": kind, **found}) if found is not None else None

    return ReferenceLookup(find, "is not in the included files")


def encoded(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


OBJECTS = {
    ("ConfigMap", "settings"): {"data": {"env": "prod", "region": "eu\n"}},
    ("ConfigMap", "values"): {"data": {"values.yaml": "a: {b: 1, c: 2}\n"}},
    ("Secret", "credentials"): {"data": {"env": encoded("from-secret"), "token": encoded(SECRET_TEXT)}},
    ("Secret", "bad-values"): {"data": {"values.yaml": encoded(f"key: [{SECRET_TEXT}\n")}},
}


def test_substitute_from_is_read_in_order_and_substitute_wins() -> None:
    post_build = field(
        {
            "substituteFrom": [
                {"kind": "ConfigMap", "name": "settings"},
                {"kind": "Secret", "name": "credentials"},
                {"kind": "ConfigMap", "name": "absent", "optional": True},
            ],
            "substitute": {"region": "us", "replicas": 3, "debug": True},
        },
        "spec.postBuild",
    )
    variables = dict(post_build_variables(post_build, "apps", lookup(OBJECTS)))
    assert variables["env"] == "from-secret"  # the later reference replaces the earlier one
    assert variables["region"] == "us"  # substitute over substituteFrom
    assert (variables["replicas"], variables["debug"], variables["token"]) == ("3", "true", SECRET_TEXT)


def test_without_post_build_there_are_no_variables() -> None:
    assert post_build_variables(None, "apps", lookup(OBJECTS)) == ()


def test_newlines_are_dropped_from_every_variable() -> None:
    post_build = field({"substituteFrom": [{"kind": "ConfigMap", "name": "settings"}]}, "spec.postBuild")
    assert dict(post_build_variables(post_build, "apps", lookup(OBJECTS)))["region"] == "eu"


@pytest.mark.parametrize(
    ("post_build", "message"),
    [
        (
            {"substituteFrom": [{"kind": "Secret", "name": "absent"}]},
            "clusters/apps.yaml:7: spec.postBuild.substituteFrom[0]: the Secret apps/absent is not in the "
            "included files",
        ),
        (
            {"substituteFrom": [{"kind": "Deployment", "name": "web"}]},
            "spec.postBuild.substituteFrom[0].kind: expected ConfigMap or Secret, got 'Deployment'",
        ),
        (
            {"substitute": {"my-var": "x"}},
            "spec.postBuild.substitute.my-var: 'my-var' is no variable name Flux",
        ),
        (
            {"substituteFrom": [{"kind": "ConfigMap", "name": "values"}]},
            "spec.postBuild.substituteFrom[0]: 'values.yaml' is no variable name Flux accepts",
        ),
    ],
)
def test_what_flux_would_fail_on_is_one_sentence(post_build: dict[str, Any], message: str) -> None:
    with pytest.raises(Unresolved) as raised:
        post_build_variables(field(post_build, "spec.postBuild"), "apps", lookup(OBJECTS))
    assert message in str(raised.value)


def test_an_unreadable_reference_says_why_without_its_values() -> None:
    def forbidden(kind: str, namespace: str, name: str) -> ReferencedData | None:
        raise ReferenceUnreadable("reading it is forbidden")

    post_build = field({"substituteFrom": [{"kind": "Secret", "name": "credentials"}]}, "spec.postBuild")
    with pytest.raises(
        Unresolved, match="the Secret apps/credentials cannot be read: reading it is forbidden"
    ):
        post_build_variables(post_build, "apps", ReferenceLookup(forbidden, "is not there"))


def test_values_from_merge_in_order_and_values_win() -> None:
    spec = field(
        {
            "valuesFrom": [
                {"kind": "ConfigMap", "name": "values"},
                {"kind": "ConfigMap", "name": "settings", "valuesKey": "env", "targetPath": "a.env"},
                {"kind": "Secret", "name": "credentials", "valuesKey": "token", "targetPath": "auth.token"},
                {"kind": "ConfigMap", "name": "settings", "valuesKey": "absent", "optional": True},
            ],
            "values": {"a": {"c": 3}},
        }
    )
    assert json.loads(release_values(spec, "apps", lookup(OBJECTS))) == {
        "a": {"b": 1, "c": 3, "env": "prod"},
        "auth": {"token": SECRET_TEXT},
    }


def test_a_target_path_types_values_as_helm_set_does_unless_quoted() -> None:
    objects = {("ConfigMap", "typed"): {"data": {"n": "3", "flag": "true", "text": '"007"', "zero": "0"}}}
    references = [
        {"kind": "ConfigMap", "name": "typed", "valuesKey": key, "targetPath": f"out.{key}"}
        for key in ("n", "flag", "text", "zero")
    ]
    values = json.loads(release_values(field({"valuesFrom": references}), "apps", lookup(objects)))
    assert values["out"] == {"n": 3, "flag": True, "text": "007", "zero": 0}


def test_a_target_path_into_a_list_keeps_the_items_around_it() -> None:
    objects = {
        ("ConfigMap", "hosts"): {"data": {"values.yaml": "hosts: [a, b, c]\n", "second": "B"}},
    }
    references = [
        {"kind": "ConfigMap", "name": "hosts"},
        {"kind": "ConfigMap", "name": "hosts", "valuesKey": "second", "targetPath": "hosts[1]"},
    ]
    values = json.loads(release_values(field({"valuesFrom": references}), "apps", lookup(objects)))
    assert values == {"hosts": ["a", "B", "c"]}


def test_a_missing_values_key_is_an_error_unless_optional() -> None:
    spec = field({"valuesFrom": [{"kind": "ConfigMap", "name": "settings", "valuesKey": "nope"}]})
    with pytest.raises(
        Unresolved, match=r"spec.valuesFrom\[0\]: the ConfigMap apps/settings has no key 'nope'"
    ):
        release_values(spec, "apps", lookup(OBJECTS))


def test_a_secrets_values_that_do_not_parse_are_named_never_shown() -> None:
    spec = field({"valuesFrom": [{"kind": "Secret", "name": "bad-values"}]})
    with pytest.raises(Unresolved) as raised:
        release_values(spec, "apps", lookup(OBJECTS))
    message = str(raised.value)
    assert "the key 'values.yaml' of the Secret apps/bad-values is not a YAML map of values" in message
    assert SECRET_TEXT not in message


def test_a_secrets_value_that_helm_cannot_set_is_never_shown() -> None:
    objects = {("Secret", "csv"): {"data": {"list": encoded(f"{SECRET_TEXT},other")}}}
    spec = field({"valuesFrom": [{"kind": "Secret", "name": "csv", "valuesKey": "list", "targetPath": "x"}]})
    with pytest.raises(Unresolved) as raised:
        release_values(spec, "apps", lookup(objects))
    assert "spec.valuesFrom[0].targetPath: the value cannot be set at 'x'" in str(raised.value)
    assert SECRET_TEXT not in str(raised.value)


def test_no_values_at_all_is_empty() -> None:
    assert release_values(field({}), "apps", lookup(OBJECTS)) == ""


def test_maps_merge_and_anything_else_replaces() -> None:
    merged = merge_values({"a": {"b": 1, "l": [1, 2]}, "k": {"x": 1}}, {"a": {"c": 2, "l": [3]}, "k": None})
    assert merged == {"a": {"b": 1, "c": 2, "l": [3]}, "k": None}


def test_secret_data_is_decoded_and_string_data_wins() -> None:
    data = data_of(
        {"kind": "Secret", "data": {"a": encoded("one"), "b": encoded("two")}, "stringData": {"b": "three"}}
    )
    assert (dict(data.data), data.secret) == ({"a": "one", "b": "three"}, True)


@pytest.mark.parametrize(
    ("document", "why"),
    [
        ({"kind": "Secret", "data": {"a": "ENC[AES256_GCM,data:x]"}, "sops": {"version": "3.8"}}, "SOPS"),
        ({"kind": "Secret", "data": {"a": "not base64!"}}, "data.a is not base64"),
    ],
)
def test_a_secret_flux_could_not_read_either_is_refused(document: dict[str, Any], why: str) -> None:
    with pytest.raises(ReferenceUnreadable, match=why):
        data_of(document)
