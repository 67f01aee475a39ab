"""YAML is read as Kubernetes reads it: each value equals what kubectl would send as JSON.

One case per row of the table in `core.kube_yaml`. Every expected JSON text below was produced by
kubectl v1.32 (`kubectl create --dry-run=client -o json` against a discovery-only API stub) for the
same YAML; the comparison is on the JSON text, so `1` and `1.0`, and `true` and `1`, differ.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from core.config import load_config
from core.config_yaml import load_yaml_file
from core.errors import ConfigError, RenderError
from core.manifest_file import ParsedFile, parse_manifest_file

HEAD = "apiVersion: example.com/v1\nkind: Thing\nmetadata:\n  name: t\nspec:\n"
"""Document lines 1-5; the first line under `spec` is line 6."""


def parse(text: str) -> ParsedFile:
    return parse_manifest_file("things.yaml", text.encode())


def spec_of(body: str) -> Any:
    parsed = parse(HEAD + body)
    assert parsed.errors == (), parsed.errors
    return parsed.manifests[0].obj["spec"]


def as_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def only_error(body: str) -> RenderError:
    parsed = parse(HEAD + body)
    assert parsed.manifests == ()
    assert len(parsed.errors) == 1, parsed.errors
    return parsed.errors[0]


# Values: one row of the table each.


@pytest.mark.parametrize(
    ("written", "sent"),
    [
        pytest.param(
            ["12:30", "1:20:30", "190:20:30"], ['"12:30"', '"1:20:30"', '"190:20:30"'], id="no-base-60"
        ),
        pytest.param(["=", "=~"], ['"="', '"=~"'], id="bare-equals"),
        pytest.param(
            ["y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE"],
            ["true"] * 11,
            id="true",
        ),
        pytest.param(
            ["n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE"],
            ["false"] * 11,
            id="false",
        ),
        pytest.param(
            ["yEs", "tRUE", "oN", "nULL"], ['"yEs"', '"tRUE"', '"oN"', '"nULL"'], id="other-spellings"
        ),
        pytest.param(["~", "null", "Null", "NULL", ""], ["null"] * 5, id="null"),
        pytest.param(
            [
                "0777",
                "0o777",
                "0O777",
                "0x1F",
                "0X1F",
                "-0x1F",
                "+0x1F",
                "0b101",
                "-0b101",
                "+12",
                "00",
                "-0",
            ],
            ["511", "511", "511", "31", "31", "-31", "31", "5", "-5", "12", "0", "0"],
            id="integer-bases",
        ),
        pytest.param(["08", "09.5"], ["8", "9.5"], id="leading-zero-not-octal"),
        pytest.param(
            ["1_000", "1__0", "1000_", "-1_000", "0x_1F", "1_0.5", "_1000"],
            ["1000", "10", "1000", "-1000", "31", "10.5", '"_1000"'],
            id="underscores",
        ),
        pytest.param(
            ["1e3", "1E3", "1e+3", "1.0", "1.", "-0.0", ".5", "-.5", "1.5e-3", "3.14159", "1e-400"],
            ["1000", "1000", "1000", "1", "1", "0", "0.5", "-0.5", "0.0015", "3.14159", "0"],
            id="floats",
        ),
        pytest.param(
            ["1e20", "2.5e20", "1e21", "1e-7"],
            ["100000000000000000000", "250000000000000000000", "1e+21", "1e-07"],
            id="float-notation",
        ),
        pytest.param(
            ["1e400", "0x10000000000000000", "-0x8000000000000001"],
            ['"1e400"', '"0x10000000000000000"', '"-0x8000000000000001"'],
            id="out-of-range-strings",
        ),
        pytest.param(
            [
                "9223372036854775807",
                "-9223372036854775808",
                "9007199254740993",
                "9223372036854775808",
                "18446744073709551615",
                "0xFFFFFFFFFFFFFFFF",
                "123456789012345678901",
            ],
            [
                "9223372036854775807",
                "-9223372036854775808",
                "9007199254740993",
                "9223372036854776000",
                "18446744073709552000",
                "18446744073709552000",
                "123456789012345680000",
            ],
            id="past-int64",
        ),
        pytest.param(
            [
                "2001-12-14",
                "2001-12-14t21:59:43.10-05:00",
                "2001-12-14 21:59:43.10 -5",
                "2001-12-14T21:59:43Z",
            ],
            [
                '"2001-12-14"',
                '"2001-12-14t21:59:43.10-05:00"',
                '"2001-12-14 21:59:43.10 -5"',
                '"2001-12-14T21:59:43Z"',
            ],
            id="timestamps",
        ),
        pytest.param(["'12'", '"yes"', "'null'", '"~"'], ['"12"', '"yes"', '"null"', '"~"'], id="quoted"),
        pytest.param(
            ["!!str 12", "!!int '12'", "!!float 1", "!!float '1.5'", "!!bool yes", "!!null ''", "!!int 0x1F"],
            ['"12"', "12", "1", "1.5", "true", "null", "31"],
            id="standard-tags",
        ),
        pytest.param(
            ["!!binary aGVsbG8=", "!!binary /w==", "!foo bar", "!!timestamp 2001-12-14", "!!merge <<"],
            ['"hello"', '"\\ufffd"', '"bar"', '"2001-12-14"', '"<<"'],
            id="other-tags",
        ),
        pytest.param(
            ["!!set {a, b}", "!!omap [a: 1]", "!!str [a]"],
            ['{"a": null, "b": null}', '[{"a": 1}]', '["a"]'],
            id="tagged-collections",
        ),
        pytest.param(
            ["abc", "12abc", "y2k", "no way", "<<", "inf", ".", "0x"],
            ['"abc"', '"12abc"', '"y2k"', '"no way"', '"<<"', '"inf"', '"."', '"0x"'],
            id="plain-strings",
        ),
    ],
)
def test_a_value_is_what_kubectl_sends(written: list[str], sent: list[str]) -> None:
    body = "".join(f"  v{index}: {value}\n" for index, value in enumerate(written))
    spec = spec_of(body)
    assert [as_json(spec[f"v{index}"]) for index in range(len(written))] == sent


def test_a_multi_line_binary_value_decodes_as_go_does() -> None:
    spec = spec_of("  v: !!binary |\n    aGVs\n    bG8=\n")
    assert spec == {"v": "hello"}


# Keys


@pytest.mark.parametrize(
    ("written", "sent"),
    [
        pytest.param(
            ["1", "-1", "0x1F", "0777", "9223372036854775807"],
            ["1", "-1", "31", "511", "9223372036854775807"],
            id="integers",
        ),
        pytest.param(
            ["true", "yes", "on", "Off", "n"], ["true", "true", "true", "false", "false"], id="booleans"
        ),
        pytest.param(["y"], ["true"], id="y-is-a-boolean-key"),
        pytest.param(
            [
                "1.5",
                "0.1",
                "1e3",
                "1.0",
                "1e10",
                "123456789.0",
                "3.14159265",
                "0.000001",
                "-0.0",
                "-9223372036854775809",
            ],
            [
                "1.5",
                "0.1",
                "1000",
                "1",
                "1e+10",
                "1.2345679e+08",
                "3.1415927",
                "1e-06",
                "-0",
                "-9.223372e+18",
            ],
            id="floats-as-float32",
        ),
        pytest.param(
            [".inf", "-.inf", ".nan", "1e400"], [".inf", "-.inf", ".nan", "1e400"], id="special-floats"
        ),
        pytest.param(["2001-12-14", "12:30", "=", "'<<'"], ["2001-12-14", "12:30", "=", "<<"], id="strings"),
        pytest.param(["!!str 1", "!!float 2", "!!binary aGk="], ["1", "2", "hi"], id="tagged"),
    ],
)
def test_a_key_is_the_string_kubectl_sends(written: list[str], sent: list[str]) -> None:
    for key, expected in zip(written, sent, strict=True):
        assert list(spec_of(f"  {key}: k\n")) == [expected], key


# What kubectl refuses is one error of the document, with its line, and the file's other documents count.


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param("  v: .inf\n", "has the value '.inf', a number JSON cannot hold", id="inf"),
        pytest.param("  v: -.Inf\n", "has the value '-.Inf', a number JSON cannot hold", id="minus-inf"),
        pytest.param("  v: .NaN\n", "has the value '.NaN', a number JSON cannot hold", id="nan"),
        pytest.param("  v: !!int abc\n", "has 'abc' tagged !!int, which kubectl refuses", id="int-tag"),
        pytest.param(
            "  v: !!bool 1\n",
            "has '1' tagged !!bool, which kubectl refuses: it reads as !!int",
            id="bool-tag",
        ),
        pytest.param("  v: !!int 1.5\n", "it reads as !!float", id="int-tag-on-a-float"),
        pytest.param("  v: !!timestamp foo\n", "has 'foo' tagged !!timestamp", id="timestamp-tag"),
        pytest.param("  v: !!binary 4py\n", "has a !!binary value that is not base64", id="binary"),
        pytest.param("  ~: k\n", "uses an empty (null) mapping key, which kubectl refuses", id="null-key"),
        pytest.param(
            "  9223372036854775808: k\n",
            "uses the number '9223372036854775808' as a mapping key",
            id="uint64-key",
        ),
        pytest.param("  ? [a, b]\n  : k\n", "uses a list or mapping as a mapping key", id="list-key"),
        pytest.param("  <<: 1\n", "merges ('<<') a value that is not a mapping", id="merge-of-a-scalar"),
        pytest.param(
            "  <<: [{a: 1}, 2]\n", "merges ('<<') a value that is not a mapping", id="merge-of-a-list"
        ),
    ],
)
def test_what_kubectl_refuses_is_an_error_of_the_document_with_its_line(body: str, expected: str) -> None:
    parsed = parse(HEAD + body + "---\n" + HEAD.replace("name: t", "name: after") + "  v: 1\n")
    assert [manifest.name for manifest in parsed.manifests] == ["after"]
    [error] = parsed.errors
    assert (error.file, error.line) == ("things.yaml", 6)
    assert error.message.startswith("document 1 ") and expected in error.message, error.message
    assert "\n" not in error.message


# Merge keys, in go-yaml's order


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param("  <<: {a: 1, b: 2}\n  a: 3\n", {"a": 3, "b": 2}, id="a-key-after-a-merge-wins"),
        pytest.param("  a: 3\n  <<: {a: 1, b: 2}\n", {"a": 1, "b": 2}, id="a-merge-after-a-key-wins"),
        pytest.param("  <<: [{a: 1}, {a: 2, b: 2}]\n", {"a": 1, "b": 2}, id="earlier-mappings-in-a-list-win"),
        pytest.param("  <<: {a: 1}\n  <<: {a: 2}\n", {"a": 2}, id="a-later-merge-wins"),
        pytest.param("  '<<': {a: 1}\n", {"<<": {"a": 1}}, id="a-quoted-key-is-no-merge"),
        pytest.param("  !!merge <<: {a: 1}\n", {"a": 1}, id="tagged-merge"),
        pytest.param("  <<: []\n  a: 1\n", {"a": 1}, id="empty-merge"),
    ],
)
def test_merge_keys_apply_in_written_order(body: str, expected: dict[str, Any]) -> None:
    assert spec_of(body) == expected


def test_a_merge_through_aliases_brings_the_anchored_mapping() -> None:
    body = "  base: &base {port: 80, tls: off}\n  web:\n    <<: *base\n    port: 8080\n"
    assert spec_of(body) == {"base": {"port": 80, "tls": False}, "web": {"port": 8080, "tls": False}}


# Keys written twice are refused, also when they differ in YAML but not in JSON


@pytest.mark.parametrize(
    ("body", "key"),
    [
        pytest.param("  1: a\n  '1': b\n", "1", id="int-and-string"),
        pytest.param("  yes: a\n  true: b\n", "true", id="yes-and-true"),
        pytest.param("  y: a\n  on: b\n", "true", id="y-and-on"),
        pytest.param("  0x1F: a\n  31: b\n", "31", id="hex-and-decimal"),
    ],
)
def test_keys_equal_in_json_are_written_twice(body: str, key: str) -> None:
    error = only_error(body)
    assert error.line == 7
    assert f"sets the key {key!r} twice in one mapping (on lines 6 and 7)" in error.message


# JSON manifests: their numbers are what kubectl sends too


def test_json_numbers_are_what_kubectl_sends() -> None:
    written = ["1.0", "1e3", "1.5", "-0.0", "-0", "1E-400", "9223372036854775807", "9223372036854775808"]
    written += ["18446744073709551615", "123456789012345678901", "1e21"]
    sent = ["1", "1000", "1.5", "0", "0", "0", "9223372036854775807", "9223372036854776000"]
    sent += ["18446744073709552000", "123456789012345680000", "1e+21"]
    values = ", ".join(f'"v{index}": {value}' for index, value in enumerate(written))
    head = '"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "t"}'
    text = f'{{{head}, "spec": {{{values}}}}}'
    parsed = parse_manifest_file("thing.json", text.encode())
    assert parsed.errors == ()
    spec = parsed.manifests[0].obj["spec"]
    assert [as_json(spec[f"v{index}"]) for index in range(len(written))] == sent


@pytest.mark.parametrize("number", ["1E400", "NaN", "-Infinity"])
def test_a_json_number_kubectl_cannot_read_is_one_error(number: str) -> None:
    text = (
        f'{{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {{"name": "t"}}, "data": {{"a": {number}}}}}'
    )
    parsed = parse_manifest_file("thing.json", text.encode())
    assert parsed.manifests == ()
    [error] = parsed.errors
    assert error.message.startswith(f"document 1 has the number {number}, which kubectl cannot read")


# kube-prometheus


# Shaped like manifests/setup/0alertmanagerConfigCustomResourceDefinition.yaml of
# prometheus-operator/kube-prometheus, whose `matchType` enum has a bare `=` (lines 81, 121, 11134)
# that PyYAML's SafeLoader cannot read ("could not determine a constructor for the tag
# 'tag:yaml.org,2002:value'"); kubectl reads it as the string "=".
ALERTMANAGER_CONFIG_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  annotations:
    controller-gen.kubebuilder.io/version: v0.21.0
    operator.prometheus.io/version: 0.93.0
  name: alertmanagerconfigs.monitoring.coreos.com
spec:
  group: monitoring.coreos.com
  names:
    kind: AlertmanagerConfig
    listKind: AlertmanagerConfigList
    plural: alertmanagerconfigs
    singular: alertmanagerconfig
  scope: Namespaced
  versions:
  - name: v1alpha1
    schema:
      openAPIV3Schema:
        properties:
          spec:
            properties:
              inhibitRules:
                items:
                  properties:
                    sourceMatch:
                      items:
                        description: Matcher defines how to match on alert's labels.
                        properties:
                          matchType:
                            description: |-
                              matchType defines the match operation available with AlertManager >= v0.22.0.
                              Valid values: "=", "!=", "=~", "!~".
                            enum:
                            - '!='
                            - =
                            - =~
                            - '!~'
                            type: string
                          regex:
                            type: boolean
                        required:
                        - name
                        type: object
                      type: array
                  type: object
                type: array
            type: object
        type: object
    served: true
    storage: true
"""

ALERTMANAGER_CONFIG = """\
apiVersion: monitoring.coreos.com/v1alpha1
kind: AlertmanagerConfig
metadata:
  name: quiet-hours
  namespace: monitoring
spec:
  inhibitRules:
  - sourceMatch:
    - {name: alertname, matchType: =, value: NodeDown}
    targetMatch:
    - name: severity
      matchType: =~
      value: warning|info
    equal: [instance]
  route:
    receiver: night
    groupWait: 30s
    activeTimeIntervals: [night]
  timeIntervals:
  - name: night
    timeIntervals:
    - times:
      - {startTime: 22:00, endTime: 24:00}
      - {startTime: 00:00, endTime: 06:30}
      weekdays: [saturday, sunday]
"""

PROMETHEUS_RULE = """\
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: node-rules
  namespace: monitoring
spec:
  groups:
  - name: node
    rules:
    - alert: NodeFilesystemAlmostFull
      expr: node_filesystem_avail_bytes{fstype!=""} / node_filesystem_size_bytes == 0
      for: 30m
      labels: {severity: warning, page: no}
"""


def test_kube_prometheus_crd_with_a_bare_equals_reads_as_kubectl_reads_it() -> None:
    parsed = parse_manifest_file(
        "setup/0alertmanagerConfigCustomResourceDefinition.yaml", ALERTMANAGER_CONFIG_CRD.encode()
    )
    assert parsed.errors == ()
    [crd] = parsed.manifests
    schema = crd.obj["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    matcher = schema["properties"]["spec"]["properties"]["inhibitRules"]["items"]["properties"]["sourceMatch"]
    assert matcher["items"]["properties"]["matchType"]["enum"] == ["!=", "=", "=~", "!~"]
    assert crd.obj["metadata"]["annotations"]["operator.prometheus.io/version"] == "0.93.0"
    assert parsed.crd_scopes == ((("monitoring.coreos.com", "AlertmanagerConfig"), True),)


def test_kube_prometheus_objects_keep_their_equals_and_clock_times() -> None:
    parsed = parse_manifest_file(
        "alertmanager.yaml", (ALERTMANAGER_CONFIG + "---\n" + PROMETHEUS_RULE).encode()
    )
    assert parsed.errors == ()
    config, rule = (manifest.obj["spec"] for manifest in parsed.manifests)
    assert config["inhibitRules"][0]["sourceMatch"][0]["matchType"] == "="
    assert config["inhibitRules"][0]["targetMatch"][0]["matchType"] == "=~"
    times = config["timeIntervals"][0]["timeIntervals"][0]["times"]
    assert times == [{"startTime": "22:00", "endTime": "24:00"}, {"startTime": "00:00", "endTime": "06:30"}]
    [alert] = rule["groups"][0]["rules"]
    assert alert["expr"] == 'node_filesystem_avail_bytes{fstype!=""} / node_filesystem_size_bytes == 0'
    assert alert["labels"] == {"severity": "warning", "page": False}
    assert [manifest.line for manifest in parsed.manifests] == [1, 27]


# kubedrift.yaml and Argo CD Applications are read the same way


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_an_application_folder_with_a_bare_equals_and_clock_times_loads(tmp_path: Path) -> None:
    write(tmp_path / "argocd" / "0alertmanagerConfigCustomResourceDefinition.yaml", ALERTMANAGER_CONFIG_CRD)
    write(tmp_path / "argocd" / "alertmanager.yaml", ALERTMANAGER_CONFIG)
    write(
        tmp_path / "argocd" / "shop.yaml",
        """\
        apiVersion: argoproj.io/v1alpha1
        kind: Application
        metadata:
          name: shop
          namespace: argocd
          annotations: {window: 12:30, op: =}
        spec:
          source: {repoURL: 'https://github.com/org/shop.git', targetRevision: 2024-01-31, path: =}
          destination: {name: prod, namespace: shop}
          syncPolicy: {automated: {prune: on, selfHeal: y}}
        """,
    )
    config = load_config(write(tmp_path / "kubedrift.yaml", "apps:\n  - include: argocd\n"))
    [app] = config.apps
    assert (app.name, app.source.target_revision, app.source.path) == ("shop", "2024-01-31", "=")
    assert (app.sync_policy.prune, app.sync_policy.self_heal) == (True, True)


def test_kubedrift_yaml_reads_keys_and_values_as_kubernetes_does(tmp_path: Path) -> None:
    path = write(
        tmp_path / "kubedrift.yaml",
        """\
        apps: [{name: shop, source: {repoURL: .}}]
        contexts:
          1: {readOnly: yes}
          12:30: {readOnly: off}
        keymap: {sync: =, quit: 'ctrl+q'}
        """,
    )
    config = load_config(path)
    assert {name: settings.read_only for name, settings in config.contexts.items()} == {
        "1": True,
        "12:30": False,
    }
    assert config.keymap == {"sync": "=", "quit": "ctrl+q"}
    [document] = load_yaml_file(path, "kubedrift.yaml", multi_document=False)
    assert document.key_lines == {"apps": 1, "contexts": 2, "keymap": 5}


def test_kubedrift_yaml_merges_in_go_yamls_order_and_keeps_the_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path / "settings.yaml",
        """\
        base: &base {readOnly: true, theme: dark}
        first:
          <<: *base
          readOnly: false
        second:
          readOnly: false
          <<: *base
        """,
    )
    [document] = load_yaml_file(path, "settings.yaml", multi_document=False)
    assert document["first"] == {"readOnly": False, "theme": "dark"}
    assert document["second"] == {"readOnly": True, "theme": "dark"}
    assert document["first"].key_lines == {"readOnly": 4, "theme": 1}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "apps: []\nlimit: .inf\n",
            "kubedrift.yaml:2: invalid YAML: the document has the value '.inf'",
            id="inf",
        ),
        pytest.param(
            "apps: []\nyes: 1\ntrue: 2\n",
            "kubedrift.yaml:3: invalid YAML: duplicate key 'true'",
            id="yes-true",
        ),
        pytest.param(
            "apps: []\n~: 1\n",
            "kubedrift.yaml:2: invalid YAML: the document uses an empty (null) mapping key",
            id="null-key",
        ),
    ],
)
def test_kubedrift_yaml_refuses_what_kubectl_refuses(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path / "kubedrift.yaml", text))
    assert f"/{expected}" in str(caught.value), str(caught.value)
